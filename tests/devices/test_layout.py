"""Display widths, wrapping, columns and the receipt's layout ops."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest
from barcode.codex import Code128
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_app.devices.escpos_render import PrinterProfile
from pos_app.devices.layout import (
    CLOSING_PUNCTUATION,
    OPENING_PUNCTUATION,
    QR,
    Barcode,
    Cut,
    EastAsianMetrics,
    ItemColumns,
    Op,
    ReceiptCode,
    Separator,
    TextLine,
    char_width,
    code128_modules,
    code128_segments,
    code128_values,
    display_width,
    iter_text,
    layout_receipt,
    pad,
    strip_controls,
    two_columns,
    wrap,
)
from pos_app.devices.receipt import Receipt, ReceiptLine
from pos_app.devices.samples import SAMPLE_MALL_URL, sample_receipt

NARROW = EastAsianMetrics(ambiguous_wide=False)


@pytest.mark.parametrize(
    ("ch", "width"),
    [("a", 1), ("1", 1), (" ", 1), ("汉", 2), ("￥", 2), ("，", 2), ("：", 2), ("ｱ", 1),
     ("·", 2), ("×", 2), ("\u0301", 0), ("\u200d", 0), ("\x1b", 0), ("😀", 2)],
)  # fmt: skip
def test_char_width(ch: str, width: int) -> None:
    assert char_width(ch) == width


def test_ambiguous_characters_can_count_narrow() -> None:
    assert char_width("·", ambiguous_wide=False) == 1
    assert display_width("a·b", NARROW) == 3
    assert display_width("a·b") == 4


def test_display_width_of_mixed_text() -> None:
    assert display_width("可口可乐 Coca-Cola 330ml") == 8 + 1 + 9 + 1 + 5
    assert display_width("") == 0


def test_pad_uses_display_width() -> None:
    assert pad("可乐", 6) == "可乐  "
    assert pad("可乐", 6, "right") == "  可乐"
    assert pad("可乐", 7, "center") == " 可乐  "
    assert pad("可口可乐", 2) == "可口可乐"


def test_strip_controls_removes_printer_commands() -> None:
    assert strip_controls("坏\x1bp\x00名\x1dV\n") == "坏 p 名 V "


def test_wrap_breaks_chinese_between_characters() -> None:
    assert wrap("蓝月亮深层洁净护理洗衣液", 8) == ["蓝月亮深", "层洁净护", "理洗衣液"]


def test_wrap_never_splits_a_double_width_character() -> None:
    lines = wrap("蓝月亮深层洁净护理洗衣液", 7)
    assert lines == ["蓝月亮", "深层洁", "净护理", "洗衣液"]
    assert all(display_width(line) <= 7 for line in lines)


def test_wrap_keeps_ascii_words_whole() -> None:
    assert wrap("可口可乐 Coca-Cola 330ml", 16) == ["可口可乐", "Coca-Cola 330ml"]


def test_wrap_splits_words_longer_than_a_line() -> None:
    assert wrap("ABCDEFGHIJ", 4) == ["ABCD", "EFGH", "IJ"]


def test_wrap_hanging_indent_and_paragraphs() -> None:
    assert wrap("· 再攒 350 积分即可兑换蓝牙耳机", 16, indent="   ") == [
        "· 再攒 350 积分",
        "   即可兑换蓝牙",
        "   耳机",
    ]
    assert wrap("第一行\n第二行", 32) == ["第一行", "第二行"]
    assert wrap("", 10) == []


def test_wrap_keeps_a_leading_indent() -> None:
    assert wrap("  基础 128 + 金卡 ×2 +128 + 会员日 +128", 32, indent="  ") == [
        "  基础 128 + 金卡 ×2 +128 + 会",
        "  员日 +128",
    ]


def test_wrap_refuses_impossible_widths() -> None:
    with pytest.raises(ValueError, match="columns"):
        wrap("abc", 1)


def test_wrap_keeps_closing_punctuation_off_a_line_start() -> None:
    """The 58 mm receipt's suggestion that printed "）" on a line of its own."""
    assert wrap("· 可兑换 会员日双倍券（1000积分）", 28, indent="  ") == [
        "· 可兑换 会员日双倍券（1000",
        "  积分）",
    ]
    assert wrap("可兑换会员日双倍券（1000积分）。好", 16) == [
        "可兑换会员日双倍",
        "券（1000积分）。",
        "好",
    ]


def test_wrap_keeps_opening_punctuation_off_a_line_end() -> None:
    assert wrap("可兑换会员日双倍券（1000积分）", 18) == ["可兑换会员日双倍券", "（1000积分）"]
    assert wrap("好礼双倍「会员日」", 10) == ["好礼双倍", "「会员日」"]


