"""Every constant SQL statement of the store, planned against a migrated till database.

The store keeps its hand-written SQL (the hot paths, run on the raw SQLCipher
connection) in module-level constants: a string, or a tuple or dict of strings, named
anything (``SQL_BY_HASH``, ``_WINDOW_SQL``...), and ``text()`` clauses. This test finds
them all by importing every ``pos_app.store`` module, and runs ``EXPLAIN QUERY PLAN`` on
each against a database at the newest migration:

* a typo, a dropped or renamed column or table fails here at once, not when some test
  happens to run the statement;
* a statement that reads a large table without an index (a ``SCAN``, also of a covering
  index: it reads every row) fails unless :data:`DELIBERATE_SCANS` names it with the
  reason.

Templates (``{marks}``, ``{column}``...) are planned with the samples of
:data:`TEMPLATE_SAMPLES`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.sql.elements import TextClause

import pos_app.store
from pos_app.store.database import TillDatabase
from tests.test_architecture import looks_like_sql

LARGE_TABLES = frozenset(
    {"members", "ledger_entries", "point_lots", "lot_moves", "sales", "sale_lines", "outbox"}
)
"""Tables that grow with the members and the sales (a million members, years of sales)."""

DELIBERATE_SCANS: dict[tuple[str, str], str] = {
    ("pos_app.store.checks.CHECK_SQL", "members"): (
        "pos-app check compares every member's balance with the ledger: a full pass by design"
    ),
    ("pos_app.store.checks.CHECK_SQL", "ledger_entries"): (
        "pos-app check: the ledger sum per member, one pass over the covering index"
    ),
    ("pos_app.store.checks.CHECK_SQL", "point_lots"): (
        "pos-app check: the lots' total per member, one pass over the covering index"
    ),
    ("pos_app.store.bulk.SQL_COUNT_MEMBERS", "members"): (
        "demo data checks the till is empty before loading (a count of an empty table)"
    ),
    ("pos_app.store.outbox.SCRUB_SENT_SQL[0]", "outbox"): (
        "migration 0007 drops the personal fields of every acknowledged event, once"
    ),
    ("pos_app.store.snapshot.SQL_UPSERT_MEMBERS", "members"): (
        "a first sync replaces the few members the till held already; the scan is SQLite's "
        "foreign-key check of members.referred_by (no index), planned for the DO UPDATE"
    ),
    ("pos_app.store.snapshot.SQL_UPSERT_MEMBERS", "point_lots"): (
        "as above: the foreign-key check of point_lots.member_id (its index is partial, "
        "open lots only), planned for the DO UPDATE"
    ),
}
"""(statement, table) pairs allowed to scan a large table, with the reason."""

TEMPLATE_SAMPLES = {"marks": "?, ?", "column": "member_no", "members": "= :member"}
"""Values for the placeholders of SQL templates."""


@dataclass(frozen=True)
class Statement:
    """One constant SQL statement of the store."""

    name: str  # module.NAME, with [key] for an item of a tuple or dict
    sql: str


def _texts(value: Any, name: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, TextClause):
        yield name, value.text
    elif isinstance(value, str):
        if looks_like_sql(value):
            yield name, value
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            if isinstance(item, str | TextClause):
                yield from _texts(item, f"{name}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str | TextClause):
                yield from _texts(item, f"{name}[{key!r}]")


def store_statements() -> list[Statement]:
    """Every constant SQL statement of the modules of ``pos_app.store``."""
    found: dict[str, Statement] = {}
    seen: set[int] = set()
    for info in pkgutil.iter_modules(pos_app.store.__path__, "pos_app.store."):
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if id(value) in seen or attr.startswith("__"):
                continue
            if inspect.ismodule(value) or inspect.isclass(value) or callable(value):
                continue
            for name, sql in _texts(value, f"{info.name}.{attr}"):
                seen.add(id(value))
                if sql.lstrip().upper().startswith("PRAGMA"):
                    continue  # a setting, not a query (SQLite ignores unknown pragmas)
                found.setdefault(name, Statement(name, _filled(sql, name)))
    return sorted(found.values(), key=lambda s: s.name)


def _filled(sql: str, name: str) -> str:
    if "{" not in sql:
        return sql
    try:
        return sql.format(**TEMPLATE_SAMPLES)
    except KeyError as exc:
        raise AssertionError(f"{name}: add a sample for {exc} to TEMPLATE_SAMPLES") from None


_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NAMED = re.compile(r"(?<![:\w]):(\w+)")
_TABLE = re.compile(
    r"\b(?:from|join|into|update)\s+(\w+)(?:\s+(?:as\s+)?(?!where|on|join|left|inner|cross|"
    r"group|order|limit|set|using|natural|values|select|union|window|having)(\w+))?",
    re.IGNORECASE,
)


def _parameters(sql: str) -> tuple[Any, ...] | dict[str, Any]:
    """None for every parameter the statement takes (positional or named)."""
    bare = _QUOTED.sub("''", sql)
    named = set(_NAMED.findall(bare))
    if named:
        return dict.fromkeys(named)
    return (None,) * bare.count("?")


def _aliases(sql: str) -> dict[str, str]:
    """Table aliases (and the tables' own names) of the statement, to their tables."""
    out: dict[str, str] = {}
    for table, alias in _TABLE.findall(_QUOTED.sub("''", sql)):
        out[table.lower()] = table.lower()
        if alias:
            out[alias.lower()] = table.lower()
    return out


_SCAN = re.compile(r"^SCAN (\w+)")


def full_scans(conn: Any, sql: str) -> set[str]:
    """The large tables the statement's plan reads whole."""
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", _parameters(sql)).fetchall()
    aliases = _aliases(sql)
    scanned = set()
    for *_ids, detail in plan:
        match = _SCAN.match(detail)
        if match:
            scanned.add(aliases.get(match.group(1).lower(), match.group(1).lower()))
    return scanned & LARGE_TABLES


STATEMENTS = store_statements()


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A keyed connection to a till database at the newest migration, with foreign keys
    on as the till's writers have them (their checks are part of a write's plan)."""
    db = TillDatabase(Path(tmp_path_factory.mktemp("plans")) / "till.sqlite")
    connection = db.connect()
    try:
        connection.execute("PRAGMA foreign_keys=ON")
        yield connection
    finally:
        connection.close()
        db.close()


def test_the_store_has_constant_sql() -> None:
    """Guard against a vacuous pass: the collector finds the hot paths' statements."""
    names = {s.name for s in STATEMENTS}
    assert "pos_app.store.members.SQL_BY_HASH" in names
    assert "pos_app.store.ledger._SQL_OPEN_LOT_ROWS" in names
    assert any(n.startswith("pos_app.store.ledger._WINDOW_SQL[") for n in names)
    assert len(STATEMENTS) > 30


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: s.name)
def test_statement_plans_without_scanning_a_large_table(conn: Any, statement: Statement) -> None:
    scans = full_scans(conn, statement.sql)  # a typo or a missing column raises here
    unexplained = sorted(t for t in scans if (statement.name, t) not in DELIBERATE_SCANS)
    assert not unexplained, (
        f"{statement.name} reads all of {', '.join(unexplained)} without an index: add one "
        "(a migration), or name it in DELIBERATE_SCANS with the reason"
    )


def test_deliberate_scans_are_still_there(conn: Any) -> None:
    """Every allowance names a statement that exists and still scans that table."""
    by_name = {s.name: s for s in STATEMENTS}
    for name, table in DELIBERATE_SCANS:
        assert name in by_name, f"{name}: no such statement (drop it from DELIBERATE_SCANS)"
        assert table in full_scans(conn, by_name[name].sql), (name, table)


@pytest.mark.parametrize(
    ("sql", "scans"),
    [
        ("SELECT id FROM members WHERE phone_hash = ?", set()),
        ("SELECT id FROM members WHERE name = ?", {"members"}),
        ("SELECT e.id FROM ledger_entries e WHERE e.reason = :r", {"ledger_entries"}),
        ("SELECT COUNT(*) FROM sales s JOIN members m ON m.id = s.member_id", {"sales"}),
    ],
)
def test_the_scan_finder_sees_scans(conn: Any, sql: str, scans: set[str]) -> None:
    assert full_scans(conn, sql) == scans


def test_a_dropped_column_fails(conn: Any) -> None:
    with pytest.raises(Exception, match="no such column"):
        full_scans(conn, "SELECT id, no_such_column FROM members WHERE id = ?")
