"""The same phone registered at two stores offline: merged at HQ, told to every till."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.hq.conftest import HQ
from tests.hq.support import basket


def own_entries(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for ev in events for e in ev["payload"].get("entries", [])]


def replayed(own: list[dict[str, Any]], pulled: list[dict[str, Any]]) -> dict[str, int]:
    """Per-member balances a till computes from its own entries plus the pulled ones."""
    sums: Counter[str] = Counter()
    for e in own:
        sums[e["member_id"]] += e["points"]
    for change in pulled:
        if change["topic"] == "entry":
            sums[change["data"]["member_ref"]] += change["data"]["points"]
    return dict(sums)


def test_a_phone_registered_at_two_stores_is_merged_and_every_till_converges(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    first, reg_a = a.register("13812341234", name="张三")
    second, reg_b = b.register("138 1234 1234")  # the same number, typed differently
    sale_b = b.sale(second, basket(100))  # a first purchase at store 002: 500 points
    hq.clock.advance(minutes=5)
    hq.push_ok(hq.till1, reg_a)
    hq.clock.advance(minutes=5)
    results = hq.push_ok(hq.till2, reg_b, sale_b)
    assert results[0]["result"] == {
        "member_id": second,
        "canonical_id": first,  # the earlier at HQ is kept; the later becomes its alias
        "merged": True,
        "balance": 100,  # the duplicate registration bonus is taken back
    }
    assert results[1]["result"]["member_id"] == first
    kept = hq.member(first)
    assert kept["aliases"] == [second]
    assert kept["balance"] == 100 + 500
    assert kept["name"] == "张三"
    alias = hq.member(second)  # an alias id resolves to the member it was merged into
    assert alias["id"] == first
    (flag,) = hq.flags("merge")
    assert flag["detail"]["kept"] == first
    assert flag["detail"]["alias"] == second
    assert flag["detail"]["duplicate_registration_bonus"] == 100

    # every till is told, and replaying its own entries plus the pulled ones it gets
    # HQ's balance for the kept member and zero for the alias
    pulled_a, cursor_a = hq.pull_all(hq.till1)
    pulled_b, cursor_b = hq.pull_all(hq.till2)
    for pulled in (pulled_a, pulled_b):
        members = {c["data"]["id"]: c["data"] for c in pulled if c["topic"] == "member"}
        assert members[second]["alias_of"] == first
        assert members[first]["alias_of"] is None
        assert members[first]["balance"] == 600
        ids = [c["data"]["id"] for c in pulled if c["topic"] == "member"]
        assert ids.index(first) < ids.index(second)  # canonical before its alias
    assert replayed(own_entries(reg_a), pulled_a) == {first: 600, second: 0}
    assert replayed(own_entries(reg_b, sale_b), pulled_b) == {first: 600, second: 0}

    # store 002 still uses the alias until it has pulled: HQ applies it to the member
    b.know(second, 500)
    later = b.sale(second, basket(50))
    hq.push_ok(hq.till2, later)
    assert hq.member(first)["balance"] == 650
    more_a, _ = hq.pull_all(hq.till1, cursor_a)
    more_b, _ = hq.pull_all(hq.till2, cursor_b)
    assert replayed(own_entries(reg_a), pulled_a + more_a) == {first: 650, second: 0}
    assert replayed(own_entries(reg_b, sale_b, later), pulled_b + more_b) == {first: 650, second: 0}


def test_a_hold_on_an_alias_reserves_the_merged_balance(hq: HQ) -> None:
    a, b = hq.till("001", "01"), hq.till("002", "01")
    first, reg_a = a.register("13812341234")
    second, reg_b = b.register("13812341234")
    hq.push_ok(hq.till1, reg_a)
    hq.push_ok(hq.till2, reg_b)
    response = hq.client.post(
        "/v1/holds",
        json={"id": "h1", "member_id": second, "points": 100},
        headers=hq.headers(hq.till2),
    )
    assert response.status_code == 201
    assert response.json()["member_id"] == first
    assert response.json()["available"] == 0


def test_registering_the_same_member_id_twice_is_harmless(hq: HQ) -> None:
    a = hq.till("001", "01")
    member_id, registered = a.register("13812341234")
    hq.push_ok(hq.till1, registered)
    again = dict(registered, id="f" * 32)  # re-queued under a new event id
    (result,) = hq.push_ok(hq.till1, again)
    assert result["result"]["merged"] is False
    assert hq.member(member_id)["balance"] == 100
    other_phone = a.register("13912345678", member_id=member_id)[1]
    (result,) = hq.push(hq.till1, other_phone).json()["results"]
    assert result["status"] == "conflict"
