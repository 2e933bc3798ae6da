"""Tier prices (会员等级价) from a real till to a real HQ (PostgreSQL): the till charges the
member's tier price, HQ's re-quote agrees, a refund gives back what was paid, and a till
that charged less than the tier pays is flagged."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update

from pos_app.core.quote import BasketLine
from pos_app.services import checkout, refunds
from pos_app.store.models import Member
from tests.sync.harness import HQServer, SimTill, check_invariants, iter_flags, read_hq

MANAGER_PIN = "9999"
# 2 x 茶: shelf ¥100.00, member price ¥90.00
TEA = BasketLine("TEA", "茶", "food", 2, 10_000, member_price_fen=9_000)


@pytest.fixture
def till(hq: HQServer, sync_till_template: Path, tmp_path: Path) -> Iterator[SimTill]:
    """A till of store 001 on HQ's rule set with tier prices (regular 95%, gold 90%)."""
    sim = SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(7))
    document = json.loads(sim.ctx.rules.to_json())
    document["version"] = "2027.02-tiers"
    document["perks"] = {"tier_price_percent": {"regular": 95, "gold": 90}}
    with hq.admin_client() as admin:
        admin.request("POST", "/v1/admin/rule-sets", json_body={"document": document})
    assert sim.sync()
    assert sim.ctx.rules.version == "2027.02-tiers"
    yield sim
    sim.close()


def _sell(till: SimTill, member: str, sale_id: str) -> checkout.SaleResult:
    due = checkout.quote(till.ctx, [TEA], member_id=member).cash_due_fen
    return checkout.complete_sale(
        till.ctx,
        sale_id=sale_id,
        lines=[TEA],
        member_id=member,
        tenders=[checkout.TenderInput("cash", due)],
        cashier_id=till.cashier.id,
    )


def _hq_sale(hq: HQServer, sale_id: str) -> tuple[bool, list[int]]:
    """(verified, unit prices of the lines) as HQ recorded the sale."""
    engine = create_engine(hq.url)
    try:
        with engine.connect() as conn:
            verified = conn.execute(
                text("SELECT verified FROM sales WHERE id = :s"), {"s": sale_id}
            ).scalar_one()
            prices = list(
                conn.execute(
                    text(
                        "SELECT unit_price_fen FROM sale_lines WHERE sale_id = :s ORDER BY line_no"
                    ),
                    {"s": sale_id},
                ).scalars()
            )
    finally:
        engine.dispose()
    return bool(verified), [int(p) for p in prices]


def _mismatches(hq: HQServer, sale_id: str) -> list[dict[str, Any]]:
    return [
        f for f in iter_flags(read_hq(hq.url), "requote_mismatch") if f["subject_id"] == sale_id
    ]


def test_a_tier_priced_sale_and_its_refund_agree_with_hq(hq: HQServer, till: SimTill) -> None:
    member = till.register("13900000071")
    assert member is not None
    sale = _sell(till, member, "a" * 32)
    assert sale.total_fen == 2 * 8_550  # ¥90.00 x 95%, the regular tier's price
    assert sale.quote["price_tier"] == "regular"
    assert sale.quote["tier_saving_fen"] == 2 * 1_450
    assert till.sync()
    assert _hq_sale(hq, sale.sale_id) == (True, [8_550])
    assert _mismatches(hq, sale.sale_id) == []

    view = refunds.find_sale(till.ctx, sale.receipt_no)
    done = refunds.refund(
        till.ctx,
        refund_id="b" * 32,
        receipt_no=sale.receipt_no,
        request={view.lines[0].id: 1},
        cashier_id=till.cashier.id,
        manager_id=till.manager.id,
        manager_pin=MANAGER_PIN,
        reason="tier price",
    )
    assert done.quote.cash_refund_fen == 8_550  # what one tea was paid, not the shelf price
    assert till.sync()
    state = check_invariants(hq.url, [till])
    assert not [f for f in state.flags if f["subject_id"] in (sale.sale_id, "b" * 32)]


def test_a_till_that_charged_less_than_the_tier_pays_is_flagged(
    hq: HQServer, till: SimTill
) -> None:
    member = till.register("13900000072")
    assert member is not None
    assert till.sync()
    with till.ctx.db.write() as s:  # the till wrongly believes the member is gold
        s.execute(update(Member).where(Member.id == member).values(tier="gold"))
    sale = _sell(till, member, "c" * 32)
    assert sale.total_fen == 2 * 8_100  # ¥90.00 x 90%: gold's price, not regular's
    assert till.sync()
    verified, prices = _hq_sale(hq, sale.sale_id)
    assert (verified, prices) == (False, [8_100])  # recorded as charged, not verified
    (flag,) = _mismatches(hq, sale.sale_id)
    assert flag["detail"]["total_fen"] == {"till": 16_200, "hq": 17_100}
    assert flag["detail"]["unit_price_fen"] == [{"line_no": 1, "till": 8_100, "hq": 8_550}]
