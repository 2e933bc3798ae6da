"""The manager's figures: aggregates over members, lots, the ledger, sales, refunds and
mall redemptions (over the indexes of migration 0003: a till with a million members
answers without loading members into memory), and the shift closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from pos_app.store.models import (
    LedgerEntry,
    MallRedemption,
    Member,
    PointLot,
    Refund,
    Sale,
    ShiftClose,
    Tender,
    User,
)

ISSUED_KINDS = ("earn", "bonus")
"""Ledger kinds that issue points (with positive adjustments)."""

# Movements pulled from HQ (other stores, other channels) carry the actor "@hq": the
# day report counts what happened at this till only.
_THIS_TILL = or_(LedgerEntry.actor_id.is_(None), LedgerEntry.actor_id != "@hq")


# -- tiers -----------------------------------------------------------------------------------
def tier_totals(session: Session) -> list[tuple[str, int, int]]:
    """(tier, members, points held) per tier (index-only on ``ix_members_tier_balance``)."""
    rows = session.execute(
        select(Member.tier, func.count(), func.coalesce(func.sum(Member.balance), 0)).group_by(
            Member.tier
        )
    ).all()
    return [(tier, int(n), int(points)) for tier, n, points in rows]


def near_tier_candidates(
    session: Session,
    since: dt.datetime,
    next_thresholds: Mapping[str, tuple[int, int]],
    within_percent: int,
) -> list[tuple[str, str, str, str]]:
    """(id, masked phone, name, tier) of members whose window since ``since`` may be
    within ``within_percent`` of their next tier's (spend fen, points) threshold
    (``next_thresholds`` by current tier).

    One pass over the window's sales (``ix_sales_time``) on their order totals and earned
    points before refunds: exact for a member none of whose sales was refunded, an upper
    bound for the others (the caller measures those again, refunds taken off).
    """
    gross = (
        select(
            Sale.member_id.label("member_id"),
            func.sum(Sale.total_fen).label("spend"),
            func.sum(Sale.points_earned).label("points"),
            func.max(case((Sale.id.in_(select(Refund.sale_id)), 1), else_=0)).label("refunded"),
        )
        .where(Sale.created_at >= since, Sale.member_id.is_not(None))
        .group_by(Sale.member_id)
        .subquery()
    )

    def per_tier(which: int) -> Any:
        # The next tier's figure, picked per row with CASE.
        return case(
            *((Member.tier == code, high[which]) for code, high in next_thresholds.items()),
            else_=None,
        )

    def floor(which: int) -> Any:
        return case(
            *(
                (Member.tier == code, high[which] * (100 - within_percent) // 100)
                for code, high in next_thresholds.items()
            ),
            else_=None,
        )

    rows = session.execute(
        select(Member.id, Member.phone_masked, Member.name, Member.tier)
        .join(gross, gross.c.member_id == Member.id)
        .where(
            Member.tier.in_(list(next_thresholds)),
            (gross.c.spend >= floor(0)) | (gross.c.points >= floor(1)),
            (gross.c.refunded == 1)
            | ((gross.c.spend < per_tier(0)) & (gross.c.points < per_tier(1))),
        )
    ).all()
    return [(mid, masked, name, tier) for mid, masked, name, tier in rows]


# -- expiring points -------------------------------------------------------------------------
def _expiring(today: dt.date, until: dt.date) -> Any:
    return and_(PointLot.remaining > 0, PointLot.expires_on >= today, PointLot.expires_on <= until)


def expiring_totals(session: Session, today: dt.date, until: dt.date) -> tuple[int, int]:
    """(members, points) of the open lots expiring from ``today`` to ``until``
    (a range scan of ``ix_point_lots_expiring``)."""
    count, total = session.execute(
        select(
            func.count(func.distinct(PointLot.member_id)),
            func.coalesce(func.sum(PointLot.remaining), 0),
        ).where(_expiring(today, until))
    ).one()
    return int(count), int(total)


def expiring_members(
    session: Session, today: dt.date, until: dt.date, limit: int
) -> list[tuple[str, str, str, str, int, dt.date, int]]:
    """(id, masked phone, name, tier, points expiring, first expiry, balance) of the
    members with points expiring from ``today`` to ``until``, soonest first."""
    per_member = (
        select(
            PointLot.member_id.label("member_id"),
            func.sum(PointLot.remaining).label("points"),
            func.min(PointLot.expires_on).label("first"),
        )
        .where(_expiring(today, until))
        .group_by(PointLot.member_id)
        .order_by(func.min(PointLot.expires_on), func.sum(PointLot.remaining).desc())
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(
            Member.id,
            Member.phone_masked,
            Member.name,
            Member.tier,
            per_member.c.points,
            per_member.c.first,
            Member.balance,
        )
        .join(per_member, per_member.c.member_id == Member.id)
        .order_by(per_member.c.first, per_member.c.points.desc(), Member.id)
    ).all()
    return [
        (
            mid,
            masked,
            name,
            tier,
            int(points),
            first if isinstance(first, dt.date) else dt.date.fromisoformat(str(first)),
            int(balance),
        )
        for mid, masked, name, tier, points, first, balance in rows
    ]


# -- a member's ledger -------------------------------------------------------------------------
def member_ledger(session: Session, member_id: str) -> list[Any]:
    """Every entry of the member, oldest first: (id, created_at, kind, points, reason,
    receipt no, actor id, actor name, detail)."""
    return list(
        session.execute(
            select(
                LedgerEntry.id,
                LedgerEntry.created_at,
                LedgerEntry.kind,
                LedgerEntry.points,
                LedgerEntry.reason,
                Sale.receipt_no,
                LedgerEntry.actor_id,
                User.name,
                LedgerEntry.detail,
            )
            .outerjoin(Sale, Sale.id == LedgerEntry.sale_id)
            .outerjoin(User, User.id == LedgerEntry.actor_id)
            .where(LedgerEntry.member_id == member_id)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        ).all()
    )


# -- the day report ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DayTotals:
    """A day's counts and sums (``start`` inclusive, ``end`` exclusive)."""

    sales: int
    sales_fen: int
    cash_due_fen: int
    refunds: int
    refunds_fen: int
    redemptions: int
    redemption_points: int


