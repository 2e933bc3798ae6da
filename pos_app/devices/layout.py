"""Text layout for receipt printers: display widths, wrapping, columns and layout ops.

A receipt printer prints a fixed grid: 32 columns on 58 mm paper, 48 on 80 mm, each
column 12 dots wide. A Chinese (double-byte) character takes two columns, an ASCII
character one. This module measures text in columns, wraps and aligns it, and turns a
:class:`~pos_app.devices.receipt.Receipt` into a flat list of layout ops
(:data:`Op`): text lines, separators, QR codes, barcodes, feeds and a cut. The ops do
not depend on an encoding; the ESC/POS renderer and the preview both draw them, so
the preview shows exactly what prints.

How wide a character prints depends on the printer's character set, so every
function takes a :class:`TextMetrics`. The default, :class:`EastAsianMetrics`, uses
``unicodedata.east_asian_width``: wide (W) and fullwidth (F) characters are two
columns, and so are ambiguous (A) ones such as ``·`` ``×`` ``—``, because a Chinese
printer prints them from its double-byte font.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from pos_app.core.money import format_fen
from pos_app.core.scale import format_weight
from pos_app.devices.receipt import Receipt, ReceiptLine, labels

Align = Literal["left", "center", "right"]
ReceiptCode = Literal["code128", "qr", "none"]

#: Printer dots per text column (font A is 12 x 24 dots on 203 dpi printers).
DOTS_PER_COLUMN: Final = 12


# --- layout ops ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line of text.

    Attributes:
        text: The text, without a newline; never wider than the paper.
        align: Horizontal alignment on the paper.
        bold: Emphasised print.
        double_height: Double-height characters (the width stays the same).
    """

    text: str
    align: Align = "left"
    bold: bool = False
    double_height: bool = False


@dataclass(frozen=True, slots=True)
class Separator:
    """A full-width rule, e.g. ``"-" * columns``.

    Attributes:
        text: The rule as text, exactly as wide as the paper.
    """

    text: str


@dataclass(frozen=True, slots=True)
class QR:
    """A centred QR code.

    Attributes:
        data: What the code holds.
        module_dots: Preferred size of one module in printer dots (shrunk to fit the paper).
    """

    data: str
    module_dots: int


@dataclass(frozen=True, slots=True)
class Barcode:
    """A centred CODE128 barcode (no human-readable text; print that as a line).

    Attributes:
        data: Printable ASCII to encode.
        module_dots: Width of the narrowest bar in printer dots.
        height_dots: Bar height in printer dots.
    """

    data: str
    module_dots: int
    height_dots: int = 64


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank lines.

    Attributes:
        lines: How many.
    """

    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    """End of the receipt: feed past the cutter and cut (if the printer has one)."""


Op = TextLine | Separator | QR | Barcode | Feed | Cut


# --- measuring ----------------------------------------------------------------------


class TextMetrics(Protocol):
    """How a printer measures and accepts text."""

    def char_width(self, ch: str) -> int:
        """Columns one character takes (0, 1 or 2)."""
        ...

    def text_width(self, text: str) -> int:
        """Columns a (cleaned) text takes: the sum of its characters' widths."""
        ...

    def clean(self, text: str) -> str:
        """``text`` made printable: no control characters, only what the printer can print."""
        ...


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def strip_controls(text: str) -> str:
    """Replace control characters (ESC, GS, newlines, ...) by spaces.

    Text from the catalogue must never be able to inject printer commands.

    Args:
        text: Any text.

    Returns:
        The text with every C0/C1 control character and line separator as a space.
    """
    return _CONTROL.sub(" ", text)


