"""The till process's memory does not grow with the number of members.

Usage::

    .venv/bin/python benchmarks/bench_memory.py [--members 10000 100000 1000000]

For each size the cached demo database is built once (see ``common.py``) and copied;
then a FRESH Python process opens the till on the copy, does 1,000 member lookups
(700 by full phone number, 300 by the last 4 digits, through the services) and 100
checkouts with a member (through :func:`pos_app.services.checkout.complete_sale`), then
900 more (so SQLite's page cache, a fixed ceiling per connection, is full on every size),
and reports its resident set size (``VmRSS`` from ``/proc/self/status``) after each step,
and its peak (``VmHWM``). The till never loads the member table: lookups are indexed
queries and SQLite's page cache is bounded per connection, so the figures should be
flat from 10k to 1M members.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from common import (
    ensure_demo_db,
    machine_note,
    member_count,
    print_table,
    remove_working_copy,
    working_copy,
)

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def status_kb(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (VmRSS, VmHWM...)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child(path: Path, members: int, seed: int) -> None:
    """Runs in a fresh interpreter: open, look up, check out; print RSS as JSON."""
    marks: dict[str, int] = {"start": status_kb("VmRSS")}
    from bench_checkout import plan_sales, quote_now

    from pos_app.services import checkout
    from pos_app.services import members as member_service
    from pos_app.services.context import open_till
    from pos_app.services.demo import demo_phone
    from pos_app.services.errors import UnknownMember
    from pos_app.store.types import new_id

    marks["imports"] = status_kb("VmRSS")
    ctx = open_till(path)
    _ = ctx.rules
    marks["open_till"] = status_kb("VmRSS")

    rng = random.Random(seed)
    started = time.perf_counter()
    found = 0
    for _ in range(700):
        phone = demo_phone(rng.randrange(members) if rng.random() < 0.9 else members + 1)
        try:
            member_service.find_by_phone(ctx, phone)
            found += 1
        except UnknownMember:
            pass
    for _ in range(300):
        found += len(member_service.find_by_last4(ctx, demo_phone(rng.randrange(members))[-4:]))
    lookup_s = time.perf_counter() - started
    marks["1000_lookups"] = status_kb("VmRSS")

    def sell(count: int) -> float:
        specs = plan_sales(ctx, members, count, rng)
        started = time.perf_counter()
        for spec in specs:
            q = quote_now(ctx, spec)
            checkout.complete_sale(
                ctx,
                sale_id=new_id(),
                lines=spec.lines,
                member_id=spec.member_id,
                tenders=[checkout.TenderInput("cash", q.cash_due_fen)],
                cashier_id="bench",
                points_to_use=q.points_used,
            )
        return time.perf_counter() - started

    checkout_s = sell(100)
    marks["100_checkouts"] = status_kb("VmRSS")
    # 900 more: SQLite's page cache (a fixed ceiling per connection) fills up on every
    # size, so what is left is what the member count itself costs.
    sell(900)
    marks["1000_checkouts"] = status_kb("VmRSS")
    marks["peak"] = status_kb("VmHWM")
    ctx.db.close()
    print(json.dumps({"marks": marks, "lookup_s": lookup_s, "checkout_s": checkout_s}))


def measure(members: int, seed: int) -> dict[str, object]:
    """Run :func:`child` for ``members`` in a fresh process on a fresh copy."""
    path = working_copy(members, "memory")
    command = [sys.executable, __file__, "--child", str(path)]
    command += ["--members", str(members), "--seed", str(seed)]
    try:
        out = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        remove_working_copy(path)
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Build or reuse the databases, measure each size in its own process, print."""
    parser = argparse.ArgumentParser(description="Till memory vs the number of members.")
    parser.add_argument(
        "--members",
        type=member_count,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="database sizes to measure (default 10k 100k 1M)",
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.members[0], args.seed)
        return
    for n in args.members:
        ensure_demo_db(n)
    print(machine_note())
    results = {n: measure(n, args.seed) for n in args.members}
    print()
    print("Resident memory of a fresh till process (MB, VmRSS) after each step")
    steps = ("imports", "open_till", "1000_lookups", "100_checkouts", "1000_checkouts", "peak")
    rows = []
    for n, res in results.items():
        marks = res["marks"]
        assert isinstance(marks, dict)
        rows.append(
            (
                f"{n:,}",
                *(f"{marks[s] / 1024:.1f}" for s in steps),
                f"{res['lookup_s']:.2f}",
                f"{res['checkout_s']:.2f}",
            )
        )
    print_table(
        (
            "members",
            "imports",
            "open_till",
            "+1000 lookups",
            "+100 checkouts",
            "+900 more",
            "peak (VmHWM)",
            "lookups s",
            "checkouts s",
        ),
        rows,
    )
    first, last = results[args.members[0]], results[args.members[-1]]
    grow = (last["marks"]["peak"] - first["marks"]["peak"]) / 1024  # type: ignore[index]
    ratio = args.members[-1] / args.members[0]
    print()
    print(
        f"peak RSS from {args.members[0]:,} to {args.members[-1]:,} members "
        f"({ratio:,.0f}x the members): {grow:+.1f} MB"
    )


if __name__ == "__main__":
    main()
