"""Screenshots of every till screen, in Chinese and English, into docs/images/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py

Uses the demo till of the UI tests (tests/ui/demo.py) in a temporary folder, on the
member day, with a member whose birthday week it is.
"""

from __future__ import annotations

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

from pos_app.ui.app import install_translator, load_cjk_font  # noqa: E402
from pos_app.ui.checkout import CheckoutScreen  # noqa: E402
from pos_app.ui.main_window import MainWindow  # noqa: E402
from pos_app.ui.qt import QApplication, QDialog, QWidget  # noqa: E402
from pos_app.ui.refund import RefundDialog  # noqa: E402
from tests.ui.demo import OIL, RICE, SHANGHAI, WATER, ZHANG_PHONE, build_demo  # noqa: E402

OUT = ROOT / "docs" / "images"
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


def shoot(app: QApplication, lang: str, folder: Path) -> None:
    translator = install_translator(app, lang)
    demo = build_demo(folder / f"till-{lang}.sqlite", now=MEMBER_DAY, history=True)
    win = MainWindow(demo.ctx)
    win.resize(1280, 800)
    win.show()
    wait_until(app, lambda: win.login.users.count() == 2)
    win.login.select_user(demo.cashier.name)
    win.login.pin.setText("11")
    save(app, win, "login", lang)

    win.login.pin.setText("1111")
    win.login.submit()
    wait_until(app, lambda: win.stack.currentWidget() is win.checkout)
    co = win.checkout

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

    co.reprint()
    save(app, dialog_of(co), "receipt-preview", lang)
    dialog_of(co).reject()

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
    refund.manager_pin.setText("9999")
    save(app, refund, "refund", lang)
    refund.reject()

    co.show_help()
    save(app, dialog_of(co), "help", lang)
    dialog_of(co).reject()

    win.lock()
    save(app, win, "lock", lang)

    win.shutdown()
    win.close()
    win.deleteLater()
    demo.ctx.db.close()
    if translator is not None:
        app.removeTranslator(translator)


def main() -> int:
    app = QApplication(sys.argv[:1])
    load_cjk_font(app)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for lang in ("zh_CN", "en"):
            shoot(app, lang, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