def char_width(ch: str, *, ambiguous_wide: bool = True) -> int:
    """Display width of one character in printer columns.

    Args:
        ch: One character.
        ambiguous_wide: Count East-Asian ambiguous characters (``·`` ``×`` ``—``) as two
            columns, as Chinese printers print them.

    Returns:
        0 for combining and format characters, 2 for wide/fullwidth ones, else 1.
    """
    if ch < "\u0300":  # Latin fast path; the ambiguous ones (· × é) sit above U+00A0
        if " " <= ch <= "~":
            return 1
        if ch < " " or "\x7f" <= ch <= "\x9f":
            return 0
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    eaw = unicodedata.east_asian_width(ch)
    if eaw in ("W", "F"):
        return 2
    if eaw == "A" and ambiguous_wide:
        return 2
    return 1


@dataclass(frozen=True, slots=True)
class EastAsianMetrics:
    """Widths from ``unicodedata.east_asian_width``; cleaning removes control characters.

    Attributes:
        ambiguous_wide: Whether East-Asian ambiguous characters take two columns.
    """

    ambiguous_wide: bool = True

    def char_width(self, ch: str) -> int:
        """Columns one character takes."""
        return char_width(ch, ambiguous_wide=self.ambiguous_wide)

    def text_width(self, text: str) -> int:
        """Columns a text takes."""
        wide = self.ambiguous_wide
        return sum(char_width(ch, ambiguous_wide=wide) for ch in text)

    def clean(self, text: str) -> str:
        """Control characters replaced by spaces."""
        return strip_controls(text)


DEFAULT_METRICS: Final = EastAsianMetrics()


def display_width(text: str, metrics: TextMetrics = DEFAULT_METRICS) -> int:
    """Width of ``text`` in printer columns.

    Args:
        text: One line of text.
        metrics: How characters are measured.

    Returns:
        The sum of the characters' widths.
    """
    if text.isascii() and text.isprintable():
        return len(text)
    if len(text) == 1:
        return metrics.char_width(text)
    return metrics.text_width(text)


def pad(
    text: str, width: int, align: Align = "left", metrics: TextMetrics = DEFAULT_METRICS
) -> str:
    """Pad ``text`` with spaces to exactly ``width`` columns.

    Args:
        text: Text no wider than ``width``.
        width: Target width in columns.
        align: Where the text goes within the width.
        metrics: How characters are measured.

    Returns:
        The padded text (unchanged when already as wide or wider).
    """
    gap = width - display_width(text, metrics)
    if gap <= 0:
        return text
    if align == "right":
        return " " * gap + text
    if align == "center":
        left = gap // 2
        return " " * left + text + " " * (gap - left)
    return text + " " * gap


_TOKEN = re.compile(r" +|[!-~]+|.", re.DOTALL)


def _tokens(text: str, metrics: TextMetrics) -> Iterator[str]:
    """Words of narrow ASCII, runs of spaces, and single other characters.

    Zero-width characters stay with the character before them.
    """
    pending = ""
    for match in _TOKEN.finditer(text):
        tok = match.group()
        if (
            pending
            and pending[0] != " "
            and len(tok) == 1
            and not tok.isascii()
            and metrics.char_width(tok) == 0
        ):
            pending += tok
            continue
        if pending:
            yield pending
        pending = tok
    if pending:
        yield pending


def wrap(
    text: str,
    width: int,
    *,
    indent: str = "",
    metrics: TextMetrics = DEFAULT_METRICS,
) -> list[str]:
    """Wrap text to lines of at most ``width`` columns.

    ASCII words move to the next line whole when they fit there; Chinese text breaks
    between any two characters, following the Chinese line-breaking rules: closing
    punctuation (``）`` ``，`` ``。``) never starts a line and opening punctuation (``（``)
    never ends one: the characters before them move to the next line too. A
    double-width character is never split. Newlines in ``text`` start new paragraphs.

    Args:
        text: Text, possibly with newlines.
        width: Maximum line width in columns (at least 2).
        indent: Prefix of continuation lines (a hanging indent).
        metrics: How characters are measured.

    Returns:
        The lines, without trailing spaces; ``[]`` for empty text.

    Raises:
        ValueError: ``width`` below 2 or an indent leaving less than 2 columns.
    """
    indent_width = display_width(indent, metrics)
    if width < 2 or width - indent_width < 2:
        raise ValueError(f"cannot wrap to {width} columns with a {indent_width}-column indent")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, width, indent, indent_width, metrics))
    return lines


