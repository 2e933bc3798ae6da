"""On-screen receipt preview: the same layout ops the printer gets, drawn with Pillow.

The preview imitates a thermal printer: a 384-dot (58 mm) or 576-dot (80 mm) wide
black-and-white image, a 12 x 24 dot character cell per column (a Chinese character
takes two), text drawn from the shipped CJK font (WenQuanYi Micro Hei), bold as a
double strike, double height stretched, the QR code and the CODE128 barcode drawn
module by module. Because it draws the layout ops of
:func:`~pos_app.devices.layout.layout_receipt` for a :class:`PrinterProfile`, it shows
the same line breaks and substitutions the printer would print.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from pos_app.devices.escpos_render import (
    QR_QUIET_MODULES,
    PrinterCharset,
    PrinterProfile,
    qr_matrix,
    qr_native_module,
)
from pos_app.devices.layout import (
    CODE128_QUIET_MODULES,
    DOTS_PER_COLUMN,
    QR,
    Barcode,
    Cut,
    Feed,
    Op,
    Separator,
    TextLine,
    code128_values,
    display_width,
    layout_receipt,
)
from pos_app.devices.receipt import Receipt
from pos_app.resources import cjk_font_path

CELL_HEIGHT: Final = 24
LINE_HEIGHT: Final = 30  # the printers' default line spacing (ESC 2)
MARGIN: Final = 24
FONT_SIZE: Final = 22
BASELINE: Final = 19
WHITE: Final = 255
BLACK: Final = 0

# CODE128 bar/space widths of symbols 0..105, then the stop pattern.
# fmt: off
_CODE128_WIDTHS: Final = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232",
)
# fmt: on
_CODE128_STOP: Final = "2331112"


def render_preview(receipt: Receipt, profile: PrinterProfile | None = None) -> Image.Image:
    """Draw a receipt as the printer would print it.

    Args:
        receipt: What to print.
        profile: The printer (paper width, character set, QR mode); an 80 mm GB18030
            printer by default.

    Returns:
        A mode ``"1"`` image, 384 or 576 pixels wide.
    """
    profile = profile or PrinterProfile()
    ops = layout_receipt(
        receipt, profile.columns, metrics=profile.charset(), receipt_code=profile.receipt_code
    )
    return render_ops_preview(ops, profile)


def save_preview(receipt: Receipt, path: Path, profile: PrinterProfile | None = None) -> Path:
    """Draw a receipt and save it as a PNG.

    Args:
        receipt: What to print.
        path: Where to write the PNG (parent folders are created).
        profile: The printer; an 80 mm GB18030 printer by default.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    render_preview(receipt, profile).save(path, format="PNG", optimize=True)
    return path


def render_ops_preview(ops: Sequence[Op], profile: PrinterProfile) -> Image.Image:
    """Draw laid-out ops.

    Args:
        ops: Layout ops for ``profile.columns`` columns.
        profile: The printer.

    Returns:
        A mode ``"1"`` image, ``profile.dots`` pixels wide.
    """
    return _Painter(profile).paint(ops)


