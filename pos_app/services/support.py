"""What a support bundle says about a till, without its secrets or anyone's data.

``pos-app support-bundle`` (:mod:`pos_app.cli.support_cmd`) packs this with the log
files and the ``pos-app check`` result.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from importlib import metadata
from typing import Any

from sqlalchemy import select

from pos_app.services.context import TillContext
from pos_app.services.print_queue import printer_config
from pos_app.store.database import head_revision
from pos_app.store.models import Setting

HIDDEN = "(hidden)"
#: Setting names holding a secret: a token, a key, a password (their values are hidden).
SECRET_MARKERS = ("token", "secret", "password", "key", "pin")
#: Packages whose versions a support bundle reports.
PACKAGES = (
    "points-till",
    "PySide6-Essentials",
    "SQLAlchemy",
    "alembic",
    "sqlcipher3-wheels",
    "keyring",
    "python-escpos",
    "pillow",
    "phonenumbers",
    "httpx",
    "pydantic",
)


def is_secret(name: str) -> bool:
    """Whether the setting called ``name`` holds a secret."""
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def settings_without_secrets(ctx: TillContext) -> dict[str, Any]:
    """The till's identity, settings (secrets hidden) and printer configuration."""
    with ctx.db.read() as session:
        rows = session.execute(select(Setting.key, Setting.value).order_by(Setting.key)).all()
    return {
        "store_id": ctx.store_id,
        "till_id": ctx.till_id,
        "rule_set": ctx.rules.version,
        "settings": {key: HIDDEN if is_secret(key) else value for key, value in rows},
        "printer": dataclasses.asdict(printer_config(ctx)),
    }


def versions(ctx: TillContext | None = None) -> dict[str, Any]:
    """The Python, platform and package versions, and the database's schema revision."""
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    out: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "packages": packages,
        "schema_head": head_revision(),
    }
    if ctx is not None:
        out["schema"] = ctx.db.current_revision()
    return out
