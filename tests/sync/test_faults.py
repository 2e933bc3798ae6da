"""Seeded random scenarios over a hostile network; every invariant holds at the end.

Each seed runs sales, refunds, registrations (the same phones on several tills, so HQ
merges duplicates) and adjustments on three tills in two stores, while the network
drops requests and replies, duplicates and reorders them, tills go offline and die
mid-push, and HQ restarts. Then the network heals, every till syncs until nothing
moves, and :func:`tests.sync.harness.check_invariants` compares every ledger.

The two stores are two regions: a till holds its region's members and fetches the
others at the counter (the same phones registered in both regions are merged at HQ),
and the checks compare each till with its region's scope at HQ.

CI runs two seeds chosen for what they cover (21: five fault kinds, two till deaths,
three HQ restarts, two merges and two offline overspends, since tills push their audit
rows; 37: all six fault kinds, two deaths,
three restarts, four merges and an overspend). The scenario runs on a simulated clock, so
the seeds do the same whatever the date. A soak run takes more (39 of 40 seeds x 120
steps passed with scoped pull; seed 4 ends on HQ refusing a manager's -50 adjustment
queued at one till after another till's offline overspend left the member 40 points:
the balance floor, working as designed, which this harness counts as a failure; with
the audit rows pushed too, seeds 1-24 all pass)::

    POS_SYNC_SEEDS=1-40 POS_SYNC_STEPS=300 .venv/bin/pytest tests/sync/test_faults.py
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from tests.sync.harness import FaultPlan, build_chain, check_invariants, run_scenario

PHONES = [f"1390000{n:04d}" for n in range(1, 13)]
LAYOUT = [("001", "01"), ("001", "02"), ("002", "01")]


def _seeds() -> list[int]:
    text = os.environ.get("POS_SYNC_SEEDS", "21,37")
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


STEPS = int(os.environ.get("POS_SYNC_STEPS", "120"))


@pytest.mark.parametrize("seed", _seeds())
def test_random_scenario_converges(
    hq_url: str, sync_till_template: Path, tmp_path: Path, seed: int
) -> None:
    chain = build_chain(hq_url, sync_till_template, tmp_path, LAYOUT, seed, FaultPlan.hostile())
    try:
        report = run_scenario(chain.hq, chain.tills, seed, steps=STEPS, phones=PHONES)
        hq = check_invariants(hq_url, chain.tills)
    finally:
        chain.close()
    flags = Counter(f["kind"] for f in hq.flags)
    print(report, dict(flags))
    assert report.operations.get("sell", 0) > STEPS // 5
    assert hq.entries
    if "POS_SYNC_SEEDS" not in os.environ:  # the CI seeds were chosen for these
        assert len(report.faults) >= 4, report.faults
        assert report.kills >= 1
        assert report.hq_restarts >= 1
        assert flags["merge"] >= 1
        assert flags["overspend"] >= 1
