"""Raw DB-API statements inside the caller's ORM transaction.

The checkout commits a sale in one transaction of about twenty statements. Through
SQLAlchemy (even Core ``insert()``), each statement costs 0.1-0.3 ms of Python for
compiling, caching and result handling, against 10-30 µs for the statement itself; at a
till with a million members that Python was most of a sale's time (see
``benchmarks/bench_checkout.py``). The functions here run constant SQL on the DB-API
connection *under* the session's transaction (SQLCipher's ``sqlcipher3``, which has the
interface of ``sqlite3`` and keeps the prepared statements in its per-connection
cache), so they commit or roll back with everything else the session did.

Rules for callers:

* Pending ORM changes are flushed first (when the session autoflushes), so a raw
  statement sees them and foreign keys hold, as with ``session.execute``.
* The ORM identity map does not see raw writes: do not mix a raw update of a row with
  an ORM object of the same row in one session (``post_points`` refreshes the balance
  of an ORM member itself).
* Values are converted as the models store them (:func:`to_db`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pos_app.store.encryption import driver
from pos_app.store.models import Base
from pos_app.store.types import to_db_time


def dbapi(session: Session) -> sqlite3.Connection:
    """The sqlite3 connection of the session's transaction (begun if needed), with the
    session's pending ORM changes flushed first."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    # Asking the session for its connection costs ~20 µs; a checkout asks twenty times,
    # so the answer is kept for as long as the same transaction is open.
    transaction = session.get_transaction()
    cached = session.info.get(_CONN_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cast(sqlite3.Connection, cached[1])
    conn = cast(sqlite3.Connection, session.connection().connection.driver_connection)
    session.info[_CONN_KEY] = (session.get_transaction(), conn)
    return conn


_CONN_KEY = "store.raw.connection"


def execute(
    session: Session, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> sqlite3.Cursor:
    """Run one statement in the session's transaction. SQLite's errors come out as
    SQLAlchemy's (``IntegrityError``, ``OperationalError``...), as from ``session.execute``."""
    try:
        return dbapi(session).execute(sql, params)
    except driver.Error as exc:
        raise wrapped(sql, params, exc) from exc


def executemany(session: Session, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement per row of ``rows`` in the session's transaction."""
    try:
        dbapi(session).executemany(sql, rows)
    except driver.Error as exc:
        raise wrapped(sql, rows, exc) from exc


def wrapped(sql: str, params: Any, exc: Exception) -> BaseException:
    """The driver's error ``exc`` as SQLAlchemy's (``IntegrityError``...)."""
    return DBAPIError.instance(sql, params, exc, driver.Error)


def to_db(value: Any) -> Any:
    """A Python value as the till's columns store it: aware datetimes as UTC text,
    dates as ISO text, booleans as 0/1; everything else unchanged."""
    if isinstance(value, dt.datetime):
        return to_db_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def from_db_date(value: str | None) -> dt.date | None:
    """A date column's text (or NULL)."""
    return None if value is None else dt.date.fromisoformat(value)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


@lru_cache(maxsize=256)
def _insert_sql(model: type[Base], columns: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    """The INSERT for ``columns`` plus the model's scalar defaults of the columns left
    out (as an ORM or Core insert would fill them)."""
    table = _table(model)
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    names = list(columns)
    defaults: list[Any] = []
    for column in table.c:
        if column.name in columns or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"{table.name}.{column.name} needs a value")
        names.append(column.name)
        defaults.append(to_db(column.default.arg))  # type: ignore[attr-defined]
    marks = ", ".join("?" * len(names))
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", tuple(defaults)


@lru_cache(maxsize=256)
def _update_sql(model: type[Base], columns: tuple[str, ...]) -> str:
    table = _table(model)
    keys = [c.name for c in table.primary_key.columns]
    unknown = [c for c in columns if c not in table.c or c in keys]
    if unknown or len(keys) != 1:
        raise ValueError(f"cannot update {table.name}.{', '.join(unknown) or keys}")
    sets = ", ".join(f"{c} = ?" for c in columns)
    return f"UPDATE {table.name} SET {sets} WHERE {keys[0]} = ?"


def insert_rows(
    session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int | None:
    """Insert ``rows`` (dicts with the same keys) into the model's table; columns left
    out get the model's scalar defaults.

    Returns:
        The rowid of the row when exactly one was inserted (an autoincrement key), else
        None.
    """
    if not rows:
        return None
    columns = tuple(rows[0])
    sql, defaults = _insert_sql(model, columns)
    if len(rows) == 1:
        return execute(session, sql, [*(to_db(rows[0][c]) for c in columns), *defaults]).lastrowid
    executemany(session, sql, [[*(to_db(row[c]) for c in columns), *defaults] for row in rows])
    return None


def update_row(session: Session, model: type[Base], key: Any, values: Mapping[str, Any]) -> int:
    """Set ``values`` on the row whose primary key is ``key``; the rows changed (0 or 1)."""
    columns = tuple(values)
    sql = _update_sql(model, columns)
    params = [to_db(values[c]) for c in columns]
    params.append(key)
    return execute(session, sql, params).rowcount


def update_many(
    session: Session, model: type[Base], column: str, pairs: Iterable[tuple[Any, Any]]
) -> None:
    """Set one column on many rows: ``pairs`` of (primary key, new value)."""
    sql = _update_sql(model, (column,))
    executemany(session, sql, [(to_db(value), key) for key, value in pairs])
