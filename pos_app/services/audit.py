"""The till's audit trail: every row numbered, hash-chained and queued for HQ.

:func:`record` is the only writer of ``audit_log``: it takes the next number and the
last row's hash in the caller's transaction (writes are serialised by ``BEGIN
IMMEDIATE``), computes the row's hash (``core.audit``) and queues an ``audit`` outbox
event carrying the row and its hashes (docs/sync.md). :func:`check_chain` is what
``pos-app check`` runs: the chain, and the triggers that keep rows immutable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from pos_app.core.audit import GENESIS, ChainBreak, row_hash, verify_chain
from pos_app.services.context import TillContext
from pos_app.services.ledger import add_outbox
from pos_app.store import users as user_store
from pos_app.store.models import IMMUTABLE_TABLES, AuditLog
from pos_app.store.types import new_id, to_db_time

AUDIT_TRIGGERS = (
    *(f"trg_{table}_no_{action}" for table in IMMUTABLE_TABLES for action in ("update", "delete")),
    "trg_audit_log_chain",
)
"""Triggers ``pos-app check`` expects: immutability of the ledger tables and the chain."""


def record(
    session: Session,
    *,
    at: dt.datetime,
    actor_id: str,
    action: str,
    subject: str,
    detail: str | Mapping[str, Any] = "",
) -> AuditLog:
    """Write one audit row (chained) and its ``audit`` outbox event, in the caller's
    transaction. ``detail`` is text or a dict (stored as compact JSON); it never holds
    a phone number, a name or a PIN."""
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    last = user_store.last_audit_link(session)
    seq, prev = (1, GENESIS) if last is None else (last[0] + 1, last[1])
    fields = {
        "seq": seq,
        "id": new_id(),
        "at": to_db_time(at),
        "actor_id": actor_id or "-",
        "action": action,
        "subject": subject,
        "detail": text,
    }
    digest = row_hash(fields, prev)
    row = AuditLog(
        id=fields["id"],
        at=at,
        actor_id=fields["actor_id"],
        action=action,
        subject=subject,
        detail=text,
        seq=seq,
        prev_hash=prev,
        row_hash=digest,
    )
    user_store.add_audit_row(session, row)  # chained before the next one is numbered
    add_outbox(session, "audit", row.id, audit_payload(fields, prev, digest), at)
    return row


def audit_payload(fields: Mapping[str, object], prev_hash: str, digest: str) -> dict[str, Any]:
    """The ``audit`` event's payload (docs/sync.md): the row as hashed and its hashes."""
    return {**fields, "prev_hash": prev_hash, "row_hash": digest}


def check_chain(ctx: TillContext) -> list[str]:
    """Problems with the audit trail, one line each (empty: the chain holds and every
    immutability trigger is in place)."""
    conn = ctx.db.raw_reader()
    present = user_store.trigger_names(conn)
    problems = [f"trigger {name} is missing" for name in AUDIT_TRIGGERS if name not in present]
    problems += [
        f"audit row {row_id} is outside the chain (no number)"
        for row_id in user_store.unchained_audit_ids(conn)
    ]
    breaks: list[ChainBreak] = verify_chain(user_store.audit_chain(conn))
    return problems + [b.describe() for b in breaks]
