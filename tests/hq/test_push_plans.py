"""Every query HQ's push path sends uses an index at a chain's size: EXPLAIN of each
statement a batch of events runs, on a chain of 1,000,000 members, shows no sequential
scan of a member-sized table.

The chain is generated once per session with ``tests.support.hqdata`` (members with
their registration bonus, sales, lots, spends; analysed). The statements are the ones
the real push sends (recorded from the engine, and the book's bulk updates), explained
with their own parameters on the same database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, text

from pos_app.core.quote import BasketLine
from pos_app.hq import adjustments, admin, holds
from pos_app.hq import book as book_module
from pos_app.hq import push as pushing
from pos_app.hq.config import HQSettings
from pos_app.hq.database import PHONE_KEY, HQDatabase
from pos_app.hq.schemas import AdjustmentIn, HoldPostRequest, HoldRequest, PushRequest
from pos_app.hq.security import Principal
from tests.hq.support import MANAGER, Clock, FakeTill
from tests.support.hqdata import Chain, ChainSpec, generate_chain, member_id
from tests.support.pgcluster import PgCluster

MEMBERS = 1_000_000
BIG_TABLE_ROWS = 100_000  # a table at least this big is "member-sized"


@dataclass
class BigChain:
    """HQ on a generated chain."""

    db: HQDatabase
    chain: Chain
    clock: Clock


@pytest.fixture(scope="module")
def big_chain(pg_cluster: PgCluster) -> Iterator[BigChain]:
    url = pg_cluster.create_database("push_plans")
    db = HQDatabase(url)
    db.migrate()
    chain = generate_chain(url, ChainSpec(members=MEMBERS, stores=100, regions=10))
    now = dt.datetime.now(dt.UTC)
    admin.register_till(db, "G00001", "01", now)
    try:
        yield BigChain(db, chain, Clock(now))
    finally:
        db.close()
        pg_cluster.drop_database("push_plans")


@contextmanager
def recorded(db: HQDatabase) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT and UPDATE statements HQ sends while the block runs, with their
    parameters (the book's bulk updates included)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            seen.append((statement, params))

    real = book_module.Book._update_unnest

    def unnest(self: Any, table: Any, keys: Any, columns: Any, rows: Any) -> None:
        seen.append(
            book_module.update_unnest_statement(self.conn.dialect, table, keys, columns, rows)
        )
        real(self, table, keys, columns, rows)

    event.listen(db.engine, "before_cursor_execute", record)
    book_module.Book._update_unnest = unnest  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
        book_module.Book._update_unnest = real  # type: ignore[method-assign]


def member_sized_tables(db: HQDatabase) -> list[str]:
    """Tables holding at least BIG_TABLE_ROWS rows (planner statistics)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                "AND relnamespace = 'public'::regnamespace AND reltuples >= :n"
            ),
            {"n": BIG_TABLE_ROWS},
        )
        return sorted(row[0] for row in rows)


def sequential_scans(
    db: HQDatabase, statements: list[tuple[str, Any]], tables: list[str]
) -> list[str]:
    """``Seq Scan on <member-sized table>`` found in the statements' plans."""
    found = []
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for statement, params in statements:
            with raw.cursor() as cur:
                cur.execute("EXPLAIN " + statement, params)
                plan = "\n".join(row[0] for row in cur.fetchall())
            for table in tables:
                if re.search(rf"Seq Scan on {table}(_p\d+)?\b", plan):
                    found.append(f"{table}: {statement[:300]}\n{plan}")
        raw.rollback()
    return found


def test_every_query_of_a_push_uses_an_index_at_a_million_members(big_chain: BigChain) -> None:
    db, clock = big_chain.db, big_chain.clock
    key = db.setting(PHONE_KEY)
    assert key is not None
    till = FakeTill("G00001", "01", bytes.fromhex(key), clock)
    who = Principal("till", "G00001-01", "G00001", "01")
    settings = HQSettings(clock=clock)
    buyer, other = member_id(4), member_id(12)  # both bought before
    third = member_id(200)  # registered at G00001: this till's region, for the adjustment
    adjustments.add_manager(db, "G00001", MANAGER, "店长", clock())
    till.know(buyer, big_chain.chain.balance(4))
    till.know(other, big_chain.chain.balance(12))
    new_member, registered = till.register("13700001234", name="新会员")
    basket = [BasketLine("TEA", "茶", "food", 2, 3000)]
    sale = till.sale(buyer, basket, points=100)
    refund = till.refund(sale["payload"]["sale"]["id"], {0: 1})
    later = till.sale(other, basket)
    newcomer = till.sale(new_member, basket)
    events = [registered, sale, later, refund, newcomer, till.adjustment(third, 50)]
    with recorded(db) as statements:
        response = pushing.push(db, who, PushRequest.model_validate({"events": events}), settings)
        hold = holds.create_hold(
            db, who, HoldRequest(id="h" + "1" * 31, member_id=other, points=100), clock()
        )[0]
        holds.post_hold(db, who, hold.id, HoldPostRequest(sale_id="s" + "2" * 31), clock())
        admin.adjust(
            db,
            Principal("admin", "a1"),
            AdjustmentIn(id="adj" + "3" * 29, member_id=buyer, points=10, reason="goodwill"),
            clock(),
        )
    assert [r.status for r in response.results] == ["applied"] * len(events)
    tables = member_sized_tables(db)
    assert {"members", "ledger_entries", "lots", "sales"} <= set(tables)
    assert len(statements) > 15
    assert sequential_scans(db, statements, tables) == []
    # the check itself sees a scan when there is one
    probe = [("SELECT id FROM members WHERE name = %(n)s", {"n": "x"})]
    assert sequential_scans(db, probe, tables)
