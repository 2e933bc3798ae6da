"""Bulk loading for demo data and first sync: raw DB-API ``executemany``.

Only for loading many rows at once into a till that is not serving a counter yet; the
use cases write through the ORM session in one transaction each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pos_app.store.setting_keys import check_key

if TYPE_CHECKING:
    from pos_app.store.database import TillDatabase

LoadConnection = sqlite3.Connection
"""The connection :func:`bulk_connection` yields (for callers' annotations)."""


@contextmanager
def bulk_connection(db: TillDatabase, tables: Sequence[str] = ()) -> Iterator[sqlite3.Connection]:
    """A keyed connection to ``db`` tuned for loading (still WAL; durable once committed).

    The plain (non-unique) indexes of ``tables`` are dropped for the load and built
    again, sorted, before the commit: much faster than growing them row by row.
    """
    conn: sqlite3.Connection = db.connect(isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("BEGIN")
        ddl = _drop_indexes(conn, tables)
        yield conn
        for statement in ddl:
            conn.execute(statement)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _drop_indexes(conn: sqlite3.Connection, tables: Sequence[str]) -> list[str]:
    ddl: list[str] = []
    for table in tables:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'",
            (table,),
        ).fetchall()
        for name, sql in rows:
            conn.execute(f'DROP INDEX "{name}"')
            ddl.append(sql)
    return ddl


def insert_rows(
    conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """INSERT many rows into ``table``."""
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


SQL_COUNT_MEMBERS = "SELECT COUNT(*) FROM members"
SQL_ADD_TO_BALANCE = "UPDATE members SET balance = balance + ? WHERE id = ?"
SQL_SET_FIRST_PURCHASE = "UPDATE members SET first_purchase_at = ? WHERE id = ?"
SQL_SET_TIER = "UPDATE members SET tier = ? WHERE id = ?"
SQL_PUT_SETTING = "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)"


def count_members(conn: sqlite3.Connection) -> int:
    """How many members the till holds."""
    return int(conn.execute(SQL_COUNT_MEMBERS).fetchone()[0])


def add_to_balances(conn: sqlite3.Connection, points: Iterable[tuple[int, str]]) -> None:
    """Add (points, member id) to each member's cached balance."""
    conn.executemany(SQL_ADD_TO_BALANCE, points)


def set_first_purchases(conn: sqlite3.Connection, times: Iterable[tuple[str, str]]) -> None:
    """Set (first purchase time as stored, member id) on each member."""
    conn.executemany(SQL_SET_FIRST_PURCHASE, times)


def set_tiers(conn: sqlite3.Connection, tiers: Iterable[tuple[str, str]]) -> None:
    """Set (tier, member id) on each member."""
    conn.executemany(SQL_SET_TIER, tiers)


def put_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Create or replace a (declared) setting during a load."""
    conn.execute(SQL_PUT_SETTING, (check_key(key), value))
