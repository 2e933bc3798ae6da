"""How fast HQ takes the tills' ledgers in and hands them out, on real PostgreSQL.

Usage::

    .venv/bin/python benchmarks/bench_sync.py [--members 200] [--sales 2000]
        [--tills 200] [--pushes 5] [--time-limit 60]

It starts a private PostgreSQL (``tests.support.pgcluster``) and HQ as its own process
(``pos-hq serve`` on loopback), then measures:

* push: a till with ``--sales`` real sales (made with the till's own services) pushes
  its outbox through :class:`pos_app.services.sync.SyncClient` in batches of 500:
  ledger entries per second landed at HQ (each event in its own transaction, re-quoted,
  with its idempotency record);
* pull: a fresh till of another store pulls everything and applies it to its SQLite
  file: entries per second;
* the baseline: the same entry rows moved with plain psycopg ``COPY`` (into a table with
  the same columns and primary key, and out of HQ's table), and each ratio;
* latency: ``--tills`` tills push at once, each ``--pushes`` requests of one sale,
  from as many threads: p50/p99 milliseconds of a push and the requests per second,
  bounded by ``--time-limit`` seconds.

Figures are wall clock on whatever else the machine is doing; docs/scaling.md records
a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from common import HQProcess, machine_note, registered_till
from sqlalchemy import event, select

from pos_app.core.quote import BasketLine
from pos_app.hq import admin
from pos_app.hq.database import HQDatabase
from pos_app.services import checkout, members
from pos_app.services.context import TillContext, open_till
from pos_app.services.sync import HQClient, SyncClient
from pos_app.store.models import OutboxEvent

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, str(ROOT))
from tests.support.pgcluster import PgCluster  # noqa: E402


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- tills ----------------------------------------------------------------------------------


def fast_till(path: Path) -> TillContext:
    """A till whose commits skip fsync (only the data we generate goes through it)."""
    ctx = open_till(path)
    event.listen(ctx.db.engine, "connect", lambda conn, _r: conn.execute("PRAGMA synchronous=OFF"))
    ctx.db.engine.dispose()
    return ctx


def make_sales(ctx: TillContext, member_count: int, sales: int, rng: random.Random) -> None:
    """Register members and ring up sales (some paying with points) with the till's own
    services, so the outbox holds exactly what a real till would push."""
    ids = [members.register(ctx, phone=f"139{n:08d}", name="会员").id for n in range(member_count)]
    for n in range(sales):
        member_id = rng.choice(ids)
        lines = [
            BasketLine(
                f"SKU{rng.randint(1, 50)}",
                "商品",
                "food",
                rng.randint(1, 3),
                rng.randint(2, 60) * 500,
            )
            for _ in range(rng.randint(1, 3))
        ]
        q = checkout.quote(ctx, lines, member_id=member_id)
        unit = ctx.rules.spending.unit_points
        points = rng.choice((0, 0, q.max_usable_points // unit * unit))
        q = checkout.quote(ctx, lines, member_id=member_id, points_to_use=points)
        tenders = [checkout.TenderInput("cash", q.cash_due_fen)] if q.cash_due_fen else []
        checkout.complete_sale(
            ctx,
            sale_id=f"{n:08d}{rng.getrandbits(96):024x}",
            lines=lines,
            member_id=member_id,
            tenders=tenders,
            cashier_id="bench",
            points_to_use=points,
        )


def outbox_entries(ctx: TillContext) -> int:
    """Ledger entries the till's unsent outbox carries."""
    with ctx.db.read() as session:
        payloads = session.scalars(select(OutboxEvent.payload).where(OutboxEvent.sent_at.is_(None)))
        return sum(len(json.loads(p).get("entries") or ()) for p in payloads)


# -- the baseline ---------------------------------------------------------------------------