def day_totals(session: Session, start: dt.datetime, end: dt.datetime) -> DayTotals:
    """Sales, refunds and mall redemptions of the day."""
    sales_n, sales_fen, due_fen = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Sale.total_fen), 0),
            func.coalesce(func.sum(Sale.cash_due_fen), 0),
        ).where(Sale.created_at >= start, Sale.created_at < end)
    ).one()
    refunds_n, refunds_fen = session.execute(
        select(func.count(), func.coalesce(func.sum(Refund.cash_refund_fen), 0)).where(
            Refund.created_at >= start, Refund.created_at < end
        )
    ).one()
    red_n, red_points = session.execute(
        select(func.count(), func.coalesce(func.sum(MallRedemption.points), 0)).where(
            MallRedemption.created_at >= start, MallRedemption.created_at < end
        )
    ).one()
    return DayTotals(
        int(sales_n),
        int(sales_fen),
        int(due_fen),
        int(refunds_n),
        int(refunds_fen),
        int(red_n),
        int(red_points),
    )


def points_by_kind(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Net points per ledger kind moved at this till in the day."""
    return {
        kind: int(points)
        for kind, points in session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.points))
            .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < end, _THIS_TILL)
            .group_by(LedgerEntry.kind)
        ).all()
    }


def positive_adjustments(session: Session, start: dt.datetime, end: dt.datetime) -> int:
    """Points added by manual adjustments at this till in the day."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
                LedgerEntry.kind == "adjust",
                LedgerEntry.points > 0,
                _THIS_TILL,
            )
        ).scalar_one()
    )


def points_outstanding_at(session: Session, end: dt.datetime) -> int:
    """Points the members held at ``end``: today's balances less what moved since."""
    balance_now = session.execute(select(func.coalesce(func.sum(Member.balance), 0))).scalar_one()
    after = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(LedgerEntry.created_at >= end)
    ).scalar_one()
    return int(balance_now) - int(after)


