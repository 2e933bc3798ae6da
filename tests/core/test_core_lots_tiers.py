"""Point lots and expiry (积分有效期), and tiers (会员等级)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pos_app.core.calendar import add_months
from pos_app.core.errors import InsufficientPoints
from pos_app.core.lots import (
    ExpiringSoon,
    Lot,
    LotTake,
    credit,
    due_for_expiry,
    expiring_soon,
    expiry_for,
    restore_expiries,
    take_from_lots,
    take_up_to,
)
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import (
    last_review_date,
    progress,
    qualified_tier,
    review_due,
    review_tier,
    tier_after_activity,
    window_start,
)
from tests.core.core_support import at, rules_with

D = dt.date

LOTS = [
    Lot("late", 300, D(2027, 3, 1)),
    Lot("never", 500, None),
    Lot("soon", 200, D(2026, 12, 31)),
    Lot("empty", 0, D(2026, 11, 1)),
]


# --- lots --------------------------------------------------------------------------------


def test_spending_takes_soonest_expiring_first() -> None:
    # 400 points: all 200 of "soon" (31 Dec), then 200 of "late" (1 Mar); "never" untouched.
    assert take_from_lots(LOTS, 400) == [LotTake("soon", 200), LotTake("late", 200)]
    # 900: 200 + 300 + 400 of the never-expiring lot last.
    assert take_from_lots(LOTS, 900) == [
        LotTake("soon", 200),
        LotTake("late", 300),
        LotTake("never", 400),
    ]
    assert take_from_lots(LOTS, 0) == []


def test_preferred_lots_go_first() -> None:
    # A refund of a mall redemption may prefer the lots the points came from.
    assert take_from_lots(LOTS, 600, prefer=["never"]) == [
        LotTake("never", 500),
        LotTake("soon", 100),
    ]
    assert take_from_lots(LOTS, 250, prefer=["late", "soon"]) == [LotTake("late", 250)]


def test_not_enough_points() -> None:
    # 300 + 500 + 200 = 1000 available.
    with pytest.raises(InsufficientPoints, match="1001 needed, 1000 available"):
        take_from_lots(LOTS, 1001)
    with pytest.raises(ValueError, match="negative"):
        take_from_lots(LOTS, -1)


def test_take_up_to_reports_shortfall() -> None:
    takes, short = take_up_to(LOTS, 1200)
    assert sum(t.points for t in takes) == 1000
    assert short == 200


def test_rolling_expiry_24_months(rules: RuleSet) -> None:
    # Earned 2026-11-18 (store time) -> valid through 2028-11-18.
    assert expiry_for(rules, at(2026, 11, 18)) == D(2028, 11, 18)
    # 2026-11-17 20:00 UTC is already 2026-11-18 04:00 in Shanghai.
    assert expiry_for(rules, dt.datetime(2026, 11, 17, 20, tzinfo=dt.UTC)) == D(2028, 11, 18)
    # 29 Feb 2028 + 24 months -> 28 Feb 2030 (clamped to the month's end).
    assert expiry_for(rules, at(2028, 2, 29)) == D(2030, 2, 28)


def _expiry_rules(**expiry: Any) -> RuleSet:
    def patch(doc: dict[str, Any]) -> None:
        doc["expiry"].update(expiry)

    return rules_with(patch)


@pytest.mark.parametrize(
    ("expiry", "earned", "expected"),
    [
        # Year period, expiring at the end of the year after the one earned in.
        (
            {"mode": "period_end", "period": "year", "periods_after": 1},
            (2026, 5, 10),
            (2027, 12, 31),
        ),
        (
            {"mode": "period_end", "period": "year", "periods_after": 0},
            (2026, 5, 10),
            (2026, 12, 31),
        ),
        # Quarter: Q2 2026 + 1 quarter -> end of Q3 = 30 Sep.
        (
            {"mode": "period_end", "period": "quarter", "periods_after": 1},
            (2026, 5, 10),
            (2026, 9, 30),
        ),
        (
            {"mode": "period_end", "period": "month", "periods_after": 0},
            (2026, 2, 3),
            (2026, 2, 28),
        ),
        ({"mode": "rolling", "months": 6}, (2026, 8, 31), (2027, 2, 28)),
    ],
)
def test_expiry_modes(
    expiry: dict[str, Any], earned: tuple[int, int, int], expected: tuple[int, int, int]
) -> None:
    assert expiry_for(_expiry_rules(**expiry), at(*earned)) == D(*expected)


def test_never_expiring(rules: RuleSet) -> None:
    assert expiry_for(_expiry_rules(mode="never"), at(2026, 1, 1)) is None


def test_expiring_within_30_days(rules: RuleSet) -> None:
    # Today 2026-11-18; the window runs to 2026-12-18 (inclusive).
    lots = [
        Lot("past", 50, D(2026, 11, 17)),  # already expired: not "soon"
        Lot("today", 10, D(2026, 11, 18)),  # last valid day is today: soon
        Lot("in13", 100, D(2026, 12, 1)),  # soon
        Lot("in30", 200, D(2026, 12, 18)),  # exactly 30 days: soon
        Lot("in31", 400, D(2026, 12, 19)),  # 31 days: not yet
        Lot("never", 800, None),
        Lot("used", 0, D(2026, 11, 20)),  # nothing left
    ]
    assert expiring_soon(rules, lots, at(2026, 11, 18)) == ExpiringSoon(310, D(2026, 11, 18))
    assert expiring_soon(rules, lots[-3:], at(2026, 11, 18)) == ExpiringSoon(0, None)


def test_due_for_expiry(rules: RuleSet) -> None:
    lots = [Lot("b", 5, D(2026, 11, 17)), Lot("a", 7, D(2026, 11, 1)), Lot("c", 9, D(2026, 11, 18))]
    # Today 2026-11-18: lots whose last valid day is before today, soonest first.
    assert [lot.lot_id for lot in due_for_expiry(rules, lots, at(2026, 11, 18))] == ["a", "b"]
    # 2026-11-18 15:59 UTC = 23:59 in Shanghai: still the 18th, "c" still valid.
    late = dt.datetime(2026, 11, 18, 15, 59, tzinfo=dt.UTC)
    assert [lot.lot_id for lot in due_for_expiry(rules, lots, late)] == ["a", "b"]
    assert [lot.lot_id for lot in due_for_expiry(rules, lots, at(2026, 11, 19))] == ["a", "b", "c"]


def test_restored_points_keep_their_lots_expiry(rules: RuleSet) -> None:
    # A sale took 50 from a lot expiring 2027-03-01, then 80 from one expiring 2028-06-30.
    spent = [(50, D(2027, 3, 1)), (80, D(2028, 6, 30))]
    now = at(2026, 12, 1)
    # Given back last-taken first: 100 -> 80 of 2028-06-30, then 20 of 2027-03-01.
    assert restore_expiries(rules, spent, 100, now) == [(80, D(2028, 6, 30)), (20, D(2027, 3, 1))]
    # A second refund after 100 were given back: the 30 left of the first lot.
    assert restore_expiries(rules, spent, 30, now, already_restored=100) == [(30, D(2027, 3, 1))]
    # A date already past gets 30 days (the reminder window) from today; points beyond
    # what the spend took too.
    later = at(2027, 5, 1)
    grace = D(2027, 5, 31)
    assert restore_expiries(rules, spent, 140, later) == [
        (80, D(2028, 6, 30)),
        (50, grace),
        (10, grace),
    ]


def test_credit_repays_debt_first() -> None:
    # Balance -300, 500 credited: 300 repays the debt, 200 opens a lot.
    assert credit(-300, 500) == (200, 300)
    assert credit(-300, 100) == (0, 100)
    assert credit(50, 100) == (100, 0)
    with pytest.raises(ValueError, match="negative"):
        credit(0, -1)


def test_add_months() -> None:
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2026, 1, 15), -12) == D(2025, 1, 15)
    assert add_months(D(2026, 3, 31), -13) == D(2025, 2, 28)


# --- tiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spend_fen", "points", "expected"),
    [
        (0, 0, "regular"),
        (29999, 999, "regular"),  # just below both silver thresholds
        (30000, 0, "silver"),  # 300 yuan
        (0, 1000, "silver"),  # or 1000 points
        (99999, 4999, "silver"),
        (100000, 0, "gold"),  # 1000 yuan
        (0, 5000, "gold"),  # or 5000 points
    ],
)
def test_qualified_tier(rules: RuleSet, spend_fen: int, points: int, expected: str) -> None:
    assert qualified_tier(rules, spend_fen, points) == expected


def test_upgrade_at_once(rules: RuleSet) -> None:
    assert tier_after_activity(rules, "regular", 30000, 0) == "silver"
    assert tier_after_activity(rules, "regular", 0, 5000) == "gold"
    assert tier_after_activity(rules, "silver", 100000, 0) == "gold"


def test_no_downgrade_outside_review(rules: RuleSet) -> None:
    # A gold member whose window now shows only 100 yuan stays gold until the review.
    assert tier_after_activity(rules, "gold", 10000, 0) == "gold"
    assert tier_after_activity(rules, "silver", 0, 0) == "silver"
    # An unknown current tier (e.g. removed by HQ) is replaced by what the member qualifies for.
    assert tier_after_activity(rules, "platinum", 30000, 0) == "silver"


def test_top_tier_has_nowhere_to_go(rules: RuleSet) -> None:
    # The checkout skips the tier-window queries for top-tier members: this must hold.
    assert rules.is_top_tier("gold")
    assert not rules.is_top_tier("silver")
    assert not rules.is_top_tier("platinum")  # unknown: re-evaluated, never skipped
    for spend, points in [(0, 0), (10**9, 10**9), (30000, 0)]:
        assert tier_after_activity(rules, "gold", spend, points) == "gold"


def test_review_recomputes(rules: RuleSet) -> None:
    assert review_tier(rules, 10000, 0) == "regular"  # gold -> regular at the review
    assert review_tier(rules, 50000, 0) == "silver"
    assert review_tier(rules, 0, 6000) == "gold"


def test_review_dates(rules: RuleSet) -> None:
    # Review on 1 January.
    assert last_review_date(rules, D(2026, 11, 18)) == D(2026, 1, 1)
    assert last_review_date(rules, D(2026, 1, 1)) == D(2026, 1, 1)
    assert review_due(rules, None, D(2026, 11, 18)) is True
    assert review_due(rules, D(2026, 1, 1), D(2026, 11, 18)) is False
    assert review_due(rules, D(2025, 1, 1), D(2026, 11, 18)) is True
    # The 12-month window ending 2026-11-18 starts 2025-11-19.
    assert window_start(rules, D(2026, 11, 18)) == D(2025, 11, 19)


def test_progress_to_gold(rules: RuleSet) -> None:
    # Silver with 300.00 spend and 1200 points in the window:
    # gold needs 1000.00 - 300.00 = 700.00 more, or 5000 - 1200 = 3800 more points.
    p = progress(rules, "silver", 30000, 1200)
    assert (p.next_tier, p.next_name, p.spend_needed_fen, p.points_needed) == (
        "gold",
        "金卡会员",
        70000,
        3800,
    )
    assert p.note().text() == "Spend ¥700.00 more or earn 3800 more points to reach 金卡会员."


def test_progress_to_silver_and_top(rules: RuleSet) -> None:
    # Regular with 120.50 spend and 80 points: 300.00 - 120.50 = 179.50; 1000 - 80 = 920.
    p = progress(rules, "regular", 12050, 80)
    assert p.note().text() == "Spend ¥179.50 more or earn 920 more points to reach 银卡会员."
    # A gold member is at the top.
    top = progress(rules, "gold", 0, 0)
    assert top.next_tier is None
    assert top.note().code == "tier_top"
    # A silver member kept by the no-downgrade rule whose window is already past gold's
    # spend threshold (upgrade pending) shows 0 needed, never a negative number.
    assert progress(rules, "silver", 150000, 0).spend_needed_fen == 0
