"""Push: each event applied once, in one transaction; retries get the first answer."""

from __future__ import annotations

import pytest

from tests.hq.conftest import HQ
from tests.hq.support import basket, nothing_written


def test_sale_with_points_is_applied_once_when_retried_three_times(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234", name="张三")
    sale = till.sale(member_id, basket(130))  # first purchase: 130 x 5 = 650 points
    first = hq.push_ok(hq.till1, registered, sale)
    assert first[1]["http_status"] == 201
    assert first[1]["replayed"] is False
    assert hq.member(member_id)["balance"] == 100 + 650

    for _ in range(3):
        with nothing_written(hq.db):
            again = hq.push_ok(hq.till1, registered, sale)
        assert [r["replayed"] for r in again] == [True, True]
        assert again[1]["result"] == first[1]["result"]
    view = hq.member(member_id)
    assert view["balance"] == view["ledger_sum"] == 750
    assert len(view["lots"]) == 2


def test_an_event_id_reused_with_another_payload_is_refused_and_writes_nothing(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(80))
    hq.push_ok(hq.till1, registered, sale)

    forged = till.sale(member_id, basket(999))
    forged["id"] = sale["id"]  # same event id, another sale
    with nothing_written(hq.db):
        (result,) = hq.push(hq.till1, forged).json()["results"]
    assert result["status"] == "conflict"
    assert result["http_status"] == 409
    assert "different payload" in result["error"]

    # The same sale id under a new event id is refused too (a sale is recorded once).
    resent = dict(sale, id="e" * 32)
    with nothing_written(hq.db):
        (result,) = hq.push(hq.till1, resent).json()["results"]
    assert (result["status"], result["http_status"]) == ("conflict", 409)

    # An entry id reused by another event is a conflict for that event only.
    other = till.sale(member_id, basket(60))
    other["payload"]["entries"][0]["id"] = sale["payload"]["entries"][0]["id"]
    fine = till.sale(member_id, basket(70))
    results = hq.push(hq.till1, other, fine).json()["results"]
    assert [r["status"] for r in results] == ["conflict", "applied"]
    assert hq.member(member_id)["balance"] == 100 + 400 + 70


def test_the_payload_may_be_the_outbox_json_text(hq: HQ) -> None:
    import json

    till = hq.till("001", "01")
    _member_id, registered = till.register("13812341234")
    as_text = dict(registered, payload=json.dumps(registered["payload"], sort_keys=True))
    hq.push_ok(hq.till1, as_text)
    # the text and the object are the same payload: a retry either way is a replay
    (again,) = hq.push_ok(hq.till1, registered)
    assert again["replayed"] is True
    bad = dict(registered, id="b" * 32, payload="{not json")
    (result,) = hq.push(hq.till1, bad).json()["results"]
    assert (result["status"], result["http_status"]) == ("invalid", 422)


def test_events_that_depend_on_missing_ones_are_retried_later(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(100))
    refund = till.refund(sale["payload"]["sale"]["id"], {0: 1})
    # reordered: the refund and the sale arrive before the registration
    with nothing_written(hq.db):
        results = hq.push(hq.till1, refund, sale).json()["results"]
    assert [(r["status"], r["http_status"]) for r in results] == [
        ("retry_later", 424),
        ("retry_later", 424),
    ]
    results = hq.push_ok(hq.till1, registered, sale, refund)
    assert results[2]["result"]["balance"] == 100  # the refund took back the 500 earned
    assert hq.member(member_id)["balance"] == till.members[member_id].balance == 100


def test_a_refund_is_never_refunded_twice(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(100))
    sale_id = sale["payload"]["sale"]["id"]
    first = till.refund(sale_id, {0: 1})
    hq.push_ok(hq.till1, registered, sale, first)
    till.sales[sale_id]["done"] = {}  # a till that forgot it refunded
    second = till.refund(sale_id, {0: 1})
    with nothing_written(hq.db):
        (result,) = hq.push(hq.till1, second).json()["results"]
    assert (result["status"], result["http_status"]) == ("conflict", 409)
    assert "never refunded twice" in result["error"]


def test_hq_requotes_the_sale_and_flags_what_the_till_got_wrong(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    honest = till.sale(member_id, basket(100))
    greedy = till.sale(member_id, basket(100), earn_override=5000)  # HQ computes 100
    results = hq.push_ok(hq.till1, registered, honest, greedy)
    assert results[1]["result"]["verified"] is True
    assert results[1]["result"]["flags"] == []
    assert results[2]["result"]["verified"] is False
    assert results[2]["result"]["flags"] == ["requote_mismatch"]
    (flag,) = hq.flags("requote_mismatch")
    assert flag["detail"]["points_earned"] == {"till": 5000, "hq": 100}
    # recorded as the till did it (the till's ledger and HQ's stay the same), for review
    assert hq.member(member_id)["balance"] == 100 + 500 + 5000


def test_inconsistent_sales_are_rejected_with_a_reason(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered)
    sale = till.sale(member_id, basket(100))
    sale["payload"]["sale"]["points_earned"] += 1  # entries no longer add up
    with nothing_written(hq.db):
        (result,) = hq.push(hq.till1, sale).json()["results"]
    assert (result["status"], result["http_status"]) == ("rejected", 400)
    assert "points_earned" in result["error"]


def test_a_clock_far_from_hq_is_flagged_once(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    ahead = (hq.clock() + __import__("datetime").timedelta(minutes=20)).isoformat()
    response = hq.push(hq.till1, registered, sent_at=ahead)
    assert response.status_code == 200
    response = hq.push(hq.till1, till.sale(member_id, basket(10)), sent_at=ahead)
    (flag,) = hq.flags("clock_skew")
    assert flag["principal"] == "till:001-01"
    assert flag["detail"]["seconds"] == 1200
    on_time = hq.push(hq.till1, till.sale(member_id, basket(10)), sent_at=hq.clock().isoformat())
    assert on_time.status_code == 200
    assert len(hq.flags("clock_skew")) == 1


def test_concurrent_retries_apply_once_and_concurrent_sales_lose_nothing(hq: HQ) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pos_app.hq import push as pushing
    from pos_app.hq.config import HQSettings
    from pos_app.hq.schemas import PushRequest
    from pos_app.hq.security import Principal

    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered, till.sale(member_id, basket(10)))  # no longer a first purchase
    sale = till.sale(member_id, basket(100))
    others = [till.sale(member_id, basket(20 + i)) for i in range(6)]
    who = Principal("till", "001-01", "001", "01")
    settings = HQSettings(clock=hq.clock)

    def push(*events: dict[str, object]) -> list[object]:
        response = pushing.push(
            hq.db, who, PushRequest.model_validate({"events": events}), settings
        )
        return [(r.status, r.replayed) for r in response.results]

    with ThreadPoolExecutor(max_workers=6) as pool:
        same = list(pool.map(lambda _: push(sale), range(6)))
        different = list(pool.map(push, others))
    assert sorted(same) == [[("applied", False)]] + [[("applied", True)]] * 5
    assert different == [[("applied", False)]] * 6
    assert hq.member(member_id)["balance"] == 100 + 50 + 100 + sum(20 + i for i in range(6))


def test_a_batch_cut_short_by_a_crash_writes_nothing_and_the_resend_applies_it(
    hq: HQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pos_app.hq import events

    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    batch = [registered, till.sale(member_id, basket(100)), till.sale(member_id, basket(30))]
    real_apply = events.apply
    calls = {"n": 0}

    def dies_on_the_second(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("HQ killed mid-batch")
        return real_apply(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("pos_app.hq.push.apply", dies_on_the_second)
    with pytest.raises(RuntimeError, match="killed"), nothing_written(hq.db):
        hq.push(hq.till1, *batch)  # one transaction per request: all or nothing
    monkeypatch.setattr("pos_app.hq.push.apply", real_apply)  # HQ restarted
    results = hq.push_ok(hq.till1, *batch)  # the till never got an answer: resends it all
    assert [r["replayed"] for r in results] == [False, False, False]
    assert hq.member(member_id)["balance"] == 100 + 500 + 30
