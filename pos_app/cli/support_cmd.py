"""``pos-app support-bundle FILE.zip``: what support needs to look into a till's problem.

The zip holds the log files (:mod:`pos_app.applog`: rotated, no personal data),
``versions.json`` (Python, packages, schema), ``settings.json`` (the till's settings
and printer, secrets hidden) and ``check.txt`` (the ``pos-app check`` result). Neither
the database nor its keys go in it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import zipfile
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``support-bundle`` to the ``pos-app`` subcommands."""
    bundle = sub.add_parser(
        "support-bundle",
        help="zip the logs, versions, settings (no secrets) and the check result",
    )
    bundle.add_argument("file", help="the zip file to write, e.g. support.zip")
    bundle.set_defaults(handler=cmd_support_bundle)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n"


def write_bundle(target: Path, db: Path) -> list[str]:
    """Write the support bundle of the till at ``db`` to ``target``.

    Returns:
        The names of the files in the zip.
    """
    from pos_app import applog
    from pos_app.cli.main import check_lines
    from pos_app.services import support
    from pos_app.services.context import open_till

    logging.getLogger(__name__).info("support bundle %s of %s", target, db)
    members: dict[str, str | bytes] = {}
    if db.exists():
        ctx = open_till(db)
        try:
            members["versions.json"] = _dump(support.versions(ctx))
            members["settings.json"] = _dump(support.settings_without_secrets(ctx))
            problems = check_lines(ctx)
        finally:
            ctx.db.close()
        members["check.txt"] = "\n".join(problems or ["OK"]) + "\n"
    else:
        members["versions.json"] = _dump(support.versions())
        members["check.txt"] = f"no till database at {db}\n"
    for path in applog.log_files():
        members[f"logs/{path.name}"] = path.read_bytes()
    members["README.txt"] = (
        f"pos-app support bundle, {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        f"database: {db}\nlogs: {applog.log_dir()}\n"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return list(members)


def cmd_support_bundle(args: argparse.Namespace) -> int:
    """``pos-app support-bundle FILE``."""
    target = Path(args.file)
    names = write_bundle(target, Path(args.db))
    print(f"{target}: {', '.join(names)}")
    if "settings.json" not in names:
        print(f"(no till database at {args.db}: logs and versions only)", file=sys.stderr)
    return 0
