"""The till end to end through its widgets: real SQLite file, real services, worker thread."""

from __future__ import annotations

import json

from pytestqt.qtbot import QtBot

from pos_app.core.rules import load_rule_set
from pos_app.services import members, refunds
from pos_app.services.till_session import pending_outbox_count
from pos_app.ui.dialogs import PaymentDialog, PickDialog, PointsDialog, RegisterDialog
from pos_app.ui.main_window import MainWindow
from pos_app.ui.qt import Qt
from pos_app.ui.refund import RefundDialog
from tests.ui.conftest import key, scan, type_enter, wait_idle
from tests.ui.demo import (
    BEER,
    LI_PHONE,
    OIL,
    RICE,
    WATER,
    ZHANG_PHONE,
    Demo,
    ean13,
    member_code_of,
)


def _sell(qtbot: QtBot, win: MainWindow, *, points: bool, received: str = "400") -> None:
    """Zhang buys oil and 2 bags of rice, optionally with points, paying cash."""
    co = win.checkout
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, OIL)
    scan(qtbot, win, f"2*{RICE}")
    if points:
        key(qtbot, co.scan, "F3")
        dialog = co.dialog
        assert isinstance(dialog, PointsDialog)
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        wait_idle(qtbot, win)
    key(qtbot, co.scan, "F4")
    pay = co.dialog
    assert isinstance(pay, PaymentDialog)
    type_enter(qtbot, pay.received, received)
    qtbot.waitUntil(lambda: co.last_sale is not None and co.dialog is None)
    wait_idle(qtbot, win)


# -- login and lock -------------------------------------------------------------------
def test_login_refuses_a_wrong_pin_then_logs_in(qtbot: QtBot, window: MainWindow) -> None:
    assert window.login.select_user("小王")
    type_enter(qtbot, window.login.pin, "9999")
    qtbot.waitUntil(window.login.error.isVisible)
    assert "Wrong PIN" in window.login.error.text()
    assert window.stack.currentWidget() is window.login

    type_enter(qtbot, window.login.pin, "1111")
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.checkout)
    assert "小王" in window.cashier_label.text()
    assert window.checkout.scan.hasFocus() or window.checkout.scan.isVisible()