# Words: an optional opening mark, 1-3 characters, an optional closing mark. No run that
# must stay together is wider than 10 columns, so from 12 columns on every break obeys.
_WORD = st.tuples(
    st.sampled_from(["", "（", "「", "("]),
    st.text(alphabet=st.sampled_from([*"汉字积分ab1"]), min_size=1, max_size=3),
    st.sampled_from(["", "）", "」", "，", "。", ")"]),
).map("".join)
_PUNCT_TEXT = st.lists(_WORD, max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_PUNCT_TEXT, width=st.integers(min_value=12, max_value=48))
def test_wrap_follows_chinese_line_breaking(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(display_width(line) <= width for line in lines)
    assert "".join(lines) == text
    for before, after in itertools.pairwise(lines):
        assert after[0] not in CLOSING_PUNCTUATION, lines
        assert before[-1] not in OPENING_PUNCTUATION, lines


@pytest.mark.parametrize("columns", [32, 48])
def test_item_names_and_suggestions_follow_chinese_line_breaking(columns: int) -> None:
    name = "蓝月亮深层洁净护理洗衣液（薰衣草香）超值装家庭囤货组合装（3kg+1kg）"
    sample = sample_receipt()
    assert sample.member is not None
    member = dataclasses.replace(
        sample.member,
        suggestions=("可兑换 会员日双倍券（1000积分）", "再攒 500 积分即可兑换「蓝牙耳机」"),
    )
    receipt = dataclasses.replace(sample, lines=(ReceiptLine(name, 1, 5990, 5990),), member=member)
    metrics = PrinterProfile(columns=columns).charset()  # type: ignore[arg-type]
    texts = list(iter_text(layout_receipt(receipt, columns, metrics=metrics)))
    for text in texts:
        body = _ITEM_ROW.sub(r"\1", text).strip()
        assert body[:1] not in CLOSING_PUNCTUATION, texts
        assert body[-1:] not in OPENING_PUNCTUATION, texts


_TEXT = st.text(alphabet=st.sampled_from([*"汉字收银积分￥，。ab1- ·é", "\u0301"]), max_size=80)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, width=st.integers(min_value=2, max_value=48))
def test_wrap_properties(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(display_width(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_two_columns_line_up() -> None:
    assert two_columns("实付", "￥128.30", 20) == ["实付" + " " * 8 + "￥128.30"]
    long = two_columns("积分抵扣（1000积分，会员日专享）", "-￥10.00", 32)
    assert display_width(long[0]) == 32
    assert long[0].endswith("-￥10.00")
    assert all(display_width(line) <= 32 for line in long)


def test_two_columns_puts_a_wide_value_on_its_own_line() -> None:
    lines = two_columns("一二三四五六七八九十", "X" * 20, 24)
    assert lines[-1] == " " * 4 + "X" * 20


@pytest.mark.parametrize(("columns", "name"), [(32, 8), (48, 22)])
def test_item_columns(columns: int, name: int) -> None:
    cols = ItemColumns.for_width(columns)
    assert cols.name == name
    assert cols.name + cols.qty + cols.price + cols.amount == columns


# --- CODE128 -----------------------------------------------------------------------


def test_code128_uses_code_set_c_for_digit_runs() -> None:
    assert code128_segments("S0120240518-0042") == [
        ("B", "S"),
        ("C", "0120240518"),
        ("B", "-"),
        ("C", "0042"),
    ]
    assert code128_segments("A12345") == [("B", "A1"), ("C", "2345")]
    assert code128_segments("AB-12") == [("B", "AB-12")]


@pytest.mark.parametrize("data", ["PJJ123C", "S0120240518-0042", "R1-0007", "ab{c}"])
def test_code128_values_match_python_barcode(data: str) -> None:
    reference = Code128(data)
    symbols = reference._build()
    symbols.append(reference._calculate_checksum(symbols))
    assert code128_values(data) == symbols


def test_code128_width() -> None:
    assert code128_values("PJJ123C") == [104, 48, 42, 42, 17, 18, 19, 35, 55]
    assert code128_modules("PJJ123C") == 9 * 11 + 13 + 20


def test_code128_refuses_non_ascii() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        code128_segments("单号1")


# --- the receipt ---------------------------------------------------------------------


def _ops(receipt: Receipt, columns: int, receipt_code: ReceiptCode = "code128") -> list[Op]:
    metrics = PrinterProfile(columns=columns).charset()  # type: ignore[arg-type]
    return layout_receipt(receipt, columns, metrics=metrics, receipt_code=receipt_code)


@pytest.mark.parametrize("columns", [32, 48])
def test_no_line_is_wider_than_the_paper(columns: int) -> None:
    for receipt in (
        sample_receipt(),
        sample_receipt(member=False),
        sample_receipt(refund=True, reprint=True),
        sample_receipt(language="en"),
    ):
        metrics = PrinterProfile(columns=columns).charset()  # type: ignore[arg-type]
        ops = layout_receipt(receipt, columns, metrics=metrics)
        for text in iter_text(ops):
            assert display_width(text, metrics) <= columns, text
        assert isinstance(ops[-1], Cut)


_ITEM_ROW = re.compile(r"^(.*?) +(\d+) +(\d+\.\d\d) +(\d+\.\d\d)$")


@pytest.mark.parametrize("columns", [32, 48])
def test_item_numbers_line_up_under_the_header(columns: int) -> None:
    cols = ItemColumns.for_width(columns)
    metrics = PrinterProfile(columns=columns).charset()  # type: ignore[arg-type]
    texts = list(iter_text(layout_receipt(sample_receipt(), columns, metrics=metrics)))
    header = next(t for t in texts if t.startswith("商品 "))
    qty_end = cols.name + cols.qty
    price_end = qty_end + cols.price
    assert display_width(header[: header.index("数量") + 2], metrics) == qty_end
    assert display_width(header[: header.index("单价") + 2], metrics) == price_end
    assert display_width(header, metrics) == columns
    rows = [t for t in texts if _ITEM_ROW.match(t)]
    assert len(rows) == 5
    for row in rows:
        match = _ITEM_ROW.match(row)
        assert match is not None
        assert display_width(row[: match.end(2)], metrics) == qty_end, row
        assert display_width(row[: match.end(3)], metrics) == price_end, row
        assert display_width(row, metrics) == columns, row


@pytest.mark.parametrize("columns", [32, 48])
def test_long_names_wrap(columns: int) -> None:
    name = "蓝月亮 深层洁净护理洗衣液 薰衣草香 3kg+1kg 超值装"
    receipt = dataclasses.replace(sample_receipt(), lines=(ReceiptLine(name, 1, 5990, 5990),))
    metrics = PrinterProfile(columns=columns).charset()  # type: ignore[arg-type]
    texts = list(iter_text(layout_receipt(receipt, columns, metrics=metrics)))
    start = next(i for i, t in enumerate(texts) if t.startswith("蓝月亮"))
    end = next(i for i, t in enumerate(texts) if t.startswith("-") and i > start)
    block = texts[start:end]
    assert len(block) >= 3
    joined = "".join(_ITEM_ROW.sub(r"\1", t).strip() for t in block)
    assert joined.replace(" ", "") == name.replace(" ", "")


def test_layout_ops_of_the_member_receipt() -> None:
    ops = _ops(sample_receipt(), 48)
    assert QR(SAMPLE_MALL_URL, module_dots=7) in ops
    assert Barcode("S0120240518-0042", module_dots=3) in ops
    store = ops[0]
    assert isinstance(store, TextLine)
    assert (store.align, store.bold, store.double_height) == ("center", True, True)
    assert sum(isinstance(op, Separator) for op in ops) >= 6
    earned = next(op for op in ops if isinstance(op, TextLine) and "本单获得" in op.text)
    assert earned == TextLine("本单获得 384 积分", "left", True, True)


def test_receipt_number_falls_back_to_qr_when_the_barcode_is_too_wide() -> None:
    receipt = dataclasses.replace(sample_receipt(), receipt_no="STORE-A-TILL-B-XYZ-QWERTY")
    ops32 = _ops(receipt, 32)
    assert QR(receipt.receipt_no, module_dots=4) in ops32
    assert not any(isinstance(op, Barcode) for op in ops32)


def test_receipt_code_choice() -> None:
    qr_ops = _ops(sample_receipt(), 48, receipt_code="qr")
    assert QR("S0120240518-0042", module_dots=4) in qr_ops
    none_ops = _ops(sample_receipt(), 48, receipt_code="none")
    assert not any(isinstance(op, Barcode) for op in none_ops)
    assert [op for op in none_ops if isinstance(op, QR)] == [QR(SAMPLE_MALL_URL, module_dots=7)]


def test_english_labels() -> None:
    texts = list(iter_text(_ops(sample_receipt(language="en"), 48)))
    assert any(t.startswith("TOTAL PAID") for t in texts)
    assert "Points earned: 384" in texts
    assert not any("实付" in t for t in texts)


def test_layout_refuses_narrow_paper() -> None:
    with pytest.raises(ValueError, match="columns"):
        layout_receipt(sample_receipt(), 20)
