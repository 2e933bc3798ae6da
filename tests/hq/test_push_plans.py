"""Every query HQ's push path sends uses an index at a chain's size: EXPLAIN of each
statement a batch of events runs, on a chain of 1,000,000 members, shows no sequential
scan of a member-sized table.

The chain is generated once per session with ``tests.support.hqdata`` (the ``million``
fixture: members with their registration bonus, sales, lots, spends; analysed). The
statements are the ones the real push sends (recorded from the engine, and the book's
bulk updates), explained with their own parameters on the same database.
"""

from __future__ import annotations

from pos_app.core.quote import BasketLine
from pos_app.hq import adjustments, admin, holds
from pos_app.hq import push as pushing
from pos_app.hq.config import HQSettings
from pos_app.hq.database import PHONE_KEY
from pos_app.hq.schemas import AdjustmentIn, HoldPostRequest, HoldRequest, PushRequest
from pos_app.hq.security import Principal
from tests.hq.conftest import BigChain
from tests.hq.plans import member_sized_tables, recorded, sequential_scans, show_plans
from tests.hq.support import MANAGER, FakeTill
from tests.support.hqdata import member_id


def test_every_query_of_a_push_uses_an_index_at_a_million_members(million: BigChain) -> None:
    db, clock = million.db, million.clock
    key = db.setting(PHONE_KEY)
    assert key is not None
    till = FakeTill("G00001", "01", bytes.fromhex(key), clock)
    who = Principal("till", "G00001-01", "G00001", "01", "R001")
    settings = HQSettings(clock=clock)
    buyer, other = member_id(4), member_id(12)  # both bought before
    third = member_id(200)  # registered at G00001: this till's region, for the adjustment
    adjustments.add_manager(db, "G00001", MANAGER, "店长", clock())
    till.know(buyer, million.chain.balance(4))
    till.know(other, million.chain.balance(12))
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
    show_plans(db, statements)
    tables = member_sized_tables(db)
    assert {"members", "ledger_entries", "lots", "sales"} <= set(tables)
    assert len(statements) > 15
    assert sequential_scans(db, statements, tables) == []
    # the check itself sees a scan when there is one
    probe = [("SELECT id FROM members WHERE name = %(n)s", {"n": "x"})]
    assert sequential_scans(db, probe, tables)
