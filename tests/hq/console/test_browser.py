"""The console in a real browser: Debian's chromium driven by Playwright against HQ served
by uvicorn on the real PostgreSQL. Sign in, read a dashboard figure and compare it with
SQL, approve a flag, look a member up, simulate a draft; a screenshot of every page.

Without /usr/bin/chromium (``apt-get install chromium``) or the playwright package this
test skips, except under CI (``CI`` set), where it fails, like the PostgreSQL tests.
Screenshots go to ``$POS_CONSOLE_SCREENSHOTS`` (docs/screenshots for the docs), else to
the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pos_app.hq.app import create_app
from pos_app.hq.config import HQSettings
from pos_app.hq.console import summaries
from pos_app.hq.models import FlaggedRecord
from tests.hq.console.conftest import PASSWORD, Console, overspend
from tests.support.appserver import AppServer
from tests.support.hqdata import ChainSpec, generate_chain

CHROMIUM = Path("/usr/bin/chromium")
MALL_CSV = (
    "id,name,points_price,cash_price_fen,stock,min_tier,level,brand\n"
    "CPN5,5 元代金券,500,,,,low,\n"
    "MUG,马克杯,1200,,300,,middle,积分生活\n"
    "EAR,蓝牙耳机,5000,1990,20,gold,top,声悦\n"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if _in_ci():
        pytest.fail(f"the browser test needs {why} in CI", pytrace=False)
    pytest.skip(f"no {why}")


@pytest.fixture
def browser() -> Iterator[Any]:
    _need(CHROMIUM.exists(), "chromium (/usr/bin/chromium: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright (pip install playwright)")
        raise
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("POS_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_sign_in_read_the_dashboard_and_approve_a_flag(
    console: Console, browser: Any, shots: Path
) -> None:
    hq = console.hq
    generate_chain(hq.db.url, ChainSpec(members=2000, stores=8, regions=2, now=hq.clock()))
    member_id, flag_id = overspend(hq)
    summaries.refresh(hq.db, hq.clock())
    server = AppServer(create_app(hq.db, HQSettings(clock=hq.clock))).start()
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        run_through(page, server.base_url, console, member_id, flag_id, shots)
    finally:
        server.stop()


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)


def run_through(
    page: Any, base: str, console: Console, member_id: str, flag_id: int, shots: Path
) -> None:
    db = console.hq.db
    page.goto(f"{base}/console/")
    assert page.url.endswith("/console/login")
    shot(page, shots, "login")
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    page.click("#login")
    assert "用户名或密码不正确" in page.inner_text("p.error")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#liability-points")
    with db.read() as s:
        liability = s.execute(text("SELECT SUM(points) FROM ledger_entries")).scalar_one()
    assert int(page.get_attribute("#liability-points", "data-value")) == liability
    assert page.inner_text("#liability-points").replace(",", "") == str(liability)
    page.wait_for_function("document.getElementById('chart-flows').width > 0")
    shot(page, shots, "dashboard")
    page.click("#period-month")
    page.wait_for_selector("#period-month.on")
    shot(page, shots, "dashboard-month")

    page.click("text=审核")
    page.wait_for_selector(f"#flag-{flag_id}")
    shot(page, shots, "review")
    page.fill(f"#flag-{flag_id} input[name=note]", "离线超额，已与门店核实")
    page.click(f"#flag-{flag_id} button.approve")
    page.wait_for_selector("p.ok")
    assert page.query_selector(f"#flag-{flag_id}") is None
    with db.read() as s:
        assert s.get(FlaggedRecord, flag_id).resolved_at is not None

    page.click("text=会员")
    page.fill("#q", "138 1234 5678")
    page.click("#find")
    page.wait_for_selector("#ledger")
    assert member_id in page.url
    shot(page, shots, "member")
    page.goto(f"{base}/console/members")
    shot(page, shots, "members")

    page.click("text=积分规则")
    page.wait_for_selector("#active-version")
    shot(page, shots, "rules")
    page.click("#new-draft")
    page.wait_for_selector("#document")
    page.click("#simulate")
    page.wait_for_selector("#simulation")
    shot(page, shots, "draft")

    page.click("nav >> text=积分商城")
    page.wait_for_selector("#items")
    page.set_input_files(
        "#file",
        files=[
            {
                "name": "items.csv",
                "mimeType": "text/csv",
                "buffer": MALL_CSV.encode("utf-8"),
            }
        ],
    )
    page.click("#import")
    page.wait_for_selector("#imported")
    assert page.query_selector("#item-EAR") is not None
    shot(page, shots, "mall")

    page.click("text=门店与收银机")
    page.wait_for_selector("#tills")
    shot(page, shots, "stores")

    page.click("#switch-lang")
    page.goto(f"{base}/console/")
    page.wait_for_function("document.getElementById('chart-flows').width > 0")
    assert "Points liability" in page.inner_text("main")
    shot(page, shots, "dashboard-en")
