"""The manager's views: tiers, members near the next tier, expiring points, a member's
ledger, the day report (with CSV export) and the shift close with a cash count.

Every function takes the logged-in user's id and refuses anyone but a manager. The
queries are aggregates over indexes (migration 0003), so they stay fast on a till with a
million members: nothing here loads members into memory, only the rows shown.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from pos_app.core.calendar import day_start, local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.money import points_to_fen
from pos_app.core.tiers import window_start_at
from pos_app.services import audit, auth, members
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.ledger import add_outbox
from pos_app.store import repo
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
from pos_app.store.types import new_id

ISSUED_KINDS = ("earn", "bonus")

# Movements pulled from HQ (other stores, other channels) carry the actor "@hq": the
# day report counts what happened at this till only.
_THIS_TILL = or_(LedgerEntry.actor_id.is_(None), LedgerEntry.actor_id != "@hq")


# -- tiers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TierCount:
    """Members in one tier and the points they hold."""

    tier: str
    name: str
    members: int
    points: int


def tier_counts(ctx: TillContext, actor_id: str) -> list[TierCount]:
    """Members per tier, in the ladder's order (index-only on ``ix_members_tier_balance``)."""
    auth.require_manager(ctx, actor_id)
    rules = ctx.rules
    with ctx.db.read() as session:
        rows = session.execute(
            select(Member.tier, func.count(), func.coalesce(func.sum(Member.balance), 0)).group_by(
                Member.tier
            )
        ).all()
    found = {tier: (int(n), int(points)) for tier, n, points in rows}
    codes = rules.tier_codes()
    out = [TierCount(c, rules.tier_name(c), *found.pop(c, (0, 0))) for c in codes]
    out += [TierCount(c, c, n, p) for c, (n, p) in sorted(found.items())]
    return out


@dataclass(frozen=True)
class NearTier:
    """A member close to the next tier (spend or points earned in the window)."""

    member_id: str
    masked_phone: str
    name: str
    tier: str
    next_tier: str
    next_name: str
    spend_fen: int
    points: int
    spend_needed_fen: int
    points_needed: int

    @property
    def reached_permille(self) -> int:
        """How far along the nearer of the two thresholds the member is, in permille
        (the list's order, nearest first)."""
        return max(
            self.spend_fen * 1000 // max(1, self.spend_fen + self.spend_needed_fen),
            self.points * 1000 // max(1, self.points + self.points_needed),
        )


