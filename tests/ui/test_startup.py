"""The till's start: the login screen comes from a raw read of the file, before the
database layer is even imported, and the worker opens the till behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from pos_app.services import auth
from pos_app.ui.app import open_window
from pos_app.ui.qt import QApplication, Qt
from tests.ui.demo import build_demo

ROOT = Path(__file__).resolve().parents[2]
#: What the login screen must not wait for (imported after login or at first use).
LATER = (
    "sqlalchemy",
    "alembic",
    "escpos",
    "qrcode",
    "httpx",
    "pos_app.store.database",
    "pos_app.services.context",
    "pos_app.ui.checkout",
)

_PROBE = """
import json, sys
import pos_app.cli.main, pos_app.ui.app
from pos_app.services.startup import login_glance
assert login_glance(sys.argv[1]) is not None
print(json.dumps(sorted(set(sys.argv[2:]) & set(sys.modules))))
"""


def test_the_login_screen_needs_no_database_layer(tmp_path: Path) -> None:
    path = tmp_path / "till.sqlite"
    build_demo(path).ctx.db.close()
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), *LATER],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout) == []


def test_the_users_are_listed_before_the_till_is_open(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "till.sqlite"
    demo = build_demo(path)
    auth.verify_pin(demo.ctx, demo.manager.id, "9999")  # the manager logged in last
    demo.ctx.db.close()

    win = open_window(path)
    qtbot.addWidget(win)
    try:
        # Listed at once, with no event processed: the worker may still be opening.
        assert win.login.users.count() == 2
        current = win.login.users.currentItem().data(Qt.ItemDataRole.UserRole)
        assert current.id == demo.manager.id
        win.show()
        QApplication.processEvents()
        assert QApplication.focusWidget() is win.login.pin
        qtbot.keyClicks(win.login.pin, "9999")
        qtbot.keyClick(win.login.pin, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: win.stack.currentWidget() is win.checkout, timeout=15_000)
        assert win.user is not None
        assert win.user.id == demo.manager.id
        assert win.ctx.store_name == demo.ctx.store_name
    finally:
        win.shutdown()


def test_a_new_till_file_is_opened_before_the_window(qtbot: QtBot, tmp_path: Path) -> None:
    win = open_window(tmp_path / "new.sqlite")
    qtbot.addWidget(win)
    try:
        assert win.ctx.store_name  # opened (created, migrated, demo users) first
        qtbot.waitUntil(lambda: win.login.users.count() == 2)
    finally:
        win.shutdown()
