"""The till as a cashier meets it, with real key and mouse events sent where the keyboard
is (``QApplication.focusWidget()``): login focus, the receipt on screen, returns by
keyboard only, the points amount typed over, and the messages a cashier reads."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from pos_app.services import print_queue, refunds
from pos_app.services.mall import offline_spend_limit
from pos_app.services.print_queue import PrinterConfig, PrintWorker, configure_printer
from pos_app.ui.dialogs import HelpDialog, PaymentDialog, PointsDialog
from pos_app.ui.keys import FUNCTION_KEYS
from pos_app.ui.main_window import MainWindow
from pos_app.ui.qt import QApplication, Qt, QWidget
from pos_app.ui.refund import RefundDialog
from tests.ui.conftest import scan, wait_idle
from tests.ui.demo import OIL, RICE, ZHANG_PHONE, Demo


def focused() -> QWidget | None:
    """Where the keyboard is when the cashier's next key arrives (the events queued
    before it, such as a dialog's activation, have been handled by then)."""
    QApplication.processEvents()
    return QApplication.focusWidget()


def typed(qtbot: QtBot, text: str, *, enter: bool = False) -> None:
    """Type ``text`` into whatever has the keyboard (then Enter)."""
    target = focused()
    assert target is not None, "nothing has the keyboard"
    qtbot.keyClicks(target, text)
    if enter:
        qtbot.keyClick(focused(), Qt.Key.Key_Return)


def press(qtbot: QtBot, key_name: str, modifier: Qt.KeyboardModifier | None = None) -> None:
    """Press a key where the keyboard is."""
    target = focused()
    assert target is not None, "nothing has the keyboard"
    qtbot.keyClick(
        target, getattr(Qt.Key, f"Key_{key_name}"), modifier or Qt.KeyboardModifier.NoModifier
    )


