"""Shared helpers of the till benchmarks: the cached demo database, timing, tables.

The demo till database with ``N`` members is built once, with the real
:func:`pos_app.services.demo.build_demo_data`, into ``benchmarks/out/demo-N.sqlite``
(git-ignored) and reused by every later run. Benchmarks that write (checkouts) work
on a copy, so the cached file always holds exactly the demo data.

Run a benchmark from the repository root, e.g.::

    .venv/bin/python benchmarks/bench_lookup.py --members 100000
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from pos_app.services.context import TillContext

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.support (the private PostgreSQL) from a script
    sys.path.insert(0, str(ROOT))
DEFAULT_MEMBERS = 1_000_000


HQ_PG_SETTINGS = (
    "shared_buffers=4GB",
    "max_wal_size=16GB",
    "checkpoint_timeout=30min",
    "wal_compression=lz4",
)
"""HQ's recommended PostgreSQL memory and WAL sizes (docs/hq.md, "HQ's PostgreSQL"), none
of which weakens durability: fsync, synchronous_commit and full_page_writes stay on."""


def member_count(text: str) -> int:
    """``--members`` values: ``1000000``, ``1_000_000``, ``1,000,000``, ``100k`` or ``1M``."""
    raw = text.strip().replace("_", "").replace(",", "").lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(raw[-1:], 1)
    value = int(raw[:-1] if scale > 1 else raw) * scale
    if value < 1_000:
        raise argparse.ArgumentTypeError("use at least 1,000 members")
    return value


def add_members_arg(parser: argparse.ArgumentParser) -> None:
    """The ``--members`` flag every benchmark takes."""
    parser.add_argument(
        "--members",
        type=member_count,
        default=DEFAULT_MEMBERS,
        help="members in the demo database (default 1,000,000; built once, ~2-3 min for 1M)",
    )


def demo_db_path(members: int) -> Path:
    """Where the cached demo database with ``members`` members lives."""
    return OUT / f"demo-{members}.sqlite"


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def _build_lock(members: int) -> Iterator[None]:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / f"demo-{members}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_demo_db(members: int, *, quiet: bool = False) -> Path:
    """The cached demo database with ``members`` members, built first if missing.

    The build writes to a temporary name and renames it when complete, so an
    interrupted build is never mistaken for a finished one.
    """
    path = demo_db_path(members)
    with _build_lock(members):
        if path.exists():
            from pos_app.store.database import TillDatabase

            TillDatabase(path).close()  # bring the cache to the newest migration, once
            return path
        from pos_app.services.context import open_till
        from pos_app.services.demo import build_demo_data

        partial = OUT / f"demo-{members}.building.sqlite"
        _remove_db(partial)
        say = (lambda *_a, **_k: None) if quiet else print
        say(f"building {path.name}: {members:,} members (once; cached under {OUT}) ...")
        started = time.perf_counter()
        ctx = open_till(partial)
        stats = build_demo_data(ctx, members=members)
        ctx.db.close()
        elapsed = time.perf_counter() - started
        _remove_db(path)
        partial.rename(path)
        for suffix in ("-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        size = path.stat().st_size / 1e6
        say(
            f"built {path.name} in {elapsed:.1f} s (build_demo_data {stats.seconds:.1f} s): "
            f"{stats.members:,} members, {stats.sales:,} history sales, {size:,.0f} MB"
        )
        sys.stdout.flush()
        return path


def working_copy(members: int, name: str) -> Path:
    """A fresh copy of the cached demo database for a benchmark that writes."""
    source = ensure_demo_db(members)
    target = OUT / f"work-{name}-{members}.sqlite"
    _remove_db(target)
    shutil.copyfile(source, target)
    # Write the copy out now: otherwise the kernel flushes it while the benchmark runs
    # and every fsync of the benchmark waits behind a gigabyte of writeback.
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
    return target


def remove_working_copy(path: Path) -> None:
    """Delete a copy made by :func:`working_copy` (and its WAL files)."""
    _remove_db(path)


# -- measuring ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """Per-call figures in microseconds."""

    n: int
    mean: float
    p50: float
    p99: float
    max: float

    @classmethod
    def of_ns(cls, samples_ns: Sequence[int]) -> Stats:
        """Figures of per-call durations given in nanoseconds."""
        us = sorted(s / 1000 for s in samples_ns)
        cuts = statistics.quantiles(us, n=100, method="inclusive")
        return cls(len(us), statistics.fmean(us), cuts[49], cuts[98], us[-1])


def machine_note() -> str:
    """CPU count and load average, printed with every table (the figures depend on them)."""
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"Python {sys.version.split()[0]}"
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain left/right aligned text table (first column left, the rest right)."""
    cells = [[str(h) for h in headers]] + [
        [f"{c:.1f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    print(fmt(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(fmt(row))


# -- HQ and tills (the sync benchmarks) ----------------------------------------------------------


def tree_cpu_seconds(*roots: int) -> float:
    """CPU seconds (user + system) used so far by the processes ``roots`` and all their
    descendants that are still running (from /proc; Linux only)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, int]] = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(path.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted, total = set(roots), 0
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _cpu) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                grew = True
    for pid in wanted:
        total += stats.get(pid, (0, 0))[1]
    return total / tick


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every CPU summed (from
    /proc/stat; Linux only): busy is everything but idle and I/O wait."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / tick, sum(fields) / tick


def postmaster_pid(datadir: Path) -> int:
    """The PostgreSQL server of ``datadir`` (its ``postmaster.pid``)."""
    return int((Path(datadir) / "postmaster.pid").read_text().split()[0])


class HQProcess:
    """``pos-hq serve --workers N`` on loopback in a child process."""

    def __init__(self, db_url: str, workers: int = 1) -> None:
        from tests.support.pgcluster import free_port

        self.db_url = db_url
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """HQ's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HQProcess:
        """Start the server and wait until it answers."""
        code = "import sys; from pos_app.hq.cli import main; sys.exit(main())"
        args = ["serve", "--db", self.db_url, "--port", str(self.port)]
        args += ["--workers", str(self.workers), "--log-level", "warning"]
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args])
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("HQ did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def registered_till(
    hq_url: str,
    admin_token: str,
    path: Path,
    store: str,
    till: str = "01",
    opener: Callable[[Path], TillContext] | None = None,
) -> TillContext:
    """A fresh till at ``path`` registered at HQ (its admin API) as ``till`` of ``store``,
    reopened after adopting the credential as ``pos-app register-till`` does (``opener``:
    how to open the file; the till's own :func:`open_till` by default)."""
    from pos_app.services.context import open_till
    from pos_app.services.sync import HQClient, save_registration

    opener = opener or open_till
    ctx = opener(path)
    with HQClient(hq_url) as client:
        credential = client.register_till(admin_token, store, till)
    save_registration(ctx, hq_url, credential)
    ctx.db.close()
    return opener(path)
