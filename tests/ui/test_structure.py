"""Structure of the UI package: Qt only through pos_app/ui/qt.py; start-up and i18n."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_app.services.auth import list_users
from pos_app.services.context import open_till
from pos_app.ui import app as till_app
from pos_app.ui.main_window import MainWindow
from pos_app.ui.qt import QApplication, QCoreApplication, QVBoxLayout, QWidget
from pos_app.ui.widgets import KeyBar, fkey_button
from tests.ui.conftest import scan, type_enter
from tests.ui.demo import Demo

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "pos_app" / "ui"
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6")


def _qt_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"{path.name}:{node.lineno}: {n}" for n in names if n.split(".")[0] in QT_MODULES]
    return found


def test_qt_is_imported_only_by_the_qt_module() -> None:
    modules = sorted(UI.glob("*.py"))
    assert len(modules) > 5
    offenders = [hit for p in modules if p.name != "qt.py" for hit in _qt_imports(p)]
    assert offenders == []
    assert _qt_imports(UI / "qt.py")  # the check sees imports at all


def test_the_shipped_cjk_font_becomes_the_app_font(qapp: QApplication) -> None:
    before = qapp.font()
    try:
        family = till_app.load_cjk_font(qapp)
        assert family == "WenQuanYi Micro Hei"
        assert qapp.font().family() == family
    finally:
        qapp.setFont(before)


def test_chinese_is_the_default_and_translates_errors_and_rules(
    qtbot: QtBot, qapp: QApplication, demo: Demo
) -> None:
    assert till_app.translation_file("zh_CN").is_file()
    translator = till_app.install_translator(qapp, "zh_CN")
    assert translator is not None
    try:
        assert QCoreApplication.translate("Errors", "Wrong PIN.") == "PIN 错误。"
        win = MainWindow(demo.ctx)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.login.users.count() == 2)
        win.login.select_user("小王")
        type_enter(qtbot, win.login.pin, "1111")
        qtbot.waitUntil(lambda: win.stack.currentWidget() is win.checkout)
        scan(qtbot, win, "13511112222")
        assert "没有会员使用这个手机号" in win.checkout.message.text()
        scan(qtbot, win, "13812341234")
        assert "升级" in win.checkout.member_panel.progress.text()
        assert "离线" in win.sync_label.text()
        assert win.checkout.buttons["F4"].text() == "F4\n现金"
        win.shutdown()
    finally:
        qapp.removeTranslator(translator)


def test_english_needs_no_translator(qapp: QApplication) -> None:
    assert till_app.install_translator(qapp, "en") is None
    with pytest.raises(ValueError, match="unknown language"):
        till_app.setup_application(qapp, "fr")


def test_run_till_smoke_in_a_subprocess(tmp_path: Path) -> None:
    """``run_till(smoke=True)`` opens the window and exits 0 (end-to-end, own process)."""
    db = tmp_path / "smoke.sqlite"
    code = (
        "import sys; from pos_app.ui.app import run_till; "
        f"sys.exit(run_till({str(db)!r}, smoke=True, lang='zh_CN'))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    ctx = open_till(db)
    try:
        assert {u.name for u in list_users(ctx)} == {"小王", "李姐"}
    finally:
        ctx.db.close()


def test_qt_calls_do_not_leak_references_to_none(qapp: QApplication) -> None:
    """A till calls void Qt methods all day; PySide6 6.12.0 under Python 3.11 drops a
    reference to None on each one and the process aborts after a few thousand."""
    import sys

    from pos_app.ui.qt import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for i in range(500):
        label.setText(str(i))
        label.setStyleSheet("")
        label.update()
    assert sys.getrefcount(None) >= before - 10


def test_the_key_bar_takes_one_row_when_it_fits(qtbot: QtBot) -> None:
    buttons = [fkey_button(f"F{i}", "帮助", f"b{i}") for i in range(1, 13)]
    bar = KeyBar(buttons)
    screen = QWidget()  # the window the bar sits in
    layout = QVBoxLayout(screen)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(bar)
    qtbot.addWidget(screen)
    one_row = bar._row_width(len(buttons))
    screen.resize(one_row, 200)
    screen.show()
    QApplication.processEvents()
    assert bar.rows == 1
    screen.resize(one_row - 1, 200)
    QApplication.processEvents()
    assert bar.rows == 2
    assert bar.width() == one_row - 1
