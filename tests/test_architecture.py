"""Layer boundaries, checked by parsing every module of pos_app (nothing is imported).

The layers, innermost first::

    core      pure rules: money, points, quotes, refunds. No I/O, no Qt, no database.
    store     persistence (SQLite via SQLAlchemy). Knows core only.
    devices   printers, scanners, cash drawer. Knows core only.
    services  use cases gluing store + devices + core. No Qt.
    ui        PySide6 widgets. Talks to services, never to store directly.
    hq        the FastAPI server. Shares core with the till and nothing else.

Every ``import x`` / ``from x import y`` (relative ones resolved, and those
inside functions or ``if TYPE_CHECKING:`` included: a type-only import still
couples the layers) and every literal ``importlib.import_module("x")`` /
``__import__("x")`` is checked against the rules below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "pos_app"
PACKAGE_DIR = REPO / PACKAGE

# Third-party and standard-library modules the pure core must not use.
CORE_FORBIDDEN_EXTERNAL: tuple[str, ...] = (
    # GUI
    "PySide6",
    "shiboken6",
    "PyQt5",
    "PyQt6",
    # databases and migrations
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg2",
    "sqlite3",
    "dbm",
    "shelve",
    # network, HTTP and servers
    "socket",
    "socketserver",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "http",
    "urllib",
    "urllib3",
    "httpx",
    "requests",
    "aiohttp",
    "websockets",
    "ftplib",
    "smtplib",
    "xmlrpc",
    "fastapi",
    "starlette",
    "uvicorn",
    # devices: receipt printer, serial/USB, camera and barcode decoding
    "escpos",
    "serial",
    "usb",
    "cv2",
    "pyzbar",
    # file system and process I/O (packaged read-only data goes through importlib.resources)
    "os",  # os.path included
    "pathlib",
    "io",
    "shutil",
    "tempfile",
    "glob",
    "fileinput",
    "subprocess",
    "multiprocessing",
    "mmap",
    "fcntl",
)

QT = ("PySide6", "shiboken6")


def _subpackages() -> tuple[str, ...]:
    """Every first-level module or package of pos_app (pos_app.core, pos_app.ui, ...)."""
    names = {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()}
    names |= {p.stem for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__"}
    return tuple(sorted(names))


def _pkg(*names: str) -> tuple[str, ...]:
    return tuple(f"{PACKAGE}.{name}" for name in names)


def _all_pkg_except(*allowed: str) -> tuple[str, ...]:
    return _pkg(*(name for name in _subpackages() if name not in allowed))


@dataclass(frozen=True)
class Rule:
    scope: str  # a package: the rule applies to it and everything below it
    forbidden: tuple[str, ...]  # module prefixes it may not import
    why: str


def rules() -> tuple[Rule, ...]:
    return (
        Rule(
            "pos_app.core",
            CORE_FORBIDDEN_EXTERNAL + _all_pkg_except("core"),
            "core is pure logic: no Qt, database, network, device or file I/O, no other layer",
        ),
        Rule("pos_app.ui", _pkg("store"), "ui reaches data only through pos_app.services"),
        Rule(
            "pos_app.store",
            _pkg("services", "ui", "hq", "devices"),
            "store sits under services and knows only core",
        ),
        Rule(
            "pos_app.devices",
            _pkg("store", "services", "ui", "hq"),
            "devices are drivers: they know only core",
        ),
        Rule(
            "pos_app.hq",
            _all_pkg_except("core", "hq", "resources"),
            "the HQ server shares pos_app.core (and the data-folder locator) with the till",
        ),
        Rule(
            "pos_app.resources",
            _all_pkg_except("resources"),
            "the data-folder locator is a leaf: HQ and the till both use it",
        ),
        Rule(
            "pos_app.services",
            (*_pkg("ui"), *QT),
            "services must run headless (tests, HQ-side tools): no ui, no Qt",
        ),
    )


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    module: str
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported} ({self.why})"


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    if target:
        parts.append(target)
    return ".".join(parts)


def _literal_import_call(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        name = func.id
    elif isinstance(func, ast.Attribute):
        name = func.attr
    else:
        return None
    if name not in {"import_module", "__import__"} or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def imported_modules(
    source: str, module: str, is_package: bool = False
) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for everything ``source`` imports.

    ``from a import b`` yields both ``a`` and ``a.b`` (b may be a submodule).
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call):
            literal = _literal_import_call(node)
            if literal:
                yield node.lineno, literal


def check_source(
    source: str,
    module: str,
    *,
    is_package: bool = False,
    path: str = "<string>",
    rule_set: Sequence[Rule] | None = None,
) -> list[Violation]:
    """Violations of the layer rules by one module's source text."""
    applicable = [r for r in (rule_set or rules()) if _within(module, r.scope)]
    if not applicable:
        return []
    found: dict[tuple[int, str], Violation] = {}
    for line, name in imported_modules(source, module, is_package):
        for rule in applicable:
            for prefix in rule.forbidden:
                if _within(name, prefix) and (line, prefix) not in found:
                    found[(line, prefix)] = Violation(path, line, module, prefix, rule.why)
    return sorted(found.values(), key=lambda v: (v.line, v.imported))


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def check_tree(scope: str) -> list[Violation]:
    scope_dir = REPO.joinpath(*scope.split("."))
    violations: list[Violation] = []
    for path in sorted(scope_dir.rglob("*.py")):
        module, is_package = _module_name(path)
        rel = str(path.relative_to(REPO))
        try:
            source = path.read_text(encoding="utf-8")
            violations += check_source(source, module, is_package=is_package, path=rel)
        except SyntaxError as exc:
            violations.append(Violation(rel, exc.lineno or 0, module, "?", f"cannot parse: {exc}"))
    return violations


