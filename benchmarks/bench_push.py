"""HQ at a chain's size: push ingest and many tills at once, on durable PostgreSQL.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_push.py [--members 1M] [--events 30000] [--rounds 3]
        [--pushers 4] [--tills 200,500,1000] [--interval 10] [--duration 40] [--workers 2]

It starts a private PostgreSQL with PostgreSQL's durable defaults (fsync,
synchronous_commit and full_page_writes on), migrates HQ, generates a chain of
``--members`` members with ``tests.support.hqdata`` (registrations, sales, lots), starts
``pos-hq serve --workers N`` as its own process on loopback and measures:

* **push ingest**: ``--pushers`` tills push sale events (built as a till builds them, with
  ``pos_app.core.quote``: some pay part with points) in batches of 500 through
  ``POST /v1/push``: ledger entries applied per second. Beside it, in the same run and
  alternated round by round, the **baseline**: the same number of ledger-entry rows
  ``COPY``-ed into a table with ``ledger_entries``' columns, keys and indexes
  (``LIKE ledger_entries INCLUDING ALL``), committed durably.
* **many tills**: for each count in ``--tills``, that many tills each push one sale every
  ``--interval`` seconds (random phase) for ``--duration`` seconds, as asyncio HTTP
  clients: p50/p99/max latency, pushes per second, answers by status (a 503 is waited out
  as its ``Retry-After`` says, as the till does). Beside it, the **raw baseline**: the
  same pushes' rows (sale, line, entry, lot, idempotency record, the member's balance
  and the change counter under its lock) written with plain SQL, one transaction per
  push, at the same rate from the same number of asyncio tasks over a pool of
  connections as large as HQ's.

Client, HQ and PostgreSQL share this machine's CPUs: the figures say what one box
carries, not what each part could alone. Results and how to read them:
benchmarks/README.md and docs/scaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    HQ_PG_SETTINGS,
    HQProcess,
    machine_cpu_seconds,
    machine_note,
    member_count,
    postmaster_pid,
    tree_cpu_seconds,
)

from pos_app.core.quote import BasketLine, MemberContext, quote_basket  # noqa: E402
from pos_app.core.rules import RuleSet  # noqa: E402
from pos_app.hq import admin  # noqa: E402
from pos_app.hq.database import HQDatabase  # noqa: E402
from tests.support.hqdata import (  # noqa: E402
    Chain,
    ChainSpec,
    generate_chain,
    libpq_url,
    member_id,
    store_code,
)
from tests.support.pgcluster import PgCluster  # noqa: E402

BATCH = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hex() -> str:
    return uuid.uuid4().hex


# -- sale events, as a till writes them ----------------------------------------------------


@dataclass
class Buyers:
    """Members of the generated chain that bought before (no first-purchase bonus), each
    used once, with the balance HQ holds for them."""

    chain: Chain
    rng: random.Random
    pool: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        every = self.chain.spec.sale_every
        self.pool = list(range(every, self.chain.spec.members + 1, every))
        self.rng.shuffle(self.pool)

    def take(self) -> tuple[str, int, str]:
        """(member id, balance, tier) of a member not used yet."""
        i = self.pool.pop()
        return member_id(i), self.chain.balance(i), self.chain.tier(i)


def sale_event(
    rules: RuleSet,
    store: str,
    till: str,
    buyer: tuple[str, int, str],
    rng: random.Random,
) -> tuple[dict[str, Any], int]:
    """(a ``sale`` outbox event with its payload as JSON text, its ledger entries), quoted
    for ``buyer`` (member id, balance, tier) as the till that holds the member quotes."""
    member, balance, tier = buyer
    at = _now()
    lines = [
        BasketLine(
            f"SKU{rng.randint(1, 500)}", "商品", "food", rng.randint(1, 3), rng.randint(5, 90) * 100
        )
        for _ in range(rng.randint(1, 3))
    ]
    ctx = MemberContext(member_id=member, tier=tier, balance=balance, first_purchase=False)
    q = quote_basket(rules, lines, member=ctx, at=at)
    unit = rules.spending.unit_points
    points = unit if q.max_usable_points >= unit and rng.random() < 0.3 else 0
    if points:
        q = quote_basket(rules, lines, member=ctx, at=at, points_to_use=points)
    sale_id = _hex()

    def entry(kind: str, pts: int) -> dict[str, Any]:
        return {
            "id": _hex(),
            "member_id": member,
            "kind": kind,
            "points": pts,
            "created_at": at.isoformat(),
            "sale_id": sale_id,
            "refund_id": None,
            "rule_set_version": rules.version,
            "actor_id": "bench",
            "reason": None,
        }

    entries = ([entry("spend", -points)] if points else []) + (
        [entry("earn", q.points_earned)] if q.points_earned else []
    )
    payload = {
        "sale": {
            "id": sale_id,
            "receipt_no": f"R{rng.getrandbits(40):012d}",
            "store_id": store,
            "till_id": till,
            "cashier_id": "bench",
            "member_id": member,
            "created_at": at.isoformat(),
            "total_fen": q.total_fen,
            "points_used": points,
            "points_earned": q.points_earned,
            "cash_due_fen": q.cash_due_fen,
            "rule_set_version": rules.version,
            "coupons": [],
        },
        "lines": [
            {
                "id": _hex(),
                "line_no": n + 1,
                "sku": ln.sku,
                "category": ln.category,
                "quantity": ln.quantity,
                "unit_price_fen": ln.unit_price_fen,
                "line_discount_fen": 0,
                "is_reward": False,
            }
            for n, ln in enumerate(lines)
        ],
        "tenders": [{"method": "cash", "amount_fen": q.cash_due_fen}],
        "entries": entries,
        "remote_bonuses": [],
    }
    event = {
        "id": _hex(),
        "kind": "sale",
        "payload": json.dumps(payload),
        "created_at": at.isoformat(),
    }
    return event, len(entries)


# -- push ingest and its COPY baseline -----------------------------------------------------


def push_round(
    hq: HQProcess, tills: list[tuple[str, str, str]], batches: list[list[list[dict[str, Any]]]]
) -> tuple[float, int]:
    """(seconds, events applied) of each till pushing its batches at once."""
    applied = [0] * len(tills)
    failures: list[str] = []

    def run(n: int) -> None:
        _store, _till, token = tills[n]
        with httpx.Client(
            base_url=hq.url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        ) as client:
            for batch in batches[n]:
                while True:
                    response = client.post(
                        "/v1/push", json={"events": batch, "sent_at": _now().isoformat()}
                    )
                    if response.status_code == 503:
                        time.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    break
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    return
                for result in response.json()["results"]:
                    if result["status"] == "applied":
                        applied[n] += 1
                    else:
                        failures.append(f"{result['status']}: {result.get('error')}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(tills))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} pushes failed, e.g. {failures[:3]}")
    return seconds, sum(applied)


def copy_round(conninfo: str, rows: int, members: int, rng: random.Random) -> float:
    """Seconds to COPY ``rows`` ledger-entry rows into a table with ledger_entries'
    columns, keys and indexes, committed durably."""
    now = _now()
    buffer = io.StringIO()
    for _ in range(rows):
        m = member_id(rng.randint(1, members))
        buffer.write(
            f"{_hex()}\t{m}\t{m}\tearn\t{rng.randint(1, 500)}\t{now.isoformat()}\t{now.isoformat()}\t"
            f"store\tG00001\tG00001-01\tt\t{_hex()}\t\\N\t\\N\t2026.11-default\tbench\t\\N\t{rng.getrandbits(62)}\n"
        )
    data = buffer.getvalue()
    columns = (
        "id, member_id, member_ref, kind, points, created_at, received_at, source_channel, "
        "store_code, till_id, in_origin_ledger, event_id, sale_id, refund_id, "
        "rule_set_version, actor_id, reason, seq"
    )
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY bench_copy ({columns}) FROM STDIN".encode()) as cp:
            cp.write(data)
        conn.commit()
        return time.perf_counter() - started


# -- many tills --------------------------------------------------------------------------------


@dataclass
class Sweep:
    """Latencies and answers of one run of many tills."""

    tills: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def row(self, label: str) -> str:
        cuts = (
            statistics.quantiles(self.latencies, n=100, method="inclusive")
            if len(self.latencies) > 1
            else [0.0] * 99
        )
        ok = len(self.latencies)
        answers = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{label:<10}{self.tills:>7}{ok:>9,}{ok / max(self.seconds, 1e-9):>9.1f}"
            f"{cuts[49]:>9.1f}{cuts[98]:>9.1f}{max(self.latencies, default=0):>9.1f}   {answers}"
        )


async def many_tills(
    hq: HQProcess,
    tills: list[tuple[str, str, str]],
    buyers: Buyers,
    rules: RuleSet,
    interval: float,
    duration: float,
    rng: random.Random,
) -> Sweep:
    """Each till pushes one sale every ``interval`` s for ``duration`` s."""
    sweep = Sweep(len(tills))
    limits = httpx.Limits(
        max_connections=len(tills) + 10, max_keepalive_connections=len(tills) + 10
    )
    async with httpx.AsyncClient(base_url=hq.url, timeout=60, limits=limits) as client:
        started = time.monotonic()
        end = started + duration

        async def till(n: int) -> None:
            store, till_code, token = tills[n]
            headers = {"Authorization": f"Bearer {token}"}
            await asyncio.sleep(rng.random() * interval)
            while time.monotonic() < end:
                event, _entries = sale_event(rules, store, till_code, buyers.take(), rng)
                body = {"events": [event], "sent_at": _now().isoformat()}
                began = time.perf_counter()
                while True:
                    try:
                        response = await client.post("/v1/push", json=body, headers=headers)
                    except httpx.HTTPError as exc:
                        sweep.count(type(exc).__name__)
                        break
                    if response.status_code == 503:
                        sweep.count("503")
                        await asyncio.sleep(
                            float(response.headers.get("Retry-After", "1")) * (1 + rng.random() / 2)
                        )
                        continue
                    status = str(response.status_code)
                    if status == "200":
                        status = response.json()["results"][0]["status"]
                    sweep.count(status)
                    if status == "applied":
                        sweep.latencies.append((time.perf_counter() - began) * 1000)
                    break
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))

        await asyncio.gather(*(till(n) for n in range(len(tills))))
        sweep.seconds = time.monotonic() - started
    return sweep


RAW_SQL = {
    "lock": "SELECT value FROM counters WHERE name = 'change_seq' FOR UPDATE",
    "sale": "INSERT INTO sales (id, event_id, receipt_no, source_channel, store_code, till_id, cashier_id, member_id, member_ref, created_at, received_at, total_fen, cash_due_fen, points_used, points_earned, rule_set_version, coupons, tenders, hq_quote, verified) VALUES (%s,%s,%s,'store',%s,%s,'bench',%s,%s,%s,%s,%s,%s,0,%s,%s,'[]','[]','{}',true)",
    "line": "INSERT INTO sale_lines (id, sale_id, line_no, sku, category, quantity, unit_price_fen, line_discount_fen, is_reward, cash_fen, points_used, points_value_fen, earn_points) VALUES (%s,%s,1,'SKU','food',1,%s,0,false,%s,0,0,%s)",
    "entry": "INSERT INTO ledger_entries (id, member_id, member_ref, kind, points, created_at, received_at, source_channel, store_code, till_id, in_origin_ledger, event_id, sale_id, rule_set_version, seq) VALUES (%s,%s,%s,'earn',%s,%s,%s,'store',%s,%s,true,%s,%s,%s,%s)",
    "lot": "INSERT INTO lots (id, member_id, entry_id, points, remaining, earned_at, expires_on) VALUES (%s,%s,%s,%s,%s,%s,NULL)",
    "idem": "INSERT INTO idempotency_records (key, principal, kind, payload_hash, response, created_at) VALUES (%s,%s,'sale',%s,'{}',%s)",
    "member": "UPDATE members SET balance = balance + %s, seq = %s, updated_at = %s WHERE id = %s",
    "counter": "UPDATE counters SET value = %s WHERE name = 'change_seq'",
}


async def raw_tills(
    conninfo: str,
    tills: list[tuple[str, str, str]],
    buyers: Buyers,
    interval: float,
    duration: float,
    pool_size: int,
    rng: random.Random,
) -> Sweep:
    """The same pushes' rows written with plain SQL, one transaction each."""
    sweep = Sweep(len(tills))
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(pool_size):
        pool.put_nowait(await psycopg.AsyncConnection.connect(conninfo))
    started = time.monotonic()
    end = started + duration

    async def write(store: str, till_code: str, member: str, points: int) -> None:
        conn = await pool.get()
        try:
            now = _now()
            sale, entry, event = _hex(), _hex(), _hex()
            async with conn.transaction():
                cur = conn.cursor()
                await cur.execute(RAW_SQL["lock"])
                row = await cur.fetchone()
                assert row is not None
                seq = int(row[0]) + 2
                await cur.execute(
                    RAW_SQL["sale"],
                    (
                        sale,
                        event,
                        "R",
                        store,
                        f"{store}-{till_code}",
                        member,
                        member,
                        now,
                        now,
                        points * 100,
                        points * 100,
                        points,
                        "2026.11-default",
                    ),
                )
                await cur.execute(
                    RAW_SQL["line"], (_hex(), sale, points * 100, points * 100, points)
                )
                await cur.execute(
                    RAW_SQL["entry"],
                    (
                        entry,
                        member,
                        member,
                        points,
                        now,
                        now,
                        store,
                        f"{store}-{till_code}",
                        event,
                        sale,
                        "2026.11-default",
                        seq - 1,
                    ),
                )
                await cur.execute(
                    RAW_SQL["lot"], (f"{entry}.0", member, entry, points, points, now)
                )
                await cur.execute(
                    RAW_SQL["idem"], (event, f"till:{store}-{till_code}", _hex() + _hex(), now)
                )
                await cur.execute(RAW_SQL["member"], (points, seq, now, member))
                await cur.execute(RAW_SQL["counter"], (seq,))
        finally:
            pool.put_nowait(conn)

    async def till(n: int) -> None:
        store, till_code, _token = tills[n]
        await asyncio.sleep(rng.random() * interval)
        while time.monotonic() < end:
            member, _balance, _tier = buyers.take()
            began = time.perf_counter()
            try:
                await write(store, till_code, member, rng.randint(10, 300))
                sweep.count("applied")
                sweep.latencies.append((time.perf_counter() - began) * 1000)
            except psycopg.Error as exc:
                sweep.count(type(exc).__name__)
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))

    await asyncio.gather(*(till(n) for n in range(len(tills))))
    sweep.seconds = time.monotonic() - started
    while not pool.empty():
        await (pool.get_nowait()).close()
    return sweep