def copy_baseline(conninfo: str) -> tuple[int, float, float]:
    """(rows, seconds to COPY them out of HQ's ledger, seconds to COPY them into a plain
    table with the same columns and primary key)."""
    with psycopg.connect(conninfo) as conn:
        buffer = io.BytesIO()
        started = time.perf_counter()
        with conn.cursor().copy("COPY (SELECT * FROM ledger_entries) TO STDOUT") as cp:
            for chunk in cp:
                buffer.write(chunk)
        out_seconds = time.perf_counter() - started
        data = buffer.getvalue()
        rows = data.count(b"\n")
        conn.execute("CREATE TABLE bench_copy (LIKE ledger_entries INCLUDING DEFAULTS)")
        conn.execute("ALTER TABLE bench_copy ADD PRIMARY KEY (id)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy("COPY bench_copy FROM STDIN") as cp:
            cp.write(data)
        conn.commit()
        in_seconds = time.perf_counter() - started
    return rows, out_seconds, in_seconds


# -- many tills at once ---------------------------------------------------------------------


def sale_event(store: str, member_id: str, rng: random.Random, at: dt.datetime) -> dict[str, Any]:
    """One sale event as a till writes it (100.00 yuan, 100 points earned)."""
    sale_id = f"{rng.getrandbits(128):032x}"
    payload = {
        "sale": {
            "id": sale_id,
            "receipt_no": f"R{rng.getrandbits(40):012d}",
            "store_id": store,
            "till_id": "01",
            "cashier_id": "bench",
            "member_id": member_id,
            "created_at": at.isoformat(),
            "total_fen": 10_000,
            "points_used": 0,
            "points_earned": 100,
            "cash_due_fen": 10_000,
            "rule_set_version": "2026.11-default",
            "coupons": [],
        },
        "lines": [
            {
                "id": f"{rng.getrandbits(128):032x}",
                "line_no": 1,
                "sku": "BENCH",
                "category": "food",
                "quantity": 1,
                "unit_price_fen": 10_000,
                "line_discount_fen": 0,
                "is_reward": False,
            }
        ],
        "tenders": [{"method": "cash", "amount_fen": 10_000}],
        "entries": [
            {
                "id": f"{rng.getrandbits(128):032x}",
                "member_id": member_id,
                "kind": "earn",
                "points": 100,
                "created_at": at.isoformat(),
                "sale_id": sale_id,
                "refund_id": None,
                "rule_set_version": "2026.11-default",
                "actor_id": "bench",
                "reason": None,
            }
        ],
        "remote_bonuses": [],
    }
    return {
        "id": f"{rng.getrandbits(128):032x}",
        "kind": "sale",
        "payload": json.dumps(payload),
        "created_at": at.isoformat(),
    }


def concurrent_pushes(
    hq: HQProcess,
    admin_token: str,
    member_ids: list[str],
    tills: int,
    pushes: int,
    time_limit: float,
) -> tuple[list[float], float, dict[str, int]]:
    """(latencies in ms, wall seconds, failed requests by reason) of ``tills`` tills
    pushing at once."""
    with HQClient(hq.url, admin_token) as client:
        credentials = []
        for n in range(tills):
            store = f"L{n:03d}"
            client.request("POST", "/v1/admin/stores", json_body={"code": store, "name": store})
            credentials.append((store, client.register_till(admin_token, store, "01")["token"]))
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(tills + 1)
    deadline = [0.0]

    def till(index: int, store: str, token: str) -> None:
        rng = random.Random(index)
        with HQClient(hq.url, token, timeout=120) as client:
            client.request("GET", "/v1/me")  # connect before the start
            barrier.wait()
            for _ in range(pushes):
                if time.monotonic() > deadline[0]:
                    return
                body = [sale_event(store, rng.choice(member_ids), rng, _now())]
                started = time.perf_counter()
                try:
                    result = client.push(body, _now())["results"][0]
                    why = (
                        ""
                        if result["status"] == "applied"
                        else f"{result['status']}: {result.get('error')}"
                    )
                except Exception as exc:
                    why = f"{type(exc).__name__}: {exc}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if not why:
                        latencies.append(elapsed)
                    else:
                        failures[why[:120]] = failures.get(why[:120], 0) + 1

    threads = [
        threading.Thread(target=till, args=(i, store, token), daemon=True)
        for i, (store, token) in enumerate(credentials)
    ]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + time_limit  # before the barrier lets them go
    barrier.wait()
    started = time.monotonic()
    for t in threads:
        t.join()
    return latencies, time.monotonic() - started, failures


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description="HQ push/pull throughput and push latency.")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--sales", type=int, default=2000)
    parser.add_argument("--tills", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=5, help="requests per till (latency)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    figures: dict[str, Any] = {}
    with PgCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = cluster.create_database("bench")
        db = HQDatabase(url)
        db.migrate()
        admin_token = admin.create_admin(db, "bench", _now()).token
        for store in ("B01", "B02"):  # one region: B02's new till holds B01's members
            admin.create_store(db, store, store, _now(), region="B")
        db.close()
        hq = HQProcess(url).start()
        try:
            source = registered_till(
                hq.url, admin_token, folder / "till-B01.sqlite", "B01", opener=fast_till
            )
            t0 = time.perf_counter()
            make_sales(source, args.members, args.sales, rng)
            print(
                f"made {args.sales:,} sales for {args.members} members on a till in "
                f"{time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
            entries = outbox_entries(source)
            with HQClient(hq.url, _token(source)) as client:
                syncer = SyncClient(source, client, push_batch=500)
                syncer.verify_identity()
                started = time.perf_counter()
                pushed = syncer.push()
                push_seconds = time.perf_counter() - started
            assert pushed.refused is None, pushed.refused
            assert pushed.pending == 0, pushed
            figures["push"] = {
                "events": pushed.acknowledged,
                "entries": entries,
                "seconds": push_seconds,
            }
            member_ids = _member_ids(source)
            source.db.close()

            target = registered_till(
                hq.url, admin_token, folder / "till-B02.sqlite", "B02", opener=fast_till
            )
            with HQClient(hq.url, _token(target)) as client:
                syncer = SyncClient(target, client, pull_page=5000)
                syncer.verify_identity()
                started = time.perf_counter()
                pulled = syncer.pull()
                pull_seconds = time.perf_counter() - started
            target.db.close()
            figures["pull"] = {
                "changes": pulled.changes,
                "members": pulled.snapshot_members,  # a first sync: the region's snapshot
                "entries": pulled.applied.get("entry", 0),
                "pages": pulled.pages,
                "seconds": pull_seconds,
            }

            rows, out_s, in_s = copy_baseline(cluster.conninfo("bench"))
            figures["copy"] = {"rows": rows, "out_seconds": out_s, "in_seconds": in_s}

            latencies, wall, failed = concurrent_pushes(
                hq, admin_token, member_ids, args.tills, args.pushes, args.time_limit
            )
            cuts = (
                statistics.quantiles(latencies, n=100, method="inclusive")
                if len(latencies) > 1
                else [0.0] * 99
            )
            figures["latency"] = {
                "tills": args.tills,
                "requests": len(latencies),
                "failed": sum(failed.values()),
                "failures": failed,
                "seconds": wall,
                "p50_ms": cuts[49],
                "p99_ms": cuts[98],
                "max_ms": max(latencies, default=0.0),
            }
        finally:
            hq.stop()
    _print(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def _token(ctx: TillContext) -> str:
    from pos_app.services.sync import load_sync_config

    config = load_sync_config(ctx, env={})
    assert config is not None
    return config.token


def _member_ids(ctx: TillContext) -> list[str]:
    from pos_app.store.models import Member

    with ctx.db.read() as session:
        return list(session.scalars(select(Member.id)))


def _print(f: dict[str, Any]) -> None:
    push, pull, copy, lat = f["push"], f["pull"], f["copy"], f["latency"]
    push_rate = push["entries"] / push["seconds"]
    pull_rate = pull["entries"] / pull["seconds"]
    copy_in = copy["rows"] / copy["in_seconds"]
    copy_out = copy["rows"] / copy["out_seconds"]
    print()
    print(machine_note())
    print(f"{'measure':<34}{'rows':>10}{'seconds':>10}{'entries/s':>12}{'vs COPY':>10}")
    print(
        f"{'push (SyncClient -> HQ)':<34}{push['entries']:>10,}{push['seconds']:>10.2f}"
        f"{push_rate:>12,.0f}{push_rate / copy_in:>10.4f}"
    )
    print(f"{'  events acknowledged':<34}{push['events']:>10,}")
    print(
        f"{'pull (HQ -> till SQLite)':<34}{pull['entries']:>10,}{pull['seconds']:>10.2f}"
        f"{pull_rate:>12,.0f}{pull_rate / copy_out:>10.4f}"
    )
    print(f"{'  changes / pages':<34}{pull['changes']:>10,}{pull['pages']:>10}")
    print(f"{'  members from the snapshot':<34}{pull['members']:>10,}")
    print(
        f"{'COPY into a plain table':<34}{copy['rows']:>10,}{copy['in_seconds']:>10.3f}"
        f"{copy_in:>12,.0f}"
    )
    print(
        f"{'COPY out of ledger_entries':<34}{copy['rows']:>10,}{copy['out_seconds']:>10.3f}"
        f"{copy_out:>12,.0f}"
    )
    print()
    print(
        f"{lat['tills']} tills pushing at once: {lat['requests']:,} pushes in "
        f"{lat['seconds']:.1f} s ({lat['requests'] / max(lat['seconds'], 1e-9):,.0f}/s), "
        f"{lat['failed']} failed; latency p50 {lat['p50_ms']:.0f} ms, "
        f"p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
    )
    for why, n in lat["failures"].items():
        print(f"  failed {n} x {why}")


if __name__ == "__main__":
    main()
