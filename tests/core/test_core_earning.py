"""Earning (积分获取): hand-worked examples of every default earning rule.

Default rule set: 1 point per yuan of eligible cash, tier multipliers regular 1 /
silver 1.5 / gold 2, member day on the 18th x2, year-end sale 2026-12-20..31 x1.5,
birthday week x2, first purchase x5, promotion_combine "max", caps 20000 per order and
50000 per member per day, gift_card and deposit excluded from earning.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import pytest

from pos_app.core.quote import quote_basket, registration_bonus
from pos_app.core.rules import RuleSet
from tests.core.core_support import MEMBER_DAY, PLAIN_DAY, at, item, member, rules_with


def _codes(notes: Any) -> list[str]:
    return [n.code for n in notes]


# --- base rate ---------------------------------------------------------------------------


def test_one_point_per_yuan_of_cash_paid(rules: RuleSet) -> None:
    # 123.45 yuan paid in cash by a regular member on a plain day:
    # base = floor(12345 fen / 100) = 123 points; x1 (regular) = 123.
    q = quote_basket(rules, [item(12345)], member=member(), at=PLAIN_DAY)
    assert q.eligible_cash_fen == 12345
    assert q.base_points == 123
    assert q.points_earned == 123
    assert q.multiplier == 1
    assert q.lines[0].earn_points == 123


def test_points_part_and_gift_card_earn_nothing(rules: RuleSet) -> None:
    # food 100.00 + gift_card 200.00; total 300.00 >= 50.00 minimum.
    # Points cap = min(20% of 300.00 = 60.00, spendable base 100.00 (gift cards cannot be
    # paid with points)) = 60.00 = 6000 points.  Use 6000 points, all on the food line.
    # Food cash = 100.00 - 60.00 = 40.00; the gift card's 200.00 cash is excluded.
    # Eligible cash = 40.00 -> 40 points.
    q = quote_basket(
        rules,
        [item(10000, sku="food"), item(20000, category="gift_card", sku="gc", name="礼品卡")],
        member=member(balance=10000),
        at=PLAIN_DAY,
        points_to_use=6000,
    )
    assert q.max_usable_points == 6000
    food, card = q.lines
    assert (food.points_used, food.points_value_fen, food.cash_fen) == (6000, 6000, 4000)
    assert (card.points_used, card.cash_fen, card.earns, card.spendable) == (0, 20000, False, False)
    assert q.cash_due_fen == 4000 + 20000
    assert q.eligible_cash_fen == 4000
    assert q.points_earned == 40
    assert (food.earn_points, card.earn_points) == (40, 0)
    assert "excluded" in _codes(q.limits)


def test_deposit_is_excluded_from_earning(rules: RuleSet) -> None:
    # food 50.00 + deposit 30.00: eligible 50.00 -> 50 points.
    q = quote_basket(
        rules, [item(5000), item(3000, category="deposit")], member=member(), at=PLAIN_DAY
    )
    assert q.points_earned == 50


def test_reward_lines_never_earn_and_are_never_paid_with_points(rules: RuleSet) -> None:
    # food 100.00 + a reward line priced 20.00 (e.g. a mall gift with a cash part).
    # Total 120.00; points cap = min(20% of 120.00 = 24.00, spendable base 100.00) = 2400.
    # Use 2400: all on the food line -> food cash 76.00 -> 76 points; reward earns 0.
    q = quote_basket(
        rules,
        [item(10000), item(2000, is_reward=True, sku="gift", name="赠品")],
        member=member(balance=5000),
        at=PLAIN_DAY,
        points_to_use=2400,
    )
    food, reward = q.lines
    assert (reward.points_used, reward.earn_points, reward.earns) == (0, 0, False)
    assert food.cash_fen == 7600
    assert q.points_earned == 76
    # Rewards are not named as "cannot be paid with points": they are rewards.
    assert "excluded" not in _codes(q.limits)


def test_discounts_reduce_eligible_amount(rules: RuleSet) -> None:
    # 3 x 40.00 = 120.00 less a 20.55 line discount = 99.45 -> floor(99.45) = 99 points.
    q = quote_basket(rules, [item(4000, 3, discount_fen=2055)], member=member(), at=PLAIN_DAY)
    assert q.subtotal_fen == 12000
    assert q.line_discount_fen == 2055
    assert q.total_fen == 9945
    assert q.points_earned == 99


def test_no_member_earns_nothing(rules: RuleSet) -> None:
    q = quote_basket(rules, [item(30000)], member=None, at=MEMBER_DAY)
    assert q.points_earned == 0
    assert q.eligible_cash_fen == 0
    assert q.max_usable_points == 0
    assert q.binding_limit is not None
    assert q.binding_limit.code == "no_member"


# --- tier multipliers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "expected", "multiplier"),
    [
        ("regular", 200, Fraction(1)),  # 200 x 1   = 200
        ("silver", 300, Fraction(3, 2)),  # 200 x 1.5 = 300
        ("gold", 400, Fraction(2)),  # 200 x 2   = 400
    ],
)
def test_tier_multipliers(rules: RuleSet, tier: str, expected: int, multiplier: Fraction) -> None:
    q = quote_basket(rules, [item(20000)], member=member(tier), at=PLAIN_DAY)
    assert q.base_points == 200
    assert q.multiplier == multiplier
    assert q.points_earned == expected


def test_tier_multiplier_rounds_down(rules: RuleSet) -> None:
    # silver, 33.00 yuan: 33 x 1.5 = 49.5 -> 49 (a fraction of a point is never given).
    q = quote_basket(rules, [item(3300)], member=member("silver"), at=PLAIN_DAY)
    assert q.points_earned == 49


# --- member day and the combine modes ----------------------------------------------------


def test_silver_member_day_300_yuan(rules: RuleSet) -> None:
    # Member day (the 18th) x2, silver x1.5, combine "max":
    # 300 x 1.5 x 2 = 900; breakdown: base 300, tier +150 (-> 450), member day +450 (-> 900).
    q = quote_basket(rules, [item(30000)], member=member("silver"), at=MEMBER_DAY)
    assert q.member_day is True
    assert q.points_earned == 900
    assert q.multiplier == 3
    steps = [(n.code, n.params.get("base", n.params.get("extra"))) for n in q.earn_breakdown]
    assert steps == [("base", 300), ("tier", 150), ("member_day", 450)]
    texts = [n.text() for n in q.earn_breakdown]
    assert texts[1] == "银卡会员 x1.5: +150"
    assert texts[2] == "会员日 x2: +450"
    assert "Points earned by this sale: 900." in q.explain()


def test_member_day_is_judged_in_store_time(rules: RuleSet) -> None:
    # 2026-11-17 17:30 UTC is 2026-11-18 01:30 in Shanghai: member day.
    utc_evening = dt.datetime(2026, 11, 17, 17, 30, tzinfo=dt.UTC)
    q = quote_basket(rules, [item(10000)], member=member(), at=utc_evening)
    assert q.member_day is True
    assert q.points_earned == 200  # 100 x 2
    # 2026-11-18 16:30 UTC is 2026-11-19 00:30 in Shanghai: no longer member day.
    q = quote_basket(
        rules, [item(10000)], member=member(), at=dt.datetime(2026, 11, 18, 16, 30, tzinfo=dt.UTC)
    )
    assert q.member_day is False
    assert q.points_earned == 100


def _two_promos_rules(combine: str) -> RuleSet:
    def patch(doc: dict[str, Any]) -> None:
        doc["earning"]["promotion_combine"] = combine

    return rules_with(patch)


# A silver member born on 18 November, shopping on member day 2026-11-18: member day x2 and
# birthday week x2 both apply (the year-end sale and first purchase do not).
_BIRTHDAY_18_NOV = dt.date(1990, 11, 18)


@pytest.mark.parametrize(
    ("combine", "expected", "extras"),
    [
        # max: 1.5 x max(2, 2) = 3 -> 100 x 3 = 300; base 100, +50 tier, +150 member day.
        ("max", 300, [("base", 100), ("tier", 50), ("member_day", 150)]),
        # multiply: 1.5 x 2 x 2 = 6 -> 600; +50 (150), +150 (300), +300 (600).
        (
            "multiply",
            600,
            [("base", 100), ("tier", 50), ("member_day", 150), ("birthday_week", 300)],
        ),
        # add: 1.5 + (2-1) + (2-1) = 3.5 -> 350; +50 (150), +100 (250), +100 (350).
        ("add", 350, [("base", 100), ("tier", 50), ("member_day", 100), ("birthday_week", 100)]),
    ],
)
def test_promotion_combine_modes(
    combine: str, expected: int, extras: list[tuple[str, int]]
) -> None:
    rules = _two_promos_rules(combine)
    m = member("silver", birthday=_BIRTHDAY_18_NOV, birthday_gift_year=2026)
    q = quote_basket(rules, [item(10000)], member=m, at=MEMBER_DAY)
    assert q.points_earned == expected
    steps = [(n.code, n.params.get("base", n.params.get("extra"))) for n in q.earn_breakdown]
    assert steps == extras
    assert sum(v for _, v in steps) == expected
    assert ("combine_max" in _codes(q.notes)) == (combine == "max")


def test_max_mode_takes_the_best_promotion(rules: RuleSet) -> None:
    # First purchase x5 on member day x2, regular, "max": 100 x 1 x max(2, 5) = 500.
    m = member(first_purchase=True)
    q = quote_basket(rules, [item(10000)], member=m, at=MEMBER_DAY)
    assert q.points_earned == 500
    assert [n.code for n in q.earn_breakdown] == ["base", "first_purchase"]
    assert q.earn_breakdown[1].params["extra"] == 400
    note = next(n for n in q.notes if n.code == "combine_max")
    assert "会员日" in note.text()
    assert "首单" in note.text()


# --- other promotions --------------------------------------------------------------------


def test_first_purchase_five_times(rules: RuleSet) -> None:
    # Regular, first purchase, plain day: 88 x 5 = 440.
    q = quote_basket(rules, [item(8800)], member=member(first_purchase=True), at=PLAIN_DAY)
    assert q.points_earned == 440
    # The second purchase is back to x1.
    q = quote_basket(rules, [item(8800)], member=member(first_purchase=False), at=PLAIN_DAY)
    assert q.points_earned == 88


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(2026, 12, 19), 100),  # day before the sale: 100 x 1
        (at(2026, 12, 20, 0, 0), 150),  # first day (midnight, store time): 100 x 1.5
        (at(2026, 12, 31, 23, 59), 150),  # last day, both dates included
        (at(2027, 1, 1, 0, 0), 100),  # over
    ],
)
def test_date_range_promotion(rules: RuleSet, when: dt.datetime, expected: int) -> None:
    q = quote_basket(rules, [item(10000)], member=member(), at=when)
    assert q.points_earned == expected


def test_date_range_with_silver(rules: RuleSet) -> None:
    # Silver in the year-end sale: 100 x 1.5 x 1.5 = 225.
    q = quote_basket(rules, [item(10000)], member=member("silver"), at=at(2026, 12, 22))
    assert q.points_earned == 225


def _weekly_rules(**extra: Any) -> RuleSet:
    def patch(doc: dict[str, Any]) -> None:
        doc["earning"]["promotions"].append(
            {
                "kind": "weekly",
                "id": "weekend",
                "name": "周末加倍",
                "weekdays": [6, 7],
                "multiplier": "1.5",
                **extra,
            }
        )

    return rules_with(patch)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(2026, 11, 13), 100),  # Friday: x1
        (at(2026, 11, 14), 150),  # Saturday: 100 x 1.5
        (at(2026, 11, 15), 150),  # Sunday: 100 x 1.5
        (at(2026, 11, 16), 100),  # Monday: x1
    ],
)
def test_weekly_promotion(when: dt.datetime, expected: int) -> None:
    q = quote_basket(_weekly_rules(), [item(10000)], member=member(), at=when)
    assert q.points_earned == expected


def test_weekly_promotion_bounded_by_dates() -> None:
    # Weekends from 2026-11-15 to 2026-11-21 only.
    rules = _weekly_rules(start="2026-11-15", end="2026-11-21")
    earned = {
        d: quote_basket(rules, [item(10000)], member=member(), at=at(2026, 11, d)).points_earned
        for d in (14, 15, 21, 22)
    }
    # 14th: Saturday before start -> 100; 15th Sunday -> 150; 21st Saturday -> 150;
    # 22nd Sunday after end -> 100.
    assert earned == {14: 100, 15: 150, 21: 150, 22: 100}


@pytest.mark.parametrize(
    ("window", "day", "expected"),
    [
        # Birthday 11 November; 2026-11-11 is a Wednesday, its ISO week is Mon 9 .. Sun 15.
        ("day", 11, 200),
        ("day", 12, 100),
        ("week", 9, 200),
        ("week", 15, 200),
        ("week", 16, 100),
        ("week", 8, 100),
        ("month", 1, 200),
        ("month", 30, 200),
    ],
)
def test_birthday_windows(window: str, day: int, expected: int) -> None:
    def patch(doc: dict[str, Any]) -> None:
        for promo in doc["earning"]["promotions"]:
            if promo["kind"] == "birthday":
                promo["window"] = window

    rules = rules_with(patch)
    m = member(birthday=dt.date(1990, 11, 11), birthday_gift_year=2026)
    q = quote_basket(rules, [item(10000)], member=m, at=at(2026, 11, day))
    assert q.points_earned == expected  # 100 x 2 inside the window, 100 x 1 outside


def test_birthday_outside_month(rules: RuleSet) -> None:
    m = member(birthday=dt.date(1990, 11, 11), birthday_gift_year=2026)
    q = quote_basket(rules, [item(10000)], member=m, at=at(2026, 12, 11))
    assert q.points_earned == 100
    assert q.birthday is False


def test_birthday_week_spanning_new_year(rules: RuleSet) -> None:
    # Born 31 December. 2026-12-31 is a Thursday in ISO week 2026-W53, which runs to
    # Sunday 2027-01-03; a purchase on Saturday 2027-01-02 is in the birthday week:
    # 100 x 2 = 200 (the year-end sale ended on the 31st).
    m = member(birthday=dt.date(1990, 12, 31), birthday_gift_year=2027)
    q = quote_basket(rules, [item(10000)], member=m, at=at(2027, 1, 2))
    assert q.points_earned == 200
    # And a 1 January birthday is celebrated from Monday 2026-12-28 (ISO week 2026-W53).
    m = member(birthday=dt.date(1990, 1, 1), birthday_gift_year=2026)
    q = quote_basket(rules, [item(10000)], member=m, at=at(2026, 12, 28))
    # Birthday week x2 vs year-end sale x1.5, combine "max": 100 x 2 = 200.
    assert q.points_earned == 200


def test_leap_day_birthday_in_common_year(rules: RuleSet) -> None:
    def patch(doc: dict[str, Any]) -> None:
        doc["earning"]["promotions"][2]["window"] = "day"

    day_rules = rules_with(patch)
    m = member(birthday=dt.date(1992, 2, 29), birthday_gift_year=2027)
    # 2027 is a common year: the birthday is celebrated on 28 February.
    q = quote_basket(day_rules, [item(10000)], member=m, at=at(2027, 2, 28))
    assert q.points_earned == 200


# --- caps --------------------------------------------------------------------------------


def test_per_order_cap(rules: RuleSet) -> None:
    # Gold on member day, 6000.00 yuan: 6000 x 2 x 2 = 24000 > per-order cap 20000.
    q = quote_basket(rules, [item(600000)], member=member("gold"), at=MEMBER_DAY)
    assert q.points_earned == 20000
    cap = next(n for n in q.earn_breakdown if n.code == "cap_order")
    assert cap.params["cut"] == 4000  # 24000 - 20000
    assert sum(ln.earn_points for ln in q.lines) == 20000


def test_per_member_per_day_cap(rules: RuleSet) -> None:
    # Already earned 45000 today; daily cap 50000 leaves room for 5000.
    # Order: regular, 6000.00 yuan on a plain day = 6000 points -> cut to 5000.
    q = quote_basket(rules, [item(600000)], member=member(earned_today=45000), at=PLAIN_DAY)
    assert q.points_earned == 5000
    cap = next(n for n in q.earn_breakdown if n.code == "cap_day")
    assert cap.params == {"cap": 50000, "today": 45000, "cut": 1000}


def test_daily_cap_already_reached(rules: RuleSet) -> None:
    q = quote_basket(rules, [item(10000)], member=member(earned_today=50000), at=PLAIN_DAY)
    assert q.points_earned == 0
    assert all(ln.earn_points == 0 for ln in q.lines)


def test_both_caps_bind_in_turn(rules: RuleSet) -> None:
    # Gold member day 6000.00: 24000 -> order cap 20000 -> daily room 50000-35000 = 15000.
    q = quote_basket(
        rules, [item(600000)], member=member("gold", earned_today=35000), at=MEMBER_DAY
    )
    assert q.points_earned == 15000
    assert [n.code for n in q.earn_breakdown][-2:] == ["cap_order", "cap_day"]


# --- bonuses -----------------------------------------------------------------------------


def test_registration_bonus(rules: RuleSet) -> None:
    assert registration_bonus(rules) == 100


def test_referral_bonus_both_sides_on_first_purchase(rules: RuleSet) -> None:
    # Friend m1 referred by m0 makes a first purchase of 20.00 on a plain day:
    # earns 20 x 5 = 100 points; referral: +100 to m1 and +100 to m0.
    m = member(first_purchase=True, referred_by="m0")
    q = quote_basket(rules, [item(2000)], member=m, at=PLAIN_DAY)
    assert q.points_earned == 100
    assert sorted((b.kind, b.member_id, b.points) for b in q.bonuses) == [
        ("referral_friend", "m1", 100),
        ("referral_referrer", "m0", 100),
    ]
    assert q.bonus_points_for_member == 100
    # Not on a later purchase.
    later = quote_basket(rules, [item(2000)], member=member(referred_by="m0"), at=PLAIN_DAY)
    assert later.bonuses == ()


def test_birthday_gift_once_a_year(rules: RuleSet) -> None:
    # Birthday in November (gift window "month"), no gift yet this year: +200.
    m = member(birthday=dt.date(1990, 11, 25))
    q = quote_basket(rules, [item(1000)], member=m, at=PLAIN_DAY)
    assert [(b.kind, b.points) for b in q.bonuses] == [("birthday_gift", 200)]
    assert q.bonus_points_for_member == 200
    assert q.birthday is True
    assert "Birthday gift: +200" in q.explain()
    # Already given in 2026: nothing.
    m = member(birthday=dt.date(1990, 11, 25), birthday_gift_year=2026)
    assert quote_basket(rules, [item(1000)], member=m, at=PLAIN_DAY).bonuses == ()
    # Given last year: given again.
    m = member(birthday=dt.date(1990, 11, 25), birthday_gift_year=2025)
    assert len(quote_basket(rules, [item(1000)], member=m, at=PLAIN_DAY).bonuses) == 1
    # Outside the birthday month: nothing.
    m = member(birthday=dt.date(1990, 5, 25))
    assert quote_basket(rules, [item(1000)], member=m, at=PLAIN_DAY).bonuses == ()


def test_bonuses_are_not_capped_and_not_in_points_earned(rules: RuleSet) -> None:
    # Daily cap reached: the purchase earns 0 but the birthday gift is still a gift.
    m = member(birthday=dt.date(1990, 11, 25), earned_today=50000)
    q = quote_basket(rules, [item(1000)], member=m, at=PLAIN_DAY)
    assert q.points_earned == 0
    assert q.bonus_points_for_member == 200


# --- presentation ------------------------------------------------------------------------


def test_quote_as_dict_is_consistent(rules: RuleSet) -> None:
    q = quote_basket(rules, [item(30000)], member=member("silver"), at=MEMBER_DAY)
    d = q.as_dict()
    assert d["points_earned"] == 900
    assert d["multiplier"] == "3"
    assert d["rule_set_version"] == rules.version
    assert d["at"] == "2026-11-18T12:00:00+08:00"
    assert d["lines"][0]["earn_points"] == 900
