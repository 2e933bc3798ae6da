"""HQ bounds what a till may assert: an adjustment names a manager HQ knows for the
till's store, stays within the rule set's cap and floor, and concerns the till's own
region; HQ's own adjustments keep the floor too. Refused, never merely flagged."""

from __future__ import annotations

from typing import Any

import pytest

from pos_app.core.rules import default_rule_set
from pos_app.hq import adjustments, admin
from tests.hq.conftest import HQ
from tests.hq.support import MANAGER, nothing_written


def _registered(hq: HQ, store: str = "001", phone: str = "13812341234") -> str:
    till = hq.till(store, "01")
    member_id, registered = till.register(phone)
    hq.push_ok(hq.till1 if store == "001" else hq.till2, registered)
    return member_id


def _refused(hq: HQ, token: str, event: dict[str, Any]) -> dict[str, Any]:
    """Push ``event``; it must be refused with nothing written; returns its result."""
    with nothing_written(hq.db):
        response = hq.push(token, event)
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
    assert result["status"] != "applied", result
    return dict(result)


def test_a_till_of_store_b_cannot_adjust_a_member_of_store_a(hq: HQ) -> None:
    member_id = _registered(hq, "001")
    attacker = hq.till("002", "01")
    result = _refused(hq, hq.till2, attacker.adjustment(member_id, 1_000_000_000 - 1))
    assert result["status"] in ("rejected", "forbidden")  # above the cap, and outside
    result = _refused(hq, hq.till2, attacker.adjustment(member_id, 50))  # small as well
    assert result["status"] == "forbidden"
    assert "outside the region" in result["error"]
    assert hq.member(member_id)["balance"] == 100
    assert hq.flags("large_adjustment") == []  # refused, not flagged


def test_an_adjustment_above_the_rule_set_cap_is_refused(hq: HQ) -> None:
    member_id = _registered(hq)
    till = hq.till("001", "01")
    cap = default_rule_set().adjustments.max_points
    result = _refused(hq, hq.till1, till.adjustment(member_id, cap + 1))
    assert result["status"] == "rejected"
    assert str(cap) in result["error"]
    hq.push_ok(hq.till1, till.adjustment(member_id, cap))
    assert hq.member(member_id)["balance"] == 100 + cap


@pytest.mark.parametrize("manager", [None, "cashier-1", "someone-else", "removed"])
def test_an_adjustment_needs_a_manager_hq_knows_for_the_store(hq: HQ, manager: str | None) -> None:
    member_id = _registered(hq)
    if manager == "removed":
        adjustments.add_manager(hq.db, "001", "removed", "前店长", hq.clock())
        adjustments.remove_manager(hq.db, "001", "removed", hq.clock(), actor="admin:x")
    till = hq.till("001", "01")
    result = _refused(hq, hq.till1, till.adjustment(member_id, 10, manager=manager))
    assert result["status"] == "forbidden"
    assert "manager" in result["error"]


def test_a_manager_of_another_store_does_not_approve_here(hq: HQ) -> None:
    member_id = _registered(hq)
    adjustments.add_manager(hq.db, "002", "boss-002", "二号店店长", hq.clock())
    till = hq.till("001", "01")
    result = _refused(hq, hq.till1, till.adjustment(member_id, 10, manager="boss-002"))
    assert result["status"] == "forbidden"


def test_no_adjustment_takes_a_balance_below_the_floor(hq: HQ) -> None:
    member_id = _registered(hq)
    till = hq.till("001", "01")
    result = _refused(hq, hq.till1, till.adjustment(member_id, -101))
    assert result["status"] == "conflict"
    assert "below the floor" in result["error"]
    hq.push_ok(hq.till1, till.adjustment(member_id, -100))  # down to the floor is fine
    assert hq.member(member_id)["balance"] == 0