class _Painter:
    """Draws one preview (one instance per call; glyphs are cached per instance)."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.charset: PrinterCharset = profile.charset()
        self.width = profile.dots
        self.font = ImageFont.truetype(
            str(cjk_font_path()), FONT_SIZE, layout_engine=ImageFont.Layout.BASIC
        )
        self.glyphs: dict[tuple[str, int], Image.Image] = {}

    def paint(self, ops: Sequence[Op]) -> Image.Image:
        height = MARGIN * 2 + sum(self.height(op) for op in ops)
        image = Image.new("L", (self.width, height), WHITE)
        y = MARGIN
        for op in ops:
            self.draw(image, op, y)
            y += self.height(op)
        return image.point(lambda v: BLACK if v < 128 else WHITE).convert("1")

    # sizes

    def height(self, op: Op) -> int:
        if isinstance(op, TextLine):
            return LINE_HEIGHT + (CELL_HEIGHT if op.double_height else 0)
        if isinstance(op, Separator):
            return LINE_HEIGHT
        if isinstance(op, Feed):
            return LINE_HEIGHT * op.lines
        if isinstance(op, QR):
            matrix_size, module = self.qr_geometry(op)
            return (matrix_size + 2 * QR_QUIET_MODULES) * module
        if isinstance(op, Barcode):
            return op.height_dots
        assert isinstance(op, Cut)
        return LINE_HEIGHT

    def qr_geometry(self, op: QR) -> tuple[int, int]:
        size = len(qr_matrix(op.data))
        if self.profile.qr == "native":
            module = qr_native_module(op.data, op.module_dots, self.width)
        else:
            module = op.module_dots
        return size, max(1, min(module, self.width // (size + 2 * QR_QUIET_MODULES)))

    # drawing

    def draw(self, image: Image.Image, op: Op, y: int) -> None:
        if isinstance(op, TextLine):
            self.text(image, op.text, y, op.align, op.bold, op.double_height)
        elif isinstance(op, Separator):
            self.text(image, op.text, y, "left", False, False)
        elif isinstance(op, QR):
            self.qr(image, op, y)
        elif isinstance(op, Barcode):
            self.barcode(image, op, y)
        elif isinstance(op, Cut):
            self.cut_mark(image, y)

    def text(
        self, image: Image.Image, text: str, y: int, align: str, bold: bool, double: bool
    ) -> None:
        columns = display_width(text, self.charset)
        free = max(0, self.profile.columns - columns)
        column = free // 2 if align == "center" else free if align == "right" else 0
        scale = 2 if double else 1
        for ch in text:
            cells = self.charset.char_width(ch)
            if cells == 0:
                continue
            if ch != " ":
                glyph = self.glyph(ch, cells, scale)
                x = column * DOTS_PER_COLUMN
                image.paste(BLACK, (x, y), glyph)
                if bold:
                    image.paste(BLACK, (x + 1, y), glyph)
            column += cells

    def glyph(self, ch: str, cells: int, scale: int) -> Image.Image:
        """A mask of one character filling its cell (squeezed if the font's is wider)."""
        key = (ch, scale)
        cached = self.glyphs.get(key)
        if cached is not None:
            return cached
        cell_width = cells * DOTS_PER_COLUMN
        advance = math.ceil(self.font.getlength(ch)) or 1
        canvas = Image.new("L", (max(advance, cell_width), CELL_HEIGHT), 0)
        ImageDraw.Draw(canvas).text(
            ((canvas.width - advance) // 2, BASELINE), ch, font=self.font, fill=255, anchor="ls"
        )
        if canvas.width != cell_width or scale != 1:
            canvas = canvas.resize((cell_width, CELL_HEIGHT * scale), Image.Resampling.LANCZOS)
        self.glyphs[key] = canvas
        return canvas

    def qr(self, image: Image.Image, op: QR, y: int) -> None:
        matrix = qr_matrix(op.data)
        size, module = self.qr_geometry(op)
        left = (self.width - size * module) // 2
        top = y + QR_QUIET_MODULES * module
        draw = ImageDraw.Draw(image)
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    x0, y0 = left + c * module, top + r * module
                    draw.rectangle((x0, y0, x0 + module - 1, y0 + module - 1), fill=BLACK)

    def barcode(self, image: Image.Image, op: Barcode, y: int) -> None:
        widths = "".join(_CODE128_WIDTHS[v] for v in code128_values(op.data)) + _CODE128_STOP
        total = sum(int(w) for w in widths) + 2 * CODE128_QUIET_MODULES
        x = (self.width - total * op.module_dots) // 2 + CODE128_QUIET_MODULES * op.module_dots
        draw = ImageDraw.Draw(image)
        for i, w in enumerate(widths):
            span = int(w) * op.module_dots
            if i % 2 == 0:  # bars and spaces alternate, starting with a bar
                draw.rectangle((x, y, x + span - 1, y + op.height_dots - 1), fill=BLACK)
            x += span

    def cut_mark(self, image: Image.Image, y: int) -> None:
        draw = ImageDraw.Draw(image)
        middle = y + LINE_HEIGHT // 2
        for x in range(0, self.width, 12):
            draw.line((x, middle, x + 5, middle), fill=BLACK)
