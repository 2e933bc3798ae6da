"""The mall's front page: what HQ features reaches a real till with the mall items, and
the till's front page (F11) orders the sections as HQ's channel API does."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pos_app.hq import front
from pos_app.hq.database import HQDatabase
from pos_app.services import mall
from tests.sync.harness import HQServer, SimTill


@pytest.fixture
def till(hq: HQServer, sync_till_template: Path, tmp_path: Path) -> Iterator[SimTill]:
    sim = SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(11))
    yield sim
    sim.close()


def _items(now: dt.datetime) -> list[dict[str, Any]]:
    def at(days: float) -> str:
        return (now + dt.timedelta(days=days)).isoformat()

    sale = {"discount_from": at(-1), "discount_to": at(3)}
    return [
        {"id": "CPN5", "name": "5元券", "points_price": 500, "level": "low"},
        {"id": "BAG", "name": "帆布包", "points_price": 2000, "discount_percent": 20, **sale},
        {"id": "CUP", "name": "保温杯", "points_price": 1500, "discount_percent": 50, **sale},
        {"id": "EAR", "name": "耳机", "points_price": 30000, "level": "top"},
        {
            "id": "NEW",
            "name": "新品",
            "points_price": 800,
            "level": "low",
            "available_from": at(-2),
        },
    ]


def _hq_page(hq: HQServer) -> dict[str, list[str]]:
    db = HQDatabase(hq.url)
    try:
        with db.read() as session:
            shown = front.page(session, dt.datetime.now(dt.UTC), None)
    finally:
        db.close()
    return {s: [i["item_id"] for i in items] for s, items in shown["sections"].items()}


def _till_page(till: SimTill) -> dict[str, list[str]]:
    page = mall.front(till.ctx)
    return {code: [i.item_id for i in items] for code, items in page.sections}


def test_hqs_picks_reach_the_till_and_both_order_the_page_alike(
    hq: HQServer, till: SimTill
) -> None:
    with hq.admin_client() as admin:
        admin.request(
            "PUT", "/v1/admin/mall-items", json_body={"items": _items(dt.datetime.now(dt.UTC))}
        )
        admin.request(
            "PUT",
            "/v1/admin/mall-front",
            json_body={"sections": {"hot": ["EAR", "BAG"], "value": ["CPN5"]}},
        )
    assert till.sync()
    page = _till_page(till)
    assert page["hot"] == ["EAR", "BAG", "CUP"]  # HQ's picks in HQ's order, then the rule
    assert page["value"] == ["CPN5", "CUP", "BAG"]  # then the most points saved
    assert page == _hq_page(hq)
    pyramid = dict(mall.front(till.ctx).pyramid)
    assert pyramid == {"low": 2, "middle": 2, "top": 1}

    with hq.admin_client() as admin:  # HQ takes EAR off the hot list: the till follows
        admin.request("PUT", "/v1/admin/mall-front", json_body={"sections": {"hot": ["CUP"]}})
    assert till.sync()
    page = _till_page(till)
    assert page["hot"] == ["CUP", "BAG"]
    assert "EAR" not in page["hot"]
    assert page == _hq_page(hq)
