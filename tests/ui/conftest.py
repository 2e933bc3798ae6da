"""Fixtures of the till's widget tests: a real SQLite till with demo data, the window.

The offscreen Qt platform warns "This plugin does not support propagateSizeHints()" (and raise())
whenever a top-level window with a layout is shown; that warning is ignored here (and
only here) so that ``qt_log_level_fail = WARNING`` still catches every other one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_app.ui.main_window import MainWindow
from pos_app.ui.qt import QLineEdit, Qt, QWidget
from tests.ui.demo import Demo, build_demo

OFFSCREEN_NOISE = r"This plugin does not support (propagateSizeHints|raise)\(\)"
UI_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UI_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """A demo till in ``tmp_path`` (users, products, three members)."""
    till = build_demo(tmp_path / "till.sqlite")
    yield till
    till.ctx.db.close()


@pytest.fixture
def window(qtbot: QtBot, demo: Demo) -> Iterator[MainWindow]:
    """The main window on the demo till, showing the login screen with its users."""
    win = MainWindow(demo.ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.login.users.count() == 2)
    yield win
    win.shutdown()


def wait_idle(qtbot: QtBot, win: MainWindow) -> None:
    """Wait until every worker task has delivered its result."""
    qtbot.waitUntil(lambda: not win.runner.busy and not win.checkout.busy)


def type_enter(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    """Replace ``field``'s text with ``text`` and press Enter."""
    field.clear()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def key(qtbot: QtBot, widget: QWidget, name: str) -> None:
    """Press a key by name ("F4", "Delete"...) on ``widget``."""
    qtbot.keyClick(widget, getattr(Qt.Key, f"Key_{name}"))


@pytest.fixture
def cashier_window(qtbot: QtBot, window: MainWindow) -> MainWindow:
    """The window after the demo cashier logged in."""
    assert window.login.select_user("小王")
    type_enter(qtbot, window.login.pin, "1111")
    # the PIN check waits for the till opening behind the login screen: seconds on a
    # loaded CI machine
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.checkout, timeout=20_000)
    wait_idle(qtbot, window)
    return window


def scan(qtbot: QtBot, win: MainWindow, text: str) -> None:
    """Type ``text`` in the scan line, press Enter and wait for the worker."""
    type_enter(qtbot, win.checkout.scan, text)
    wait_idle(qtbot, win)
