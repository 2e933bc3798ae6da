"""Every dashboard figure equals plain SQL over the ledger, on generated history, after
the first refresh and after incremental ones (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from pos_app.hq.console import campaign, dashboard, summaries
from pos_app.hq.jobs import run_jobs
from tests.hq.conftest import HQ
from tests.hq.console.conftest import Console, overspend
from tests.hq.test_channels import channel_push, redemption
from tests.support.console_sql import console_figures, plain_campaign, plain_figures
from tests.support.hqdata import ChainSpec, generate_chain


def same_as_sql(hq: HQ, now: dt.datetime) -> None:
    for period in dashboard.PERIODS:
        board = dashboard.figures(hq.db, now, period)
        plain = plain_figures(hq.db, now, period)
        assert console_figures(board) == plain, period
        # the tier history adds up to the members table as it is now
        assert board.tier_periods[-1]["tiers"] == plain["tiers"], period
    member_day = campaign.effect(hq.db, now)
    assert member_day is not None
    assert member_day.name == "会员日"
    window = campaign.effect(
        hq.db, now, start=str(now.date() - dt.timedelta(days=40)), end=str(now.date())
    )
    for effect in (member_day, window):
        assert effect is not None
        assert campaign.as_dict(effect) == plain_campaign(hq.db, effect.days, effect.comparable)


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
    assert {row["store"] for row in board.regions} == {"R001", "R002", "R003"}
    assert sum(board.tier_periods[-1]["tiers"].values()) == 3000
    assert first.tier_changes == 3000  # every member joined
    member_day = campaign.effect(hq.db, now)
    assert member_day is not None
    assert len(member_day.days) >= 2
    assert member_day.campaign_totals["issued"] > 0
    assert member_day.comparable_totals["sales"] > 0
    assert all(d.day == 18 for d in member_day.days)
    assert all(d.weekday() in {c.weekday() for c in member_day.days} for d in member_day.comparable)

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
    by_month = dashboard.figures(hq.db, expiry_day, "month")
    assert by_month.totals["expired"] == report.points_expired
    assert report.tier_changes > 0
    assert by_month.tier_periods[-1]["downgrades"] == report.tier_changes


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
    page = console.client.get("/console/?campaign=member_day")
    effect = campaign.effect(hq.db, hq.clock(), "member_day")
    assert effect is not None
    assert f'data-total="{effect.campaign_totals["issued"]}"' in page.text
    for day in effect.comparable:
        assert day.isoformat() in page.text
    assert 'id="regions"' in page.text
    assert "R001" in page.text
    wrong = console.client.get("/console/?from=2026-02-30&to=2026-03-01")
    assert wrong.status_code == 400
    assert "from: &#39;2026-02-30&#39; is not a date" in wrong.text


def test_run_jobs_refreshes_the_summaries(hq: HQ, capsys: pytest.CaptureFixture[str]) -> None:
    from pos_app.hq import cli

    now = hq.clock()
    overspend(hq)
    assert cli.main(["run-jobs", "--db", hq.db.url, "--now", now.isoformat()]) == 0
    assert '"console"' in capsys.readouterr().out
    same_as_sql(hq, now)
    assert dashboard.figures(hq.db, now).members == 1


def test_a_campaign_window_names_the_field_it_cannot_take(hq: HQ) -> None:
    now = hq.clock()
    today = now.date()
    for start, end, field in (
        ("2026-13-01", str(today), "from"),
        (str(today), "tomorrow", "to"),
        (str(today), str(today - dt.timedelta(days=1)), "to"),
        (str(today - dt.timedelta(days=400)), str(today), "to"),
        (str(today), str(today + dt.timedelta(days=2)), "to"),
    ):
        with pytest.raises(campaign.CampaignProblem) as problem:
            campaign.effect(hq.db, now, start=start, end=end)
        assert problem.value.field == field
    with pytest.raises(campaign.CampaignProblem) as problem:
        campaign.effect(hq.db, now, promotion="birthday_week")  # a member's own, not days
    assert problem.value.field == "campaign"
