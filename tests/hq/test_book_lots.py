"""The Book reads a member's stored lots even after a credit opened one first."""

from __future__ import annotations

from pos_app.hq.book import Book, Origin
from tests.hq.conftest import HQ
from tests.hq.support import ledger_problems


def test_a_debit_after_a_credit_in_one_book_takes_the_stored_lots(hq: HQ) -> None:
    # a merge moves an alias's debt to the kept member after other entries of the same
    # batch credited it, so the Book had not read the kept member's stored lots yet
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered)  # a stored lot of 100 points
    now = hq.clock.now
    origin = Origin("hq", None, None, None, now)
    with hq.db.write() as session:
        book = Book(session, now)
        rules = book.active_rules()
        member = book.member(member_id)
        assert member is not None
        book.post(
            rules,
            member,
            entry_id="c1",
            kind="adjust",
            points=30,
            created_at=now,
            origin=origin,
            reason="credit",
        )
        book.post(
            rules,
            member,
            entry_id="d1",
            kind="adjust",
            points=-30,
            created_at=now,
            origin=origin,
            reason="debit",
        )
        book.post(
            rules,
            member,
            entry_id="d2",
            kind="adjust",
            points=-50,
            created_at=now,
            origin=origin,
            reason="debit beyond the new lot",
        )
        book.flush()
    assert hq.member(member_id)["balance"] == 50
    assert ledger_problems(hq.db) == []
