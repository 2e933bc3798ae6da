"""Push as a batch: one transaction per request, a bounded number of SQL round trips
whatever its size, a bad event refused alone, and ids that can never be reused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from pos_app.hq import book as book_module
from pos_app.hq.cli import main as hq_main
from pos_app.hq.database import HQDatabase
from tests.hq.conftest import HQ
from tests.hq.support import FakeTill, basket, nothing_written


@contextmanager
def round_trips(db: HQDatabase) -> Iterator[dict[str, int]]:
    """Count the SQL statements sent to the server (SQLAlchemy's and the book's COPY and
    bulk UPDATE, which go through the driver's connection)."""
    counts = {"sql": 0, "bulk": 0}

    def counted(*_args: Any, **_kw: Any) -> None:
        counts["sql"] += 1

    real_copy = book_module.Book._copy
    real_unnest = book_module.Book._update_unnest

    def copy(self: Any, *args: Any) -> None:
        counts["bulk"] += 1
        real_copy(self, *args)

    def unnest(self: Any, *args: Any) -> None:
        counts["bulk"] += 1
        real_unnest(self, *args)

    event.listen(db.engine, "before_cursor_execute", counted)
    book_module.Book._copy = copy  # type: ignore[method-assign]
    book_module.Book._update_unnest = unnest  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
        book_module.Book._copy = real_copy  # type: ignore[method-assign]
        book_module.Book._update_unnest = real_unnest  # type: ignore[method-assign]


def _sales(till: FakeTill, member_ids: list[str], count: int) -> list[dict[str, Any]]:
    return [
        till.sale(member_ids[i % len(member_ids)], basket(20 + i % 50, sku=f"SKU{i % 7}"))
        for i in range(count)
    ]


def test_round_trips_of_a_batch_do_not_grow_with_its_size(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_ids = hq.register_members(till, 60, "1391234")
    hq.clock.advance(hours=1)
    with round_trips(hq.db) as small:
        hq.push_ok(hq.till1, *_sales(till, member_ids, 20))
    with round_trips(hq.db) as large:
        hq.push_ok(hq.till1, *_sales(till, member_ids, 400))
    # authentication, the counter lock, the clock row, idempotency, prefetch (members,
    # aliases, entries, sales, lots, purchases, window figures), one COPY per table,
    # the member update, the counter, commit: the same for 20 events as for 400.
    assert large["sql"] + large["bulk"] <= small["sql"] + small["bulk"] + 2
    assert large["sql"] <= 20, large  # 16 measured
    assert large["bulk"] <= 9, large  # 8 measured


def test_a_bad_event_in_a_batch_is_refused_alone_and_the_rest_apply(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    unknown = till.sale("f" * 32, basket(10))  # a member HQ has never heard of
    first = till.sale(member_id, basket(100))  # first purchase: 5x
    lying = till.sale(member_id, basket(10))
    lying["payload"]["sale"]["points_earned"] += 1  # the entries do not add up
    second = till.sale(member_id, basket(30))
    results = hq.push(hq.till1, registered, unknown, first, lying, second).json()["results"]
    assert [r["status"] for r in results] == [
        "applied",
        "retry_later",
        "applied",
        "rejected",
        "applied",
    ]
    view = hq.member(member_id)
    assert view["balance"] == view["ledger_sum"] == 100 + 500 + 30
    # the refused ones left nothing behind: their resend is judged afresh
    (again,) = hq.push(hq.till1, lying).json()["results"]
    assert again["status"] == "rejected"
    assert not again["replayed"]


def test_an_entry_id_recorded_for_another_sale_is_a_conflict_and_writes_nothing(
    hq: HQ,
) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered, till.sale(member_id, basket(10)))
    old = till.sale(member_id, basket(50))
    hq.push_ok(hq.till1, old)
    # a new sale whose earn entry reuses the old sale's entry id, same member, kind and
    # points: today's HQ stored the sale without its entry and answered "applied"
    new = till.sale(member_id, basket(50))
    new["payload"]["entries"][0]["id"] = old["payload"]["entries"][0]["id"]
    with nothing_written(hq.db):
        (result,) = hq.push(hq.till1, new).json()["results"]
    assert (result["status"], result["http_status"]) == ("conflict", 409)
    assert "already recorded" in result["error"]
    assert hq.member(member_id)["balance"] == 100 + 50 + 50


def test_an_entry_id_is_its_members_own_and_audit_verify_names_one_under_two(
    hq: HQ, capsys: pytest.CaptureFixture[str]
) -> None:
    """HQ looks an entry id up in the ledger of the member the event names (the key is
    member id + entry id, one partition: HQ migration 0080). The same id under another
    member is not that member's movement: it is recorded, and ``pos-hq audit verify``
    names it."""
    till = hq.till("001", "01")
    first, registered = till.register("13812341234")
    second, registered_too = till.register("13912341234")
    old = till.sale(first, basket(50))
    hq.push_ok(hq.till1, registered, registered_too, old)
    assert hq_main(["audit", "verify", "--db", hq.db.url]) == 0
    capsys.readouterr()
    # inside one batch the book has seen the id: still a conflict
    other = till.sale(second, basket(30))
    other["payload"]["entries"][0]["id"] = old["payload"]["entries"][0]["id"]
    fresh = till.sale(first, basket(40))
    again = till.sale(second, basket(20))
    again["payload"]["entries"][0]["id"] = fresh["payload"]["entries"][0]["id"]
    results = hq.push(hq.till1, fresh, again).json()["results"]
    assert [r["status"] for r in results] == ["applied", "conflict"]
    # in another push, under another member: that member's own entry
    before = hq.member(second)["balance"]
    hq.push_ok(hq.till1, other)
    moved = sum(e["points"] for e in other["payload"]["entries"])
    assert moved > 0
    assert hq.member(second)["balance"] == before + moved
    assert hq_main(["audit", "verify", "--db", hq.db.url]) == 1
    assert "BROKEN: 1 ledger entry ids recorded under two members" in capsys.readouterr().out


def test_ids_repeated_inside_one_batch(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(100))
    twin = till.sale(member_id, basket(100), sale_id=sale["payload"]["sale"]["id"])
    results = hq.push(hq.till1, registered, sale, sale, twin).json()["results"]
    assert [(r["status"], r["replayed"]) for r in results] == [
        ("applied", False),
        ("applied", False),
        ("applied", True),  # the same event twice: the first answer again
        ("conflict", False),  # the same sale id under another event
    ]
    assert results[2]["result"] == results[1]["result"]
    assert hq.member(member_id)["balance"] == 100 + 500


def test_what_the_checks_miss_the_database_refuses_for_that_event_only(hq: HQ) -> None:
    """A sale line id already used by another sale is caught by the primary key when the
    batch is written: the request is applied again event by event, each in a savepoint,
    and only that sale is refused."""
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    first = till.sale(member_id, basket(100))
    hq.push_ok(hq.till1, registered, first)
    before = till.sale(member_id, basket(20))
    clash = till.sale(member_id, basket(30))
    clash["payload"]["lines"][0]["id"] = first["payload"]["lines"][0]["id"]
    after = till.sale(member_id, basket(40))
    results = hq.push(hq.till1, before, clash, after).json()["results"]
    assert [r["status"] for r in results] == ["applied", "conflict", "applied"]
    assert "already used" in results[1]["error"]
    view = hq.member(member_id)
    assert view["balance"] == view["ledger_sum"] == 100 + 500 + 20 + 40


def test_a_refund_of_a_sale_in_the_same_batch_and_later_sales_see_it(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(100, sku="A"))
    refund = till.refund(sale["payload"]["sale"]["id"], {0: 1})
    later = till.sale(member_id, basket(50))
    results = hq.push_ok(hq.till1, registered, sale, refund, later)
    assert results[2]["result"]["balance"] == 100
    view = hq.member(member_id)
    assert view["balance"] == view["ledger_sum"] == till.members[member_id].balance


@pytest.mark.parametrize("size", [1, 499])
def test_registrations_and_sales_in_big_and_small_batches_match_one_by_one(
    hq: HQ, size: int
) -> None:
    till = hq.till("001", "01")
    member_ids = hq.register_members(till, 25, "1391234")
    events = _sales(till, member_ids, 150)
    for i in range(0, len(events), size):
        hq.push_ok(hq.till1, *events[i : i + size])
    for member_id in member_ids:
        view = hq.member(member_id)
        assert view["balance"] == view["ledger_sum"] == till.members[member_id].balance


def test_pushes_waiting_for_the_writer_share_one_transaction_and_keep_their_answers(
    hq: HQ,
) -> None:
    """Tills push one sale at a time: requests that queue behind a busy writer are
    applied together (one lock, one bulk write, one commit), each answered alone."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from pos_app.hq import push as pushing
    from pos_app.hq.config import HQSettings
    from pos_app.hq.schemas import PushRequest
    from pos_app.hq.security import Principal

    till = hq.till("001", "01")
    member_ids = hq.register_members(till, 12, "1391234")
    requests = [[s] for s in _sales(till, member_ids, 20)]
    lying = till.sale(member_ids[0], basket(10))
    lying["payload"]["sale"]["points_earned"] += 1
    requests.append([lying, till.sale(member_ids[1], basket(40))])  # one refused, one applied
    requests.append([requests[0][0]])  # the first request's sale again: a replay
    who = Principal("till", "001-01", "001", "01")
    settings = HQSettings(clock=hq.clock)
    committer = pushing.committer_of(hq.db)
    with committer._ready:  # every writer is busy: everyone queues
        committer._running = committer.writers
    before = (committer.groups, committer.jobs)

    def push(events: list[dict[str, object]]) -> list[tuple[str, bool]]:
        response = pushing.push(
            hq.db, who, PushRequest.model_validate({"events": events}), settings
        )
        return [(r.status, r.replayed) for r in response.results]

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(push, events) for events in requests[:-1]]
        deadline = time.monotonic() + 10
        while len(committer._queue) < len(requests) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with committer._ready:
            committer._running = 0
            committer._ready.notify_all()
        answers = [f.result() for f in futures]
    assert (committer.groups - before[0], committer.jobs - before[1]) == (1, len(requests) - 1)
    assert answers[:20] == [[("applied", False)]] * 20
    assert answers[20] == [("rejected", False), ("applied", False)]
    assert push(requests[-1]) == [("applied", True)]
    for member_id in member_ids:
        view = hq.member(member_id)
        assert view["balance"] == view["ledger_sum"]
