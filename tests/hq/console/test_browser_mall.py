"""The console's mall pages in a real browser (Debian's chromium, Playwright, HQ served
by uvicorn on the real PostgreSQL): marketing edits an item and runs a lottery from its
prizes to the winners' issued prizes; a viewer gets no buttons. Screenshots
``console-mall-item.png``, ``console-lottery.png`` and ``console-lottery-en.png`` (see
tests/hq/console/test_browser.py for the set-up and ``$POS_CONSOLE_SCREENSHOTS``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pos_app.hq.app import create_app
from pos_app.hq.config import HQSettings
from pos_app.hq.jobs import run_jobs
from pos_app.hq.models import LotteryWinner, MallItem
from tests.hq.console.conftest import PASSWORD, Console
from tests.hq.console.test_browser import browser, shot, shots
from tests.hq.test_mall_hq import member, put_items, redeem
from tests.support.appserver import AppServer

__all__ = ["browser", "shots"]  # the fixtures this test uses

PRIZES = "points,500 积分,1,500\ncoupon,10 元券,1,1000,7\ngoods,保温杯,1,0,14"


def sign_in(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("nav")


def test_marketing_edits_an_item_and_runs_a_lottery(
    console: Console, browser: Any, shots: Path
) -> None:
    hq = console.hq
    put_items(
        hq,
        {"id": "CUP", "name": "保温杯", "points_price": 1500, "level": "middle"},
        {"id": "LOT", "name": "圣诞抽奖", "points_price": 10, "kind": "lottery", "level": "low"},
    )
    for n in range(4):
        assert redeem(hq, member(hq, f"1387788000{n}"), "LOT", 20, 2)["status"] == "applied"
    server = AppServer(create_app(hq.db, HQSettings(clock=hq.clock))).start()
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        base = server.base_url
        sign_in(page, base, "marketing")
        page.goto(f"{base}/console/mall")
        page.click("#edit-CUP")
        page.wait_for_selector("#item-form")
        page.fill("#f-stock", "40")
        page.fill("#f-min_tier", "silver")
        page.fill("#f-available_from", "2026-11-20T09:00")
        for field, value in (("floor", "800"), ("ceiling", "600"), ("step", "100")):
            page.fill(f"#f-float_{field}", value)
        page.fill("#f-float_interval_minutes", "1440")
        page.fill("#f-float_target", "5")
        page.check("#f-featured-hot")
        page.click("#save-item")
        page.wait_for_selector("#problems")
        assert "float_ceiling" in page.inner_text("#problems")
        page.fill("#f-float_ceiling", "1600")
        page.click("#save-item")
        page.wait_for_selector("#saved")
        with hq.db.read() as s:
            row = s.get(MallItem, "CUP")
            assert row is not None
            assert (row.stock, row.min_tier, row.float_ceiling) == (40, "silver", 1600)
        shot(page, shots, "mall-item")

        page.goto(f"{base}/console/mall/lotteries/LOT")
        page.fill("#prizes-text", PRIZES)
        page.click("#save-prizes")
        page.wait_for_selector("#saved")
        page.check("input[name=confirm]")
        page.click("#draw-button")
        page.wait_for_selector("#drawn")
        assert page.inner_text("#entries") == "8"
        run_jobs(hq.db, hq.clock())
        page.reload()
        page.wait_for_selector("#winners")
        with hq.db.read() as s:
            wins = s.query(LotteryWinner).count()
            issued = s.query(LotteryWinner).filter(LotteryWinner.issued_at.is_not(None)).count()
        assert (wins, issued) == (3, 3)
        assert "待发放" not in page.inner_text("#winners")
        shot(page, shots, "lottery")
        page.click("#switch-lang")
        page.wait_for_selector("#winners")
        page.reload()
        assert "Winners" in page.inner_text("main")
        shot(page, shots, "lottery-en")

        sign_in(page, base, "viewer")
        page.goto(f"{base}/console/mall/lotteries/LOT")
        page.wait_for_selector("#winners")
        assert page.query_selector("#save-prizes") is None
        page.goto(f"{base}/console/mall/items/CUP")
        page.wait_for_selector("#item-form")
        assert page.query_selector("#save-item") is None
    finally:
        server.stop()
