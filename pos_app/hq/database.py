"""HQ's database: engine, migrations, and the one way to write (:meth:`HQDatabase.write`).

Every write transaction starts by locking the change counter row (``SELECT ... FOR
UPDATE``; ``BEGIN IMMEDIATE`` on SQLite) and keeps it until commit. Writers are therefore
serialised, which buys three things:

* the ``seq`` numbers a transaction stamps on the rows tills pull commit in order, so a
  pull that has read up to ``seq`` N never later meets a row with a smaller number;
* balance checks (holds, overspend) see every committed movement, with no lost update;
* no deadlock is possible: every writer takes the same lock first.

Reads (pulls) run in a REPEATABLE READ snapshot and need no lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import create_engine, event, inspect, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pos_app.core.rules import default_rule_set
from pos_app.hq.models import (
    CHANGE_COUNTER,
    Counter,
    FeedMixin,
    RuleSetVersion,
    Setting,
)
from pos_app.resources import hq_migrations_dir

PHONE_KEY = "phone_key"


def alembic_config(connection: Any | None = None) -> Config:
    """Alembic configuration for HQ's migrations, run on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(hq_migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest HQ migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _sqlite_begin(conn: Any) -> None:
    write = conn.get_execution_options().get("hq_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@dataclass(frozen=True)
class EngineOptions:
    """How long HQ's connections wait (PostgreSQL; a SQLite demo ignores them).

    Attributes:
        pool_timeout: Seconds a session waits for a pooled connection before
            ``sqlalchemy.exc.TimeoutError``.
        connect_timeout: Seconds a new connection may take; None: libpq's default.
        lock_timeout: Seconds a statement waits for a lock (a writer's, the change
            counter's) before PostgreSQL cancels it (``lock_not_available``); None: forever.
    """

    pool_timeout: float = 30.0
    connect_timeout: int | None = None
    lock_timeout: float | None = None

    def connect_args(self) -> dict[str, Any]:
        """psycopg connection arguments for these options."""
        args: dict[str, Any] = {}
        if self.connect_timeout is not None:
            args["connect_timeout"] = self.connect_timeout
        # HQ's statements are prepared once per connection (psycopg does after five
        # runs) and then reuse one generic plan: a custom plan is planned anew on every
        # run, and planning a query over the 16 partitions of a member-owned table
        # costs more than running it (partitions are pruned at run time instead).
        settings = ["-c plan_cache_mode=force_generic_plan"]
        if self.lock_timeout is not None:
            settings.append(f"-c lock_timeout={round(self.lock_timeout * 1000)}")
        args["options"] = " ".join(settings)
        return args


def make_engine(url: str, options: EngineOptions | None = None) -> Engine:
    """An engine for a ``postgresql+psycopg://`` URL or a ``sqlite:///`` demo file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"HQ runs on PostgreSQL (or a SQLite demo file), not {parsed.drivername}")
    options = options or EngineOptions()
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        pool_timeout=options.pool_timeout,
        connect_args=options.connect_args(),
    )
    event.listen(engine, "connect", _pg_connect)
    return engine


def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
    """Send list parameters (the ``= ANY(array)`` keys, the ``unnest`` columns) in
    PostgreSQL's binary array format: psycopg builds a text array in Python, ~6x the
    cost (a batch's arrays took ~15% of a push's time in text)."""
    dbapi_conn.adapters.register_dumper(list, ListBinaryDumper)


LATE_COUNTER = "hq_late_counter"
"""``session.info`` key: the write transaction takes the counter lock late."""
COUNTER_START = "hq_seq_start"
"""``session.info`` key: the change counter's value when the lock was taken."""


LATE_COUNTER_SLICE_MS = 25
"""Milliseconds a transaction that locked rows first waits for the change counter at a
time; between two waits it looks whether the writer holding the counter waits for one of
its rows (then it gives way)."""


class GiveWay(Exception):
    """A ``late_counter`` transaction holds rows another writer is waiting for while it
    waits for the counter that writer holds: it must roll back (and its caller run it
    again, counter first)."""


def take_counter(session: Session) -> int:
    """Lock the change counter (held until the transaction ends) and return its value;
    ``session.info["hq_seq"]`` then hands out the numbers after it. Taken once.

    Raises:
        GiveWay: In a ``late_counter`` transaction on PostgreSQL, the counter is held by
            a writer that waits for a row this transaction locked. (Waiting on would be
            a deadlock, and PostgreSQL might refuse the other writer rather than this
            one: an adjustment or a job would fail where a push can simply run again.)
    """
    if COUNTER_START in session.info:
        return int(session.info[COUNTER_START])
    counter = select(Counter.value).where(Counter.name == CHANGE_COUNTER).with_for_update()
    if session.info.get(LATE_COUNTER) and session.get_bind().dialect.name == "postgresql":
        start = _take_counter_politely(session, counter)
    else:
        start = session.execute(counter).scalar_one()
    session.info[COUNTER_START] = start
    session.info["hq_seq"] = start
    return int(start)


def _take_counter_politely(session: Session, counter: Any) -> int:
    """Take the counter if it is free; else wait for it in short, blocking slices
    (``LATE_COUNTER_SLICE_MS``):
    PostgreSQL wakes the waiter as soon as the holder commits. Between two slices, give
    way if the holder waits for a row of ours; past the connection's own
    ``lock_timeout``, wait as any writer does (PostgreSQL then refuses: a 503)."""
    start = session.execute(counter.with_for_update(skip_locked=True)).scalar()
    if start is not None:  # free: one round trip
        return int(start)
    patience = int(session.execute(_LOCK_TIMEOUT_MS).scalar_one())  # 0: none
    deadline = time.monotonic() + patience / 1000 if patience else float("inf")
    while time.monotonic() < deadline:
        try:
            with session.begin_nested():
                session.execute(_SLICE, {"ms": f"{LATE_COUNTER_SLICE_MS}ms"})
                start = session.execute(counter).scalar_one()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            if session.execute(_WAITING_FOR_ME).scalar():
                raise GiveWay(
                    "another writer holding the change counter waits for a row of ours"
                ) from None
            continue
        session.execute(_SLICE, {"ms": str(patience)})  # the connection's own again
        return int(start)
    return int(session.execute(counter).scalar_one())


_LOCK_NOT_AVAILABLE = "55P03"
# lock_timeout in milliseconds, the transaction's value (pg_settings.setting is in ms)
_LOCK_TIMEOUT_MS = text("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")
_SLICE = text("SELECT set_config('lock_timeout', :ms, true)")  # "25ms", or "5000" (ms)
_WAITING_FOR_ME = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted"
    " AND pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
)


