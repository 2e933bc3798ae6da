"""Screenshots of every till screen, in Chinese and English, into docs/images/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--only screens]

``screen-<name>-<W>x<H>.png`` are whole screens of a till of 1280x800 and 1024x768
(login, checkout with a member and a basket, the receipt, the refund dialog, the
manager, the mall, the lock screen, the registration), a dialog drawn over the window
where a window manager centres it; the others are single windows and dialogs.

Uses the demo till of the UI tests (tests/ui/demo.py) in a temporary folder, on the
member day, with a member whose birthday week it is. The manager's views are shot on a
bulk demo store (``pos-app demo-data``: 5,000 members, a year of sales) so the tiers,
the reminder list and the day report have something to show.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pos_app.core.quote import BasketLine  # noqa: E402
from pos_app.services import adjustments, checkout, mall, members  # noqa: E402
from pos_app.services.auth import PIN_POLICY  # noqa: E402
from pos_app.services.context import TillContext, open_till  # noqa: E402
from pos_app.services.demo import build_demo_data  # noqa: E402
from pos_app.services.till_session import ensure_demo_users, find_product  # noqa: E402
from pos_app.ui.app import install_translator, load_cjk_font  # noqa: E402
from pos_app.ui.checkout import CheckoutScreen  # noqa: E402
from pos_app.ui.main_window import MainWindow  # noqa: E402
from pos_app.ui.mall import CouponDialog, MallDialog  # noqa: E402
from pos_app.ui.manager import ManagerDialog  # noqa: E402
from pos_app.ui.qt import (  # noqa: E402
    QApplication,
    QColor,
    QDialog,
    QPainter,
    QTranslator,
    QWidget,
)
from pos_app.ui.refund import RefundDialog  # noqa: E402
from tests.ui.demo import (  # noqa: E402
    OIL,
    RICE,
    SHANGHAI,
    WATER,
    ZHANG_PHONE,
    Clock,
    Demo,
    build_demo,
    mall_items,
)

OUT = ROOT / "docs" / "images"
SCREENSHOTS = ROOT / "docs" / "screenshots"
MEMBER_DAY = dt.datetime(2026, 11, 18, 10, 30, tzinfo=SHANGHAI)


def wait_until(app: QApplication, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Process events until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the till did not get there in time")
        app.processEvents()
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()


def save(app: QApplication, widget: QWidget, name: str, lang: str) -> None:
    """Grab ``widget`` into docs/images/<name>-<lang>.png."""
    for _ in range(5):
        app.processEvents()
    path = OUT / f"{name}-{lang}.png"
    widget.grab().save(str(path))
    print(path.relative_to(ROOT))


def scan(app: QApplication, win: MainWindow, text: str) -> None:
    co = win.checkout
    co.scan.setText(text)
    co.submit_scan()
    wait_until(app, lambda: not win.runner.busy and not co.busy)


def dialog_of(co: CheckoutScreen) -> QDialog:
    assert co.dialog is not None
    return co.dialog


def till_window(app: QApplication, demo: Demo, size: tuple[int, int]) -> MainWindow:
    """The demo till's window at ``size``, on its login screen."""
    win = MainWindow(demo.ctx)
    win.resize(*size)
    win.show()
    wait_until(app, lambda: win.login.users.count() == 2)
    return win


def log_in(app: QApplication, win: MainWindow, pin: str) -> None:
    """Log the selected user in with ``pin`` and wait for the checkout."""
    win.login.pin.setText(pin)
    win.login.submit()
    wait_until(app, lambda: win.stack.currentWidget() is win.checkout)


def close_till(
    app: QApplication, win: MainWindow, ctx: TillContext, translator: QTranslator | None
) -> None:
    """Close the window and the till, and take the language back out."""
    win.shutdown()
    win.close()
    win.deleteLater()
    ctx.db.close()
    if translator is not None:
        app.removeTranslator(translator)


