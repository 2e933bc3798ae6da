"""A private, throw-away PostgreSQL cluster for tests and benchmarks.

The cluster lives in a fresh temporary folder, listens only on 127.0.0.1 on a
free port (its unix socket stays inside that folder), trusts every loopback
connection, and runs with ``fsync=off``: it is fast and it is lost on stop,
which is all a test needs.

PostgreSQL refuses to run as root, so when we are root ``initdb`` and
``pg_ctl`` are run as the ``postgres`` user (created by Debian's postgresql
package) through ``runuser``, in a folder chowned to that user.

Use it as a context manager::

    with PgCluster() as cluster:
        url = cluster.create_database("bench")
        ...  # postgresql+psycopg://postgres@127.0.0.1:PORT/bench

or from a shell, for benchmarks against a long-lived server::

    .venv/bin/python -m tests.support.pgcluster [--db NAME] [--port N]

which prints the SQLAlchemy URL on stdout and stops the cluster on Ctrl-C.

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
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["PgCluster", "PgClusterError", "PgUnavailable", "find_bindir"]

SUPERUSER = "postgres"
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
    """

    def __init__(
        self,
        bindir: Path | None = None,
        *,
        port: int | None = None,
        base_dir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.bindir = bindir
        self.requested_port = port
        self.base_dir = base_dir
        self.start_timeout = start_timeout
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
        import psycopg  # the hq extra; imported late so the CLI help works without it

        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            conn.execute(sql.encode())

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
        result = self._pg(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        if result.returncode != 0:
            raise PgClusterError(f"initdb failed ({result.returncode}):\n{result.stderr}")

    def _start_server(self) -> None:
        attempts = 1 if self.requested_port else 3
        last_error = ""
        for _ in range(attempts):  # a "free" port can be taken before the server binds it
            self.port = self.requested_port or free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-p {self.port}",
                    f"-k {self.socket_dir}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
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
    args = parser.parse_args(argv)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    try:
        with PgCluster(port=args.port) as cluster:
            url = cluster.create_database(args.db)
            print(url, flush=True)
            print(
                f"PostgreSQL running in {cluster.root} (started in "
                f"{cluster.startup_seconds:.2f} s); Ctrl-C stops it and removes it.",
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
