"""Posting points at HQ: one ledger entry, its lot moves and the cached balance, together.

HQ records facts: a debit the lots cannot cover leaves the balance negative (a debt that
the next credit repays first) instead of being refused; callers decide what to flag.
Spending takes the lots that expire soonest, as at the till (``pos_app.core.lots``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from pos_app.core import refunds as core_refunds
from pos_app.core.calendar import local_date
from pos_app.core.entries import PURCHASE_KINDS, purchase_points
from pos_app.core.lots import Lot, credit, expiry_for, take_up_to
from pos_app.core.refunds import SoldLine
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.core.tiers import RefundedLine, window_spend_fen
from pos_app.hq.errors import Conflict
from pos_app.hq.models import (
    LedgerEntry,
    LotMove,
    Member,
    PointLot,
    Refund,
    RefundLine,
    RuleSetVersion,
    Sale,
    SaleLine,
)


@dataclass(frozen=True)
class Origin:
    """Who wrote a movement, and when HQ received it.

    Attributes:
        source_channel: ``store``, a channel code, or ``hq``.
        store_code: The till's store, if any.
        till_id: The till, if any.
        event_id: The event that carried it.
        received_at: HQ's clock.
    """

    source_channel: str
    store_code: str | None
    till_id: str | None
    event_id: str | None
    received_at: dt.datetime


_rules_cache: dict[str, RuleSet] = {}


def rules_for(session: Session, version: str | None) -> RuleSet | None:
    """The published rule set ``version``, or None if HQ does not know it."""
    if version is None:
        return None
    row = session.get(RuleSetVersion, version)
    if row is None:
        return None
    rules = _rules_cache.get(row.document)  # keyed by the text: versions never change
    if rules is None:
        rules = _rules_cache[row.document] = load_rule_set(row.document)
    return rules


def active_rules(session: Session) -> RuleSet:
    """The rule set HQ applies today."""
    # One query for the document (every event asks); parsed once per distinct text.
    document = session.scalars(
        select(RuleSetVersion.document).where(RuleSetVersion.active.is_(True)).limit(1)
    ).first()
    if document is None:
        raise RuntimeError("HQ has no active rule set: run `pos-hq migrate`")
    rules = _rules_cache.get(document)
    if rules is None:
        rules = _rules_cache[document] = load_rule_set(document)
    return rules


def resolve_member(session: Session, member_id: str | None) -> Member | None:
    """The canonical member for ``member_id`` (following aliases), or None."""
    if member_id is None:
        return None
    member = session.get(Member, member_id)
    for _ in range(8):
        if member is None or member.alias_of is None:
            return member
        member = session.get(Member, member.alias_of)
    return member


def open_lots(session: Session, member_id: str) -> list[PointLot]:
    """Lots with points left, soonest expiry first."""
    return list(
        session.scalars(
            select(PointLot)
            .where(PointLot.member_id == member_id, PointLot.remaining > 0)
            .order_by(PointLot.expires_on.asc().nulls_last(), PointLot.id)
        )
    )


def as_core_lots(rows: Sequence[PointLot]) -> list[Lot]:
    """Rows as :class:`pos_app.core.lots.Lot`."""
    return [Lot(row.id, row.remaining, row.expires_on) for row in rows]


def as_sold_lines(rows: Iterable[SaleLine], done: Mapping[str, int]) -> list[SoldLine]:
    """Sale line rows as :class:`pos_app.core.refunds.SoldLine`, with the units ``done``
    already refunded (what :func:`refunded_quantities` returns)."""
    return [
        SoldLine(
            row.id,
            row.quantity,
            row.cash_fen or 0,
            row.points_used or 0,
            row.points_value_fen or 0,
            row.earn_points or 0,
            done.get(row.id, 0),
        )
        for row in rows
    ]


def same_entry(entry: LedgerEntry, member_id: str, kind: str, points: int) -> bool:
    """True when an existing entry records the same movement."""
    return entry.member_ref == member_id and entry.kind == kind and entry.points == points


def existing_entry(session: Session, entry_id: str, member_id: str, kind: str, points: int) -> bool:
    """True when ``entry_id`` is already recorded for the same movement.

    Raises:
        Conflict: the id is recorded for a different movement.
    """
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        return False
    if not same_entry(entry, member_id, kind, points):
        raise Conflict(
            f"ledger entry id {entry_id} is already recorded for another movement",
            entry_id=entry_id,
        )
    return True


def post_entry(
    session: Session,
    rules: RuleSet,
    member: Member,
    *,
    entry_id: str,
    kind: str,
    points: int,
    created_at: dt.datetime,
    origin: Origin,
    member_ref: str | None = None,
    sale_id: str | None = None,
    refund_id: str | None = None,
    rule_set_version: str | None = None,
    actor_id: str | None = None,
    reason: str | None = None,
    in_origin_ledger: bool = True,
    prefer_lots: Sequence[str] = (),
    credit_expiries: Sequence[tuple[int, dt.date | None]] | None = None,
) -> LedgerEntry:
    """Write one entry for ``member``, move its lots and its cached balance.

    A credit repays any debt first, then opens lots (expiring by ``rules`` from the
    earlier of ``created_at`` and HQ's clock, or as ``credit_expiries`` says). A debit
    takes ``prefer_lots`` first, then the soonest-expiring lots; what the lots cannot
    cover becomes debt.
    """
    if points == 0:
        raise ValueError("a ledger entry moves points")
    entry = LedgerEntry(
        id=entry_id,
        member_id=member.id,
        member_ref=member_ref or member.id,
        kind=kind,
        points=points,
        created_at=created_at,
        received_at=origin.received_at,
        source_channel=origin.source_channel,
        store_code=origin.store_code,
        till_id=origin.till_id,
        in_origin_ledger=in_origin_ledger,
        event_id=origin.event_id,
        sale_id=sale_id,
        refund_id=refund_id,
        rule_set_version=rule_set_version,
        actor_id=actor_id,
        reason=reason,
    )
    session.add(entry)
    session.flush()
    moves: list[LotMove] = []
    if points > 0:
        lot_points, _repaid = credit(member.balance, points)
        if lot_points:
            earned_at = min(created_at, origin.received_at)
            parts = list(credit_expiries or [(lot_points, expiry_for(rules, earned_at))])
            excess = sum(p for p, _ in parts) - lot_points
            trimmed: list[tuple[int, dt.date | None]] = []
            for p, expires in reversed(parts):
                cut = min(p, max(excess, 0))
                excess -= cut
                if p - cut > 0:
                    trimmed.append((p - cut, expires))
            for i, (p, expires) in enumerate(reversed(trimmed)):
                lot = PointLot(
                    id=f"{entry.id}.{i}",
                    member_id=member.id,
                    entry_id=entry.id,
                    points=p,
                    remaining=p,
                    earned_at=earned_at,
                    expires_on=expires,
                )
                session.add(lot)
                moves.append(LotMove(entry_id=entry.id, lot_id=lot.id, points=p))
    else:
        rows = open_lots(session, member.id)
        by_id = {row.id: row for row in rows}
        takes, _shortfall = take_up_to(as_core_lots(rows), -points, prefer_lots)
        for take in takes:
            by_id[take.lot_id].remaining -= take.points
            moves.append(LotMove(entry_id=entry.id, lot_id=take.lot_id, points=-take.points))
    session.flush()
    session.add_all(moves)
    member.balance += points
    member.updated_at = origin.received_at
    return entry


def due_points(session: Session, rules: RuleSet, member_id: str, now: dt.datetime) -> int:
    """Points in lots whose last valid day is before today (store-local)."""
    today = local_date(rules, now)
    return int(
        session.execute(
            select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
                PointLot.member_id == member_id,
                PointLot.remaining > 0,
                PointLot.expires_on < today,
            )
        ).scalar_one()
    )


def ledger_sum(session: Session, member_id: str) -> int:
    """Sum of the member's entries (equals its cached balance)."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id
            )
        ).scalar_one()
    )