def shoot_mall(app: QApplication, win: MainWindow, lang: str) -> None:
    """The points mall with a member, a redemption, the coupon field on a later basket."""
    co = win.checkout
    scan(app, win, ZHANG_PHONE)
    save(app, win, "checkout-suggestions", lang)
    co.open_mall()
    dialog = dialog_of(co)
    assert isinstance(dialog, MallDialog)
    wait_until(app, lambda: not dialog.busy and bool(dialog.offers))
    dialog.show_list()  # F11 opens the front page; the list is one F11 further
    dialog.select_item("CPN5")
    dialog.redeem()
    wait_until(app, lambda: dialog.last_result is not None and not dialog.busy)
    wait_until(app, lambda: not win.runner.busy)
    dialog.select_item("CUP")
    save(app, dialog, "mall", lang)
    dialog.search.setText("券")
    dialog.range.setCurrentIndex(dialog.range.findData("0-1000"))
    wait_until(app, lambda: not dialog.busy)
    wait_until(app, lambda: not win.runner.busy)
    save(app, dialog, "mall-search", lang)
    dialog.reject()
    wait_until(app, lambda: co.dialog is None and not win.runner.busy)
    scan(app, win, OIL)
    co.open_coupons()
    wait_until(app, lambda: isinstance(co.dialog, CouponDialog))
    coupons = dialog_of(co)
    assert isinstance(coupons, CouponDialog)
    coupons.list.setCurrentRow(0)
    save(app, coupons, "coupon", lang)
    coupons.submit()
    wait_until(app, lambda: co.dialog is None and not win.runner.busy and not co.busy)
    save(app, win, "checkout-coupon", lang)
    co.void()
    co.void()


def shoot_manager(app: QApplication, lang: str, folder: Path) -> None:
    """The manager's views on a bulk demo store."""
    translator = install_translator(app, lang)
    clock = Clock(MEMBER_DAY)
    ctx = open_till(folder / f"store-{lang}.sqlite", clock=clock)
    build_demo_data(ctx, members=5_000, sales=6_000, seed=7)
    ensure_demo_users(ctx)
    mall.upsert_items(ctx, mall_items(MEMBER_DAY))
    manager = next(u for u in ensure_demo_users(ctx) if u.is_manager)
    hit = members.find_by_phone(ctx, "13812341234")
    for _ in range(3):
        mall.redeem(
            ctx,
            redemption_id=os.urandom(16).hex(),
            member_id=hit.id,
            item_id="DRAW",
            actor_id=manager.id,
        )
    cashier = next(u for u in ensure_demo_users(ctx) if not u.is_manager)
    for i, (sku, qty) in enumerate((("SKU00001", 2), ("SKU00012", 1), ("SKU00030", 3))):
        product = find_product(ctx, sku)
        lines = [BasketLine(product.sku, product.name, product.category, qty, product.price_fen)]
        who = hit.id if i != 1 else None
        quote = checkout.quote(ctx, lines, member_id=who)
        checkout.complete_sale(
            ctx,
            sale_id=os.urandom(16).hex(),
            lines=lines,
            member_id=who,
            tenders=[checkout.TenderInput("cash", quote.cash_due_fen)],
            cashier_id=(cashier if i != 2 else manager).id,
        )
    win = MainWindow(ctx)
    win.resize(1280, 800)
    win.show()
    wait_until(app, lambda: win.login.users.count() == 2)
    win.login.select_user(manager.name)
    win.login.pin.setText("9999")
    win.login.submit()
    wait_until(app, lambda: win.stack.currentWidget() is win.checkout)
    co = win.checkout
    co.open_manager()
    dialog = dialog_of(co)
    assert isinstance(dialog, ManagerDialog)
    wait_until(app, lambda: dialog.tier_counts is not None and not dialog.busy)
    save(app, dialog, "manager-tiers", lang)
    dialog.show_tab("expiring")
    wait_until(app, lambda: dialog.expiring is not None and not dialog.busy)
    save(app, dialog, "manager-expiring", lang)
    dialog.show_tab("report")
    wait_until(app, lambda: dialog.report is not None and not dialog.busy)
    save(app, dialog, "manager-report", lang)
    dialog.show_member(hit.id)
    wait_until(app, lambda: dialog.detail is not None and not dialog.busy)
    dialog.member_search.setText("13812341234")
    save(app, dialog, "manager-member", lang)
    dialog.show_tab("shift")
    wait_until(app, lambda: dialog.figures is not None and not dialog.busy)
    dialog.shift_float.setText("500")
    dialog.shift_counted.setText("1288.50")
    save(app, dialog, "manager-shift", lang)
    dialog.show_tab("lottery")
    wait_until(app, lambda: dialog.lotteries is not None and not dialog.busy)
    save(app, dialog, "manager-lottery", lang)
    dialog.reject()
    close_till(app, win, ctx, translator)


