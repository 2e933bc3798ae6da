"""Property tests of the loyalty core (hypothesis).

* ``split_pro_rata`` always sums to the total, each part within one of its exact share;
* quote invariants for random baskets, members, coupons and points, under several rule sets;
* refund invariants for random sequences of partial refunds;
* a stateful in-memory ledger built only from core functions, driven through long random
  sequences of sales, spending, expiry, refunds and manual adjustments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from fractions import Fraction
from math import prod
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from pos_app.core.calendar import local_date
from pos_app.core.errors import (
    InsufficientPoints,
    InvalidInput,
    RefundNotAllowed,
    SpendNotAllowed,
)
from pos_app.core.lots import (
    Lot,
    LotTake,
    credit,
    due_for_expiry,
    expiry_for,
    take_from_lots,
)
from pos_app.core.money import ceil_mul, floor_mul, points_to_fen, split_pro_rata
from pos_app.core.quote import BasketLine, CouponInput, MemberContext, Quote, quote_basket
from pos_app.core.refunds import SoldLine, quote_refund
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import tier_after_activity
from tests.core.core_support import SH, default_rules, rules_with, sold_lines

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- rule-set variants -------------------------------------------------------------------


def _variant_stacking(doc: dict[str, Any]) -> None:
    # Coupons stack, multipliers multiply, any number of points, 1 point = 2 fen,
    # 2 points per yuan earned, 50% share, no minimum order, negative balances allowed.
    doc["earning"].update(points_per_yuan=2, promotion_combine="multiply")
    doc["spending"].update(
        points_per_yuan=50,
        unit_points=1,
        max_share_percent=50,
        min_order_fen=0,
        stack_with_coupons=True,
    )
    doc["refunds"] = {"when_earned_points_spent": "negative_balance", "negative_floor": -400}
    doc["expiry"] = {"mode": "period_end", "period": "month", "periods_after": 0}


def _variant_small_caps(doc: dict[str, Any]) -> None:
    # "add" combine, a weekend promotion, small caps, units of 500 points.
    doc["earning"]["promotion_combine"] = "add"
    doc["earning"]["promotions"].append(
        {"kind": "weekly", "id": "wk", "name": "周末", "weekdays": [6, 7], "multiplier": "1.25"}
    )
    doc["earning"]["caps"] = {"per_order": 600, "per_member_per_day": 1500}
    doc["spending"].update(unit_points=500, max_share_percent=100, stack_with_coupons=True)
    doc["expiry"] = {"mode": "rolling", "months": 1}


def _variant_third_fen(doc: dict[str, Any]) -> None:
    # 300 points per yuan: a unit of 3 points is worth exactly 1 fen.
    doc["spending"].update(points_per_yuan=300, unit_points=3, max_share_percent=30)
    doc["refunds"] = {"when_earned_points_spent": "negative_balance", "negative_floor": -1000}


def _variant_third_fen_deduct(doc: dict[str, Any]) -> None:
    # As above, but spent earned points are deducted in cash (rounding matters here).
    _variant_third_fen(doc)
    doc["refunds"] = {"when_earned_points_spent": "deduct_cash", "negative_floor": 0}
    doc["earning"]["points_per_yuan"] = 3


RULE_SETS: list[RuleSet] = [
    default_rules(),
    rules_with(_variant_stacking),
    rules_with(_variant_small_caps),
    rules_with(_variant_third_fen),
    rules_with(_variant_third_fen_deduct),
]

CATEGORIES = ["food", "toys", "gift_card", "deposit"]
BIRTHDAY = dt.date(1990, 11, 20)

# --- strategies --------------------------------------------------------------------------


@st.composite
def basket_line(draw: st.DrawFn, index: int = 0) -> BasketLine:
    quantity = draw(st.integers(1, 6))
    price = draw(st.integers(0, 30000))
    gross = quantity * price
    discount = draw(st.integers(0, gross)) if draw(st.booleans()) else 0
    return BasketLine(
        sku=f"s{index}",
        name=f"item{index}",
        category=draw(st.sampled_from(CATEGORIES)),
        quantity=quantity,
        unit_price_fen=price,
        line_discount_fen=discount,
        is_reward=draw(st.integers(0, 9)) == 0,
    )


@st.composite
def baskets(draw: st.DrawFn, max_lines: int = 5) -> list[BasketLine]:
    n = draw(st.integers(1, max_lines))
    return [draw(basket_line(i)) for i in range(n)]


moments = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(SH)
)


@st.composite
def members(draw: st.DrawFn, rules: RuleSet) -> MemberContext | None:
    if draw(st.integers(0, 5)) == 0:
        return None
    return MemberContext(
        member_id="m1",
        tier=draw(st.sampled_from(rules.tier_codes())),
        balance=draw(st.integers(-1000, 200000)),
        birthday=draw(st.none() | st.dates(dt.date(1950, 1, 1), dt.date(2010, 12, 31))),
        first_purchase=draw(st.booleans()),
        earned_today=draw(st.integers(0, 60000)),
        referred_by=draw(st.none() | st.just("m0")),
        birthday_gift_year=draw(st.none() | st.integers(2025, 2027)),
        spend_limit=draw(st.none() | st.integers(0, 5000)),
    )


coupon_lists = st.lists(
    st.builds(
        CouponInput,
        code=st.sampled_from(["A", "B", "C"]),
        amount_off_fen=st.integers(0, 3000),
        percent_off=st.integers(0, 30),
    ),
    max_size=2,
)


def _max_multiplier(rules: RuleSet, tier: str) -> Fraction:
    """An upper bound of the multiplier for any combination of promotions."""
    return rules.tier_multiplier(tier) * prod(
        (Fraction(p.multiplier) for p in rules.earning.promotions), start=Fraction(1)
    )


# --- split_pro_rata ----------------------------------------------------------------------


@FAST
@given(
    amount=st.integers(-(10**12), 10**12),
    ratio=st.fractions(min_value=-1000, max_value=1000, max_denominator=10**6),
)
def test_floor_and_ceil_of_an_amount_times_a_ratio(amount: int, ratio: Fraction) -> None:
    """Integer arithmetic on the ratio's terms is the exact floor and ceiling."""
    assert floor_mul(amount, ratio) == math.floor(amount * ratio)
    assert ceil_mul(amount, ratio) == math.ceil(amount * ratio)


