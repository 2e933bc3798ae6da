"""The customer display feed (客显): what the customer sees, kept off the till's path.

The checkout screen says what happens (an item scanned, the payment, the sale done,
nobody at the counter); the builders here turn that into a
:class:`~pos_app.devices.customer_view.CustomerView` (:func:`item_view`,
:func:`payment_view`, :func:`done_view`, :func:`idle_view`), and a :class:`DisplayFeed`
hands each view to every display: the pole display (:class:`PoleSink`) and the
second-screen window (a sink the UI provides).

The till never waits for a display. :meth:`DisplayFeed.publish` only stores the view
in each display's one-view queue (a newer view replaces one not yet shown: a display
only ever needs the latest) and wakes that display's own worker thread. A display that
is unplugged, slow or failing delays nothing but itself; its worker reports the
trouble through ``on_status`` (the status line says so) and shows the latest view
again once the display is back (it retries every few seconds).

Privacy: views carry the member's masked phone and tier, never the name or the full
number (:class:`~pos_app.devices.customer_view.CustomerView` refuses a full number).

Settings live in the till's ``settings`` table (``display.*``; :func:`display_config`,
:func:`configure_display`; ``pos-app display setup``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal, Protocol, cast

from pos_app.core.calendar import local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.quote import BasketLine, Quote
from pos_app.core.rules import MonthlyDayPromotion, RuleSet
from pos_app.devices.customer_view import CustomerView, MemberDay
from pos_app.devices.pole_display import (
    POLE_ENCODINGS,
    POLE_LANGUAGES,
    PoleDisplay,
    PoleDisplayError,
    PoleEncoding,
    PoleLanguage,
)
from pos_app.services import receipts
from pos_app.services.checkout import SaleResult
from pos_app.services.context import TillContext
from pos_app.services.members import MemberSummary
from pos_app.store import setting_keys as keys
from pos_app.store.settings import get_setting, read, write

log = logging.getLogger(__name__)

#: How often a failing display is tried again with the latest view (seconds).
RETRY_SECONDS: Final = 3.0
SCREEN_CHOICES: Final = ("auto", "off")


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisplayConfig:
    """The till's customer displays.

    Attributes:
        pole_port: Serial device of the pole display (``/dev/ttyUSB0``, ``COM3``, or a
            pyserial URL); empty: no pole display.
        baudrate: Its speed.
        encoding: ``gb18030`` / ``gbk`` for Chinese models, ``ascii`` for the others.
        chinese_mode: Send ``FS &`` after ``ESC @`` (models that need it for Chinese).
        language: The pole display's words (``zh_CN`` or ``en``).
        screen: The second-screen window: ``auto`` (on the second screen when one is
            attached), ``off``, or a screen number (1 = the first screen).
    """

    pole_port: str = ""
    baudrate: int = 9600
    encoding: PoleEncoding = "gb18030"
    chinese_mode: bool = False
    language: PoleLanguage = "zh_CN"
    screen: str = "auto"

    def screen_index(self, count: int) -> int | None:
        """The index (0-based) of the screen the window goes on, of ``count`` screens."""
        if self.screen == "off":
            return None
        if self.screen == "auto":
            return 1 if count > 1 else None
        index = int(self.screen) - 1
        return index if index < count else None


def check_display_config(config: DisplayConfig) -> DisplayConfig:
    """``config`` trimmed, if it is usable.

    Raises:
        InvalidInput: naming the setting that is wrong.
    """
    if config.encoding not in POLE_ENCODINGS:
        raise _bad("encoding", f"one of {', '.join(POLE_ENCODINGS)}")
    if config.language not in POLE_LANGUAGES:
        raise _bad("language", f"one of {', '.join(POLE_LANGUAGES)}")
    if isinstance(config.baudrate, bool) or config.baudrate not in (
        1200,
        2400,
        4800,
        9600,
        19200,
        38400,
        57600,
        115200,
    ):
        raise _bad("baudrate", "1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200")
    screen = config.screen.strip().lower()
    if screen not in SCREEN_CHOICES and not (screen.isdigit() and 1 <= int(screen) <= 9):
        raise _bad("screen", "auto, off or a screen number from 1 to 9")
    return replace(config, pole_port=config.pole_port.strip(), screen=screen)


def _bad(field: str, expected: str) -> InvalidInput:
    return InvalidInput(
        QT_TRANSLATE_NOOP("Errors", "Customer display setting {field}: must be {expected}."),
        field=field,
        expected=expected,
    )


def display_config(ctx: TillContext) -> DisplayConfig:
    """The stored display settings (defaults where unset: ``store.setting_keys``)."""
    default = DisplayConfig()
    with ctx.db.read() as session:
        baud = get_setting(session, keys.DISPLAY_BAUDRATE.key) or ""
        return DisplayConfig(
            pole_port=read(session, keys.DISPLAY_POLE_PORT),
            baudrate=int(baud) if baud.isdigit() else default.baudrate,
            encoding=cast(PoleEncoding, read(session, keys.DISPLAY_ENCODING)),
            chinese_mode=read(session, keys.DISPLAY_CHINESE_MODE),
            language=cast(PoleLanguage, read(session, keys.DISPLAY_LANGUAGE)),
            screen=read(session, keys.DISPLAY_SCREEN),
        )


def configure_display(ctx: TillContext, config: DisplayConfig) -> DisplayConfig:
    """Store the display settings (the till uses them from its next start).

    Raises:
        InvalidInput: see :func:`check_display_config` (nothing is written).
    """
    config = check_display_config(config)
    with ctx.db.write() as session:
        write(session, keys.DISPLAY_POLE_PORT, config.pole_port)
        write(session, keys.DISPLAY_BAUDRATE, config.baudrate)
        write(session, keys.DISPLAY_ENCODING, config.encoding)
        write(session, keys.DISPLAY_CHINESE_MODE, config.chinese_mode)
        write(session, keys.DISPLAY_LANGUAGE, config.language)
        write(session, keys.DISPLAY_SCREEN, config.screen)
    return config


# --- views -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisplayContext:
    """What the displays need from the till database, read once on the worker.

    Attributes:
        config: The display settings.
        idle: The idle view now (store name, member-day notice).
        mall_base_url: Base of the member mall pages (the payment QR code).
    """

    config: DisplayConfig
    idle: CustomerView
    mall_base_url: str


def load_display_context(ctx: TillContext) -> DisplayContext:
    """The settings, the idle view and the mall base URL (call on the worker)."""
    return DisplayContext(
        display_config(ctx), idle_view(ctx), receipts.receipt_settings(ctx).mall_base_url
    )


def member_day_notice(rules: RuleSet, today_day: int) -> MemberDay | None:
    """The rule set's first monthly member day, and whether ``today_day`` is one."""
    days = [p for p in rules.earning.promotions if isinstance(p, MonthlyDayPromotion)]
    if not days:
        return None
    today = next((p for p in days if p.day == today_day), None)
    shown = today or days[0]
    return MemberDay(shown.day, format(shown.multiplier.normalize(), "f"), today is not None)


