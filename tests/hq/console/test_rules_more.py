"""Scheduling a rule set (published by ``pos-hq run-jobs`` when due, then pulled by
tills; cancellable) and simulating a draft on last month's sales (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, text

from pos_app.core.money import floor_mul
from pos_app.core.rules import default_rule_set
from pos_app.hq import cli
from pos_app.hq.console import simulate_month
from pos_app.hq.console.models import RuleSchedule
from pos_app.hq.models import RuleSetVersion
from tests.hq.console.conftest import Console
from tests.hq.console.test_auth import actions, nothing_written
from tests.support.hqdata import ChainSpec, generate_chain


def new_draft(console: Console, version: str, **earning: Any) -> str:
    """A draft of the default rule set renamed ``version`` (its earning changed)."""
    created = console.post("/console/rules/drafts")
    assert created.status_code == 303
    path = str(created.headers["location"])
    document = json.loads(default_rule_set().to_json())
    document["version"] = version
    document["earning"] |= earning
    assert console.post(path, {"document": json.dumps(document)}).status_code == 303
    return path


def active_version(console: Console) -> str:
    with console.hq.db.read() as s:
        return s.scalars(
            select(RuleSetVersion.version).where(RuleSetVersion.active.is_(True))
        ).one()


def run_jobs(console: Console, at: dt.datetime) -> None:
    assert cli.main(["run-jobs", "--db", console.hq.db.url, "--now", at.isoformat()]) == 0


def test_a_scheduled_rule_set_is_published_when_due_and_tills_pull_it(console: Console) -> None:
    hq = console.hq
    console.login("marketing")
    path = new_draft(console, "2026.12-later", points_per_yuan=2)
    now = hq.clock()
    for value, problem in (
        ("", "publish_at: give a date"),
        ("next week", "publish_at: &#39;next week&#39; is not a date and time"),
        ((now - dt.timedelta(hours=1)).isoformat(), "publish_at: "),
    ):
        with nothing_written(hq.db):
            refused = console.post(path + "/schedule", {"publish_at": value, "activate": "yes"})
        assert refused.status_code == 400
        assert problem in refused.text
    due = now + dt.timedelta(hours=2)
    scheduled = console.post(path + "/schedule", {"publish_at": due.isoformat(), "activate": "yes"})
    assert scheduled.status_code == 303
    again = console.post(path + "/schedule", {"publish_at": due.isoformat(), "activate": "yes"})
    assert again.status_code == 400
    assert "already scheduled" in again.text
    listed = console.client.get("/console/rules").text.split('id="schedules"')[1]
    assert "2026.12-later" in listed
    assert "cancel-schedule" in listed

    run_jobs(console, now + dt.timedelta(hours=1))  # not due yet
    assert active_version(console) != "2026.12-later"
    _changes, cursor = hq.pull_all(hq.till1)
    run_jobs(console, due + dt.timedelta(minutes=1))
    assert active_version(console) == "2026.12-later"
    changes, _ = hq.pull_all(hq.till1, cursor)
    assert any(
        c["topic"] == "rule_set" and c["data"]["version"] == "2026.12-later" for c in changes
    )
    with hq.db.read() as s:
        (row,) = s.scalars(select(RuleSchedule)).all()
        assert row.status == "published"
    run_jobs(console, due + dt.timedelta(hours=1))  # published once
    assert {"rule_set.schedule", "rule_set.publish"} <= set(actions(console))


def test_a_schedule_is_cancelled_and_never_published(console: Console) -> None:
    hq = console.hq
    console.login("marketing")
    path = new_draft(console, "2026.12-never")
    due = hq.clock() + dt.timedelta(hours=1)
    assert console.post(path + "/schedule", {"publish_at": due.isoformat()}).status_code == 303
    with hq.db.read() as s:
        schedule_id = s.scalars(select(RuleSchedule.id)).one()
    console.login("viewer")
    assert 'id="schedule"' not in console.client.get(path).text
    assert "cancel-schedule" not in console.client.get("/console/rules").text
    with nothing_written(hq.db):
        assert console.post(f"/console/rules/schedules/{schedule_id}/cancel").status_code == 403
        assert console.post(path + "/schedule", {"publish_at": due.isoformat()}).status_code == 403
    console.login("marketing")
    cancelled = console.post(f"/console/rules/schedules/{schedule_id}/cancel")
    assert cancelled.status_code == 303
    assert console.post(f"/console/rules/schedules/{schedule_id}/cancel").status_code == 409
    run_jobs(console, due + dt.timedelta(hours=1))
    with hq.db.read() as s:
        assert s.get(RuleSetVersion, "2026.12-never") is None
        assert s.get(RuleSchedule, schedule_id).status == "cancelled"
    assert "rule_set.unschedule" in actions(console)


def plain_month(console: Console, rules: Any, first: dt.date, last: dt.date) -> tuple[int, int]:
    """(sales, points under ``rules``) of last month's member sales, sale by sale."""
    with console.hq.db.read() as s:
        zone = rules.timezone
        rows = s.execute(
            text(
                "SELECT s.id, CAST((s.created_at AT TIME ZONE :zone) AS date), m.tier, "
                "SUM(COALESCE(l.cash_fen, l.quantity * l.unit_price_fen - l.line_discount_fen)) "
                "FILTER (WHERE NOT l.is_reward AND NOT (l.category = ANY(:excluded))) "
                "FROM sales s JOIN members m ON m.id = s.member_id "
                "JOIN sale_lines l ON l.sale_id = s.id "
                "WHERE CAST((s.created_at AT TIME ZONE :zone) AS date) BETWEEN :first AND :last "
                "GROUP BY 1, 2, 3"
            ),
            {
                "zone": zone,
                "first": first,
                "last": last,
                "excluded": sorted(rules.earning.excluded_categories),
            },
        ).all()
    total = 0
    for _id, day, tier, cash in rows:
        base = int(cash or 0) * rules.earning.points_per_yuan // 100
        points = floor_mul(base, simulate_month.multiplier(rules, tier, day))
        cap = rules.earning.caps.per_order
        total += points if cap is None else min(points, cap)
    return len(rows), total


