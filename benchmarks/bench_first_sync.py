"""A new till's first sync at a chain's size: ready to sell, beside COPY and executemany.

Usage (from the repository root)::

    nice -n 5 .venv/bin/python benchmarks/bench_first_sync.py [--members 10M] [--stores 1000]
        [--regions 10] [--rounds 1] [--workers 1] [--stock-pg]

It starts a private PostgreSQL with PostgreSQL's durable defaults (fsync,
synchronous_commit and full_page_writes on) and HQ's recommended memory and WAL sizes
(docs/hq.md; ``--stock-pg`` for the stock ones), migrates HQ, generates a chain of
``--members`` members in ``--regions`` regions with ``tests.support.hqdata`` (region
``R001`` holds ``members / regions`` of them, each with its lots), ``VACUUM``s it as a
settled HQ is (both timed and printed, not measured), starts ``pos-hq serve`` as its own
process on loopback, and measures, alternating round by round which goes first:

* **the first sync**: a new till (a freshly migrated, encrypted till file, registered
  through HQ's admin API as a till of store ``G00001`` in region ``R001``) runs
  :meth:`SyncClient.sync_once`, what the till's sync worker runs: the region's snapshot
  (``GET /v1/snapshot``, applied by ``SnapshotLoader``), then the pull from its cursor.
  Seconds from the start to ready to sell, members per second, bytes on the wire, the
  time the till's writes waited for its stream reader (a thread receiving HQ's bytes,
  decompressing, parsing and building rows while the writes run), the rest (applying),
  the time that reader waited for HQ's bytes (HQ building and streaming), and the CPU
  seconds the till's process used (what a quieter machine would give it). Then the till is checked:
  three members of the region found by phone through the members service with their
  balances as generated, a member of another region not held. Beside it, the same
  stream downloaded alone (decompressed and split into lines, nothing applied): what HQ
  serves when the till does not hold it back.
* **the baseline**: the same rows moved by plain code: psycopg ``COPY`` of the region's
  members and their open lots out of PostgreSQL (one REPEATABLE READ transaction), and
  plain ``executemany`` of the rows the till ended up with (members, point lots, opening
  ledger entries) into a freshly migrated till file, with the same SQLCipher driver and
  key handling, the same indexes and triggers, the same durability (WAL,
  ``synchronous=FULL``), page cache and transaction size as the till's load; then
  again with the secondary (non-unique) indexes dropped first and built in the last
  transaction, as a fresh till's first sync builds them.

Client, HQ and PostgreSQL share this machine's CPUs: the figures say what one box
carries, not what each part could alone. Results and how to read them:
benchmarks/README.md and docs/scaling.md (section 6).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from common import (
    HQ_PG_SETTINGS,
    HQProcess,
    machine_note,
    member_count,
    print_table,
    registered_till,
)
from sqlalchemy import text

from pos_app.hq import admin
from pos_app.hq.database import HQDatabase
from pos_app.services import members
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.sync import HQClient, SyncClient, SyncProgress, load_sync_config
from pos_app.services.sync.snapshot import LOAD_CACHE_KIB, MEMBERS_PER_TRANSACTION
from pos_app.store.database import PRAGMAS, TillDatabase
from pos_app.store.snapshot import SQL_SECONDARY_INDEXES
from tests.support.hqdata import (
    Chain,
    ChainSpec,
    generate_chain,
    libpq_url,
    member_id,
    phone,
    region_code,
    region_of_store,
    store_code,
)
from tests.support.pgcluster import PgCluster

STORE = store_code(1)  # store 1 is in region 1
REGION = region_code(1)
TABLES = ("members", "point_lots", "ledger_entries")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the wire: bytes and the time spent waiting for HQ ---------------------------------------


class _CountedStream(httpx.SyncByteStream):
    """A response body that counts its bytes and the time its reader waited for them."""

    def __init__(self, stream: httpx.SyncByteStream, wire: CountingTransport) -> None:
        self._stream = stream
        self._wire = wire

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        while True:
            began = time.perf_counter()
            chunk = next(chunks, None)
            self._wire.waiting += time.perf_counter() - began
            if chunk is None:
                return
            self._wire.bytes += len(chunk)
            yield chunk

    def close(self) -> None:
        self._stream.close()


class CountingTransport(httpx.HTTPTransport):
    """httpx's transport, counting bytes received (compressed, as on the wire) and the
    seconds the caller waited for HQ (the answer's head, then each chunk of its body)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.waiting = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        began = time.perf_counter()
        response = super().handle_request(request)
        self.waiting += time.perf_counter() - began
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CountedStream(response.stream, self)
        return response


# -- the measured side: a new till's first sync ---------------------------------------------


@dataclass
class FirstSync:
    """One new till's first sync."""

    seconds: float
    members: int
    wire_bytes: int
    waiting: float
    pages: int
    stream_wait: float
    cpu: float


def first_sync(ctx: TillContext) -> FirstSync:
    """Run the till's sync round (snapshot, then pull) as its worker does, until ready."""
    config = load_sync_config(ctx, env={})
    assert config is not None
    wire = CountingTransport()
    began, cpu = time.perf_counter(), time.process_time()
    stream_wait = [0.0]

    def progress(p: SyncProgress) -> None:
        if p.members_total:
            stream_wait[0] = p.stream_wait
            _say(
                f"    {p.members:>10,} / {p.members_total:,} members at {time.perf_counter() - began:6.1f} s"
            )

    with HQClient.from_config(config, wire) as client:
        syncer = SyncClient(
            ctx,
            client,
            push_batch=config.push_batch,
            pull_page=config.pull_page,
            on_progress=progress,
        )
        result = syncer.sync_once()
    seconds = time.perf_counter() - began
    if not result.pull.cursor or result.pull.problems or result.pull.mismatches:
        raise RuntimeError(f"the first sync did not finish cleanly: {result.pull}")
    return FirstSync(
        seconds,
        result.pull.snapshot_members,
        wire.bytes,
        wire.waiting,
        result.pull.pages,
        stream_wait[0],
        time.process_time() - cpu,
    )


def download_only(hq_url: str, token: str) -> tuple[float, int, int]:
    """(seconds, bytes on the wire, lines) of the snapshot stream read through the till's
    client, decompressed and split into lines, nothing applied."""
    wire = CountingTransport()
    with HQClient(hq_url, token, transport=wire, timeout=300) as client:
        began = time.perf_counter()
        lines = sum(1 for _ in client.snapshot())
        return time.perf_counter() - began, wire.bytes, lines


def check_ready(ctx: TillContext, chain: Chain, held: int, rng: random.Random) -> list[str]:
    """Look members up at the till as a cashier does; what was checked."""
    spec = chain.spec

    def region_of(i: int) -> int:
        return region_of_store(i % spec.stores + 1, spec.regions)

    ours = [i for i in (rng.randint(1, spec.members) for _ in range(10_000)) if region_of(i) == 1]
    checked = []
    for i in ours[:3]:
        hit = members.find_by_phone(ctx, phone(i))
        if hit.id != member_id(i) or hit.balance != chain.balance(i):
            raise RuntimeError(f"member {i}: {hit} at the till, {chain.balance(i)} points at HQ")
        checked.append(f"{hit.id} {hit.balance} pts")
    other = next(i for i in range(1, spec.members + 1) if region_of(i) != 1)
    try:
        members.find_by_phone(ctx, phone(other))
    except UnknownMember:
        checked.append(f"{member_id(other)} (region {region_of(other)}) not held")
    else:
        raise RuntimeError(f"member {other} of another region is held at the till")
    with ctx.db.read() as session:
        count = session.execute(text("SELECT count(*) FROM members")).scalar_one()
    if count != held:
        raise RuntimeError(f"the till holds {count:,} members, HQ's region {held:,}")
    return checked


# -- the baseline ------------------------------------------------------------------------------


def copy_out(conninfo: str) -> tuple[float, int, int, int]:
    """(seconds, bytes, member rows, lot rows) of the region's members and their open lots
    copied out of PostgreSQL in one REPEATABLE READ transaction."""
    queries = (
        "COPY (SELECT m.* FROM member_scopes sc JOIN members m ON m.id = sc.member_id "
        f"WHERE sc.region = '{REGION}' ORDER BY sc.member_id) TO STDOUT",
        "COPY (SELECT l.* FROM member_scopes sc JOIN lots l ON l.member_id = sc.member_id "
        f"WHERE sc.region = '{REGION}' AND l.remaining > 0) TO STDOUT",
    )
    size, rows = 0, []
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        began = time.perf_counter()
        for query in queries:
            lines = 0
            with conn.cursor().copy(query.encode()) as cp:
                for chunk in cp:
                    size += len(chunk)
                    lines += bytes(chunk).count(b"\n")
            rows.append(lines)
        conn.commit()
        return time.perf_counter() - began, size, rows[0], rows[1]


@dataclass
class TillRows:
    """The rows a first sync wrote, table by table (columns, rows in the till's order)."""

    columns: dict[str, list[str]]
    rows: dict[str, list[tuple[Any, ...]]]

    @classmethod
    def of(cls, db: TillDatabase) -> TillRows:
        """Read them out of a till's file."""
        conn = db.connect(readonly=True)
        columns, rows = {}, {}
        try:
            for table in TABLES:
                order = "rowid" if table == "members" else "member_id, rowid"
                cur = conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
                columns[table] = [d[0] for d in cur.description]
                rows[table] = cur.fetchall()
        finally:
            conn.close()
        return cls(columns, rows)

    def transactions(self, size: int) -> Iterator[dict[str, Sequence[tuple[Any, ...]]]]:
        """The rows in transactions of ``size`` members with their lots and entries."""
        member_rows = self.rows["members"]
        keys = {
            t: [r[self.columns[t].index("member_id")] for r in self.rows[t]] for t in TABLES[1:]
        }
        start = {t: 0 for t in TABLES[1:]}
        for first in range(0, len(member_rows), size):
            chunk = member_rows[first : first + size]
            last = chunk[-1][0]
            out: dict[str, Sequence[tuple[Any, ...]]] = {"members": chunk}
            for table in TABLES[1:]:
                end = bisect.bisect_right(keys[table], last, lo=start[table])
                out[table] = self.rows[table][start[table] : end]
                start[table] = end
            yield out


def executemany_in(rows: TillRows, path: Path, *, indexes_after: bool = False) -> float:
    """Seconds to write ``rows`` into a freshly migrated till file with plain executemany,
    as durably as the till, in transactions of the till's size (``indexes_after``: the
    secondary indexes a fresh till's first sync builds after its load are dropped first
    and built again in the last transaction, as the till does)."""
    db = TillDatabase(path)  # migrated, encrypted, keys in the key store: as a till makes one
    db.close()
    conn = db.connect(isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.execute(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
        inserts = {
            t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
            for t, c in rows.columns.items()
        }
        batches = list(rows.transactions(MEMBERS_PER_TRANSACTION))
        deferred = conn.execute(SQL_SECONDARY_INDEXES).fetchall() if indexes_after else []
        for name, _sql in deferred:
            conn.execute(f'DROP INDEX "{name}"')
        began = time.perf_counter()
        for n, batch in enumerate(batches, 1):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for table in TABLES:
                conn.executemany(inserts[table], batch[table])
            if n == len(batches):
                for _name, sql in deferred:
                    conn.execute(sql)
            conn.execute("COMMIT")
        return time.perf_counter() - began
    finally:
        conn.close()


# -- main ----------------------------------------------------------------------------------------


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass
class Bench:
    """The running chain, HQ and what the rounds measured."""

    chain: Chain
    held: int
    hq: HQProcess
    admin_token: str
    conninfo: str
    folder: Path
    rng: random.Random
    measured: list[tuple[FirstSync, tuple[float, int, int]]] = field(default_factory=list)
    baseline: list[tuple[tuple[float, int, int, int], float, float]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    source: TillRows | None = None

    def till(self, n: int) -> None:
        """Round ``n``'s new till: its first sync, checked, and the stream read alone."""
        path = self.folder / "tills" / f"till-{n:02d}.sqlite"
        ctx = registered_till(self.hq.url, self.admin_token, path, STORE, f"{n:02d}")
        _say(f"  round {n}: a new till of {STORE} ({REGION}) syncs")
        synced = first_sync(ctx)
        self.checks = check_ready(ctx, self.chain, self.held, self.rng)
        config = load_sync_config(ctx, env={})
        assert config is not None
        alone = download_only(self.hq.url, config.token)
        if self.source is None:
            self.source = TillRows.of(ctx.db)
        ctx.db.close()
        _remove(path)
        self.measured.append((synced, alone))
        _say(
            f"  round {n}: ready in {synced.seconds:.1f} s; the stream alone {alone[0]:.1f} s; "
            f"{', '.join(self.checks)}"
        )

    def plain(self, n: int) -> None:
        """Round ``n``'s baseline: COPY out, executemany in."""
        assert self.source is not None  # round 1 runs the till first
        out = copy_out(self.conninfo)
        path = self.folder / "tills" / f"plain-{n:02d}.sqlite"
        inserted = executemany_in(self.source, path)
        _remove(path)
        after = executemany_in(self.source, path, indexes_after=True)
        _remove(path)
        self.baseline.append((out, inserted, after))
        _say(
            f"  round {n}: COPY out {out[0]:.1f} s, executemany {inserted:.1f} s, "
            f"with the secondary indexes built after {after:.1f} s"
        )


def start_chain(args: argparse.Namespace, cluster: PgCluster) -> tuple[str, str, Chain, int]:
    """(HQ's URL, an admin token, the chain, members of region R001) on a migrated HQ."""
    url = cluster.create_database("bench")
    db = HQDatabase(url)
    db.migrate()
    admin_token = admin.create_admin(db, "bench", _now()).token
    db.close()
    began = time.perf_counter()
    chain = generate_chain(
        url, ChainSpec(members=args.members, stores=args.stores, regions=args.regions)
    )
    _say(
        f"chain: {args.members:,} members, {args.stores} stores in {args.regions} regions "
        f"generated in {time.perf_counter() - began:.0f} s (not measured: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in chain.seconds.items())
        + ")"
    )
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        began = time.perf_counter()
        conn.execute(b"VACUUM")  # as a settled HQ is: autovacuum would run during the sync
        _say(f"VACUUM in {time.perf_counter() - began:.0f} s (not measured)")
        row = conn.execute(
            "SELECT count(*) FROM member_scopes WHERE region = %s", (REGION,)
        ).fetchone()
    assert row is not None
    return url, admin_token, chain, int(row[0])


def main() -> None:
    """Generate the chain, run the rounds (alternating which side goes first), print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=member_count, default=10_000_000)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="pos-hq serve --workers")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--stock-pg",
        action="store_true",
        help="PostgreSQL's stock memory and WAL sizes instead of HQ's recommended ones",
    )
    args = parser.parse_args()
    args.pg_settings = [] if args.stock_pg else list(HQ_PG_SETTINGS)
    with tempfile.TemporaryDirectory(prefix="bench-first-sync-") as tmp:
        folder = Path(tmp)
        # The tills' keys go to a key folder of this run (the till's file key store).
        os.environ["POS_KEYSTORE"] = "file"
        os.environ["POS_KEY_DIR"] = str(folder / "keys")
        with PgCluster(durable=True, settings=args.pg_settings) as cluster:
            url, admin_token, chain, held = start_chain(args, cluster)
            _say(f"region {REGION} holds {held:,} members; {machine_note()}")
            hq = HQProcess(url, args.workers).start()
            bench = Bench(
                chain, held, hq, admin_token, libpq_url(url), folder, random.Random(args.seed)
            )
            try:
                for n in range(1, args.rounds + 1):
                    first, second = (
                        (bench.till, bench.plain) if n % 2 else (bench.plain, bench.till)
                    )
                    first(n)
                    second(n)
            finally:
                hq.stop()
    _report(args, bench)


def _report(args: argparse.Namespace, bench: Bench) -> None:
    med = statistics.median
    held, measured, baseline, source = bench.held, bench.measured, bench.baseline, bench.source
    ready = med(m.seconds for m, _ in measured)
    waiting = med(m.waiting for m, _ in measured)
    stream_wait = med(m.stream_wait for m, _ in measured)
    cpu = med(m.cpu for m, _ in measured)
    applying = med(m.seconds - m.stream_wait for m, _ in measured)
    wire = med(m.wire_bytes for m, _ in measured)
    alone = med(a[0] for _, a in measured)
    copy_s = med(b[0][0] for b in baseline)
    copy_bytes = med(b[0][1] for b in baseline)
    insert_s = med(b[1] for b in baseline)
    after_s = med(b[2] for b in baseline)
    plain = med(b[0][0] + b[1] for b in baseline)
    lots = baseline[0][0][3]
    rows = {t: len(r) for t, r in (source.rows.items() if source else ())}
    print()
    print(machine_note())
    print(
        f"PostgreSQL durable (fsync, synchronous_commit, full_page_writes on); chain of "
        f"{args.members:,} members, {args.stores} stores, {args.regions} regions; "
        f"pos-hq serve --workers {args.workers}; the till's file encrypted (SQLCipher), "
        f"synchronous=FULL; {len(measured)} round(s), medians"
    )
    print(f"PostgreSQL settings: {', '.join(args.pg_settings) or 'stock'}")
    print(
        f"a new till of {STORE} ({REGION}: {held:,} members, {lots:,} open lots); its file: "
        + ", ".join(f"{t} {n:,}" for t, n in rows.items())
    )
    print()
    print_table(
        ("figure", "measured", "baseline", "ratio"),
        [
            (
                "start to ready to sell, s (COPY out + executemany)",
                f"{ready:.1f}",
                f"{plain:.1f}",
                f"{ready / plain:.2f}x",
            ),
            (
                "members/s",
                f"{held / ready:,.0f}",
                f"{held / plain:,.0f}",
                f"{plain / ready:.2f}x",
            ),
            (
                "HQ -> till only, s (stream read alone / COPY out)",
                f"{alone:.1f}",
                f"{copy_s:.1f}",
                f"{alone / copy_s:.2f}x",
            ),
            (
                "bytes downloaded, MB (gzip NDJSON / COPY text)",
                f"{wire / 1e6:,.1f}",
                f"{copy_bytes / 1e6:,.1f}",
                f"{wire / copy_bytes:.2f}x",
            ),
            (
                "till applying, s (sync less writes waiting / executemany)",
                f"{applying:.1f}",
                f"{insert_s:.1f}",
                f"{applying / insert_s:.2f}x",
            ),
            (
                "till applying, s (/ executemany, indexes built after)",
                f"{applying:.1f}",
                f"{after_s:.1f}",
                f"{applying / after_s:.2f}x",
            ),
            ("till's CPU during the sync (its threads, not HQ's), s", f"{cpu:.1f}", "", ""),
            ("till's writes waiting for the stream reader, s", f"{stream_wait:.1f}", "", ""),
            ("till's reader waiting for HQ's bytes, s", f"{waiting:.1f}", "", ""),
        ],
    )
    print()
    print(f"target: ready to sell in < 60 s: {'met' if ready < 60 else 'NOT met'} ({ready:.1f} s)")
    print(f"checked at the till (members.find_by_phone): {'; '.join(bench.checks)}")


if __name__ == "__main__":
    main()