CLOSING_PUNCTUATION: Final = frozenset("，。、；：？！）」』】》〉〕｝〗〙”’…‥％,.;:!?)]}%")
"""Never at the start of a line (Chinese line-breaking rules, 避头点)."""
OPENING_PUNCTUATION: Final = frozenset("（「『【《〈〔｛〖〘“‘([{")
"""Never at the end of a line (避尾点)."""


def _may_break(before: str, after: str) -> bool:
    """Whether a line may end with ``before`` and the next start with ``after``."""
    if before == " " or after == " ":
        return True
    return after[0] not in CLOSING_PUNCTUATION and before[-1] not in OPENING_PUNCTUATION


class _Lines:
    """The lines of one paragraph being filled, piece by piece (a piece is an ASCII
    word, a space, or one character with its zero-width marks)."""

    def __init__(
        self, width: int, lead: int, indent: str, indent_width: int, metrics: TextMetrics
    ) -> None:
        self.width, self.indent, self.indent_width = width, indent, indent_width
        self.metrics = metrics
        self.lines: list[str] = []
        self.current: list[str] = [" " * lead]
        self.used = self.start = lead

    def fits(self, piece_width: int) -> bool:
        """The piece fits on the current line."""
        return self.used + piece_width <= self.width

    @property
    def empty(self) -> bool:
        """Nothing but the indent on the current line."""
        return self.used <= self.start

    def add(self, piece: str, piece_width: int) -> None:
        """Put a piece at the end of the current line."""
        self.current.append(piece)
        self.used += piece_width

    def space(self) -> None:
        """One space between words (none at a line's start or end)."""
        if self.start < self.used < self.width:
            self.add(" ", 1)

    def break_before(self, piece: str, piece_width: int) -> None:
        """Start a new line for ``piece``, taking along the pieces before it that the
        line-breaking rules keep with it (a closing bracket never starts a line, an
        opening one never ends one), when they fit on the new line."""
        keep = len(self.current)
        while keep > 1 and not _may_break(self.current[keep - 1], self._after(keep, piece)):
            keep -= 1
        moved = self.current[keep:]
        while moved and moved[0] == " ":
            moved.pop(0)
        carried = display_width("".join(moved), self.metrics)
        if keep <= 1 or self.indent_width + carried + piece_width > self.width:
            keep, moved, carried = len(self.current), [], 0  # no room: break here anyway
        self.lines.append("".join(self.current[:keep]).rstrip())
        self.current = [self.indent, *moved]
        self.start = self.indent_width
        self.used = self.start + carried

    def _after(self, index: int, piece: str) -> str:
        """The piece that would start the next line if this one ended before ``index``."""
        return self.current[index] if index < len(self.current) else piece

    def finish(self) -> list[str]:
        """The lines, the last one included."""
        if self.used > self.start:
            self.lines.append("".join(self.current).rstrip())
        return self.lines


def _wrap_paragraph(
    text: str, width: int, indent: str, indent_width: int, metrics: TextMetrics
) -> list[str]:
    text = text.rstrip()
    if not text.strip():
        return []
    if display_width(text, metrics) <= width:
        return [text]
    body = text.lstrip(" ")
    lead = min(len(text) - len(body), width - 2)  # keep a leading indent of the first line
    out = _Lines(width, lead, indent, indent_width, metrics)
    for tok in _tokens(body, metrics):
        if tok[0] == " ":
            out.space()
            continue
        tok_width = display_width(tok, metrics)
        if out.fits(tok_width):
            out.add(tok, tok_width)
        elif tok.isascii() and not out.empty and tok_width <= width - indent_width:
            out.break_before(tok, tok_width)  # an ASCII word moves to the next line whole
            out.add(tok, tok_width)
        else:  # Chinese text, or a word longer than a line: break between characters
            for ch in _split_keeping_marks(tok, metrics):
                ch_width = display_width(ch, metrics)
                if not out.fits(ch_width) and not out.empty:
                    out.break_before(ch, ch_width)
                out.add(ch, ch_width)
    return out.finish()


