"""Every query of a till's pull, first-sync snapshot and member look-up uses an index: no
sequential scan of a member-sized table, checked with EXPLAIN on a chain of 1,000,000
members (the ``million`` fixture, shared with the push plans: members in ten regions'
scopes, their entries, lots, sales and coupons).

The queries are the ones HQ sends (recorded from the engine while the real functions
run), explained with their own parameters.
"""

from __future__ import annotations

import pytest

from pos_app.hq import pull, snapshot
from pos_app.hq.errors import NotFound
from pos_app.hq.security import Principal
from tests.hq.conftest import BigChain
from tests.hq.plans import member_sized_tables, recorded, sequential_scans, show_plans


def test_a_tills_pull_snapshot_and_lookup_use_indexes(million: BigChain) -> None:
    db, chain = million.db, million.chain
    with db.engine.connect() as conn:
        high = conn.exec_driver_sql(
            "SELECT value FROM counters WHERE name = 'change_seq'"
        ).scalar_one()
    till = Principal("till", "G00001-01", "G00001", "01", "R001")
    channel = Principal("channel", "mall")
    with recorded(db) as statements:
        for cursor in (0, chain.first_seq + (high - chain.first_seq) // 2, high - 400, high):
            pull.pull(db, till, cursor, 500)
        for cursor in (0, high - 400):
            pull.pull(db, channel, cursor, 500)
        lines = snapshot.snapshot_lines(db, till)
        assert sum(1 for _, _line in zip(range(50), lines, strict=False)) == 50
        lines.close()
        now = million.clock()
        snapshot.lookup_member(db, till, now=now, member_no=7_000_000_050)
        snapshot.lookup_member(db, till, now=now, member_id="gm0000000100")
        with pytest.raises(NotFound):  # the phone hash is nobody's
            snapshot.lookup_member(db, till, now=now, phone_hash="aa" * 32)
    show_plans(db, statements)
    tables = member_sized_tables(db)
    assert {"members", "member_scopes", "ledger_entries", "lots", "coupons"} <= set(tables)
    assert len(statements) > 15
    assert [scan[:400] for scan in sequential_scans(db, statements, tables)] == []
    # the check itself sees a scan when there is one
    probe = [("SELECT id FROM members WHERE name = %(n)s", {"n": "x"})]
    assert sequential_scans(db, probe, tables)
