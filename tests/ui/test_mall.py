"""The points mall, its front page (F11, real key events: arrows and Enter into the
redemption, Esc back), coupons, suggestions and signed member codes through the widgets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_app.services import checkout as checkout_service
from pos_app.services import mall
from pos_app.ui.checkout import CheckoutScreen
from pos_app.ui.dialogs import PaymentDialog
from pos_app.ui.main_window import MainWindow
from pos_app.ui.mall import CouponDialog, MallDialog
from pos_app.ui.mall_front import SectionRow
from pos_app.ui.qt import Qt
from tests.ui.conftest import key, scan, type_enter, wait_idle
from tests.ui.demo import OIL, RICE, ZHANG_PHONE, Demo, build_demo, demo_code


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo till with Zhang San's past sale: silver, about 2,000 points."""
    till = build_demo(tmp_path / "till.sqlite", history=True)
    yield till
    till.ctx.db.close()


def _open_front(qtbot: QtBot, win: MainWindow) -> MallDialog:
    """F11 opens the mall on its front page (the list loads behind it)."""
    key(qtbot, win.checkout.scan, "F11")
    dialog = win.checkout.dialog
    assert isinstance(dialog, MallDialog)
    qtbot.waitUntil(
        lambda: not dialog.busy and dialog.offers != [] and dialog.front_page is not None
    )
    wait_idle(qtbot, win)
    assert dialog.on_front
    return dialog


def _open_mall(qtbot: QtBot, win: MainWindow) -> MallDialog:
    """F11 opens the mall on its front page; F11 again lists every item."""
    dialog = _open_front(qtbot, win)
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_F11)
    assert not dialog.on_front
    return dialog


def _filter(qtbot: QtBot, win: MainWindow, dialog: MallDialog, **changes: object) -> list[str]:
    with qtbot.waitSignal(dialog.offers_shown, timeout=5000):
        for name, value in changes.items():
            if name == "text":
                dialog.search.setText(str(value))
            else:
                combo = {"category": dialog.category, "range": dialog.range, "theme": dialog.theme}[
                    name
                ]
                combo.setCurrentIndex(combo.findData(value))
    qtbot.waitUntil(lambda: not dialog.busy)
    wait_idle(qtbot, win)
    return [o.item.item_id for o in dialog.offers]


def _redeem(qtbot: QtBot, win: MainWindow, dialog: MallDialog, item_id: str) -> None:
    assert dialog.select_item(item_id)
    before = dialog.last_result
    qtbot.mouseClick(dialog.redeem_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.last_result is not before or dialog.message.isVisible())
    qtbot.waitUntil(lambda: not dialog.busy)
    wait_idle(qtbot, win)


def test_browse_search_and_filter_the_mall(qtbot: QtBot, cashier_window: MainWindow) -> None:
    win = cashier_window
    dialog = _open_mall(qtbot, win)
    everything = [o.item.item_id for o in dialog.offers]
    assert everything[:2] == ["CPN5", "DRAW"]  # the low level first, cheapest first
    # A lottery's stock is its entries left (no cap here), not a count of "0 entries".
    assert dialog.table.item(1, 4).text() == "∞"
    assert len(everything) == 9
    assert dialog.table.rowCount() == 9
    assert "No member" in dialog.member_label.text()
    assert not dialog.redeem_button.isEnabled()
    cup_row = everything.index("CUP")
    assert "1,500 (was 3,000)" in dialog.table.item(cup_row, 2).text()
    assert "Limited -50%" in dialog.table.item(cup_row, 0).text()
    categories = [dialog.category.itemData(i) for i in range(dialog.category.count())]
    assert categories == ["", "care", "coupon", "electronics", "home", "lottery"]

    assert _filter(qtbot, win, dialog, text="杯") == ["CUP"]
    assert _filter(qtbot, win, dialog, text="华为") == ["EAR"]  # by brand
    assert _filter(qtbot, win, dialog, text="") == everything
    assert _filter(qtbot, win, dialog, range="0-1000") == ["CPN5", "DRAW", "PARK", "BAG"]
    assert _filter(qtbot, win, dialog, range="5000+") == ["EAR", "FRYER", "ROBOT"]
    assert _filter(qtbot, win, dialog, text="券", range="0-1000") == ["CPN5", "DRAW", "PARK"]
    assert _filter(qtbot, win, dialog, text="代金券") == ["CPN5"]  # a keyword
    assert _filter(qtbot, win, dialog, text="", range=None, theme="limited") == ["CUP"]
    assert _filter(qtbot, win, dialog, theme="new") == ["EAR"]
    assert _filter(qtbot, win, dialog, theme=None, category="home") == ["BAG", "CUP", "FRYER"]
    assert dialog.count.text() == "3 items"


