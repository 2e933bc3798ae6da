"""Spending (积分使用): hand-worked examples of the default spending limits.

Default: 100 points = 1 yuan; usable on orders >= 50.00 yuan; at most 20% of the order;
in units of 100 points; no stacking with coupons; gift cards cannot be paid with points;
offline allowance 2000 points.
"""

from __future__ import annotations

from typing import Any

import pytest

from pos_app.core.errors import SpendNotAllowed
from pos_app.core.quote import CouponInput, quote_basket
from pos_app.core.rules import RuleSet
from tests.core.core_support import PLAIN_DAY, item, member, rules_with


def test_60_yuan_order_20_percent_cap_binds(rules: RuleSet) -> None:
    # 60.00 yuan order, balance 100000:
    # 20% of 60.00 = 12.00 = 1200 points (100 points per yuan) -> max usable 1200.
    # Using them: cash = 60.00 - 12.00 = 48.00 -> earns 48 points (regular, plain day).
    rich = member(balance=100000)
    probe = quote_basket(rules, [item(6000)], member=rich, at=PLAIN_DAY)
    assert probe.max_usable_points == 1200
    assert probe.binding_limit is not None
    assert probe.binding_limit.code == "max_share"
    assert probe.binding_limit.params["cap_points"] == 1200
    q = quote_basket(rules, [item(6000)], member=rich, at=PLAIN_DAY, points_to_use=1200)
    assert q.points_used == 1200
    assert q.points_value_fen == 1200
    assert q.cash_due_fen == 4800
    assert q.cash_due_fen + q.points_value_fen == q.total_fen
    assert q.points_earned == 48


def test_40_yuan_order_below_minimum(rules: RuleSet) -> None:
    # 40.00 < 50.00 minimum: nothing usable although 20% would be 800 points.
    q = quote_basket(rules, [item(4000)], member=member(balance=100000), at=PLAIN_DAY)
    assert q.max_usable_points == 0
    assert q.binding_limit is not None
    assert q.binding_limit.code == "min_order"
    assert "¥50.00" in q.binding_limit.text()
    with pytest.raises(SpendNotAllowed, match=r"At most 0 points.*orders of ¥50\.00 or more"):
        quote_basket(
            rules, [item(4000)], member=member(balance=100000), at=PLAIN_DAY, points_to_use=100
        )


def test_exactly_50_yuan_is_enough(rules: RuleSet) -> None:
    # 50.00 >= 50.00: 20% = 10.00 = 1000 points.
    q = quote_basket(rules, [item(5000)], member=member(balance=100000), at=PLAIN_DAY)
    assert q.max_usable_points == 1000


def test_points_must_be_whole_units(rules: RuleSet) -> None:
    # 100.00 order: cap 2000 points; 1250 is not a multiple of 100 -> refused.
    with pytest.raises(SpendNotAllowed, match=r"multiples of 100; 1250 is not one"):
        quote_basket(
            rules, [item(10000)], member=member(balance=5000), at=PLAIN_DAY, points_to_use=1250
        )
    ok = quote_basket(
        rules, [item(10000)], member=member(balance=5000), at=PLAIN_DAY, points_to_use=1200
    )
    assert ok.points_value_fen == 1200  # 1200 points = 12.00


def test_cap_is_rounded_down_to_whole_units(rules: RuleSet) -> None:
    # 87.50 order: 20% = 17.50 = 1750 points -> rounded down to the unit: 1700.
    q = quote_basket(rules, [item(8750)], member=member(balance=100000), at=PLAIN_DAY)
    assert q.max_usable_points == 1700


def test_balance_binds(rules: RuleSet) -> None:
    # 100.00 order: share cap 2000; balance 750 -> 700 in whole units.
    q = quote_basket(rules, [item(10000)], member=member(balance=750), at=PLAIN_DAY)
    assert q.max_usable_points == 700
    assert q.binding_limit is not None
    assert q.binding_limit.code == "balance"
    with pytest.raises(SpendNotAllowed, match=r"At most 700 points.*The member has 750 points"):
        quote_basket(
            rules, [item(10000)], member=member(balance=750), at=PLAIN_DAY, points_to_use=800
        )


def test_negative_balance_can_spend_nothing(rules: RuleSet) -> None:
    q = quote_basket(rules, [item(10000)], member=member(balance=-300), at=PLAIN_DAY)
    assert q.max_usable_points == 0


def test_spending_more_than_allowed(rules: RuleSet) -> None:
    # 100.00 order, 20% = 2000 points; 2100 is refused and the message says why.
    with pytest.raises(SpendNotAllowed, match=r"At most 2000 points.*at most 20% of the order"):
        quote_basket(
            rules, [item(10000)], member=member(balance=9999), at=PLAIN_DAY, points_to_use=2100
        )


