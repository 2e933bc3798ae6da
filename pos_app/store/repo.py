"""Repositories: the queries the services run against the till's ledger.

Hot paths (member lookup by phone hash, by last 4 digits, by member number) run on the
thread's raw sqlite3 connection with constant SQL; everything that writes goes through
the caller's ORM session so it joins the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BindParameter, String, bindparam, func, select
from sqlalchemy.orm import Session

from pos_app.core.lots import Lot
from pos_app.store.models import (
    LedgerEntry,
    LotMove,
    Member,
    OutboxEvent,
    PointLot,
    ReceiptCounter,
    RefundLine,
    Sale,
    SaleLine,
    Setting,
)
from pos_app.store.types import to_db_time


@dataclass(frozen=True)
class MemberRow:
    """The columns a lookup returns (no phone: only its mask and last 4 digits)."""

    id: str
    member_no: int
    phone_masked: str
    name: str
    tier: str
    balance: int


_MEMBER_COLS = "id, member_no, phone_masked, name, tier, balance"
SQL_BY_HASH = f"SELECT {_MEMBER_COLS} FROM members WHERE phone_hash = ?"
SQL_BY_NO = f"SELECT {_MEMBER_COLS} FROM members WHERE member_no = ?"
SQL_BY_LAST4 = (
    f"SELECT {_MEMBER_COLS} FROM members WHERE phone_last4 = ? ORDER BY last_seen_at DESC LIMIT ?"
)


def _row(r: tuple[str, int, str, str, str, int] | None) -> MemberRow | None:
    return None if r is None else MemberRow(*r)


def member_by_phone_hash(conn: sqlite3.Connection, digest: bytes) -> MemberRow | None:
    """Exact match on the keyed phone hash."""
    return _row(conn.execute(SQL_BY_HASH, (digest,)).fetchone())


def member_by_no(conn: sqlite3.Connection, member_no: int) -> MemberRow | None:
    """Match on the member number (from a member code)."""
    return _row(conn.execute(SQL_BY_NO, (member_no,)).fetchone())


def members_by_last4(conn: sqlite3.Connection, last4: str, limit: int = 20) -> list[MemberRow]:
    """Members whose phone ends in ``last4``, most recently seen first."""
    return [MemberRow(*r) for r in conn.execute(SQL_BY_LAST4, (last4, limit)).fetchall()]


# -- settings ------------------------------------------------------------------------
def get_setting(session: Session, key: str) -> str | None:
    """A setting's value, or None."""
    row = session.get(Setting, key)
    return None if row is None else row.value


def put_setting(session: Session, key: str, value: str) -> None:
    """Create or replace a setting."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def next_counter(session: Session, day: str, kind: str) -> int:
    """Next number in a per-day sequence (receipts ``S``, refunds ``F``)."""
    row = session.get(ReceiptCounter, (day, kind))
    if row is None:
        session.add(ReceiptCounter(day=day, kind=kind, last=1))
        return 1
    row.last += 1
    return row.last


def next_member_no(session: Session, base: int, block: int = 100_000) -> int:
    """Next member number from this till's block (HQ may renumber on merge).

    Only numbers inside the block count: members pulled from HQ carry other tills'
    numbers, some above this block.
    """
    current = session.execute(
        select(func.max(Member.member_no)).where(
            Member.member_no >= base, Member.member_no < base + block
        )
    ).scalar_one_or_none()
    return (current or base) + 1


# -- lots and ledger -------------------------------------------------------------------
# The queries every checkout runs are built once, with bound parameters: building a
# SELECT and its cache key costs more CPU than SQLite takes to answer it (about 0.4 ms
# saved per query, see benchmarks/bench_checkout.py).
_MEMBER: BindParameter[str] = bindparam("member_id", type_=String())
_SINCE = bindparam("since", type_=Sale.created_at.type)

_OPEN_LOTS = select(PointLot).where(PointLot.member_id == _MEMBER, PointLot.remaining > 0)


def open_lots(session: Session, member_id: str) -> list[PointLot]:
    """The member's lots that still hold points."""
    return list(session.scalars(_OPEN_LOTS, {"member_id": member_id}))


_OPEN_LOT_ROWS = select(PointLot.id, PointLot.remaining, PointLot.expires_on).where(
    PointLot.member_id == bindparam("member_id"), PointLot.remaining > 0
)


def open_lot_rows(session: Session, member_id: str) -> list[Lot]:
    """The member's open lots as core lots, read without building ORM objects."""
    return [
        Lot(lot_id, remaining, expires_on)
        for lot_id, remaining, expires_on in session.execute(
            _OPEN_LOT_ROWS, {"member_id": member_id}
        )
    ]


def as_core_lots(rows: Sequence[PointLot]) -> list[Lot]:
    """ORM lots as core lots."""
    return [Lot(r.id, r.remaining, r.expires_on) for r in rows]


