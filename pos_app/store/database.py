"""The till's SQLite database: one encrypted file, WAL mode, durable commits, migrations
at start-up.

The file is an SQLCipher 4 file whose keys live in the key store, never beside it
(:mod:`pos_app.store.encryption`, :mod:`pos_app.store.keys`); every connection here
(pooled, the raw readers, the checkpointer, bulk loads) is an SQLCipher connection keyed
by :meth:`TillDatabase.connect`. A plaintext file of an older till is encrypted when it
is opened, before the migrations run.

Use cases open one session per user action through :meth:`TillDatabase.write` (which
starts the transaction with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock
upgrade) or :meth:`TillDatabase.read`. Hot read paths (member lookup) use
:meth:`TillDatabase.raw_reader`, a raw DB-API connection per thread, because an ORM
round trip costs many times an indexed sqlite3 lookup.

WAL checkpoints run off the committing thread. By default SQLite copies the WAL back
into the database file inside whichever COMMIT crosses 1000 pages, and that sale waits
for the copy and its fsync (15-80 ms at a big till: the whole p99 of a checkout). Here
a background thread, started with the first write, runs a PASSIVE checkpoint every
:data:`CHECKPOINT_INTERVAL_S` seconds; a passive checkpoint never blocks a writer or a
reader. At a counter it always catches up between two sales, and the next sale starts
the WAL from its beginning again. Only when sales come back to back for minutes (the
benchmark) does the WAL keep growing, up to :data:`AUTOCHECKPOINT_BACKSTOP` pages, where
one commit checkpoints by itself as SQLite would; ``journal_size_limit`` then trims the
file back.

In-process writers also queue on a lock before SQLite's write lock: SQLite would make a
second writer sleep and poll (1, 2, 5, 10 ms...), the lock hands over at once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from pos_app.core.privacy import MaskCipher, PhoneHinter, derive_key
from pos_app.resources import migrations_dir
from pos_app.store import encryption
from pos_app.store.glance import script_head
from pos_app.store.keys import KeyStore, default_key_store
from pos_app.store.models import Member

AUTOCHECKPOINT_BACKSTOP = 30_000
"""WAL pages (4 KiB each, so about 120 MB) after which a commit checkpoints by itself:
only reached when writes never pause (the background checkpointer cannot finish) or it
is not running. Larger is not better: every read searches the WAL's index, which grows
with it (at 100,000 pages a checkout's reads cost 1.5 ms more)."""

WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the WAL file is trimmed to when it starts over."""

CHECKPOINT_INTERVAL_S = 0.5
"""How often the background checkpointer copies committed WAL pages into the file."""


PAGE_CACHE_KIB = 16_000
"""SQLite's page cache per pooled connection (the default is 2 MB). A sale touches a few
hundred pages scattered over a 1 GB file; keeping the index interiors and the hot leaves
cached took a checkout's CPU from 3.5 to 2.5 ms at 1M members. It is a ceiling, filled
only as pages are read, and does not grow with the member count."""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_BACKSTOP}",
    f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}",
    f"PRAGMA cache_size=-{PAGE_CACHE_KIB}",
)

WRITE_WAIT_S = 10.0
"""How long a writer waits for another in-process writer (as ``busy_timeout``)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhoneSecrets:
    """The till's own phone keys, derived from its local key.

    Attributes:
        hint_key: Key of the phone hint (first 3 + last 4 digits).
        masks: Seals and opens the masked phone of a member row.
    """

    hint_key: bytes
    masks: MaskCipher

    @classmethod
    def of(cls, local_key: bytes) -> PhoneSecrets:
        """The secrets derived from a till's local key (``TillKeys.local_key``)."""
        return cls(
            derive_key(local_key, "phone-hint"), MaskCipher(derive_key(local_key, "phone-mask"))
        )

    def hint_of_mask(self, masked: str, last4: str) -> bytes | None:
        """The hint of a member whose masked phone is ``masked`` (None without both
        the first three and the last four digits)."""
        return PhoneHinter(self.hint_key).of_mask(masked, last4)

    def install(self, conn: Any) -> None:
        """Give a connection the SQL function ``phone_mask(sealed)`` (the masked phone)."""
        conn.create_function("phone_mask", 1, self.masks.open, deterministic=True)


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is off).
    dbapi_connection.isolation_level = None
    for pragma in PRAGMAS:
        dbapi_connection.execute(pragma)


def _on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _set_phone_hints(session: Session, _context: Any, _instances: Any) -> None:
    """Keep each member's phone hint in step with its masked phone and last 4 digits,
    whoever wrote them (registration, pull, snapshots)."""
    secrets_ = session.info.get(_SECRETS_KEY)
    if secrets_ is None:
        return
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Member):
            continue
        state = inspect(obj)
        if obj in session.new or any(
            state.attrs[name].history.has_changes() for name in ("phone_masked", "phone_last4")
        ):
            obj.phone_hint = secrets_.hint_of_mask(obj.phone_masked or "", obj.phone_last4 or "")


_SECRETS_KEY = "store.phone_secrets"


def make_engine(path: Path | str, key: str, phone: PhoneSecrets) -> Engine:
    """An engine on the encrypted file ``path`` (SQLCipher raw ``key``) with the till's
    pragmas, the ``phone_mask`` function and explicit BEGIN handling. The pysqlcipher
    dialect issues ``PRAGMA key`` first on every new connection."""
    url = URL.create("sqlite+pysqlcipher", password=key, database=str(path))
    engine = create_engine(
        url,
        module=encryption.driver,
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=8,
        pool_use_lifo=True,  # the connection used last: its page cache is the warm one
    )
    engine.dialect.till_phone_secrets = phone  # type: ignore[attr-defined]  # store.types
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "connect", lambda conn, _record: phone.install(conn))
    event.listen(engine, "begin", _on_begin)
    return engine


