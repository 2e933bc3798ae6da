"""Sales and refunds: their rows, lines, tenders, coupons and per-day receipt numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pos_app.core import refunds as core_refunds
from pos_app.store import raw
from pos_app.store.models import Coupon, CouponUse, Refund, RefundLine, Sale, SaleLine, Tender


def sale_exists(session: Session, sale_id: str) -> bool:
    """True when a sale with this id was committed (a retried checkout)."""
    row = raw.execute(session, "SELECT 1 FROM sales WHERE id = ?", (sale_id,)).fetchone()
    return row is not None


_SQL_NEXT_COUNTER = (
    "INSERT INTO receipt_counters (day, kind, last) VALUES (?, ?, 1) "
    "ON CONFLICT (day, kind) DO UPDATE SET last = last + 1 RETURNING last"
)


def next_counter(session: Session, day: str, kind: str) -> int:
    """Next number in a per-day sequence (receipts ``S``, refunds ``F``), in one statement."""
    (last,) = raw.execute(session, _SQL_NEXT_COUNTER, (day, kind)).fetchone()
    return int(last)


_SQL_REFUND_LINES_OF_SALE = (
    "SELECT rl.sale_line_id, rl.quantity FROM refund_lines rl "
    "JOIN sale_lines sl ON sl.id = rl.sale_line_id WHERE sl.sale_id = ?"
)


def refunded_quantities(session: Session, sale_id: str) -> dict[str, int]:
    """Units already refunded per sale line (``core.refunds.refunded_quantities``)."""
    rows = raw.execute(session, _SQL_REFUND_LINES_OF_SALE, (sale_id,)).fetchall()
    return core_refunds.refunded_quantities(rows)


def get_sale(session: Session, sale_id: str) -> Sale | None:
    """The sale's ORM row, or None."""
    return session.get(Sale, sale_id)


def sale_by_receipt_no(session: Session, receipt_no: str) -> Sale | None:
    """The sale with this receipt number, or None."""
    return session.scalars(select(Sale).where(Sale.receipt_no == receipt_no)).first()


def has_sales(session: Session) -> bool:
    """True when the till holds at least one sale."""
    return session.scalars(select(Sale.id).limit(1)).first() is not None


def insert_sale(
    session: Session,
    sale: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    tenders: Sequence[Mapping[str, Any]],
    coupon_uses: Sequence[Mapping[str, Any]],
) -> None:
    """Write a sale with its lines, tenders and coupon uses: constant SQL on the session's
    connection, one statement per table (``store.raw``: the ORM, even its Core inserts,
    cost several milliseconds per sale here)."""
    raw.insert_rows(session, Sale, [sale])
    raw.insert_rows(session, SaleLine, lines)
    raw.insert_rows(session, Tender, tenders)
    raw.insert_rows(session, CouponUse, coupon_uses)


def lines_of_sale(session: Session, sale_id: str) -> Sequence[SaleLine]:
    """The sale's lines in their order."""
    return session.scalars(
        select(SaleLine).where(SaleLine.sale_id == sale_id).order_by(SaleLine.line_no)
    ).all()


def tenders_of_sale(session: Session, sale_id: str) -> Sequence[Tender]:
    """The sale's payments in the order taken."""
    return session.scalars(
        select(Tender).where(Tender.sale_id == sale_id).order_by(text("rowid"))
    ).all()


def tenders_of_refund(session: Session, refund_id: str) -> Sequence[Tender]:
    """The refund's payouts in the order made."""
    return session.scalars(
        select(Tender).where(Tender.refund_id == refund_id).order_by(text("rowid"))
    ).all()


def paid_cash(
    session: Session, *, sale_id: str | None = None, refund_id: str | None = None
) -> bool:
    """True when the sale (or the refund) has a cash tender."""
    query = select(func.count()).select_from(Tender).where(Tender.method == "cash")
    if sale_id is not None:
        query = query.where(Tender.sale_id == sale_id)
    else:
        query = query.where(Tender.refund_id == refund_id)
    return bool(session.execute(query).scalar_one())


def add_tender(session: Session, tender: Tender) -> None:
    """Add a payment (or payout) row to the session."""
    session.add(tender)