def _split_keeping_marks(token: str, metrics: TextMetrics) -> list[str]:
    """Characters of ``token``, each with the zero-width characters that follow it."""
    parts: list[str] = []
    for ch in token:
        if parts and metrics.char_width(ch) == 0:
            parts[-1] += ch
        else:
            parts.append(ch)
    return parts


def two_columns(
    left: str, right: str, width: int, metrics: TextMetrics = DEFAULT_METRICS
) -> list[str]:
    """A label on the left and a value flush right, wrapping the label if needed.

    Args:
        left: Left text (wrapped when long).
        right: Right text (kept whole).
        width: Line width in columns.
        metrics: How characters are measured.

    Returns:
        One line when both fit with a space between them; otherwise the value goes on
        the label's first line when the label can wrap in the remaining space, or on a
        line of its own, flush right.
    """
    right_width = display_width(right, metrics)
    room = width - right_width - 1
    left_width = display_width(left, metrics)
    if left_width <= room:
        return [pad(left, width - right_width, "left", metrics) + right]
    if room >= width // 2:
        left_lines = wrap(left, room, metrics=metrics)
        first = pad(left_lines[0], width - right_width, "left", metrics) + right
        return [first, *left_lines[1:]]
    return [*wrap(left, width, metrics=metrics), pad(right, width, "right", metrics)]


def paper_dots(columns: int) -> int:
    """Printable width in dots for a column count (384 for 32 columns, 576 for 48)."""
    return columns * DOTS_PER_COLUMN


# --- CODE128 --------------------------------------------------------------------------

Code128Set = Literal["B", "C"]
_CODE128_START: Final = {"B": 104, "C": 105}
_CODE128_SWITCH: Final = {"B": 100, "C": 99}
#: Modules of one symbol and of the stop pattern.
_CODE128_SYMBOL_MODULES: Final = 11
_CODE128_STOP_MODULES: Final = 13
#: Quiet zone either side, in modules.
CODE128_QUIET_MODULES: Final = 10
_DIGIT_RUN = re.compile(r"\d{4,}")


def code128_encodable(data: str) -> bool:
    """Whether ``data`` can go in a CODE128 barcode here (printable ASCII, non-empty)."""
    return bool(data) and all(" " <= ch <= "~" for ch in data)


def code128_segments(data: str) -> list[tuple[Code128Set, str]]:
    """Split ``data`` into code set B and code set C runs.

    Runs of four or more digits use code set C (two digits per symbol), which keeps
    numeric receipt numbers short enough for 58 mm paper.

    Args:
        data: Printable ASCII.

    Returns:
        ``[(code_set, text), ...]``; every code set C text has an even length.

    Raises:
        ValueError: ``data`` is not printable ASCII.
    """
    if not code128_encodable(data):
        raise ValueError("CODE128 data must be non-empty printable ASCII")
    segments: list[tuple[Code128Set, str]] = []

    def add(code_set: Code128Set, text: str) -> None:
        if not text:
            return
        if segments and segments[-1][0] == code_set:
            segments[-1] = (code_set, segments[-1][1] + text)
        else:
            segments.append((code_set, text))

    pos = 0
    for run in _DIGIT_RUN.finditer(data):
        start = run.start()
        if len(run.group()) % 2:
            start += 1
        add("B", data[pos:start])
        add("C", data[start : run.end()])
        pos = run.end()
    add("B", data[pos:])
    return segments


