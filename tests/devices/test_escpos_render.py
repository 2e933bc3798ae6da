"""The ESC/POS bytes: encodings, Chinese mode, styles, QR codes, barcodes, privacy."""

from __future__ import annotations

import dataclasses
import re

import cv2
import numpy as np
import pytest
import qrcode
from pyzbar import pyzbar

from pos_app.devices.escpos_render import (
    INIT,
    PARTIAL_CUT,
    PrinterCharset,
    PrinterProfile,
    drawer_kick_command,
    qr_native_commands,
    render,
)
from pos_app.devices.layout import ItemColumns, display_width
from pos_app.devices.receipt import Receipt, ReceiptLine
from pos_app.devices.samples import SAMPLE_MALL_URL, sample_receipt
from tests.devices.escpos_stream import Stream, StreamError, decode_code128, parse

CHINESE_ENCODINGS = ["gb18030", "gbk"]
ALL_ENCODINGS = [*CHINESE_ENCODINGS, "utf-8"]
FULL_PHONE = "13812341234"
MASKED_PHONE = "138****1234"
_ITEM_ROW = re.compile(r"^(.*?) +(\d+) +(\d+\.\d\d) +(\d+\.\d\d)$")


def _render(receipt: Receipt, **profile: object) -> tuple[bytes, Stream, list[str]]:
    prof = PrinterProfile(**profile)  # type: ignore[arg-type]
    data = render(receipt, prof)
    stream = parse(data)
    return data, stream, stream.text(prof.encoding)


