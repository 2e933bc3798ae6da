"""The newer console pages in a real browser (chromium driven by Playwright against HQ
served by uvicorn on the real PostgreSQL): the dashboard's regions, tier moves and a
campaign's effect compared with SQL, consent and merging a duplicate on the member page,
scheduling a rule set and simulating it on last month's sales, the operators page.
Skips and fails like ``test_browser.py``; screenshots go to the same place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from pos_app.hq.app import create_app
from pos_app.hq.config import HQSettings
from pos_app.hq.console import campaign, summaries
from pos_app.hq.console.models import Operator, RuleSchedule
from tests.hq.console.conftest import PASSWORD, Console
from tests.hq.console.test_browser import browser, shot, shots
from tests.hq.console.test_member_more import two_members
from tests.support.appserver import AppServer
from tests.support.console_sql import plain_campaign, plain_figures
from tests.support.hqdata import ChainSpec, generate_chain

__all__ = ["browser", "shots"]  # the fixtures this module uses


def test_the_newer_pages_in_a_browser(console: Console, browser: Any, shots: Path) -> None:
    hq = console.hq
    generate_chain(hq.db.url, ChainSpec(members=2000, stores=8, regions=2, now=hq.clock()))
    first, second = two_members(hq)
    summaries.refresh(hq.db, hq.clock())
    server = AppServer(create_app(hq.db, HQSettings(clock=hq.clock))).start()
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        sign_in(page, server.base_url)
        dashboard(page, server.base_url, console, shots)
        member(page, server.base_url, console, first, second, shots)
        rules(page, server.base_url, console, shots)
        operators(page, server.base_url, console, shots)
    finally:
        server.stop()


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#liability-points")


def dashboard(page: Any, base: str, console: Console, shots: Path) -> None:
    db, now = console.hq.db, console.hq.clock()
    plain = plain_figures(db, now, "day")
    first_region = page.query_selector("#regions tbody tr td")
    assert first_region is not None
    assert first_region.inner_text() == plain["regions"][0]["store"]
    moves = page.inner_text("#tier-moves")
    assert "升级" in moves
    effect = campaign.effect(db, now)
    assert effect is not None
    expected = plain_campaign(db, effect.days, effect.comparable)
    cells = page.query_selector_all("#campaign-figures tbody tr:first-child td")
    assert int(cells[0].get_attribute("data-total")) == expected["campaign"]["issued"]
    assert int(cells[2].get_attribute("data-total")) == expected["campaign"]["sales"]
    page.wait_for_function("document.getElementById('chart-tiers').width > 0")
    start = (now.date() - dt.timedelta(days=13)).isoformat()
    page.fill("#campaign-from", start)
    page.fill("#campaign-to", now.date().isoformat())
    page.click("#campaign-show")
    page.wait_for_selector("#comparable-days")
    assert (now.date() - dt.timedelta(days=14)).isoformat() in page.inner_text("#comparable-days")
    page.query_selector("#campaign").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "console-campaign.png"))
    page.fill("#campaign-from", "2026-02-30")
    page.click("#campaign-show")
    assert "from:" in page.inner_text("#campaign-error")


def member(page: Any, base: str, console: Console, first: str, second: str, shots: Path) -> None:
    page.goto(f"{base}/console/members/{first}")
    assert "channel:mall" in page.inner_text("#consent-now")
    page.fill("#duplicate", "139 3333 4444")
    page.click("#merge-find")
    page.wait_for_selector("#merge-pair")
    shot(page, shots, "member-merge")
    page.fill("#merge-confirm", second)
    page.click("#merge-do")
    page.wait_for_selector("#merged")
    with console.hq.db.read() as s:
        total = s.execute(
            text("SELECT SUM(points) FROM ledger_entries WHERE member_id IN (:a, :b)"),
            {"a": first, "b": second},
        ).scalar_one()
    assert page.inner_text("#balance").replace(",", "") == str(total)
    assert second in page.inner_text("#aliases")
    shot(page, shots, "member-merged")


def rules(page: Any, base: str, console: Console, shots: Path) -> None:
    page.goto(f"{base}/console/rules")
    page.click("#new-draft")
    page.wait_for_selector("#document")
    document = page.input_value("#document").replace(
        '"version": "2026.11-default"', '"version": "2026.12-member-day-3x"'
    )
    page.fill("#document", document.replace('"multiplier": "2"', '"multiplier": "3"', 1))
    page.click("#save")
    page.wait_for_selector("#valid")
    page.click("#simulate-month")
    page.wait_for_selector("#month-simulation")
    with console.hq.db.read() as s:
        liability = s.execute(text("SELECT SUM(points) FROM ledger_entries")).scalar_one()
    assert int(page.get_attribute("#month-liability", "data-value")) == liability
    assert int(page.get_attribute("#month-draft", "data-value")) > int(
        page.get_attribute("#month-active", "data-value")
    )
    shot(page, shots, "draft-month")
    due = console.hq.clock() + dt.timedelta(days=2)
    page.fill("#publish-at", due.strftime("%Y-%m-%dT%H:%M"))
    page.click("#schedule")
    page.wait_for_selector("#scheduled")
    assert "2026.12-member-day-3x" in page.inner_text("#schedules")
    with console.hq.db.read() as s:
        assert s.scalars(select(RuleSchedule.version)).one() == "2026.12-member-day-3x"
    shot(page, shots, "rules-scheduled")


def operators(page: Any, base: str, console: Console, shots: Path) -> None:
    page.click("#nav-operators")
    page.wait_for_selector("#operators")
    page.fill("#new-username", "zhao")
    page.fill("#new-display-name", "赵会计")
    page.select_option("#new-role", "finance")
    page.fill("#new-password", "short")
    page.click("#add-operator-button")
    assert "password:" in page.inner_text("#operator-error")
    assert page.input_value("#new-display-name") == "赵会计"  # what was typed stays
    page.fill("#new-password", PASSWORD)
    page.click("#add-operator-button")
    page.wait_for_selector("#done")
    with console.hq.db.read() as s:
        role = s.scalars(select(Operator.role).where(Operator.username == "zhao")).one()
    assert role == "finance"
    assert "赵会计" in page.inner_text("#operators")
    shot(page, shots, "operators")
