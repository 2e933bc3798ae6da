"""The PNG preview: size, the CJK font, and codes a scanner can read back."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from barcode.charsets import code128 as barcode_code128
from PIL import Image, ImageDraw, ImageFont
from pyzbar import pyzbar

from pos_app.devices import preview
from pos_app.devices.escpos_render import PrinterProfile
from pos_app.devices.layout import iter_text, layout_receipt
from pos_app.devices.preview import render_preview, save_preview
from pos_app.devices.samples import SAMPLE_MALL_URL, sample_receipt
from pos_app.resources import cjk_font_path

REPO = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    path = REPO / "scripts" / "receipt_previews.py"
    spec = importlib.util.spec_from_file_location("receipt_previews", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grey(image: Image.Image) -> np.ndarray:
    return np.array(image.convert("L"))


def _decode_qr(image: np.ndarray) -> str:
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("previews")
    paths: list[Path] = _load_script().generate_previews(out)
    return paths


def test_script_writes_both_paper_widths(previews: list[Path]) -> None:
    assert [p.name for p in previews] == ["receipt-58mm.png", "receipt-80mm.png"]
    widths = []
    for path in previews:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.mode == "1"
            widths.append(image.width)
            assert image.height > 1000
    assert widths == [384, 576]


@pytest.mark.parametrize("index", [0, 1])
def test_preview_qr_decodes_to_the_mall_url(previews: list[Path], index: int) -> None:
    with Image.open(previews[index]) as image:
        assert _decode_qr(_grey(image)) == SAMPLE_MALL_URL


@pytest.mark.parametrize("columns", [32, 48])
def test_preview_barcode_scans_back_to_the_receipt_number(columns: int) -> None:
    image = render_preview(sample_receipt(), PrinterProfile(columns=columns, qr="image"))  # type: ignore[arg-type]
    found = pyzbar.decode(_grey(image), symbols=[pyzbar.ZBarSymbol.CODE128])
    assert [f.data.decode("ascii") for f in found] == ["S0120240518-0042"]
    assert _decode_qr(_grey(image)) == SAMPLE_MALL_URL


def test_the_font_has_a_glyph_for_every_character_printed() -> None:
    """No tofu: every character of the sample receipts differs from the font's .notdef box."""
    font = ImageFont.truetype(str(cjk_font_path()), preview.FONT_SIZE)

    def drawn(ch: str) -> bytes:
        canvas = Image.new("L", (48, 40), 0)
        ImageDraw.Draw(canvas).text((4, 30), ch, font=font, fill=255, anchor="ls")
        return canvas.tobytes()

    notdef = drawn("\U0010fffd")
    chars: set[str] = set()
    for receipt in (sample_receipt(), sample_receipt(refund=True, reprint=True, member=False)):
        profile = PrinterProfile(columns=32)
        chars.update("".join(iter_text(layout_receipt(receipt, 32, metrics=profile.charset()))))
    chars.discard(" ")
    missing = sorted(ch for ch in chars if drawn(ch) == notdef)
    assert missing == []


def test_save_preview_creates_folders(tmp_path: Path) -> None:
    path = save_preview(
        sample_receipt(refund=True, reprint=True), tmp_path / "a" / "b.png", PrinterProfile()
    )
    with Image.open(path) as image:
        assert image.width == 576


def test_variants_render() -> None:
    plain = render_preview(sample_receipt(member=False))
    member = render_preview(sample_receipt())
    assert member.height > plain.height  # the member block and its QR code


def test_code128_bar_table_matches_python_barcode() -> None:
    def widths(pattern: str) -> str:
        return "".join(str(len(list(run))) for _, run in itertools.groupby(pattern))

    assert list(preview._CODE128_WIDTHS) == [widths(p) for p in barcode_code128.CODES]
    assert widths(barcode_code128.STOP + "11") == preview._CODE128_STOP
