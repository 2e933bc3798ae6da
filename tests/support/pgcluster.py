"""A private, throw-away PostgreSQL cluster for tests and benchmarks.

The cluster lives in a fresh temporary folder, listens only on 127.0.0.1 on a
free port (its unix socket stays inside that folder), trusts every loopback
connection (replication included), and runs with ``fsync=off``: it is fast and
it is lost on stop, which is all a test needs. ``PgCluster(durable=True)`` keeps
PostgreSQL's own defaults instead (``fsync``, ``synchronous_commit`` and
``full_page_writes`` on), for benchmarks that must measure what a real server
pays.

``PgReplica(primary)`` is a physical streaming replica of a running cluster:
``pg_basebackup -R`` into a new folder, started on its own loopback port with
``hot_standby=on``. It answers read-only queries and can pause and resume
replaying the primary's WAL (``replay_paused()``), which is how tests make it lag.

PostgreSQL refuses to run as root, so when we are root ``initdb`` and
``pg_ctl`` are run as the ``postgres`` user (created by Debian's postgresql
package) through ``runuser``, in a folder chowned to that user.

Use it as a context manager::

    with PgCluster() as cluster:
        url = cluster.create_database("bench")
        ...  # postgresql+psycopg://postgres@127.0.0.1:PORT/bench

or from a shell, for benchmarks against a long-lived server::

    .venv/bin/python -m tests.support.pgcluster [--db NAME] [--port N]

which prints the SQLAlchemy URL on stdout and stops the cluster on Ctrl-C
(``--durable`` for PostgreSQL's durable defaults, ``--replica`` to also start a
streaming replica and print its URL on a second line).

This module must not import pytest: benchmarks use it too.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["PgCluster", "PgClusterError", "PgReplica", "PgUnavailable", "find_bindir"]

SUPERUSER = "postgres"
# The fast, throw-away settings tests use; a durable cluster leaves PostgreSQL's defaults.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PgClusterError(RuntimeError):
    """The cluster could not be created, started or used."""


class PgUnavailable(PgClusterError):
    """No PostgreSQL server binaries (or no user to run them as) on this machine."""


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_bindir() -> Path | None:
    """Newest folder holding ``initdb`` and ``pg_ctl``, or None.

    ``POS_PG_BINDIR`` overrides the search; otherwise Debian's
    ``/usr/lib/postgresql/*/bin`` (newest version first), then ``initdb`` on PATH.
    """
    override = os.environ.get("POS_PG_BINDIR")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        folder = Path(candidate)
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One private PostgreSQL cluster in a temporary folder.

    ``start()`` runs initdb and starts the server; ``stop()`` stops it and removes
    the folder. Both are idempotent, and ``stop()`` also runs at interpreter exit.

    Attributes:
        durable: PostgreSQL's durable defaults (fsync, synchronous_commit and
            full_page_writes on) instead of the fast, throw-away settings.
        settings: More ``name=value`` server settings (``postgres -c``), after the
            others: memory and WAL sizing for a benchmark, a preloaded extension.
        port: The port it listens on (once started).
        root: Its temporary folder (once started).
        startup_seconds: How long ``start()`` took.
    """

    def __init__(
        self,
        bindir: Path | None = None,
        *,
        port: int | None = None,
        base_dir: Path | None = None,
        start_timeout: float = 60.0,
        durable: bool = False,
        settings: Sequence[str] = (),
    ) -> None:
        self.bindir = bindir
        self.settings = tuple(settings)
        self.requested_port = port
        self.base_dir = base_dir
        self.start_timeout = start_timeout
        self.durable = durable
        self.port: int | None = None
        self.root: Path | None = None
        self.startup_seconds: float | None = None
        self._run_as: str | None = None
        self._running = False

    # -- paths -------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        return self._root() / "data"

    @property
    def logfile(self) -> Path:
        return self._root() / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self._root()

    def _root(self) -> Path:
        if self.root is None:
            raise PgClusterError("the cluster has not been started")
        return self.root

    # -- life cycle --------------------------------------------------------------

    def start(self) -> Self:
        if self._running:
            return self
        began = time.monotonic()
        bindir = self.bindir or find_bindir()
        if bindir is None:
            raise PgUnavailable(
                "PostgreSQL server binaries not found (looked for initdb and pg_ctl in "
                "$POS_PG_BINDIR, /usr/lib/postgresql/*/bin and PATH). Install them with "
                "`make setup` (scripts/setup_system.sh installs Debian's postgresql)."
            )
        self.bindir = bindir
        owner = self._prepare_owner()
        parent = self.base_dir or Path(tempfile.gettempdir())
        if owner is not None and not _world_traversable(parent):
            parent = Path("/tmp")  # the postgres user must be able to reach the folder
        self.root = Path(tempfile.mkdtemp(prefix="pos-pg-", dir=parent))
        atexit.register(self.stop)
        try:
            if owner is not None:
                os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._initdb()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder. Safe to call twice."""
        if self.root is None:
            return
        if self._running or (self.datadir / "postmaster.pid").exists():
            result = self._pg(
                "pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "30"
            )
            if result.returncode != 0:
                self._kill_postmaster()
        self._running = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ---------------------------------------------------------------

    def url(self, dbname: str = "postgres", driver: str = "psycopg") -> str:
        """SQLAlchemy URL of a database in this cluster (trust auth, no password)."""
        if self.port is None:
            raise PgClusterError("the cluster has not been started")
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string, for psycopg.connect()."""
        if self.port is None:
            raise PgClusterError("the cluster has not been started")
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement in autocommit mode (CREATE/DROP DATABASE need it)."""
        self.query(sql, dbname)

    def query(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement in autocommit mode; its rows (none for a command)."""
        import psycopg  # the hq extra; imported late so the CLI help works without it

        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def flush_wal(self) -> str:
        """Write out every WAL record inserted so far and return the position (an LSN).

        With ``synchronous_commit=off`` commits sit in WAL buffers until the WAL writer
        gets to them, and records after the last commit can wait for seconds. A
        transaction that writes a WAL record (a logical message, which needs no table)
        and commits with ``synchronous_commit=on`` flushes everything before it at once
        (a cheap write with ``fsync=off``), so a replica can stream it now.
        """
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute("SET synchronous_commit = on")
            with conn.transaction():
                conn.execute("SELECT pg_logical_emit_message(true, 'pgcluster', 'flush')")
            row = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        return str(row[0])

    def setting(self, name: str) -> str:
        """The server's current value of a setting (``SHOW name``)."""
        _check_name(name)
        return str(self.query(f"SHOW {name}")[0][0])

    def create_database(self, name: str) -> str:
        """Create an empty database (from template0, UTF8) and return its SQLAlchemy URL."""
        _check_name(name)
        self.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        _check_name(name)
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    # -- internals ---------------------------------------------------------------

    def _prepare_owner(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            self._run_as = None
            return None
        try:
            owner = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PgUnavailable(
                "running as root but there is no 'postgres' user to run the server as "
                "(Debian's postgresql package creates it: run `make setup`)"
            ) from None
        if shutil.which("runuser") is None:
            raise PgUnavailable("running as root but `runuser` (util-linux) is missing")
        self._run_as = SUPERUSER
        return owner

    def _pg(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.bindir is not None
        command = [str(self.bindir / tool), *args]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(
            command,
            cwd=self.root,  # postgres must be able to stat its working directory
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.start_timeout + 30,
            check=False,
        )

    def _initdb(self) -> None:
        """Create the data folder (a replica copies its primary's instead)."""
        result = self._pg(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",  # the files initdb writes; the server's own settings decide durability
            "--no-instructions",
        )
        if result.returncode != 0:
            raise PgClusterError(f"initdb failed ({result.returncode}):\n{result.stderr}")
        self._allow_replication()

    def _allow_replication(self) -> None:
        """Trust loopback replication connections (initdb writes these lines with
        ``--auth=trust`` today; make sure of it, so ``pg_basebackup`` can connect)."""
        hba = self.datadir / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        wanted = "host replication all 127.0.0.1/32 trust"
        if not any(line.split() == wanted.split() for line in lines):
            hba.write_text("\n".join([*lines, wanted, ""]))

    def _server_options(self) -> list[str]:
        """``postgres`` command-line options (``pg_ctl -o``)."""
        assert self.port is not None
        return [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-k {self.socket_dir}",
            *(() if self.durable else tuple(f"-c {s}" for s in FAST_SETTINGS)),
            "-c max_connections=200",
            "-c wal_level=replica",  # a replica can stream from any cluster
            "-c max_wal_senders=10",
            *(f"-c {s}" for s in self.settings),
        ]

    def _start_server(self) -> None:
        attempts = 1 if self.requested_port else 3
        last_error = ""
        for _ in range(attempts):  # a "free" port can be taken before the server binds it
            self.port = self.requested_port or free_port()
            options = " ".join(self._server_options())
            result = self._pg(
                "pg_ctl",
                "start",
                "-D",
                str(self.datadir),
                "-l",  # with -l the server does not keep our pipes open
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                str(int(self.start_timeout)),
            )
            if result.returncode == 0:
                self._running = True
                return
            last_error = result.stderr + "\n" + self._log_tail()
        raise PgClusterError(f"pg_ctl start failed:\n{last_error}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown
            for _ in range(50):
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)


class PgReplica(PgCluster):
    """A physical streaming replica of a running :class:`PgCluster`.

    ``start()`` copies the primary with ``pg_basebackup -R`` (which writes
    ``standby.signal`` and ``primary_conninfo``) into a new folder owned by the
    server's user and starts it on its own loopback port with ``hot_standby=on``.
    It takes the primary's durability. Every database of the primary, including
    ones created later, is on the replica, read-only.
    """

    def __init__(self, primary: PgCluster, *, start_timeout: float = 60.0) -> None:
        super().__init__(
            primary.bindir,
            base_dir=primary.base_dir,
            start_timeout=start_timeout,
            durable=primary.durable,
        )
        self.primary = primary

    def _initdb(self) -> None:
        """``pg_basebackup`` instead of initdb: the primary's data, and the standby setup."""
        if self.primary.port is None:
            raise PgClusterError("start the primary before its replica")
        result = self._pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            SUPERUSER,
            "-D",
            str(self.datadir),
            "-R",  # standby.signal + primary_conninfo
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        if result.returncode != 0:
            raise PgClusterError(f"pg_basebackup failed ({result.returncode}):\n{result.stderr}")

    def _server_options(self) -> list[str]:
        return [*super()._server_options(), "-c hot_standby=on"]

    # -- replay ------------------------------------------------------------------

    def pause_replay(self, timeout: float = 10.0) -> None:
        """Stop applying the primary's WAL (it still streams in); returns once paused."""
        self.execute("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + timeout
        while self.query("SELECT pg_get_wal_replay_pause_state()")[0][0] != "paused":
            if time.monotonic() > deadline:
                raise PgClusterError("the replica did not pause its replay")
            time.sleep(0.02)

    def resume_replay(self) -> None:
        """Apply the primary's WAL again (and catch up)."""
        self.execute("SELECT pg_wal_replay_resume()")

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """Replay paused inside the block, resumed after it (even on an error)."""
        self.pause_replay()
        try:
            yield
        finally:
            self.resume_replay()

    def catch_up(self, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed everything the primary wrote so far.

        Raises:
            PgClusterError: it did not within ``timeout`` seconds (replay paused?).
        """
        target = self.primary.flush_wal()
        deadline = time.monotonic() + timeout
        sql = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        while not self.query(sql)[0][0]:
            if time.monotonic() > deadline:
                raise PgClusterError(f"the replica did not replay up to {target}")
            time.sleep(0.02)


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"not a plain lower-case database name: {name!r}")


def _world_traversable(path: Path) -> bool:
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.pgcluster",
        description="Start a private PostgreSQL cluster, print its SQLAlchemy URL, "
        "and keep it running until Ctrl-C (or SIGTERM).",
    )
    parser.add_argument("--db", default="bench", help="database to create (default: bench)")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes on)",
    )
    parser.add_argument(
        "--replica",
        action="store_true",
        help="also start a streaming replica and print its URL on a second line",
    )
    args = parser.parse_args(argv)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    try:
        with contextlib.ExitStack() as stack:
            cluster = stack.enter_context(PgCluster(port=args.port, durable=args.durable))
            print(cluster.create_database(args.db), flush=True)
            if args.replica:
                replica = stack.enter_context(PgReplica(cluster))
                print(replica.url(args.db), flush=True)
            print(
                f"PostgreSQL running in {cluster.root} (started in "
                f"{cluster.startup_seconds:.2f} s, durable={cluster.durable}); "
                "Ctrl-C stops it and removes it.",
                file=sys.stderr,
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 0
    except PgClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
