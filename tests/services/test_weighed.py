"""Weighed goods (称重码) end to end on a real till file: scan, sell, earn, receipt, refund."""

from __future__ import annotations

import json

import pytest

from pos_app.core.errors import (
    BadCheckDigit,
    ImpossibleWeight,
    UnknownScaleLayout,
)
from pos_app.core.rules import default_rule_set, load_rule_set
from pos_app.core.scale import build_scale_label
from pos_app.devices.escpos_render import PrinterProfile, render
from pos_app.devices.layout import iter_text, layout_receipt
from pos_app.services import receipts, refunds
from pos_app.services.auth import UserInfo
from pos_app.services.context import TillContext
from pos_app.services.scanning import WeighedItem, find_item
from pos_app.services.till_session import ProductInfo, ProductInput, UnknownProduct, upsert_products
from pos_app.store.types import new_id
from tests.devices.escpos_stream import parse
from tests.services.support import MANAGER_PIN, item, nothing_written, rows, sell

#: Price labels on 20 (the default layout), weight labels on 21 (item 5 + grams 5).
WEIGHT_LAYOUT = {"prefixes": ["21"], "item_digits": 5, "value": "weight", "value_digits": 5}
PRICE_LAYOUT = {"prefixes": ["20"], "item_digits": 5, "value": "price", "value_digits": 5}


@pytest.fixture
def scales(ctx: TillContext) -> TillContext:
    """The till with both label layouts and the weighed products in its catalogue."""
    doc = json.loads(default_rule_set().to_json())
    doc["version"] = "2026.12-scale"
    doc["scale"] = {"layouts": [PRICE_LAYOUT, WEIGHT_LAYOUT], "max_weight_g": 15000}
    ctx.install_rule_set(load_rule_set(doc))
    upsert_products(
        ctx,
        [
            # Price per kg: ¥25.80, members ¥23.80.
            ProductInput("04711", "散装富士苹果", "fresh", 2580, member_price_fen=2380),
            ProductInput("123", "称重牛肉", "fresh", 8800),
            ProductInput("00077", "散装押金", "deposit", 1000),
            ProductInput("COLA", "可乐", "drinks", 300, barcode="6901234000019"),
            ProductInput("STORE1", "自有条码商品", "goods", 500, barcode="2500000000007"),
        ],
    )
    return ctx


def label(kind: str, item_code: str, value: int) -> str:
    layout = load_rule_set(
        {
            **json.loads(default_rule_set().to_json()),
            "scale": {"layouts": [PRICE_LAYOUT, WEIGHT_LAYOUT]},
        }
    ).scale
    prefix = "21" if kind == "weight" else "20"
    lay = layout.layout_for(prefix)
    assert lay is not None
    return build_scale_label(lay, prefix, item_code, value)


def test_a_weight_label_rings_up_weight_times_price(scales: TillContext) -> None:
    found = find_item(scales, label("weight", "4711", 456))
    assert isinstance(found, WeighedItem)
    assert found.product.sku == "04711"
    assert found.weight_g == 456
    # 456 g x ¥25.80/kg = 1176.48 fen -> 1176 (nearest fen, halves up)
    assert found.price_fen(member=False) == 1176
    assert found.price_per_kg_fen(member=False) == 2580
    # The member price per kg applies once a member is identified: 1085.28 -> 1085
    assert found.price_fen(member=True) == 1085
    line = found.as_line(member=False)
    assert (line.quantity, line.unit_price_fen, line.weight_g, line.price_per_kg_fen) == (
        1,
        1176,
        456,
        2580,
    )


def test_a_price_label_rings_up_its_printed_price(scales: TillContext) -> None:
    found = find_item(scales, label("price", "123", 4321))  # item code 00123 -> SKU 123
    assert isinstance(found, WeighedItem)
    assert found.product.name == "称重牛肉"
    assert found.price_fen(member=True) == 4321  # the scale's price, member or not
    assert found.weight_g is None
    assert found.price_per_kg_fen(member=False) is None


