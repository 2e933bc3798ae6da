"""The customer pole display (客显): two lines of 20 characters over a serial line.

Most counter displays (VFD or LCD, "ESC/POS customer display" mode) take:

=======================  ==============  ===========================================
``ESC @``                ``1B 40``        initialise (sent once per connection)
``FS &``                 ``1C 26``        Chinese character mode (only when configured)
``CLR``                  ``0C``           clear the screen, cursor home
``US $ x y``             ``1F 24 x y``    move the cursor to column x (1-20), row y (1-2)
=======================  ==============  ===========================================

then text. Chinese models take GB18030/GBK double-byte characters, each two columns
wide; a model without Chinese characters gets ``encoding="ascii"``: English words, and
a product's SKU in place of a Chinese name (never a row of ``?``).

:func:`pole_lines` words a :class:`~pos_app.devices.customer_view.CustomerView` as two
lines (labels in :data:`WORDS`, by language), :func:`frame` turns them into the bytes of
one screen, and :class:`PoleDisplay` sends frames over pyserial (``port`` is a device
such as ``/dev/ttyUSB0`` or ``COM3``, or any pyserial URL). Every failure is a
:class:`PoleDisplayError`. Not thread-safe: one display worker owns it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Literal, Self

from pos_app.core.money import format_fen
from pos_app.core.scale import format_weight
from pos_app.devices.customer_view import CustomerView
from pos_app.devices.layout import EastAsianMetrics, display_width, pad, strip_controls

PoleEncoding = Literal["gb18030", "gbk", "ascii"]
PoleLanguage = Literal["zh_CN", "en"]
POLE_ENCODINGS: Final[tuple[PoleEncoding, ...]] = ("gb18030", "gbk", "ascii")
POLE_LANGUAGES: Final[tuple[PoleLanguage, ...]] = ("zh_CN", "en")

COLUMNS: Final = 20
ROWS: Final = 2
ESC_INIT: Final = b"\x1b@"
FS_CHINESE: Final = b"\x1c&"
CLEAR: Final = b"\x0c"

#: Chinese characters take two columns; East-Asian ambiguous ones (·, °) one.
METRICS: Final = EastAsianMetrics(ambiguous_wide=False)

WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "zh_CN": {
        "welcome": "欢迎光临",
        "member_day": "每月{day}日会员日",
        "member_day_today": "今天会员日 积分x{multiplier}",
        "total": "合计",
        "due": "应付",
        "earned": "本单获得 {points} 积分",
        "used_earned": "抵{used}分 获{points}分",
        "balance": "积分余额 {points}",
        "change": "找零",
        "thanks": "谢谢惠顾",
        "again": "欢迎再次光临",
    },
    "en": {
        "welcome": "Welcome",
        "member_day": "Member day: the {day}th",
        "member_day_today": "Member day x{multiplier}",
        "total": "Total",
        "due": "Due",
        "earned": "Earned {points} pts",
        "used_earned": "-{used} +{points} pts",
        "balance": "Balance {points} pts",
        "change": "Change",
        "thanks": "Thank you",
        "again": "See you again",
    },
}


class PoleDisplayError(Exception):
    """The pole display could not be opened or written to.

    Attributes:
        kind: ``unsupported`` (pyserial missing), ``offline`` (no such port, unplugged,
            refused) or ``timeout`` (the display stopped taking bytes).
    """

    def __init__(self, kind: Literal["unsupported", "offline", "timeout"], message: str) -> None:
        self.kind = kind
        super().__init__(message)


def cursor_to(column: int, row: int) -> bytes:
    """``US $ x y``: the cursor to ``column`` (1-20) of ``row`` (1-2)."""
    if not (1 <= column <= COLUMNS and 1 <= row <= ROWS):
        raise ValueError(f"no position {column},{row} on a {COLUMNS}x{ROWS} display")
    return b"\x1f$" + bytes((column, row))


def _fit(text: str, width: int = COLUMNS) -> str:
    """``text`` cut to ``width`` columns (a double-width character is never split)."""
    out: list[str] = []
    used = 0
    for ch in strip_controls(text):
        w = METRICS.char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _pair(left: str, right: str, suffix: str = "") -> str:
    """``left`` + ``suffix`` and ``right`` on one line, the value flush right; the label
    is cut to fit, the suffix (a weight, a quantity) is kept."""
    right = _fit(right)
    room = COLUMNS - display_width(right, METRICS) - 1
    left = _fit(left, max(room - display_width(suffix, METRICS), 0)) + suffix
    return pad(left, COLUMNS - display_width(right, METRICS), "left", METRICS) + right


def _centre(text: str) -> str:
    return pad(_fit(text), COLUMNS, "center", METRICS)


def _money(fen: int) -> str:
    return format_fen(fen, symbol="")


def pole_lines(view: CustomerView, language: PoleLanguage, *, chinese: bool) -> tuple[str, str]:
    """The two lines of 20 columns a pole display shows for ``view``.

    Args:
        view: What the customer sees.
        language: Words of :data:`WORDS` (``"en"`` is forced when ``chinese`` is off).
        chinese: Whether the display has Chinese characters; without them a Chinese
            product name is replaced by its SKU and the store name by "Welcome".

    Returns:
        Two lines, each exactly 20 columns wide.
    """
    words = WORDS["en" if not chinese else language]

    def shown(text: str, fallback: str) -> str:
        return text if chinese or text.isascii() else fallback

    if view.kind == "idle":
        first = _centre(shown(view.store_name, words["welcome"]) or words["welcome"])
        notice = words["welcome"]
        if view.member_day is not None:
            key = "member_day_today" if view.member_day.today else "member_day"
            day = view.member_day
            notice = words[key].format(day=day.day, multiplier=day.multiplier)
        return first, _centre(notice)
    if view.kind == "item":
        name = shown(view.item_name, view.item_sku)
        suffix = ""
        if view.item_weight_g is not None:
            suffix = " " + format_weight(view.item_weight_g)
        elif view.item_quantity > 1:
            suffix = f" x{view.item_quantity}"
        return _pair(name, _money(view.item_amount_fen), suffix), _pair(
            words["total"], _money(view.total_fen)
        )
    if view.kind == "payment":
        second = ""
        if view.has_member:
            key = "used_earned" if view.points_used else "earned"
            second = words[key].format(used=view.points_used, points=view.points_earned)
        return _pair(words["due"], _money(view.due_fen)), pad(
            _fit(second), COLUMNS, "left", METRICS
        )
    # done
    if view.has_member:
        first = words["earned"].format(points=view.points_earned)
        second = words["balance"].format(points=view.balance_after or 0)
        return pad(_fit(first), COLUMNS, "left", METRICS), pad(
            _fit(second), COLUMNS, "left", METRICS
        )
    if view.change_fen:
        return _centre(words["thanks"]), _pair(words["change"], _money(view.change_fen))
    return _centre(words["thanks"]), _centre(words["again"])


def encode_text(text: str, encoding: PoleEncoding) -> bytes:
    """``text`` in the display's encoding; a character it cannot encode becomes a space
    (of the same width), never a ``?``."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode(encoding)
        except UnicodeEncodeError:
            out += b" " * METRICS.char_width(ch)
    return bytes(out)


