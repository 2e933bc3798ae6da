"""The rest of the counter on the real window: weighed goods and the customer display.

The customer screen is created offscreen (the settings put it on screen 1, the only
one here) and its labels are checked; the pole display is a socat loopback line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from pos_app.devices.pole_display import frame, pole_lines
from pos_app.services import members, refunds
from pos_app.services.customer_display import DisplayConfig, configure_display
from pos_app.ui import app as till_app
from pos_app.ui.basket import BasketModel
from pos_app.ui.customer_display import CustomerDisplayWindow
from pos_app.ui.dialogs import PaymentDialog
from pos_app.ui.main_window import MainWindow
from pos_app.ui.qt import QApplication, QLabel, Qt
from pos_app.ui.refund import RefundDialog
from tests.support.serial_pair import SerialPair
from tests.ui.conftest import key, scan, type_enter, wait_idle
from tests.ui.counter_demo import add_scale_goods, price_label, weight_label
from tests.ui.demo import OIL, ZHANG_PHONE, Demo

APPLES = weight_label("10001", 1456)  # 1.456 kg at ¥11.60/kg (members ¥9.80/kg)


def _login(qtbot: QtBot, win: MainWindow) -> MainWindow:
    assert win.login.select_user("小王")
    type_enter(qtbot, win.login.pin, "1111")
    qtbot.waitUntil(lambda: win.stack.currentWidget() is win.checkout, timeout=20_000)
    wait_idle(qtbot, win)
    return win


@pytest.fixture
def scales(demo: Demo) -> Demo:
    add_scale_goods(demo.ctx)
    return demo


def _open(qtbot: QtBot, demo: Demo, config: DisplayConfig | None) -> MainWindow:
    if config is not None:
        configure_display(demo.ctx, config)
    win = MainWindow(demo.ctx, start_printing=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.login.users.count() == 2)
    return _login(qtbot, win)


@pytest.fixture
def till(qtbot: QtBot, scales: Demo) -> Iterator[MainWindow]:
    win = _open(qtbot, scales, None)
    yield win
    win.shutdown()


def _cell(win: MainWindow, row: int, col: int) -> str:
    model = win.checkout.basket
    return str(model.data(model.index(row, col), Qt.ItemDataRole.DisplayRole))


# -- weighed goods ---------------------------------------------------------------------------
def test_a_weight_label_rings_up_a_weighed_line(qtbot: QtBot, till: MainWindow) -> None:
    co = till.checkout
    scan(qtbot, till, APPLES)
    assert co.basket.rowCount() == 1
    assert _cell(till, 0, BasketModel.COL_NAME) == "红富士苹果(散装)"
    assert _cell(till, 0, BasketModel.COL_QTY) == "1.456kg"
    assert _cell(till, 0, BasketModel.COL_PRICE) == "¥11.60/kg"
    assert _cell(till, 0, BasketModel.COL_AMOUNT) == "¥16.89"  # 1688.96 fen -> 1689
    # Two scans are two lines (two bags), never 2 x one weight.
    scan(qtbot, till, weight_label("10001", 500))
    assert co.basket.rowCount() == 2
    # The weight is not editable: it comes from the scale.
    assert not co.basket.flags(co.basket.index(0, BasketModel.COL_QTY)) & Qt.ItemFlag.ItemIsEditable
    assert not co.basket.set_quantity(0, 3)
    assert "comes from its scale label" in co.message.text()
    # A price label: the scale's price.
    scan(qtbot, till, price_label("10002", 2345))
    assert _cell(till, 2, BasketModel.COL_QTY) == "1"
    assert _cell(till, 2, BasketModel.COL_AMOUNT) == "¥23.45"
    assert co.totals.value("subtotal") == "¥46.14"  # 16.89 + 5.80 + 23.45


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (APPLES[:-1] + str((int(APPLES[-1]) + 1) % 10), "the check digit is wrong"),
        (weight_label("10001", 0), "a weight of 0 g is not possible"),
        (weight_label("10001", 31000), "a weight of 31000 g is not possible"),
        (weight_label("99999", 500), "No product has the item code 99999"),
        ("2500000000007", "no scale label layout is set up for prefix 25"),
        (f"2*{APPLES}", "A weighed item cannot take a quantity"),
    ],
    ids=["check digit", "zero", "too heavy", "unknown item", "unknown layout", "quantity"],
)
def test_bad_labels_add_nothing(qtbot: QtBot, till: MainWindow, text: str, message: str) -> None:
    scan(qtbot, till, text)
    assert till.checkout.basket.rowCount() == 0
    assert message in till.checkout.message.text()


def test_a_weighed_sale_earns_points_and_refunds_by_its_amount(
    qtbot: QtBot, till: MainWindow, scales: Demo
) -> None:
    co = till.checkout
    scan(qtbot, till, ZHANG_PHONE)
    scan(qtbot, till, APPLES)
    scan(qtbot, till, OIL)
    # The member price per kg applies: 1456 g x ¥9.80 = 1426.88 -> ¥14.27.
    assert _cell(till, 0, BasketModel.COL_AMOUNT) == "¥14.27"
    key(qtbot, co.scan, "F4")
    pay = co.dialog
    assert isinstance(pay, PaymentDialog)
    type_enter(qtbot, pay.received, "100")
    qtbot.waitUntil(lambda: co.last_sale is not None and co.dialog is None)
    wait_idle(qtbot, till)
    assert co.last_sale is not None
    result = co.last_sale.result
    assert result.total_fen == 1427 + 8490
    weighed = result.quote["lines"][0]
    assert weighed["earn_points"] > 0  # a fresh line earns like any line of its category

    receipt = result.receipt_no
    scan(qtbot, till, receipt)
    dialog = co.dialog
    assert isinstance(dialog, RefundDialog)
    qtbot.waitUntil(lambda: dialog.sale is not None)
    assert dialog.sale is not None
    row = next(i for i, ln in enumerate(dialog.sale.lines) if ln.weight_g == 1456)
    assert dialog.table.item(row, 0).text() == "红富士苹果(散装) 1.456kg"
    assert dialog.spins[row].maximum() == 1  # returned whole, by its printed amount
    dialog.set_quantity(row, 1)
    wait_idle(qtbot, till)
    qtbot.keyClicks(dialog.reason, "not fresh")
    type_enter(qtbot, dialog.manager_pin, "9999")
    qtbot.waitUntil(lambda: dialog.refund_result is not None)
    assert dialog.refund_result is not None
    assert dialog.refund_result.quote.cash_refund_fen == 1427
    assert dialog.refund_result.quote.points_reversed == weighed["earn_points"]
    assert [ln.refunded_qty for ln in refunds.find_sale(scales.ctx, receipt).lines] == [1, 0]


# -- the customer display ---------------------------------------------------------------------
def _texts(window: CustomerDisplayWindow) -> dict[str, str]:
    return {
        label.objectName(): label.text()
        for label in window.findChildren(QLabel)
        if label.objectName().startswith("cd") and label.isVisibleTo(window)
    }


def test_the_customer_screen_and_the_pole_follow_the_sale(
    qtbot: QtBot, scales: Demo, serial_pair: SerialPair
) -> None:
    config = DisplayConfig(pole_port=serial_pair.device, screen="1")
    win = _open(qtbot, scales, config)
    try:
        display = win.customer_display
        qtbot.waitUntil(lambda: display.window is not None and display.window.view is not None)
        screen = display.window
        assert screen is not None
        assert screen.isVisible()
        assert _texts(screen)["cdStoreName"] == scales.ctx.store_name
        assert "Member day on the 18th" in _texts(screen)["cdNotice"]
        assert display.status_label.text() == "Customer display ready"

        co = win.checkout
        scan(qtbot, win, ZHANG_PHONE)
        scan(qtbot, win, APPLES)
        qtbot.waitUntil(lambda: screen.view is not None and screen.view.kind == "item")
        qtbot.waitUntil(lambda: _texts(screen).get("cdTotal") == "Total ¥14.27")
        texts = _texts(screen)
        assert texts["cdItemName"] == "红富士苹果(散装)"
        assert texts["cdItemDetail"] == "1.456kg at ¥9.80/kg"
        assert texts["cdItemAmount"] == "¥14.27"

        key(qtbot, co.scan, "F4")
        pay = co.dialog
        assert isinstance(pay, PaymentDialog)
        qtbot.waitUntil(lambda: screen.view is not None and screen.view.kind == "payment")
        texts = _texts(screen)
        assert texts["cdDue"] == "Amount due ¥14.27"
        assert (
            texts["cdEarned"] == "This sale earns 270 points"
        )  # 14 x5 (first) + 200 birthday gift
        assert texts["cdBalance"] == "Balance after payment: 370 points"
        assert texts["cdMember"] == "138****1234 · 普通会员"
        assert not screen.qr.pixmap().isNull()  # the member's mall QR code

        type_enter(qtbot, pay.received, "20")
        qtbot.waitUntil(lambda: co.last_sale is not None and co.dialog is None)
        qtbot.waitUntil(lambda: screen.view is not None and screen.view.kind == "done")
        texts = _texts(screen)
        assert texts["cdTitle"] == "Thank you!"
        assert texts["cdBalance"] == "Points balance: 370"
        assert texts["cdChange"] == "Change ¥5.73"
        after = members.summary(scales.ctx, scales.zhang.id)
        assert after.balance == 370

        # Never the name, never the full phone, on either display.
        shown = " ".join(_texts(screen).values())
        assert "张三" not in shown
        assert ZHANG_PHONE not in shown
        received = serial_pair.read_quiet()
        assert "张三".encode("gb18030") not in received
        assert ZHANG_PHONE.encode() not in received
        done = screen.view
        assert done is not None
        assert received.endswith(frame(pole_lines(done, "zh_CN", chinese=True), "gb18030"))
        assert "本单获得 270 积分".encode("gb18030") in received

        # Back to idle after the hold.
        display.show_idle()
        qtbot.waitUntil(lambda: screen.view is not None and screen.view.kind == "idle")
    finally:
        win.shutdown()


def test_an_unplugged_pole_display_never_blocks_a_sale(qtbot: QtBot, scales: Demo) -> None:
    config = DisplayConfig(pole_port="/dev/pos-test-no-such-tty", screen="off")
    win = _open(qtbot, scales, config)
    try:
        display = win.customer_display
        qtbot.waitUntil(lambda: "offline" in display.status_label.text())
        assert display.status_label.text() == (
            "Customer display offline (pole display); sales go on"
        )
        assert "pos-test-no-such-tty" in display.status_label.toolTip()
        assert display.window is None
        co = win.checkout
        scan(qtbot, win, APPLES)
        key(qtbot, co.scan, "F4")
        pay = co.dialog
        assert isinstance(pay, PaymentDialog)
        type_enter(qtbot, pay.received, "20")
        qtbot.waitUntil(lambda: co.last_sale is not None and co.dialog is None)
        assert co.last_sale is not None
        assert co.last_sale.result.total_fen == 1689
    finally:
        win.shutdown()


def test_without_displays_nothing_runs(qtbot: QtBot, till: MainWindow) -> None:
    display = till.customer_display
    qtbot.waitUntil(lambda: display.context is not None)
    assert display.feed is None
    assert display.window is None
    assert not display.status_label.isVisibleTo(till)
    assert display.context is not None
    assert display.context.config == replace(DisplayConfig())


def test_chinese_customer_screen_and_scale_errors(
    qtbot: QtBot, qapp: QApplication, scales: Demo
) -> None:
    translator = till_app.install_translator(qapp, "zh_CN")
    assert translator is not None
    win = _open(qtbot, scales, DisplayConfig(screen="1"))
    try:
        display = win.customer_display
        qtbot.waitUntil(lambda: display.window is not None and display.window.view is not None)
        screen = display.window
        assert screen is not None
        assert _texts(screen)["cdNotice"] == "每月 18 日会员日：积分 2 倍"
        assert display.status_label.text() == "客显正常"
        scan(qtbot, win, APPLES[:-1] + str((int(APPLES[-1]) + 1) % 10))
        assert "校验位错误" in win.checkout.message.text()
        scan(qtbot, win, ZHANG_PHONE)
        scan(qtbot, win, APPLES)
        qtbot.waitUntil(lambda: _texts(screen).get("cdTotal") == "合计 ¥14.27")
        assert _texts(screen)["cdItemDetail"] == "1.456kg × ¥9.80/kg"
        key(qtbot, win.checkout.scan, "F4")
        qtbot.waitUntil(lambda: screen.view is not None and screen.view.kind == "payment")
        assert _texts(screen)["cdEarned"] == "本单获得 270 积分"
        assert _texts(screen)["cdDue"] == "应付 ¥14.27"
    finally:
        win.shutdown()
        qapp.removeTranslator(translator)
