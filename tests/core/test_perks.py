"""Tier perks: a price per tier and early access to the mall (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.core import perks
from pos_app.core.errors import InvalidInput, RedeemNotAllowed, RuleSetError
from pos_app.core.mall import MallItem, check_redeem, eligible, matches
from pos_app.core.quote import BasketLine, MemberContext, quote_basket
from pos_app.core.rules import RuleSet, default_rule_set, load_rule_set

SHANGHAI = ZoneInfo("Asia/Shanghai")


def with_perks(**section: object) -> RuleSet:
    document = json.loads(default_rule_set().to_json())
    document["perks"] = section
    return load_rule_set(document)


RULES = with_perks(
    tier_price_percent={"silver": 98, "gold": 95}, early_access_hours={"silver": 24, "gold": 48}
)
TIERS = ("regular", "silver", "gold")
fen = st.integers(min_value=0, max_value=10_000_000)


@given(fen, fen, st.integers(min_value=1, max_value=100), st.sampled_from(TIERS))
def test_a_tier_price_is_never_above_the_member_or_shelf_price(
    price: int, member_price: int, percent: int, tier: str
) -> None:
    rules = with_perks(tier_price_percent={tier: percent})
    paid = perks.tier_unit_price(rules, tier, price, member_price)
    assert 0 <= paid <= min(price, member_price)
    assert paid == min(price, member_price * percent // 100)
    assert perks.tier_unit_price(rules, None, price, member_price) == price  # not a member
    assert perks.tier_unit_price(rules, tier, price, None) == price  # no member price


@given(fen, fen)
def test_a_higher_tier_never_pays_more(price: int, member_price: int) -> None:
    paid = [perks.tier_unit_price(RULES, t, price, member_price) for t in TIERS]
    assert paid == sorted(paid, reverse=True)


def test_the_quote_works_on_the_tier_price() -> None:
    line = BasketLine("TEA", "龙井", "food", 2, 10_000)
    gold = perks.priced_line(RULES, "gold", line, 10_000, 9_000)
    assert gold.unit_price_fen == 8_550
    quote = quote_basket(
        RULES,
        [gold],
        member=MemberContext("m", "gold", 0),
        at=dt.datetime(2026, 11, 20, 12, tzinfo=SHANGHAI),
    )
    assert quote.total_fen == 17_100
    assert quote.points_earned == 342  # gold x2 on what is paid


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=20),
            st.integers(min_value=0, max_value=100_000),
            st.none() | st.integers(min_value=0, max_value=100_000),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from((None, *TIERS)),
)
def test_the_quote_charges_the_members_tier_price(
    rows: list[tuple[int, int, int | None]], tier: str | None
) -> None:
    """quote_basket prices every line with a member price for the member's tier, itself:
    the same as quoting lines priced beforehand, and what it saves is shelf less paid."""
    at = dt.datetime(2026, 11, 20, 12, tzinfo=SHANGHAI)
    member = MemberContext("m", tier, 0) if tier is not None else None
    lines = [
        BasketLine(f"S{i}", "x", "food", qty, price, member_price_fen=member_price)
        for i, (qty, price, member_price) in enumerate(rows)
    ]
    quote = quote_basket(RULES, lines, member=member, at=at)
    expected = [
        perks.tier_unit_price(RULES, tier, price, member_price) for _, price, member_price in rows
    ]
    assert [q.line.unit_price_fen for q in quote.lines] == expected
    assert [q.shelf_price_fen for q in quote.lines] == [price for _, price, _ in rows]
    assert quote.tier_saving_fen == sum(
        qty * (price - paid) for (qty, price, _), paid in zip(rows, expected, strict=True)
    )
    pre_priced = [
        BasketLine(ln.sku, ln.name, ln.category, ln.quantity, paid)
        for ln, paid in zip(lines, expected, strict=True)
    ]
    same = quote_basket(RULES, pre_priced, member=member, at=at)
    assert (quote.total_fen, quote.points_earned) == (same.total_fen, same.points_earned)
    assert quote.price_tier == tier


def test_a_discount_above_the_tier_priced_line_is_refused() -> None:
    at = dt.datetime(2026, 11, 20, 12, tzinfo=SHANGHAI)
    line = BasketLine("TEA", "龙井", "food", 1, 10_000, 9_000, member_price_fen=9_000)
    with pytest.raises(InvalidInput, match="discount is larger"):
        quote_basket(RULES, [line], member=MemberContext("m", "gold", 0), at=at)
    assert quote_basket(RULES, [line], member=None, at=at).total_fen == 1_000


def test_a_negative_member_price_is_refused() -> None:
    line = BasketLine("TEA", "龙井", "food", 1, 10_000, member_price_fen=-1)
    with pytest.raises(InvalidInput, match="member price"):
        quote_basket(RULES, [line], member=None, at=dt.datetime(2026, 1, 1, tzinfo=SHANGHAI))


@given(st.integers(min_value=-72, max_value=72))
def test_early_access_opens_items_before_everyone_else(hours: int) -> None:
    opening = dt.datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
    item = MallItem("EAR", "耳机", 1000, stock=5, available_from=opening)
    at = opening + dt.timedelta(hours=hours)
    open_for = {t: eligible(RULES, item, t, at) for t in TIERS}
    assert open_for["regular"] == (hours >= 0)
    assert open_for["silver"] == (hours >= -24)
    assert open_for["gold"] == (hours >= -48)
    assert matches(item, at, early=perks.early_access(RULES, "gold")) == open_for["gold"]
    assert perks.opens_at(RULES, "gold", opening) == opening - dt.timedelta(hours=48)


def test_redeeming_early_is_for_the_higher_tier_only() -> None:
    opening = dt.datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
    item = MallItem("EAR", "耳机", 1000, stock=5, available_from=opening)
    early = opening - dt.timedelta(hours=30)
    redeem = {"balance": 5000, "quantity": 1, "already": 0, "at": early}
    assert check_redeem(RULES, item, tier="gold", **redeem) == 1000
    with pytest.raises(RedeemNotAllowed):
        check_redeem(RULES, item, tier="silver", **redeem)


def test_perks_name_known_tiers_only() -> None:
    with pytest.raises(RuleSetError, match=r"perks\.tier_price_percent"):
        with_perks(tier_price_percent={"platinum": 90})
    with pytest.raises(RuleSetError, match=r"early_access_hours"):
        with_perks(early_access_hours={"gold": 1000})
    with pytest.raises(RuleSetError, match=r"tier_price_percent"):
        with_perks(tier_price_percent={"gold": 0})


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@given(dates, dates, st.sampled_from(TIERS))
def test_the_anniversary_bonus_is_due_in_the_registration_month_of_later_years(
    registered: dt.date, today: dt.date, tier: str
) -> None:
    rules = with_perks(anniversary_bonus={"regular": 0, "silver": 200, "gold": 500})
    due = perks.anniversary_bonus(rules, tier, registered, today)
    if today.month == registered.month and today.year > registered.year:
        assert due == {"regular": 0, "silver": 200, "gold": 500}[tier]
    else:
        assert due == 0
    if today >= registered:  # anniversaries passed, counted one by one
        passed = [
            y
            for y in range(registered.year + 1, today.year + 1)
            if _anniversary(registered, y) <= today
        ]
        assert perks.membership_years(registered, today) == len(passed)


def _anniversary(registered: dt.date, year: int) -> dt.date:
    try:
        return registered.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def test_membership_years_on_29_february() -> None:
    leap = dt.date(2024, 2, 29)
    assert perks.membership_years(leap, dt.date(2025, 2, 27)) == 0
    assert perks.membership_years(leap, dt.date(2025, 2, 28)) == 1
    assert perks.membership_years(leap, dt.date(2028, 2, 29)) == 4