def test_redeem_goods_for_the_member_takes_points_and_stock(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    scan(qtbot, win, ZHANG_PHONE)
    balance = win.checkout.member.balance  # type: ignore[union-attr]
    dialog = _open_mall(qtbot, win)
    assert "张三" in dialog.member_label.text()
    assert "138****1234" in dialog.member_label.text()
    offers = {o.item.item_id: o for o in dialog.offers}
    assert offers["BAG"].redeemable
    assert not offers["ROBOT"].redeemable  # gold only: Zhang is silver
    robot_row = [o.item.item_id for o in dialog.offers].index("ROBOT")
    assert dialog.table.item(robot_row, 6).text() == "Gold and above only"

    _redeem(qtbot, win, dialog, "BAG")
    result = dialog.last_result
    assert result is not None
    assert result.points == 800
    assert result.balance_after == balance - 800
    assert "Redeemed 精美帆布袋 x1 for 800 points" in dialog.outcome.text()
    bag = next(o for o in dialog.offers if o.item.item_id == "BAG")
    assert bag.item.stock == 19
    assert bag.redeemed == 1

    _redeem(qtbot, win, dialog, "ROBOT")
    assert "members and above" in dialog.message.text()
    dialog.reject()
    qtbot.waitUntil(lambda: win.checkout.dialog is None)
    wait_idle(qtbot, win)
    assert win.checkout.member is not None
    assert win.checkout.member.balance == balance - 800  # the panel was refreshed


def test_points_plus_cash_takes_the_cash_method(qtbot: QtBot, cashier_window: MainWindow) -> None:
    win = cashier_window
    scan(qtbot, win, ZHANG_PHONE)
    dialog = _open_mall(qtbot, win)
    dialog.select_item("BRUSH")
    assert dialog.cash_method.isVisibleTo(dialog)
    dialog.cash_method.setCurrentIndex(dialog.cash_method.findData("wechat"))
    dialog.select_item("BAG")
    assert not dialog.cash_method.isVisibleTo(dialog)


def test_a_mall_coupon_pays_part_of_a_later_sale(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    co: CheckoutScreen = win.checkout
    scan(qtbot, win, ZHANG_PHONE)
    dialog = _open_mall(qtbot, win)
    _redeem(qtbot, win, dialog, "CPN5")
    assert dialog.last_result is not None
    (coupon,) = dialog.last_result.coupons
    assert coupon.code in dialog.outcome.text()
    dialog.reject()
    qtbot.waitUntil(lambda: co.dialog is None)

    # A later sale: the member comes back with a basket and uses the coupon.
    scan(qtbot, win, OIL)
    key(qtbot, co.scan, "F8")
    key(qtbot, co.scan, "F8")  # void: start over
    scan(qtbot, win, ZHANG_PHONE)
    # the member panel says what the member holds (a prize HQ issued shows there too)
    qtbot.waitUntil(co.member_panel.coupons.isVisible)
    assert co.member_panel.coupons.text() == f"Coupons and prizes (Ctrl+Q): {coupon.name}"
    scan(qtbot, win, OIL)
    qtbot.keyClick(co.scan, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(co.dialog, CouponDialog))
    coupons = co.dialog
    assert isinstance(coupons, CouponDialog)
    assert coupons.list.count() == 1
    assert coupon.code in coupons.list.item(0).text()
    type_enter(qtbot, coupons.input, coupon.code.lower())
    qtbot.waitUntil(lambda: co.dialog is None)
    wait_idle(qtbot, win)
    assert co.coupon_codes == [coupon.code]
    assert co.quote is not None
    assert co.quote.coupon_fen == 500
    assert coupon.code in co.totals.coupons.text()
    assert co.totals.due.text() == "¥79.90"  # 84.90 member price - 5.00

    key(qtbot, co.scan, "F4")
    pay = co.dialog
    assert isinstance(pay, PaymentDialog)
    type_enter(qtbot, pay.received, "100")
    qtbot.waitUntil(lambda: co.last_sale is not None and co.dialog is None)
    wait_idle(qtbot, win)
    assert co.last_sale is not None
    assert co.last_sale.result.quote["coupon_fen"] == 500
    assert co.coupon_codes == []
    assert mall.member_coupons(demo.ctx, demo.zhang.id) == []


def test_a_refused_coupon_keeps_the_dialog_open_with_the_reason(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    win = cashier_window
    co = win.checkout
    qtbot.keyClick(co.scan, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert "Scan the products first" in co.message.text()
    scan(qtbot, win, RICE)
    qtbot.keyClick(co.scan, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(co.dialog, CouponDialog))
    dialog = co.dialog
    assert isinstance(dialog, CouponDialog)
    type_enter(qtbot, dialog.input, "NOSUCH")
    qtbot.waitUntil(dialog.error.isVisible)
    assert "Unknown coupon NOSUCH" in dialog.error.text()
    assert co.coupon_codes == []


def test_the_member_panel_suggests_what_the_points_can_redeem(
    qtbot: QtBot, cashier_window: MainWindow
) -> None:
    win = cashier_window
    scan(qtbot, win, ZHANG_PHONE)
    panel = win.checkout.member_panel
    qtbot.waitUntil(panel.suggestions.isVisible)
    text = panel.suggestions.text()
    assert "Your points can redeem" in text
    assert "扫地机器人" not in text  # gold only


def test_a_signed_member_code_is_accepted_once(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    code = demo_code(demo.zhang.member_no, demo.clock.now)
    scan(qtbot, win, code)
    assert win.checkout.member is not None
    assert win.checkout.member.id == demo.zhang.id
    win.checkout.set_member(None)
    scan(qtbot, win, code)
    assert win.checkout.member is None
    assert "already used" in win.checkout.message.text()

    demo.clock.now += dt.timedelta(minutes=10)
    scan(qtbot, win, demo_code(demo.zhang.member_no, demo.clock.now))
    assert win.checkout.member is not None  # a fresh code works


def test_an_expired_or_forged_member_code_is_refused(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    old = demo_code(demo.zhang.member_no, demo.clock.now - dt.timedelta(minutes=5))
    scan(qtbot, win, old)
    assert "expired" in win.checkout.message.text()
    stranger = bytes(range(32))
    scan(qtbot, win, demo_code(demo.zhang.member_no, demo.clock.now, stranger))
    assert "forged" in win.checkout.message.text()
    assert win.checkout.member is None


def test_checkout_service_sees_the_mall_spend_offline(demo: Demo) -> None:
    """The demo till is offline: a mall redemption uses the same allowance as checkout."""
    before = checkout_service.quote(
        demo.ctx,
        [checkout_service.BasketLine("RICE10", "米", "food", 5, 12900)],  # type: ignore[attr-defined]
        member_id=demo.zhang.id,
    ).max_usable_points
    mall.redeem(
        demo.ctx,
        redemption_id="r" * 32,
        member_id=demo.zhang.id,
        item_id="BAG",
        actor_id=demo.cashier.id,
    )
    after = checkout_service.quote(
        demo.ctx,
        [checkout_service.BasketLine("RICE10", "米", "food", 5, 12900)],  # type: ignore[attr-defined]
        member_id=demo.zhang.id,
    ).max_usable_points
    assert after <= before
    assert after <= 2000 - 800


# -- the front page (F11) ------------------------------------------------------------
def _cards(row: SectionRow) -> list[str]:
    return [str(row.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(row.count())]


def _focused(dialog: MallDialog) -> tuple[str, str]:
    row = dialog.front.current_row()
    assert row is not None, "no section row has the keyboard"
    return row.code, str(row.currentItem().data(Qt.ItemDataRole.UserRole))


def _press(qtbot: QtBot, dialog: MallDialog, k: Qt.Key) -> None:
    target = dialog.focusWidget() or dialog
    qtbot.keyClick(target, k)


def test_arrows_and_enter_pick_an_item_into_the_redemption(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    win = cashier_window
    scan(qtbot, win, ZHANG_PHONE)
    dialog = _open_front(qtbot, win)
    front = dialog.front
    # Not a member day: no member-day zone. HQ's pick (BRUSH) leads the hot campaigns.
    assert [r.code for r in front.rows] == ["hot", "value", "new", "lottery"]
    assert _cards(front.rows[0]) == ["BRUSH", "CUP"]
    assert _cards(front.rows[1]) == ["CUP"]  # 1,500 points saved
    assert "HQ pick" in front.rows[0].item(0).text()
    assert "save 1,500" in front.rows[1].item(0).text()
    assert dict(dialog.front_page.pyramid if dialog.front_page else ()) == {
        "low": 4,
        "middle": 4,
        "top": 0,  # ROBOT is for gold members; Zhang is silver
    }
    assert front.pyramid.rows() == ["Premium 0", "Popular 4", "Everyday 4"]
    assert _focused(dialog) == ("hot", "BRUSH")

    _press(qtbot, dialog, Qt.Key.Key_Right)
    assert _focused(dialog) == ("hot", "CUP")
    _press(qtbot, dialog, Qt.Key.Key_Down)
    assert _focused(dialog) == ("value", "CUP")  # the same column where the row has one
    _press(qtbot, dialog, Qt.Key.Key_Down)
    _press(qtbot, dialog, Qt.Key.Key_Down)
    assert _focused(dialog) == ("lottery", "DRAW")
    _press(qtbot, dialog, Qt.Key.Key_Down)  # the last row: stays
    assert _focused(dialog) == ("lottery", "DRAW")

    _press(qtbot, dialog, Qt.Key.Key_Return)  # into the redemption flow, DRAW chosen
    assert not dialog.on_front
    selected = dialog.selected()
    assert selected is not None
    assert selected.item.item_id == "DRAW"
    assert dialog.table.hasFocus()
    _press(qtbot, dialog, Qt.Key.Key_Return)  # Enter redeems it
    qtbot.waitUntil(lambda: dialog.last_result is not None)
    qtbot.waitUntil(lambda: not dialog.busy)
    wait_idle(qtbot, win)
    assert dialog.last_result is not None
    assert dialog.last_result.item_id == "DRAW"

    _press(qtbot, dialog, Qt.Key.Key_Escape)  # back to the front page, not closed
    assert dialog.on_front
    assert win.checkout.dialog is dialog
    _press(qtbot, dialog, Qt.Key.Key_F11)  # every item, with the search
    assert not dialog.on_front
    _press(qtbot, dialog, Qt.Key.Key_F11)
    assert dialog.on_front
    _press(qtbot, dialog, Qt.Key.Key_Escape)  # closes the mall
    qtbot.waitUntil(lambda: win.checkout.dialog is None)


def test_the_member_day_zone_shows_hqs_picks_on_member_days(
    qtbot: QtBot, cashier_window: MainWindow, demo: Demo
) -> None:
    demo.clock.now = dt.datetime(2026, 11, 18, 10, 0, tzinfo=demo.ctx.rules.zone)  # the 18th
    win = cashier_window
    dialog = _open_front(qtbot, win)  # no member: everyone's page
    front = dialog.front
    assert [r.code for r in front.rows] == ["hot", "value", "new", "lottery", "member_day"]
    member_day = front.row("member_day")
    assert member_day is not None
    assert _cards(member_day) == ["CPN5", "BRUSH"]  # in HQ's order
    for _ in range(4):
        _press(qtbot, dialog, Qt.Key.Key_Down)
    assert _focused(dialog) == ("member_day", "CPN5")
    _press(qtbot, dialog, Qt.Key.Key_Right)
    _press(qtbot, dialog, Qt.Key.Key_Return)
    selected = dialog.selected()
    assert selected is not None
    assert selected.item.item_id == "BRUSH"
    assert not dialog.redeem_button.isEnabled()  # no member identified: browse only
