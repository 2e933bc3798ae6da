"""The online mall and the member app push with the same guarantees as a till."""

from __future__ import annotations

from typing import Any

from tests.hq.conftest import HQ
from tests.hq.support import basket, event, new_id, nothing_written


def channel_push(hq: HQ, *events: dict[str, Any], channel: str = "mall") -> Any:
    return hq.client.post(
        f"/v1/channel/{channel}/events", json={"events": list(events)}, headers=hq.headers(hq.mall)
    )


def redemption(
    hq: HQ, member_id: str, item_id: str, points: int, quantity: int = 1
) -> dict[str, Any]:
    rid = new_id()
    now = hq.clock().isoformat()
    return event(
        "redemption",
        {
            "redemption": {
                "id": rid,
                "member_id": member_id,
                "item_id": item_id,
                "quantity": quantity,
                "points": points,
                "cash_fen": 0,
                "created_at": now,
            },
            "entries": [
                {
                    "id": new_id(),
                    "member_id": member_id,
                    "kind": "spend",
                    "points": -points,
                    "created_at": now,
                    "rule_set_version": "2026.11-default",
                }
            ],
        },
        hq.clock(),
    )


def test_the_app_registers_and_the_mall_redeems_once(hq: HQ) -> None:
    items = {"items": [{"id": "MUG", "name": "马克杯", "points_price": 300, "stock": 1}]}
    assert (
        hq.client.put("/v1/admin/mall-items", json=items, headers=hq.headers(hq.admin)).status_code
        == 200
    )
    app = hq.till("000", "00")  # the app writes the same registration payload, no store
    member_id, registered = app.register("13812341234")
    registered["payload"]["member"]["store_id"] = None
    response = channel_push(hq, registered, {"id": new_id(), "kind": "sale", "payload": None})
    assert response.status_code == 422  # a null payload is a malformed envelope
    sale = app.sale(member_id, basket(100))
    sale["payload"]["sale"]["store_id"] = None
    sale["payload"]["sale"]["till_id"] = None
    results = channel_push(hq, registered, sale).json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert hq.member(member_id)["balance"] == 600
    assert hq.member(member_id)["registered_store"] is None

    # a till of store 001 holds the member once HQ puts it in the store's region
    assign = {"member_ids": [member_id]}
    response = hq.client.post(
        "/v1/admin/regions/001/members", json=assign, headers=hq.headers(hq.admin)
    )
    assert response.json() == {"region": "001", "members": 1, "added": 1}
    _, cursor = hq.pull_all(hq.till1)
    buy = redemption(hq, member_id, "MUG", 300)
    (first,) = channel_push(hq, buy).json()["results"]
    assert first["status"] == "applied"
    assert first["result"]["balance"] == 300
    for _ in range(3):  # the mall retries: the first answer, nothing more written
        with nothing_written(hq.db):
            (again,) = channel_push(hq, buy).json()["results"]
        assert again["replayed"] is True
    # out of stock now, and nothing is written for the refused event
    with nothing_written(hq.db):
        (sold_out,) = channel_push(hq, redemption(hq, member_id, "MUG", 300)).json()["results"]
    assert (sold_out["status"], sold_out["http_status"]) == ("conflict", 409)
    # tills hear of the mall's spend and of the stock
    changes, _ = hq.pull_all(hq.till1, cursor)
    spends = [c["data"] for c in changes if c["topic"] == "entry" and c["data"]["kind"] == "spend"]
    assert [(s["points"], s["source_channel"]) for s in spends] == [(-300, "mall")]
    (mug,) = [c["data"] for c in changes if c["topic"] == "mall_item"]
    assert mug["stock"] == 0


def test_an_online_channel_cannot_spend_points_the_member_does_not_have(hq: HQ) -> None:
    items = {"items": [{"id": "BIG", "name": "扫地机器人", "points_price": 50_000}]}
    hq.client.put("/v1/admin/mall-items", json=items, headers=hq.headers(hq.admin))
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered)
    with nothing_written(hq.db):
        (result,) = channel_push(hq, redemption(hq, member_id, "BIG", 50_000)).json()["results"]
    assert (result["status"], result["http_status"]) == ("conflict", 409)
    assert "100 points available" in result["error"]
    # a wrong price is refused too
    with nothing_written(hq.db):
        (result,) = channel_push(hq, redemption(hq, member_id, "BIG", 10)).json()["results"]
    assert (result["status"], result["http_status"]) == ("rejected", 400)


def test_a_channel_cannot_push_till_only_kinds_or_another_channels_sale(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered)
    sale = till.sale(member_id, basket(10))
    with nothing_written(hq.db):
        response = channel_push(hq, sale)  # names store 001
        assert response.status_code == 403
        (result,) = channel_push(hq, till.adjustment(member_id, 5)).json()["results"]
        assert (result["status"], result["http_status"]) == ("rejected", 400)