def test_lock_and_unlock_with_the_same_cashiers_pin(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    win = cashier_window
    scan(qtbot, win, WATER)
    key(qtbot, win.checkout.scan, "F12")
    assert win.locked
    assert "小王" in win.lock_screen.who.text()

    type_enter(qtbot, win.lock_screen.pin, "9999")  # the manager's PIN does not unlock
    qtbot.waitUntil(win.lock_screen.error.isVisible)
    assert win.locked

    type_enter(qtbot, win.lock_screen.pin, "1111")
    qtbot.waitUntil(lambda: not win.locked)
    assert win.stack.currentWidget() is win.checkout
    assert win.checkout.basket.rowCount() == 1  # the basket survived the lock


def test_status_bar_shows_offline_backlog_printer_and_cashier(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    pending = pending_outbox_count(demo.ctx)
    qtbot.waitUntil(lambda: f"Offline, {pending} to upload" in win.sync_label.text())
    assert "preview" in win.printer_label.text()
    assert "小王" in win.cashier_label.text()


# -- finding members ------------------------------------------------------------------
def test_find_member_by_full_phone(qtbot: QtBot, cashier_window: MainWindow, demo: Demo) -> None:
    win = cashier_window
    scan(qtbot, win, "138 1234 1234")
    assert win.checkout.member is not None
    assert win.checkout.member.id == demo.zhang.id
    panel = win.checkout.member_panel
    assert panel.phone.text() == "138****1234"
    assert "100 points" in panel.balance.text()
    assert "to reach" in panel.progress.text()
    assert panel.tier.text() == "Regular"


def test_find_member_by_last4_shows_a_masked_pick_list(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    scan(qtbot, win, "1234")
    dialog = win.checkout.dialog
    assert isinstance(dialog, PickDialog)
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(texts) == 2
    assert all(ZHANG_PHONE not in t and LI_PHONE not in t for t in texts)
    assert any("139****1234" in t and "李四" in t for t in texts)
    row = next(i for i, t in enumerate(texts) if "李四" in t)
    qtbot.keyClick(dialog.list, str(row + 1))
    qtbot.waitUntil(lambda: win.checkout.member is not None)
    assert win.checkout.member is not None
    assert win.checkout.member.id == demo.li.id


def test_last4_with_many_matches_says_how_to_narrow(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    # Ten more members end in 1234 (11 digits: 186 0000 1234 ...): the list shows 9 and
    # says how to find the others; 139*1234 (first 3 + last 4) finds Li at once.
    for i in range(10):
        members.register(demo.ctx, phone=f"186{i:04d}1234")
    win = cashier_window
    scan(qtbot, win, "1234")
    dialog = win.checkout.dialog
    assert isinstance(dialog, PickDialog)
    assert dialog.list.count() == 9
    assert "138*1234" in dialog.prompt.text()  # the hint, with the digits typed
    assert not any("李四" in dialog.list.item(i).text() for i in range(9))
    qtbot.keyClick(dialog.list, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: win.checkout.dialog is None)

    scan(qtbot, win, "139*1234")
    dialog = win.checkout.dialog
    assert isinstance(dialog, PickDialog)
    assert [dialog.list.item(i).text().split()[1] for i in range(dialog.list.count())] == [
        "139****1234"
    ]
    assert "138*" not in dialog.prompt.text()  # narrowed: no hint
    qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.checkout.member is not None)
    assert win.checkout.member is not None
    assert win.checkout.member.id == demo.li.id

    scan(qtbot, win, "150*1234")  # nobody: a message, no list
    assert win.checkout.dialog is None
    assert "starts and ends" in win.checkout.message.text()


def test_find_member_by_member_code(qtbot: QtBot, cashier_window: MainWindow, demo: Demo) -> None:
    win = cashier_window
    scan(qtbot, win, member_code_of(demo.wang))
    assert win.checkout.member is not None
    assert win.checkout.member.id == demo.wang.id


# -- selling --------------------------------------------------------------------------
def test_the_basket_shows_the_members_tier_price_as_a_saving_per_line(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    zhang = members.summary(demo.ctx, demo.zhang.id)
    document = json.loads(demo.ctx.rules.to_json())
    document["version"] = "tier-prices"
    document["perks"] = {"tier_price_percent": {zhang.tier: 90}}
    demo.ctx.install_rule_set(load_rule_set(document))
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, OIL)
    oil_row = 0
    assert co.basket.index(oil_row, co.basket.COL_DISCOUNT).data() == ""  # no member yet
    scan(qtbot, win, ZHANG_PHONE)
    wait_idle(qtbot, win)
    # ¥89.90 on the shelf, member price ¥84.90, this tier pays 90% of it: ¥76.41
    assert co.basket.index(oil_row, co.basket.COL_PRICE).data() == "¥89.90"
    assert co.basket.index(oil_row, co.basket.COL_DISCOUNT).data() == "-¥13.49"
    assert co.basket.index(oil_row, co.basket.COL_AMOUNT).data() == "¥76.41"
    assert co.quote is not None
    assert co.quote.total_fen == 7_641  # the core's quote charges the same
    assert co.quote.tier_saving_fen == 1_349
    assert co.totals.value("discount") == "-¥13.49"


def test_sell_with_points_and_cash(qtbot: QtBot, cashier_window: MainWindow, demo: Demo) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, OIL)
    scan(qtbot, win, f"2*{RICE}")
    assert co.basket.rowCount() == 2
    # Shelf prices, the member price of the oil shown as a saving (¥89.90 -> ¥84.90).
    assert co.totals.value("subtotal") == "¥347.90"
    assert co.totals.value("discount") == "-¥5.00"
    oil_row = next(i for i, it in enumerate(co.basket.items) if it.product.sku == "OIL5L")
    assert co.basket.index(oil_row, co.basket.COL_DISCOUNT).data() == "-¥5.00"
    assert co.basket.index(oil_row, co.basket.COL_AMOUNT).data() == "¥84.90"

    key(qtbot, co.scan, "F3")
    dialog = co.dialog
    assert isinstance(dialog, PointsDialog)
    assert dialog.spin.value() == 100  # pre-filled with the largest allowed amount
    assert dialog.spin.singleStep() == 100
    assert dialog.limit_labels["balance"].property("binding") is True
    assert "(this limit applies)" in dialog.limit_labels["balance"].text()
    assert {"min_order", "max_share", "unit", "balance"} <= set(dialog.limit_labels)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, win)
    assert co.quote is not None
    assert co.quote.points_used == 100
    assert co.totals.due.text() == "¥341.90"

    key(qtbot, co.scan, "F4")
    pay = co.dialog
    assert isinstance(pay, PaymentDialog)
    type_enter(qtbot, pay.received, "400")
    qtbot.waitUntil(lambda: co.last_sale is not None)
    wait_idle(qtbot, win)

    assert co.last_sale is not None
    result = co.last_sale.result
    assert result.points_used == 100
    earned = result.points_earned + result.bonus_points
    assert earned > 0
    after = members.summary(demo.ctx, demo.zhang.id)
    assert after.balance == 100 - 100 + earned == result.balance_after
    banner = co.banner.text()
    assert f"earned {earned} points" in banner
    assert f"balance now {after.balance} points" in banner
    assert "¥58.10" in banner  # change
    assert co.basket.rowCount() == 0
    assert co.member is None


def test_card_payment_is_recorded_without_change(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, BEER)
    key(qtbot, co.scan, "F5")
    pay = co.dialog
    assert isinstance(pay, PaymentDialog)
    assert pay.method_code == "card"
    assert not pay.received.isVisible()
    pay.method.setCurrentIndex(pay.method.findData("wechat"))
    qtbot.mouseClick(pay.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: co.last_sale is not None)
    assert co.last_sale is not None
    assert co.last_sale.method == "wechat"
    assert co.last_sale.result.member_id is None
    view = refunds.find_sale(demo.ctx, co.last_sale.result.receipt_no)
    assert view.cash_due_fen == 650


def test_refund_one_line_with_manager_approval(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    _sell(qtbot, win, points=True)
    assert co.last_sale is not None
    receipt = co.last_sale.result.receipt_no
    before = members.summary(demo.ctx, demo.zhang.id).balance

    scan(qtbot, win, receipt)  # a scanned receipt number opens the return dialog
    dialog = co.dialog
    assert isinstance(dialog, RefundDialog)
    qtbot.waitUntil(lambda: dialog.sale is not None)
    assert dialog.table.rowCount() == 2
    rice_row = next(i for i, ln in enumerate(dialog.sale.lines) if ln.sku == "RICE10")
    dialog.set_quantity(rice_row, 1)
    wait_idle(qtbot, win)
    assert "Cash back" in dialog.preview.text()

    # The manager is named (the only one, chosen already), the reason is required.
    assert dialog.manager.currentText() == demo.manager.name
    type_enter(qtbot, dialog.manager_pin, "9999")
    qtbot.waitUntil(dialog.error.isVisible)
    assert dialog.isVisible()  # Enter in the PIN field never closes the dialog
    assert "reason" in dialog.error.text().lower()
    qtbot.keyClicks(dialog.reason, "bag torn")  # (keyClicks types ASCII only)
    type_enter(qtbot, dialog.manager_pin, "1111")  # the cashier's PIN is not the manager's
    qtbot.waitUntil(lambda: "Wrong PIN" in dialog.error.text())
    assert refunds.find_sale(demo.ctx, receipt).lines[rice_row].refunded_qty == 0

    type_enter(qtbot, dialog.manager_pin, "9999")
    qtbot.waitUntil(lambda: dialog.refund_result is not None or "PIN" not in dialog.error.text())
    assert dialog.refund_result is not None, dialog.error.text()
    result = dialog.refund_result
    assert result is not None
    assert dialog.done_label.isVisible()
    view = refunds.find_sale(demo.ctx, receipt)
    assert [ln.refunded_qty for ln in view.lines if ln.sku == "RICE10"] == [1]
    assert [ln.refunded_qty for ln in view.lines if ln.sku == "OIL5L"] == [0]
    after = members.summary(demo.ctx, demo.zhang.id).balance
    assert after == result.balance_after
    assert after == before - result.quote.points_reversed + result.quote.points_restored
    assert result.quote.points_reversed > 0


def test_register_a_member(qtbot: QtBot, cashier_window: MainWindow, demo: Demo) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, "13600001111")
    assert "No member has this phone number" in co.message.text()
    key(qtbot, co.scan, "F2")
    dialog = co.dialog
    assert isinstance(dialog, RegisterDialog)
    assert dialog.phone.text() == "13600001111"  # pre-filled from the failed lookup
    dialog.name.setText("赵六")
    type_enter(qtbot, dialog.birthday, "1995-06-01")
    qtbot.waitUntil(lambda: co.member is not None)
    assert co.member is not None
    assert co.member.masked_phone == "136****1111"
    assert members.summary(demo.ctx, co.member.id).balance == 100
    assert members.find_by_phone(demo.ctx, "13600001111").name == "赵六"


def test_register_refuses_bad_input_and_writes_nothing(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    pending = pending_outbox_count(demo.ctx)
    key(qtbot, co.scan, "F2")
    dialog = co.dialog
    assert isinstance(dialog, RegisterDialog)
    qtbot.keyClicks(dialog.phone, ZHANG_PHONE)
    type_enter(qtbot, dialog.birthday, "1995-13-45")
    assert "YYYY-MM-DD" in dialog.error.text()
    type_enter(qtbot, dialog.birthday, "")
    qtbot.waitUntil(lambda: "already registered" in dialog.error.text())
    dialog.phone.setText("12345")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "valid mobile phone" in dialog.error.text())
    assert co.dialog is dialog
    assert dialog.isVisible()
    assert pending_outbox_count(demo.ctx) == pending


# -- hold, recall, void -----------------------------------------------------------------
def test_hold_and_recall(qtbot: QtBot, cashier_window: MainWindow, demo: Demo) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, f"3*{WATER}")
    key(qtbot, co.scan, "F6")
    assert co.basket.rowCount() == 0
    assert co.member is None
    assert len(co.held) == 1

    scan(qtbot, win, BEER)
    key(qtbot, co.scan, "F7")  # refused: a basket is open
    assert len(co.held) == 1
    key(qtbot, co.scan, "F6")
    assert len(co.held) == 2

    key(qtbot, co.scan, "F7")
    dialog = co.dialog
    assert isinstance(dialog, PickDialog)
    qtbot.keyClick(dialog.list, "1")
    qtbot.waitUntil(lambda: co.member is not None)
    wait_idle(qtbot, win)
    assert co.member is not None
    assert co.member.id == demo.zhang.id
    assert [(i.product.sku, i.quantity) for i in co.basket.items] == [("W550", 3)]
    assert co.totals.value("subtotal") == "¥6.00"
    assert co.totals.value("discount") == "-¥0.60"  # member price again
    assert len(co.held) == 1