@FAST
@given(
    total=st.integers(0, 10**7),
    weights=st.lists(st.integers(0, 10**5), min_size=1, max_size=10).filter(lambda w: sum(w) > 0),
)
def test_split_pro_rata(total: int, weights: list[int]) -> None:
    parts = split_pro_rata(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(total * w, weight_sum)
        # Never more than the ceiling of the exact share, never less than its floor.
        assert math.floor(exact) <= part <= math.ceil(exact)
        if w == 0:
            assert part == 0


# --- quotes ------------------------------------------------------------------------------


def _check_quote(rules: RuleSet, q: Quote, m: MemberContext | None) -> None:
    sp, er = rules.spending, rules.earning
    assert q.cash_due_fen + q.points_value_fen == q.total_fen
    assert q.total_fen == q.subtotal_fen - q.line_discount_fen - q.coupon_fen
    assert q.points_used <= q.max_usable_points
    assert q.points_used % sp.unit_points == 0
    assert q.points_value_fen == points_to_fen(q.points_used, sp.points_per_yuan)
    assert q.max_usable_points % sp.unit_points == 0
    # max usable <= (total x share%) fen, converted to points.
    assert (
        q.max_usable_points * 100 * 100 <= q.total_fen * sp.max_share_percent * sp.points_per_yuan
    )
    if q.total_fen < sp.min_order_fen or m is None:
        assert q.max_usable_points == 0
    if m is not None:
        assert q.max_usable_points <= max(m.balance, 0)
        if m.spend_limit is not None:
            assert q.max_usable_points <= m.spend_limit
    if q.coupon_codes and not sp.stack_with_coupons:
        assert q.max_usable_points == 0
    assert sum(ln.points_used for ln in q.lines) == q.points_used
    assert sum(ln.points_value_fen for ln in q.lines) == q.points_value_fen
    assert sum(ln.cash_fen for ln in q.lines) == q.cash_due_fen
    assert sum(ln.earn_points for ln in q.lines) == q.points_earned
    for ln in q.lines:
        after_coupon = ln.net_fen - ln.coupon_fen
        assert 0 <= ln.coupon_fen <= ln.net_fen
        assert 0 <= ln.points_value_fen <= after_coupon
        assert ln.cash_fen == after_coupon - ln.points_value_fen
        if ln.line.is_reward:
            assert (ln.points_used, ln.earn_points, ln.coupon_fen) == (0, 0, 0)
        if ln.line.category in sp.excluded_categories:
            assert ln.points_used == 0
        if ln.line.category in er.excluded_categories:
            assert ln.earn_points == 0
    assert q.eligible_cash_fen == sum(ln.cash_fen for ln in q.lines if ln.earns)
    assert q.points_earned >= 0
    if q.eligible_cash_fen == 0 or m is None:
        assert q.points_earned == 0
    if m is not None:
        caps = er.caps
        if caps.per_order is not None:
            assert q.points_earned <= caps.per_order
        if caps.per_member_per_day is not None:
            assert q.points_earned <= max(0, caps.per_member_per_day - m.earned_today)
        base = q.eligible_cash_fen * er.points_per_yuan // 100
        assert q.points_earned <= base * _max_multiplier(rules, m.tier)
        # Bonuses for the buyer: at most a birthday gift and the friend's referral bonus.
        assert q.bonus_points_for_member <= (
            rules.bonuses.birthday_gift + rules.bonuses.referral_friend
        )
    else:
        assert q.bonuses == ()


@FAST
@given(data=st.data())
def test_quote_invariants(data: st.DataObject) -> None:
    rules = data.draw(st.sampled_from(RULE_SETS))
    lines = data.draw(baskets())
    m = data.draw(members(rules))
    when = data.draw(moments)
    coupons = data.draw(coupon_lists)
    probe = quote_basket(rules, lines, member=m, at=when, coupons=coupons)
    _check_quote(rules, probe, m)
    unit = rules.spending.unit_points
    if data.draw(st.booleans()):
        # A valid request: a whole number of units up to the maximum.
        points = data.draw(st.integers(0, probe.max_usable_points // unit)) * unit
    else:
        points = data.draw(st.integers(0, probe.max_usable_points + 3 * unit))
    valid = points == 0 or (
        m is not None and points % unit == 0 and points <= probe.max_usable_points
    )
    if not valid:
        with pytest.raises(SpendNotAllowed):
            quote_basket(rules, lines, member=m, at=when, coupons=coupons, points_to_use=points)
        return
    q = quote_basket(rules, lines, member=m, at=when, coupons=coupons, points_to_use=points)
    _check_quote(rules, q, m)
    assert q.points_used == points
    assert q.max_usable_points == probe.max_usable_points
    # Using points never increases what the sale earns.
    assert q.points_earned <= probe.points_earned


@FAST
@given(data=st.data())
def test_a_quote_without_explanations_has_the_same_figures(data: st.DataObject) -> None:
    """``explain=False`` (HQ's re-quote) gives every figure of the explained quote and
    refuses exactly what it refuses, with the same message."""
    rules = data.draw(st.sampled_from(RULE_SETS))
    lines = data.draw(baskets())
    m = data.draw(members(rules))
    when = data.draw(moments)
    coupons = data.draw(coupon_lists)
    unit = rules.spending.unit_points
    points = data.draw(st.integers(0, 8)) * unit + data.draw(st.sampled_from([0, 0, 0, 1]))

    def quote(explain: bool) -> Quote | str:
        try:
            return quote_basket(
                rules,
                lines,
                member=m,
                at=when,
                coupons=coupons,
                points_to_use=points,
                explain=explain,
            )
        except (SpendNotAllowed, InvalidInput) as exc:
            return f"{type(exc).__name__}: {exc}"

    full, lean = quote(True), quote(False)
    if isinstance(full, str):
        assert lean == full
        return
    assert isinstance(lean, Quote)
    event("explained" if full.earn_breakdown else "nothing to explain")
    assert (lean.limits, lean.earn_breakdown, lean.notes, lean.binding_limit) == ((), (), (), None)
    explained = ("limits", "earn_breakdown", "notes", "binding_limit")
    assert dataclasses.replace(full, **dict.fromkeys(explained, None)) == dataclasses.replace(
        lean, **dict.fromkeys(explained, None)
    )


# --- refunds -----------------------------------------------------------------------------


@st.composite
def member_sales(draw: st.DrawFn) -> tuple[RuleSet, list[SoldLine]]:
    rules = draw(st.sampled_from(RULE_SETS))
    lines = draw(baskets())
    m = MemberContext(
        "m1",
        draw(st.sampled_from(rules.tier_codes())),
        balance=draw(st.integers(0, 100000)),
        birthday=BIRTHDAY,
        first_purchase=draw(st.booleans()),
    )
    when = draw(moments)
    probe = quote_basket(rules, lines, member=m, at=when)
    unit = rules.spending.unit_points
    points = draw(st.integers(0, probe.max_usable_points // unit)) * unit
    q = quote_basket(rules, lines, member=m, at=when, points_to_use=points)
    return rules, sold_lines(q)


@FAST
@given(sale=member_sales(), data=st.data())
def test_partial_refunds_add_up(sale: tuple[RuleSet, list[SoldLine]], data: st.DataObject) -> None:
    rules, sold = sale
    by_id = {ln.line_id: ln for ln in sold}
    original = dict(by_id)
    totals: dict[str, list[int]] = {lid: [0, 0, 0, 0] for lid in by_id}
    rich = 10**9  # a balance that can never fall short
    while any(ln.refunded_qty < ln.quantity for ln in by_id.values()):
        open_ids = [lid for lid, ln in by_id.items() if ln.refunded_qty < ln.quantity]
        chosen = data.draw(st.lists(st.sampled_from(open_ids), min_size=1, unique=True))
        request = {
            lid: data.draw(st.integers(1, by_id[lid].quantity - by_id[lid].refunded_qty))
            for lid in chosen
        }
        if data.draw(st.integers(0, 4)) == 0:
            # Now and then ask for one unit more than is left: refused, nothing changes.
            over = dict(request)
            lid = chosen[0]
            over[lid] = by_id[lid].quantity - by_id[lid].refunded_qty + 1
            with pytest.raises(RefundNotAllowed):
                quote_refund(rules, list(by_id.values()), over, balance=rich)
        r = quote_refund(rules, list(by_id.values()), request, balance=rich)
        assert r.shortfall_points == 0
        assert r.cash_refund_fen == r.gross_cash_fen == sum(x.cash_fen for x in r.lines)
        assert r.points_reversed == sum(x.points_reversed for x in r.lines)
        assert r.points_restored == sum(x.points_restored for x in r.lines)
        assert r.balance_after == rich + r.points_restored - r.points_reversed
        for x in r.lines:
            t = totals[x.line_id]
            t[0] += x.cash_fen
            t[1] += x.points_reversed
            t[2] += x.points_restored
            t[3] += x.points_value_fen
            line = by_id[x.line_id] = dataclasses.replace(
                by_id[x.line_id], refunded_qty=by_id[x.line_id].refunded_qty + x.quantity
            )
            share = Fraction(line.refunded_qty, line.quantity)
            # Cumulatively: taken back >= the proportional share of what was earned; given
            # back <= the proportional share of what was spent; cash never ahead either.
            assert t[1] >= line.earn_points * share
            assert t[2] <= line.points_used * share
            assert t[0] <= line.cash_fen * share
            assert t[3] <= line.points_value_fen * share
    for lid, line in original.items():
        assert totals[lid] == [
            line.cash_fen,
            line.earn_points,
            line.points_used,
            line.points_value_fen,
        ]
        with pytest.raises(RefundNotAllowed):
            quote_refund(rules, list(by_id.values()), {lid: 1}, balance=rich)


@FAST
@given(sale=member_sales(), data=st.data())
def test_refund_with_spent_points(
    sale: tuple[RuleSet, list[SoldLine]], data: st.DataObject
) -> None:
    rules, sold = sale
    policy = rules.refunds
    # A balance the ledger can be in: never below the floor under "negative_balance";
    # under "deduct_cash" an old debt (e.g. from a previous rule set) is possible.
    lowest = (
        policy.negative_floor if policy.when_earned_points_spent == "negative_balance" else -1500
    )
    balance = data.draw(st.integers(lowest, 3000))
    request = {ln.line_id: data.draw(st.integers(1, ln.quantity)) for ln in sold}
    # Part of the sale's earned points may have expired already (None: no expiry known).
    earned = sum(ln.earn_points for ln in sold)
    reversible = data.draw(st.none() | st.integers(-10, earned + 10))
    refusal: RefundNotAllowed | None = None
    try:
        r = quote_refund(rules, sold, request, balance=balance, reversible_points=reversible)
    except RefundNotAllowed as exc:
        refusal = exc
    if refusal is not None:
        if policy.when_earned_points_spent == "deduct_cash":
            assert "already spent" in refusal.template
        else:
            assert refusal.params["after"] < policy.negative_floor
        return
    gross_reversed = sum(x.points_reversed for x in r.lines)
    # What expired is never taken again; what is left of the cap may be.
    assert r.expired_points == (
        0 if reversible is None else max(0, gross_reversed - max(0, reversible))
    )
    assert r.points_reversed == gross_reversed - r.expired_points - (
        r.shortfall_points if policy.when_earned_points_spent == "deduct_cash" else 0
    )
    if reversible is not None:
        assert r.points_reversed <= max(0, reversible)
    assert r.balance_after == balance + r.points_restored - r.points_reversed
    assert r.cash_refund_fen + r.cash_deducted_fen == r.gross_cash_fen
    assert r.cash_refund_fen >= 0
    if policy.when_earned_points_spent == "deduct_cash":
        # Every point not taken back is paid for in cash, rounded against the member.
        ppy = rules.spending.points_per_yuan
        assert r.cash_deducted_fen * ppy >= r.shortfall_points * 100
        assert r.debt_points == 0
        assert r.balance_after >= min(balance, 0)
    else:
        assert r.cash_deducted_fen == 0
        assert r.balance_after >= policy.negative_floor
        assert r.debt_points == r.shortfall_points
    assert r.flagged == (r.balance_after < 0)


# --- the stateful ledger -----------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    """One member's points ledger, kept in memory with the core functions only."""

    def __init__(self) -> None:
        super().__init__()
        self.rule_set = default_rules()

    @initialize(rules=st.sampled_from(RULE_SETS), hour=st.integers(0, 23))
    def start(self, rules: RuleSet, hour: int) -> None:
        self.rule_set = rules
        self.now = dt.datetime(2026, 11, 1, hour, tzinfo=SH)
        self.balance = 0
        self.entries: list[tuple[str, int]] = []
        self.lots: dict[str, Lot] = {}
        self.lot_seq = 0
        self.sales: dict[str, dict[str, SoldLine]] = {}
        self.sale_seq = 0
        self.tier = rules.tier_codes()[0]
        self.window_spend = 0
        self.window_points = 0
        self.purchased = False
        self.gift_year: int | None = None
        self.gifts_by_year: dict[int, int] = defaultdict(int)
        self.earned_by_day: dict[dt.date, int] = defaultdict(int)
        # What the member received outside sales, and what left the ledger outside refunds.
        self.bonus_total = 0
        self.manual_net = 0
        self.mall_spent = 0
        self.expired = 0
        # Earned points not taken back because the refund deducted their cash value.
        self.settled_in_cash = 0
        self.refunded_totals: dict[str, list[int]] = {}
        self._credit("registration", rules.bonuses.registration)
        self.bonus_total += rules.bonuses.registration

    # -- ledger primitives (core functions only) --------------------------------------
    @property
    def floor(self) -> int:
        policy = self.rule_set.refunds
        return policy.negative_floor if policy.when_earned_points_spent == "negative_balance" else 0

    def _credit(self, kind: str, points: int) -> None:
        if points == 0:
            return
        opens, repaid = credit(self.balance, points)
        assert opens + repaid == points
        if opens:
            self.lot_seq += 1
            lot_id = f"lot{self.lot_seq:05d}"
            self.lots[lot_id] = Lot(lot_id, opens, expiry_for(self.rule_set, self.now))
        self.balance += points
        self.entries.append((kind, points))

    def _apply_takes(self, takes: list[LotTake]) -> None:
        for take in takes:
            lot = self.lots[take.lot_id]
            assert 0 < take.points <= lot.remaining
            self.lots[take.lot_id] = dataclasses.replace(lot, remaining=lot.remaining - take.points)

    def _debit(self, kind: str, points: int, *, allow_debt: bool) -> None:
        if points == 0:
            return
        available = sum(lot.remaining for lot in self.lots.values())
        if not allow_debt:
            assert points <= available
        takes = take_from_lots(self.lots.values(), min(points, available))
        self._check_soonest_first(takes)
        self._apply_takes(takes)
        self.balance -= points
        self.entries.append((kind, -points))

    def _check_soonest_first(self, takes: list[LotTake]) -> None:
        """Every lot taken from expires no later than any lot left untouched."""
        touched = {t.lot_id for t in takes}
        if not takes:
            return
        key = {lot_id: (lot.expires_on or dt.date.max) for lot_id, lot in self.lots.items()}
        latest_taken = max(key[t] for t in touched)
        for lot_id, lot in self.lots.items():
            if lot.remaining > 0 and lot_id not in touched:
                assert key[lot_id] >= latest_taken
        # All but the last lot taken are emptied.
        for take in takes[:-1]:
            assert take.points == self.lots[take.lot_id].remaining

    def _member(self, spend_limit: int | None) -> MemberContext:
        today = local_date(self.rule_set, self.now)
        return MemberContext(
            member_id="m1",
            tier=self.tier,
            balance=self.balance,
            birthday=BIRTHDAY,
            first_purchase=not self.purchased,
            earned_today=self.earned_by_day[today],
            referred_by="m0",
            birthday_gift_year=self.gift_year,
            spend_limit=spend_limit,
        )

    def _sale(self, lines: list[BasketLine], data: st.DataObject) -> str:
        rules = self.rule_set
        m = self._member(data.draw(st.none() | st.integers(0, 3000), label="spend_limit"))
        probe = quote_basket(rules, lines, member=m, at=self.now)
        unit = rules.spending.unit_points
        points = data.draw(st.integers(0, probe.max_usable_points // unit), label="units") * unit
        q = quote_basket(rules, lines, member=m, at=self.now, points_to_use=points)
        _check_quote(rules, q, m)
        today = local_date(rules, self.now)
        if q.points_used:
            event("sale paid partly with points")
        if q.points_earned < probe.points_earned or q.earn_breakdown[-1].code.startswith("cap"):
            event("sale earning cut by points or a cap")
        self._debit("spend", q.points_used, allow_debt=False)
        self._credit("earn", q.points_earned)
        self.earned_by_day[today] += q.points_earned
        for bonus in q.bonuses:
            if bonus.member_id != "m1":
                continue
            if bonus.kind == "birthday_gift":
                self.gifts_by_year[today.year] += 1
                self.gift_year = today.year
            else:
                assert not self.purchased  # referral bonuses come with the first purchase only
            self._credit(bonus.kind, bonus.points)
            self.bonus_total += bonus.points
        self.purchased = True
        self.sale_seq += 1
        sale_id = f"S{self.sale_seq}"
        sold = sold_lines(q, [f"{sale_id}-{i}" for i in range(len(q.lines))])
        self.sales[sale_id] = {ln.line_id: ln for ln in sold}
        for ln in sold:
            self.refunded_totals[ln.line_id] = [0, 0, 0]
        old_rank = rules.tier_rank(self.tier)
        self.window_spend += q.cash_due_fen
        self.window_points += q.points_earned
        self.tier = tier_after_activity(rules, self.tier, self.window_spend, self.window_points)
        assert rules.tier_rank(self.tier) >= old_rank
        return sale_id

    def _apply_refund(self, sale_id: str, request: dict[str, int]) -> bool:
        sold = self.sales[sale_id]
        over = any(
            qty > sold[lid].quantity - sold[lid].refunded_qty for lid, qty in request.items()
        )
        refusal: RefundNotAllowed | None = None
        try:
            r = quote_refund(self.rule_set, list(sold.values()), request, balance=self.balance)
        except RefundNotAllowed as exc:
            refusal = exc
        if refusal is not None:
            if not over:
                # Only the spent-points policy may refuse an otherwise valid refund.
                reason = refusal.template
                assert "already spent" in reason or "below the allowed" in reason
                event("refund refused by the spent-points policy")
            else:
                event("refund refused: more than is left")
            return False
        assert not over
        gross_reversed = sum(x.points_reversed for x in r.lines)
        settled = gross_reversed - r.points_reversed
        assert settled >= 0
        if settled:
            ppy = self.rule_set.spending.points_per_yuan
            assert r.cash_deducted_fen * ppy >= settled * 100
        self._credit("refund_restore", r.points_restored)
        self._debit(
            "refund_reverse",
            r.points_reversed,
            allow_debt=self.rule_set.refunds.when_earned_points_spent == "negative_balance",
        )
        assert self.balance == r.balance_after
        self.settled_in_cash += settled
        event("refund done" + (" with a shortfall" if r.shortfall_points else ""))
        if r.balance_after < 0:
            event("refund left a negative balance")
        for x in r.lines:
            line = sold[x.line_id]
            sold[x.line_id] = dataclasses.replace(line, refunded_qty=line.refunded_qty + x.quantity)
            t = self.refunded_totals[x.line_id]
            t[0] += x.cash_fen
            t[1] += x.points_reversed
            t[2] += x.points_restored
        return True

    # -- rules --------------------------------------------------------------------------
    @rule(lines=baskets(max_lines=3), data=st.data())
    def sale(self, lines: list[BasketLine], data: st.DataObject) -> None:
        self._sale(lines, data)

    @precondition(lambda self: bool(self.sales))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        sale_id = data.draw(st.sampled_from(sorted(self.sales)), label="sale")
        sold = self.sales[sale_id]
        chosen = data.draw(st.lists(st.sampled_from(sorted(sold)), min_size=1, unique=True))
        request = {lid: data.draw(st.integers(1, sold[lid].quantity + 1)) for lid in chosen}
        self._apply_refund(sale_id, request)

    @precondition(
        lambda self: any(
            ln.refunded_qty == ln.quantity for s in self.sales.values() for ln in s.values()
        )
    )
    @rule(data=st.data())
    def refund_again(self, data: st.DataObject) -> None:
        done = sorted(
            (sid, lid)
            for sid, s in self.sales.items()
            for lid, ln in s.items()
            if ln.refunded_qty == ln.quantity
        )
        sale_id, line_id = data.draw(st.sampled_from(done))
        before = (self.balance, list(self.entries))
        with pytest.raises(RefundNotAllowed):
            quote_refund(
                self.rule_set,
                list(self.sales[sale_id].values()),
                {line_id: 1},
                balance=self.balance,
            )
        assert (self.balance, self.entries) == before

    @rule(lines=baskets(max_lines=3), data=st.data())
    def buy_earn_refund(self, lines: list[BasketLine], data: st.DataObject) -> None:
        """Buy, earn, refund everything at once: the member ends with no more than before
        plus the sale's one-off bonuses."""
        balance, bonuses = self.balance, self.bonus_total
        sale_id = self._sale(lines, data)
        whole = {lid: ln.quantity for lid, ln in self.sales[sale_id].items()}
        assert self._apply_refund(sale_id, whole)
        assert self.balance <= balance + (self.bonus_total - bonuses)

    @rule(data=st.data())
    def redeem(self, data: st.DataObject) -> None:
        points = data.draw(st.integers(1, max(1, self.balance) + 500))
        if points > max(self.balance, 0):
            with pytest.raises(InsufficientPoints):
                take_from_lots(self.lots.values(), points)
            return
        self._debit("mall", points, allow_debt=False)
        self.mall_spent += points

    @precondition(
        lambda self: any(
            ln.refunded_qty < ln.quantity and ln.earn_points
            for s in self.sales.values()
            for ln in s.values()
        )
    )
    @rule(data=st.data())
    def spend_then_refund(self, data: st.DataObject) -> None:
        """The member spends the points a sale earned, then returns the goods."""
        open_lines = sorted(
            (sid, lid)
            for sid, s in self.sales.items()
            for lid, ln in s.items()
            if ln.refunded_qty < ln.quantity and ln.earn_points
        )
        sale_id, line_id = data.draw(st.sampled_from(open_lines))
        keep = data.draw(st.integers(0, 300), label="points kept")
        spend = max(0, self.balance - keep)
        if spend:
            self._debit("mall", spend, allow_debt=False)
            self.mall_spent += spend
        line = self.sales[sale_id][line_id]
        self._apply_refund(sale_id, {line_id: line.quantity - line.refunded_qty})

    @precondition(lambda self: self.balance > 0)
    @rule()
    def redeem_everything(self) -> None:
        """The member spends every point, including ones a later refund must take back."""
        points = self.balance
        self._debit("mall", points, allow_debt=False)
        self.mall_spent += points
        assert self.balance == 0
        assert not any(lot.remaining for lot in self.lots.values())

    @rule(days=st.integers(0, 45), hours=st.integers(0, 23))
    def advance(self, days: int, hours: int) -> None:
        self.now += dt.timedelta(days=days, hours=hours)

    @rule()
    def expire(self) -> None:
        due = due_for_expiry(self.rule_set, self.lots.values(), self.now)
        if due:
            event("lots expired")
        for lot in due:
            self.lots[lot.lot_id] = dataclasses.replace(lot, remaining=0)
            self.balance -= lot.remaining
            self.entries.append(("expire", -lot.remaining))
            self.expired += lot.remaining
        today = local_date(self.rule_set, self.now)
        assert not any(
            lot.remaining and lot.expires_on is not None and lot.expires_on < today
            for lot in self.lots.values()
        )

    @rule(size=st.integers(1, 3000), negative=st.booleans())
    def adjust(self, size: int, negative: bool) -> None:
        delta = -size if negative else size
        if delta > 0:
            self._credit("adjust", delta)
        elif -delta > max(self.balance, 0):
            with pytest.raises(InsufficientPoints):
                take_from_lots(self.lots.values(), -delta)
            return
        else:
            self._debit("adjust", -delta, allow_debt=False)
        self.manual_net += delta

    # -- invariants ---------------------------------------------------------------------
    @invariant()
    def balance_is_sum_of_entries(self) -> None:
        assert self.balance == sum(points for _, points in self.entries)

    @invariant()
    def lots_hold_the_positive_balance(self) -> None:
        assert all(lot.remaining >= 0 for lot in self.lots.values())
        assert sum(lot.remaining for lot in self.lots.values()) == max(self.balance, 0)

    @invariant()
    def balance_not_below_floor(self) -> None:
        assert self.balance >= self.floor

    @invariant()
    def nothing_minted(self) -> None:
        # Each sale line keeps at most its unrefunded share of (earned - spent): reversals
        # round up and restorations round down. Everything else is accounted for.
        bound = Fraction(
            self.bonus_total
            + self.manual_net
            - self.mall_spent
            - self.expired
            + self.settled_in_cash
        )
        for sold in self.sales.values():
            for ln in sold.values():
                bound += Fraction(
                    (ln.earn_points - ln.points_used) * (ln.quantity - ln.refunded_qty),
                    ln.quantity,
                )
        assert self.balance <= bound

    @invariant()
    def refunds_never_exceed_the_sale(self) -> None:
        for sold in self.sales.values():
            for ln in sold.values():
                assert 0 <= ln.refunded_qty <= ln.quantity
                cash, reversed_, restored = self.refunded_totals[ln.line_id]
                assert cash <= ln.cash_fen
                assert reversed_ <= ln.earn_points
                assert restored <= ln.points_used
                if ln.refunded_qty == ln.quantity:
                    assert [cash, reversed_, restored] == [
                        ln.cash_fen,
                        ln.earn_points,
                        ln.points_used,
                    ]

    @invariant()
    def caps_respected(self) -> None:
        cap = self.rule_set.earning.caps.per_member_per_day
        if cap is not None:
            assert all(v <= cap for v in self.earned_by_day.values())
        assert all(n <= 1 for n in self.gifts_by_year.values())


LedgerMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedger = LedgerMachine.TestCase