def log_in(qtbot: QtBot, win: MainWindow, name: str, pin: str) -> None:
    """Click the name, type the PIN, Enter: as a cashier does."""
    users = win.login.users
    row = next(i for i in range(users.count()) if users.item(i).text().startswith(name + "  ·"))
    rect = users.visualItemRect(users.item(row))
    qtbot.mouseClick(users.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    typed(qtbot, pin, enter=True)
    qtbot.waitUntil(lambda: win.stack.currentWidget() is win.checkout)
    wait_idle(qtbot, win)


def pay_cash(qtbot: QtBot, win: MainWindow, received: str) -> None:
    """F4, the cash received, Enter; wait for the sale."""
    co = win.checkout
    before = co.last_sale
    press(qtbot, "F4")
    assert isinstance(co.dialog, PaymentDialog)
    assert focused() is co.dialog.received
    qtbot.keyClick(focused(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    typed(qtbot, received, enter=True)
    qtbot.waitUntil(lambda: co.last_sale is not before and co.dialog is None)
    wait_idle(qtbot, win)


# -- login ------------------------------------------------------------------------------
def test_clicking_a_name_moves_the_keyboard_to_the_pin(qtbot: QtBot, window: MainWindow) -> None:
    users = window.login.users
    rect = users.visualItemRect(users.item(1))
    qtbot.mouseClick(users.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert focused() is window.login.pin
    typed(qtbot, "1111")
    assert window.login.pin.text() == "1111"

    # Digits typed while the list itself has the keyboard go to the PIN as well.
    window.login.pin.clear()
    users.setFocus()
    typed(qtbot, "99")
    assert focused() is window.login.pin
    assert window.login.pin.text() == "99"


def test_a_cashier_typing_her_pin_at_once_logs_in_as_herself(
    qtbot: QtBot, window: MainWindow, demo: Demo
) -> None:
    """Before anyone logged in, the first cashier is pre-selected, never the manager
    (who sorts first); afterwards, whoever logged in last on this till."""
    assert focused() is window.login.pin
    current = window.login.users.currentItem().data(Qt.ItemDataRole.UserRole)
    assert current.id == demo.cashier.id
    typed(qtbot, "1111", enter=True)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.checkout)
    assert window.user is not None
    assert window.user.id == demo.cashier.id

    press(qtbot, "F12")
    qtbot.mouseClick(window.lock_screen.switch_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)  # the list reloaded
    log_in(qtbot, window, demo.manager.name, "9999")
    window.log_out()
    qtbot.waitUntil(lambda: window.login.users.count() == 2)
    wait_idle(qtbot, window)
    current = window.login.users.currentItem().data(Qt.ItemDataRole.UserRole)
    assert current.id == demo.manager.id
    assert focused() is window.login.pin


# -- the receipt on screen -----------------------------------------------------------------
def _sell_oil(qtbot: QtBot, win: MainWindow) -> str:
    scan(qtbot, win, OIL)
    pay_cash(qtbot, win, "100")
    assert win.checkout.last_sale is not None
    return win.checkout.last_sale.result.receipt_no


def test_the_receipt_shows_in_the_till_never_over_it_and_esc_hides_it(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    win = cashier_window
    win.resize(1024, 768)
    co = win.checkout
    receipt = _sell_oil(qtbot, win)
    pane = co.receipt_pane
    qtbot.waitUntil(lambda: pane.receipt_no == receipt, timeout=15_000)
    assert co.receipt_showing
    assert not pane.isWindow()
    assert pane.window() is win
    assert [w for w in QApplication.topLevelWidgets() if w.isVisible()] == [win]
    assert co.banner.isVisible()
    assert "complete" in co.banner.text()
    assert focused() is co.scan  # the keyboard stayed with the scan line
    # It fits 1024x768: the close button and the paper's width are on screen.
    close = pane.close_button
    top_left = close.mapTo(win, close.rect().topLeft())
    assert win.rect().contains(top_left)
    assert close.isVisible()
    assert pane.image.pixmap().width() <= pane.scroller.viewport().width()

    press(qtbot, "Escape")
    assert not co.receipt_showing
    press(qtbot, "P", Qt.KeyboardModifier.ControlModifier)  # asked for again
    qtbot.waitUntil(lambda: co.receipt_showing)

    scan(qtbot, win, RICE)  # the next customer: the basket comes back at once
    assert not co.receipt_showing
    assert co.basket.rowCount() == 1


def test_the_receipt_is_hidden_by_the_lock_screen(qtbot: QtBot, cashier_window: MainWindow) -> None:
    win = cashier_window
    co = win.checkout
    receipt = _sell_oil(qtbot, win)
    qtbot.waitUntil(lambda: co.receipt_pane.receipt_no == receipt, timeout=15_000)
    assert co.receipt_pane.isVisible()
    press(qtbot, "F12")
    assert win.locked
    assert not co.receipt_pane.isVisible()  # the customer's receipt is not on the lock screen
    assert focused() is win.lock_screen.pin


def test_a_receipt_arriving_under_a_dialog_leaves_it_the_keyboard(qtbot: QtBot, demo: Demo) -> None:
    win = MainWindow(demo.ctx, start_printing=False)  # receipts are drawn by hand below
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.login.users.count() == 2)
        log_in(qtbot, win, demo.cashier.name, "1111")
        co = win.checkout
        receipt = _sell_oil(qtbot, win)
        press(qtbot, "F9")
        dialog = co.dialog
        assert isinstance(dialog, RefundDialog)
        assert focused() is dialog.receipt
        typed(qtbot, "R0")
        PrintWorker(demo.ctx, on_printed=win._print_bridge.printed.emit).process_next()
        qtbot.waitUntil(lambda: co.receipt_pane.receipt_no == receipt, timeout=15_000)
        assert focused() is dialog.receipt  # still typing into the return dialog
        assert dialog.isVisible()
        typed(qtbot, "1")
        assert dialog.receipt.text() == "R01"
    finally:
        win.shutdown()


def test_with_a_printer_the_receipt_shows_only_when_asked(qtbot: QtBot, demo: Demo) -> None:
    configure_printer(demo.ctx, PrinterConfig(uri="tcp://127.0.0.1:9", columns=32))
    win = MainWindow(demo.ctx, start_printing=False)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.login.users.count() == 2)
        log_in(qtbot, win, demo.cashier.name, "1111")
        co = win.checkout
        receipt = _sell_oil(qtbot, win)
        assert not co.receipt_showing
        press(qtbot, "P", Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: co.receipt_showing)
        assert co.receipt_pane.receipt_no == receipt
        assert co.receipt_pane.image.pixmap().width() <= 384  # 58 mm paper, as printed
        assert focused() is co.scan
        assert [j.status for j in print_queue.jobs_for(demo.ctx, receipt)] == ["pending"]
    finally:
        win.shutdown()


def test_the_till_and_its_dialogs_fit_a_1024x768_screen(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    """The function keys wrap to two rows instead of widening the window past the
    screen, and dialogs (the mall's is 1040 px wide) shrink to the till's window."""
    win = cashier_window
    win.resize(1024, 768)
    QApplication.processEvents()
    assert win.width() == 1024
    co = win.checkout
    assert co.key_bar.rows == 2
    for button in co.buttons.values():
        corner = button.mapTo(win, button.rect().bottomRight())
        assert win.rect().contains(corner), button.objectName()
    scan(qtbot, win, ZHANG_PHONE)
    for key in ("F11", "F9", "F2"):  # the mall (1040 px wide), a return, a registration
        press(qtbot, key)
        dialog = co.dialog
        assert dialog is not None
        assert dialog.width() <= win.width()
        assert dialog.height() <= win.height()
        press(qtbot, "Escape")
        qtbot.waitUntil(lambda: co.dialog is None)


# -- returns by keyboard ---------------------------------------------------------------
def test_a_whole_return_by_keyboard_alone(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, OIL)
    scan(qtbot, win, f"2*{RICE}")
    pay_cash(qtbot, win, "400")
    assert co.last_sale is not None
    receipt = co.last_sale.result.receipt_no

    press(qtbot, "F9")
    dialog = co.dialog
    assert isinstance(dialog, RefundDialog)
    typed(qtbot, receipt, enter=True)
    qtbot.waitUntil(lambda: dialog.sale is not None)
    assert focused() is dialog.table  # the lines take the keyboard
    rice = next(i for i, ln in enumerate(dialog.sale.lines) if ln.sku == "RICE10")
    for _ in range(rice):
        press(qtbot, "Down")
    typed(qtbot, "1")
    assert dialog.spins[rice].value() == 1
    press(qtbot, "Space")  # all of the line
    assert dialog.spins[rice].value() == 2
    press(qtbot, "F2")  # return everything
    assert [s.value() for s in dialog.spins] == [ln.quantity for ln in dialog.sale.lines]
    assert focused() is dialog.reason
    typed(qtbot, "changed mind", enter=True)
    assert focused() is dialog.manager_pin
    typed(qtbot, "9999", enter=True)
    qtbot.waitUntil(lambda: dialog.refund_result is not None, timeout=10_000)
    assert refunds.find_sale(demo.ctx, receipt).fully_refunded


def test_a_full_refund_gives_the_offline_allowance_back(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    allowance = demo.ctx.rules.spending.offline_allowance_points
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, OIL)
    scan(qtbot, win, f"2*{RICE}")
    press(qtbot, "F3")
    assert isinstance(co.dialog, PointsDialog)
    press(qtbot, "Return")
    wait_idle(qtbot, win)
    assert co.quote is not None
    assert co.quote.points_used == 100
    pay_cash(qtbot, win, "400")
    receipt = co.last_sale.result.receipt_no  # type: ignore[union-attr]
    with demo.ctx.db.read() as session:
        assert offline_spend_limit(demo.ctx, session, demo.zhang.id) == allowance - 100

    sale = refunds.find_sale(demo.ctx, receipt)
    refunds.refund(
        demo.ctx,
        refund_id="r" * 32,
        receipt_no=receipt,
        request={line.id: line.quantity for line in sale.lines},
        cashier_id=demo.cashier.id,
        manager_id=demo.manager.id,
        manager_pin="9999",
        reason="test",
    )
    with demo.ctx.db.read() as session:
        assert offline_spend_limit(demo.ctx, session, demo.zhang.id) == allowance
    # What the cashier sees next: the offline limit in F3 is the whole allowance again.
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, OIL)
    press(qtbot, "F3")
    dialog = co.dialog
    assert isinstance(dialog, PointsDialog)
    assert f"{allowance} points" in dialog.limit_labels["offline"].text()


# -- the points amount, messages ------------------------------------------------------------
def test_typing_points_replaces_the_pre_filled_amount(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, OIL)
    scan(qtbot, win, f"2*{RICE}")
    press(qtbot, "F3")
    dialog = co.dialog
    assert isinstance(dialog, PointsDialog)
    assert focused() is dialog.spin
    qtbot.wait(20)  # the selection is made once Qt has placed the cursor
    typed(qtbot, "0", enter=True)
    wait_idle(qtbot, win)
    assert co.points_requested == 0


def test_a_40_digit_entry_says_it_is_too_long(qtbot: QtBot, cashier_window: MainWindow) -> None:
    win = cashier_window
    typed(qtbot, "1234567890" * 4, enter=True)
    wait_idle(qtbot, win)
    text = win.checkout.message.text()
    assert "40 characters is too long" in text
    assert "Scan or type a product code" not in text


def test_every_bound_key_is_in_the_help(qtbot: QtBot, cashier_window: MainWindow) -> None:
    co = cashier_window.checkout
    press(qtbot, "F1")
    dialog = co.dialog
    assert isinstance(dialog, HelpDialog)
    keys_in_help = {k for k, _meaning in dialog.rows}
    assert set(co.buttons) <= keys_in_help
    assert {"F11", "Ctrl+Q", "Ctrl+M", "Ctrl+P"} <= keys_in_help
    assert set(co.buttons) == {fk.key for fk in FUNCTION_KEYS}
    press(qtbot, "Escape")
    qtbot.waitUntil(lambda: co.dialog is None)