def test_void_needs_two_presses_and_writes_nothing(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    pending = pending_outbox_count(demo.ctx)
    scan(qtbot, win, OIL)
    key(qtbot, co.scan, "F8")
    assert co.basket.rowCount() == 1
    key(qtbot, co.scan, "F8")
    assert co.basket.rowCount() == 0
    assert pending_outbox_count(demo.ctx) == pending


def test_edit_quantity_discount_and_remove_lines(qtbot: QtBot, cashier_window: MainWindow) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, OIL)
    scan(qtbot, win, BEER)
    assert co.basket.set_quantity(1, 4)
    assert co.basket.set_discount(0, "10")
    wait_idle(qtbot, win)
    assert co.totals.value("subtotal") == "¥115.90"
    assert co.totals.value("discount") == "-¥10.00"
    assert co.totals.due.text() == "¥105.90"
    co.table.selectRow(0)
    key(qtbot, co.table, "Delete")
    wait_idle(qtbot, win)
    assert [i.product.sku for i in co.basket.items] == ["BEER500"]


# -- bad input: a clear message, nothing written -------------------------------------------
def test_unknown_and_malformed_phone(qtbot: QtBot, cashier_window: MainWindow, demo: Demo) -> None:
    win = cashier_window
    co = win.checkout
    scan(qtbot, win, "13511112222")
    assert co.message.isVisible()
    assert "No member has this phone number" in co.message.text()
    assert "F2" in co.message.text()
    scan(qtbot, win, "12345678901")
    assert "valid mobile phone" in co.message.text()
    assert co.member is None


