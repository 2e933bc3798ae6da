"""Consent (PIPL) at HQ: stated at a till's registration or through the member app,
withdrawn at once, every statement kept; addresses sealed, never readable in the
database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.hq.conftest import HQ


def consent(
    marketing: bool, *channels: str, at: str, notify_earned: bool = False
) -> dict[str, Any]:
    return {
        "marketing": marketing,
        "channels": list(channels),
        "notify_earned": notify_earned,
        "stated_at": at,
    }


def registered_with(hq: HQ, phone: str, choice: dict[str, Any] | None) -> str:
    till = hq.till("001", "01")
    member_id, registered = till.register(phone)
    if choice is not None:
        registered["payload"]["consent"] = choice
    hq.push_ok(hq.till1, registered)
    return member_id


def app_consent(hq: HQ, member_id: str) -> dict[str, Any]:
    response = hq.client.get(
        f"/v1/channel/mall/members/{member_id}/consent", headers=hq.headers(hq.mall)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_till_registration_records_the_consent_with_time_and_source(hq: HQ) -> None:
    at = hq.clock().isoformat()
    member_id = registered_with(hq, "13811112222", consent(True, "sms", "email", at=at))
    state = app_consent(hq, member_id)["consent"]
    assert state["marketing"] is True
    assert state["channels"] == ["email", "sms"]
    assert state["source"] == "till:001-01"
    assert state["stated_at"].startswith("2026-11-17T02:00:00")
    # no consent stated at the till: none recorded, nothing will be sent
    other = registered_with(hq, "13811113333", None)
    assert app_consent(hq, other)["consent"] is None


def test_withdrawal_through_the_app_is_in_force_at_once_and_kept(hq: HQ) -> None:
    at = hq.clock().isoformat()
    member_id = registered_with(hq, "13822223333", consent(True, "sms", at=at))
    hq.clock.advance(days=1)
    body = {"id": "w-1", **consent(False, at=hq.clock().isoformat())}
    url = f"/v1/channel/mall/members/{member_id}/consent"
    for _ in range(2):  # the app retries: the same statement, once
        response = hq.client.put(url, json=body, headers=hq.headers(hq.mall))
        assert response.status_code == 200, response.text
        assert response.json()["marketing"] is False
        assert response.json()["channels"] == []
    # an older statement arriving late does not undo the withdrawal
    late = {"id": "late", **consent(True, "sms", at=at)}
    assert hq.client.put(url, json=late, headers=hq.headers(hq.mall)).json()["channels"] == []
    with hq.db.engine.connect() as conn:
        records = conn.execute(
            text(
                "SELECT id, marketing, channels, source FROM consent_records "
                "WHERE member_id = :m ORDER BY stated_at, id"
            ),
            {"m": member_id},
        ).all()
    assert [(r.marketing, r.channels, r.source) for r in records] == [
        (True, "sms", "till:001-01"),
        (True, "sms", "channel:mall"),
        (False, "", "channel:mall"),
    ]
    with pytest.raises(Exception, match="immutable"), hq.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM consent_records"))


def test_bad_consent_and_another_channels_path_are_refused(hq: HQ) -> None:
    member_id = registered_with(hq, "13833334444", None)
    url = f"/v1/channel/mall/members/{member_id}/consent"
    bad = {"id": "x", **consent(True, "fax", at=hq.clock().isoformat())}
    assert hq.client.put(url, json=bad, headers=hq.headers(hq.mall)).status_code == 422
    naive = {"id": "x", **consent(True, "sms", at="2026-11-17T10:00:00")}
    assert hq.client.put(url, json=naive, headers=hq.headers(hq.mall)).status_code == 422
    other = f"/v1/channel/app/members/{member_id}/consent"
    good = {"id": "x", **consent(True, "sms", at=hq.clock().isoformat())}
    assert hq.client.put(other, json=good, headers=hq.headers(hq.mall)).status_code == 403
    assert hq.client.put(url, json=good, headers=hq.headers(hq.till1)).status_code == 403
    unknown = "/v1/channel/mall/members/nobody/consent"
    assert hq.client.put(unknown, json=good, headers=hq.headers(hq.mall)).status_code == 404
    assert app_consent(hq, member_id)["consent"] is None


def test_contacts_are_sealed_and_shown_masked(hq: HQ) -> None:
    member_id = registered_with(hq, "13844445555", None)
    url = f"/v1/channel/mall/members/{member_id}/contacts"
    body = {
        "sms": "138 4444 5555",
        "email": "zhang.san@example.com",
        "wechat": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    }
    response = hq.client.put(url, json=body, headers=hq.headers(hq.mall))
    assert response.status_code == 200, response.text
    assert response.json()["contacts"] == {
        "sms": "138****5555",
        "email": "z***@example.com",
        "wechat": "oUpF***6o",
    }
    with hq.db.engine.connect() as conn:
        dump = " ".join(
            str(row) for row in conn.execute(text("SELECT * FROM member_contacts")).all()
        )
    assert "13844445555" not in dump
    assert "zhang.san" not in dump
    assert "AJO_M2" not in dump
    # a bad address writes nothing, not even the good ones beside it
    bad = {"sms": "12345", "email": "li@example.com"}
    assert hq.client.put(url, json=bad, headers=hq.headers(hq.mall)).status_code == 400
    assert app_consent(hq, member_id)["contacts"]["email"] == "z***@example.com"
    # null forgets an address
    response = hq.client.put(url, json={"wechat": None}, headers=hq.headers(hq.mall))
    assert set(response.json()["contacts"]) == {"sms", "email"}