def test_a_draft_on_last_months_sales(console: Console) -> None:
    hq = console.hq
    now = hq.clock()
    generate_chain(hq.db.url, ChainSpec(members=1500, stores=4, regions=2, now=now))
    console.login("viewer")  # simulating writes nothing: every role may
    same = new_draft_as(console, "2026.12-same")
    doubled = new_draft_as(console, "2026.12-double", points_per_yuan=2)
    console.login("viewer")
    page = console.post(same + "/simulate-month")
    assert page.status_code == 200
    result = simulate_month.simulate(hq.db, draft_document(console, same), now)
    assert result.sales > 0
    assert result.draft_points == result.active_points > 0
    assert result.liability_after == result.liability
    assert f'id="month-active" data-value="{result.active_points}"' in page.text
    rules = default_rule_set()
    assert plain_month(console, rules, result.first_day, result.last_day) == (
        result.sales,
        result.active_points,
    )
    with hq.db.read() as s:
        liability = s.execute(text("SELECT SUM(points) FROM ledger_entries")).scalar_one()
    assert result.liability == liability

    twice = simulate_month.simulate(hq.db, draft_document(console, doubled), now)
    double_rules = rules.model_copy(
        update={"earning": rules.earning.model_copy(update={"points_per_yuan": 2})}
    )
    assert plain_month(console, double_rules, twice.first_day, twice.last_day)[1] == (
        twice.draft_points
    )
    assert twice.draft_points > twice.active_points
    assert twice.liability_after == liability + twice.draft_points - twice.active_points
    shown = console.post(doubled + "/simulate-month").text
    assert f'id="month-liability-after" data-value="{twice.liability_after}"' in shown


def new_draft_as(console: Console, version: str, **earning: Any) -> str:
    console.login("marketing")
    return new_draft(console, version, **earning)


def draft_document(console: Console, path: str) -> str:
    from pos_app.hq.console import rules

    return rules.draft(console.hq.db, path.rsplit("/", 1)[1]).document
