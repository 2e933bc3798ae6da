"""The customer display feed: views from real sales, settings, and a feed that never
makes the till wait (a real pole display on a socat loopback line)."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from pos_app.core.errors import InvalidInput
from pos_app.devices.customer_view import CustomerView
from pos_app.devices.pole_display import ESC_INIT, frame, pole_lines
from pos_app.services import checkout, members
from pos_app.services.auth import UserInfo
from pos_app.services.context import TillContext
from pos_app.services.customer_display import (
    DisplayConfig,
    DisplayFeed,
    DisplayStatus,
    PoleSink,
    configure_display,
    display_config,
    done_view,
    idle_view,
    item_view,
    load_display_context,
    payment_view,
)
from tests.services.conftest import Clock
from tests.services.support import item, nothing_written, sell
from tests.support.serial_pair import SerialPair

FULL_PHONE = "13812341234"


def test_views_of_a_member_sale_never_hold_the_name_or_the_phone(
    ctx: TillContext, cashier: UserInfo, regular: str
) -> None:
    member = members.summary(ctx, regular)
    assert member.name == "张三"
    lines = [item(3000, sku="TEA"), item(4500, 2, sku="RICE")]
    quote = checkout.quote(ctx, lines, member_id=regular, points_to_use=100)
    base = "https://mall.example.cn"

    scanned = item_view(lines[1], quote, lines)
    assert (scanned.item_sku, scanned.item_quantity, scanned.item_amount_fen) == ("RICE", 2, 9000)
    assert scanned.total_fen == 12000

    paying = payment_view(quote, member, base)
    assert paying.due_fen == 11900
    assert paying.points_used == 100
    assert paying.points_earned == quote.points_earned == 119
    assert paying.balance_after == 150 - 100 + 119
    assert paying.member == "138****1234"
    assert paying.mall_url == f"{base}/m/{member.code}"

    result = sell(ctx, cashier.id, regular, lines, points=100)
    done = done_view(result, member, base)
    assert (done.points_earned, done.balance_after) == (119, 169)
    for view in (scanned, paying, done):
        text = repr(view)
        assert "张三" not in text
        assert FULL_PHONE not in text


def test_a_sale_without_a_member(ctx: TillContext, cashier: UserInfo) -> None:
    quote = checkout.quote(ctx, [item(1000)], member_id=None)
    view = payment_view(quote, None, "https://mall.example.cn")
    assert (view.member, view.mall_url, view.points_earned, view.balance_after) == ("", "", 0, None)
    result = checkout.complete_sale(
        ctx,
        sale_id="S1",
        lines=[item(1000)],
        member_id=None,
        tenders=[checkout.TenderInput("cash", 1000, 2000)],
        cashier_id=cashier.id,
    )
    done = done_view(result, None, "")
    assert (done.change_fen, done.points_earned, done.has_member) == (1000, 0, False)


def test_the_idle_view_names_the_store_and_the_member_day(ctx: TillContext, clock: Clock) -> None:
    view = idle_view(ctx)
    assert view.store_name == ctx.store_name
    assert view.member_day is not None
    assert (view.member_day.day, view.member_day.multiplier, view.member_day.today) == (
        18,
        "2",
        False,
    )
    clock.set(2026, 11, 18, 9, 0)
    assert idle_view(ctx).member_day.today  # type: ignore[union-attr]


def test_display_settings(ctx: TillContext) -> None:
    assert display_config(ctx) == DisplayConfig()
    stored = configure_display(
        ctx,
        DisplayConfig(
            pole_port=" /dev/ttyUSB0 ", baudrate=2400, encoding="gbk", chinese_mode=True, screen="2"
        ),
    )
    assert stored.pole_port == "/dev/ttyUSB0"
    assert display_config(ctx) == stored
    context = load_display_context(ctx)
    assert context.config == stored
    assert context.idle.kind == "idle"
    assert stored.screen_index(1) is None
    assert stored.screen_index(2) == 1
    assert DisplayConfig().screen_index(2) == 1
    assert DisplayConfig().screen_index(1) is None
    assert DisplayConfig(screen="off").screen_index(3) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"encoding": "utf-8"}, "encoding"),
        ({"baudrate": 1234}, "baudrate"),
        ({"screen": "left"}, "screen"),
        ({"screen": "0"}, "screen"),
        ({"language": "fr"}, "language"),
    ],
)
def test_bad_display_settings_write_nothing(
    ctx: TillContext, change: dict[str, object], field: str
) -> None:
    with nothing_written(ctx), pytest.raises(InvalidInput, match=f"setting {field}: must be"):
        configure_display(ctx, dataclasses.replace(DisplayConfig(), **change))  # type: ignore[arg-type]


# --- the feed ---------------------------------------------------------------------------------

VIEWS = [
    CustomerView(
        "item",
        item_name="可乐",
        item_sku="COLA",
        item_quantity=n,
        item_amount_fen=300 * n,
        total_fen=300 * n,
    )
    for n in range(1, 101)
]


def _expected(view: CustomerView) -> bytes:
    return frame(pole_lines(view, "zh_CN", chinese=True), "gb18030")


def test_the_pole_display_follows_the_feed(serial_pair: SerialPair) -> None:
    feed = DisplayFeed([PoleSink(DisplayConfig(pole_port=serial_pair.device))])
    try:
        feed.publish(VIEWS[0])
        first = ESC_INIT + _expected(VIEWS[0])
        assert serial_pair.read(len(first)) == first
        feed.publish(VIEWS[1])
        assert serial_pair.read(len(_expected(VIEWS[1]))) == _expected(VIEWS[1])
        assert feed.statuses["pole"].ok
    finally:
        feed.stop()


def test_a_stuck_display_never_makes_the_till_wait(serial_pair: SerialPair) -> None:
    statuses: list[DisplayStatus] = []
    sink = PoleSink(DisplayConfig(pole_port=serial_pair.device), write_timeout=0.3)
    feed = DisplayFeed([sink], on_status=statuses.append)
    try:
        feed.publish(VIEWS[0])
        serial_pair.read(len(ESC_INIT + _expected(VIEWS[0])))
        serial_pair.pause()  # the display stops taking bytes
        slowest = 0.0
        deadline = time.monotonic() + 20
        while not statuses and time.monotonic() < deadline:
            for view in VIEWS:  # the till keeps scanning while the display is stuck
                started = time.perf_counter()
                feed.publish(view)
                slowest = max(slowest, time.perf_counter() - started)
        assert [s.condition for s in statuses][:1] == ["timeout"]  # it really was stuck
        # ... and no publish waited for it (generous bound: a write blocks 0.3 s here).
        assert slowest < 0.1
        serial_pair.resume()
        # The latest view reaches the display once it takes bytes again.
        deadline = time.monotonic() + 10
        received = b""
        while time.monotonic() < deadline and not received.endswith(_expected(VIEWS[-1])):
            received += serial_pair.read_quiet(quiet=0.2, timeout=1)
        assert received.endswith(_expected(VIEWS[-1]))
    finally:
        feed.stop()


def test_an_unplugged_display_is_reported_and_retried(tmp_path: object) -> None:
    statuses: list[DisplayStatus] = []
    reported = threading.Event()

    def on_status(status: DisplayStatus) -> None:
        statuses.append(status)
        reported.set()

    feed = DisplayFeed(
        [PoleSink(DisplayConfig(pole_port="/dev/pos-test-no-such-tty"))], on_status=on_status
    )
    try:
        started = time.perf_counter()
        feed.publish(VIEWS[0])
        assert time.perf_counter() - started < 0.05  # publishing never waits
        assert reported.wait(5)
        assert statuses[0].display == "pole"
        assert statuses[0].condition == "offline"
        assert "pos-test-no-such-tty" in statuses[0].message
        assert not feed.statuses["pole"].ok
    finally:
        feed.stop()


class _Recorder:
    """A display that keeps what it is shown (and can be told to fail)."""

    name = "screen"

    def __init__(self) -> None:
        self.views: list[CustomerView] = []
        self.fail = False
        self.closed = False

    def show(self, view: CustomerView) -> None:
        if self.fail:
            raise RuntimeError("screen unplugged")
        self.views.append(view)

    def close(self) -> None:
        self.closed = True


def test_a_failing_display_recovers_with_the_latest_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pos_app.services.customer_display.RETRY_SECONDS", 0.05)
    recorder = _Recorder()
    statuses: list[DisplayStatus] = []
    feed = DisplayFeed([recorder], on_status=statuses.append)
    try:
        recorder.fail = True
        feed.publish(VIEWS[5])
        deadline = time.monotonic() + 5
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.01)
        assert statuses[0].condition == "error"
        recorder.fail = False  # plugged back in: the retry shows the latest view
        while len(statuses) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert statuses[-1].ok
        assert recorder.views[-1] == VIEWS[5]
    finally:
        feed.stop()
    assert recorder.closed
