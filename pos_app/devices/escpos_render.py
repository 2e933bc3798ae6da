"""Our own ESC/POS byte layer: a receipt in, the exact bytes for the printer out.

python-escpos's text path does not serve Chinese printers (no ``FS &``, full-width
symbols such as ``￥，：`` come out as ``?``), so this module writes the bytes itself
and uses python-escpos only as a transport (:mod:`pos_app.devices.printers`).

:func:`render` is pure and synchronous: the same receipt and profile always give the
same bytes, nothing is cached between calls except a memo of how single characters
encode, and nothing touches a device. A print queue can store the bytes, or the
receipt and the profile, and send them later.

Commands used (Epson ESC/POS, which Chinese 58/80 mm printers follow):

=================  ==========================================================
``ESC @``          initialise
``FS &`` / ``FS .``  enter / leave Chinese (double-byte) character mode
``ESC a n``        alignment (0 left, 1 centre, 2 right)
``ESC E n``        bold on/off
``GS ! n``         character size (``0x01``: double height)
``ESC d n``        print and feed n lines
``GS ( k``         native QR code: model 2, module size, error correction M,
                   store data, print
``GS v 0``         raster bit image (the QR fallback for printers without native QR)
``GS h/w/H``       barcode height, module width, no human-readable text
``GS k 73``        CODE128 (code sets B and C)
``GS V 1``         partial cut
``ESC p``          cash drawer kick
=================  ==========================================================
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

from pos_app.devices.layout import (
    QR,
    Barcode,
    Cut,
    Feed,
    Op,
    ReceiptCode,
    Separator,
    TextLine,
    char_width,
    code128_segments,
    layout_receipt,
    paper_dots,
    strip_controls,
)
from pos_app.devices.receipt import Receipt

Encoding = Literal["gb18030", "gbk", "big5", "utf-8"]
QrMode = Literal["native", "image"]

ENCODINGS: Final[tuple[Encoding, ...]] = ("gb18030", "gbk", "big5", "utf-8")
#: Encodings of printers with a double-byte Chinese character mode.
DOUBLE_BYTE_ENCODINGS: Final[frozenset[str]] = frozenset({"gb18030", "gbk", "big5"})

ESC: Final = b"\x1b"
GS: Final = b"\x1d"
FS: Final = b"\x1c"
LF: Final = b"\n"
INIT: Final = ESC + b"@"
CHINESE_MODE_ON: Final = FS + b"&"
CHINESE_MODE_OFF: Final = FS + b"."
PARTIAL_CUT: Final = GS + b"V\x01"
_ALIGN: Final = {"left": 0, "center": 1, "right": 2}
_SIZE_NORMAL: Final = 0x00
_SIZE_DOUBLE_HEIGHT: Final = 0x01

#: QR quiet zone in modules (the standard's minimum).
QR_QUIET_MODULES: Final = 4
#: A fixed mask pattern: choosing the "best" of eight costs ~5 ms in pure Python, and
#: every mask gives a valid, decodable symbol.
QR_MASK_PATTERN: Final = 0
# Byte-mode capacity at error correction M for versions 1..40.
_QR_CAPACITY_M: Final = (
    14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560,
    624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628,
    1722, 1809, 1911, 1989, 2099, 2213, 2331,
)  # fmt: skip

# Substitutes for characters an encoding lacks, best first. The first one the
# printer can print wins; "￥" <-> "¥" because GBK has only the first and Big5 only
# the second. Anything with no substitute becomes REPLACEMENT, never a silent "?".
_SUBSTITUTES: Final[dict[str, tuple[str, ...]]] = {
    "¥": ("￥", "RMB"),
    "￥": ("¥", "RMB"),
    "€": ("EUR",),
    "£": ("GBP",),
    "•": ("·", "*"),
    "·": (".",),
    "–": ("-",),
    "—": ("-",),
    "‒": ("-",),
    "−": ("-",),
    "‘": ("'",),
    "’": ("'",),
    "“": ('"',),
    "”": ('"',),
    "…": ("...",),
    "™": ("TM",),
    "®": ("(R)",),
    "©": ("(C)",),
    "×": ("x",),
    "✓": ("√", "v"),
    "✔": ("√", "v"),
    "\xa0": (" ",),
    "\u3000": ("  ",),
    "～": ("~",),
}
#: Printed for a character the printer cannot print and that has no substitute.
REPLACEMENT: Final = "□"
REPLACEMENT_ASCII: Final = "?"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


@functools.lru_cache(maxsize=8192)
def _encoded(ch: str, encoding: str, four_byte: bool) -> bytes | None:
    """How one character encodes, or None when the printer cannot print it."""
    try:
        data = ch.encode(encoding)
    except UnicodeEncodeError:
        return None
    if len(data) > 2 and encoding == "gb18030" and not four_byte:
        return None  # GB18030 four-byte sequences: most printers only have GBK glyphs
    return data


@functools.lru_cache(maxsize=8192)
def _dbcs_width(ch: str, encoding: str, four_byte: bool, ambiguous_wide: bool) -> int:
    """Columns one character takes on a double-byte printer."""
    data = _encoded(ch, encoding, four_byte)
    if data is None:
        return char_width(ch, ambiguous_wide=ambiguous_wide)
    return 2 if len(data) > 1 else 1


@dataclass(frozen=True, slots=True)
class PrinterCharset:
    """What a printer can print and how wide it prints it (a layout ``TextMetrics``).

    On a double-byte printer a character's width is its encoded length: one byte is one
    column, a double-byte character two. On a UTF-8 printer the East-Asian width rules.

    Attributes:
        encoding: The printer's text encoding.
        four_byte: Whether a GB18030 printer prints four-byte sequences.
        ambiguous_wide: On UTF-8 printers, whether ambiguous characters are two columns.
    """

    encoding: Encoding
    four_byte: bool = False
    ambiguous_wide: bool = True

    @property
    def double_byte(self) -> bool:
        """Whether the printer uses a double-byte Chinese encoding."""
        return self.encoding in DOUBLE_BYTE_ENCODINGS

    def printable(self, ch: str) -> bool:
        """Whether the printer can print the character."""
        return ch.isascii() or _encoded(ch, self.encoding, self.four_byte) is not None

    def char_width(self, ch: str) -> int:
        """Columns one character takes on this printer."""
        if ch.isascii() or not self.double_byte:
            return char_width(ch, ambiguous_wide=self.ambiguous_wide)
        return _dbcs_width(ch, self.encoding, self.four_byte, self.ambiguous_wide)

    def text_width(self, text: str) -> int:
        """Columns a text takes on this printer."""
        if self.double_byte and not self.four_byte:
            data = self._encode_exactly(text)
            if data is not None:
                return len(data)  # one column per byte: what the printer does
        return sum(self.char_width(ch) for ch in text)

    def _encode_exactly(self, text: str) -> bytes | None:
        """The encoded text when every character is printable as is, else None."""
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError:
            return None
        if self.encoding == "gb18030" and not self.four_byte:
            ascii_count = len(text) - len(_NON_ASCII.findall(text))
            if len(data) != 2 * len(text) - ascii_count:
                return None  # some character needed a four-byte sequence
        return data

    def clean(self, text: str) -> str:
        """``text`` with controls removed and unprintable characters substituted.

        Args:
            text: Any text.

        Returns:
            Text every character of which the printer can print.
        """
        text = strip_controls(text)
        if text.isascii():
            return text
        text = unicodedata.normalize("NFC", _SURROGATES.sub(REPLACEMENT, text))
        if self.encoding == "utf-8" or self._encode_exactly(text) is not None:
            return text
        return "".join(ch if self.printable(ch) else self._substitute(ch) for ch in text)

    def _substitute(self, ch: str) -> str:
        for candidate in _SUBSTITUTES.get(ch, ()):
            if all(self.printable(c) for c in candidate):
                return candidate
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            return ""  # invisible anyway (combining marks, zero-width joiners)
        for form in ("NFKC", "NFKD"):
            candidate = "".join(
                c for c in unicodedata.normalize(form, ch) if not unicodedata.combining(c)
            )
            if candidate and candidate != ch and all(self.printable(c) for c in candidate):
                return candidate
        return REPLACEMENT if self.printable(REPLACEMENT) else REPLACEMENT_ASCII

    def encode(self, text: str) -> bytes:
        """Encode cleaned text for the printer (cleaning again if something slipped in)."""
        if text.isascii():
            return text.encode("ascii")
        try:
            data = self._encode_exactly(text) if self.double_byte else text.encode(self.encoding)
        except UnicodeEncodeError:  # lone surrogates in UTF-8
            data = None
        if data is None:
            return self.clean(text).encode(self.encoding, errors="replace")
        return data


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    """What a receipt printer can do.

    Attributes:
        columns: Characters per line: 32 (58 mm) or 48 (80 mm).
        encoding: Text encoding the printer expects.
        chinese_mode: Send ``FS &`` (enter Chinese mode) before the text and ``FS .``
            after it; only used with a double-byte encoding.
        qr: ``"native"`` (``GS ( k``) or ``"image"`` (a raster image, for printers
            without a QR command).
        cut: The printer has a cutter.
        drawer_kick: Open the cash drawer when a (non-reprint) receipt prints.
        receipt_code: How the receipt number is printed for scanning back.
        feed_before_cut: Lines fed so the last line clears the cutter.
        four_byte_gb18030: The printer prints GB18030 four-byte sequences.
        ambiguous_wide: On UTF-8 printers, ambiguous-width characters take two columns.
    """

    columns: Literal[32, 48] = 48
    encoding: Encoding = "gb18030"
    chinese_mode: bool = True
    qr: QrMode = "native"
    cut: bool = True
    drawer_kick: bool = False
    receipt_code: ReceiptCode = "code128"
    feed_before_cut: int = 4
    four_byte_gb18030: bool = False
    ambiguous_wide: bool = True

    def __post_init__(self) -> None:
        if self.columns not in (32, 48):
            raise ValueError(f"columns must be 32 or 48, got {self.columns!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unsupported printer encoding {self.encoding!r}")
        if self.qr not in ("native", "image"):
            raise ValueError(f"qr must be 'native' or 'image', got {self.qr!r}")
        if self.receipt_code not in ("code128", "qr", "none"):
            raise ValueError(f"unknown receipt_code {self.receipt_code!r}")
        if not 0 <= self.feed_before_cut <= 255:
            raise ValueError("feed_before_cut must be 0..255")

    @property
    def dots(self) -> int:
        """Printable width in dots (384 or 576)."""
        return paper_dots(self.columns)

    @property
    def uses_chinese_mode(self) -> bool:
        """Whether ``FS &`` / ``FS .`` are sent."""
        return self.chinese_mode and self.encoding in DOUBLE_BYTE_ENCODINGS

    def charset(self) -> PrinterCharset:
        """The printer's character set, for layout (widths) and encoding."""
        return PrinterCharset(self.encoding, self.four_byte_gb18030, self.ambiguous_wide)


# --- public API -------------------------------------------------------------------------


def render(receipt: Receipt, profile: PrinterProfile) -> bytes:
    """The ESC/POS bytes of a receipt.

    Args:
        receipt: What to print.
        profile: The printer.

    Returns:
        One complete print job: initialise, (drawer kick), text, codes, feed, cut.
    """
    charset = profile.charset()
    ops = layout_receipt(
        receipt, profile.columns, metrics=charset, receipt_code=profile.receipt_code
    )
    return render_ops(ops, profile, drawer_kick=profile.drawer_kick and not receipt.reprint)


def render_ops(ops: Sequence[Op], profile: PrinterProfile, *, drawer_kick: bool = False) -> bytes:
    """The ESC/POS bytes of laid-out ops (a receipt, a test page, a shift report).

    Args:
        ops: Layout ops, e.g. from :func:`~pos_app.devices.layout.layout_receipt`.
        profile: The printer.
        drawer_kick: Kick the cash drawer at the start of the job.

    Returns:
        One complete print job.
    """
    return _Renderer(profile).run(ops, drawer_kick=drawer_kick)


def drawer_kick_command(pin: Literal[2, 5] = 2, on_ms: int = 100, off_ms: int = 500) -> bytes:
    """``ESC p``: pulse a cash drawer's solenoid.

    Args:
        pin: Connector pin of the drawer (2 or 5).
        on_ms: Pulse length in milliseconds (sent in 2 ms units).
        off_ms: Pause after the pulse in milliseconds (sent in 2 ms units).

    Returns:
        The five command bytes.
    """
    if pin not in (2, 5):
        raise ValueError("the drawer pin is 2 or 5")
    t1 = max(1, min(255, on_ms // 2))
    t2 = max(t1, min(255, off_ms // 2))
    return ESC + b"p" + bytes((0 if pin == 2 else 1, t1, t2))


def qr_native_commands(data: str, module_dots: int) -> bytes:
    """``GS ( k``: store and print a model 2 QR code with error correction M.

    Args:
        data: What the code holds (sent as UTF-8).
        module_dots: Module size in dots (1..16).

    Returns:
        Select model, set size, set error correction, store data, print.
    """
    payload = data.encode("utf-8")
    if not 1 <= module_dots <= 16:
        raise ValueError("QR module size must be 1..16 dots")
    if len(payload) > _QR_CAPACITY_M[-1]:
        raise ValueError("too much data for a QR code")
    store_len = len(payload) + 3
    return b"".join(
        (
            GS + b"(k\x04\x001A2\x00",  # fn 65: model 2
            GS + b"(k\x03\x001C" + bytes((module_dots,)),  # fn 67: module size
            GS + b"(k\x03\x001E1",  # fn 69: error correction M ('1' = 49)
            GS + b"(k" + store_len.to_bytes(2, "little") + b"1P0" + payload,  # fn 80: store
            GS + b"(k\x03\x001Q0",  # fn 81: print
        )
    )


def qr_native_module(data: str, preferred: int, dots: int) -> int:
    """Module size that keeps a native QR code (with its quiet zone) on the paper.

    Args:
        data: What the code holds.
        preferred: Wanted module size in dots.
        dots: Paper width in dots.

    Returns:
        ``preferred``, shrunk if the symbol would be too wide (at least 1).
    """
    modules = 17 + 4 * _qr_version(data) + 2 * QR_QUIET_MODULES
    return max(1, min(preferred, dots // modules))


def _qr_version(data: str) -> int:
    """Smallest version whose byte-mode capacity at error correction M holds ``data``."""
    length = len(data.encode("utf-8"))
    for version, capacity in enumerate(_QR_CAPACITY_M, start=1):
        if capacity >= length:
            return version
    raise ValueError("too much data for a QR code")


def qr_matrix(data: str) -> list[list[bool]]:
    """The modules of a QR code (error correction M, no quiet zone); True is dark.

    Built with the ``qrcode`` library, with a fixed mask (see :data:`QR_MASK_PATTERN`)
    and the version picked from the capacity table, which keeps it near 1 ms.

    Args:
        data: What the code holds.

    Returns:
        Rows of modules, top to bottom.
    """
    try:
        code = qrcode.QRCode(
            version=_qr_version(data),
            error_correction=ERROR_CORRECT_M,
            border=0,
            mask_pattern=QR_MASK_PATTERN,
        )
        code.add_data(data)
        code.make(fit=False)
    except DataOverflowError:  # the library's segment choice needed more room: let it fit
        code = qrcode.QRCode(
            error_correction=ERROR_CORRECT_M, border=0, mask_pattern=QR_MASK_PATTERN
        )
        code.add_data(data)
        code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def qr_raster(data: str, module_dots: int, dots: int) -> tuple[int, int, bytes]:
    """A QR code as a 1-bit raster, centred on the paper width.

    Args:
        data: What the code holds.
        module_dots: Wanted module size (shrunk to fit ``dots``).
        dots: Raster width in dots (a multiple of 8).

    Returns:
        ``(width_bytes, height, rows)``: MSB-first rows of ``width_bytes`` bytes, 1 = black,
        the quiet zone included above and below.
    """
    matrix = qr_matrix(data)
    n = len(matrix)
    module = max(1, min(module_dots, dots // (n + 2 * QR_QUIET_MODULES)))
    width_bytes = dots // 8
    size = n * module
    right_pad = width_bytes * 8 - (width_bytes * 8 - size) // 2 - size
    dark, light = "1" * module, "0" * module
    rows = [
        (int("".join([dark if cell else light for cell in row]), 2) << right_pad).to_bytes(
            width_bytes, "big"
        )
        * module
        for row in matrix
    ]
    quiet = bytes(width_bytes) * (QR_QUIET_MODULES * module)
    return width_bytes, size + 2 * QR_QUIET_MODULES * module, quiet + b"".join(rows) + quiet


def raster_command(width_bytes: int, height: int, rows: bytes) -> bytes:
    """``GS v 0``: print a raster bit image.

    Args:
        width_bytes: Bytes per row.
        height: Rows.
        rows: ``width_bytes * height`` bytes, MSB first, 1 = black.

    Returns:
        The command with its data.
    """
    if len(rows) != width_bytes * height:
        raise ValueError("raster size does not match its data")
    header = GS + b"v0\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
    return header + rows


def code128_command(data: str, module_dots: int, height_dots: int) -> bytes:
    """``GS h``, ``GS w``, ``GS H 0`` and ``GS k 73``: a CODE128 barcode.

    Args:
        data: Printable ASCII.
        module_dots: Narrowest bar width in dots (2..6).
        height_dots: Bar height in dots (1..255).

    Returns:
        The commands; digit runs go in code set C.
    """
    payload = bytearray()
    for code_set, text in code128_segments(data):
        if code_set == "C":
            payload += b"{C" + bytes(int(text[i : i + 2]) for i in range(0, len(text), 2))
        else:
            payload += b"{B" + text.replace("{", "{{").encode("ascii")
    if len(payload) > 255:
        raise ValueError("too much data for one CODE128 barcode")
    return (
        GS
        + b"h"
        + bytes((max(1, min(255, height_dots)),))
        + GS
        + b"w"
        + bytes((max(1, min(6, module_dots)),))
        + GS
        + b"H\x00"
        + GS
        + b"kI"
        + bytes((len(payload),))
        + bytes(payload)
    )


# --- the renderer -----------------------------------------------------------------------


class _Renderer:
    """Turns ops into bytes for one job, sending style commands only when they change."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.charset = profile.charset()
        self.out = bytearray()
        self.align = 0
        self.bold = False
        self.size = _SIZE_NORMAL
        self.chinese = False

    def run(self, ops: Sequence[Op], *, drawer_kick: bool) -> bytes:
        self.out += INIT
        if drawer_kick:
            self.out += drawer_kick_command()
        self.enter_chinese_mode()
        for op in ops:
            self.op(op)
        self.leave_chinese_mode()
        return bytes(self.out)

    def op(self, op: Op) -> None:
        if isinstance(op, TextLine | Separator):
            self.enter_chinese_mode()
        if isinstance(op, TextLine):
            self.style(_ALIGN[op.align], op.bold, _SIZE_DOUBLE_HEIGHT if op.double_height else 0)
            self.out += self.charset.encode(op.text) + LF
        elif isinstance(op, Separator):
            self.style(0, False, _SIZE_NORMAL)
            self.out += self.charset.encode(op.text) + LF
        elif isinstance(op, QR):
            self.style(1, False, _SIZE_NORMAL)
            if self.profile.qr == "native":
                module = qr_native_module(op.data, op.module_dots, self.profile.dots)
                self.out += qr_native_commands(op.data, module)
            else:
                self.out += raster_command(*qr_raster(op.data, op.module_dots, self.profile.dots))
        elif isinstance(op, Barcode):
            self.style(1, False, _SIZE_NORMAL)
            self.out += code128_command(op.data, op.module_dots, op.height_dots)
        elif isinstance(op, Feed):
            self.out += ESC + b"d" + bytes((max(0, min(255, op.lines)),))
        elif isinstance(op, Cut):
            self.style(0, False, _SIZE_NORMAL)
            self.leave_chinese_mode()
            self.out += ESC + b"d" + bytes((self.profile.feed_before_cut,))
            if self.profile.cut:
                self.out += PARTIAL_CUT

    def style(self, align: int, bold: bool, size: int) -> None:
        if align != self.align:
            self.out += ESC + b"a" + bytes((align,))
            self.align = align
        if bold != self.bold:
            self.out += ESC + b"E" + (b"\x01" if bold else b"\x00")
            self.bold = bold
        if size != self.size:
            self.out += GS + b"!" + bytes((size,))
            self.size = size

    def enter_chinese_mode(self) -> None:
        if self.profile.uses_chinese_mode and not self.chinese:
            self.out += CHINESE_MODE_ON
            self.chinese = True

    def leave_chinese_mode(self) -> None:
        if self.chinese:
            self.out += CHINESE_MODE_OFF
            self.chinese = False