def sales_by_cashier(
    session: Session, start: dt.datetime, end: dt.datetime
) -> dict[str, tuple[int, int, int]]:
    """(sales, amount fen, cash due fen) per cashier of the day."""
    return {
        cid: (int(n), int(amount), int(cash))
        for cid, n, amount, cash in session.execute(
            select(
                Sale.cashier_id, func.count(), func.sum(Sale.total_fen), func.sum(Sale.cash_due_fen)
            )
            .where(Sale.created_at >= start, Sale.created_at < end)
            .group_by(Sale.cashier_id)
        ).all()
    }


def points_by_actor(
    session: Session, start: dt.datetime, end: dt.datetime
) -> dict[str, tuple[int, int]]:
    """(points issued, points spent) per user of the day (entries without one left out)."""
    issued = case(
        (LedgerEntry.kind.in_(ISSUED_KINDS), LedgerEntry.points),
        (and_(LedgerEntry.kind == "adjust", LedgerEntry.points > 0), LedgerEntry.points),
        else_=0,
    )
    spent = case((LedgerEntry.kind == "spend", -LedgerEntry.points), else_=0)
    return {
        actor: (int(i), int(s))
        for actor, i, s in session.execute(
            select(LedgerEntry.actor_id, func.sum(issued), func.sum(spent))
            .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
            .group_by(LedgerEntry.actor_id)
        ).all()
        if actor is not None
    }


def redemptions_by_actor(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Mall redemptions per user of the day."""
    return {
        actor: int(n)
        for actor, n in session.execute(
            select(MallRedemption.actor_id, func.count())
            .where(MallRedemption.created_at >= start, MallRedemption.created_at < end)
            .group_by(MallRedemption.actor_id)
        ).all()
    }


# -- shift close -------------------------------------------------------------------------------
def last_shift_close(session: Session, till_id: str) -> dt.datetime | None:
    """When the till's last shift was closed, or None before the first close."""
    last = session.execute(
        select(func.max(ShiftClose.closed_at)).where(ShiftClose.till_id == till_id)
    ).scalar_one_or_none()
    if last is None:
        return None
    return last if isinstance(last, dt.datetime) else dt.datetime.fromisoformat(str(last))


def shift_cash(
    session: Session, till_id: str, opened: dt.datetime, now: dt.datetime, *, inclusive: bool
) -> tuple[int, int, int, int]:
    """(sales, cash taken by sales, cash handed back by refunds, cash taken in the mall)
    of the till from ``opened`` (included when ``inclusive``) to ``now``."""

    def within(column: Any) -> Any:
        lower = column >= opened if inclusive else column > opened
        return and_(lower, column <= now)

    sales_n, cash_sales = session.execute(
        select(
            func.count(func.distinct(Sale.id)),
            func.coalesce(func.sum(case((Tender.method == "cash", Tender.amount_fen), else_=0)), 0),
        )
        .outerjoin(Tender, Tender.sale_id == Sale.id)
        .where(within(Sale.created_at), Sale.till_id == till_id)
    ).one()
    cash_refunds = session.execute(
        select(func.coalesce(func.sum(Tender.amount_fen), 0))
        .join(Refund, Refund.id == Tender.refund_id)
        .join(Sale, Sale.id == Refund.sale_id)
        .where(within(Refund.created_at), Tender.method == "cash", Sale.till_id == till_id)
    ).scalar_one()
    cash_mall = session.execute(
        select(func.coalesce(func.sum(MallRedemption.cash_fen), 0)).where(
            within(MallRedemption.created_at),
            MallRedemption.cash_method == "cash",
            MallRedemption.till_id == till_id,
        )
    ).scalar_one()
    return int(sales_n), int(cash_sales), int(cash_refunds), int(cash_mall)


def add_shift_close(session: Session, row: ShiftClose) -> None:
    """Add a shift close row to the session."""
    session.add(row)