# -- coupons -------------------------------------------------------------------------------
def coupon_by_code(session: Session, code: str) -> Coupon | None:
    """The coupon with this code, or None."""
    return session.scalars(select(Coupon).where(Coupon.code == code)).first()


def coupon_used(session: Session, coupon_id: str) -> bool:
    """True when a sale used the coupon already."""
    return session.get(CouponUse, coupon_id) is not None


# -- refunds -------------------------------------------------------------------------------
def get_refund(session: Session, refund_id: str) -> Refund | None:
    """The refund's ORM row, or None."""
    return session.get(Refund, refund_id)


def refund_by_no(session: Session, refund_no: str) -> Refund | None:
    """The refund with this number, or None."""
    return session.scalars(select(Refund).where(Refund.refund_no == refund_no)).first()


def lines_of_refund(session: Session, refund_id: str) -> Sequence[RefundLine]:
    """The refund's lines in the order written."""
    return session.scalars(
        select(RefundLine).where(RefundLine.refund_id == refund_id).order_by(text("rowid"))
    ).all()


def points_restored_of_sale(session: Session, sale_id: str) -> int:
    """Points the sale's earlier refunds gave back."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(Refund.points_restored), 0)).where(
                Refund.sale_id == sale_id
            )
        ).scalar_one()
    )


def add_refund(session: Session, refund: Refund, lines: Sequence[RefundLine]) -> None:
    """Write a refund and its lines (the refund flushed first: the lines refer to it)."""
    session.add(refund)
    session.flush()
    session.add_all(lines)


def coupons_by_codes(session: Session, codes: Sequence[str]) -> list[Coupon]:
    """The coupons with these codes, in the order given (unknown codes left out)."""
    return [c for c in (coupon_by_code(session, code) for code in codes) if c is not None]


def open_coupons_of_member(session: Session, member_id: str, now: dt.datetime) -> list[Coupon]:
    """The member's coupons valid at ``now`` and not used yet, expiring soonest first."""
    return list(
        session.scalars(
            select(Coupon)
            .outerjoin(CouponUse, CouponUse.coupon_id == Coupon.id)
            .where(
                Coupon.member_id == member_id,
                CouponUse.coupon_id.is_(None),
                Coupon.valid_from <= now,
                Coupon.valid_to > now,
            )
            .order_by(Coupon.valid_to, Coupon.code)
        )
    )


def categories_bought_since(
    session: Session, member_id: str, since: dt.datetime, limit: int = 8
) -> list[str]:
    """The member's purchase categories since ``since``, the most spent on first."""
    rows = session.execute(
        select(SaleLine.category, func.sum(SaleLine.net_fen).label("spent"))
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.member_id == member_id, Sale.created_at >= since)
        .group_by(SaleLine.category)
        .order_by(func.sum(SaleLine.net_fen).desc(), SaleLine.category)
        .limit(limit)
    ).all()
    return [category for category, _spent in rows]


def last_sale_of_till(session: Session, till_id: str) -> Sale | None:
    """The till's most recent sale, or None."""
    return session.scalars(
        select(Sale).where(Sale.till_id == till_id).order_by(Sale.created_at.desc()).limit(1)
    ).first()


def sale_ids_among(session: Session, sale_ids: Sequence[str]) -> set[str]:
    """The ids among ``sale_ids`` of sales this till holds."""
    return _held_ids(session, Sale.id, sale_ids)


def refund_ids_among(session: Session, refund_ids: Sequence[str]) -> set[str]:
    """The ids among ``refund_ids`` of refunds this till holds."""
    return _held_ids(session, Refund.id, refund_ids)


def _held_ids(session: Session, column: Any, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        found |= set(session.scalars(select(column).where(column.in_(chunk))))
    return found


def other_coupon_with_code(session: Session, code: str, coupon_id: str) -> Coupon | None:
    """A coupon other than ``coupon_id`` holding ``code``, or None."""
    return session.scalars(
        select(Coupon).where(Coupon.code == code, Coupon.id != coupon_id)
    ).first()


def coupon_for_update(session: Session, coupon_id: str, code: str) -> Coupon:
    """The coupon row to change: the stored one, or a new one (with ``code``) added."""
    row = session.get(Coupon, coupon_id)
    if row is None:
        row = Coupon(id=coupon_id, code=code)
        session.add(row)
    return row