def shoot(app: QApplication, lang: str, folder: Path, only: str = "all") -> None:
    translator = install_translator(app, lang)
    demo = build_demo(folder / f"till-{lang}.sqlite", now=MEMBER_DAY, history=True)
    win = MainWindow(demo.ctx)
    win.resize(1280, 800)
    win.show()
    wait_until(app, lambda: win.login.users.count() == 2)
    win.login.select_user(demo.cashier.name)
    win.login.pin.setText("11")
    save(app, win, "login", lang)
    # Wrong PINs: after the free tries each one costs a wait (services.auth.PinPolicy).
    for _ in range(PIN_POLICY.free_failures + 1):
        win.login.pin.setText("4827")
        win.login.submit()
        wait_until(app, lambda: win.login.login_button.isEnabled() and not win.runner.busy)
    save(app, win, "login-wait", lang)
    win.resize(1024, 768)
    save(app, win, "login-wait-1024", lang)
    win.resize(1280, 800)
    demo.clock.now += dt.timedelta(seconds=PIN_POLICY.first_delay_s)

    win.login.pin.setText("1111")
    win.login.submit()
    wait_until(app, lambda: win.stack.currentWidget() is win.checkout)
    co = win.checkout
    # The mall first: the offline allowance is still whole (the sale below uses it up).
    shoot_mall(app, win, lang)
    if only == "mall":
        close_till(app, win, demo.ctx, translator)
        return

    scan(app, win, "1234")
    save(app, dialog_of(co), "member-pick", lang)
    dialog_of(co).reject()

    scan(app, win, ZHANG_PHONE)
    scan(app, win, OIL)
    scan(app, win, f"2*{RICE}")
    scan(app, win, f"6*{WATER}")
    co.basket.set_discount(0, "5")
    wait_until(app, lambda: not win.runner.busy and not co.busy)
    save(app, win, "checkout", lang)

    co.open_points()
    save(app, dialog_of(co), "points", lang)
    dialog = dialog_of(co)
    dialog.ok.click()  # type: ignore[attr-defined]
    wait_until(app, lambda: not win.runner.busy and not co.busy and co.dialog is None)
    save(app, win, "checkout-points", lang)

    co.open_payment("cash")
    pay = dialog_of(co)
    pay.received.setText("500")  # type: ignore[attr-defined]
    save(app, pay, "payment", lang)
    pay.submit()  # type: ignore[attr-defined]
    wait_until(app, lambda: co.last_sale is not None and co.dialog is None)
    wait_until(app, lambda: not win.runner.busy)
    save(app, win, "sale-done", lang)
    assert co.last_sale is not None
    receipt = co.last_sale.result.receipt_no

    # Without a printer the print worker shows each receipt on screen, in the till.
    wait_until(app, lambda: co.receipt_pane.receipt_no == receipt and co.receipt_showing)
    save(app, win, "receipt-preview", lang)
    co.hide_receipt()

    co.open_register()
    reg = dialog_of(co)
    reg.phone.setText("13600001111")  # type: ignore[attr-defined]
    reg.name.setText("赵六")  # type: ignore[attr-defined]
    reg.birthday.setText("1995-06-01")  # type: ignore[attr-defined]
    save(app, reg, "register", lang)
    reg.reject()

    co.open_refund(receipt)
    refund = dialog_of(co)
    assert isinstance(refund, RefundDialog)
    wait_until(app, lambda: refund.sale is not None)
    rice = next(i for i, ln in enumerate(refund.sale.lines) if ln.sku == "RICE10")
    refund.set_quantity(rice, 1)
    wait_until(app, lambda: not win.runner.busy)
    refund.reason.setText("包装破损" if lang == "zh_CN" else "Torn bag")
    refund.manager_pin.setText("9999")
    save(app, refund, "refund", lang)
    refund.reason.clear()
    refund.submit()  # no reason: refused before the PIN is checked
    save(app, refund, "refund-no-reason", lang)
    refund.reject()

    # Two years later the sale's points have expired: the refund does not take them again.
    demo.clock.now = MEMBER_DAY + dt.timedelta(days=800)
    adjustments.run_expiry(demo.ctx)
    co.open_refund(receipt)
    refund = dialog_of(co)
    assert isinstance(refund, RefundDialog)
    wait_until(app, lambda: refund.sale is not None)
    refund.set_quantity(rice, 1)
    wait_until(app, lambda: "过期" in refund.preview.text() or "expired" in refund.preview.text())
    save(app, refund, "refund-expired", lang)
    refund.reject()
    demo.clock.now = MEMBER_DAY

    # A big store: more members share the ending than the list shows; it says how to
    # narrow (first 3 + last 4 digits), shown with 10 more members.
    for i in range(10):
        members.register(demo.ctx, phone=f"186{i:04d}1234", name=f"会员{i}")
    scan(app, win, "1234")
    save(app, dialog_of(co), "member-pick-more", lang)
    dialog_of(co).reject()
    scan(app, win, "139*1234")
    save(app, dialog_of(co), "member-pick-narrowed", lang)
    dialog_of(co).reject()

    co.show_help()
    save(app, dialog_of(co), "help", lang)
    dialog_of(co).reject()

    win.lock()
    save(app, win, "lock", lang)

    close_till(app, win, demo.ctx, translator)


