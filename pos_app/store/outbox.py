"""The outbox: events waiting for HQ, written in the same transaction as their change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pos_app.store import raw
from pos_app.store.models import OutboxEvent

PERSONAL_PATHS: dict[str, tuple[str, ...]] = {
    "member_registered": (
        "$.member.name",
        "$.member.birthday",
        "$.member.phone_masked",
        "$.member.phone_last4",
    ),
}
"""Per outbox event kind, the personal fields dropped once HQ has the event."""

SCRUB_SENT_SQL = tuple(
    f"UPDATE outbox SET payload = json_remove(payload, {', '.join(repr(p) for p in paths)}) "
    f"WHERE kind = '{kind}' AND sent_at IS NOT NULL"
    for kind, paths in PERSONAL_PATHS.items()
)
"""Statements dropping the personal fields of every acknowledged event (migration 0007)."""


def scrub_personal(session: Session, seqs: Sequence[int]) -> None:
    """Drop the personal fields (:data:`PERSONAL_PATHS`) of the outbox events ``seqs``
    (HQ acknowledged them), in the caller's transaction."""
    for kind, paths in PERSONAL_PATHS.items():
        marks = ", ".join("?" for _ in paths)
        raw.executemany(
            session,
            f"UPDATE outbox SET payload = json_remove(payload, {marks}) WHERE seq = ? AND kind = ?",
            [(*paths, seq, kind) for seq in seqs],
        )


AUDIT_KIND = "audit"
"""Outbox kind of the audit chain's events: they wait apart from the ledger's (an HQ that
does not take them yet holds nothing else up) and are not counted as pending sync."""


def pending_outbox(session: Session) -> int:
    """Ledger events waiting for HQ (audit events left out: :func:`pending_audit`)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None), OutboxEvent.kind != AUDIT_KIND)
        ).scalar_one()
    )


def pending_audit(session: Session) -> int:
    """Audit rows whose hashes HQ has not acknowledged yet."""
    return int(
        session.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None), OutboxEvent.kind == AUDIT_KIND)
        ).scalar_one()
    )


def add_event(
    session: Session, *, event_id: str, kind: str, aggregate_id: str, payload: str, at: dt.datetime
) -> OutboxEvent:
    """Queue an event for HQ in the caller's transaction (constant SQL: every checkout
    writes one); the object returned is unattached and carries the values written."""
    values: dict[str, Any] = {
        "id": event_id,
        "kind": kind,
        "aggregate_id": aggregate_id,
        "payload": payload,
        "created_at": at,
        "attempts": 0,
    }
    raw.insert_rows(session, OutboxEvent, [values])
    return OutboxEvent(**values)


def unsent_events(
    session: Session, limit: int, held: Sequence[str] | frozenset[str] = ()
) -> list[OutboxEvent]:
    """The oldest unsent events, in order (kinds in ``held`` left out)."""
    query = select(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
    if held:
        query = query.where(OutboxEvent.kind.not_in(list(held)))
    return list(session.scalars(query.order_by(OutboxEvent.seq).limit(limit)))


def count_attempt(session: Session, seqs: Sequence[int]) -> None:
    """One more push attempt for each of the events ``seqs``."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.seq.in_(list(seqs)))
        .values(attempts=OutboxEvent.attempts + 1)
    )


def mark_sent(session: Session, seq: int, at: dt.datetime) -> bool:
    """Mark the event acknowledged by HQ (error cleared); False when it was already."""
    done = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.seq == seq, OutboxEvent.sent_at.is_(None))
        .values(sent_at=at, last_error=None)
    )
    return bool(int(getattr(done, "rowcount", 1) or 0))


def set_error(session: Session, seq: int, message: str) -> None:
    """Record why an unsent event did not go through (cut to 2,000 characters)."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.seq == seq, OutboxEvent.sent_at.is_(None))
        .values(last_error=message[:2000])
    )


def unsent_payloads(session: Session) -> list[str]:
    """The payloads of the events HQ has not acknowledged."""
    return list(session.scalars(select(OutboxEvent.payload).where(OutboxEvent.sent_at.is_(None))))


def send_all_again(session: Session, note: str) -> None:
    """Mark every acknowledged event unsent again, with ``note`` as its last error."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.sent_at.is_not(None))
        .values(sent_at=None, last_error=note)
    )
