"""Refunds (退货): exact reversal, partial quantities, and spent earned points."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pos_app.core.errors import InvalidInput, RefundNotAllowed
from pos_app.core.quote import quote_basket
from pos_app.core.refunds import SoldLine, quote_refund
from pos_app.core.rules import RuleSet
from tests.core.core_support import MEMBER_DAY, PLAIN_DAY, item, member, rules_with, sold_lines


def _after(line: SoldLine, qty: int) -> SoldLine:
    return dataclasses.replace(line, refunded_qty=line.refunded_qty + qty)


def test_refund_one_line_of_points_and_cash_sale(rules: RuleSet) -> None:
    # Sale: A 100.00 + B 50.00 = 150.00, balance 5000, uses 20% = 3000 points (30.00),
    # split 2:1 -> A 2000 pts / cash 80.00, B 1000 pts / cash 40.00.
    # Earned: 120 points, split by cash 80:40. Balance after the sale: 5000-3000+120 = 2120.
    q = quote_basket(
        rules,
        [item(10000, sku="a"), item(5000, sku="b")],
        member=member(balance=5000),
        at=PLAIN_DAY,
        points_to_use=3000,
    )
    a, b = sold_lines(q, ["A", "B"])
    assert (b.cash_fen, b.points_used, b.points_value_fen, b.earn_points) == (4000, 1000, 1000, 40)
    balance = 5000 - 3000 + 120
    # Refund line B: cash 40.00 back, its 1000 points given back, its 40 points taken back.
    r = quote_refund(rules, [a, b], {"B": 1}, balance=balance)
    assert r.cash_refund_fen == r.gross_cash_fen == 4000
    assert (r.points_restored, r.points_reversed) == (1000, 40)
    assert r.balance_after == 2120 + 1000 - 40 == 3080
    assert (r.shortfall_points, r.cash_deducted_fen, r.debt_points, r.flagged) == (0, 0, 0, False)
    assert r.lines[0].points_value_fen == 1000
    # Refund line A too: 80.00 cash, 2000 back, 80 taken: 3080 + 2000 - 80 = 5000, the
    # balance before the sale.
    b = _after(b, 1)
    r2 = quote_refund(rules, [a, b], {"A": 1}, balance=r.balance_after)
    assert (r2.cash_refund_fen, r2.points_restored, r2.points_reversed) == (8000, 2000, 80)
    assert r2.balance_after == 5000
    # B cannot be refunded twice.
    with pytest.raises(RefundNotAllowed, match="Only 0 of 1 units"):
        quote_refund(rules, [a, b], {"B": 1}, balance=r2.balance_after)


def test_whole_sale_refund_in_one_step(rules: RuleSet) -> None:
    q = quote_basket(
        rules,
        [item(10000, sku="a"), item(5000, sku="b")],
        member=member(balance=5000),
        at=PLAIN_DAY,
        points_to_use=3000,
    )
    lines = sold_lines(q)
    r = quote_refund(rules, lines, {"L0": 1, "L1": 1}, balance=2120)
    assert (r.cash_refund_fen, r.points_restored, r.points_reversed) == (12000, 3000, 120)
    assert r.balance_after == 5000


def test_partial_quantities_add_up_to_whole_refund(rules: RuleSet) -> None:
    # 7 x 13.00 = 91.00; 20% = 18.20 -> 1800 points (whole units); cash 73.00 -> 73 points.
    q = quote_basket(
        rules, [item(1300, 7)], member=member(balance=5000), at=PLAIN_DAY, points_to_use=1800
    )
    (line,) = sold_lines(q)
    assert (line.cash_fen, line.points_used, line.earn_points) == (7300, 1800, 73)
    whole = quote_refund(rules, [line], {"L0": 7}, balance=10000)
    # Refund 2, then 3, then 2 units. Cumulative rounding (reversed up, restored down):
    #   after 2: reversed ceil(73*2/7)=ceil(20.86)=21, restored floor(1800*2/7)=514,
    #            cash floor(7300*2/7)=2085
    #   after 5: reversed ceil(73*5/7)=ceil(52.14)=53 -> +32, restored floor(9000/7)=1285
    #            -> +771, cash floor(36500/7)=5214 -> +3129
    #   after 7: reversed 73 -> +20, restored 1800 -> +515, cash 7300 -> +2086
    steps = []
    for qty in (2, 3, 2):
        r = quote_refund(rules, [line], {"L0": qty}, balance=10000)
        steps.append((r.points_reversed, r.points_restored, r.cash_refund_fen))
        line = _after(line, qty)
    assert steps == [(21, 514, 2085), (32, 771, 3129), (20, 515, 2086)]
    assert sum(s[0] for s in steps) == whole.points_reversed == 73
    assert sum(s[1] for s in steps) == whole.points_restored == 1800
    assert sum(s[2] for s in steps) == whole.cash_refund_fen == 7300
    with pytest.raises(RefundNotAllowed, match="Only 0 of 7 units"):
        quote_refund(rules, [line], {"L0": 1}, balance=10000)


def test_unit_by_unit_rounding_never_mints(rules: RuleSet) -> None:
    # E = 100 earned, P = 200 spent, 3 units. One unit at a time:
    #   reversed: ceil(100/3)=34, ceil(200/3)=67 -> 33, 100 -> 33  (34 >= 33.3)
    #   restored: floor(200/3)=66, floor(400/3)=133 -> 67, 200 -> 67 (66 <= 66.7)
    line = SoldLine("L", 3, cash_fen=1000, points_used=200, points_value_fen=200, earn_points=100)
    got = []
    for _ in range(3):
        r = quote_refund(rules, [line], {"L": 1}, balance=1000)
        got.append((r.points_reversed, r.points_restored, r.cash_refund_fen))
        line = _after(line, 1)
    assert got == [(34, 66, 333), (33, 67, 333), (33, 67, 334)]


def test_deduct_cash_when_earned_points_were_spent(rules: RuleSet) -> None:
    # Silver member day 300.00 -> 900 points; the member then spent all of them (balance 0).
    q = quote_basket(rules, [item(30000)], member=member("silver"), at=MEMBER_DAY)
    lines = sold_lines(q)
    assert rules.refunds.when_earned_points_spent == "deduct_cash"
    r = quote_refund(rules, lines, {"L0": 1}, balance=0)
    # Shortfall 900 points = 9.00 at 100 points per yuan; cash back 300.00 - 9.00 = 291.00.
    assert r.shortfall_points == 900
    assert r.cash_deducted_fen == 900
    assert r.gross_cash_fen == 30000
    assert r.cash_refund_fen == 29100
    assert r.points_reversed == 0
    assert r.balance_after == 0
    assert (r.debt_points, r.flagged) == (0, False)


def test_expired_earned_points_are_not_taken_twice(rules: RuleSet) -> None:
    # Silver member day 300.00 -> 900 points in one lot. 600 of them expired unspent (the
    # expiry run took them: balance 1000 -> 400 of other points + 300 left of the lot).
    q = quote_basket(rules, [item(30000)], member=member("silver"), at=MEMBER_DAY)
    lines = sold_lines(q)
    r = quote_refund(rules, lines, {"L0": 1}, balance=700, reversible_points=900 - 600)
    # Only the 300 not yet expired are taken back; the 600 are reported, not taken again.
    assert (r.points_reversed, r.expired_points) == (300, 600)
    assert r.balance_after == 400
    assert (r.shortfall_points, r.cash_deducted_fen, r.cash_refund_fen) == (0, 0, 30000)


def test_expired_points_across_partial_refunds(rules: RuleSet) -> None:
    # 3 units earning 90 points. Unit 1 is refunded (30 back), then the rest of the lot
    # (60) expires, then units 2 and 3 are refunded: nothing more is taken back.
    line = SoldLine("L", 3, cash_fen=9000, points_used=0, points_value_fen=0, earn_points=90)
    r1 = quote_refund(rules, [line], {"L": 1}, balance=1000, reversible_points=90)
    assert (r1.points_reversed, r1.expired_points) == (30, 0)
    line = _after(line, 1)
    r2 = quote_refund(rules, [line], {"L": 2}, balance=910, reversible_points=90 - 30 - 60)
    assert (r2.points_reversed, r2.expired_points, r2.balance_after) == (0, 60, 910)
    # With no expiry the cap changes nothing.
    r3 = quote_refund(rules, [line], {"L": 2}, balance=910, reversible_points=60)
    assert (r3.points_reversed, r3.expired_points) == (60, 0)


def test_a_negative_cap_takes_nothing_back(rules: RuleSet) -> None:
    line = SoldLine("L", 1, cash_fen=1000, points_used=0, points_value_fen=0, earn_points=10)
    r = quote_refund(rules, [line], {"L": 1}, balance=50, reversible_points=-5)
    assert (r.points_reversed, r.expired_points, r.balance_after) == (0, 10, 50)


def test_deduct_cash_partial_shortfall(rules: RuleSet) -> None:
    # Same sale; the member still has 500 of the 900: take 500 back, deduct 400 pts = 4.00.
    q = quote_basket(rules, [item(30000)], member=member("silver"), at=MEMBER_DAY)
    r = quote_refund(rules, sold_lines(q), {"L0": 1}, balance=500)
    assert (r.points_reversed, r.shortfall_points, r.cash_deducted_fen) == (500, 400, 400)
    assert r.cash_refund_fen == 30000 - 400
    assert r.balance_after == 0


def test_deduct_cash_refused_when_cash_cannot_cover() -> None:
    # A line paid 5.00 in cash that earned 1000 points (e.g. a x100 promotion), all spent:
    # the shortfall is worth 10.00 > 5.00 cash to refund -> refused.
    line = SoldLine("L", 1, cash_fen=500, points_used=0, points_value_fen=0, earn_points=1000)
    rules = rules_with(lambda doc: None)
    with pytest.raises(RefundNotAllowed, match="already spent 1000 of the points"):
        quote_refund(rules, [line], {"L": 1}, balance=0)


def test_deducted_cash_is_rounded_up() -> None:
    def patch(doc: dict[str, Any]) -> None:
        doc["spending"].update(points_per_yuan=300, unit_points=3)

    rules = rules_with(patch)
    # 300 points per yuan: 10 points short are worth 10 x 100 / 300 = 3.33 fen -> 4 fen
    # (rounded against the member, so the shortfall is always fully paid for).
    line = SoldLine("L", 1, cash_fen=1000, points_used=0, points_value_fen=0, earn_points=10)
    r = quote_refund(rules, [line], {"L": 1}, balance=0)
    assert (r.shortfall_points, r.cash_deducted_fen, r.cash_refund_fen) == (10, 4, 996)


def test_restored_points_offset_the_shortfall(rules: RuleSet) -> None:
    # The sale used 3000 points and earned 120; the member now has 0: giving back 3000 and
    # taking back 120 leaves 2880 -- nothing is short.
    q = quote_basket(
        rules,
        [item(10000, sku="a"), item(5000, sku="b")],
        member=member(balance=5000),
        at=PLAIN_DAY,
        points_to_use=3000,
    )
    r = quote_refund(rules, sold_lines(q), {"L0": 1, "L1": 1}, balance=0)
    assert r.shortfall_points == 0
    assert r.balance_after == 2880
    assert r.cash_refund_fen == 12000


def _negative_rules(floor: int) -> RuleSet:
    def patch(doc: dict[str, Any]) -> None:
        doc["refunds"] = {"when_earned_points_spent": "negative_balance", "negative_floor": floor}

    return rules_with(patch)


def test_negative_balance_policy_down_to_floor() -> None:
    rules = _negative_rules(-500)
    q = quote_basket(rules, [item(30000)], member=member("silver"), at=MEMBER_DAY)
    lines = sold_lines(q)
    # 900 earned, member has 600 left: 600 - 900 = -300 >= -500: allowed, 300 owed.
    r = quote_refund(rules, lines, {"L0": 1}, balance=600)
    assert r.balance_after == -300
    assert r.points_reversed == 900
    assert (r.shortfall_points, r.debt_points) == (300, 300)
    assert r.flagged is True
    assert r.cash_refund_fen == 30000
    assert r.cash_deducted_fen == 0
    # Exactly at the floor: 400 - 900 = -500: allowed.
    assert quote_refund(rules, lines, {"L0": 1}, balance=400).balance_after == -500
    # Member has 300 left: 300 - 900 = -600 < -500: refused.
    with pytest.raises(RefundNotAllowed, match="balance to -600, below the allowed -500"):
        quote_refund(rules, lines, {"L0": 1}, balance=300)


def test_negative_balance_policy_with_zero_floor_refuses_any_debt() -> None:
    rules = _negative_rules(0)
    line = SoldLine("L", 1, cash_fen=10000, points_used=0, points_value_fen=0, earn_points=100)
    with pytest.raises(RefundNotAllowed, match="below the allowed 0"):
        quote_refund(rules, [line], {"L": 1}, balance=99)
    assert quote_refund(rules, [line], {"L": 1}, balance=100).balance_after == 0


def test_existing_debt_deepens_counts_as_shortfall() -> None:
    rules = _negative_rules(-1000)
    line = SoldLine("L", 1, cash_fen=10000, points_used=0, points_value_fen=0, earn_points=100)
    # Already -200: the whole 100 is short, new balance -300.
    r = quote_refund(rules, [line], {"L": 1}, balance=-200)
    assert (r.shortfall_points, r.debt_points, r.balance_after) == (100, 100, -300)


def test_sale_without_member_refunds_cash_only(rules: RuleSet) -> None:
    q = quote_basket(rules, [item(2500, 2)], member=None, at=PLAIN_DAY)
    r = quote_refund(rules, sold_lines(q), {"L0": 1}, balance=None)
    assert r.cash_refund_fen == 2500
    assert (r.points_reversed, r.points_restored, r.balance_after) == (0, 0, 0)


@pytest.mark.parametrize(
    ("request_", "balance", "error", "pattern"),
    [
        ({}, 0, InvalidInput, "at least one line"),
        ({"X": 1}, 0, InvalidInput, "Line X is not part of this sale"),
        ({"L": 0}, 0, InvalidInput, r"above zero \(got 0\)"),
        ({"L": -1}, 0, InvalidInput, r"above zero \(got -1\)"),
        ({"L": 4}, 0, RefundNotAllowed, "Only 3 of 3 units"),
        ({"L": 1}, None, InvalidInput, "points but no member"),
    ],
)
def test_bad_refund_requests(
    rules: RuleSet,
    request_: dict[str, int],
    balance: int | None,
    error: type[Exception],
    pattern: str,
) -> None:
    line = SoldLine("L", 3, cash_fen=3000, points_used=0, points_value_fen=0, earn_points=30)
    with pytest.raises(error, match=pattern):
        quote_refund(rules, [line], request_, balance=balance)
