"""Screenshots of weighed goods and the customer display, into docs/images/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots_counter.py [--lang zh_CN]

The demo till of the UI tests on the member day, with the scale layouts and loose goods
of tests/ui/counter_demo.py; the customer screen is put on screen 1 (the only one
offscreen). Each picture is taken at 1280x800 and at 1024x768 (``-1024``); the receipt
of the weighed sale is drawn for 58 mm and 80 mm paper.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from screenshots import MEMBER_DAY, OUT, dialog_of, scan, wait_until  # noqa: E402

from pos_app.devices.escpos_render import PrinterProfile  # noqa: E402
from pos_app.devices.preview import save_preview  # noqa: E402
from pos_app.services.customer_display import DisplayConfig, configure_display  # noqa: E402
from pos_app.services.receipts import build_receipt  # noqa: E402
from pos_app.ui.app import install_translator, load_cjk_font  # noqa: E402
from pos_app.ui.main_window import MainWindow  # noqa: E402
from pos_app.ui.qt import QApplication, QWidget  # noqa: E402
from tests.ui.counter_demo import add_scale_goods, price_label, weight_label  # noqa: E402
from tests.ui.demo import OIL, ZHANG_PHONE, build_demo  # noqa: E402

SIZES = ((1280, 800, ""), (1024, 768, "-1024"))


def save_sizes(app: QApplication, widget: QWidget, name: str, lang: str) -> None:
    """Grab ``widget`` at both sizes into docs/images/<name>[-1024]-<lang>.png."""
    for width, height, suffix in SIZES:
        widget.resize(width, height)
        wait_until(app, lambda: True)
        path = OUT / f"{name}{suffix}-{lang}.png"
        widget.grab().save(str(path))
        print(path.relative_to(ROOT))


def shoot(app: QApplication, lang: str, folder: Path) -> None:
    translator = install_translator(app, lang)
    demo = build_demo(folder / f"counter-{lang}.sqlite", now=MEMBER_DAY, history=True)
    add_scale_goods(demo.ctx)
    configure_display(demo.ctx, DisplayConfig(screen="1", language=lang))  # type: ignore[arg-type]
    win = MainWindow(demo.ctx)
    win.resize(1280, 800)
    win.show()
    wait_until(app, lambda: win.login.users.count() == 2)
    win.login.select_user(demo.cashier.name)
    win.login.pin.setText("1111")
    win.login.submit()
    wait_until(app, lambda: win.stack.currentWidget() is win.checkout)
    display = win.customer_display
    wait_until(app, lambda: display.window is not None and display.window.view is not None)
    screen = display.window
    assert screen is not None
    save_sizes(app, screen, "customer-display-idle", lang)

    co = win.checkout
    scan(app, win, ZHANG_PHONE)
    scan(app, win, OIL)
    scan(app, win, price_label("10002", 2345))
    scan(app, win, weight_label("10001", 1456))
    wait_until(app, lambda: screen.view is not None and screen.view.item_weight_g == 1456)
    wait_until(app, lambda: co.quote is not None)
    win.activateWindow()
    save_sizes(app, win, "weighed-line", lang)
    save_sizes(app, screen, "customer-display-item", lang)

    co.open_payment("cash")
    wait_until(app, lambda: screen.view is not None and screen.view.kind == "payment")
    save_sizes(app, screen, "customer-display-payment", lang)
    pay = dialog_of(co)
    pay.received.setText("200")  # type: ignore[attr-defined]
    pay.submit()  # type: ignore[attr-defined]
    wait_until(app, lambda: co.last_sale is not None and co.dialog is None)
    wait_until(app, lambda: screen.view is not None and screen.view.kind == "done")
    save_sizes(app, screen, "customer-display-done", lang)
    assert co.last_sale is not None
    receipt = build_receipt(demo.ctx, co.last_sale.result.receipt_no, language=lang)  # type: ignore[arg-type]
    for columns, mm in ((32, 58), (48, 80)):
        path = save_preview(
            receipt, OUT / f"receipt-weighed-{mm}mm-{lang}.png", PrinterProfile(columns=columns)
        )
        print(path.relative_to(ROOT))

    win.shutdown()
    win.close()
    win.deleteLater()
    demo.ctx.db.close()
    if translator is not None:
        app.removeTranslator(translator)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("zh_CN", "en"), action="append")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    load_cjk_font(app)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for lang in args.lang or ("zh_CN", "en"):
            shoot(app, lang, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
