"""The HQ console's dashboard: its load time against plain SQL over the ledger, same run.

Generates a chain (``tests/support/hqdata.py``) in a private PostgreSQL, refreshes the
console's summaries as ``pos-hq run-jobs`` does (the first refresh over the whole ledger,
then an incremental one after more entries), and then times, for each period (day,
week, month):

* the dashboard's figures read from the summaries (``dashboard.figures``);
* the whole page as a browser gets it: ``GET /console/?period=…`` signed in, HTML rendered;
* the plain-SQL baseline computing the same figures straight from ``ledger_entries``,
  ``members`` and ``redemptions`` (``tests/support/console_sql.py``),

and checks both give the same figures. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_console.py --members 1M [--stores 1000] [--rounds 5]

Results and how they scale: benchmarks/README.md and docs/console.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, str(ROOT))

from common import machine_note, member_count  # noqa: E402

from pos_app.hq import admin  # noqa: E402
from pos_app.hq.app import create_app  # noqa: E402
from pos_app.hq.config import HQSettings  # noqa: E402
from pos_app.hq.console import auth, dashboard, summaries  # noqa: E402
from pos_app.hq.database import HQDatabase  # noqa: E402
from pos_app.hq.schemas import AdjustmentIn  # noqa: E402
from pos_app.hq.security import Principal  # noqa: E402
from tests.support.console_sql import console_figures, plain_figures  # noqa: E402
from tests.support.hqdata import ChainSpec, generate_chain, member_id  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from fastapi.testclient import TestClient

PASSWORD = "benchmark passphrase"


def timed(step: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    """Median milliseconds of ``rounds`` runs of ``step`` (after one warm-up), and its
    last result."""
    result = step()
    laps = []
    for _ in range(rounds):
        began = time.perf_counter()
        result = step()
        laps.append((time.perf_counter() - began) * 1000)
    return statistics.median(laps), result


def signed_in(client: TestClient) -> None:
    import re

    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post(
        "/console/login",
        data={"username": "bench", "password": PASSWORD, "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def more_entries(db: HQDatabase, now: dt.datetime, count: int) -> None:
    """``count`` HQ adjustments (what arrives between two jobs runs, in small)."""
    who = Principal("console", "bench")
    for i in range(count):
        body = AdjustmentIn(id=f"bench-{i}", member_id=member_id(i + 1), points=7, reason="bench")
        admin.adjust(db, who, body, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=member_count, default=1_000_000)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC)
    with PgCluster() as cluster:
        url = cluster.create_database("bench")
        db = HQDatabase(url)
        db.migrate()
        spec = ChainSpec(
            members=args.members, stores=args.stores, regions=max(1, args.stores // 50), now=now
        )
        began = time.perf_counter()
        chain = generate_chain(url, spec)
        print(
            f"chain: {args.members:,} members, {args.stores} stores, "
            f"{chain.rows['ledger_entries']:,} entries, {chain.rows['sales']:,} sales "
            f"in {time.perf_counter() - began:.0f} s",
            file=sys.stderr,
        )
        began = time.perf_counter()
        first = summaries.refresh(db, now)
        first_s = time.perf_counter() - began
        more_entries(db, now, 1000)
        began = time.perf_counter()
        again = summaries.refresh(db, now)
        again_s = time.perf_counter() - began
        auth.add_operator(db, "bench", PASSWORD, "viewer", now, actor="bench")
        app = create_app(db, HQSettings(clock=lambda: now))
        rows = []
        with TestClient(app) as client:
            signed_in(client)
            for period in dashboard.PERIODS:
                figures_ms, board = timed(
                    lambda p=period: dashboard.figures(db, now, p), args.rounds
                )
                page_ms, page = timed(
                    lambda p=period: client.get(f"/console/?period={p}"), args.rounds
                )
                assert page.status_code == 200
                plain_ms, plain = timed(
                    lambda p=period: plain_figures(db, now, p), args.baseline_rounds
                )
                assert console_figures(board) == plain, f"{period}: the figures disagree"
                rows.append((period, figures_ms, page_ms, plain_ms))
        db.close()
    print(machine_note())
    print(
        f"chain: {args.members:,} members, {args.stores} stores, "
        f"{chain.rows['ledger_entries']:,} ledger entries"
    )
    print(
        f"first refresh (whole ledger): {first.entries:,} entries in {first_s:.1f} s; "
        f"incremental refresh: {again.entries:,} entries in {again_s * 1000:.0f} ms "
        "(with the snapshot recount)"
    )
    print("period | figures from summaries (ms) | whole page (ms) | plain SQL (ms) | speed-up")
    for period, figures_ms, page_ms, plain_ms in rows:
        print(
            f"{period:6} | {figures_ms:27.1f} | {page_ms:15.1f} | {plain_ms:14.0f} | "
            f"{plain_ms / page_ms:7.0f}x"
        )
    print("every figure equal to the plain SQL's: yes")


if __name__ == "__main__":
    main()
