"""The main window starts the background sync, shows its state and stops it on close."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_app.core.quote import BasketLine
from pos_app.services import auth, checkout, members
from pos_app.services.context import open_till
from pos_app.services.sync import save_registration
from pos_app.ui.main_window import MainWindow
from tests.sync.harness import HQServer


@pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)\(\)")
def test_the_window_syncs_off_the_gui_thread_and_shows_it(
    qtbot: QtBot,
    hq: HQServer,
    sync_till_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POS_HQ_URL", raising=False)
    monkeypatch.delenv("POS_HQ_TOKEN", raising=False)
    path = tmp_path / "till.sqlite"
    shutil.copyfile(sync_till_template, path)
    ctx = open_till(path)
    save_registration(ctx, hq.base_url, hq.register_till("001", "09"))
    ctx.db.close()
    ctx = open_till(path)
    member = members.register(ctx, phone="13900000051")
    cashier = next(u for u in auth.list_users(ctx) if u.role == "cashier")
    checkout.complete_sale(
        ctx,
        sale_id="9" * 32,
        lines=[BasketLine("TEA", "茶", "food", 1, 5_000)],
        member_id=member.id,
        tenders=[checkout.TenderInput("cash", 5_000)],
        cashier_id=cashier.id,
    )
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    try:
        worker = win.sync_worker
        assert worker is not None
        assert ctx.online is worker.flag
        qtbot.waitUntil(lambda: "0 to upload" in win.sync_label.text(), timeout=20_000)
        assert "online" in win.sync_label.text()
        assert "Last sync" in win.sync_label.toolTip()
        # Connected, the checkout screen commits a points sale with an HQ hold.
        assert win.checkout.commit_sale is not checkout.complete_sale
        result = win.checkout.commit_sale(
            ctx,
            sale_id="8" * 32,
            lines=[BasketLine("TEA", "茶", "food", 1, 6_000)],
            member_id=member.id,
            tenders=[checkout.TenderInput("cash", 5_900)],
            cashier_id=cashier.id,
            points_to_use=100,
        )
        assert result.points_used == 100
    finally:
        win.shutdown()
        ctx.db.close()
    assert not worker.running
