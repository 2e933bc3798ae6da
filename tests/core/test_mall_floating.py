"""Floating points prices and lottery prizes in the core: bounds, one step per interval,
prizes paired with the draw's ranking."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.core.mall import (
    FloatBounds,
    Prize,
    assign_prizes,
    draw_lottery,
    float_price,
    lottery_entry_ids,
    prize_slots,
)

NOW = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)


@st.composite
def bounds(draw: st.DrawFn) -> FloatBounds:
    floor = draw(st.integers(1, 10_000))
    return FloatBounds(
        floor=floor,
        ceiling=draw(st.integers(floor, floor + 20_000)),
        step=draw(st.integers(1, 5_000)),
        interval=dt.timedelta(minutes=draw(st.integers(1, 10_080))),
        target=draw(st.integers(1, 500)),
    )


moments = st.one_of(st.none(), st.integers(0, 20_000).map(lambda m: NOW - dt.timedelta(minutes=m)))


@given(
    bounds(),
    st.integers(0, 60_000),
    moments,
    st.integers(0, 2_000),
    st.one_of(st.none(), st.integers(0, 2_000)),
)
def test_never_outside_the_bounds(
    b: FloatBounds, price: int, changed: dt.datetime | None, redeemed: int, stock: int | None
) -> None:
    new = float_price(b, price, changed_at=changed, at=NOW, redeemed=redeemed, stock=stock)
    assert b.floor <= new <= b.ceiling


@given(
    bounds(),
    st.data(),
    moments,
    st.integers(0, 2_000),
    st.one_of(st.none(), st.integers(0, 2_000)),
)
def test_at_most_one_step_and_only_once_the_interval_passed(
    b: FloatBounds,
    data: st.DataObject,
    changed: dt.datetime | None,
    redeemed: int,
    stock: int | None,
) -> None:
    price = data.draw(st.integers(b.floor, b.ceiling))
    new = float_price(b, price, changed_at=changed, at=NOW, redeemed=redeemed, stock=stock)
    assert abs(new - price) <= b.step
    if changed is not None and NOW - changed < b.interval:
        assert new == price


@given(bounds(), st.integers(1, 20), st.data())
def test_a_run_of_changes_moves_one_step_per_interval_at_most(
    b: FloatBounds, runs: int, data: st.DataObject
) -> None:
    """The job run every few minutes: across ``runs`` intervals the price moves at most
    ``runs`` steps, whatever the demand."""
    price = start = data.draw(st.integers(b.floor, b.ceiling))
    changed: dt.datetime | None = None
    at = NOW
    tick = b.interval / 3
    for _ in range(runs * 3):
        redeemed = data.draw(st.integers(0, 3 * b.target))
        new = float_price(b, price, changed_at=changed, at=at, redeemed=redeemed, stock=None)
        if new != price:
            changed = at
        price = new
        at += tick
    assert abs(price - start) <= b.step * (runs + 1)


def test_demand_moves_the_price_up_and_quiet_moves_it_down() -> None:
    b = FloatBounds(floor=500, ceiling=2_000, step=100, interval=dt.timedelta(hours=6), target=10)
    old = NOW - dt.timedelta(hours=7)
    assert float_price(b, 1_000, changed_at=old, at=NOW, redeemed=11, stock=None) == 1_100
    assert float_price(b, 1_000, changed_at=old, at=NOW, redeemed=3, stock=3) == 1_100  # scarce
    assert float_price(b, 1_000, changed_at=old, at=NOW, redeemed=4, stock=None) == 900
    assert float_price(b, 1_000, changed_at=old, at=NOW, redeemed=0, stock=0) == 1_000
    assert float_price(b, 1_000, changed_at=old, at=NOW, redeemed=7, stock=50) == 1_000
    assert float_price(b, 1_950, changed_at=old, at=NOW, redeemed=99, stock=None) == 2_000
    recent = NOW - dt.timedelta(hours=1)
    assert float_price(b, 1_000, changed_at=recent, at=NOW, redeemed=99, stock=None) == 1_000
    assert float_price(b, 3_000, changed_at=recent, at=NOW, redeemed=0, stock=None) == 2_000


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="floor"):
        FloatBounds(floor=10, ceiling=5, step=1, interval=dt.timedelta(hours=1), target=1)
    with pytest.raises(ValueError, match="step"):
        FloatBounds(floor=1, ceiling=5, step=0, interval=dt.timedelta(hours=1), target=1)


@given(st.lists(st.text("abc", min_size=1, max_size=4), min_size=0, max_size=30, unique=True))
def test_prizes_follow_the_ranking_and_the_catalogue(entries: list[str]) -> None:
    prizes = [
        Prize(1, "coupon", "10 元券", 3, amount_off_fen=1000),
        Prize(0, "goods", "保温杯", 1),
        Prize(2, "points", "100 积分", 2, points=100),
    ]
    seed = b"s" * 32
    ranked = draw_lottery(entries, seed, len(prize_slots(prizes)))
    pairs = assign_prizes(ranked, prizes)
    assert [e for e, _ in pairs] == ranked
    assert [p.name for _, p in pairs] == [
        "保温杯",
        "10 元券",
        "10 元券",
        "10 元券",
        "100 积分",
        "100 积分",
    ][: len(ranked)]
    assert pairs == assign_prizes(draw_lottery(reversed(entries), seed, 6), prizes)


def test_entry_ids_are_one_per_unit() -> None:
    assert lottery_entry_ids("R1", 3) == ["R1:0", "R1:1", "R1:2"]