def test_an_admin_adjustment_keeps_the_floor_too(hq: HQ) -> None:
    member_id = _registered(hq)
    with nothing_written(hq.db):
        response = hq.client.post(
            "/v1/admin/adjustments",
            json={"id": "fix-1", "member_id": member_id, "points": -(10**9), "reason": "oops"},
            headers=hq.headers(hq.admin),
        )
    assert response.status_code == 409, response.text
    assert "below the floor" in response.json()["detail"]
    ok = hq.client.post(
        "/v1/admin/adjustments",
        json={"id": "fix-2", "member_id": member_id, "points": -40, "reason": "correction"},
        headers=hq.headers(hq.admin),
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["balance"] == 60


def test_a_registration_cannot_smuggle_an_adjustment(hq: HQ) -> None:
    till = hq.till("001", "01")
    _, registered = till.register("13812341234")
    registered["payload"]["entries"].append(
        till.entry(registered["payload"]["member"]["id"], "adjust", 1_000_000_000 - 1)
    )
    result = _refused(hq, hq.till1, registered)
    assert result["status"] in ("rejected", "forbidden")


def _publish(hq: HQ, **adjustment_rules: Any) -> None:
    document = default_rule_set().model_dump(mode="json")
    document["version"] = "2026.12-review"
    document["adjustments"] |= adjustment_rules
    admin.publish_rule_set(hq.db, document, True, hq.clock())


def _hold(hq: HQ, points: int) -> tuple[str, str, dict[str, Any]]:
    _publish(hq, out_of_region="review")
    member_id = _registered(hq, "001")
    stranger = hq.till("002", "01")
    event = stranger.adjustment(member_id, points)
    (result,) = hq.push_ok(hq.till2, event)
    assert result["result"]["held_for_review"] == event["id"]
    assert result["result"]["flags"] == ["adjustment_held"]
    assert hq.member(member_id)["balance"] == 100  # nothing moved yet
    return member_id, event["id"], event


def _decide(hq: HQ, review_id: str, decision: str) -> Any:
    return hq.client.post(
        f"/v1/admin/adjustment-reviews/{review_id}/{decision}", headers=hq.headers(hq.admin)
    )


def test_review_holds_an_out_of_region_adjustment_until_an_admin_approves(hq: HQ) -> None:
    member_id, review_id, event = _hold(hq, 300)
    _, cursor = hq.pull_all(hq.till1)  # till 1 holds the member (its region's) from here
    listed = hq.client.get("/v1/admin/adjustment-reviews", headers=hq.headers(hq.admin)).json()
    assert [(r["id"], r["status"], r["store"]) for r in listed] == [(review_id, "held", "002")]
    approved = _decide(hq, review_id, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert hq.member(member_id)["balance"] == 400
    assert _decide(hq, review_id, "reject").status_code == 409  # decided once
    # the till that made it holds the entry already: it does not pull it back
    changes, _ = hq.pull_all(hq.till2)
    entry_id = event["payload"]["entries"][0]["id"]
    assert entry_id not in {c["data"]["id"] for c in changes if c["topic"] == "entry"}
    changes, _ = hq.pull_all(hq.till1, cursor)
    assert entry_id in {c["data"]["id"] for c in changes if c["topic"] == "entry"}


def test_a_rejected_review_is_taken_back_on_every_ledger(hq: HQ) -> None:
    member_id, review_id, _event = _hold(hq, 300)
    # the adjusting till holds the member: it was at its counter (fetched from HQ)
    found = hq.client.get(
        "/v1/members/lookup", params={"member_id": member_id}, headers=hq.headers(hq.till2)
    )
    assert found.status_code == 200, found.text
    _, cursor = hq.pull_all(hq.till2)
    rejected = _decide(hq, review_id, "reject")
    assert rejected.status_code == 200, rejected.text
    assert hq.member(member_id)["balance"] == 100
    # the till that holds the +300 pulls the -300 correction: it ends at 100 too
    changes, _ = hq.pull_all(hq.till2, cursor)
    entries = [c["data"] for c in changes if c["topic"] == "entry"]
    assert [(e["kind"], e["points"]) for e in entries if e["source_channel"] == "hq"] == [
        ("adjust", -300)
    ]


def test_the_rule_set_s_adjustment_fields_are_validated(hq: HQ) -> None:
    document = default_rule_set().model_dump(mode="json")
    document["version"] = "bad"
    for field, value in (("max_points", 0), ("balance_floor", 5), ("out_of_region", "flag")):
        bad = document | {"adjustments": document["adjustments"] | {field: value}}
        response = hq.client.post(
            "/v1/admin/rule-sets", json={"document": bad}, headers=hq.headers(hq.admin)
        )
        assert response.status_code == 400, response.text
        assert response.json()["facts"]["field"] == f"adjustments.{field}"


def test_the_managers_api(hq: HQ) -> None:
    headers = hq.headers(hq.admin)
    response = hq.client.post(
        "/v1/admin/stores/001/managers",
        json={"manager_id": "u-42", "name": "王店长"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    listed = hq.client.get("/v1/admin/stores/001/managers", headers=headers).json()
    assert {(m["manager_id"], m["active"]) for m in listed} == {(MANAGER, True), ("u-42", True)}
    assert (
        hq.client.delete("/v1/admin/stores/001/managers/u-42", headers=headers).json()["active"]
        is False
    )
    assert (
        hq.client.post(
            "/v1/admin/stores/999/managers", json={"manager_id": "x"}, headers=headers
        ).status_code
        == 404
    )
    assert (
        hq.client.post(
            "/v1/admin/stores/001/managers", json={"manager_id": "x"}, headers=hq.headers(hq.till1)
        ).status_code
        == 403
    )
