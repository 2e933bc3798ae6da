"""The same phone registered at two stores offline: merged at HQ, told to every till."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.hq.conftest import HQ
from tests.hq.support import basket


def own_entries(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for ev in events for e in ev["payload"].get("entries", [])]


class TillView:
    """Per-member balances a till computes from its own entries (all pushed) plus what
    it pulled: a member snapshot sets the member to HQ's balance at its ``as_of``, and
    only entries numbered after that move it."""

    def __init__(self) -> None:
        self.sums: Counter[str] = Counter()
        self.as_of: dict[str, int] = {}

    def own(self, *events: dict[str, Any]) -> TillView:
        for e in own_entries(*events):
            self.sums[e["member_id"]] += e["points"]
        return self

    def pulled(self, changes: list[dict[str, Any]]) -> dict[str, int]:
        for change in changes:
            data = change["data"]
            if change["topic"] == "member_snapshot":
                self.sums[data["id"]] = data["balance"]
                self.as_of[data["id"]] = data["as_of"]
            elif change["topic"] == "entry" and change["seq"] > self.as_of.get(
                data["member_id"], -1
            ):
                self.sums[data["member_id"]] += data["points"]
        return dict(self.sums)


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

    # every till holding them is told: store 001 holds the kept member, store 002 (which
    # registered the alias) both; replaying its own entries plus what it pulled, each
    # gets HQ's balance for the kept member and zero for the alias
    pulled_a, cursor_a = hq.pull_all(hq.till1)
    pulled_b, cursor_b = hq.pull_all(hq.till2)
    for pulled, expected in ((pulled_a, {first}), (pulled_b, {first, second})):
        members = {c["data"]["id"]: c["data"] for c in pulled if c["topic"] == "member_snapshot"}
        assert members.keys() == expected
        assert members[first]["alias_of"] is None
        assert members[first]["balance"] == 600
    assert {
        c["data"]["id"]: c["data"]["alias_of"] for c in pulled_b if c["topic"] == "member_snapshot"
    }[second] == first
    view_a, view_b = TillView().own(reg_a), TillView().own(reg_b, sale_b)
    assert view_a.pulled(pulled_a) == {first: 600}
    assert view_b.pulled(pulled_b) == {first: 600, second: 0}

    # store 002 still uses the alias until it has pulled: HQ applies it to the member
    b.know(second, 500)
    later = b.sale(second, basket(50))
    hq.push_ok(hq.till2, later)
    assert hq.member(first)["balance"] == 650
    more_a, _ = hq.pull_all(hq.till1, cursor_a)
    more_b, _ = hq.pull_all(hq.till2, cursor_b)
    assert view_a.pulled(more_a) == {first: 650}
    assert view_b.own(later).pulled(more_b) == {first: 650, second: 0}


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
