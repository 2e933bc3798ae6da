"""Helpers shared by the service- and store-level tests (real SQLite files, no mocks)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from pos_app.core.quote import BasketLine
from pos_app.services import adjustments, checkout
from pos_app.services.context import TillContext
from pos_app.store.checks import balance_mismatches
from pos_app.store.models import Coupon
from pos_app.store.types import new_id

TEA = BasketLine("TEA", "龙井茶叶", "food", 2, 5000)  # 2 x 50.00 = 100.00
CUP = BasketLine("CUP", "白瓷杯", "home", 1, 3000)  # 1 x 30.00 = 30.00
BASKET = (TEA, CUP)  # 130.00

MANAGER_PIN = "9999"
CASHIER_PIN = "1111"


def item(price_fen: int, qty: int = 1, sku: str = "ITEM", category: str = "food") -> BasketLine:
    """A one-line basket item."""
    return BasketLine(sku, f"商品{sku}", category, qty, price_fen)


def table_names(conn: sqlite3.Connection) -> list[str]:
    """Every table of the file (sqlite_% internals left out)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]


SECURITY_TRAIL = frozenset({"audit_log", "pin_attempts", "outbox"})


def db_state(ctx: TillContext) -> dict[str, Any]:
    """Row counts of every table, plus aggregates a write without an insert would change."""
    raw = ctx.db.connect(readonly=True)
    try:
        # A refused PIN is recorded on purpose (pin_attempts, an audit row and its
        # outbox event): the security trail is left out here and tested on its own.
        state: dict[str, Any] = {
            name: raw.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for name in table_names(raw)
            if name not in SECURITY_TRAIL
        }
        state["outbox"] = raw.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind != 'audit'"
        ).fetchone()[0]
        state["audit_log (other than PINs)"] = raw.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action NOT LIKE 'pin_%'"
        ).fetchone()[0]
        for label, sql in (
            ("Σ members.balance", "SELECT TOTAL(balance) FROM members"),
            ("Σ point_lots.remaining", "SELECT TOTAL(remaining) FROM point_lots"),
            ("Σ receipt_counters.last", "SELECT TOTAL(last) FROM receipt_counters"),
            (
                "members.tier|seen|first",
                "SELECT group_concat(tier || last_seen_at || COALESCE(first_purchase_at, '-'))"
                " FROM (SELECT * FROM members ORDER BY id)",
            ),
        ):
            state[label] = raw.execute(sql).fetchone()[0]
    finally:
        raw.close()
    return state


@contextmanager
def nothing_written(ctx: TillContext) -> Iterator[None]:
    """Assert the block changes no row count (and no balance, lot or counter)."""
    before = db_state(ctx)
    yield
    assert db_state(ctx) == before


def scalar(ctx: TillContext, sql: str, **params: Any) -> Any:
    """One value from a read-only query."""
    with ctx.db.read() as session:
        return session.execute(text(sql), params).scalar()


def rows(ctx: TillContext, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """All rows of a read-only query."""
    with ctx.db.read() as session:
        return [tuple(r) for r in session.execute(text(sql), params).all()]


def ledger(ctx: TillContext, member_id: str) -> list[tuple[str, int]]:
    """The member's ledger as (kind, points), in insertion order."""
    return rows(
        ctx,
        "SELECT kind, points FROM ledger_entries WHERE member_id = :m ORDER BY rowid",
        m=member_id,
    )


def lots(ctx: TillContext, member_id: str) -> list[tuple[int, int, dt.date | None]]:
    """The member's lots as (points, remaining, expires_on), in insertion order."""
    out = rows(
        ctx,
        "SELECT points, remaining, expires_on FROM point_lots WHERE member_id = :m ORDER BY rowid",
        m=member_id,
    )
    return [(p, r, dt.date.fromisoformat(e) if e else None) for p, r, e in out]


def balance(ctx: TillContext, member_id: str) -> int:
    """The cached balance (the checks prove it equals the ledger sum)."""
    return int(scalar(ctx, "SELECT balance FROM members WHERE id = :m", m=member_id))


def assert_ledger_consistent(ctx: TillContext) -> None:
    """Cached balance == ledger sum, lots == max(balance, 0), for every member."""
    with ctx.db.read() as session:
        assert balance_mismatches(session) == []


def sell(
    ctx: TillContext,
    cashier_id: str,
    member_id: str | None,
    lines: Sequence[BasketLine],
    *,
    points: int = 0,
    coupons: Sequence[str] = (),
    sale_id: str | None = None,
    method: str = "cash",
) -> checkout.SaleResult:
    """Complete a sale paying the cash part exactly (quoted first)."""
    q = checkout.quote(ctx, lines, member_id=member_id, coupon_codes=coupons, points_to_use=points)
    tenders = [checkout.TenderInput(method, q.cash_due_fen)] if q.cash_due_fen else []
    return checkout.complete_sale(
        ctx,
        sale_id=sale_id or new_id(),
        lines=lines,
        member_id=member_id,
        tenders=tenders,
        cashier_id=cashier_id,
        coupon_codes=coupons,
        points_to_use=points,
    )


def give_points(ctx: TillContext, manager_id: str, member_id: str, points: int) -> int:
    """A manager's adjustment; returns the balance after."""
    return adjustments.adjust_points(
        ctx,
        member_id=member_id,
        points=points,
        reason="测试补分",
        manager_id=manager_id,
        manager_pin=MANAGER_PIN,
    ).balance_after


def scan_file_for(ctx: TillContext, needles: Sequence[str]) -> list[str]:
    """Every text/blob cell of every table of the till's database (decrypted with its
    keys) that contains a needle."""
    hits: list[str] = []
    conn = ctx.db.connect(readonly=True)
    try:
        for table in table_names(conn):
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in conn.execute(
                    f'SELECT "{column}" FROM "{table}" '
                    f"WHERE typeof(\"{column}\") IN ('text', 'blob')"
                ):
                    data = value if isinstance(value, bytes) else value.encode("utf-8")
                    hits += [
                        f"{table}.{column}: {needle}"
                        for needle in needles
                        if needle.encode("ascii") in data
                    ]
    finally:
        conn.close()
    return hits


def add_coupon(
    ctx: TillContext,
    clock: Callable[[], dt.datetime],
    code: str = "SAVE10",
    member_id: str | None = None,
    amount_off_fen: int = 1_000,
    min_order: int = 10_000,
) -> None:
    """Issue a coupon valid from yesterday for 30 days (as HQ would push it)."""
    now = clock()
    with ctx.db.write() as session:
        session.add(
            Coupon(
                id=new_id(),
                code=code,
                member_id=member_id,
                name="满100减10",
                amount_off_fen=amount_off_fen,
                percent_off=0,
                min_order_fen=min_order,
                valid_from=now - dt.timedelta(days=1),
                valid_to=now + dt.timedelta(days=30),
                issued_at=now,
                source="hq",
            )
        )
