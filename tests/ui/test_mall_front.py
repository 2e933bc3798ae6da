"""The mall's front page at the counter (F11), driven by real key events: sections in the
core's order with HQ's picks first, the pyramid, arrows and Enter into the redemption
flow, Esc back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_app.ui.main_window import MainWindow
from pos_app.ui.mall import MallDialog
from pos_app.ui.mall_front import SectionRow
from pos_app.ui.qt import Qt
from tests.ui.conftest import key, scan, wait_idle
from tests.ui.demo import ZHANG_PHONE, Demo, build_demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo till with Zhang San's past sale (points to redeem with)."""
    till = build_demo(tmp_path / "till.sqlite", history=True)
    yield till
    till.ctx.db.close()


def _open_front(qtbot: QtBot, win: MainWindow) -> MallDialog:
    key(qtbot, win.checkout.scan, "F11")
    dialog = win.checkout.dialog
    assert isinstance(dialog, MallDialog)
    qtbot.waitUntil(lambda: not dialog.busy and dialog.front_page is not None)
    wait_idle(qtbot, win)
    assert dialog.on_front
    return dialog


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