def code128_values(data: str) -> list[int]:
    """The symbol values of a CODE128 barcode: start, data, switches and check symbol.

    Args:
        data: Printable ASCII.

    Returns:
        Symbol values without the stop symbol (106).
    """
    values: list[int] = []
    for code_set, text in code128_segments(data):
        values.append(_CODE128_SWITCH[code_set] if values else _CODE128_START[code_set])
        if code_set == "C":
            values.extend(int(text[i : i + 2]) for i in range(0, len(text), 2))
        else:
            values.extend(ord(ch) - 32 for ch in text)
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    values.append(check)
    return values


def code128_modules(data: str) -> int:
    """Width of the barcode for ``data`` in modules, quiet zones included."""
    symbols = len(code128_values(data))
    return symbols * _CODE128_SYMBOL_MODULES + _CODE128_STOP_MODULES + 2 * CODE128_QUIET_MODULES


# --- the receipt --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemColumns:
    """Widths of the basket table's columns.

    Attributes:
        name: Name column (left-aligned).
        qty: Quantity column (right-aligned, includes a leading gap).
        price: Unit price column (right-aligned, includes a leading gap).
        amount: Amount column (right-aligned, includes a leading gap).
    """

    name: int
    qty: int
    price: int
    amount: int

    @classmethod
    def for_width(cls, columns: int) -> ItemColumns:
        """The table for a paper width: 8/6/9/9 at 32 columns, 22/6/10/10 at 48."""
        money = 10 if columns >= 40 else 9
        return cls(name=columns - 6 - 2 * money, qty=6, price=money, amount=money)

    @property
    def wraps_in_column(self) -> bool:
        """Whether long names wrap inside the name column (else they get full lines)."""
        return self.name >= 16


_MIN_COLUMNS: Final = 24


def layout_receipt(
    receipt: Receipt,
    columns: int,
    *,
    metrics: TextMetrics = DEFAULT_METRICS,
    receipt_code: ReceiptCode = "code128",
) -> list[Op]:
    """Lay a receipt out for a paper width.

    Args:
        receipt: What to print.
        columns: Characters per line (32 for 58 mm, 48 for 80 mm).
        metrics: How the target printer measures and accepts text; every text of the
            receipt goes through ``metrics.clean`` before it is measured.
        receipt_code: How the receipt number is printed for scanning back: a CODE128
            barcode (falls back to a QR code when the barcode would not fit the paper
            with bars at least 2 dots wide), a QR code, or not at all.

    Returns:
        The ops, top to bottom, ending with :class:`Cut`.

    Raises:
        ValueError: fewer than 24 columns.
    """
    if columns < _MIN_COLUMNS:
        raise ValueError(f"a receipt needs at least {_MIN_COLUMNS} columns, got {columns}")
    return _ReceiptLayout(receipt, columns, metrics, receipt_code).build()