def statements_report(conninfo: str, entries: int) -> None:
    """Print pg_stat_statements' heaviest statements of the ingest rounds (the COPY
    baseline's included), per ledger entry pushed."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            b"SELECT calls, total_exec_time + total_plan_time, rows, wal_bytes, wal_fpi,"
            b" shared_blks_hit + shared_blks_read, shared_blks_read, left(regexp_replace(query, '\\s+', ' ', 'g'), 110)"
            b" FROM pg_stat_statements ORDER BY 2 DESC LIMIT 25"
        ).fetchall()
    print(f"PostgreSQL statements of the ingest rounds, per entry pushed ({entries:,} entries)")
    print(
        f"{'us/entry':>9}{'calls':>8}{'rows':>9}{'WAL B/e':>9}{'FPI/ke':>8}{'blks/e':>8}{'read/e':>8}  query"
    )
    for calls, ms, nrows, wal, fpi, blks, read, query in rows:
        print(
            f"{ms * 1000 / entries:>9.1f}{calls:>8}{nrows:>9}{int(wal) / entries:>9.0f}"
            f"{fpi * 1000 / entries:>8.0f}{blks / entries:>8.1f}{read / entries:>8.2f}  {query}"
        )


# -- main ------------------------------------------------------------------------------------


def register_tills(
    db: HQDatabase, stores: int, count: int, first: int = 0
) -> list[tuple[str, str, str]]:
    """``count`` tills (store, till code, token), spread over the chain's stores."""
    out = []
    for n in range(first, first + count):
        store = store_code(n % stores + 1)
        till = f"{n // stores + 1:02d}"
        credential = admin.register_till(db, store, till, _now())
        out.append((store, till, credential.token))
    return out


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=member_count, default=1_000_000)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--events", type=int, default=30_000, help="sale events pushed for ingest")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pushers", type=int, default=4, help="tills pushing backlogs at once")
    parser.add_argument("--tills", default="200,500,1000", help="counts of tills pushing live")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between a till's sales"
    )
    parser.add_argument("--duration", type=float, default=40.0, help="seconds each count runs")
    parser.add_argument("--workers", type=int, default=2, help="pos-hq serve --workers")
    parser.add_argument("--skip-tills", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more PostgreSQL server setting (repeatable), after HQ's recommended ones",
    )
    parser.add_argument(
        "--stock-pg",
        action="store_true",
        help="PostgreSQL's stock memory and WAL sizes instead of HQ's recommended ones",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="load pg_stat_statements and print where PostgreSQL spent the ingest rounds",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts = [int(n) for n in args.tills.split(",") if n]
    settings = [*(() if args.stock_pg else HQ_PG_SETTINGS), *args.pg_setting]
    if args.statements:
        settings += ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.max=1000"]
    with PgCluster(durable=True, settings=settings) as cluster:
        url = cluster.create_database("bench")
        conninfo = libpq_url(url)
        db = HQDatabase(url)
        db.migrate()
        began = time.perf_counter()
        chain = generate_chain(
            url,
            ChainSpec(members=args.members, stores=args.stores, regions=max(1, args.stores // 10)),
        )
        print(
            f"chain: {args.members:,} members, {args.stores} stores generated in {time.perf_counter() - began:.0f} s",
            file=sys.stderr,
        )
        with db.read() as s:
            from pos_app.hq.ledger import active_rules

            rules = active_rules(s)
        pushers = register_tills(db, args.stores, args.pushers)
        live = (
            register_tills(db, args.stores, max(counts, default=0), args.pushers)
            if not args.skip_tills
            else []
        )
        with psycopg.connect(conninfo) as conn:
            conn.execute(b"CREATE TABLE bench_copy (LIKE ledger_entries INCLUDING ALL)")
            if args.statements:
                conn.execute(b"CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.commit()
        db.close()
        buyers = Buyers(chain, rng)
        per_round = args.events // args.rounds
        rounds = []
        for _ in range(args.rounds):
            batches = []
            entries = 0
            for store, till, _tok in pushers:
                events = []
                for _ in range(per_round // args.pushers):
                    event, n = sale_event(rules, store, till, buyers.take(), rng)
                    events.append(event)
                    entries += n
                batches.append([events[i : i + BATCH] for i in range(0, len(events), BATCH)])
            rounds.append((batches, entries))
        hq = HQProcess(url, args.workers).start()
        figures: dict[str, Any] = {"push": [], "copy": [], "cpu": [], "client": [], "busy": []}
        server = postmaster_pid(cluster.datadir)
        assert hq.proc is not None
        if args.statements:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(b"SELECT pg_stat_statements_reset()")
        try:
            for batches, entries in rounds:
                hq_cpu, pg_cpu = tree_cpu_seconds(hq.proc.pid), tree_cpu_seconds(server)
                client_cpu, (busy0, every0) = time.process_time(), machine_cpu_seconds()
                seconds, applied = push_round(hq, pushers, batches)
                busy_after, every_after = machine_cpu_seconds()
                figures["cpu"].append(
                    (
                        entries,
                        tree_cpu_seconds(hq.proc.pid) - hq_cpu,
                        tree_cpu_seconds(server) - pg_cpu,
                    )
                )
                figures["client"].append(time.process_time() - client_cpu)
                figures["busy"].append((busy_after - busy0, every_after - every0))
                figures["push"].append((entries, applied, seconds))
                figures["copy"].append((entries, copy_round(conninfo, entries, args.members, rng)))
                print(
                    f"  round: pushed {entries:,} entries in {seconds:.2f} s; COPY in {figures['copy'][-1][1]:.3f} s",
                    file=sys.stderr,
                )
            if args.statements:
                statements_report(conninfo, sum(e for e, _a, _s in figures["push"]))
            sweeps = []
            for count in counts if not args.skip_tills else []:
                hq_sweep = asyncio.run(
                    many_tills(hq, live[:count], buyers, rules, args.interval, args.duration, rng)
                )
                raw_sweep = asyncio.run(
                    raw_tills(conninfo, live[:count], buyers, args.interval, args.duration, 20, rng)
                )
                sweeps.append((hq_sweep, raw_sweep))
                print(hq_sweep.row("HQ"), file=sys.stderr)
        finally:
            hq.stop()
    print()
    print(machine_note())
    print(
        f"PostgreSQL durable (fsync, synchronous_commit, full_page_writes on); chain of {args.members:,} members; pos-hq serve --workers {args.workers}"
    )
    print(f"PostgreSQL settings: {', '.join(settings) or 'stock'}")
    push_rates = [e / s for e, _a, s in figures["push"]]
    copy_rates = [e / s for e, s in figures["copy"]]
    print(f"{'push ingest':<34}{'rounds':>7}{'entries':>10}{'entries/s (median)':>22}")
    print(
        f"{'POST /v1/push, batches of 500':<34}{len(push_rates):>7}{sum(e for e, _a, _s in figures['push']):>10,}{statistics.median(push_rates):>22,.0f}"
    )
    print(
        f"{'COPY into ledger_entries-like':<34}{len(copy_rates):>7}{sum(e for e, _s in figures['copy']):>10,}{statistics.median(copy_rates):>22,.0f}"
    )
    print(
        f"ratio push / COPY: {statistics.median(push_rates) / statistics.median(copy_rates):.3f}  (per round: {', '.join(f'{p / c:.3f}' for p, c in zip(push_rates, copy_rates, strict=True))})"
    )
    entries = sum(e for e, _h, _p in figures["cpu"])
    hq_us = sum(h for _e, h, _p in figures["cpu"]) * 1e6 / entries
    pg_us = sum(p for _e, _h, p in figures["cpu"]) * 1e6 / entries
    print(
        f"CPU per entry pushed: HQ {hq_us:.0f} us + PostgreSQL {pg_us:.0f} us = {hq_us + pg_us:.0f} us"
        f" ({1e6 / (hq_us + pg_us):,.0f} entries per CPU-second; the wall rate also needs the"
        " CPUs free: the figure to read on a loaded machine)"
    )
    busy = sum(b for b, _a in figures["busy"]) / max(sum(a for _b, a in figures["busy"]), 1e-9)
    print(
        f"the pushing tills (this process): {sum(figures['client']) * 1e6 / entries:.0f} us of CPU"
        f" per entry; the machine's CPUs busy {busy:.0%} of the push rounds"
    )
    if sweeps:
        print()
        print(f"tills pushing one sale every {args.interval:.0f} s for {args.duration:.0f} s")
        print(
            f"{'':<10}{'tills':>7}{'pushes':>9}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   answers"
        )
        for hq_sweep, raw_sweep in sweeps:
            print(hq_sweep.row("HQ"))
            print(raw_sweep.row("raw SQL"))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