def test_ordinary_barcodes_and_store_codes_still_find_products(scales: TillContext) -> None:
    assert isinstance(find_item(scales, "6901234000019"), ProductInfo)
    # 25 is no label prefix here: the store's own barcode is an ordinary product.
    assert find_item(scales, "2500000000007").sku == "STORE1"  # type: ignore[union-attr]
    assert find_item(scales, "COLA").sku == "COLA"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "error", "text"),
    [
        ("2104711004560", BadCheckDigit, "check digit is wrong"),
        ("2600000000002", UnknownScaleLayout, "no scale label layout is set up for prefix 26"),
        (None, ImpossibleWeight, "weight of 15001 g is not possible"),
        (None, ImpossibleWeight, "weight of 0 g is not possible"),
        (None, UnknownProduct, "No product has the item code 99999"),
    ],
    ids=["check digit", "unknown layout", "too heavy", "zero", "unknown item"],
)
def test_bad_labels_are_refused_and_nothing_is_written(
    scales: TillContext,
    code: str | None,
    error: type[Exception],
    text: str,
    request: pytest.FixtureRequest,
) -> None:
    if code is None:
        code = {
            "too heavy": label("weight", "4711", 15001),
            "zero": label("weight", "4711", 0),
            "unknown item": label("weight", "99999", 500),
        }[request.node.callspec.id]
    with nothing_written(scales), pytest.raises(error, match=text):
        find_item(scales, code)


def test_a_weighed_sale_earns_prints_and_refunds_by_its_amount(
    scales: TillContext, cashier: UserInfo, manager: UserInfo, regular: str
) -> None:
    apples = find_item(scales, label("weight", "4711", 2345))
    assert isinstance(apples, WeighedItem)
    lines = [apples.as_line(member=True), item(4000, sku="RICE")]
    # the shelf price, and the member's: 2345 g x ¥23.80 = 5581.1 fen, charged to a member
    assert (lines[0].unit_price_fen, lines[0].member_price_fen) == (6050, 5581)
    sale = sell(scales, cashier.id, regular, lines)
    assert sale.total_fen == 9581
    assert sale.points_earned == 95  # like any food line: floor(95.81) x regular 1
    stored = rows(
        scales,
        "SELECT sku, quantity, unit_price_fen, weight_g, price_per_kg_fen, earn_points "
        "FROM sale_lines WHERE sale_id = :s ORDER BY line_no",
        s=sale.sale_id,
    )
    assert stored[0] == ("04711", 1, 5581, 2345, 2380, 55)

    # The receipt shows the weight and the price per kg on 58 mm and 80 mm paper.
    receipt = receipts.build_receipt(scales, sale.receipt_no)
    for columns in (32, 48):
        text = "\n".join(iter_text(layout_receipt(receipt, columns)))
        assert "散装富士苹果" in text
        assert "重量 2.345kg 单价 23.80/kg" in text, text
        printed = parse(render(receipt, PrinterProfile(columns=columns)))
        assert any("重量 2.345kg" in ln for ln in printed.text("gb18030"))
    english = receipts.build_receipt(scales, sale.receipt_no, language="en")
    assert "Weight 2.345kg at 23.80/kg" in "\n".join(iter_text(layout_receipt(english, 48)))

    # A refund returns the weighed line whole, by its printed amount, points and all.
    view = refunds.find_sale(scales, sale.receipt_no)
    weighed = view.lines[0]
    assert (weighed.quantity, weighed.weight_g) == (1, 2345)
    done = refunds.refund(
        scales,
        refund_id=new_id(),
        receipt_no=sale.receipt_no,
        request={weighed.id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin=MANAGER_PIN,
        reason="不新鲜",
    )
    assert done.quote.cash_refund_fen == 5581
    assert done.quote.points_reversed == 55
    refund_text = "\n".join(
        iter_text(layout_receipt(receipts.build_refund_receipt(scales, done.refund_no), 32))
    )
    assert "重量 2.345kg" in refund_text


def test_a_price_label_line_earns_by_its_category(
    scales: TillContext, cashier: UserInfo, regular: str
) -> None:
    deposit = find_item(scales, label("price", "77", 5000))
    assert isinstance(deposit, WeighedItem)
    sale = sell(scales, cashier.id, regular, [deposit.as_line(member=True)])
    assert sale.total_fen == 5000
    assert sale.points_earned == 0  # deposit is an excluded category


def test_a_label_is_read_before_a_barcode_that_looks_the_same(scales: TillContext) -> None:
    code = label("weight", "4711", 456)
    upsert_products(scales, [ProductInput("CLASH", "同码商品", "goods", 100, barcode=code)])
    found = find_item(scales, code)
    assert isinstance(found, WeighedItem)  # the configured prefix makes it a scale label
    assert found.product.sku == "04711"