class _ReceiptLayout:
    """Builds the op list of one receipt (one instance per call, no shared state)."""

    def __init__(
        self, receipt: Receipt, columns: int, metrics: TextMetrics, receipt_code: ReceiptCode
    ) -> None:
        self.receipt = receipt
        self.columns = columns
        self.metrics = metrics
        self.receipt_code = receipt_code
        self.labels = labels(receipt.language)
        self.ops: list[Op] = []
        self.refund = receipt.kind == "refund"

    # helpers

    def label(self, key: str, **params: object) -> str:
        text = self.labels[key]
        return self.metrics.clean(text.format(**params) if params else text)

    def clean(self, text: str) -> str:
        """Printable text; newlines survive (they start new paragraphs when wrapped)."""
        if "\n" not in text:
            return self.metrics.clean(text)
        return "\n".join(self.metrics.clean(part) for part in text.split("\n"))

    def money(self, fen: int, *, minus: bool = False, symbol: bool = True) -> str:
        text = format_fen(fen, symbol=self.labels["currency"] if symbol else "")
        return self.clean("-" + text if minus and fen else text)

    def text(
        self,
        text: str,
        *,
        align: Align = "left",
        bold: bool = False,
        double_height: bool = False,
        indent: str = "",
    ) -> None:
        for line in wrap(text, self.columns, indent=indent, metrics=self.metrics):
            self.ops.append(TextLine(line, align, bold, double_height))

    def pair(self, left: str, right: str, *, bold: bool = False, double: bool = False) -> None:
        for line in two_columns(left, right, self.columns, self.metrics):
            self.ops.append(TextLine(line, "left", bold, double))

    def rule(self, char: str = "-") -> None:
        self.ops.append(Separator(char * self.columns))

    # sections

    def build(self) -> list[Op]:
        self.header()
        self.items()
        self.totals()
        if self.receipt.member is not None:
            self.member()
        elif self.receipt.join_prompt and not self.refund:
            self.rule()
            self.text(self.clean(self.receipt.join_prompt), align="center", bold=True)
        self.footer()
        self.ops.append(Cut())
        return self.ops

    def reprint_mark(self) -> None:
        self.text(self.label("reprint"), align="center", bold=True, double_height=True)

    def header(self) -> None:
        r = self.receipt
        self.text(self.clean(r.store_name), align="center", bold=True, double_height=True)
        if r.store_address:
            self.text(self.clean(r.store_address), align="center")
        if r.reprint:
            self.reprint_mark()
        title = self.label("title_refund" if self.refund else "title_sale")
        self.text(title, align="center", bold=True)
        self.rule()
        till = self.label("till") + self.clean(r.till_id)
        cashier = self.label("cashier") + self.clean(r.cashier_name)
        self.pair(till, cashier)
        self.text(self.label("receipt_no") + self.clean(r.receipt_no))
        if r.refund_of:
            self.text(self.label("refund_of") + self.clean(r.refund_of))
        self.text(self.label("time") + r.printed_at.strftime("%Y-%m-%d %H:%M:%S"))

    def items(self) -> None:
        cols = ItemColumns.for_width(self.columns)
        self.rule()
        header = (
            pad(self.label("col_item"), cols.name, "left", self.metrics)
            + pad(self.label("col_qty"), cols.qty, "right", self.metrics)
            + pad(self.label("col_price"), cols.price, "right", self.metrics)
            + pad(self.label("col_amount"), cols.amount, "right", self.metrics)
        )
        self.ops.append(TextLine(header))
        self.rule()
        for line in self.receipt.lines:
            self.item(line, cols)

    def item(self, line: ReceiptLine, cols: ItemColumns) -> None:
        m = self.metrics
        name = self.metrics.clean(line.name).strip()  # one paragraph: newlines become spaces
        cells = (
            (str(line.quantity), cols.qty),
            (self.money(line.unit_price_fen, symbol=False), cols.price),
            (self.money(line.amount_fen, symbol=False), cols.amount),
        )
        if all(display_width(text, m) < width for text, width in cells):
            numbers = "".join(pad(text, width, "right", m) for text, width in cells)
            if display_width(name, m) <= cols.name or cols.wraps_in_column:
                name_lines = wrap(name, cols.name, metrics=m) or [""]
                first = pad(name_lines[0], cols.name, "left", m) + numbers
                self.ops.append(TextLine(first))
                self.ops.extend(TextLine(rest) for rest in name_lines[1:])
            else:  # narrow paper: the name gets full lines, the numbers a row of their own
                self.ops.extend(TextLine(text) for text in wrap(name, self.columns, metrics=m))
                self.ops.append(TextLine(" " * cols.name + numbers))
        else:  # numbers too wide for the table: name lines, then the numbers flush right
            self.ops.extend(TextLine(text) for text in wrap(name, self.columns, metrics=m))
            numbers = " ".join(text for text, _ in cells)
            self.ops.append(TextLine(pad(numbers, self.columns, "right", m)))
        if line.weight_g is not None:
            self.weighed(line)
        if line.discount_fen:
            self.pair(
                "  " + self.label("line_discount"),
                self.money(line.discount_fen, minus=True, symbol=False),
            )
        if line.tier_saving_fen:
            self.pair(
                "  " + self.label("tier_saving", tier=self.clean(line.price_name)),
                self.money(line.tier_saving_fen, minus=True, symbol=False),
            )

    def weighed(self, line: ReceiptLine) -> None:
        """The weight (and the price per kg) of a weighed line, under it."""
        assert line.weight_g is not None
        text = "  " + self.label("weight", weight=format_weight(line.weight_g))
        if line.price_per_kg_fen is not None:
            price = self.money(line.price_per_kg_fen, symbol=False)
            text += " " + self.label("per_kg", price=price)
        self.text(text, indent="  ")

    def totals(self) -> None:
        r = self.receipt
        self.rule()
        self.pair(self.label("subtotal"), self.money(r.subtotal_fen))
        if r.discount_fen:
            self.pair(self.label("discount"), self.money(r.discount_fen, minus=True))
        if r.coupon_fen:
            self.pair(self.label("coupon"), self.money(r.coupon_fen, minus=True))
        if r.points_used:
            key = "points_used_refund" if self.refund else "points_used_sale"
            self.pair(
                self.label(key, points=r.points_used), self.money(r.points_value_fen, minus=True)
            )
        total = self.label("total_refund" if self.refund else "total_sale")
        self.pair(total, self.money(r.total_paid_fen), bold=True, double=True)
        for tender in r.tenders:
            self.pair(self.clean(tender.method), self.money(tender.amount_fen))
        if r.change_fen:
            self.pair(self.label("change"), self.money(r.change_fen))

    def member(self) -> None:
        member = self.receipt.member
        assert member is not None
        self.rule()
        self.pair(
            self.label("member") + self.clean(member.masked_phone),
            self.label("tier") + self.clean(member.tier_name),
        )
        key = "points_earned_refund" if self.refund else "points_earned_sale"
        self.text(self.label(key, points=member.points_earned), bold=True, double_height=True)
        for part in member.earn_breakdown:
            self.text("  " + self.clean(part), indent="  ")
        if member.balance_after is not None:
            balance = f"{member.balance_after}{self.label('points_unit')}"
            self.pair(self.label("balance"), balance)
        if member.expiring_points and member.expiring_date is not None:
            self.text(
                self.label(
                    "expiring",
                    points=member.expiring_points,
                    date=member.expiring_date.isoformat(),
                )
            )
        if member.tier_progress:
            self.text(self.clean(member.tier_progress))
        if member.suggestions:
            self.text(self.label("suggestions"), bold=True)
            bullet = self.label("bullet")
            indent = " " * display_width(bullet, self.metrics)
            for suggestion in member.suggestions:
                self.text(bullet + self.clean(suggestion), indent=indent)
        if member.mall_url:
            self.ops.append(Feed(1))
            self.ops.append(QR(member.mall_url, module_dots=6 if self.columns < 40 else 7))
            self.text(self.label("mall_qr"), align="center")

    def footer(self) -> None:
        r = self.receipt
        self.rule()
        if r.footer:
            self.text(self.clean(r.footer), align="center")
        self.receipt_number_code()
        if r.reprint:
            self.reprint_mark()

    def receipt_number_code(self) -> None:
        data = self.receipt.receipt_no
        if self.receipt_code == "none":
            return
        self.ops.append(Feed(1))
        if self.receipt_code == "code128" and code128_encodable(data):
            module = min(3, paper_dots(self.columns) // code128_modules(data))
            if module >= 2:
                self.ops.append(Barcode(data, module_dots=module))
                self.text(self.clean(data), align="center")
                return
        self.ops.append(QR(data, module_dots=4))
        self.text(self.clean(data), align="center")


def iter_text(ops: Sequence[Op]) -> Iterator[str]:
    """The text of every text line and separator, top to bottom (handy in tests and logs)."""
    for op in ops:
        if isinstance(op, TextLine | Separator):
            yield op.text
