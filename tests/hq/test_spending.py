"""Spending safely: holds online; offline spends bounded by the allowance and flagged."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.hq.conftest import HQ
from tests.hq.support import basket, nothing_written

ALLOWANCE = 2000  # spending.offline_allowance_points of the default rule set


def rich_member(hq: HQ, points: int) -> str:
    """A member of store 001 holding ``points``: registration bonus 100, a first purchase
    (10 yuan x5 = 50), the rest an HQ adjustment."""
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered, till.sale(member_id, basket(10)))
    response = hq.client.post(
        "/v1/admin/adjustments",
        json={
            "id": "welcome-gift-1",
            "member_id": member_id,
            "points": points - 150,
            "reason": "migration",
        },
        headers=hq.headers(hq.admin),
    )
    assert response.status_code == 201, response.text
    return member_id


def hold(hq: HQ, token: str, hold_id: str, member_id: str, points: int, **extra: Any) -> Any:
    return hq.client.post(
        "/v1/holds",
        json={"id": hold_id, "member_id": member_id, "points": points, **extra},
        headers=hq.headers(token),
    )


def test_two_offline_tills_spending_the_same_points_are_bounded_and_flagged(hq: HQ) -> None:
    member_id = rich_member(hq, 2500)
    a, b = hq.till("001", "01"), hq.till("002", "01")
    for till in (a, b):  # both pulled the member before the network went down
        till.know(member_id, 2500)
    sale_a = a.sale(member_id, basket(150), points=ALLOWANCE, spend_limit=ALLOWANCE)
    sale_b = b.sale(member_id, basket(150), points=ALLOWANCE, spend_limit=ALLOWANCE)
    # back online: each pushes its outbox
    (result_a,) = hq.push_ok(hq.till1, sale_a)
    assert result_a["result"]["flags"] == []
    assert result_a["result"]["balance"] == 2500 - 2000 + 130
    (result_b,) = hq.push_ok(hq.till2, sale_b)
    assert result_b["result"]["flags"] == ["overspend"]
    (flag,) = hq.flags("overspend")
    assert flag["member_id"] == member_id
    assert flag["principal"] == "till:002-01"
    detail = flag["detail"]
    assert detail["balance_before"] == 630
    assert detail["overspend"] == 2000 - 630 == 1370
    assert detail["overspend"] <= ALLOWANCE  # bounded by the allowance
    assert detail["held"] is False
    # applied anyway (the sale happened): the member owes the points, never silently
    view = hq.member(member_id)
    assert view["balance"] == 630 - 2000 + 130 == -1240
    assert view["lots"] == []
    # the debt is repaid by the next points earned before any lot opens
    (paid,) = hq.push_ok(hq.till1, a.sale(member_id, basket(100)))
    assert paid["result"]["balance"] == -1140
    assert hq.member(member_id)["lots"] == []


def test_an_offline_spend_above_the_allowance_is_flagged(hq: HQ) -> None:
    member_id = rich_member(hq, 5000)
    till = hq.till("001", "01")
    till.know(member_id, 5000)
    (result,) = hq.push_ok(hq.till1, till.sale(member_id, basket(200), points=3000))
    assert result["result"]["flags"] == ["offline_allowance_exceeded"]
    assert hq.member(member_id)["balance"] == 5000 - 3000 + 170


def test_hold_then_post_then_the_sale_settles_it(hq: HQ) -> None:
    member_id = rich_member(hq, 3000)
    till = hq.till("001", "01")
    till.know(member_id, 3000)
    response = hold(hq, hq.till1, "hold-1", member_id, 2500)
    assert response.status_code == 201
    assert response.json()["available"] == 500
    assert response.json()["balance"] == 3000
    # the same request again (a lost reply): the same hold
    again = hold(hq, hq.till1, "hold-1", member_id, 2500)
    assert (again.status_code, again.json()["id"]) == (200, "hold-1")
    # another till cannot reserve what is held
    refused = hold(hq, hq.till2, "hold-2", member_id, 600)
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_points"
    assert refused.json()["facts"]["available"] == 500
    # nor can it post or void someone else's hold
    assert hq.client.post("/v1/holds/hold-1/void", headers=hq.headers(hq.till2)).status_code == 403

    sale = till.sale(member_id, basket(200), points=2500)
    sale_id = sale["payload"]["sale"]["id"]
    posted = hq.client.post(
        "/v1/holds/hold-1/post", json={"sale_id": sale_id}, headers=hq.headers(hq.till1)
    )
    assert posted.status_code == 200
    assert posted.json()["status"] == "posted"
    # a posted hold does not expire: the points wait for the sale
    hq.clock.advance(hours=2)
    assert hold(hq, hq.till2, "hold-3", member_id, 600).status_code == 409
    (result,) = hq.push_ok(hq.till1, sale)
    assert result["result"]["flags"] == []  # held online: no offline allowance, no overspend
    settled = hq.client.get("/v1/holds/hold-1", headers=hq.headers(hq.till1)).json()
    assert settled["status"] == "settled"
    assert settled["balance"] == settled["available"] == 3000 - 2500 + 175
    assert hq.client.post("/v1/holds/hold-1/void", headers=hq.headers(hq.till1)).status_code == 409


def test_void_releases_and_an_unposted_hold_expires(hq: HQ) -> None:
    member_id = rich_member(hq, 1000)
    first = hold(hq, hq.till1, "h-void", member_id, 800)
    assert first.json()["available"] == 200
    voided = hq.client.post("/v1/holds/h-void/void", headers=hq.headers(hq.till1))
    assert (voided.status_code, voided.json()["status"], voided.json()["available"]) == (
        200,
        "voided",
        1000,
    )
    twice = hq.client.post("/v1/holds/h-void/void", headers=hq.headers(hq.till1))
    assert twice.status_code == 200
    assert hold(hq, hq.till1, "h-short", member_id, 900, ttl_seconds=60).status_code == 201
    assert hold(hq, hq.till2, "h-other", member_id, 900).status_code == 409
    hq.clock.advance(seconds=61)
    late = hq.client.post(
        "/v1/holds/h-short/post", json={"sale_id": "s1"}, headers=hq.headers(hq.till1)
    )
    assert late.status_code == 409
    assert "expired" in late.json()["detail"]
    assert hold(hq, hq.till2, "h-other", member_id, 900).status_code == 201
    # the same hold id for another request is a conflict, and writes nothing
    with nothing_written(hq.db):
        assert hold(hq, hq.till2, "h-other", member_id, 100).status_code == 409
    # run-jobs marks the lapsed hold expired; a second run changes nothing
    jobs = hq.client.post(
        "/v1/admin/jobs/run",
        json={"now": (hq.clock() + dt.timedelta(seconds=1)).isoformat()},
        headers=hq.headers(hq.admin),
    )
    assert jobs.json()["holds_expired"] == 1
    assert (
        hq.client.get("/v1/holds/h-short", headers=hq.headers(hq.till1)).json()["status"]
        == "expired"
    )


def test_holds_for_unknown_members_and_bad_amounts(hq: HQ) -> None:
    with nothing_written(hq.db):
        assert hold(hq, hq.till1, "h1", "nobody", 100).status_code == 404
        for points in (0, -5, 10**12, "100", 1.5, None):
            assert hold(hq, hq.till1, "h1", "nobody", points).status_code == 422  # type: ignore[arg-type]
