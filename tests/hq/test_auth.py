"""Every call is authenticated; a till writes only for its own store."""

from __future__ import annotations

import itertools

from sqlalchemy import update

from pos_app.hq.models import Till
from tests.hq.conftest import HQ
from tests.hq.support import basket, nothing_written

FORGED: tuple[str | bytes | None, ...] = (
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer ptt_forgedforgedforgedforgedforgedforgedforg",
    "Bearer pta_" + "x" * 43,
    "Bearer " + "x" * 5000,
    "bearer ptt_",
    "Bearer ptt_\u00e9\u00e9".encode(),
)


def test_missing_or_forged_credentials_get_401_and_write_nothing(hq: HQ) -> None:
    till = hq.till("001", "01")
    _, registered = till.register("13812341234")
    with nothing_written(hq.db):
        for header, (method, url, body) in itertools.product(
            FORGED,
            (
                ("POST", "/v1/push", {"events": [registered]}),
                ("GET", "/v1/pull", None),
                ("POST", "/v1/holds", {"id": "h1", "member_id": "m1", "points": 100}),
                ("POST", "/v1/admin/stores", {"code": "009", "name": "x"}),
                ("GET", "/v1/me", None),
            ),
        ):
            headers = {"Authorization": header} if header is not None else {}
            response = hq.client.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (header, url, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["code"] == "unauthorized"


def test_a_till_cannot_write_for_another_store(hq: HQ) -> None:
    mine = hq.till("001", "01")
    member_id, registered = mine.register("13812341234")
    hq.push_ok(hq.till1, registered)
    other_store = hq.till("002", "01")
    other_store.know(member_id, 100)
    foreign_sale = other_store.sale(member_id, basket(100))
    own_sale = mine.sale(member_id, basket(50))
    with nothing_written(hq.db):
        # store 001's credential pushing store 002's sale: the whole batch is refused,
        # including the own-store event in front of it.
        response = hq.push(hq.till1, own_sale, foreign_sale)
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert "002" in response.json()["detail"]
        # a registration naming store 002
        _, foreign_member = other_store.register("13912345678")
        assert hq.push(hq.till1, foreign_member).status_code == 403
        # another till's id inside the right store
        sibling = hq.till("001", "02")
        sibling.know(member_id, 100)
        assert hq.push(hq.till1, sibling.sale(member_id, basket(10))).status_code == 403

    # store 002 refunding a store-001 sale
    hq.push_ok(hq.till1, own_sale)
    refund = mine.refund(own_sale["payload"]["sale"]["id"], {0: 1})
    with nothing_written(hq.db):
        assert hq.push(hq.till2, refund).status_code == 403


def test_roles_are_enforced(hq: HQ) -> None:
    till_headers = hq.headers(hq.till1)
    admin_headers = hq.headers(hq.admin)
    with nothing_written(hq.db):
        assert hq.client.get("/v1/admin/stores", headers=till_headers).status_code == 403
        assert (
            hq.client.post(
                "/v1/admin/stores", json={"code": "009", "name": "x"}, headers=till_headers
            ).status_code
            == 403
        )
        assert (
            hq.client.post(
                "/v1/admin/rule-sets", json={"document": {}}, headers=hq.headers(hq.mall)
            ).status_code
            == 403
        )
        assert (
            hq.client.post("/v1/push", json={"events": []}, headers=admin_headers).status_code
            == 403
        )
        # a channel pushes only on its own channel path, a till not at all
        body = {"events": [hq.till("001", "01").register("13812341234")[1]]}
        assert (
            hq.client.post(
                "/v1/channel/app/events", json=body, headers=hq.headers(hq.mall)
            ).status_code
            == 403
        )
        assert (
            hq.client.post("/v1/channel/mall/events", json=body, headers=till_headers).status_code
            == 403
        )
    assert hq.client.get("/v1/admin/stores", headers=admin_headers).status_code == 200

    # a revoked till is refused at once
    with hq.db.write() as s:
        s.execute(update(Till).where(Till.id == "001-01").values(active=False))
    assert hq.client.get("/v1/pull", headers=till_headers).status_code == 401


def test_me_tells_a_till_who_it_is_and_the_phone_key(hq: HQ) -> None:
    me = hq.client.get("/v1/me", headers=hq.headers(hq.till2)).json()
    assert (me["kind"], me["id"], me["store_id"], me["till_id"]) == ("till", "002-01", "002", "01")
    assert bytes.fromhex(me["phone_key"]) == hq.phone_key
    assert me["rule_set_version"] == "2026.11-default"
    assert me["event_kinds"] == [
        "adjustment",
        "audit",
        "expiry",
        "member_registered",
        "refund",
        "sale",
    ]
    assert hq.client.get("/v1/me", headers=hq.headers(hq.admin)).json()["phone_key"] is None
