"""Bad input: every refusal has the right error type and a message naming the problem."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from pos_app.core.errors import InvalidInput, LoyaltyError, RuleSetError, SpendNotAllowed
from pos_app.core.money import format_fen, split_pro_rata, yuan
from pos_app.core.quote import BasketLine, CouponInput, quote_basket
from pos_app.core.rules import RuleSet, load_rule_set
from tests.core.core_support import PLAIN_DAY, default_document, default_rules, item, member

# --- rule sets ---------------------------------------------------------------------------


def test_default_rule_set_round_trips(rules: RuleSet) -> None:
    assert rules.version == "2026.11-default"
    assert load_rule_set(rules.to_json()) == rules
    assert load_rule_set(rules.to_json().encode("utf-8")) == rules


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"version": "x", ', "not valid JSON"),
        ("", "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON text"),  # undecodable bytes
        (b'{"version": "\xff"}', "not valid JSON text"),  # not UTF-8
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_bad_json(text: str | bytes, problem: str) -> None:
    with pytest.raises(RuleSetError) as info:
        load_rule_set(text)
    assert info.value.field == "(document)"
    assert problem in info.value.problem
    assert problem in str(info.value)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def patch(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return patch


_DELETE = object()


def _append_promo(promo: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def patch(doc: dict[str, Any]) -> None:
        doc["earning"]["promotions"].append(promo)

    return patch


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("day 40", _set("earning.promotions.0.day", 40), "earning.promotions[0].day", "31"),
    ("day 0", _set("earning.promotions.0.day", 0), "earning.promotions[0].day", "1"),
    (
        "unit not a whole fen",
        # 300 points per yuan: 1 point is 1/3 fen; a unit of 100 points is 33.3 fen.
        lambda d: d["spending"].update(points_per_yuan=300, unit_points=100),
        "spending.unit_points",
        "whole number of fen",
    ),
    (
        "missing tier multiplier",
        _set("earning.tier_multipliers.gold", _DELETE),
        "earning.tier_multipliers",
        "no entry for tier(s) gold",
    ),
    (
        "multiplier for an unknown tier",
        _set("earning.tier_multipliers.platinum", "3"),
        "earning.tier_multipliers",
        "unknown tier(s) platinum",
    ),
    (
        "duplicate promotion id",
        _set("earning.promotions.1.id", "member_day"),
        "earning.promotions",
        "'member_day' is used twice",
    ),
    ("unknown timezone", _set("timezone", "Mars/Olympus"), "timezone", "unknown time zone"),
    (
        "date range end before start",
        _set("earning.promotions.1.end", "2026-12-01"),
        "earning.promotions[1].end",
        "end is before start",
    ),
    (
        "weekly end before start",
        _append_promo(
            {
                "kind": "weekly",
                "id": "wk",
                "name": "周末",
                "weekdays": [6],
                "multiplier": "2",
                "start": "2026-12-01",
                "end": "2026-11-01",
            }
        ),
        "earning.promotions[4].end",
        "end is before start",
    ),
    (
        "weekday 8",
        _append_promo(
            {"kind": "weekly", "id": "wk", "name": "x", "weekdays": [8], "multiplier": "2"}
        ),
        "earning.promotions[4].weekdays[0]",
        "7",
    ),
    (
        "unknown promotion kind",
        _append_promo({"kind": "lunar", "id": "x", "name": "x", "multiplier": "2"}),
        "earning.promotions[4]",
        "lunar",
    ),
    (
        "multiplier below 1",
        _set("earning.promotions.0.multiplier", "0.5"),
        "earning.promotions[0].multiplier",
        "greater than or equal to 1",
    ),
    (
        "multiplier 3 decimals",
        _set("earning.tier_multipliers.silver", "1.555"),
        "earning.tier_multipliers.silver",
        "decimal places",
    ),
    (
        "negative cap",
        _set("earning.caps.per_order", -1),
        "earning.caps.per_order",
        "greater than or equal to 0",
    ),
    ("float cap", _set("earning.caps.per_order", 1.5), "earning.caps.per_order", "integer"),
    (
        "share above 100%",
        _set("spending.max_share_percent", 101),
        "spending.max_share_percent",
        "100",
    ),
    ("zero unit", _set("spending.unit_points", 0), "spending.unit_points", "greater than 0"),
    (
        "positive floor",
        _set("refunds.negative_floor", 10),
        "refunds.negative_floor",
        "less than or equal to 0",
    ),
    (
        "unknown refund policy",
        _set("refunds.when_earned_points_spent", "forgive"),
        "refunds.when_earned_points_spent",
        "deduct_cash",
    ),
    ("unknown field", _set("spending.bogus", 1), "spending.bogus", "Extra inputs"),
    ("missing version", _set("version", _DELETE), "version", "required"),
    ("empty version", _set("version", ""), "version", "at least 1"),
    ("no tiers", _set("tiers.levels", []), "tiers.levels", "at least 1"),
    (
        "duplicate tier codes",
        _set("tiers.levels.2.code", "silver"),
        "tiers.levels",
        "tier codes must be unique",
    ),
    (
        "first tier with thresholds",
        _set("tiers.levels.0.spend_fen", 100),
        "tiers.levels[0]",
        "zero thresholds",
    ),
    (
        "gold below silver",
        _set("tiers.levels.2.points", 10),
        "tiers.levels",
        "'gold' has lower thresholds than 'silver'",
    ),
    ("currency", _set("currency", "USD"), "currency", "CNY"),
]


@pytest.mark.parametrize(
    ("patch", "field", "problem"),
    [pytest.param(p, f, m, id=name) for name, p, f, m in BROKEN],
)
def test_broken_rule_sets(
    patch: Callable[[dict[str, Any]], None], field: str, problem: str
) -> None:
    doc = default_document()
    patch(doc)
    with pytest.raises(RuleSetError) as info:
        load_rule_set(doc)
    assert info.value.field == field
    assert problem in info.value.problem
    # The message the UI shows names both.
    assert f"'{field}'" in str(info.value)
    assert problem in str(info.value)
    # And the same document as JSON text fails the same way.
    with pytest.raises(RuleSetError) as again:
        load_rule_set(json.dumps(doc))
    assert again.value.field == field


def test_rule_set_unknown_tier_at_quote_time(rules: RuleSet) -> None:
    with pytest.raises(RuleSetError, match="no multiplier for tier 'platinum'"):
        quote_basket(rules, [item(1000)], member=member("platinum"), at=PLAIN_DAY)


def test_translated_error_message() -> None:
    err = RuleSetError("timezone", "unknown time zone")
    assert (
        err.message(lambda s: "规则字段 '{field}'：{problem}")
        == "规则字段 'timezone'：unknown time zone"
    )
    # A broken translation falls back to the English template.
    assert err.message(lambda s: "{nope}") == "Rule set field 'timezone': unknown time zone"
    assert isinstance(err, LoyaltyError)


# --- baskets -----------------------------------------------------------------------------


def _line(**kwargs: Any) -> BasketLine:
    base: dict[str, Any] = {
        "sku": "s",
        "name": "n",
        "category": "food",
        "quantity": 1,
        "unit_price_fen": 1000,
    }
    base.update(kwargs)
    return BasketLine(**base)


@pytest.mark.parametrize(
    ("lines", "pattern"),
    [
        ([], "The basket is empty"),
        (
            [_line(quantity=-1)],
            r"Line 1: the quantity must be a whole number above zero \(got -1\)",
        ),
        ([_line(), _line(quantity=0)], r"Line 2: the quantity must be .* above zero \(got 0\)"),
        ([_line(quantity=1.5)], r"quantity must be a whole number above zero \(got 1.5\)"),
        ([_line(quantity=True)], r"quantity must be a whole number"),
        ([_line(unit_price_fen=-1)], "Line 1: the price must not be negative"),
        (
            [_line(unit_price_fen=9.99)],
            r"Line 1: the price must be a whole number of fen \(got 9.99\)",
        ),
        ([_line(unit_price_fen=True)], "Line 1: the price must be a whole number of fen"),
        ([_line(line_discount_fen=0.5)], "Line 1: the discount must be a whole number of fen"),
        ([_line(line_discount_fen=-5)], "Line 1: the discount must not be negative"),
        (
            [_line(quantity=2, unit_price_fen=1000, line_discount_fen=2001)],
            "Line 1: the discount is larger than the line amount",
        ),
    ],
)
def test_bad_baskets(rules: RuleSet, lines: list[BasketLine], pattern: str) -> None:
    with pytest.raises(InvalidInput, match=pattern):
        quote_basket(rules, lines, member=member(), at=PLAIN_DAY)


@pytest.mark.parametrize("points", [-100, 1.5, True, "100"])
def test_bad_points_to_use(rules: RuleSet, points: Any) -> None:
    with pytest.raises(InvalidInput, match="points to use must be a whole number"):
        quote_basket(
            rules, [item(10000)], member=member(balance=5000), at=PLAIN_DAY, points_to_use=points
        )


@pytest.mark.parametrize(
    ("coupon", "pattern"),
    [
        (CouponInput("NEG", amount_off_fen=-100), "Coupon NEG is malformed"),
        (CouponInput("PCT", percent_off=101), "Coupon PCT is malformed"),
        (
            CouponInput("MIN", amount_off_fen=100, min_order_fen=20000),
            r"needs an order of at least ¥200\.00",
        ),
    ],
)
def test_bad_coupons(rules: RuleSet, coupon: CouponInput, pattern: str) -> None:
    with pytest.raises(InvalidInput, match=pattern):
        quote_basket(rules, [item(10000)], member=member(), at=PLAIN_DAY, coupons=[coupon])


def test_spend_errors_name_the_limit(rules: RuleSet) -> None:
    cases = [
        (1250, "multiples of 100; 1250 is not one"),  # not a whole unit
        (2100, "at most 20% of the order, here 2000 points"),  # above the share
    ]
    for points, pattern in cases:
        with pytest.raises(SpendNotAllowed, match=pattern):
            quote_basket(
                rules,
                [item(10000)],
                member=member(balance=99999),
                at=PLAIN_DAY,
                points_to_use=points,
            )


def test_naive_datetime_refused(rules: RuleSet) -> None:
    with pytest.raises(InvalidInput, match="time must carry a time zone"):
        quote_basket(rules, [item(1000)], member=member(), at=dt.datetime(2026, 11, 18, 12))


# --- money helpers -----------------------------------------------------------------------


def test_money_helpers() -> None:
    assert yuan(12) == 1200
    assert yuan("12.5") == 1250
    assert yuan(" 0.01 ") == 1
    assert format_fen(1250) == "¥12.50"
    assert format_fen(-5) == "-¥0.05"
    with pytest.raises(ValueError, match="more than two decimal places"):
        yuan("1.005")
    with pytest.raises(TypeError, match="int or a str"):
        yuan(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fen must be an int"):
        format_fen(1.5)  # type: ignore[arg-type]


def test_split_pro_rata_refusals() -> None:
    assert split_pro_rata(10, [1, 1, 1]) == [4, 3, 3]  # ties go to the earlier index
    assert split_pro_rata(0, [0, 0]) == [0, 0]
    with pytest.raises(ValueError, match="zero weights"):
        split_pro_rata(1, [0, 0])
    with pytest.raises(ValueError, match="total must not be negative"):
        split_pro_rata(-1, [1])
    with pytest.raises(ValueError, match="weights must not be negative"):
        split_pro_rata(1, [2, -1])


def test_default_rules_helper_is_the_shipped_set() -> None:
    assert default_rules().spending.unit_points == 100