def test_points_without_member_refused(rules: RuleSet) -> None:
    with pytest.raises(SpendNotAllowed, match="identified member"):
        quote_basket(rules, [item(10000)], member=None, at=PLAIN_DAY, points_to_use=100)


def test_coupon_blocks_points_by_default(rules: RuleSet) -> None:
    # 100.00 less a 10.00 coupon = 90.00; stack_with_coupons is false -> 0 usable.
    coupon = CouponInput("C10", amount_off_fen=1000)
    q = quote_basket(
        rules, [item(10000)], member=member(balance=5000), at=PLAIN_DAY, coupons=[coupon]
    )
    assert q.coupon_fen == 1000
    assert q.total_fen == 9000
    assert q.max_usable_points == 0
    assert q.binding_limit is not None
    assert q.binding_limit.code == "coupon"
    # Earning is on the cash after the coupon: 90 points.
    assert q.points_earned == 90
    with pytest.raises(SpendNotAllowed, match="together with a coupon"):
        quote_basket(
            rules,
            [item(10000)],
            member=member(balance=5000),
            at=PLAIN_DAY,
            coupons=[coupon],
            points_to_use=100,
        )


def test_coupon_and_points_stack_when_allowed() -> None:
    def patch(doc: dict[str, Any]) -> None:
        doc["spending"]["stack_with_coupons"] = True

    rules = rules_with(patch)
    # 100.00 - 10.00 coupon = 90.00; 20% = 18.00 = 1800 points.
    # Using 1800: cash 72.00 -> 72 points.
    coupon = CouponInput("C10", amount_off_fen=1000)
    q = quote_basket(
        rules,
        [item(10000)],
        member=member(balance=5000),
        at=PLAIN_DAY,
        coupons=[coupon],
        points_to_use=1800,
    )
    assert q.max_usable_points == 1800
    assert q.cash_due_fen == 7200
    assert q.points_earned == 72


def test_coupons_are_split_pro_rata_and_skip_rewards(rules: RuleSet) -> None:
    # Lines 30.00 and 10.00 (+ a free reward line); 10% coupon of 40.00 = 4.00,
    # split 3:1 -> 3.00 and 1.00; the reward line gets none.
    q = quote_basket(
        rules,
        [item(3000), item(1000), item(500, is_reward=True)],
        member=member(),
        at=PLAIN_DAY,
        coupons=[CouponInput("P10", percent_off=10)],
    )
    assert [ln.coupon_fen for ln in q.lines] == [300, 100, 0]
    assert q.coupon_codes == ("P10",)
    # Earning: 27.00 + 9.00 = 36.00 -> 36 (the reward line never earns).
    assert q.points_earned == 36


def test_offline_spend_limit(rules: RuleSet) -> None:
    # HQ unreachable: the till passes the offline allowance (2000 points) as spend_limit.
    # 500.00 order: 20% = 10000 points, balance 50000, but offline -> 2000.
    allowance = rules.spending.offline_allowance_points
    assert allowance == 2000
    m = member(balance=50000, spend_limit=allowance)
    q = quote_basket(rules, [item(50000)], member=m, at=PLAIN_DAY)
    assert q.max_usable_points == 2000
    assert q.binding_limit is not None
    assert q.binding_limit.code == "offline"
    with pytest.raises(SpendNotAllowed, match="HQ cannot be reached: at most 2000"):
        quote_basket(rules, [item(50000)], member=m, at=PLAIN_DAY, points_to_use=2100)
    ok = quote_basket(rules, [item(50000)], member=m, at=PLAIN_DAY, points_to_use=2000)
    assert ok.cash_due_fen == 48000


def test_points_spread_over_lines_pro_rata(rules: RuleSet) -> None:
    # Lines 100.00 and 50.00; 20% of 150.00 = 30.00 = 3000 points, split 2:1.
    q = quote_basket(
        rules,
        [item(10000, sku="a"), item(5000, sku="b")],
        member=member(balance=5000),
        at=PLAIN_DAY,
        points_to_use=3000,
    )
    assert [ln.points_used for ln in q.lines] == [2000, 1000]
    assert [ln.points_value_fen for ln in q.lines] == [2000, 1000]
    assert [ln.cash_fen for ln in q.lines] == [8000, 4000]
    # Cash 120.00 -> 120 points, split 80/40 by cash.
    assert [ln.earn_points for ln in q.lines] == [80, 40]


def test_all_limits_are_listed(rules: RuleSet) -> None:
    m = member(balance=5000, spend_limit=2000)
    q = quote_basket(
        rules,
        [item(10000), item(5000, category="gift_card", name="礼品卡")],
        member=m,
        at=PLAIN_DAY,
        coupons=[CouponInput("C1", amount_off_fen=100)],
    )
    codes = [n.code for n in q.limits]
    assert codes == ["min_order", "max_share", "unit", "balance", "coupon", "offline", "excluded"]
    assert "礼品卡" in q.limits[-1].text()
