"""Where the project's data folders live: a checkout, an installed wheel, the bundle.

``db/`` (the Alembic migrations of the till and of HQ) and ``resources/`` (fonts,
translations) sit at the repository's top level. A wheel carries them inside the
package as ``pos_app/_data/db`` and ``pos_app/_data/resources`` (mapped at build time,
``pyproject.toml``); the PyInstaller bundle puts them beside the package
(``build_installer.spec``). :func:`data_dir` finds them from the package's own location
(``importlib.resources``), whichever way the till was installed.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PACKAGED = "_data"
"""The folder inside the package that holds ``db/`` and ``resources/`` in a wheel."""


def data_dir(name: str) -> Path:
    """The data folder ``name`` (``"db"`` or ``"resources"``).

    Packaged inside ``pos_app`` (an installed wheel), else beside it (a checkout, the
    PyInstaller bundle).
    """
    package = resources.files("pos_app")
    packaged = package / PACKAGED / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(str(package)).parent / name


def resources_dir() -> Path:
    """``resources/`` (fonts, translations); ``POS_RESOURCES`` overrides."""
    return Path(os.environ.get("POS_RESOURCES") or data_dir("resources"))


def fonts_dir() -> Path:
    """Shipped fonts (a CJK font among them)."""
    return resources_dir() / "fonts"


def cjk_font_path() -> Path:
    """The shipped CJK font."""
    return fonts_dir() / "wqy-microhei.ttc"


def migrations_dir() -> Path:
    """The till's Alembic migrations (``db/``); ``POS_MIGRATIONS`` overrides."""
    return Path(os.environ.get("POS_MIGRATIONS") or data_dir("db"))


def hq_migrations_dir() -> Path:
    """HQ's Alembic migrations (``db/hq``); ``POS_HQ_MIGRATIONS`` overrides."""
    return Path(os.environ.get("POS_HQ_MIGRATIONS") or data_dir("db") / "hq")