def purchase_points_between(
    session: Session,
    member_ids: Sequence[str],
    since: dt.datetime,
    until: dt.datetime | None = None,
    exclude_sale: str | None = None,
) -> int:
    """Points earned by purchases made in [since, until), net of refunds, by a member
    under any of ``member_ids`` (the canonical id and its aliases), in one query
    (``core.entries.purchase_points``)."""
    query = (
        select(LedgerEntry.kind, func.sum(LedgerEntry.points))
        .join(Sale, Sale.id == LedgerEntry.sale_id)
        .where(
            LedgerEntry.member_id.in_(member_ids),
            LedgerEntry.kind.in_(PURCHASE_KINDS),
            Sale.created_at >= since,
        )
        .group_by(LedgerEntry.kind)
    )
    if until is not None:
        query = query.where(Sale.created_at < until)
    if exclude_sale is not None:
        query = query.where(Sale.id != exclude_sale)
    return purchase_points((kind, int(points)) for kind, points in session.execute(query))


def spend_since(session: Session, member_id: str, since: dt.datetime) -> int:
    """Spend (order totals, fen) since ``since``, net of what refunds gave back
    (``core.tiers.window_spend_fen``)."""
    sales = int(
        session.execute(
            select(func.coalesce(func.sum(Sale.total_fen), 0)).where(
                Sale.member_id == member_id, Sale.created_at >= since
            )
        ).scalar_one()
    )
    rows = session.execute(
        select(
            SaleLine.id,
            SaleLine.cash_fen,
            SaleLine.points_value_fen,
            SaleLine.quantity,
            RefundLine.quantity,
        )
        .join(RefundLine, RefundLine.sale_line_id == SaleLine.id)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.member_id == member_id, Sale.created_at >= since)
    ).all()
    refunded = (
        RefundedLine(line_id, cash or 0, value or 0, sold, qty)
        for line_id, cash, value, sold, qty in rows
    )
    return window_spend_fen(sales, refunded)


