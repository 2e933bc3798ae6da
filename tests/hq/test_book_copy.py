"""The book's bulk write: ``COPY`` in PostgreSQL's binary format, each column as its type."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from pos_app.hq.book import SALE_LINES, Book
from tests.hq.conftest import HQ
from tests.hq.support import basket


def test_a_pushed_sale_is_stored_with_json_objects_and_exact_times(hq: HQ) -> None:
    till = hq.till("001", "01")
    (mid,) = hq.register_members(till, 1, "1380013")
    sale = till.sale(mid, basket(80))
    hq.push_ok(hq.till1, sale)
    sent = sale["payload"]
    sale_id = sent["sale"]["id"]
    with hq.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT jsonb_typeof(tenders), jsonb_typeof(hq_quote), hq_quote->>'agrees',"
                " created_at, total_fen FROM sales WHERE id = :s"
            ),
            {"s": sale_id},
        ).one()
        answer = conn.execute(
            text(
                "SELECT jsonb_typeof(response), response->>'status' FROM idempotency_records"
                " WHERE key = :k"
            ),
            {"k": sale["id"]},
        ).one()
        lines = conn.execute(
            text(
                "SELECT line_no, quantity, unit_price_fen FROM sale_lines WHERE sale_id = :s"
                " ORDER BY line_no"
            ),
            {"s": sale_id},
        ).all()
    assert row[:3] == ("array", "object", "true")  # objects, not JSON text in a string
    assert row[3] == dt.datetime.fromisoformat(sent["sale"]["created_at"])
    assert row[4] == sent["sale"]["total_fen"]
    assert answer == ("object", "applied")
    assert [tuple(line) for line in lines] == [
        (ln["line_no"], ln["quantity"], ln["unit_price_fen"]) for ln in sent["lines"]
    ]


def test_an_integer_beyond_its_column_is_refused_not_wrapped(hq: HQ) -> None:
    """The binary format sends an ``integer`` in 4 bytes: a larger value is refused as
    the server refuses it in text (the push then applies its events one by one), never
    stored cut to 4 bytes."""
    line = {
        "id": "line-big",
        "sale_id": "sale-big",
        "line_no": 1,
        "sku": "SKU1",
        "category": "food",
        "quantity": 2**40,
        "unit_price_fen": 100,
        "line_discount_fen": 0,
        "is_reward": False,
        "cash_fen": 100,
        "points_used": 0,
        "points_value_fen": 0,
        "earn_points": 0,
    }

    def write(quantity: int) -> None:
        with hq.db.write() as session:
            book = Book(session, hq.clock.now)
            book.insert(SALE_LINES, line | {"quantity": quantity})
            book.flush()

    with pytest.raises(DataError, match="out of range for column quantity"):
        write(2**40)
    write(2**31 - 1)  # the largest that fits goes in
    with hq.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT quantity FROM sale_lines WHERE id = 'line-big'"))
        assert stored.scalars().all() == [2**31 - 1]
