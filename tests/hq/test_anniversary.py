"""The membership-anniversary bonus: granted by HQ's job once a year per member, in the
month they registered, by tier; tills pull it like HQ's other entries."""

from __future__ import annotations

import datetime as dt
import json

from pos_app.core.rules import default_rule_set
from pos_app.hq.jobs import run_jobs
from tests.hq.conftest import HQ
from tests.hq.support import SHANGHAI, basket


def publish_perks(hq: HQ) -> None:
    document = json.loads(default_rule_set().to_json())
    document["version"] = "2026.11-perks"
    document["perks"] = {"anniversary_bonus": {"regular": 100, "silver": 200, "gold": 500}}
    response = hq.client.post(
        "/v1/admin/rule-sets",
        json={"document": document, "activate": True},
        headers=hq.headers(hq.admin),
    )
    assert response.status_code == 201, response.text


def test_the_anniversary_bonus_once_a_year_by_tier(hq: HQ) -> None:
    publish_perks(hq)
    till = hq.till("001", "01")
    regular, registered = till.register("13866660001")  # 2026-11-17
    gold, registered_gold = till.register("13866660002")
    hq.push_ok(hq.till1, registered, registered_gold, till.sale(gold, basket(1000)))
    _, cursor = hq.pull_all(hq.till1)  # the till is up to date before the jobs run
    before = {m: hq.member(m)["balance"] for m in (regular, gold)}

    too_soon = run_jobs(hq.db, dt.datetime(2026, 11, 30, 3, tzinfo=SHANGHAI))
    assert too_soon.anniversary_bonuses == 0  # the first year is not over
    other_month = run_jobs(hq.db, dt.datetime(2027, 10, 31, 3, tzinfo=SHANGHAI))
    assert other_month.anniversary_bonuses == 0
    report = run_jobs(hq.db, dt.datetime(2027, 11, 2, 3, tzinfo=SHANGHAI))
    assert (report.anniversary_bonuses, report.anniversary_points) == (2, 600)
    for day in (3, 30):  # the rest of the month: nothing more
        again = run_jobs(hq.db, dt.datetime(2027, 11, day, 3, tzinfo=SHANGHAI))
        assert again.anniversary_bonuses == 0
    assert hq.member(regular)["balance"] == before[regular] + 100
    assert hq.member(gold)["balance"] == before[gold] + 500
    # the review of 2028-01-01 put the gold member back to regular (nothing bought)
    next_year = run_jobs(hq.db, dt.datetime(2028, 11, 1, 3, tzinfo=SHANGHAI))
    assert (next_year.anniversary_bonuses, next_year.anniversary_points) == (2, 200)

    changes, _ = hq.pull_all(hq.till1, cursor)
    bonuses = [
        c["data"] for c in changes if c["topic"] == "entry" and c["data"]["reason"] == "anniversary"
    ]
    assert sorted((b["member_id"], b["points"]) for b in bonuses) == sorted(
        [(regular, 100), (gold, 500), (regular, 100), (gold, 100)]
    )
    assert {b["source_channel"] for b in bonuses} == {"hq"}
