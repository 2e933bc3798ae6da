"""Where the project's resources live, installed, in a checkout or frozen."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``resources/`` and ``db/`` (the bundle dir when frozen)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """``resources/`` (fonts, translations, icons)."""
    return Path(os.environ.get("POS_RESOURCES", project_root() / "resources"))


def fonts_dir() -> Path:
    """Shipped fonts (a CJK font among them)."""
    return resources_dir() / "fonts"


def cjk_font_path() -> Path:
    """The shipped CJK font."""
    return fonts_dir() / "wqy-microhei.ttc"


def migrations_dir() -> Path:
    """The till's Alembic migrations (``db/``)."""
    return Path(os.environ.get("POS_MIGRATIONS", project_root() / "db"))
