"""EXPLAIN checks shared by the push and pull plan tests: record the statements HQ
sends, find the member-sized tables, and name every sequential scan of one."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text

from pos_app.hq import book as book_module
from pos_app.hq.database import HQDatabase

BIG_TABLE_ROWS = 100_000  # a table at least this big is "member-sized"


@contextmanager
def recorded(db: HQDatabase) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT and UPDATE statements HQ sends while the block runs, with their
    parameters (the book's bulk updates included)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            seen.append((statement, params))

    real = book_module.Book._update_unnest

    def unnest(self: Any, table: Any, keys: Any, columns: Any, rows: Any) -> None:
        seen.append(
            book_module.update_unnest_statement(self.conn.dialect, table, keys, columns, rows)
        )
        real(self, table, keys, columns, rows)

    event.listen(db.engine, "before_cursor_execute", record)
    book_module.Book._update_unnest = unnest  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
        book_module.Book._update_unnest = real  # type: ignore[method-assign]


def member_sized_tables(db: HQDatabase) -> list[str]:
    """Tables holding at least BIG_TABLE_ROWS rows (planner statistics)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                "AND relnamespace = 'public'::regnamespace AND reltuples >= :n"
            ),
            {"n": BIG_TABLE_ROWS},
        )
        return sorted(row[0] for row in rows)


def sequential_scans(
    db: HQDatabase, statements: list[tuple[str, Any]], tables: list[str]
) -> list[str]:
    """``Seq Scan on <member-sized table>`` found in the statements' plans."""
    found = []
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for statement, params in statements:
            with raw.cursor() as cur:
                cur.execute("EXPLAIN " + statement, params)
                plan = "\n".join(row[0] for row in cur.fetchall())
            for table in tables:
                if re.search(rf"Seq Scan on {table}(_p\d+)?\b", plan):
                    found.append(f"{table}: {statement[:300]}\n{plan}")
        raw.rollback()
    return found


def show_plans(db: HQDatabase, statements: list[tuple[str, Any]]) -> None:
    """Print each statement's plan with its timing when ``POS_SHOW_PLANS=1``."""
    if not os.environ.get("POS_SHOW_PLANS"):
        return
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for statement, params in statements:
            with raw.cursor() as cur:
                cur.execute("EXPLAIN ANALYZE " + statement, params)
                print(statement[:200], "\n", "\n".join(row[0] for row in cur.fetchall()), "\n")
        raw.rollback()
