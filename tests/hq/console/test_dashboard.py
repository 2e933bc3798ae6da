"""Every dashboard figure equals plain SQL over the ledger, on generated history, after
the first refresh and after incremental ones (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from pos_app.hq.console import dashboard, summaries
from pos_app.hq.jobs import run_jobs
from tests.hq.conftest import HQ
from tests.hq.console.conftest import Console, overspend
from tests.hq.test_channels import channel_push, redemption
from tests.support.console_sql import console_figures, plain_figures
from tests.support.hqdata import ChainSpec, generate_chain


def same_as_sql(hq: HQ, now: dt.datetime) -> None:
    for period in dashboard.PERIODS:
        board = dashboard.figures(hq.db, now, period)
        assert console_figures(board) == plain_figures(hq.db, now, period), period


def more_activity(hq: HQ, member_id: str) -> None:
    """A redemption at the mall, an HQ adjustment and a till's overspend."""
    items = {"items": [{"id": "MUG", "name": "马克杯", "points_price": 30}]}
    assert hq.client.put(
        "/v1/admin/mall-items", json=items, headers=hq.headers(hq.admin)
    ).is_success
    (result,) = channel_push(hq, redemption(hq, member_id, "MUG", 30)).json()["results"]
    assert result["status"] == "applied", result
    response = hq.client.post(
        "/v1/admin/adjustments",
        json={"id": "gift-1", "member_id": member_id, "points": 55, "reason": "goodwill"},
        headers=hq.headers(hq.admin),
    )
    assert response.status_code == 201, response.text
    overspend(hq)


@pytest.mark.slow
def test_dashboard_figures_equal_plain_sql_on_generated_history(hq: HQ) -> None:
    now = hq.clock()
    chain = generate_chain(hq.db.url, ChainSpec(members=3000, stores=12, regions=3, now=now))
    first = summaries.refresh(hq.db, now)
    assert first.entries == chain.rows["ledger_entries"]
    same_as_sql(hq, now)
    board = dashboard.figures(hq.db, now)
    assert board.liability_points > 0
    assert board.members == 3000
    assert board.totals["issued"] > 0
    assert board.redemption_rate is not None

    more_activity(hq, "gm0000000008")  # incremental: only what came after
    hq.clock.advance(hours=1)
    later = hq.clock()
    again = summaries.refresh(hq.db, later)
    assert 0 < again.entries < 20
    same_as_sql(hq, later)
    assert dashboard.figures(hq.db, later).mall[0]["name"] == "马克杯"
    assert summaries.refresh(hq.db, later).entries == 0  # nothing new: nothing added twice
    same_as_sql(hq, later)

    expiry_day = later + dt.timedelta(days=800)  # lots expire; tiers are reviewed
    report = run_jobs(hq.db, expiry_day)
    assert report.points_expired > 0
    summaries.refresh(hq.db, expiry_day)
    same_as_sql(hq, expiry_day)
    assert dashboard.figures(hq.db, expiry_day, "month").totals["expired"] == report.points_expired


def test_summaries_are_refreshed_in_slices(hq: HQ, monkeypatch: pytest.MonkeyPatch) -> None:
    now = hq.clock()
    generate_chain(hq.db.url, ChainSpec(members=200, stores=3, regions=1, now=now))
    monkeypatch.setattr(summaries, "SLICE", 37)
    summaries.refresh(hq.db, now)
    same_as_sql(hq, now)


def test_the_dashboard_page_shows_the_figures(console: Console) -> None:
    hq = console.hq
    generate_chain(hq.db.url, ChainSpec(members=300, stores=4, regions=1, now=hq.clock()))
    summaries.refresh(hq.db, hq.clock())
    plain = plain_figures(hq.db, hq.clock())
    console.login("viewer")
    for period in dashboard.PERIODS:
        page = console.client.get(f"/console/?period={period}")
        assert page.status_code == 200
        assert f'data-value="{plain["liability_points"]}"' in page.text
        assert f'data-fen="{plain["liability_fen"]}"' in page.text
    bad = console.client.get("/console/?period=year")
    assert bad.status_code == 400
    assert "query.period" in bad.text


def test_run_jobs_refreshes_the_summaries(hq: HQ, capsys: pytest.CaptureFixture[str]) -> None:
    from pos_app.hq import cli

    now = hq.clock()
    overspend(hq)
    assert cli.main(["run-jobs", "--db", hq.db.url, "--now", now.isoformat()]) == 0
    assert '"console"' in capsys.readouterr().out
    same_as_sql(hq, now)
    assert dashboard.figures(hq.db, now).members == 1
