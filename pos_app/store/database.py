"""The till's SQLite database: one file, WAL mode, durable commits, migrations at start-up.

Use cases open one session per user action through :meth:`TillDatabase.write` (which
starts the transaction with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock
upgrade) or :meth:`TillDatabase.read`. Hot read paths (member lookup) use
:meth:`TillDatabase.raw_reader`, a plain sqlite3 connection per thread, because an ORM
round trip costs many times an indexed sqlite3 lookup.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from pos_app.resources import migrations_dir

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is off).
    dbapi_connection.isolation_level = None
    for pragma in PRAGMAS:
        dbapi_connection.execute(pragma)


def _on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(path: Path | str) -> Engine:
    """An engine on ``path`` with the till's pragmas and explicit BEGIN handling."""
    engine = create_engine(f"sqlite:///{path}", pool_size=4, max_overflow=8)
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def alembic_config(connection: Any | None = None) -> Config:
    """Alembic configuration pointing at the till's migrations under ``db/``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class TillDatabase:
    """The till's database file.

    Attributes:
        path: The SQLite file.
        engine: SQLAlchemy engine (pooled connections).
    """

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.path)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._local = threading.local()
        if migrate:
            self.migrate()

    # -- schema ------------------------------------------------------------------
    def migrate(self) -> None:
        """Apply every pending migration (called at start-up)."""
        with self.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")

    def current_revision(self) -> str | None:
        """The revision the file is at."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- sessions ----------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed on success, else rolled back."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (a consistent WAL snapshot for its duration)."""
        with self._read_sessions() as session, session.begin():
            yield session
            session.rollback()

    def raw_reader(self) -> sqlite3.Connection:
        """A plain sqlite3 connection for this thread, for hot read paths."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=True, isolation_level=None
            )
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close pooled connections and this thread's raw reader."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self.engine.dispose()
