"""Posting points: one ledger entry, its lot moves and the cached balance, together.

Every use case that moves points calls :func:`post_points` inside its own transaction,
so a sale, its points and its outbox event commit or fail as one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from pos_app.core import entries
from pos_app.core.entries import check_sign
from pos_app.core.errors import QT_TRANSLATE_NOOP, InsufficientPoints
from pos_app.core.lots import credit, expiry_for, take_from_lots, take_up_to
from pos_app.core.rules import RuleSet
from pos_app.store import outbox
from pos_app.store.ledger import open_lot_rows, write_entry
from pos_app.store.members import MemberState
from pos_app.store.models import LedgerEntry, Member, OutboxEvent
from pos_app.store.types import new_id

ENTRY_KINDS = entries.ENTRY_KINDS
"""Every kind the till's ledger holds (``core.entries``; services.sync reads it here)."""

NO_FLOOR = -(10**15)
"""``allow_debt_to`` for entries HQ already applied: the till follows HQ's balance down."""


def post_points(
    session: Session,
    rules: RuleSet,
    member: Member | MemberState,
    *,
    kind: str,
    points: int,
    at: dt.datetime,
    sale_id: str | None = None,
    refund_id: str | None = None,
    actor_id: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    prefer_lots: Sequence[str] = (),
    credit_expiries: Sequence[tuple[int, dt.date | None]] | None = None,
    allow_debt_to: int | None = None,
    entry_id: str | None = None,
) -> LedgerEntry:
    """Write one ledger entry for ``member`` and move its lots.

    ``kind`` is one of ``core.entries.ENTRY_KINDS`` and ``points`` carry its sign
    (``core.entries.check_sign``: a ValueError otherwise). A credit first repays any debt, then opens lots (with the rule set's expiry, or the
    expiries given in ``credit_expiries``). A debit takes ``prefer_lots`` first, then the
    soonest-expiring lots; if the lots do not cover it, the balance may go down to
    ``allow_debt_to`` (a negative floor) or :class:`InsufficientPoints` is raised.
    """
    check_sign(kind, points)
    values: dict[str, Any] = {
        "id": entry_id or new_id(),
        "member_id": member.id,
        "kind": kind,
        "points": points,
        "created_at": at,
        "sale_id": sale_id,
        "refund_id": refund_id,
        "rule_set_version": rules.version,
        "actor_id": actor_id,
        "reason": reason,
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
    }
    # Rows go in as constant SQL on the session's connection (store.ledger.write_entry);
    # the entry returned is a plain, unattached object carrying the values written.
    new_lots: list[dict[str, Any]] = []
    lot_updates: list[tuple[str, int]] = []
    if points > 0:
        new_lots = _new_lots(rules, member, points, at, credit_expiries)
        moves = [
            {"entry_id": values["id"], "lot_id": lot["id"], "points": lot["points"]}
            for lot in new_lots
        ]
    else:
        lot_updates, taken = _lots_taken(session, member, -points, prefer_lots, allow_debt_to)
        moves = [{"entry_id": values["id"], "lot_id": lot_id, "points": -n} for lot_id, n in taken]
    # The cached balance moves in the same statement batch as its entry.
    balance = member.balance + points
    write_entry(
        session, values, new_lots=new_lots, lot_updates=lot_updates, moves=moves, balance=balance
    )
    if isinstance(member, Member):
        set_committed_value(member, "balance", balance)  # written above, not by a flush
    else:
        member.balance = balance
    return LedgerEntry(**values)


def _new_lots(
    rules: RuleSet,
    member: Member | MemberState,
    points: int,
    at: dt.datetime,
    credit_expiries: Sequence[tuple[int, dt.date | None]] | None,
) -> list[dict[str, Any]]:
    """The lots a credit opens once it repaid any debt: one with the rule set's expiry,
    or one per part of ``credit_expiries`` (when part of the credit repaid a debt, the
    last parts shrink first)."""
    lot_points, _repaid = credit(member.balance, points)
    if not lot_points:
        return []
    parts = credit_expiries or [(lot_points, expiry_for(rules, at))]
    excess = sum(p for p, _ in parts) - lot_points
    trimmed: list[tuple[int, dt.date | None]] = []
    for p, expires in reversed(list(parts)):
        cut = min(p, excess)
        excess -= cut
        if p - cut:
            trimmed.append((p - cut, expires))
    return [
        {
            "id": new_id(),
            "member_id": member.id,
            "points": p,
            "remaining": p,
            "earned_at": at,
            "expires_on": expires,
        }
        for p, expires in reversed(trimmed)
    ]


def _lots_taken(
    session: Session,
    member: Member | MemberState,
    need: int,
    prefer_lots: Sequence[str],
    allow_debt_to: int | None,
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(lot id, new remaining) of the lots a debit of ``need`` points draws from, and
    (lot id, points taken): ``prefer_lots`` first, then the soonest-expiring.

    Raises:
        InsufficientPoints: the lots do not cover it and the balance may not go down to
            ``allow_debt_to``.
    """
    lots = open_lot_rows(session, member.id)
    remaining = {lot.lot_id: lot.remaining for lot in lots}
    if allow_debt_to is None:
        takes = take_from_lots(lots, need, prefer_lots)
    else:
        if member.balance - need < allow_debt_to:
            raise InsufficientPoints(
                QT_TRANSLATE_NOOP(
                    "Errors", "Not enough points: {points} needed, {available} available."
                ),
                points=need,
                available=max(member.balance, 0),
            )
        takes, _shortfall = take_up_to(lots, need, prefer_lots)
    updates = [(take.lot_id, remaining[take.lot_id] - take.points) for take in takes]
    return updates, [(take.lot_id, take.points) for take in takes]


def add_outbox(
    session: Session, kind: str, aggregate_id: str, payload: dict[str, Any], at: dt.datetime
) -> OutboxEvent:
    """Queue an event for HQ in the caller's transaction."""
    return outbox.add_event(
        session,
        event_id=new_id(),
        kind=kind,
        aggregate_id=aggregate_id,
        payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
        at=at,
    )


def entry_payload(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as it travels to HQ."""
    return {
        "id": entry.id,
        "member_id": entry.member_id,
        "kind": entry.kind,
        "points": entry.points,
        "created_at": entry.created_at.isoformat(),
        "sale_id": entry.sale_id,
        "refund_id": entry.refund_id,
        "rule_set_version": entry.rule_set_version,
        "actor_id": entry.actor_id,
        "reason": entry.reason,
    }