def idle_view(ctx: TillContext) -> CustomerView:
    """Nobody at the counter: the store's name and the member-day notice."""
    rules = ctx.rules
    today = local_date(rules, ctx.now())
    return CustomerView(
        "idle", store_name=ctx.store_name, member_day=member_day_notice(rules, today.day)
    )


def item_view(line: BasketLine, quote: Quote | None, lines: Sequence[BasketLine]) -> CustomerView:
    """``line`` was just scanned (or changed); the total is the quote's when there is one."""
    total = quote.total_fen if quote is not None else sum(ln.net_fen for ln in lines)
    return CustomerView(
        "item",
        item_name=line.name,
        item_sku=line.sku,
        item_quantity=line.quantity,
        item_weight_g=line.weight_g,
        item_unit_fen=line.price_per_kg_fen or line.unit_price_fen,
        item_amount_fen=line.net_fen,
        total_fen=total,
        line_count=len(lines),
    )


def _with_member(
    view: CustomerView, member: MemberSummary | None, mall_base_url: str
) -> CustomerView:
    """``view`` with the member's masked phone, tier and mall page (never the name)."""
    if member is None:
        return view
    url = receipts.mall_url(mall_base_url, member.member_no) if mall_base_url else ""
    return replace(view, member=member.masked_phone, tier_name=member.tier_name, mall_url=url)


def payment_view(quote: Quote, member: MemberSummary | None, mall_base_url: str) -> CustomerView:
    """At payment: the amount due, points used, points this sale earns, the balance after."""
    earned = quote.points_earned + quote.bonus_points_for_member if member else 0
    view = CustomerView(
        "payment",
        total_fen=quote.total_fen,
        line_count=len(quote.lines),
        due_fen=quote.cash_due_fen,
        points_used=quote.points_used,
        points_value_fen=quote.points_value_fen,
        points_earned=earned,
        balance_after=member.balance - quote.points_used + earned if member else None,
    )
    return _with_member(view, member, mall_base_url)


def done_view(result: SaleResult, member: MemberSummary | None, mall_base_url: str) -> CustomerView:
    """The sale is committed: its points, the member's new balance, the change."""
    known = member if result.member_id is not None else None
    view = CustomerView(
        "done",
        total_fen=result.total_fen,
        due_fen=result.cash_due_fen,
        points_used=result.points_used,
        points_value_fen=result.points_value_fen,
        points_earned=result.points_earned + result.bonus_points if known else 0,
        balance_after=result.balance_after if known else None,
        change_fen=result.change_fen,
    )
    return _with_member(view, known, mall_base_url)


# --- the feed -----------------------------------------------------------------------------

