"""Scoped pull at HQ: which members a region's tills hold, members entering a region
whole, coupons, channels, text cursors, the first-sync snapshot stream and look-ups."""

from __future__ import annotations

import gzip
import json
from typing import Any

from sqlalchemy import select

from pos_app.hq.cli import main
from pos_app.hq.models import MemberScope
from tests.hq.conftest import HQ
from tests.hq.support import basket


def scopes(hq: HQ) -> dict[str, tuple[str, ...]]:
    """Each member's scopes as ("region:reason", ...)."""
    with hq.db.read() as s:
        rows = s.execute(select(MemberScope.member_id, MemberScope.region, MemberScope.reason))
        out: dict[str, list[str]] = {}
        for member_id, region, reason in rows:
            out.setdefault(member_id, []).append(f"{region}:{reason}")
    return {m: tuple(sorted(v)) for m, v in out.items()}


def topics(changes: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [c["data"] for c in changes if c["topic"] == topic]


def lookup(hq: HQ, token: str, **key: Any) -> Any:
    return hq.client.get("/v1/members/lookup", params=key, headers=hq.headers(token))


def snapshot_lines(hq: HQ, token: str, after: str = "") -> list[Any]:
    """The decoded lines of GET /v1/snapshot, checking it travels gzip-compressed."""
    params = {"after": after} if after else {}
    with hq.client.stream(
        "GET", "/v1/snapshot", params=params, headers=hq.headers(token)
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"].startswith("application/x-ndjson")
        raw = b"".join(response.iter_raw())
    assert raw[:2] == b"\x1f\x8b"  # gzip, as sent
    return [json.loads(line) for line in gzip.decompress(raw).splitlines()]


def test_a_member_enters_the_scope_of_every_region_it_is_registered_or_seen_in(hq: HQ) -> None:
    a, a2, b = hq.till("001", "01"), hq.till("001", "02"), hq.till("002", "01")
    member_id, registered = a.register("13812341234")
    hq.push_ok(hq.till1, registered)
    assert scopes(hq) == {member_id: ("001:registered",)}
    a2.know(member_id, 100)
    hq.push_ok(hq.till1b, a2.sale(member_id, basket(50)))
    assert scopes(hq) == {member_id: ("001:registered",)}  # the same region: nothing new
    b.know(member_id, 100)
    hq.push_ok(hq.till2, b.sale(member_id, basket(50)))  # seen at store 002
    assert scopes(hq) == {member_id: ("001:registered", "002:seen")}
    other, reg_other = a.register("13912345678")
    hq.push_ok(hq.till1, reg_other)
    hold = {"id": "h-1", "member_id": other, "points": 50}
    response = hq.client.post("/v1/holds", json=hold, headers=hq.headers(hq.till2))
    assert response.status_code == 201
    assert scopes(hq)[other] == ("001:registered", "002:seen")  # a hold is a sighting


def test_hq_assigns_members_to_a_region_by_api_and_cli(hq: HQ, capsys: Any) -> None:
    till = hq.till("001", "01")
    first, reg_first = till.register("13812341234")
    second, reg_second = till.register("13912345678")
    hq.push_ok(hq.till1, reg_first, reg_second)
    admin = hq.headers(hq.admin)
    response = hq.client.post(
        "/v1/admin/regions/002/members", json={"member_ids": [first]}, headers=admin
    )
    assert response.json() == {"region": "002", "members": 1, "added": 1}
    response = hq.client.post(
        "/v1/admin/regions/002/members", json={"member_ids": [first, "nobody"]}, headers=admin
    )
    assert response.status_code == 404  # nothing assigned when one is unknown
    assert "nobody" in response.json()["detail"]
    response = hq.client.post(
        "/v1/admin/regions/nowhere/members", json={"member_ids": [first]}, headers=admin
    )
    assert response.status_code == 400
    assert main(["assign-members", "--db", hq.db.url, "--region", "002", first, second]) == 0
    assert json.loads(capsys.readouterr().out) == {"region": "002", "members": 2, "added": 1}
    assert scopes(hq)[second] == ("001:registered", "002:assigned")
    # a store created in an existing region shares its members
    assert (
        main(["create-store", "--db", hq.db.url, "003", "--name", "三号店", "--region", "002"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["region"] == "002"
    stores = hq.client.get("/v1/admin/stores", headers=admin).json()
    assert [(s["code"], s["region"]) for s in stores] == [
        ("001", "001"),
        ("002", "002"),
        ("003", "002"),
    ]


def test_a_member_entering_a_region_comes_whole_once_then_by_its_changes(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    member_id, registered = a.register("13812341234")
    hq.push_ok(hq.till1, registered, a.sale(member_id, basket(100)))
    coupon = {
        "id": "c-m",
        "code": "MINE",
        "member_id": member_id,
        "name": "专属券",
        "amount_off_fen": 500,
        "valid_from": "2026-11-01T00:00:00+08:00",
        "valid_to": "2026-12-01T00:00:00+08:00",
    }
    bearer = dict(coupon, id="c-b", code="ALL", member_id=None, name="通用券")
    response = hq.client.post(
        "/v1/admin/coupons", json={"coupons": [coupon, bearer]}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 201
    _, cursor_b = hq.pull_all(hq.till2)
    # b's region does not hold the member: its coupon stays away, the bearer one comes
    assert [c["code"] for c in topics(_, "coupon")] == ["ALL"]
    b.know(member_id, 600)
    hq.push_ok(hq.till2, b.sale(member_id, basket(20)))  # seen at 002: it enters 002
    changes, cursor_b = hq.pull_all(hq.till2, cursor_b)
    (whole,) = topics(changes, "member_snapshot")
    assert topics(changes, "entry") == []  # in the snapshot's balance
    assert topics(changes, "coupon") == []  # in the snapshot
    assert (whole["id"], whole["balance"]) == (member_id, 620)
    assert sorted(lot["remaining"] for lot in whole["lots"]) == [20, 100, 500]
    assert [c["code"] for c in whole["coupons"]] == ["MINE"]
    assert whole["as_of"] >= max(c["seq"] for c in changes)
    # from now on its changes, entry by entry: a's sale (not b's own)
    hq.push_ok(hq.till1, a.sale(member_id, basket(10)))
    changes, _ = hq.pull_all(hq.till2, cursor_b)
    assert [c["topic"] for c in changes] == ["member", "entry"]
    assert topics(changes, "member")[0]["balance"] == 630


def test_a_channel_pulls_the_whole_chain_as_rows_and_entries(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    first, reg_a = a.register("13812341234")
    second, reg_b = b.register("13912345678")
    hq.push_ok(hq.till1, reg_a)
    hq.push_ok(hq.till2, reg_b)
    changes, cursor = hq.pull_all(hq.mall)
    assert topics(changes, "member_snapshot") == []
    assert sorted(m["id"] for m in topics(changes, "member")) == sorted([first, second])
    assert len(topics(changes, "entry")) == 2
    assert cursor.startswith("v1:")


def test_cursors_are_text_and_a_bare_number_still_works(hq: HQ) -> None:
    till = hq.till("001", "01")
    hq.push_ok(hq.till1, till.register("13812341234")[1])
    page = hq.pull(hq.till1)
    assert page["cursor"] == "v1:0"
    assert page["next_cursor"] == f"v1:{page['up_to']}"
    number = page["up_to"]
    for cursor in (f"v1:{number}", str(number)):  # an older till stored a bare number
        again = hq.pull(hq.till1, cursor)
        assert (again["changes"], again["next_cursor"]) == ([], f"v1:{number}")
    for junk in ("v2:5", "abc", "v1:", "-1", "v1:1e3", "9" * 25):
        response = hq.client.get("/v1/pull", params={"cursor": junk}, headers=hq.headers(hq.till1))
        assert response.status_code in (400, 422), junk
        assert response.json()["detail"]


def test_the_snapshot_stream_holds_the_region_and_resumes_after_a_member(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    ids = []
    for n in range(5):
        member_id, registered = a.register(f"1381234000{n}")
        hq.push_ok(hq.till1, registered, a.sale(member_id, basket(10 + n)))
        ids.append(member_id)
    hq.push_ok(hq.till2, b.register("13912345678")[1])  # another region's
    products = {"products": [{"sku": "TEA", "name": "茶", "category": "food", "price_fen": 500}]}
    hq.client.put("/v1/admin/products", json=products, headers=hq.headers(hq.admin))
    lines = snapshot_lines(hq, hq.till1)
    header, *rest, end = lines
    assert header["type"] == "header"
    assert header["total"] == 5
    assert header["cursor"] == f"v1:{header['as_of']}"
    published = [line["type"] for line in rest if isinstance(line, dict)]
    assert published == ["rule_set", "product", "member_code_key"]
    members = [
        dict(zip(header["member_fields"], m, strict=True)) for m in rest if isinstance(m, list)
    ]
    assert [m["id"] for m in members] == sorted(ids)  # member-id order
    assert {m["as_of"] for m in members} == {header["as_of"]}
    assert all(m["balance"] == sum(lot[2] for lot in m["lots"]) for m in members)
    assert end == {"type": "end", "members": 5}
    # the stream was cut after the second member: go on after it, in a new snapshot
    hq.push_ok(hq.till1, a.sale(ids[0], basket(5)))
    second = snapshot_lines(hq, hq.till1, after=sorted(ids)[1])
    header2, *rest2, end2 = second
    assert [line for line in rest2 if isinstance(line, dict)] == []  # members only
    assert [m[0] for m in rest2] == sorted(ids)[2:]
    assert header2["as_of"] > header["as_of"]
    assert {m[header2["member_fields"].index("as_of")] for m in rest2} == {header2["as_of"]}
    assert end2 == {"type": "end", "members": 3}
    # a channel gets no snapshot
    response = hq.client.get("/v1/snapshot", headers=hq.headers(hq.mall))
    assert response.status_code == 403


def test_a_member_is_looked_up_by_phone_number_or_id_and_kept(hq: HQ) -> None:
    a = hq.till("001", "01")
    member_id, registered = a.register("13812341234")
    registered["payload"]["member"]["member_no"] = 9_001_000_777
    hq.push_ok(hq.till1, registered, a.sale(member_id, basket(100)))
    _, cursor = hq.pull_all(hq.till2)
    phone_hash = registered["payload"]["member"]["phone_hash"]
    for key in ({"phone_hash": phone_hash}, {"member_no": 9_001_000_777}, {"member_id": member_id}):
        response = lookup(hq, hq.till2, **key)
        assert response.status_code == 200, response.text
        found = response.json()
        assert (found["id"], found["balance"], found["member_no"]) == (
            member_id,
            600,
            9_001_000_777,
        )
        assert sorted(lot["remaining"] for lot in found["lots"]) == [100, 500]
    assert scopes(hq)[member_id] == ("001:registered", "002:fetched")
    # the member's changes reach store 002 from now on
    changes, _ = hq.pull_all(hq.till2, cursor)
    (whole,) = topics(changes, "member_snapshot")
    assert whole["as_of"] >= found["as_of"]
    assert lookup(hq, hq.till2, member_no=123).status_code == 404
    assert lookup(hq, hq.till2, member_no=123, member_id="x").status_code == 400
    assert lookup(hq, hq.till2).status_code == 400
    assert lookup(hq, hq.mall, member_id=member_id).status_code == 403


def test_a_provisional_member_is_merged_into_the_member_of_its_number(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    member_id, registered = a.register("13812341234")
    registered["payload"]["member"]["member_no"] = 9_001_000_555
    hq.push_ok(hq.till1, registered)
    # store 002 scanned the member's code while HQ was away: a sale for "no-<number>"
    b.know("no-9001000555", 0, first_purchase=False)
    sale = b.sale("no-9001000555", basket(100))
    (result,) = hq.push_ok(hq.till2, sale)
    assert result["result"]["member_id"] == member_id
    view = hq.member(member_id)
    assert view["balance"] == 100 + 100
    assert hq.member("no-9001000555")["id"] == member_id  # an alias of the member
    assert scopes(hq)[member_id] == ("001:registered", "002:seen")
    # a number nobody has: kept as a member of its own, for a person to look at
    b.know("no-9999999", 0)
    (result,) = hq.push_ok(hq.till2, b.sale("no-9999999", basket(10)))
    assert "unknown_member_number" in result["result"]["flags"]
    assert hq.flags("unknown_member_number")[0]["member_id"] == "no-9999999"
    assert hq.member("no-9999999")["balance"] == 10