class Checkpointer:
    """A daemon thread running ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection.

    A passive checkpoint copies the frames no reader still needs and fsyncs the database
    file; it takes no lock a writer waits for. Errors are logged and retried at the next
    tick (the backstop autocheckpoint keeps the WAL bounded meanwhile).
    """

    def __init__(self, opener: Callable[[], Any], interval: float | None = None) -> None:
        self._stop = threading.Event()
        self.runs = 0
        self.failures = 0
        self._thread = threading.Thread(
            target=self._run,
            args=(opener, CHECKPOINT_INTERVAL_S if interval is None else interval),
            name="till-wal-checkpoint",
            daemon=True,
        )
        self._thread.start()

    def _run(self, opener: Callable[[], Any], interval: float) -> None:
        conn: Any = None
        try:
            while not self._stop.wait(interval):
                try:
                    if conn is None:
                        conn = opener()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except Exception:  # keep checkpointing; the next tick retries
                    self.failures += 1
                    if self.failures in (1, 10) or self.failures % 1000 == 0:
                        log.warning(
                            "WAL checkpoint failed (%d times)", self.failures, exc_info=True
                        )
        finally:
            if conn is not None:
                conn.close()

    def is_alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    @property
    def stop_event(self) -> threading.Event:
        """Set to stop the thread (it exits within one interval)."""
        return self._stop

    def stop(self) -> None:
        """Stop the thread and wait for it to close its connection."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


def alembic_config(connection: Any | None = None) -> Any:
    """Alembic configuration pointing at the till's migrations under ``db/``.

    Alembic (with Mako) is imported only here: a till whose file is already at the
    newest revision starts without it (:meth:`TillDatabase.migrate`).
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class TillDatabase:
    """The till's database file.

    Attributes:
        path: The SQLite file (SQLCipher-encrypted).
        key_store: Where its keys live.
        keys: Its keys (database, local, HQ's phone key).
        file_id: Its id in the key store (the file's salt).
        phone: The phone-hint key and the masked-phone cipher.
        engine: SQLAlchemy engine (pooled connections).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        migrate: bool = True,
        background_checkpoint: bool = True,
        key_store: KeyStore | None = None,
    ) -> None:
        self.path = Path(path)
        self._background_checkpoint = background_checkpoint
        self._checkpointer: Checkpointer | None = None
        self._checkpointer_lock = threading.Lock()
        self._write_gate = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.key_store = key_store if key_store is not None else default_key_store()
        self.keys, self.file_id = encryption.open_keys(self.path, self.key_store)
        self._key = encryption.key_literal(self.keys, self.file_id)
        self.phone = PhoneSecrets.of(self.keys.local_key)
        self.engine = make_engine(self.path, self._key, self.phone)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        info = {_SECRETS_KEY: self.phone}
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False, info=info)
        event.listen(self._write_sessions, "before_flush", _set_phone_hints)
        self._local = threading.local()
        if migrate:
            self.migrate()

    def connect(self, *, readonly: bool = False, **kwargs: Any) -> Any:
        """A new SQLCipher connection to the file, keyed, with ``phone_mask`` (for raw
        readers, bulk loads, tools and tests; the caller closes it)."""
        return encryption.connect(
            self.path, self._key, readonly=readonly, setup=self.phone.install, **kwargs
        )

    def set_phone_key(self, key: bytes) -> None:
        """Keep HQ's phone-hash key in the key store (never in the file)."""
        self.keys = self.keys.with_phone_key(key)
        self.key_store.save(self.file_id, self.keys)

    # -- schema ------------------------------------------------------------------
    def migrate(self) -> None:
        """Apply every pending migration (called at start-up); a file already at the
        newest revision is left alone without loading Alembic."""
        head = script_head()
        if head is not None and self.current_revision() == head:
            return
        from alembic import command

        with self.engine.begin() as conn:
            cfg = alembic_config(conn)
            cfg.attributes["till_database"] = self
            command.upgrade(cfg, "head")

    def current_revision(self) -> str | None:
        """The revision the file is at (None before the first migration)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    # -- sessions ----------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed on success, else rolled back.

        Raises:
            sqlalchemy.exc.OperationalError: another writer held the database for
                :data:`WRITE_WAIT_S` seconds ("database is locked", as SQLite says).
        """
        if self._checkpointer is None and self._background_checkpoint:
            self._start_checkpointer()
        if not self._write_gate.acquire(timeout=WRITE_WAIT_S):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        try:
            with self._write_sessions() as session, session.begin():
                yield session
        finally:
            self._write_gate.release()

    def _start_checkpointer(self) -> None:
        with self._checkpointer_lock:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(lambda: self.connect(isolation_level=None))
                # A database dropped without close() still stops its thread.
                weakref.finalize(self, self._checkpointer.stop_event.set)

    @property
    def checkpointer(self) -> Checkpointer | None:
        """The background checkpointer (started by the first write), if any."""
        return self._checkpointer

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (a consistent WAL snapshot for its duration)."""
        with self._read_sessions() as session, session.begin():
            yield session
            session.rollback()

    def raw_reader(self) -> sqlite3.Connection:
        """A raw read-only connection for this thread, for hot read paths (SQLCipher's
        connection has sqlite3's interface)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect(readonly=True, check_same_thread=True, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Stop the checkpointer; close pooled connections and this thread's raw reader."""
        with self._checkpointer_lock:
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self.engine.dispose()
