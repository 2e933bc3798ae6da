"""The manager's views through the widgets: refusal, tiers, member, report, shift, lottery."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_app.core.quote import BasketLine
from pos_app.services import checkout, mall
from pos_app.store.types import new_id
from pos_app.ui.main_window import MainWindow
from pos_app.ui.manager import ManagerDialog
from pos_app.ui.qt import QDate, Qt
from tests.ui.conftest import type_enter, wait_idle
from tests.ui.demo import TEST_TIME, ZHANG_PHONE, Demo, build_demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo till with Zhang San's past sale (silver) and today's mall activity."""
    till = build_demo(tmp_path / "till.sqlite", history=True)
    for _ in range(2):
        mall.redeem(
            till.ctx,
            redemption_id=new_id(),
            member_id=till.zhang.id,
            item_id="DRAW",
            actor_id=till.cashier.id,
        )
    yield till
    till.ctx.db.close()


@pytest.fixture
def manager_window(qtbot: QtBot, window: MainWindow) -> MainWindow:
    """The window after the demo manager logged in."""
    assert window.login.select_user("李姐")
    type_enter(qtbot, window.login.pin, "9999")
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.checkout)
    wait_idle(qtbot, window)
    return window


def _open(qtbot: QtBot, win: MainWindow) -> ManagerDialog:
    qtbot.keyClick(win.checkout.scan, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    dialog = win.checkout.dialog
    assert isinstance(dialog, ManagerDialog)
    qtbot.waitUntil(lambda: not dialog.busy)
    wait_idle(qtbot, win)
    return dialog


def _wait(qtbot: QtBot, win: MainWindow, dialog: ManagerDialog) -> None:
    qtbot.waitUntil(lambda: not dialog.busy)
    wait_idle(qtbot, win)


def test_a_cashier_is_refused_clearly(qtbot: QtBot, cashier_window: MainWindow) -> None:
    co = cashier_window.checkout
    qtbot.keyClick(co.scan, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert co.dialog is None
    assert "Only a manager can open the manager views" in co.message.text()
    qtbot.mouseClick(co.buttons["Ctrl+M"], Qt.MouseButton.LeftButton)
    assert co.dialog is None


def test_tiers_with_a_chart_and_members_near_the_next_tier(
    qtbot: QtBot, manager_window: MainWindow
) -> None:
    dialog = _open(qtbot, manager_window)
    assert dialog.tabs.currentWidget().objectName() == "tiersTab"
    assert dialog.tier_counts is not None
    assert [(c.tier, c.members) for c in dialog.tier_counts] == [
        ("regular", 2),
        ("silver", 1),
        ("gold", 0),
    ]
    assert dialog.chart.counts == dialog.tier_counts
    assert dialog.tier_table.rowCount() == 3
    assert dialog.tier_table.item(1, 0).text() == "Silver"
    assert dialog.progress.isHidden()
    assert dialog.status.text() == ""  # load timings go to the log, not to the manager
    # Zhang (silver): 387 yuan and 1,935 points of the 1,000 yuan / 5,000 points for gold:
    # not within 20%. Nobody is near.
    assert dialog.near == []


def _sell(demo: Demo, member_id: str, *lines: tuple[str, str, int, int]) -> None:
    basket = [BasketLine(sku, name, "food", qty, price) for sku, name, qty, price in lines]
    total = sum(qty * price for _s, _n, qty, price in lines)
    checkout.complete_sale(
        demo.ctx,
        sale_id=new_id(),
        lines=basket,
        member_id=member_id,
        tenders=[checkout.TenderInput("cash", total, total)],
        cashier_id=demo.cashier.id,
    )


def test_members_near_the_next_tier_are_listed_nearest_first(
    qtbot: QtBot, manager_window: MainWindow, demo: Demo
) -> None:
    # Li and Wang (regular) within 20% of silver's 300 yuan: 260 and 263.60 yuan.
    for member, extra in ((demo.li, 0), (demo.wang, 2)):
        _sell(demo, member.id, ("W550", "农夫山泉 550ml", 1, 200))  # the first purchase
        _sell(
            demo,
            member.id,
            ("RICE10", "五常稻花香米 10kg", 2, 12900),
            *([("W550", "农夫山泉 550ml", extra, 180)] if extra else []),
        )
    dialog = _open(qtbot, manager_window)
    assert dialog.near is not None
    assert [n.member_id for n in dialog.near] == [demo.wang.id, demo.li.id]
    table = dialog.near_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    reached = [table.item(r, headers.index("Reached")).text() for r in range(table.rowCount())]
    assert reached == ["87.8%", "86.6%"]  # the order the manager sees, nearest first
    assert "nearest first" in dialog.near_label.text()


def test_a_members_full_ledger_from_the_member_tab(
    qtbot: QtBot, manager_window: MainWindow, demo: Demo
) -> None:
    win = manager_window
    dialog = _open(qtbot, win)
    dialog.show_tab("member")
    type_enter(qtbot, dialog.member_search, ZHANG_PHONE)
    qtbot.waitUntil(lambda: dialog.detail is not None)
    _wait(qtbot, win, dialog)
    assert dialog.detail is not None
    kinds = [e.kind for e in dialog.detail.entries]
    # Newest first: 2 lottery entries, the registration bonus, the sale of 40 days ago
    # (the demo registers Zhang "today" and back-dates his sale).
    assert kinds == ["spend", "spend", "bonus", "earn"]
    assert dialog.ledger_table.rowCount() == 4
    assert dialog.ledger_table.item(0, 1).text() == "Spent"
    assert dialog.ledger_table.item(0, 5).text() == "Mall: 幸运抽奖券"
    assert dialog.detail.entries[0].reason == "mall:DRAW"
    assert "138****1234" in dialog.member_info.text()
    assert ZHANG_PHONE not in dialog.member_info.text()

    type_enter(qtbot, dialog.member_search, "1234")  # two members end in 1234
    qtbot.waitUntil(lambda: len(dialog.hits) == 2)
    _wait(qtbot, win, dialog)
    assert dialog.member_hits.count() == 2


def test_the_day_report_and_its_csv_export(
    qtbot: QtBot, manager_window: MainWindow, demo: Demo, tmp_path: Path
) -> None:
    win = manager_window
    dialog = _open(qtbot, win)
    dialog.show_tab("report")
    qtbot.waitUntil(lambda: dialog.report is not None)
    _wait(qtbot, win, dialog)
    report = dialog.report
    assert report is not None
    assert report.day == TEST_TIME.date()
    assert report.redemptions == 2
    assert report.points_spent == 400
    assert dialog.report_values["redemptions"].text() == "2 (400 pts)"
    assert dialog.report_values["liability_points"].text() == f"{report.liability_points:,}"

    # The day of Zhang's sale, 40 days earlier: one sale of 387.00.
    past = TEST_TIME.date().toordinal() - 40
    day = TEST_TIME.date().fromordinal(past)
    dialog.report_date.setDate(QDate(day.year, day.month, day.day))
    qtbot.mouseClick(
        dialog.findChild(type(dialog.export_button), "reportRefresh"), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: dialog.report is not None and dialog.report.day == day)
    _wait(qtbot, win, dialog)
    assert dialog.report_values["sales"].text() == "1"
    assert dialog.report_values["sales_fen"].text() == "¥387.00"
    assert dialog.cashier_table.rowCount() == 1
    assert dialog.cashier_table.item(0, 0).text() == "小王"

    target = tmp_path / "exports" / "day.csv"
    dialog.export_csv(target)
    qtbot.waitUntil(lambda: dialog.last_export is not None)
    _wait(qtbot, win, dialog)
    assert "Saved to" in dialog.export_result.text()
    rows = list(csv.reader(target.read_text("utf-8-sig").splitlines()))
    assert ["day", day.isoformat()] in rows
    assert ["sales_amount_yuan", "387.00"] in rows


def test_shift_close_with_a_cash_count(
    qtbot: QtBot, manager_window: MainWindow, demo: Demo
) -> None:
    win = manager_window
    dialog = _open(qtbot, win)
    dialog.show_tab("shift")
    qtbot.waitUntil(lambda: dialog.figures is not None)
    _wait(qtbot, win, dialog)
    dialog.shift_float.setText("200")
    assert dialog.shift_expected.text() == "¥200.00"  # no cash taken today yet
    dialog.shift_counted.setText("198.50")
    qtbot.mouseClick(dialog.shift_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.shift_result is not None)
    _wait(qtbot, win, dialog)
    assert "¥1.50 short" in dialog.shift_message.text()
    assert dialog.shift_result is not None
    assert dialog.shift_result.difference_fen == -150


def test_draw_the_lottery_and_see_the_winner(
    qtbot: QtBot, manager_window: MainWindow, demo: Demo
) -> None:
    win = manager_window
    dialog = _open(qtbot, win)
    dialog.show_tab("lottery")
    qtbot.waitUntil(lambda: dialog.lotteries is not None)
    _wait(qtbot, win, dialog)
    assert dialog.lottery_table.item(0, 1).text() == "2"
    qtbot.mouseClick(dialog.lottery_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.lotteries is not None and dialog.lotteries[0].draw is not None)
    _wait(qtbot, win, dialog)
    assert "138****1234 张三" in dialog.lottery_result.text()
    assert mall.verify_draw(demo.ctx, "DRAW")


def test_the_expiring_points_tab(qtbot: QtBot, manager_window: MainWindow) -> None:
    win = manager_window
    dialog = _open(qtbot, win)
    dialog.show_tab("expiring")
    qtbot.waitUntil(lambda: dialog.expiring is not None)
    _wait(qtbot, win, dialog)
    assert dialog.expiring is not None
    assert dialog.expiring.members == 0  # lots of the demo expire in 24 months
    assert "0 members" in dialog.expiring_summary.text()


def test_every_ledger_kind_has_a_name(qtbot: QtBot) -> None:
    # The member ledger shows kinds in words, HQ's merge entries (pulled) included.
    from pos_app.core.entries import ENTRY_KINDS
    from pos_app.ui.manager import kind_name

    names = {kind: kind_name(kind) for kind in ENTRY_KINDS}
    assert all(name != kind for kind, name in names.items()), names
    assert names["merge_in"] == "Merged in (duplicate member)"
