"""Pull: changes after a cursor, in pages, resumable; a till never loses a change."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import insert

from pos_app.hq.database import HQDatabase
from pos_app.hq.models import Member
from pos_app.hq.scopes import add_scopes, session_seq
from tests.hq.conftest import HQ
from tests.hq.support import basket


def add_members(
    db: HQDatabase, count: int, at: dt.datetime, prefix: str = "bulk", region: str | None = "001"
) -> list[str]:
    """``count`` members straight into HQ's table (as a first sync would find them), in
    ``region``'s scope, with change numbers taken from HQ's counter as any writer does."""
    ids = [f"{prefix}{i:07d}" for i in range(count)]
    with db.write() as s:
        start = s.info["hq_seq"]
        rows = [
            {
                "id": member_id,
                "phone_hash": hashlib.sha256(member_id.encode()).digest(),
                "phone_last4": f"{i % 10000:04d}",
                "phone_masked": f"138****{i % 10000:04d}",
                "name": "",
                "tier": "regular",
                "tier_since": at,
                "registered_at": at,
                "registered_channel": "app",
                "balance": 0,
                "received_at": at,
                "updated_at": at,
                "seq": start + i + 1,
            }
            for i, member_id in enumerate(ids)
        ]
        s.execute(insert(Member), rows)
        s.info["hq_seq"] = start + count
        if region is not None:
            add_scopes(s, [(m, region, "assigned") for m in ids], session_seq(s), at=at)
    return ids


def topics(changes: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [c["data"] for c in changes if c["topic"] == topic]


def test_a_first_sync_is_paged_and_resumes_from_the_last_cursor(hq: HQ) -> None:
    ids = add_members(hq.db, 2500, hq.clock())
    add_members(hq.db, 300, hq.clock(), prefix="other", region="002")
    first = hq.pull(hq.till1, 0, 1000)
    assert first["has_more"] is True
    assert len(first["changes"]) == 1000
    second = hq.pull(hq.till1, first["next_cursor"], 1000)
    assert second["has_more"] is True
    saved = second["next_cursor"]
    # the till is killed here; it restarts from the cursor it saved
    rest, cursor = hq.pull_all(hq.till1, saved, 1000)
    changes = first["changes"] + second["changes"] + rest
    seqs = [c["seq"] for c in changes]
    assert len(set(seqs)) == len(seqs)  # each change once
    assert max(c["seq"] for c in first["changes"]) < min(c["seq"] for c in second["changes"])
    # the region's members, each whole (it entered the region after cursor 0)
    assert sorted(m["id"] for m in topics(changes, "member_snapshot")) == ids
    assert topics(changes, "member") == []
    assert [r["version"] for r in topics(changes, "rule_set")] == ["2026.11-default"]
    member = topics(changes, "member_snapshot")[0]
    assert set(member) >= {"id", "phone_hash", "phone_last4", "phone_masked", "tier", "balance"}
    assert (member["lots"], member["coupons"]) == ([], [])
    assert member["as_of"] >= max(seqs)
    assert "phone" not in member
    # nothing new: the same cursor again, an empty page
    again = hq.pull(hq.till1, cursor)
    assert (again["changes"], again["next_cursor"], again["has_more"]) == ([], cursor, False)

    # a registration at the other till of the store arrives after the saved cursor,
    # exactly once, whole; one at another store (another region) does not
    other = hq.till("002", "01")
    hq.push_ok(hq.till2, other.register("13912341234")[1])
    neighbour = hq.till("001", "02")
    member_id, registered = neighbour.register("13812341234")
    hq.push_ok(hq.till1b, registered)
    news = hq.pull(hq.till1, cursor)
    assert [c["topic"] for c in news["changes"]] == ["member_snapshot"]
    whole = news["changes"][0]["data"]
    assert (whole["id"], whole["balance"]) == (member_id, 100)
    assert [(lot["points"], lot["remaining"]) for lot in whole["lots"]] == [(100, 100)]
    assert hq.pull(hq.till1, news["next_cursor"])["changes"] == []


def test_a_till_gets_other_stores_entries_and_not_its_own(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    member_id, registered = a.register("13812341234")
    hq.push_ok(hq.till1, registered, a.sale(member_id, basket(100)))
    _, cursor_a = hq.pull_all(hq.till1)
    changes_b, cursor_b = hq.pull_all(hq.till2)
    assert {c["topic"] for c in changes_b} == {"rule_set", "member_code_key"}  # no member
    found = hq.client.get(
        "/v1/members/lookup", params={"member_id": member_id}, headers=hq.headers(hq.till2)
    ).json()  # the member is at store 002's counter: fetched on demand, kept from now on
    assert (found["id"], found["balance"]) == (member_id, 600)
    b.know(member_id, 600)
    hq.push_ok(hq.till2, b.sale(member_id, basket(200), points=200))
    news_a, _ = hq.pull_all(hq.till1, cursor_a)
    entries = topics(news_a, "entry")
    assert [(e["kind"], e["points"], e["store_id"]) for e in entries] == [
        ("spend", -200, "002"),
        ("earn", 198, "002"),
    ]
    assert topics(news_a, "member")[0]["balance"] == 600 - 200 + 198
    # till b gets the member's new balance but not its own entries back
    news_b, cursor_b = hq.pull_all(hq.till2, cursor_b)
    assert topics(news_b, "entry") == []
    (whole,) = topics(news_b, "member_snapshot")  # it entered 002's region after cursor_b
    assert whole["balance"] == 598
    # a till's own balance view: own entries + pulled ones == HQ's balance
    assert a.members[member_id].balance + sum(e["points"] for e in entries) == 598
    hq.push_ok(hq.till1, a.sale(member_id, basket(10)))
    news_b, _ = hq.pull_all(hq.till2, cursor_b)  # from now on, its changes
    assert [(e["kind"], e["store_id"]) for e in topics(news_b, "entry")] == [("earn", "001")]
    assert topics(news_b, "member")[0]["balance"] == 608


def test_published_data_travels_to_every_till(hq: HQ) -> None:
    admin = hq.headers(hq.admin)
    _, cursor = hq.pull_all(hq.till2)
    document = __import__("json").loads(
        __import__("pos_app.core.rules", fromlist=["x"]).default_rule_set().to_json()
    )
    document["version"] = "2026.12-holiday"
    document["spending"]["offline_allowance_points"] = 500
    assert (
        hq.client.post(
            "/v1/admin/rule-sets", json={"document": document}, headers=admin
        ).status_code
        == 201
    )
    products = {
        "products": [{"sku": "TEA", "name": "龙井茶叶", "category": "food", "price_fen": 5000}]
    }
    assert hq.client.put("/v1/admin/products", json=products, headers=admin).status_code == 200
    items = {"items": [{"id": "CUP1", "name": "保温杯", "points_price": 1500, "stock": 3}]}
    assert hq.client.put("/v1/admin/mall-items", json=items, headers=admin).status_code == 200
    coupons = {
        "coupons": [
            {
                "id": "c1",
                "code": "SAVE10",
                "name": "满100减10",
                "amount_off_fen": 1000,
                "min_order_fen": 10000,
                "valid_from": "2026-11-01T00:00:00+08:00",
                "valid_to": "2026-12-01T00:00:00+08:00",
            }
        ]
    }
    assert hq.client.post("/v1/admin/coupons", json=coupons, headers=admin).status_code == 201
    changes, cursor = hq.pull_all(hq.till2, cursor)
    assert [c["topic"] for c in changes] == [
        "rule_set",
        "rule_set",
        "product",
        "mall_item",
        "coupon",
    ]
    old, new = topics(changes, "rule_set")
    assert (old["version"], old["active"]) == ("2026.11-default", False)
    assert (new["version"], new["active"]) == ("2026.12-holiday", True)
    assert new["document"]["spending"]["offline_allowance_points"] == 500
    # a coupon used at one store is marked used for every till
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(120))
    sale["payload"]["sale"]["coupons"] = ["SAVE10"]
    hq.push_ok(hq.till1, registered, sale)
    changes, _ = hq.pull_all(hq.till2, cursor)
    (coupon,) = topics(changes, "coupon")
    assert coupon["used_sale_id"] == sale["payload"]["sale"]["id"]


def test_a_cursor_ahead_of_hq_asks_for_a_full_resync(hq: HQ) -> None:
    response = hq.client.get("/v1/pull", params={"cursor": 10**9}, headers=hq.headers(hq.till1))
    assert response.status_code == 409
    assert "pull again from the start" in response.json()["detail"]


def test_ten_thousand_members_in_pages_of_the_largest_size(hq: HQ) -> None:
    add_members(hq.db, 10_000, hq.clock())
    pages = 0
    cursor = 0
    seen = 0
    while True:
        page = hq.pull(hq.till1, cursor, 5000)  # MAX_PULL
        pages += 1
        seen += len(topics(page["changes"], "member_snapshot"))
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == 10_000
    assert pages == 3