def init_sequence(*, chinese_mode: bool) -> bytes:
    """What a fresh connection sends first: ``ESC @`` (and ``FS &`` for Chinese mode)."""
    return ESC_INIT + (FS_CHINESE if chinese_mode else b"")


def frame(lines: tuple[str, str], encoding: PoleEncoding) -> bytes:
    """The bytes of one screen: clear, then each line at the start of its row."""
    data = bytearray(CLEAR)
    for row, text in enumerate(lines, start=1):
        data += cursor_to(1, row) + encode_text(text, encoding)
    return bytes(data)


class PoleDisplay:
    """One open serial connection to a pole display.

    Attributes:
        port: The serial device or pyserial URL.
        encoding: How text is sent.
        language: Which words are shown.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        encoding: PoleEncoding = "gb18030",
        chinese_mode: bool = False,
        language: PoleLanguage = "zh_CN",
        write_timeout: float = 1.0,
    ) -> None:
        """Open ``port`` and initialise the display.

        Raises:
            PoleDisplayError: pyserial is missing, or the port cannot be opened.
        """
        self.port = port
        self.encoding: PoleEncoding = encoding
        self.language: PoleLanguage = language
        self._chinese = encoding != "ascii"
        self._serial = _open_serial(port, baudrate, write_timeout)
        self._send(init_sequence(chinese_mode=chinese_mode and self._chinese))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def show(self, view: CustomerView) -> bytes:
        """Show ``view``; returns the bytes sent.

        Raises:
            PoleDisplayError: the display stopped taking bytes or went away.
        """
        data = frame(pole_lines(view, self.language, chinese=self._chinese), self.encoding)
        self._send(data)
        return data

    def close(self) -> None:
        """Close the port (never raises)."""
        with contextlib.suppress(Exception):  # closing must not raise over the real error
            self._serial.close()

    def _send(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
            self._serial.flush()
        except serial.SerialTimeoutException as exc:
            raise PoleDisplayError("timeout", f"{self.port}: the display took no bytes") from exc
        except (serial.SerialException, OSError) as exc:
            raise PoleDisplayError("offline", f"{self.port}: {exc}") from exc


def _open_serial(port: str, baudrate: int, write_timeout: float) -> Any:
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency
        raise PoleDisplayError("unsupported", "the pole display needs pyserial") from None
    try:
        return serial.serial_for_url(
            port, baudrate=baudrate, timeout=0, write_timeout=write_timeout
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PoleDisplayError("offline", f"{port}: {exc}") from exc
