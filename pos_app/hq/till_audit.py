"""Tills' audit chains at HQ (the ``audit`` event of docs/sync.md).

Each till numbers and hash-chains its audit rows (:mod:`pos_app.core.audit`) and pushes
every row. HQ keeps them per till (``till_audit``) and checks each row as it arrives:

* its ``row_hash`` must recompute from its fields (else ``edited``: the till sent a row
  whose content was changed after it was hashed);
* it must follow the row HQ holds before it by exactly one (else ``missing``: rows
  were deleted on the till) and link to that row's hash (else ``relinked``: a row
  before it was replaced);
* a ``seq`` HQ holds already must come with the same hash (else ``rewritten``: the
  till's chain was rebuilt; HQ keeps the first row).

A row that does not hold is kept (with its ``problem``) and flagged for review
(``till_audit_break``) naming the till and the ``seq``: refusing it would only stop the
till's push, and the rows after it are evidence too. The first row HQ receives from a
till may start anywhere (a till older than HQ's support for the kind). Rows are
immutable at HQ (a trigger), and :func:`verify_tills` walks every chain again for
``pos-hq audit verify``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.core.audit import ChainBreak, row_hash, verify_chain
from pos_app.hq.book import TILL_AUDIT
from pos_app.hq.schemas import AuditPayload

FLAG = "till_audit_break"


@dataclass(frozen=True)
class Received:
    """What HQ made of one pushed row.

    Attributes:
        stored: False when HQ already held this row (the same ``seq`` and hash).
        problem: ``None`` when the chain holds, else what broke.
        detail: The figures a reviewer needs (expected seq or hash).
    """

    stored: bool
    problem: str | None
    detail: dict[str, Any]


def _fields(p: AuditPayload) -> dict[str, object]:
    return {
        "seq": p.seq,
        "id": p.id,
        "at": p.at,
        "actor_id": p.actor_id,
        "action": p.action,
        "subject": p.subject,
        "detail": p.detail,
    }


def check(session: Session, till_id: str, p: AuditPayload) -> Received:
    """Check ``p`` against the rows HQ holds for ``till_id`` (rows written earlier in
    this transaction included: the caller flushes before)."""
    t = TILL_AUDIT.c
    same = session.execute(
        select(t.row_hash).where(t.till_id == till_id, t.seq == p.seq)
    ).scalar_one_or_none()
    if same is not None:
        if same == p.row_hash:
            return Received(False, None, {})
        return Received(False, "rewritten", {"held_hash": same})
    if row_hash(_fields(p), p.prev_hash) != p.row_hash:
        return Received(True, "edited", {})
    before = session.execute(
        select(t.seq, t.row_hash)
        .where(t.till_id == till_id, t.seq < p.seq)
        .order_by(t.seq.desc())
        .limit(1)
    ).first()
    if before is None:
        later = session.execute(
            select(t.seq).where(t.till_id == till_id, t.seq > p.seq).limit(1)
        ).first()
        if later is not None:  # HQ holds later rows but none before this one
            return Received(True, "missing", {"before_seq": later.seq})
        return Received(True, None, {})
    if before.seq != p.seq - 1:
        return Received(True, "missing", {"first": before.seq + 1, "last": p.seq - 1})
    if before.row_hash != p.prev_hash:
        return Received(True, "relinked", {"expected_prev_hash": before.row_hash})
    return Received(True, None, {})


def row_values(
    till_id: str, p: AuditPayload, received_at: dt.datetime, problem: str | None
) -> dict[str, Any]:
    """The ``till_audit`` row of ``p``."""
    return {
        "till_id": till_id,
        "seq": p.seq,
        "row_id": p.id,
        "at": p.at,
        "actor_id": p.actor_id,
        "action": p.action,
        "subject": p.subject,
        "detail": p.detail,
        "prev_hash": p.prev_hash,
        "row_hash": p.row_hash,
        "received_at": received_at,
        "problem": problem,
    }


def _rows(session: Session, till_id: str, batch: int = 5000) -> Iterator[dict[str, object]]:
    t = TILL_AUDIT.c
    after = 0
    while True:
        rows = session.execute(
            select(TILL_AUDIT)
            .where(t.till_id == till_id, t.seq > after)
            .order_by(t.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield {
                "seq": row.seq,
                "id": row.row_id,
                "at": row.at,
                "actor_id": row.actor_id,
                "action": row.action,
                "subject": row.subject,
                "detail": row.detail,
                "prev_hash": row.prev_hash,
                "row_hash": row.row_hash,
            }
        after = rows[-1].seq


def verify_tills(session: Session) -> dict[str, list[ChainBreak]]:
    """Walk every till's chain as HQ holds it (from its first row HQ received): the
    breaks of each till that has any."""
    t = TILL_AUDIT.c
    found: dict[str, list[ChainBreak]] = {}
    for till_id in session.execute(select(t.till_id).distinct().order_by(t.till_id)).scalars():
        first = session.execute(
            select(t.seq, t.prev_hash).where(t.till_id == till_id).order_by(t.seq).limit(1)
        ).one()
        breaks = verify_chain(
            _rows(session, till_id), start_seq=first.seq, start_hash=first.prev_hash
        )
        if breaks:
            found[till_id] = breaks
    return found