def _stamp_feed_rows(session: Session, _context: Any, _instances: Any) -> None:
    """before_flush: give new and changed feed rows the next change numbers."""
    seq = session.info.get("hq_seq")
    changed = [obj for obj in session.new if isinstance(obj, FeedMixin)]
    for obj in session.dirty:
        if not isinstance(obj, FeedMixin) or obj in session.new:
            continue
        state = inspect(obj)
        ignore = type(obj).__feed_ignore__ | {"seq"}
        if any(attr.history.has_changes() for attr in state.attrs if attr.key not in ignore):
            changed.append(obj)
    if not changed:
        return
    if seq is None:
        raise RuntimeError("feed rows can only be written inside HQDatabase.write()")
    for obj in changed:
        seq += 1
        obj.seq = seq
    session.info["hq_seq"] = seq


class HQDatabase:
    """HQ's database.

    Attributes:
        url: SQLAlchemy URL.
        engine: The engine (pooled connections), with ``options``' timeouts.
    """

    def __init__(self, url: str, options: EngineOptions | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_flush", _stamp_feed_rows)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- schema ----------------------------------------------------------------------
    def migrate(self) -> None:
        """Upgrade the schema to head, then make sure the phone-hash key and a rule set
        exist."""
        with self.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        self.bootstrap()

    def current_revision(self) -> str | None:
        """The schema revision the database is at."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def bootstrap(self, now: dt.datetime | None = None) -> None:
        """Idempotent first-start data (run by :meth:`migrate`); a SQLite demo HQ also
        gets the embedded demo member-code key (:func:`pos_app.hq.keys.install_demo_key`)."""
        from pos_app.hq.keys import install_demo_key

        now = now or dt.datetime.now(dt.UTC)
        with self.write() as session:
            if self.is_sqlite:
                install_demo_key(session)
            if session.get(Setting, PHONE_KEY) is None:
                session.add(Setting(key=PHONE_KEY, value=secrets.token_hex(32)))
            has_rules = session.scalars(select(RuleSetVersion.version).limit(1)).first()
            if has_rules is None:
                rules = default_rule_set()
                session.add(
                    RuleSetVersion(
                        version=rules.version,
                        document=rules.to_json(),
                        published_at=now,
                        active=True,
                    )
                )

    # -- sessions --------------------------------------------------------------------
    @contextmanager
    def write(self, *, late_counter: bool = False) -> Iterator[Session]:
        """One write transaction, holding the change-counter lock until it commits.

        With ``late_counter`` the lock is not taken at once: the caller reads and
        computes first (locking the rows it will change itself) and takes it with
        :func:`take_counter` just before it writes a row tills pull. Whatever it does,
        the lock is held from its first feed row to the commit, so feed rows still
        commit in the order of their change numbers.
        """
        with self._sessions() as session:
            session.connection(execution_options={"hq_write": True})
            try:
                if late_counter:
                    session.info[LATE_COUNTER] = True
                else:
                    take_counter(session)
                yield session
                session.flush()
                start = session.info.get(COUNTER_START)
                end = session.info.get("hq_seq")
                if start is not None and end != start:
                    session.execute(
                        update(Counter).where(Counter.name == CHANGE_COUNTER).values(value=end)
                    )
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction WITHOUT the change-counter lock, for rows no till pulls
        (a member code's use): it never waits for a push. Writing a feed row here raises."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Session]:
        """A read transaction; with ``snapshot`` every query sees the same committed
        state (REPEATABLE READ, read only, on PostgreSQL)."""
        with self._sessions() as session:
            if snapshot and not self.is_sqlite:
                session.connection(
                    execution_options={"isolation_level": "REPEATABLE READ"}
                ).exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                yield session
            finally:
                session.rollback()

    def setting(self, key: str) -> str | None:
        """A value from ``hq_settings``."""
        with self.read() as session:
            row = session.get(Setting, key)
            return row.value if row else None
