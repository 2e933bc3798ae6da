"""Properties of the points mall: suggestions, filters, redemption rules, the lottery draw."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pos_app.core.errors import LoyaltyError
from pos_app.core.mall import (
    POINTS_RANGES,
    MallItem,
    check_redeem,
    draw_lottery,
    eligible,
    in_points_range,
    matches,
    price_at,
    suggest,
)
from tests.core.core_support import default_rules

RULES = default_rules()
TIERS = RULES.tier_codes()
NOW = dt.datetime(2026, 11, 18, 2, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)

windows = st.sampled_from(
    [
        (None, None),
        (NOW - HOUR, None),
        (None, NOW + HOUR),
        (NOW - HOUR, NOW + HOUR),
        (NOW + HOUR, None),  # not yet
        (None, NOW - HOUR),  # over
    ]
)


@st.composite
def mall_items(draw: st.DrawFn, item_id: str | None = None) -> MallItem:
    available = draw(windows)
    discount = draw(windows)
    return MallItem(
        item_id=item_id or draw(st.text("abcdef", min_size=1, max_size=6)),
        name=draw(st.sampled_from(["保温杯", "耳机", "帆布袋", "coupon"])),
        points_price=draw(st.integers(0, 60_000)),
        cash_price_fen=draw(st.sampled_from([0, 0, 2000])),
        stock=draw(st.one_of(st.none(), st.integers(-2, 5))),
        min_tier=draw(st.one_of(st.none(), st.sampled_from(TIERS))),
        category=draw(st.sampled_from(["home", "food", "coupon", ""])),
        discount_percent=draw(st.sampled_from([0, 0, 20, 50, 99])),
        discount_from=discount[0],
        discount_to=discount[1],
        available_from=available[0],
        available_to=available[1],
        per_member_limit=draw(st.one_of(st.none(), st.integers(1, 3))),
    )


@st.composite
def catalogues(draw: st.DrawFn) -> list[MallItem]:
    n = draw(st.integers(0, 12))
    return [draw(mall_items(item_id=f"item{i}")) for i in range(n)]


def _tier_ok(item: MallItem, tier: str) -> bool:
    return item.min_tier is None or TIERS.index(tier) >= TIERS.index(item.min_tier)


@settings(max_examples=120, deadline=None)
@given(
    items=catalogues(),
    balance=st.integers(-500, 70_000),
    tier=st.sampled_from(TIERS),
    preferred=st.lists(st.sampled_from(["home", "food", "coupon"]), max_size=3, unique=True),
    limit=st.one_of(st.none(), st.integers(0, 6)),
)
def test_suggestions_are_reachable_in_stock_in_tier_and_in_window(
    items: list[MallItem],
    balance: int,
    tier: str,
    preferred: list[str],
    limit: int | None,
) -> None:
    found = suggest(
        RULES,
        balance=balance,
        tier=tier,
        items=items,
        at=NOW,
        preferred_categories=preferred,
        limit=limit,
    )
    cap = RULES.mall.max_suggestions if limit is None else limit
    assert len(found) <= max(cap, 0)
    assert len({s.item.item_id for s in found}) == len(found)  # no item twice
    for s in found:
        item = s.item
        # Never what the member cannot reach by the rule...
        assert s.points_short <= RULES.mall.reach_points
        assert s.points_price == price_at(item, NOW)
        assert s.points_short == max(0, s.points_price - max(balance, 0))
        assert s.redeemable == (s.points_price <= max(balance, 0))
        # ... never out of stock, above the member's tier or outside its window.
        assert item.stock is None or item.stock > 0
        assert _tier_ok(item, tier)
        assert eligible(RULES, item, tier, NOW)
        assert item.available_from is None or item.available_from <= NOW
        assert item.available_to is None or item.available_to > NOW


@settings(max_examples=80, deadline=None)
@given(items=catalogues(), balance=st.integers(0, 70_000), tier=st.sampled_from(TIERS))
def test_suggestions_put_redeemable_items_first_and_miss_none_when_there_is_room(
    items: list[MallItem], balance: int, tier: str
) -> None:
    found = suggest(RULES, balance=balance, tier=tier, items=items, at=NOW, limit=20)
    reachable = [
        i
        for i in items
        if eligible(RULES, i, tier, NOW) and price_at(i, NOW) - balance <= RULES.mall.reach_points
    ]
    assert {s.item.item_id for s in found} == {i.item_id for i in reachable}
    flags = [s.redeemable for s in found]
    assert flags == sorted(flags, reverse=True)  # redeemable ones first


@settings(max_examples=80, deadline=None)
@given(item=mall_items(), points_range=st.sampled_from([None, *[r[0] for r in POINTS_RANGES]]))
def test_the_points_range_filter_uses_the_price_in_force(
    item: MallItem, points_range: str | None
) -> None:
    hit = matches(item, NOW, points_range=points_range)
    if hit:
        assert in_points_range(price_at(item, NOW), points_range)
    # Every price is in exactly one range.
    assert sum(in_points_range(price_at(item, NOW), r[0]) for r in POINTS_RANGES) == 1


@settings(max_examples=120, deadline=None)
@given(
    item=mall_items(),
    tier=st.sampled_from(TIERS),
    balance=st.integers(0, 100_000),
    quantity=st.integers(1, 4),
    already=st.integers(0, 3),
)
def test_a_redemption_is_never_allowed_against_the_rules(
    item: MallItem, tier: str, balance: int, quantity: int, already: int
) -> None:
    try:
        unit = check_redeem(
            RULES, item, tier=tier, balance=balance, quantity=quantity, already=already, at=NOW
        )
    except LoyaltyError:
        return
    assert unit == price_at(item, NOW)
    assert unit * quantity <= balance
    assert item.stock is None or item.stock >= quantity
    assert _tier_ok(item, tier)
    assert item.per_member_limit is None or already + quantity <= item.per_member_limit
    assert item.available_from is None or item.available_from <= NOW
    assert item.available_to is None or item.available_to > NOW


@settings(max_examples=80, deadline=None)
@given(
    entries=st.lists(st.text("0123456789abcdef", min_size=8, max_size=8), max_size=30),
    seed=st.binary(min_size=16, max_size=32),
    winners=st.integers(0, 5),
    data=st.data(),
)
def test_the_draw_is_repeatable_order_free_and_picks_distinct_entries(
    entries: list[str], seed: bytes, winners: int, data: st.DataObject
) -> None:
    picked = draw_lottery(entries, seed, winners)
    assert len(picked) == min(winners, len(set(entries)))
    assert len(set(picked)) == len(picked)
    assert set(picked) <= set(entries)
    shuffled = data.draw(st.permutations(entries))
    assert draw_lottery(shuffled, seed, winners) == picked
    other = data.draw(st.binary(min_size=16, max_size=32))
    assume(other != seed)
    assert len(draw_lottery(entries, other, winners)) == len(picked)


def test_the_draw_is_fair_enough_over_many_seeds() -> None:
    """Each of 4 entries wins about a quarter of 4,000 seeded draws."""
    import hashlib

    wins = dict.fromkeys("abcd", 0)
    for i in range(4000):
        seed = hashlib.sha256(str(i).encode()).digest()
        (winner,) = draw_lottery(["a", "b", "c", "d"], seed, 1)
        wins[winner] += 1
    assert all(850 < n < 1150 for n in wins.values()), wins