SIZES = ((1280, 800), (1024, 768))


def save_screen(
    app: QApplication,
    win: MainWindow,
    name: str,
    size: tuple[int, int],
    dialog: QWidget | None,
    folder: Path = OUT,
) -> None:
    """The whole screen of a till of ``size`` into docs/images/screen-<name>-<W>x<H>.png:
    the window filling it, and ``dialog`` centred over it as a window manager puts a
    dialog over its parent. A dialog larger than the screen is drawn clipped, and said."""
    for _ in range(5):
        app.processEvents()
    width, height = size
    shot = win.grab()
    if dialog is not None:
        painter = QPainter(shot)
        painter.fillRect(shot.rect(), QColor(0, 0, 0, 60))  # the till behind a modal dialog
        left, top = (width - dialog.width()) // 2, (height - dialog.height()) // 2
        painter.drawPixmap(left, top, dialog.grab())
        painter.setPen(QColor("#555"))
        painter.drawRect(left - 1, top - 1, dialog.width() + 1, dialog.height() + 1)
        painter.end()
        if dialog.width() > width or dialog.height() > height:
            print(f"  CLIPPED: {dialog.objectName()} is {dialog.width()}x{dialog.height()}")
    path = folder / f"screen-{name}-{width}x{height}.png"
    shot.save(str(path))
    print(path.relative_to(ROOT))


