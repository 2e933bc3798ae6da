"""PINs at the counter, typed as a person types them: wrong ones slow down and lock out
at login; the refund dialog names its approving manager and wants a reason."""

from __future__ import annotations

import datetime as dt

from pytestqt.qtbot import QtBot

from pos_app.core.quote import BasketLine
from pos_app.services import checkout
from pos_app.services.auth import PIN_POLICY
from pos_app.services.till_session import new_client_id
from pos_app.ui.main_window import MainWindow
from pos_app.ui.refund import RefundDialog
from tests.ui.conftest import scan, type_enter, wait_idle
from tests.ui.demo import Demo


def _login_attempt(qtbot: QtBot, win: MainWindow, pin: str) -> str:
    type_enter(qtbot, win.login.pin, pin)
    qtbot.waitUntil(win.login.login_button.isEnabled)
    wait_idle(qtbot, win)
    return win.login.error.text()


def test_wrong_pins_at_login_slow_down_then_refuse_even_the_right_one(
    qtbot: QtBot, window: MainWindow, demo: Demo
) -> None:
    win = window
    assert win.login.select_user("小王")
    texts = [_login_attempt(qtbot, win, "4827") for _ in range(PIN_POLICY.free_failures + 1)]
    assert texts[: PIN_POLICY.free_failures] == ["Wrong PIN."] * PIN_POLICY.free_failures
    assert texts[-1] == f"Wrong PIN. Try again in {PIN_POLICY.first_delay_s} s."
    # The right PIN during the wait does not let her in.
    text = _login_attempt(qtbot, win, "1111")
    assert text.startswith("Too many wrong PINs")
    assert win.stack.currentWidget() is win.login
    # Once the wait is over, it does.
    demo.clock.now += dt.timedelta(seconds=PIN_POLICY.first_delay_s)
    type_enter(qtbot, win.login.pin, "1111")
    qtbot.waitUntil(lambda: win.stack.currentWidget() is win.checkout)


def _sale(demo: Demo) -> str:
    lines = [BasketLine("RICE10", "五常稻花香米 10kg", "food", 1, 12900)]
    return checkout.complete_sale(
        demo.ctx,
        sale_id=new_client_id(),
        lines=lines,
        member_id=None,
        tenders=[checkout.TenderInput("cash", 12900)],
        cashier_id=demo.cashier.id,
    ).receipt_no


def test_a_manager_refunding_is_not_offered_as_her_own_approver(
    qtbot: QtBot, window: MainWindow, demo: Demo
) -> None:
    win = window
    receipt = _sale(demo)
    assert win.login.select_user("李姐")
    type_enter(qtbot, win.login.pin, "9999")
    qtbot.waitUntil(lambda: win.stack.currentWidget() is win.checkout)
    wait_idle(qtbot, win)
    scan(qtbot, win, receipt)
    dialog = win.checkout.dialog
    assert isinstance(dialog, RefundDialog)
    qtbot.waitUntil(lambda: dialog.sale is not None)
    dialog.set_quantity(0, 1)
    wait_idle(qtbot, win)
    # The only manager is the one refunding: nobody to pick.
    assert [dialog.manager.itemText(i) for i in range(dialog.manager.count())] == [
        "Choose the manager"
    ]
    qtbot.keyClicks(dialog.reason, "wrong size")
    type_enter(qtbot, dialog.manager_pin, "9999")
    qtbot.waitUntil(dialog.error.isVisible)
    assert dialog.error.text() == "Choose the manager who approves."
    assert dialog.refund_result is None