def refunded_quantities(session: Session, sale_id: str) -> dict[str, int]:
    """Units already refunded per sale line (``core.refunds.refunded_quantities``)."""
    rows = session.execute(
        select(RefundLine.sale_line_id, RefundLine.quantity)
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.sale_id == sale_id)
    ).all()
    return core_refunds.refunded_quantities((line_id, qty) for line_id, qty in rows)


def spend_moves_of_sale(session: Session, sale_id: str) -> list[tuple[str, int]]:
    """(lot id, points taken) of the sale's spend entries, in order."""
    rows = session.execute(
        select(LotMove.lot_id, LotMove.points)
        .join(LedgerEntry, LedgerEntry.id == LotMove.entry_id)
        .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "spend")
        .order_by(LotMove.id)
    ).all()
    return [(lot_id, -int(points)) for lot_id, points in rows]


def reversible_earned_points(session: Session, sale_id: str) -> int:
    """How many of the points the sale earned a refund may still take back: earned, less
    what refunds took back, less what expired from the lots the sale opened (as at the
    till: ``core.refunds.reversible_earned_points``)."""
    entries = session.execute(
        select(LedgerEntry.kind, LedgerEntry.points).where(LedgerEntry.sale_id == sale_id)
    ).all()
    mover = aliased(LedgerEntry)
    moves = session.execute(
        select(mover.kind, LotMove.points)
        .join(mover, mover.id == LotMove.entry_id)
        .where(LotMove.lot_id.in_(earn_lots_of_sale_query(sale_id)))
    ).all()
    return core_refunds.reversible_earned_points(
        ((kind, int(points)) for kind, points in entries),
        ((kind, int(points)) for kind, points in moves),
    )


def earn_lots_of_sale_query(sale_id: str) -> Select[Any]:
    """The ids of the lots the sale's earn entries opened, as a subquery."""
    return (
        select(PointLot.id)
        .join(LedgerEntry, LedgerEntry.id == PointLot.entry_id)
        .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "earn")
    )


def earn_lots_of_sale(session: Session, sale_id: str) -> list[str]:
    """Lots the sale's earn entries opened."""
    return list(session.scalars(earn_lots_of_sale_query(sale_id)))