def shoot_screens(app: QApplication, folder: Path, size: tuple[int, int]) -> None:
    """Every till screen, in Chinese, as a till of ``size`` shows it (dialogs included)."""
    translator = install_translator(app, "zh_CN")
    demo = build_demo(folder / f"screens-{size[0]}.sqlite", now=MEMBER_DAY, history=True)
    win = till_window(app, demo, size)
    win.login.pin.setText("11")
    save_screen(app, win, "login", size, None)
    log_in(app, win, "1111")
    co = win.checkout
    scan(app, win, ZHANG_PHONE)
    for code in (OIL, f"2*{RICE}", f"6*{WATER}"):
        scan(app, win, code)
    save_screen(app, win, "checkout", size, None)

    co.open_mall()
    mall_dialog = dialog_of(co)
    assert isinstance(mall_dialog, MallDialog)
    wait_until(app, lambda: not mall_dialog.busy and bool(mall_dialog.offers))
    save_screen(app, win, "mall", size, mall_dialog)
    mall_dialog.reject()
    wait_until(app, lambda: co.dialog is None and not win.runner.busy)

    co.open_register()
    reg = dialog_of(co)
    reg.phone.setText("13600001111")  # type: ignore[attr-defined]
    reg.name.setText("赵六")  # type: ignore[attr-defined]
    save_screen(app, win, "register", size, reg)
    reg.reject()
    wait_until(app, lambda: co.dialog is None)

    co.open_payment("cash")
    pay = dialog_of(co)
    pay.received.setText("500")  # type: ignore[attr-defined]
    pay.submit()  # type: ignore[attr-defined]
    wait_until(app, lambda: co.last_sale is not None and co.dialog is None)
    assert co.last_sale is not None
    receipt = co.last_sale.result.receipt_no
    wait_until(app, lambda: co.receipt_pane.receipt_no == receipt and co.receipt_showing)
    save_screen(app, win, "receipt", size, None)

    co.open_refund(receipt)
    refund = dialog_of(co)
    assert isinstance(refund, RefundDialog)
    wait_until(app, lambda: refund.sale is not None)
    refund.set_quantity(0, 1)
    wait_until(app, lambda: not win.runner.busy)
    refund.reason.setText("包装破损")
    save_screen(app, win, "refund", size, refund)
    refund.reject()
    wait_until(app, lambda: co.dialog is None)

    win.lock()
    save_screen(app, win, "lock", size, None)
    win.log_out()
    wait_until(app, lambda: win.login.users.count() == 2 and not win.runner.busy)
    win.login.select_user(demo.manager.name)
    win.login.pin.setText("9999")
    win.login.submit()
    wait_until(app, lambda: win.stack.currentWidget() is win.checkout)
    co.open_manager()
    manager = dialog_of(co)
    assert isinstance(manager, ManagerDialog)
    wait_until(app, lambda: manager.tier_counts is not None and not manager.busy)
    save_screen(app, win, "manager", size, manager)
    manager.reject()

    close_till(app, win, demo.ctx, translator)


def shoot_front(app: QApplication, folder: Path, size: tuple[int, int], lang: str) -> None:
    """The mall's front page (F11) over a till of ``size`` on a member day, for Zhang San,
    into docs/screenshots/screen-mall-front-<lang>-<W>x<H>.png."""
    translator = install_translator(app, lang)
    demo = build_demo(folder / f"front-{lang}-{size[0]}.sqlite", now=MEMBER_DAY, history=True)
    win = till_window(app, demo, size)
    log_in(app, win, "1111")
    co = win.checkout
    scan(app, win, ZHANG_PHONE)
    co.open_mall()
    dialog = dialog_of(co)
    assert isinstance(dialog, MallDialog)
    wait_until(app, lambda: not dialog.busy and dialog.front_page is not None)
    wait_until(app, lambda: not win.runner.busy)
    dialog.front.focus_row(0, 1)  # a card chosen, as after one press of Right
    save_screen(app, win, f"mall-front-{lang}", size, dialog, SCREENSHOTS)
    dialog.reject()
    wait_until(app, lambda: co.dialog is None and not win.runner.busy)
    close_till(app, win, demo.ctx, translator)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=("all", "till", "mall", "manager", "screens", "front"), default="all"
    )
    parser.add_argument("--lang", choices=("zh_CN", "en"), action="append")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    load_cjk_font(app)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        if args.only in ("all", "screens"):
            for size in SIZES:
                shoot_screens(app, Path(folder), size)
        if args.only in ("all", "front"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for lang in args.lang or ("zh_CN", "en"):
                for size in SIZES:
                    shoot_front(app, Path(folder), size, lang)
        for lang in args.lang or ("zh_CN", "en"):
            if args.only in ("all", "till", "mall"):
                shoot(app, lang, Path(folder), args.only)
            if args.only in ("all", "manager"):
                shoot_manager(app, lang, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