def ledger_sum(session: Session, member_id: str) -> int:
    """Sum of the member's ledger: the balance by definition."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id
            )
        ).scalar_one()
    )


_PURCHASE_POINTS_SINCE = (
    select(func.coalesce(func.sum(LedgerEntry.points), 0))
    .join(Sale, Sale.id == LedgerEntry.sale_id)
    .where(
        LedgerEntry.member_id == _MEMBER,
        LedgerEntry.kind.in_(("earn", "refund_reversal")),
        Sale.created_at >= _SINCE,
    )
)


def purchase_points_since(session: Session, member_id: str, since: dt.datetime) -> int:
    """Points earned by purchases made since ``since``, net of their refunds (daily cap,
    tier window). A refund today of an older sale does not free room in today's cap."""
    params = {"member_id": member_id, "since": since}
    return int(session.execute(_PURCHASE_POINTS_SINCE, params).scalar_one())


_SALES_TOTAL_SINCE = select(func.coalesce(func.sum(Sale.total_fen), 0)).where(
    Sale.member_id == _MEMBER, Sale.created_at >= _SINCE
)
_REFUNDED_PER_LINE = (
    select(
        SaleLine.points_value_fen.label("points_value"),
        SaleLine.quantity.label("sold"),
        func.sum(RefundLine.quantity).label("qty"),
        func.sum(RefundLine.cash_fen).label("cash"),
    )
    .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
    .join(Sale, Sale.id == SaleLine.sale_id)
    .where(Sale.member_id == _MEMBER, Sale.created_at >= _SINCE)
    .group_by(SaleLine.id)
    .subquery()
)
_REFUNDED_SINCE = select(
    func.coalesce(
        func.sum(
            _REFUNDED_PER_LINE.c.cash
            + (_REFUNDED_PER_LINE.c.points_value * _REFUNDED_PER_LINE.c.qty)
            // _REFUNDED_PER_LINE.c.sold
        ),
        0,
    )
)


def spend_since(session: Session, member_id: str, since: dt.datetime) -> int:
    """Spend (fen, the order totals) since ``since``, net of refunds (tier window).

    A refund takes back its whole share of the order total: the cash handed back and
    the value of the points given back. Per line that is floor(cash * k / Q) +
    floor(points value * k / Q) for k of Q units refunded, which is what the refunds
    themselves add up to, so a fully refunded sale leaves no spend behind.
    """
    params = {"member_id": member_id, "since": since}
    sales = session.execute(_SALES_TOTAL_SINCE, params).scalar_one()
    refunded = session.execute(_REFUNDED_SINCE, params).scalar_one()
    return int(sales) - int(refunded)


def earn_lot_of_sale(session: Session, sale_id: str) -> list[str]:
    """Lots the sale's earn entry opened (taken back first on a refund)."""
    return list(
        session.scalars(
            select(LotMove.lot_id)
            .join(LedgerEntry, LedgerEntry.id == LotMove.entry_id)
            .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "earn")
        )
    )


def spend_moves_of_sale(session: Session, sale_id: str) -> list[tuple[str, int]]:
    """(lot id, points taken) of the sale's spend entry, in the order taken."""
    rows = session.execute(
        select(LotMove.lot_id, LotMove.points)
        .join(LedgerEntry, LedgerEntry.id == LotMove.entry_id)
        .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "spend")
        .order_by(LotMove.id)
    ).all()
    return [(lot_id, -points) for lot_id, points in rows]


def refunded_quantities(session: Session, sale_id: str) -> dict[str, int]:
    """Units already refunded per sale line."""
    rows = session.execute(
        select(RefundLine.sale_line_id, func.sum(RefundLine.quantity))
        .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
        .where(SaleLine.sale_id == sale_id)
        .group_by(RefundLine.sale_line_id)
    ).all()
    return {line_id: int(qty) for line_id, qty in rows}


_PENDING_OFFLINE_SPEND = select(func.coalesce(func.sum(Sale.points_used), 0)).where(
    Sale.member_id == _MEMBER,
    Sale.points_used > 0,
    select(OutboxEvent.seq)
    .where(
        OutboxEvent.aggregate_id == Sale.id,
        OutboxEvent.kind == "sale",
        OutboxEvent.sent_at.is_(None),
    )
    .exists(),
)


def pending_offline_spend(session: Session, member_id: str) -> int:
    """Points this till let the member spend in sales HQ has not acknowledged yet.

    Driven from the member's own sales that used points (``ix_sales_member_time``),
    each probing the partial index of unsent events by sale id
    (``ix_outbox_pending_aggregate``, migration 0004): the cost does not grow with the
    backlog of unsent events, which an offline till adds to with every sale.
    """
    params = {"member_id": member_id}
    return int(session.execute(_PENDING_OFFLINE_SPEND, params).scalar_one())


def pending_outbox(session: Session) -> int:
    """Events waiting for HQ."""
    return int(
        session.execute(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
        ).scalar_one()
    )


def db_time(value: dt.datetime) -> str:
    """Re-exported for raw SQL callers."""
    return to_db_time(value)
