"""Manual adjustments (manager only, with a reason, audited) and the local expiry run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.lots import due_for_expiry
from pos_app.services import audit
from pos_app.services.auth import verify_manager
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.ledger import add_outbox, entry_payload, post_points
from pos_app.store import ledger as ledger_store
from pos_app.store import members as member_store

MAX_ADJUSTMENT = 100_000


@dataclass(frozen=True)
class AdjustmentResult:
    """A committed adjustment."""

    entry_id: str
    balance_after: int


def adjust_points(
    ctx: TillContext,
    *,
    member_id: str,
    points: int,
    reason: str,
    manager_id: str,
    manager_pin: str,
) -> AdjustmentResult:
    """Add or remove points by hand. The balance never goes below zero this way."""
    approver = verify_manager(ctx, manager_id, manager_pin)
    reason = require_reason(reason)
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "An adjustment moves a whole number of points, not zero.")
        )
    if abs(points) > MAX_ADJUSTMENT:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "An adjustment is at most {max} points."),
            max=MAX_ADJUSTMENT,
        )
    now = ctx.now()
    with ctx.db.write() as session:
        member = member_store.get_member(session, member_id)
        if member is None:
            raise UnknownMember(QT_TRANSLATE_NOOP("Errors", "Unknown member."))
        entry = post_points(
            session,
            ctx.rules,
            member,
            kind="adjust",
            points=points,
            at=now,
            actor_id=approver.id,
            reason=reason,
        )
        audit.record(
            session,
            at=now,
            actor_id=approver.id,
            action="adjust",
            subject=member.id,
            detail=f"{points:+d}: {reason}",
        )
        add_outbox(session, "adjustment", entry.id, {"entries": [entry_payload(entry)]}, now)
        return AdjustmentResult(entry.id, member.balance)


def run_expiry(ctx: TillContext, now: dt.datetime | None = None, batch: int = 1000) -> int:
    """Expire every lot whose last valid day has passed. Returns points expired.

    Running it twice changes nothing the second time.
    """
    now = now or ctx.now()
    total = 0
    while True:
        with ctx.db.write() as session:
            today = now.astimezone(ctx.rules.zone).date()
            member_ids = ledger_store.members_with_expired_lots(session, today, batch)
            if not member_ids:
                return total
            for member_id in member_ids:
                member = member_store.get_member(session, member_id)
                assert member is not None
                due = due_for_expiry(ctx.rules, ledger_store.open_lot_rows(session, member_id), now)
                points = sum(lot.remaining for lot in due)
                if not points:
                    continue
                entry = post_points(
                    session,
                    ctx.rules,
                    member,
                    kind="expire",
                    points=-points,
                    at=now,
                    prefer_lots=[lot.lot_id for lot in due],
                    reason="expiry",
                )
                add_outbox(session, "expiry", entry.id, {"entries": [entry_payload(entry)]}, now)
                total += points


def require_reason(reason: str) -> str:
    """A non-empty reason (adjustments and overrides)."""
    if not reason.strip():
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "A reason is required."))
    return reason.strip()
