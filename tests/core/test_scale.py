"""Scale labels (称重码): parsing, building, pricing and the rule set's ``scale`` section."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_app.core.codes import ScanKind, classify_scan, ean_valid
from pos_app.core.errors import (
    BadCheckDigit,
    ImpossiblePrice,
    ImpossibleWeight,
    InvalidInput,
    RuleSetError,
    ScaleLabelError,
    UnknownScaleLayout,
)
from pos_app.core.quote import BasketLine, quote_basket
from pos_app.core.rules import Scale, ScaleLayout, load_rule_set
from pos_app.core.scale import (
    build_scale_label,
    is_in_store_code,
    is_scale_label,
    parse_scale_label,
    weighed_amount_fen,
)
from tests.core.core_support import PLAIN_DAY, default_document, default_rules, item, member

WEIGHT = ScaleLayout(prefixes=["21"], item_digits=5, value="weight", value_digits=5)
PRICE = ScaleLayout(prefixes=["22", "23"], item_digits=6, value="price", value_digits=4)
MIXED = Scale(layouts=[WEIGHT, PRICE], max_weight_g=30_000)


def test_the_default_layout_reads_a_price_label() -> None:
    scale = default_rules().scale
    # 20 | 00123 | 01234 | check: a real label, check digit from the EAN-13 rule
    assert ean_valid("2000123012346")
    label = parse_scale_label("2000123012346", scale)
    assert (label.prefix, label.item_code, label.kind, label.value) == (
        "20",
        "00123",
        "price",
        1234,
    )
    assert label.price_fen == 1234
    assert label.weight_g is None


def test_a_weight_label() -> None:
    code = build_scale_label(WEIGHT, "21", "4711", 456)
    assert code == "2104711004567"
    assert ean_valid(code)
    label = parse_scale_label(code, MIXED)
    assert label.item_code == "04711"
    assert label.weight_g == 456
    assert label.price_fen is None


def test_a_scale_label_is_still_classified_as_a_barcode() -> None:
    # The scan line's classifier does not know the layouts; the service checks them first.
    assert classify_scan("2000123012346").kind == ScanKind.BARCODE
    assert is_scale_label("2000123012346", default_rules().scale)
    assert not is_scale_label("6901234000019", default_rules().scale)
    assert is_in_store_code("2900000000000")
    assert not is_in_store_code("6901234000019")


@pytest.mark.parametrize("digit", [d for d in range(10) if d != 6])
def test_every_wrong_check_digit_is_refused(digit: int) -> None:
    with pytest.raises(BadCheckDigit) as info:
        parse_scale_label(f"200012301234{digit}", default_rules().scale)
    assert info.value.params == {"code": f"200012301234{digit}", "expected": 6}
    assert "check digit is wrong (should be 6)" in str(info.value)


def test_a_prefix_no_layout_names() -> None:
    code = build_scale_label(ScaleLayout(prefixes=["25"]), "25", "1", 100)
    with pytest.raises(UnknownScaleLayout, match=r"no scale label layout .* prefix 25"):
        parse_scale_label(code, MIXED)
    with pytest.raises(UnknownScaleLayout):
        parse_scale_label("21047110045", MIXED)  # not 13 digits
    assert not is_scale_label(code, MIXED)


@pytest.mark.parametrize("grams", [0, 30_001, 99_999])
def test_impossible_weights(grams: int) -> None:
    code = build_scale_label(WEIGHT, "21", "4711", grams)
    with pytest.raises(ImpossibleWeight) as info:
        parse_scale_label(code, MIXED)
    assert info.value.params["weight"] == grams
    assert "from 1 g to 30000 g" in str(info.value)


def test_the_heaviest_weight_allowed() -> None:
    assert parse_scale_label(build_scale_label(WEIGHT, "21", "1", 30_000), MIXED).value == 30_000


def test_a_zero_price_is_refused() -> None:
    with pytest.raises(ImpossiblePrice, match=r"¥0\.00 is not possible"):
        parse_scale_label(build_scale_label(PRICE, "22", "1", 0), MIXED)


def test_scale_errors_are_translated_templates() -> None:
    with pytest.raises(ScaleLabelError) as info:
        parse_scale_label("2000123012340", default_rules().scale)
    zh = info.value.message(lambda _t: "称重码 {code} 校验位错误（应为 {expected}）")
    assert zh == "称重码 2000123012340 校验位错误（应为 6）"


@pytest.mark.parametrize(
    ("weight", "per_kg", "fen"),
    [
        (456, 2580, 1176),  # 1176.48 -> down
        (500, 1999, 1000),  # 999.5 -> halves up
        (125, 4, 1),  # 0.5 -> up
        (124, 4, 0),  # 0.496 -> down
        (1000, 1234, 1234),
        (0, 1234, 0),
    ],
)
def test_weighed_amount_rounds_half_up(weight: int, per_kg: int, fen: int) -> None:
    assert weighed_amount_fen(weight, per_kg) == fen


@given(st.integers(0, 10**6), st.integers(0, 10**7))
@settings(max_examples=300, deadline=None)
def test_weighed_amount_is_within_half_a_fen(weight: int, per_kg: int) -> None:
    fen = weighed_amount_fen(weight, per_kg)
    exact = weight * per_kg  # in thousandths of a fen
    assert -500 < fen * 1000 - exact <= 500


# --- round trip: build a label, parse it back -------------------------------------------------


@st.composite
def layouts_and_labels(draw: st.DrawFn) -> tuple[Scale, str, str, int]:
    item_digits = draw(st.integers(1, 9))
    kind = draw(st.sampled_from(["price", "weight"]))
    prefixes = draw(
        st.lists(
            st.sampled_from([f"2{d}" for d in range(10)]), min_size=1, max_size=10, unique=True
        )
    )
    layout = ScaleLayout(
        prefixes=prefixes, item_digits=item_digits, value=kind, value_digits=10 - item_digits
    )
    max_value = 10 ** (10 - item_digits) - 1
    scale = Scale(layouts=[layout], max_weight_g=draw(st.integers(1, 1_000_000)))
    top = min(max_value, scale.max_weight_g) if kind == "weight" else max_value
    item = draw(st.text("0123456789", min_size=1, max_size=item_digits))
    return scale, draw(st.sampled_from(prefixes)), item, draw(st.integers(1, top))


@given(layouts_and_labels())
@settings(max_examples=300, deadline=None)
def test_round_trip(case: tuple[Scale, str, str, int]) -> None:
    scale, prefix, item, value = case
    layout = scale.layouts[0]
    code = build_scale_label(layout, prefix, item, value)
    assert len(code) == 13
    assert ean_valid(code)
    assert is_scale_label(code, scale)
    label = parse_scale_label(code, scale)
    assert label.code == code
    assert label.prefix == prefix
    assert label.item_code == item.zfill(layout.item_digits)
    assert (label.kind, label.value) == (layout.value, value)


@given(layouts_and_labels(), st.integers(1, 9))
@settings(max_examples=200, deadline=None)
def test_any_damaged_check_digit_is_caught(case: tuple[Scale, str, str, int], shift: int) -> None:
    scale, prefix, item, value = case
    code = build_scale_label(scale.layouts[0], prefix, item, value)
    damaged = code[:-1] + str((int(code[-1]) + shift) % 10)
    with pytest.raises(BadCheckDigit):
        parse_scale_label(damaged, scale)


@given(layouts_and_labels(), st.integers(0, 11), st.integers(1, 9))
@settings(max_examples=200, deadline=None)
def test_one_misread_digit_never_parses_silently(
    case: tuple[Scale, str, str, int], position: int, shift: int
) -> None:
    """EAN-13 catches every single-digit error: a misread label is refused, never rung up
    as another item or another price."""
    scale, prefix, item, value = case
    code = build_scale_label(scale.layouts[0], prefix, item, value)
    misread = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1 :]
    with pytest.raises(ScaleLabelError):
        parse_scale_label(misread, scale)


def test_build_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="prefix"):
        build_scale_label(WEIGHT, "22", "1", 1)
    with pytest.raises(ValueError, match="item code"):
        build_scale_label(WEIGHT, "21", "123456", 1)
    with pytest.raises(ValueError, match="value"):
        build_scale_label(WEIGHT, "21", "1", 100_000)


# --- the rule set's scale section ---------------------------------------------------------------


def test_the_default_rule_set_has_the_default_layout() -> None:
    scale = default_rules().scale
    assert [lay.prefixes for lay in scale.layouts] == [[f"2{d}" for d in range(10)]]
    assert (scale.layouts[0].item_digits, scale.layouts[0].value) == (5, "price")
    assert scale.max_weight_g == 30_000
    # A rule set that leaves the section out gets the same defaults.
    doc = default_document()
    del doc["scale"]
    assert load_rule_set(doc).scale == scale


def test_a_weight_layout_from_hq_round_trips() -> None:
    doc = default_document()
    doc["scale"] = {
        "layouts": [
            {"prefixes": ["21"], "item_digits": 5, "value": "weight", "value_digits": 5},
            {"prefixes": ["22"], "item_digits": 6, "value": "price", "value_digits": 4},
        ],
        "max_weight_g": 15000,
    }
    rules = load_rule_set(json.dumps(doc))
    assert rules.scale.layout_for("21") == WEIGHT
    assert rules.scale.layout_for("20") is None
    assert load_rule_set(rules.to_json()) == rules


def _layout(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def patch(doc: dict[str, Any]) -> None:
        doc["scale"]["layouts"][0].update(fields)

    return patch


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def patch(doc: dict[str, Any]) -> None:
        doc["scale"][key] = value

    return patch


def _two_layouts_sharing_21(doc: dict[str, Any]) -> None:
    doc["scale"]["layouts"] = [
        {"prefixes": ["21", "22"]},
        {"prefixes": ["23", "21"], "value": "weight"},
    ]


@pytest.mark.parametrize(
    ("patch", "field", "problem"),
    [
        (_layout(item_digits=6), "scale.layouts[0].value_digits", "must be 10"),
        (_layout(value_digits=4), "scale.layouts[0].value_digits", "got 5 + 4"),
        (_layout(item_digits=0, value_digits=10), "scale.layouts[0].item_digits", "greater"),
        (_layout(value="volume"), "scale.layouts[0].value", "'price' or 'weight'"),
        (_layout(prefixes=["30"]), "scale.layouts[0].prefixes[0]", "pattern"),
        (_layout(prefixes=["2"]), "scale.layouts[0].prefixes[0]", "pattern"),
        (_layout(prefixes=[]), "scale.layouts[0].prefixes", "at least 1"),
        (_layout(prefixes=["21", "21"]), "scale.layouts[0].prefixes", "listed twice"),
        (_layout(item_digits="5"), "scale.layouts[0].item_digits", "valid integer"),
        (_layout(check="ean13"), "scale.layouts[0].check", "Extra inputs"),
        (_set("max_weight_g", 0), "scale.max_weight_g", "greater than 0"),
        (_set("max_weight_g", 1.5), "scale.max_weight_g", "valid integer"),
        (_two_layouts_sharing_21, "scale.layouts[1].prefixes", "prefix 21 is already"),
    ],
)
def test_bad_scale_sections_name_the_field(
    patch: Callable[[dict[str, Any]], None], field: str, problem: str
) -> None:
    doc = default_document()
    patch(doc)
    with pytest.raises(RuleSetError) as info:
        load_rule_set(doc)
    assert info.value.field == field
    assert problem in info.value.problem


# --- weighed lines in a quote -----------------------------------------------------------------


def _weighed(grams: int, per_kg: int, category: str = "fresh") -> BasketLine:
    return BasketLine(
        sku="APPLE",
        name="散装苹果",
        category=category,
        quantity=1,
        unit_price_fen=weighed_amount_fen(grams, per_kg),
        weight_g=grams,
        price_per_kg_fen=per_kg,
    )


def test_a_weighed_line_earns_and_spends_like_any_line() -> None:
    rules = default_rules()
    lines = [_weighed(2345, 2580), item(4000, sku="RICE")]  # ¥60.50 of apples + ¥40 of rice
    q = quote_basket(rules, lines, member=member("silver", balance=5000), at=PLAIN_DAY)
    assert q.lines[0].net_fen == 6050  # 2345 g x ¥25.80/kg = 6050.1 fen -> 6050
    assert q.total_fen == 10050
    assert q.points_earned == 150  # floor(100.50) x 1.5
    assert q.max_usable_points == 2000  # 20% of ¥100.50, in hundreds
    spent = quote_basket(
        rules, lines, member=member("silver", balance=5000), at=PLAIN_DAY, points_to_use=2000
    )
    assert spent.lines[0].points_used > 0  # the weighed line takes its share of points


def test_a_weighed_line_in_an_excluded_category_earns_nothing() -> None:
    q = quote_basket(
        default_rules(), [_weighed(500, 2000, "deposit")], member=member(), at=PLAIN_DAY
    )
    assert q.total_fen == 1000
    assert q.points_earned == 0


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"weight_g": 0}, "a weighed line has one item of more than 0 g"),
        ({"quantity": 2}, "a weighed line has one item"),
        ({"weight_g": 1.5}, "a weight and its price must be whole numbers"),
        ({"price_per_kg_fen": True}, "a weight and its price must be whole numbers"),
    ],
)
def test_bad_weighed_lines(change: dict[str, Any], pattern: str) -> None:
    line = dataclasses.replace(_weighed(500, 2000), **change)
    with pytest.raises(InvalidInput, match=pattern):
        quote_basket(default_rules(), [line], member=None, at=PLAIN_DAY)