Condition = Literal["ok", "offline", "timeout", "unsupported", "error"]


@dataclass(frozen=True)
class DisplayStatus:
    """How one display is doing.

    Attributes:
        display: The display's name (``pole``, ``screen``).
        condition: ``ok``, or why the last view did not reach it.
        message: Details (English, for the tooltip and the log).
    """

    display: str
    condition: Condition
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the last view reached the display."""
        return self.condition == "ok"


class DisplaySink(Protocol):
    """A customer display the feed drives (from its own worker thread)."""

    name: str

    def show(self, view: CustomerView) -> None:
        """Show ``view``; raise when the display did not take it."""

    def close(self) -> None:
        """Release the display."""


class PoleSink:
    """The pole display as a feed sink: opened on first use, reopened after a failure."""

    name = "pole"

    def __init__(self, config: DisplayConfig, *, write_timeout: float = 1.0) -> None:
        self.config = config
        self._write_timeout = write_timeout
        self._display: PoleDisplay | None = None
        #: Every frame sent (the last few), for tests and ``pos-app display test``.
        self.sent: list[bytes] = []

    def show(self, view: CustomerView) -> None:
        """Send ``view`` (opening the port first if needed)."""
        try:
            if self._display is None:
                c = self.config
                self._display = PoleDisplay(
                    c.pole_port,
                    baudrate=c.baudrate,
                    encoding=c.encoding,
                    chinese_mode=c.chinese_mode,
                    language=c.language,
                    write_timeout=self._write_timeout,
                )
            self.sent = [*self.sent[-9:], self._display.show(view)]
        except PoleDisplayError:
            self.close()
            raise

    def close(self) -> None:
        """Close the port (the next view opens it again)."""
        if self._display is not None:
            self._display.close()
            self._display = None


class _Channel:
    """One display's one-view queue and the worker thread that empties it."""

    def __init__(self, sink: DisplaySink, report: Callable[[DisplayStatus], None]) -> None:
        self.sink = sink
        self._report = report
        self._wake = threading.Condition()
        self._pending: CustomerView | None = None
        self._latest: CustomerView | None = None
        self._stopped = False
        self._failing = False
        self.shown = 0
        self.thread = threading.Thread(target=self._run, name=f"display-{sink.name}", daemon=True)

    def offer(self, view: CustomerView) -> None:
        with self._wake:
            self._pending = view
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _next(self) -> CustomerView | None:
        with self._wake:
            while self._pending is None and not self._stopped:
                woke = self._wake.wait(RETRY_SECONDS if self._failing else None)
                if not woke and self._failing and self._latest is not None:
                    return self._latest  # try the failing display again
            if self._stopped:
                return None
            view, self._pending = self._pending, None
            self._latest = view
            return view

    def _run(self) -> None:
        while (view := self._next()) is not None:
            try:
                self.sink.show(view)
            except Exception as exc:  # a display never takes the till down
                self._fail(exc)
                continue
            self.shown += 1
            if self._failing:
                self._failing = False
                self._report(DisplayStatus(self.sink.name, "ok"))
        self.sink.close()

    def _fail(self, exc: Exception) -> None:
        condition: Condition = "error"
        if isinstance(exc, PoleDisplayError):
            condition = exc.kind
        if not self._failing:
            log.warning("customer display %s: %s", self.sink.name, exc)
        self._failing = True
        self._report(DisplayStatus(self.sink.name, condition, str(exc)))


class DisplayFeed:
    """Hands every view to each display's own worker; never blocks the caller.

    Attributes:
        last_view: The view published last.
    """

    def __init__(
        self,
        sinks: Sequence[DisplaySink],
        on_status: Callable[[DisplayStatus], None] | None = None,
    ) -> None:
        self._on_status = on_status or (lambda _s: None)
        self._channels = [_Channel(sink, self._status) for sink in sinks]
        self.last_view: CustomerView | None = None
        self.statuses: dict[str, DisplayStatus] = {
            sink.name: DisplayStatus(sink.name, "ok") for sink in sinks
        }
        for channel in self._channels:
            channel.thread.start()

    @property
    def displays(self) -> list[str]:
        """The displays' names."""
        return [c.sink.name for c in self._channels]

    def shown(self, display: str) -> int:
        """How many views ``display`` took so far."""
        return sum(c.shown for c in self._channels if c.sink.name == display)

    def publish(self, view: CustomerView) -> None:
        """Show ``view`` on every display (returns at once)."""
        self.last_view = view
        for channel in self._channels:
            channel.offer(view)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the workers (each closes its display)."""
        for channel in self._channels:
            channel.stop()
        deadline = time.monotonic() + timeout
        for channel in self._channels:
            channel.thread.join(max(0.0, deadline - time.monotonic()))

    def _status(self, status: DisplayStatus) -> None:
        self.statuses[status.display] = status
        self._on_status(status)
