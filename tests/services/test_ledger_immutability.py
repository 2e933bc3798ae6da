"""The database itself refuses to change or delete ledger history."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from pos_app.services import auth, members, refunds
from pos_app.services.context import open_till
from pos_app.store.encryption import driver
from pos_app.store.models import IMMUTABLE_TABLES, LedgerEntry
from pos_app.store.types import new_id
from tests.services.conftest import SHANGHAI, Clock
from tests.services.support import (
    BASKET,
    MANAGER_PIN,
    add_coupon,
    give_points,
    nothing_written,
    sell,
    table_names,
)

# Every immutable table and a column an UPDATE might try to change.
TARGETS = {
    "ledger_entries": "points",
    "lot_moves": "points",
    "sales": "total_fen",
    "sale_lines": "quantity",
    "tenders": "amount_fen",
    "refunds": "cash_refund_fen",
    "refund_lines": "quantity",
    "coupon_uses": "sale_id",
    "audit_log": "detail",
}


@pytest.fixture(scope="module")
def till(till_template, tmp_path_factory):
    """One till with at least one row in every immutable table, shared by the module:
    every test here only makes attempts the database refuses (and checks that)."""
    path = tmp_path_factory.mktemp("immutable") / "till.sqlite"
    shutil.copyfile(till_template, path)
    clock = Clock(dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI))
    ctx = open_till(path, clock=clock, online=lambda: True)
    users = {u.role: u for u in auth.list_users(ctx)}
    cashier, manager = users["cashier"], users["manager"]
    member = members.register(ctx, phone="13812341234")
    give_points(ctx, manager.id, member.id, 1_000)
    add_coupon(ctx, clock)
    sell(ctx, cashier.id, member.id, BASKET, coupons=["SAVE10"])
    sale = sell(ctx, cashier.id, member.id, BASKET, points=200)
    view = refunds.find_sale(ctx, sale.receipt_no)
    refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=sale.receipt_no,
        request={view.lines[1].id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin=MANAGER_PIN,
        reason="测试退货",
    )
    yield ctx, member.id
    ctx.db.close()


@pytest.fixture
def history(till):
    return till[0]


@pytest.fixture
def member_id(till):
    return till[1]


def writable(ctx) -> Any:
    conn = ctx.db.connect(isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def test_every_immutable_table_is_covered():
    assert set(TARGETS) == set(IMMUTABLE_TABLES)


@pytest.mark.parametrize("table", sorted(TARGETS))
def test_update_refused(history, table):
    ctx = history
    column = TARGETS[table]
    conn = writable(ctx)
    try:
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0
        with nothing_written(ctx):
            with pytest.raises(driver.IntegrityError, match=f"{table} rows are immutable"):
                conn.execute(f"UPDATE {table} SET {column} = {column}")
            before = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            conn.execute("BEGIN")
            try:
                with pytest.raises(driver.IntegrityError, match="immutable"):
                    conn.execute(
                        f"UPDATE {table} SET {column} = NULL WHERE rowid = "
                        f"(SELECT MAX(rowid) FROM {table})"
                    )
            finally:
                conn.execute("ROLLBACK")
            assert conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() == before
    finally:
        conn.close()


@pytest.mark.parametrize("table", sorted(TARGETS))
def test_delete_refused(history, table):
    ctx = history
    conn = writable(ctx)
    try:
        with nothing_written(ctx):
            with pytest.raises(driver.IntegrityError, match=f"{table} rows are immutable"):
                conn.execute(f"DELETE FROM {table}")
            with pytest.raises(driver.IntegrityError, match="immutable"):
                conn.execute(f"DELETE FROM {table} WHERE rowid = (SELECT MIN(rowid) FROM {table})")
    finally:
        conn.close()


def test_orm_update_refused_too(history, member_id):
    ctx = history

    def tamper():
        with ctx.db.write() as session:
            entry = session.query(LedgerEntry).filter_by(member_id=member_id).first()
            entry.points += 1_000

    with nothing_written(ctx), pytest.raises(DBAPIError, match="immutable") as info:
        tamper()
    assert isinstance(info.value.orig, driver.DatabaseError)


def test_zero_point_ledger_entry_refused(history, member_id):
    ctx = history
    conn = writable(ctx)
    try:
        with nothing_written(ctx), pytest.raises(driver.IntegrityError, match="moves points"):
            conn.execute(
                "INSERT INTO ledger_entries (id, member_id, kind, points, created_at) "
                "VALUES (?, ?, 'adjust', 0, '2026-11-17T02:00:00.000000+00:00')",
                (new_id(), member_id),
            )
    finally:
        conn.close()


def test_triggers_exist_for_every_immutable_table(ctx):
    conn = writable(ctx)
    try:
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        assert set(table_names(conn)) >= set(IMMUTABLE_TABLES)
    finally:
        conn.close()
    for table in IMMUTABLE_TABLES:
        assert {f"trg_{table}_no_update", f"trg_{table}_no_delete"} <= triggers
    assert {"trg_refund_lines_not_over", "trg_ledger_points_nonzero"} <= triggers