# --- the real code base ------------------------------------------------------------


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r.scope)
def test_layer_boundaries(rule: Rule) -> None:
    violations = check_tree(rule.scope)
    assert not violations, "layer boundary crossed:\n" + "\n".join(map(str, violations))


def test_checker_sees_the_core() -> None:
    """Guard against a vacuous pass: the scan must find the core's modules."""
    modules = [_module_name(p)[0] for p in (PACKAGE_DIR / "core").rglob("*.py")]
    assert "pos_app.core" in modules
    assert len(modules) > 1
    assert {"core", "ui", "store", "services", "devices", "hq"} <= set(_subpackages())


# --- the checker checks ----------------------------------------------------------


def _imports(source: str, module: str, *, is_package: bool = False) -> set[str]:
    return {v.imported for v in check_source(source, module, is_package=is_package)}


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("pos_app.core.fake", "import PySide6.QtCore\n", "PySide6"),
        ("pos_app.core.fake", "from PySide6 import QtWidgets\n", "PySide6"),
        ("pos_app.core.fake", "import os.path\n", "os"),
        ("pos_app.core.fake", "from os import path\n", "os"),
        ("pos_app.core.fake", "def f():\n    import sqlite3\n", "sqlite3"),
        ("pos_app.core.fake", "from urllib.request import urlopen\n", "urllib"),
        ("pos_app.core.fake", "import importlib\nimportlib.import_module('socket')\n", "socket"),
        ("pos_app.core.fake", "__import__('sqlalchemy.orm')\n", "sqlalchemy"),
        (
            "pos_app.core.fake",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from httpx import Client\n",
            "httpx",
        ),
        ("pos_app.core.fake", "from ..store import repo\n", "pos_app.store"),
        ("pos_app.ui.widgets", "from pos_app.store.members import MemberRepo\n", "pos_app.store"),
        ("pos_app.ui.widgets", "from pos_app import store\n", "pos_app.store"),
        ("pos_app.ui.widgets", "from ..store import members\n", "pos_app.store"),
        ("pos_app.ui.sale.window", "from ...store import members\n", "pos_app.store"),
        ("pos_app.ui", "from .. import store\n", "pos_app.store"),
        ("pos_app.store.db", "from pos_app.services.sale import Sale\n", "pos_app.services"),
        ("pos_app.store.db", "import pos_app.devices.printer\n", "pos_app.devices"),
        ("pos_app.devices.printer", "from pos_app.store import db\n", "pos_app.store"),
        ("pos_app.devices.printer", "from pos_app.ui.main import Window\n", "pos_app.ui"),
        ("pos_app.hq.api", "from pos_app.store.db import Base\n", "pos_app.store"),
        ("pos_app.hq.api", "from pos_app.services import sale\n", "pos_app.services"),
        ("pos_app.services.sale", "from PySide6.QtCore import QObject\n", "PySide6"),
        ("pos_app.services.sale", "import shiboken6\n", "shiboken6"),
        ("pos_app.services.sale", "from pos_app.ui import main\n", "pos_app.ui"),
    ],
)
def test_checker_catches(module: str, source: str, expected: str) -> None:
    is_package = module == "pos_app.ui"
    assert expected in _imports(source, module, is_package=is_package)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (
            "pos_app.core.fake",
            "from __future__ import annotations\nimport datetime as dt\nimport json\n"
            "from importlib import resources\nfrom fractions import Fraction\n"
            "from pydantic import BaseModel\nfrom . import money\nfrom .rules import RuleSet\n"
            "from pos_app.core.money import format_fen\n",
        ),
        ("pos_app.core.fake", "import osmosis\nimport iolite\nimport sockets_of_my_own\n"),
        (
            "pos_app.hq.api",
            "from pos_app import __version__\nfrom pos_app.core.quote import Quote\n",
        ),
        (
            "pos_app.hq.api",
            "import sqlalchemy\nfrom fastapi import FastAPI\nfrom . import schemas\n",
        ),
        (
            "pos_app.ui.main",
            "from PySide6.QtWidgets import QWidget\nfrom pos_app.services import sale\n",
        ),
        (
            "pos_app.services.sale",
            "from pos_app.store import db\nfrom pos_app.devices import printer\n",
        ),
        ("pos_app.store.db", "import sqlalchemy\nfrom pos_app.core.money import format_fen\n"),
        ("pos_app.cli.main", "from pos_app.ui.main import run\nfrom pos_app.store import db\n"),
        ("tests.core.test_x", "import PySide6\nfrom pos_app.store import db\n"),
    ],
)
def test_checker_allows(module: str, source: str) -> None:
    assert check_source(source, module) == []


def test_violation_message_names_file_line_and_reason() -> None:
    (violation,) = check_source(
        "import json\nimport sqlite3\n", "pos_app.core.fake", path="pos_app/core/fake.py"
    )
    assert str(violation).startswith("pos_app/core/fake.py:2: pos_app.core.fake imports sqlite3 (")