def decode_qr_image(image: np.ndarray) -> str:
    """Decode a QR code from a grey image with OpenCV (pyzbar as a second opinion)."""
    padded = cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(padded)
    if text:
        return str(text)
    found = pyzbar.decode(padded, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return found[0].data.decode("utf-8") if found else ""


# --- encodings and Chinese mode ------------------------------------------------------


@pytest.mark.parametrize("encoding", ALL_ENCODINGS)
@pytest.mark.parametrize("columns", [32, 48])
def test_chinese_text_decodes_from_the_profile_encoding(encoding: str, columns: int) -> None:
    data, _, text = _render(sample_receipt(), encoding=encoding, columns=columns)
    assert data.startswith(INIT)
    joined = "\n".join(text)
    assert "优选生活超市（人民广场店）" in joined
    assert "收银台：T02" in joined
    assert "本单获得 384 积分" in joined
    assert "扫码进入积分商城" in joined
    assert "谢谢惠顾，欢迎再次光临" in joined
    assert re.search(r"实付 +￥128\.30", joined)
    assert "?" not in joined
    assert "□" not in joined


@pytest.mark.parametrize("encoding", CHINESE_ENCODINGS)
def test_chinese_mode_is_entered_before_chinese_text(encoding: str) -> None:
    data, stream, _ = _render(sample_receipt(), encoding=encoding)
    assert stream.commands[:2] == ["init", "chinese_on"]
    assert stream.high_bytes_outside_chinese_mode == 0
    assert all(line.chinese_mode for line in stream.lines)
    assert data.index(b"\x1c&") < data.index("优选".encode(encoding))
    assert stream.commands.count("chinese_off") == 1
    assert stream.commands.index("chinese_off") < stream.commands.index("cut")


def test_chinese_mode_can_be_turned_off() -> None:
    _, stream, text = _render(sample_receipt(), encoding="gb18030", chinese_mode=False)
    assert "chinese_on" not in stream.commands
    assert "优选生活超市（人民广场店）" in text


def test_utf8_printers_get_no_chinese_mode_commands() -> None:
    _, stream, _ = _render(sample_receipt(), encoding="utf-8")
    assert "chinese_on" not in stream.commands
    assert "chinese_off" not in stream.commands


@pytest.mark.parametrize("encoding", CHINESE_ENCODINGS)
def test_yuan_sign_and_fullwidth_punctuation_survive(encoding: str) -> None:
    data, _, text = _render(sample_receipt(), encoding=encoding)
    assert "￥".encode(encoding) == b"\xa3\xa4"
    assert data.count(b"\xa3\xa4") >= 6  # every total carries ￥
    joined = "\n".join(text)
    for ch in "￥，：（）":
        assert ch in joined


def test_narrow_yen_sign_is_mapped_for_gbk() -> None:
    receipt = dataclasses.replace(
        sample_receipt(), lines=(ReceiptLine("礼品卡 ¥100 面值", 1, 10000, 10000),)
    )
    _, _, text = _render(receipt, encoding="gbk")
    assert "礼品卡 ￥100 面值" in "\n".join(text)


def test_yuan_sign_on_big5_printers() -> None:
    receipt = dataclasses.replace(
        sample_receipt(), store_name="優選生活超市", lines=(ReceiptLine("禮品卡", 1, 100, 100),)
    )
    _, stream, text = _render(receipt, encoding="big5")
    joined = "\n".join(text)
    assert "優選生活超市" in joined
    assert "¥143.30" in joined  # Big5 has ¥ (A2 44) but not ￥
    assert "□" in joined  # simplified characters Big5 lacks are visibly replaced
    assert stream.high_bytes_outside_chinese_mode == 0


def test_unprintable_characters_get_a_visible_substitute() -> None:
    receipt = dataclasses.replace(
        sample_receipt(), lines=(ReceiptLine("巧克力😀 €5 “特价”•新品™", 1, 100, 100),)
    )
    _, _, text = _render(receipt, encoding="gbk", columns=48)
    start = next(i for i, t in enumerate(text) if t.startswith("巧克力"))
    name = _ITEM_ROW.sub(r"\1", text[start]) + text[start + 1]
    assert name == "巧克力□ EUR5 “特价”·新品TM"
    _, _, text18030 = _render(receipt, encoding="gb18030", columns=48)
    assert next(t for t in text18030 if t.startswith("巧克力")).startswith("巧克力□ €5")


def test_printer_charset_widths() -> None:
    gbk = PrinterCharset("gbk")
    assert [gbk.char_width(c) for c in "a汉￥·é"] == [1, 2, 2, 2, 2]
    assert gbk.clean("¥1 ©") == "￥1 (C)"
    big5 = PrinterCharset("big5")
    assert big5.char_width("¥") == 2  # double-byte in Big5, although "narrow" in Unicode
    assert PrinterCharset("utf-8").clean("¥\x1b") == "¥ "


def test_control_characters_in_names_cannot_inject_commands() -> None:
    receipt = dataclasses.replace(
        sample_receipt(), lines=(ReceiptLine("坏\x1bp\x00\x19\x1dV\x00名\n字", 1, 100, 100),)
    )
    data, stream, text = _render(receipt)
    assert stream.drawer_kicks == []
    assert stream.cuts == [1]
    assert any(t.startswith("坏 p   V 名 字 ") for t in text)
    assert b"\x1bp" not in data


# --- privacy -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ALL_ENCODINGS)
def test_masked_phone_only(encoding: str) -> None:
    data, _, text = _render(sample_receipt(), encoding=encoding)
    assert any(MASKED_PHONE in t for t in text)
    assert FULL_PHONE.encode("ascii") not in data
    assert FULL_PHONE.encode("utf-16-le") not in data
    assert FULL_PHONE not in "".join(text).replace(" ", "")


# --- columns ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ALL_ENCODINGS)
@pytest.mark.parametrize("columns", [32, 48])
def test_columns_line_up_on_paper(encoding: str, columns: int) -> None:
    profile = PrinterProfile(columns=columns, encoding=encoding)  # type: ignore[arg-type]
    stream = parse(render(sample_receipt(), profile))
    cols = ItemColumns.for_width(columns)
    rows = 0
    for line in stream.lines:
        text = line.decode(encoding)
        # What the printer sees: one column per byte on double-byte printers.
        width = len(line.raw) if encoding != "utf-8" else display_width(text)
        assert width <= columns, text
        match = _ITEM_ROW.match(text)
        if match:
            rows += 1
            assert width == columns
            assert display_width(text[: match.end(2)]) == cols.name + cols.qty
            assert display_width(text[: match.end(3)]) == cols.name + cols.qty + cols.price
        if re.search(r"￥\d+\.\d\d$", text):
            assert width == columns, text  # totals end flush right, under the amounts
    assert rows == 5


@pytest.mark.parametrize("columns", [32, 48])
def test_long_names_wrap_on_paper(columns: int) -> None:
    name = "德芙 Dove 丝滑牛奶巧克力 252g 碗装 (会员价)"
    _, _, text = _render(sample_receipt(), columns=columns)
    start = next(i for i, t in enumerate(text) if t.startswith("德芙"))
    assert not text[start].rstrip().endswith("(会员价)")
    block = "".join(_ITEM_ROW.sub(r"\1", t).strip() for t in text[start : start + 3])
    assert name.replace(" ", "") in block.replace(" ", "")


# --- receipt variants -----------------------------------------------------------------


def test_reprint_is_marked_prominently_and_does_not_open_the_drawer() -> None:
    _, stream, _ = _render(sample_receipt(reprint=True), drawer_kick=True)
    marks = [line for line in stream.lines if "重印" in line.decode("gb18030")]
    assert len(marks) == 2  # top and bottom
    assert all(m.bold and m.size == 0x01 and m.align == 1 for m in marks)
    assert stream.drawer_kicks == []


def test_a_sale_kicks_the_drawer_when_configured() -> None:
    data, stream, _ = _render(sample_receipt(), drawer_kick=True)
    assert data.startswith(INIT + drawer_kick_command())
    assert len(stream.drawer_kicks) == 1
    _, plain, _ = _render(sample_receipt())
    assert plain.drawer_kicks == []


def test_refund_receipt() -> None:
    _, _, text = _render(sample_receipt(refund=True))
    joined = "\n".join(text)
    assert "退货小票" in joined
    assert "原单号：S0120240518-0042" in joined
    assert re.search(r"退款合计 +￥14\.50", joined)
    assert "本单扣回 28 积分" in joined
    assert "本单获得" not in joined
    assert "重印" not in joined


def test_sale_without_member_prints_the_join_prompt() -> None:
    _, stream, text = _render(sample_receipt(member=False))
    joined = "\n".join(text)
    assert "注册会员，本单可得 128 积分！" in joined
    assert "会员：" not in joined
    assert "积分抵扣" not in joined
    assert stream.qr_codes == [] or all(q.data != SAMPLE_MALL_URL.encode() for q in stream.qr_codes)


def test_english_receipt() -> None:
    _, _, text = _render(sample_receipt(language="en"), encoding="utf-8")
    joined = "\n".join(text)
    assert re.search(r"TOTAL PAID +¥128\.30", joined)
    assert "Points earned: 384" in joined


def test_cut_and_feed() -> None:
    data, stream, _ = _render(sample_receipt(), feed_before_cut=5)
    assert data.endswith(b"\x1bd\x05" + PARTIAL_CUT)
    assert stream.cuts == [1]
    data, stream, _ = _render(sample_receipt(), cut=False)
    assert stream.cuts == []
    assert data.endswith(b"\x1bd\x04")


def test_render_is_deterministic() -> None:
    profile = PrinterProfile(columns=32, qr="image")
    assert render(sample_receipt(), profile) == render(sample_receipt(), profile)


# --- QR codes and barcodes -------------------------------------------------------------


@pytest.mark.parametrize("columns", [32, 48])
def test_native_qr_holds_the_mall_url_and_is_decodable(columns: int) -> None:
    _, stream, _ = _render(sample_receipt(), columns=columns, qr="native")
    (qr,) = stream.qr_codes
    assert qr.data == SAMPLE_MALL_URL.encode("ascii")
    assert (qr.model, qr.ec) == (2, ord("1"))  # model 2, error correction M
    assert 1 <= qr.module <= 16
    # Prove the stored data makes a decodable symbol: draw it the way a printer would.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=qr.module)
    code.add_data(qr.data.decode("utf-8"))
    image = np.array(code.make_image().get_image().convert("L"))
    assert decode_qr_image(image) == SAMPLE_MALL_URL


@pytest.mark.parametrize("columns", [32, 48])
def test_image_qr_is_a_raster_that_decodes_to_the_mall_url(columns: int) -> None:
    _, stream, _ = _render(sample_receipt(), columns=columns, qr="image")
    assert stream.qr_codes == []
    (raster,) = stream.rasters
    assert raster.width_bytes * 8 == columns * 12  # full paper width, QR centred
    assert decode_qr_image(raster.image()) == SAMPLE_MALL_URL


def test_receipt_number_as_code128() -> None:
    for columns, module in ((32, 2), (48, 3)):
        _, stream, _ = _render(sample_receipt(), columns=columns)
        ((m, payload, width, height),) = stream.barcodes
        assert m == 73
        assert decode_code128(payload) == "S0120240518-0042"
        assert (width, height) == (module, 64)


def test_receipt_number_as_qr() -> None:
    _, stream, _ = _render(sample_receipt(), receipt_code="qr")
    assert [q.data for q in stream.qr_codes] == [
        SAMPLE_MALL_URL.encode(),
        b"S0120240518-0042",
    ]
    assert stream.barcodes == []
    _, stream, _ = _render(sample_receipt(), receipt_code="qr", qr="image")
    assert decode_qr_image(stream.rasters[1].image()) == "S0120240518-0042"


def test_qr_native_commands_bytes() -> None:
    assert qr_native_commands("AB", 6) == (
        b"\x1d(k\x04\x001A2\x00"
        b"\x1d(k\x03\x001C\x06"
        b"\x1d(k\x03\x001E1"
        b"\x1d(k\x05\x001P0AB"
        b"\x1d(k\x03\x001Q0"
    )
    with pytest.raises(ValueError, match="module"):
        qr_native_commands("AB", 17)


def test_drawer_kick_command() -> None:
    assert drawer_kick_command() == b"\x1bp\x00\x32\xfa"
    assert drawer_kick_command(5, on_ms=50, off_ms=100) == b"\x1bp\x01\x19\x32"


def test_profile_validation() -> None:
    with pytest.raises(ValueError, match="columns"):
        PrinterProfile(columns=40)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoding"):
        PrinterProfile(encoding="shift_jis")  # type: ignore[arg-type]
    assert PrinterProfile(columns=32).dots == 384
    assert PrinterProfile(columns=48).dots == 576


def test_parser_is_strict() -> None:
    with pytest.raises(StreamError):
        parse(b"\x1b@\x1bz\x00")
    with pytest.raises(StreamError):
        parse(b"abc")
