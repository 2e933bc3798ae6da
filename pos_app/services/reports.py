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
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from pos_app.core.calendar import day_start, local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.money import Points, points_to_fen
from pos_app.core.tiers import window_start_at
from pos_app.services import audit, auth, members
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.ledger import add_outbox
from pos_app.store import ledger as ledger_store
from pos_app.store import reports as report_store
from pos_app.store.models import ShiftClose
from pos_app.store.reports import ISSUED_KINDS
from pos_app.store.types import new_id
from pos_app.store.users import user_names


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
        rows = report_store.tier_totals(session)
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
    thresholds = {code: (high.spend_fen, high.points) for code, high in nxt.items()}
    with ctx.db.read() as session:
        candidates = report_store.near_tier_candidates(session, since, thresholds, within_percent)
        ids = [row[0] for row in candidates]
        spend = ledger_store.spend_by_member(session, ids, since)
        points = ledger_store.purchase_points_by_member(session, ids, since)
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
    with ctx.db.read() as session:
        count, total = report_store.expiring_totals(session, today, until)
        rows = report_store.expiring_members(session, today, until, limit)
    return ExpiringList(until, count, total, tuple(ExpiringMember(*row) for row in rows))


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
        rows = report_store.member_ledger(session, member_id)
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


def day_report(ctx: TillContext, actor_id: str, day: dt.date) -> DayReport:
    """The figures of ``day`` in the store's time zone, per cashier too."""
    auth.require_manager(ctx, actor_id)
    start, end = _day_bounds(ctx, day)
    with ctx.db.read() as session:
        totals = report_store.day_totals(session, start, end)
        by_kind = report_store.points_by_kind(session, start, end)
        positive_adjust = report_store.positive_adjustments(session, start, end)
        liability = report_store.points_outstanding_at(session, end)
        cashiers = _cashier_lines(session, start, end)
    return DayReport(
        day=day,
        sales=totals.sales,
        sales_fen=totals.sales_fen,
        cash_due_fen=totals.cash_due_fen,
        refunds=totals.refunds,
        refunds_fen=totals.refunds_fen,
        redemptions=totals.redemptions,
        redemption_points=totals.redemption_points,
        points_issued=sum(by_kind.get(k, 0) for k in ISSUED_KINDS) + positive_adjust,
        points_spent=-by_kind.get("spend", 0),
        points_expired=-by_kind.get("expire", 0),
        points_by_kind=by_kind,
        liability_points=liability,
        liability_fen=points_to_fen(Points(liability), ctx.rules.spending.points_per_yuan),
        cashiers=cashiers,
    )


def _cashier_lines(
    session: Session, start: dt.datetime, end: dt.datetime
) -> tuple[CashierLine, ...]:
    """Each user's share of the day (sales, points, mall redemptions), biggest first."""
    names = user_names(session)
    per_sales = report_store.sales_by_cashier(session, start, end)
    per_points = report_store.points_by_actor(session, start, end)
    per_mall = report_store.redemptions_by_actor(session, start, end)
    cashiers = []
    for cid in sorted(set(per_sales) | set(per_points) | set(per_mall)):
        n, amount, cash = per_sales.get(cid, (0, 0, 0))
        issued, spent = per_points.get(cid, (0, 0))
        cashiers.append(
            CashierLine(
                cid, names.get(cid, cid), n, amount, cash, issued, spent, per_mall.get(cid, 0)
            )
        )
    cashiers.sort(key=lambda c: (-c.amount_fen, c.name))
    return tuple(cashiers)


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
    last = report_store.last_shift_close(session, ctx.till_id)
    # The first shift of the till starts at midnight (inclusive); a later one right
    # after the previous close (exclusive: what the close counted is not counted again).
    opened = day_start(ctx.rules, local_date(ctx.rules, now)) if last is None else last
    figures = report_store.shift_cash(session, ctx.till_id, opened, now, inclusive=last is None)
    return ShiftFigures(opened, now, *figures)


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
        report_store.add_shift_close(session, row)
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