def test_unknown_barcode_and_negative_quantity(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    unknown = ean13("690999999999")
    scan(qtbot, win, unknown)
    assert f"No product has the code {unknown}" in co.message.text()
    assert co.scan.text() == unknown  # kept, selected, for correction
    scan(qtbot, win, f"-2*{WATER}")
    assert "quantity" in co.message.text()
    assert co.basket.rowCount() == 0

    scan(qtbot, win, WATER)
    assert not co.basket.set_quantity(0, -1)
    assert "quantity" in co.message.text()
    assert co.basket.items[0].quantity == 1
    assert not co.basket.set_discount(0, "5")  # more than the line
    assert co.basket.items[0].discount_fen == 0


def test_spending_too_many_points_is_refused(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    pending = pending_outbox_count(demo.ctx)
    scan(qtbot, win, ZHANG_PHONE)
    scan(qtbot, win, TISSUE_CODE)  # ¥24.90: below the ¥50 minimum for points
    key(qtbot, co.scan, "F3")
    dialog = co.dialog
    assert isinstance(dialog, PointsDialog)
    assert dialog.spin.value() == 0
    assert dialog.limit_labels["min_order"].property("binding") is True
    dialog.spin.setValue(100)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible()
    assert "At most 0 points" in dialog.error.text()
    assert "¥50.00" in dialog.error.text()
    assert co.points_requested == 0
    assert pending_outbox_count(demo.ctx) == pending


def test_points_need_a_member_and_payment_needs_a_basket(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    win = cashier_window
    co = win.checkout
    key(qtbot, co.scan, "F4")
    assert co.dialog is None
    assert "empty" in co.message.text()
    scan(qtbot, win, WATER)
    key(qtbot, co.scan, "F3")
    assert co.dialog is None
    assert "member" in co.message.text()


def test_cash_below_the_amount_due_is_refused(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co = win.checkout
    pending = pending_outbox_count(demo.ctx)
    scan(qtbot, win, OIL)
    key(qtbot, co.scan, "F4")
    pay = co.dialog
    assert isinstance(pay, PaymentDialog)
    type_enter(qtbot, pay.received, "50")
    assert "less than" in pay.error.text()
    type_enter(qtbot, pay.received, "abc")
    assert pay.error.isVisible()
    assert co.last_sale is None
    assert pending_outbox_count(demo.ctx) == pending


TISSUE_CODE = "TISSUE"


def test_receipts_are_shown_on_screen_without_a_printer_and_f10_reprints(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    """The embedded demo previews every receipt; F10 queues a copy marked 重印."""
    from pos_app.services import print_queue

    win = cashier_window
    co = win.checkout
    scan(qtbot, win, "RICE10")
    qtbot.waitUntil(lambda: co.quote is not None and not co.busy)
    co.open_payment("cash")
    pay = co.dialog
    assert pay is not None
    pay.received.setText("200")  # type: ignore[attr-defined]
    pay.submit()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: co.last_sale is not None, timeout=15_000)
    receipt = co.last_sale.result.receipt_no  # type: ignore[union-attr]
    pane = co.receipt_pane
    qtbot.waitUntil(lambda: pane.receipt_no == receipt, timeout=15_000)
    assert co.receipt_showing
    assert pane.isVisible()
    assert not pane.isWindow()
    assert not pane.image.pixmap().isNull()
    qtbot.waitUntil(co.scan.hasFocus)  # the scanner keeps typing into the till

    qtbot.keyClick(co, Qt.Key.Key_F10)
    qtbot.waitUntil(
        lambda: any(j.reprint for j in print_queue.jobs_for(win.ctx, receipt)), timeout=10_000
    )
