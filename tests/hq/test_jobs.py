"""Jobs: expiry and the yearly tier review, driven by HQ's clock; twice = once."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pos_app.hq.cli import main
from tests.hq.conftest import HQ
from tests.hq.support import SHANGHAI, Clock, FakeTill, basket, db_state


def run_jobs(capsys: pytest.CaptureFixture[str], url: str, now: str) -> dict[str, object]:
    assert main(["run-jobs", "--db", url, "--now", now]) == 0
    return dict(json.loads(capsys.readouterr().out))


def old_till(hq: HQ, when: dt.datetime) -> FakeTill:
    """Till 001-01 whose events were written at ``when`` (pushed now)."""
    return FakeTill("001", "01", hq.phone_key, Clock(when))


def test_expiry_and_tier_review_twice_change_nothing_the_second_time(
    hq: HQ, capsys: pytest.CaptureFixture[str]
) -> None:
    till = old_till(hq, dt.datetime(2024, 10, 1, 12, 0, tzinfo=SHANGHAI))
    member_id, registered = till.register("13812341234")
    first = till.sale(member_id, basket(100))  # 500 points expiring after 2026-10-01
    till.clock.now = hq.clock()
    big = till.sale(member_id, basket(400))  # 400 points now, and silver at once (spend)
    (*_, result) = hq.push_ok(hq.till1, registered, first, big)
    assert result["result"]["tier"] == "silver"
    _, cursor = hq.pull_all(hq.till1)  # the till holds the member from here on
    assert hq.member(member_id)["balance"] == 100 + 500 + 400

    url = hq.db.url
    report = run_jobs(capsys, url, "2026-11-17T12:00:00+08:00")
    assert report["members_expired"] == 1
    assert report["points_expired"] == 600  # the 2024 lots: registration bonus + first sale
    assert report["members_reviewed"] == 0  # reviewed on 2026-01-01 already
    state = db_state(hq.db)
    again = run_jobs(capsys, url, "2026-11-17T12:00:00+08:00")
    assert {k: v for k, v in again.items() if k not in ("now", "console")} == {
        "holds_expired": 0,
        "members_expired": 0,
        "points_expired": 0,
        "members_reviewed": 0,
        "tier_changes": 0,
        "anniversary_bonuses": 0,
        "anniversary_points": 0,
        "prizes_issued": 0,
        "prices_moved": 0,
        "notifications_planned": 0,
        "notifications_sent": 0,
    }
    assert again["console"]["entries"] == 0  # the console's summaries: nothing new either
    assert db_state(hq.db) == state
    view = hq.member(member_id)
    assert view["balance"] == 400
    assert [lot["remaining"] for lot in view["lots"]] == [400]

    # every till holding the member hears of HQ's expiry
    changes, _ = hq.pull_all(hq.till1, cursor)
    expiries = [
        c["data"] for c in changes if c["topic"] == "entry" and c["data"]["kind"] == "expire"
    ]
    assert [(e["points"], e["source_channel"]) for e in expiries] == [(-600, "hq")]

    # yearly review on 1 January 2027: the window still holds the 400-yuan sale
    report = run_jobs(capsys, url, "2027-01-01T09:00:00+08:00")
    assert (report["members_reviewed"], report["tier_changes"]) == (1, 0)
    assert run_jobs(capsys, url, "2027-01-01T09:00:00+08:00")["members_reviewed"] == 0
    # on 1 January 2028 nothing is left in the window: back to regular, once
    report = run_jobs(capsys, url, "2028-01-01T09:00:00+08:00")
    assert (report["members_reviewed"], report["tier_changes"]) == (1, 1)
    assert report["points_expired"] == 0
    state = db_state(hq.db)
    assert run_jobs(capsys, url, "2028-01-01T09:00:00+08:00")["tier_changes"] == 0
    assert db_state(hq.db) == state
    assert hq.member(member_id)["tier"] == "regular"


def test_a_tills_expiry_is_checked_against_hqs_clock(hq: HQ) -> None:
    till = old_till(hq, dt.datetime(2024, 10, 1, 12, 0, tzinfo=SHANGHAI))
    member_id, registered = till.register("13812341234")
    till.clock.now = hq.clock()
    recent = till.sale(member_id, basket(100))  # 500 points (x5), valid until 2028
    hq.push_ok(hq.till1, registered, recent)
    _, cursor = hq.pull_all(hq.till1)  # the till holds the member from here on
    # the till expires its 2024 bonus (due) and, with a wrong clock, 100 more
    wrong = till.expiry(member_id, 200)
    (result,) = hq.push_ok(hq.till1, wrong)
    assert result["result"]["flags"] == ["expiry_mismatch"]
    view = hq.member(member_id)
    assert view["balance"] == 600 - 100  # only what was due at HQ is gone
    (flag,) = hq.flags("expiry_mismatch")
    assert (flag["detail"]["till_expired"], flag["detail"]["due_at_hq"]) == (200, 100)
    # the correction reaches the till too, so its own ledger agrees with HQ again
    changes, _ = hq.pull_all(hq.till1, cursor)
    fixes = [c["data"] for c in changes if c["topic"] == "entry"]
    assert [(f["kind"], f["points"]) for f in fixes] == [("adjust", 100)]
    assert till.members[member_id].balance + 100 == view["balance"]
