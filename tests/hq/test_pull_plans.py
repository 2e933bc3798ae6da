"""Every query of a till's pull, first-sync snapshot and member look-up uses an index: no
sequential scan of a member-sized table, checked with EXPLAIN on 200,000 members.

The members, their scopes (50 regions), entries, lots and coupons are generated in
PostgreSQL with ``INSERT ... SELECT generate_series``; the queries are the ones HQ sends
(recorded from the engine while the real functions run), explained with their own
parameters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text

from pos_app.hq import pull, snapshot
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import NotFound
from pos_app.hq.security import Principal
from tests.hq.conftest import HQ

MEMBERS = 200_000
MEMBER_SIZED = ("members", "member_scopes", "ledger_entries", "lots", "lot_moves", "coupons")

GENERATE = [
    """INSERT INTO members (id, member_no, phone_hash, phone_last4, phone_masked, name, tier,
           tier_since, registered_at, registered_channel, registered_store, balance,
           received_at, updated_at, seq)
       SELECT 'g' || lpad(i::text, 8, '0'), 5000000000 + i,
              decode(md5(i::text) || md5(i::text || 'x'), 'hex'), lpad((i % 10000)::text, 4, '0'),
              '138****' || lpad((i % 10000)::text, 4, '0'), '', 'regular', now(), now(), 'store',
              CASE WHEN i % 50 = 0 THEN '001' ELSE 'r' || (i % 50) END, 100, now(), now(), i * 4
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO member_scopes (member_id, region, seq, reason, added_at)
       SELECT 'g' || lpad(i::text, 8, '0'), CASE WHEN i % 50 = 0 THEN '001' ELSE 'r' || (i % 50) END,
              i * 4 + 1, 'registered', now()
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO ledger_entries (id, member_id, member_ref, kind, points, created_at,
           received_at, source_channel, store_code, till_id, in_origin_ledger, seq)
       SELECT 'e' || i, 'g' || lpad(i::text, 8, '0'), 'g' || lpad(i::text, 8, '0'), 'bonus',
              100, now(), now(), 'store', 'r1', 'r1-01', true, i * 4 + 2
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO lots (id, member_id, entry_id, points, remaining, earned_at, expires_on)
       SELECT 'e' || i || '.0', 'g' || lpad(i::text, 8, '0'), 'e' || i, 100, 100, now(),
              current_date + 700
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO coupons (id, code, member_id, name, amount_off_fen, percent_off,
           min_order_fen, valid_from, valid_to, issued_at, source, seq)
       SELECT 'c' || i, 'C' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'g' || lpad(i::text, 8, '0') END,
              'coupon', 500, 0, 0, now(), now() + interval '30 days', now(), 'hq', i * 4 + 3
       FROM generate_series(1, :n, 10) AS i""",
    "UPDATE counters SET value = :n * 4 + 4 WHERE name = 'change_seq'",
]


@pytest.fixture
def big_hq(hq: HQ) -> HQ:
    with hq.db.engine.begin() as conn:
        for sql in GENERATE:
            conn.execute(text(sql), {"n": MEMBERS})
    with hq.db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return hq


@contextmanager
def recorded(db: HQDatabase) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements HQ sends while the block runs, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def sequential_scans(db: HQDatabase, statements: list[tuple[str, Any]]) -> list[str]:
    """``Seq Scan on <member-sized table>`` lines of the plans, with their query."""
    found = []
    with db.engine.connect() as conn:
        for statement, params in statements:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params))
            for table in MEMBER_SIZED:  # a partitioned table's partitions too (members_p03)
                if re.search(rf"Seq Scan on {table}(_p\d+)?\b", plan):
                    found.append(f"{table}: {statement[:200]}\n{plan[:1000]}")
    return found


def show_plans(db: HQDatabase, statements: list[tuple[str, Any]]) -> None:
    """Print each statement's plan with its timing (``POS_SHOW_PLANS=1``)."""
    with db.engine.connect() as conn:
        for statement, params in statements:
            rows = conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, params)
            print(statement[:200], "\n", "\n".join(row[0] for row in rows), "\n")


def test_a_tills_pull_snapshot_and_lookup_use_indexes(big_hq: HQ) -> None:
    db = big_hq.db
    high = MEMBERS * 4 + 4
    till = Principal("till", "001-01", "001", "01", "001")
    channel = Principal("channel", "mall")
    with recorded(db) as statements:
        for cursor in (0, high // 2, high - 400, high):
            page = pull.pull(db, till, cursor, 500)
            assert page["changes"] or cursor == high
        first = pull.pull(db, till, 0, 5000)
        assert sum(c["topic"] == "member_snapshot" for c in first["changes"]) > 1000
        for cursor in (0, high - 400):
            pull.pull(db, channel, cursor, 500)
        lines = snapshot.snapshot_lines(db, till)
        for _ in range(50):
            next(lines)
        lines.close()
        snapshot.lookup_member(db, till, now=big_hq.clock(), member_no=5_000_000_050)
        snapshot.lookup_member(db, till, now=big_hq.clock(), member_id="g00000100")
        with pytest.raises(NotFound):  # the phone hash is nobody's
            snapshot.lookup_member(db, till, now=big_hq.clock(), phone_hash="aa" * 32)
    if os.environ.get("POS_SHOW_PLANS"):
        show_plans(db, statements)
    assert len(statements) > 20
    assert [scan[:400] for scan in sequential_scans(db, statements)] == []
    # the check itself sees a scan when there is one
    assert sequential_scans(db, [("SELECT id FROM members WHERE name = %(n)s", {"n": "x"})])
