"""The mall's front page through the channel API: sections in the order HQ set, the
member's tier deciding what is open, the pyramid kept visible."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.hq.conftest import HQ
from tests.hq.support import basket

NOW = "2026-11-17T10:00:00+08:00"


def items(hq: HQ) -> None:
    now = dt.datetime.fromisoformat(NOW)
    rows = [
        {"id": "CPN5", "name": "5元券", "points_price": 500, "level": "low"},
        {
            "id": "CUP",
            "name": "保温杯",
            "points_price": 1500,
            "level": "middle",
            "discount_percent": 50,
            "discount_from": (now - dt.timedelta(days=1)).isoformat(),
            "discount_to": (now + dt.timedelta(days=3)).isoformat(),
        },
        {
            "id": "BAG",
            "name": "帆布包",
            "points_price": 2000,
            "level": "middle",
            "discount_percent": 20,
            "discount_from": (now - dt.timedelta(days=1)).isoformat(),
            "discount_to": (now + dt.timedelta(days=3)).isoformat(),
        },
        {
            "id": "EAR",
            "name": "耳机",
            "points_price": 30000,
            "level": "top",
            "available_from": (now - dt.timedelta(days=2)).isoformat(),
        },
        {"id": "TV", "name": "电视", "points_price": 300000, "level": "top", "min_tier": "gold"},
        {
            "id": "SOON",
            "name": "新品预售",
            "points_price": 800,
            "level": "low",
            "available_from": (now + dt.timedelta(hours=12)).isoformat(),
        },
    ]
    response = hq.client.put(
        "/v1/admin/mall-items", json={"items": rows}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 200, response.text


def page(hq: HQ, member_id: str | None = None) -> dict[str, Any]:
    params = {"member_id": member_id} if member_id else {}
    response = hq.client.get(
        "/v1/channel/mall/mall/front", params=params, headers=hq.headers(hq.mall)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def ids(shown: dict[str, Any], section: str) -> list[str]:
    return [i["item_id"] for i in shown["sections"][section]]


def test_the_front_page_orders_items_as_hq_set_them(hq: HQ) -> None:
    items(hq)
    shown = page(hq)
    assert ids(shown, "hot") == ["CUP", "BAG"]  # the deepest discount first
    assert ids(shown, "value") == ["CUP", "BAG"]  # 750 points saved, then 400
    assert shown["sections"]["value"][0]["points_saved"] == 750
    assert ids(shown, "new") == ["EAR"]
    assert shown["member_day"] is False
    assert shown["sections"]["member_day"] == []
    assert shown["pyramid"] == {"low": 1, "middle": 2, "top": 1}  # TV: gold only; SOON: later
    featured = {"hot": ["EAR", "BAG"], "value": ["CPN5"], "member_day": ["CPN5"]}
    response = hq.client.put(
        "/v1/admin/mall-front", json={"sections": featured}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 200, response.text
    shown = page(hq)
    assert ids(shown, "hot") == ["EAR", "BAG", "CUP"]  # HQ's picks, in its order, first
    assert [i["featured"] for i in shown["sections"]["hot"]] == [True, True, False]
    assert ids(shown, "value") == ["CPN5", "CUP", "BAG"]


def test_a_higher_tier_sees_its_items_and_refusals_are_clear(hq: HQ) -> None:
    items(hq)
    till = hq.till("001", "01")
    member_id, registered = till.register("13899990000")
    hq.push_ok(hq.till1, registered)
    assert page(hq, member_id)["pyramid"]["top"] == 1  # the TV is for gold members
    hq.push_ok(hq.till1, till.sale(member_id, basket(1000)))  # gold at once
    gold = page(hq, member_id)
    assert (gold["tier"], gold["pyramid"]["top"]) == ("gold", 2)
    bad = hq.client.put(
        "/v1/admin/mall-front", json={"sections": {"hot": ["NOPE"]}}, headers=hq.headers(hq.admin)
    )
    assert bad.status_code == 400
    assert "NOPE" in bad.text
    twice = hq.client.put(
        "/v1/admin/mall-front",
        json={"sections": {"hot": ["CUP", "CUP"]}},
        headers=hq.headers(hq.admin),
    )
    assert twice.status_code == 400
    unknown = hq.client.get(
        "/v1/channel/mall/mall/front", params={"member_id": "nobody"}, headers=hq.headers(hq.mall)
    )
    assert unknown.status_code == 404
    other = hq.client.get("/v1/channel/app/mall/front", headers=hq.headers(hq.mall))
    assert other.status_code == 403
