"""Does the pick list find the member? Last 4 digits against first 3 + last 4.

Usage::

    .venv/bin/python benchmarks/bench_pick.py [--members 1000000] [--tries 1000]

At a store with a million members about 100 share each phone ending, and the till's pick
list shows the 9 seen most recently. For ``--tries`` random members of the cached demo
database (read through a copy, which opening the till may migrate), this prints how often
the member is among the 9 shown when the cashier types the last 4 digits, and when they
type the first 3 and last 4 (``138*1234``), how many members then match, and what that
lookup costs (``services.members.find_by_last4`` with ``prefix``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from common import Stats, add_members_arg, machine_note, remove_working_copy, working_copy

from pos_app.services import members
from pos_app.services.context import open_till
from pos_app.services.demo import demo_phone

SHOWN = 9


def main() -> None:
    """Try random members both ways and print the figures."""
    parser = argparse.ArgumentParser(description="Pick-list hit rate, last 4 vs first 3 + 4.")
    add_members_arg(parser)
    parser.add_argument("--tries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    path = working_copy(args.members, "pick")
    ctx = open_till(path)
    rng = random.Random(args.seed)
    shown_last4 = shown_first3 = 0
    matches: list[int] = []
    spent: list[int] = []
    try:
        for _ in range(args.tries):
            phone = demo_phone(rng.randrange(args.members))
            member = members.find_by_phone(ctx, phone)
            hits = members.find_by_last4(ctx, phone[-4:], limit=SHOWN)
            shown_last4 += any(h.id == member.id for h in hits)
            start = time.perf_counter_ns()
            narrowed = members.find_by_last4(ctx, phone[-4:], limit=100, prefix=phone[:3])
            spent.append(time.perf_counter_ns() - start)
            matches.append(len(narrowed))
            shown_first3 += any(h.id == member.id for h in narrowed[:SHOWN])
    finally:
        ctx.db.close()
        remove_working_copy(path)
    took = Stats.of_ns(spent)
    print(f"database: {args.members:,} members; {machine_note()}")
    print(f"{args.tries:,} random members; the pick list shows {SHOWN}")
    print(
        f"  last 4 digits:          member shown {shown_last4:,} times ({shown_last4 / args.tries:.0%})"
    )
    print(
        f"  first 3 + last 4 digits: member shown {shown_first3:,} times "
        f"({shown_first3 / args.tries:.0%}); matches per lookup mean "
        f"{statistics.mean(matches):.2f}, max {max(matches)}"
    )
    print(f"  first 3 + last 4 lookup (service): p50 {took.p50:.0f} us, p99 {took.p99:.0f} us")


if __name__ == "__main__":
    main()
