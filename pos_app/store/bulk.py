"""Bulk loading for demo data and first sync: raw DB-API ``executemany``.

Only for loading many rows at once into a till that is not serving a counter yet; the
use cases write through the ORM session in one transaction each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pos_app.store.database import TillDatabase


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