def near_next_tier(
    ctx: TillContext, actor_id: str, *, within_percent: int = 20, limit: int = 200
) -> list[NearTier]:
    """Members within ``within_percent`` of the next tier's spend or points threshold.

    One pass over the window's sales (``ix_sales_time``) picks the candidates on their
    order totals and earned points before refunds: exact for a member none of whose
    sales was refunded, an upper bound for the others. The candidates' figures are then
    the tier's own, refunds taken off (``repo.spend_by_member``,
    ``repo.purchase_points_by_member``). The nearest first.
    """
    auth.require_manager(ctx, actor_id)
    if not 0 < within_percent <= 100:
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Choose a share from 1 to 100%."))
    rules = ctx.rules
    since = window_start_at(rules, ctx.now())
    nxt = {low.code: high for low, high in itertools.pairwise(rules.tiers.levels)}
    if not nxt:
        return []
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

    def per_tier(value: Callable[[Any], int]) -> Any:
        # The next tier's figure, picked per row with CASE.
        return case(*((Member.tier == code, value(high)) for code, high in nxt.items()), else_=None)

    def floor(value: Callable[[Any], int]) -> Any:
        return per_tier(lambda high: value(high) * (100 - within_percent) // 100)

    with ctx.db.read() as session:
        candidates = session.execute(
            select(Member.id, Member.phone_masked, Member.name, Member.tier)
            .join(gross, gross.c.member_id == Member.id)
            .where(
                Member.tier.in_(list(nxt)),
                (gross.c.spend >= floor(lambda h: h.spend_fen))
                | (gross.c.points >= floor(lambda h: h.points)),
                (gross.c.refunded == 1)
                | (
                    (gross.c.spend < per_tier(lambda h: h.spend_fen))
                    & (gross.c.points < per_tier(lambda h: h.points))
                ),
            )
        ).all()
        ids = [row[0] for row in candidates]
        spend = repo.spend_by_member(session, ids, since)
        points = repo.purchase_points_by_member(session, ids, since)
    out: list[NearTier] = []
    for member_id, masked, name, tier in candidates:
        high = nxt[tier]
        figures = (spend.get(member_id, 0), points.get(member_id, 0))
        if _near(figures, (high.spend_fen, high.points), within_percent):
            out.append(
                NearTier(
                    member_id,
                    masked,
                    name,
                    tier,
                    high.code,
                    high.name,
                    *figures,
                    high.spend_fen - figures[0],
                    high.points - figures[1],
                )
            )
    out.sort(key=lambda n: (-n.reached_permille, n.member_id))
    return out[:limit]


def _near(figures: tuple[int, int], thresholds: tuple[int, int], within_percent: int) -> bool:
    """Below both thresholds, and within ``within_percent`` of at least one."""
    below = all(f < t for f, t in zip(figures, thresholds, strict=True))
    close = any(
        f >= t * (100 - within_percent) // 100 for f, t in zip(figures, thresholds, strict=True)
    )
    return below and close


# -- expiring points (the reminder list) ----------------------------------------------------
@dataclass(frozen=True)
class ExpiringMember:
    """A member with points expiring within the reminder window."""

    member_id: str
    masked_phone: str
    name: str
    tier: str
    points: int
    first_date: dt.date
    balance: int


@dataclass(frozen=True)
class ExpiringList:
    """The reminder list and its totals (the totals cover every member, not only the
    rows shown)."""

    until: dt.date
    members: int
    points: int
    rows: tuple[ExpiringMember, ...]


def expiring_soon(ctx: TillContext, actor_id: str, *, limit: int = 500) -> ExpiringList:
    """Members whose points expire within the rule set's reminder window, soonest first
    (a range scan of ``ix_point_lots_expiring``)."""
    auth.require_manager(ctx, actor_id)
    rules = ctx.rules
    today = local_date(rules, ctx.now())
    until = today + dt.timedelta(days=rules.expiry.reminder_days)
    in_window = and_(
        PointLot.remaining > 0, PointLot.expires_on >= today, PointLot.expires_on <= until
    )
    with ctx.db.read() as session:
        count, total = session.execute(
            select(
                func.count(func.distinct(PointLot.member_id)),
                func.coalesce(func.sum(PointLot.remaining), 0),
            ).where(in_window)
        ).one()
        per_member = (
            select(
                PointLot.member_id.label("member_id"),
                func.sum(PointLot.remaining).label("points"),
                func.min(PointLot.expires_on).label("first"),
            )
            .where(in_window)
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
    return ExpiringList(
        until,
        int(count),
        int(total),
        tuple(
            ExpiringMember(
                mid,
                masked,
                name,
                tier,
                int(points),
                first if isinstance(first, dt.date) else dt.date.fromisoformat(str(first)),
                int(bal),
            )
            for mid, masked, name, tier, points, first, bal in rows
        ),
    )


# -- a member's detail ------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerLine:
    """One ledger entry of a member, with the balance after it."""

    entry_id: str
    created_at: dt.datetime
    kind: str
    points: int
    balance_after: int
    reason: str
    receipt_no: str | None
    actor: str
    mall_item: str | None = None


@dataclass(frozen=True)
class MemberDetail:
    """A member's figures and full ledger history (newest first)."""

    summary: members.MemberSummary
    entries: tuple[LedgerLine, ...]


def member_detail(ctx: TillContext, actor_id: str, member_id: str) -> MemberDetail:
    """The member panel's figures and every ledger entry of the member."""
    auth.require_manager(ctx, actor_id)
    summary = members.summary(ctx, member_id)
    with ctx.db.read() as session:
        rows = session.execute(
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
    running = 0
    lines = []
    for entry_id, at, kind, points, reason, receipt, actor_id_, actor_name, detail in rows:
        running += points
        item = None
        if reason and reason.startswith("mall:") and detail:
            item = str(json.loads(detail).get("item") or reason.removeprefix("mall:"))
        lines.append(
            LedgerLine(
                entry_id,
                at,
                kind,
                points,
                running,
                reason or "",
                receipt,
                actor_name or actor_id_ or "",
                item,
            )
        )
    if running != summary.balance:
        raise UnknownMember(
            QT_TRANSLATE_NOOP("Errors", "The member's ledger does not add up: run pos-app check.")
        )
    return MemberDetail(summary, tuple(reversed(lines)))


# -- the day report ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CashierLine:
    """One cashier's share of a day."""

    cashier_id: str
    name: str
    sales: int
    amount_fen: int
    cash_fen: int
    points_issued: int
    points_spent: int
    redemptions: int


@dataclass(frozen=True)
class DayReport:
    """A day's figures (store-local day).

    Attributes:
        sales / sales_fen: Sales and their order totals.
        cash_due_fen: Money taken for them (the part not paid with points).
        refunds / refunds_fen: Refunds and the cash handed back.
        points_issued: Earned by purchases plus bonuses.
        points_spent: Spent at checkout and in the mall.
        points_expired: Expired lots.
        points_by_kind: Net points per ledger entry kind.
        liability_points / liability_fen: Points outstanding at the end of the day
            and their cash value (balance sum / the spending rate).
    """

    day: dt.date
    sales: int
    sales_fen: int
    cash_due_fen: int
    refunds: int
    refunds_fen: int
    redemptions: int
    redemption_points: int
    points_issued: int
    points_spent: int
    points_expired: int
    points_by_kind: dict[str, int]
    liability_points: int
    liability_fen: int
    cashiers: tuple[CashierLine, ...]


def _day_bounds(ctx: TillContext, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = day_start(ctx.rules, day)
    return start, start + dt.timedelta(days=1)


def _names(session: Session) -> dict[str, str]:
    return {uid: name for uid, name in session.execute(select(User.id, User.name)).all()}


def day_report(ctx: TillContext, actor_id: str, day: dt.date) -> DayReport:
    """The figures of ``day`` in the store's time zone, per cashier too."""
    auth.require_manager(ctx, actor_id)
    start, end = _day_bounds(ctx, day)
    sp = ctx.rules.spending
    with ctx.db.read() as session:
        in_day = and_(Sale.created_at >= start, Sale.created_at < end)
        sales_n, sales_fen, due_fen = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Sale.total_fen), 0),
                func.coalesce(func.sum(Sale.cash_due_fen), 0),
            ).where(in_day)
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
        by_kind = {
            kind: int(points)
            for kind, points in session.execute(
                select(LedgerEntry.kind, func.sum(LedgerEntry.points))
                .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < end, _THIS_TILL)
                .group_by(LedgerEntry.kind)
            ).all()
        }
        positive_adjust = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
                LedgerEntry.kind == "adjust",
                LedgerEntry.points > 0,
                _THIS_TILL,
            )
        ).scalar_one()
        balance_now = session.execute(
            select(func.coalesce(func.sum(Member.balance), 0))
        ).scalar_one()
        after_day = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.created_at >= end
            )
        ).scalar_one()
        names = _names(session)
        per_sales = {
            cid: (int(n), int(amount), int(cash))
            for cid, n, amount, cash in session.execute(
                select(
                    Sale.cashier_id,
                    func.count(),
                    func.sum(Sale.total_fen),
                    func.sum(Sale.cash_due_fen),
                )
                .where(in_day)
                .group_by(Sale.cashier_id)
            ).all()
        }
        per_points = {
            actor: (int(issued), int(spent))
            for actor, issued, spent in session.execute(
                select(
                    LedgerEntry.actor_id,
                    func.sum(
                        case(
                            (LedgerEntry.kind.in_(ISSUED_KINDS), LedgerEntry.points),
                            (
                                and_(LedgerEntry.kind == "adjust", LedgerEntry.points > 0),
                                LedgerEntry.points,
                            ),
                            else_=0,
                        )
                    ),
                    func.sum(case((LedgerEntry.kind == "spend", -LedgerEntry.points), else_=0)),
                )
                .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
                .group_by(LedgerEntry.actor_id)
            ).all()
            if actor is not None
        }
        per_mall = {
            actor: int(n)
            for actor, n in session.execute(
                select(MallRedemption.actor_id, func.count())
                .where(MallRedemption.created_at >= start, MallRedemption.created_at < end)
                .group_by(MallRedemption.actor_id)
            ).all()
        }
    cashiers = []
    for cid in sorted(set(per_sales) | set(per_points) | set(per_mall)):
        n, amount, cash = per_sales.get(cid, (0, 0, 0))
        issued, spent = per_points.get(cid, (0, 0))
        cashiers.append(
            CashierLine(
                cid, names.get(cid, cid), n, amount, cash, issued, spent, int(per_mall.get(cid, 0))
            )
        )
    cashiers.sort(key=lambda c: (-c.amount_fen, c.name))
    liability = int(balance_now) - int(after_day)
    return DayReport(
        day=day,
        sales=int(sales_n),
        sales_fen=int(sales_fen),
        cash_due_fen=int(due_fen),
        refunds=int(refunds_n),
        refunds_fen=int(refunds_fen),
        redemptions=int(red_n),
        redemption_points=int(red_points),
        points_issued=sum(by_kind.get(k, 0) for k in ISSUED_KINDS) + int(positive_adjust),
        points_spent=-by_kind.get("spend", 0),
        points_expired=-by_kind.get("expire", 0),
        points_by_kind=by_kind,
        liability_points=liability,
        liability_fen=points_to_fen(liability, sp.points_per_yuan),
        cashiers=tuple(cashiers),
    )


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def day_report_csv(report: DayReport) -> str:
    """The report as CSV: the totals, then one row per cashier (amounts in yuan)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["day", report.day.isoformat()])
    for label, value in (
        ("sales", report.sales),
        ("sales_amount_yuan", _yuan(report.sales_fen)),
        ("cash_taken_yuan", _yuan(report.cash_due_fen)),
        ("refunds", report.refunds),
        ("refunds_cash_yuan", _yuan(report.refunds_fen)),
        ("mall_redemptions", report.redemptions),
        ("mall_points", report.redemption_points),
        ("points_issued", report.points_issued),
        ("points_spent", report.points_spent),
        ("points_expired", report.points_expired),
        ("points_outstanding", report.liability_points),
        ("points_liability_yuan", _yuan(report.liability_fen)),
    ):
        w.writerow([label, value])
    for kind, points in sorted(report.points_by_kind.items()):
        w.writerow([f"points_{kind}", points])
    w.writerow([])
    w.writerow(
        [
            "cashier_id",
            "cashier",
            "sales",
            "amount_yuan",
            "cash_yuan",
            "points_issued",
            "points_spent",
            "mall_redemptions",
        ]
    )
    for c in report.cashiers:
        w.writerow(
            [
                c.cashier_id,
                c.name,
                c.sales,
                _yuan(c.amount_fen),
                _yuan(c.cash_fen),
                c.points_issued,
                c.points_spent,
                c.redemptions,
            ]
        )
    return out.getvalue()


def export_day_report(ctx: TillContext, actor_id: str, day: dt.date, path: Path | str) -> Path:
    """Write the day report as CSV (UTF-8 with a BOM, so spreadsheets read the Chinese)."""
    report = day_report(ctx, actor_id, day)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(day_report_csv(report), encoding="utf-8-sig")
    return target


# -- shift close --------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftFigures:
    """Cash the drawer should hold since the last shift close of this till."""

    opened_at: dt.datetime
    until: dt.datetime
    sales: int
    cash_sales_fen: int
    cash_refunds_fen: int
    cash_mall_fen: int

    def expected_fen(self, float_fen: int) -> int:
        """The opening float plus cash in, less cash handed back."""
        return float_fen + self.cash_sales_fen + self.cash_refunds_fen + self.cash_mall_fen


@dataclass(frozen=True)
class ShiftCloseResult:
    """A recorded shift close."""

    close_id: str
    figures: ShiftFigures
    float_fen: int
    expected_fen: int
    counted_fen: int
    difference_fen: int


def _shift_figures(ctx: TillContext, session: Session, now: dt.datetime) -> ShiftFigures:
    last = session.execute(
        select(func.max(ShiftClose.closed_at)).where(ShiftClose.till_id == ctx.till_id)
    ).scalar_one_or_none()
    # The first shift of the till starts at midnight (inclusive); a later one right
    # after the previous close (exclusive: what the close counted is not counted again).
    if last is None:
        opened = day_start(ctx.rules, local_date(ctx.rules, now))
    else:
        opened = last if isinstance(last, dt.datetime) else dt.datetime.fromisoformat(str(last))

    def within(column: Any) -> Any:
        lower = column >= opened if last is None else column > opened
        return and_(lower, column <= now)

    sales_n, cash_sales = session.execute(
        select(
            func.count(func.distinct(Sale.id)),
            func.coalesce(func.sum(case((Tender.method == "cash", Tender.amount_fen), else_=0)), 0),
        )
        .outerjoin(Tender, Tender.sale_id == Sale.id)
        .where(within(Sale.created_at), Sale.till_id == ctx.till_id)
    ).one()
    cash_refunds = session.execute(
        select(func.coalesce(func.sum(Tender.amount_fen), 0))
        .join(Refund, Refund.id == Tender.refund_id)
        .join(Sale, Sale.id == Refund.sale_id)
        .where(
            within(Refund.created_at),
            Tender.method == "cash",
            Sale.till_id == ctx.till_id,
        )
    ).scalar_one()
    cash_mall = session.execute(
        select(func.coalesce(func.sum(MallRedemption.cash_fen), 0)).where(
            within(MallRedemption.created_at),
            MallRedemption.cash_method == "cash",
            MallRedemption.till_id == ctx.till_id,
        )
    ).scalar_one()
    return ShiftFigures(
        opened, now, int(sales_n), int(cash_sales), int(cash_refunds), int(cash_mall)
    )


def shift_figures(ctx: TillContext, actor_id: str) -> ShiftFigures:
    """The cash figures of the shift so far."""
    auth.require_manager(ctx, actor_id)
    with ctx.db.read() as session:
        return _shift_figures(ctx, session, ctx.now())


def close_shift(
    ctx: TillContext, actor_id: str, *, float_fen: int, counted_fen: int, note: str = ""
) -> ShiftCloseResult:
    """Close the shift: record expected vs counted cash (one transaction, audited)."""
    manager = auth.require_manager(ctx, actor_id)
    for value in (float_fen, counted_fen):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(
                QT_TRANSLATE_NOOP("Errors", "Cash amounts are whole fen, zero or more.")
            )
    now = ctx.now()
    with ctx.db.write() as session:
        figures = _shift_figures(ctx, session, now)
        expected = figures.expected_fen(float_fen)
        row = ShiftClose(
            id=new_id(),
            till_id=ctx.till_id,
            opened_at=figures.opened_at,
            closed_at=now,
            closed_by=manager.id,
            float_fen=float_fen,
            cash_sales_fen=figures.cash_sales_fen,
            cash_refunds_fen=figures.cash_refunds_fen,
            cash_mall_fen=figures.cash_mall_fen,
            expected_fen=expected,
            counted_fen=counted_fen,
            difference_fen=counted_fen - expected,
            note=note.strip()[:500],
        )
        session.add(row)
        audit.record(
            session,
            at=now,
            actor_id=manager.id,
            action="shift_close",
            subject=row.id,
            detail=json.dumps(
                {"expected": expected, "counted": counted_fen, "difference": row.difference_fen}
            ),
        )
        add_outbox(
            session,
            "shift_close",
            row.id,
            {
                "till_id": ctx.till_id,
                "store_id": ctx.store_id,
                "opened_at": figures.opened_at.isoformat(),
                "closed_at": now.isoformat(),
                "closed_by": manager.id,
                "float_fen": float_fen,
                "expected_fen": expected,
                "counted_fen": counted_fen,
                "difference_fen": row.difference_fen,
            },
            now,
        )
    return ShiftCloseResult(row.id, figures, float_fen, expected, counted_fen, row.difference_fen)
