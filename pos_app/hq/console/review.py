"""The review queue: flagged records, adjustments held for review, refused till writes.

A flag is **approved** (HQ accepts what happened as it is) or **reversed**: an HQ
adjustment through :func:`pos_app.hq.admin.adjust` (the path every HQ correction takes:
the balance floor, the audit trail, every till pulls it) moves the points back; its id
is derived from the flag, so doing it twice moves the points once. Either way the flag
is resolved and the decision kept (``console_flag_decisions``). Held adjustments are
decided by :func:`pos_app.hq.adjustments.decide_review` (a rejection posts and reverses).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.hq import audit
from pos_app.hq.admin import adjust
from pos_app.hq.console.models import FlagDecision
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, NotFound
from pos_app.hq.models import AuditRecord, FlaggedRecord
from pos_app.hq.schemas import AdjustmentIn
from pos_app.hq.security import Principal, derived_id

QUEUE_ROWS = 200


def open_flags(db: HQDatabase) -> list[dict[str, Any]]:
    """Unresolved flags, oldest first, with a suggested reversal where HQ knows one."""
    with db.read() as s:
        rows = s.scalars(
            select(FlaggedRecord)
            .where(FlaggedRecord.resolved_at.is_(None))
            .order_by(FlaggedRecord.id)
            .limit(QUEUE_ROWS)
        )
        return [_flag(f) for f in rows]


def _flag(f: FlaggedRecord) -> dict[str, Any]:
    detail = json.loads(json.dumps(f.detail, default=str))
    return {
        "id": f.id,
        "kind": f.kind,
        "member_id": f.member_id,
        "principal": f.principal,
        "subject_id": f.subject_id,
        "detail": detail,
        "created_at": f.created_at,
        "suggested": suggested_points(f.kind, detail),
    }


def suggested_points(kind: str, detail: dict[str, Any]) -> int | None:
    """The points a reversal of this flag would move, when HQ can tell."""
    if kind == "requote_mismatch" and isinstance(detail.get("points_earned"), dict):
        earned = detail["points_earned"]
        diff = int(earned.get("hq", 0)) - int(earned.get("till", 0))
        return diff or None
    if kind == "large_adjustment" and isinstance(detail.get("points"), int):
        return -int(detail["points"]) or None
    return None


def decided_flags(db: HQDatabase, limit: int = 50) -> list[dict[str, Any]]:
    """The newest decisions."""
    with db.read() as s:
        rows = s.execute(
            select(FlagDecision, FlaggedRecord.kind)
            .join(FlaggedRecord, FlaggedRecord.id == FlagDecision.flag_id)
            .order_by(FlagDecision.decided_at.desc(), FlagDecision.flag_id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "flag_id": d.flag_id,
                "kind": kind,
                "decision": d.decision,
                "points": d.points,
                "entry_id": d.entry_id,
                "note": d.note,
                "decided_by": d.decided_by,
                "decided_at": d.decided_at,
            }
            for d, kind in rows
        ]


def refused_writes(db: HQDatabase, limit: int = 50) -> list[dict[str, Any]]:
    """The newest till and channel writes HQ refused (from the audit trail)."""
    with db.read() as s:
        rows = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "request.refused")
            .order_by(AuditRecord.seq.desc())
            .limit(limit)
        )
        return [{"seq": r.seq, "at": r.at, "actor": r.actor, "detail": r.detail} for r in rows]


def _open_flag(s: Session, flag_id: int) -> FlaggedRecord:
    flag = s.get(FlaggedRecord, flag_id)
    if flag is None:
        raise NotFound(f"no flag {flag_id}")
    if flag.resolved_at is not None:
        raise Conflict(f"flag {flag_id} was already resolved")
    return flag


def approve_flag(db: HQDatabase, flag_id: int, note: str, now: dt.datetime, *, actor: str) -> None:
    """Accept a flagged record as it is.

    Raises:
        NotFound: no such flag.
        Conflict: already resolved.
    """
    with db.write() as s:
        flag = _open_flag(s, flag_id)
        _decide(s, flag, "approved", None, None, note, now, actor)


def reverse_flag(
    db: HQDatabase, flag_id: int, points: int, note: str, now: dt.datetime, *, actor: str
) -> str:
    """Move ``points`` for the flag's member by an HQ adjustment and resolve the flag;
    returns the adjustment's entry id.

    Raises:
        NotFound: no such flag.
        Conflict: already resolved, or the balance floor.
        BadRequest: the flag names no member, no points, or no reason.
    """
    if not note.strip():
        raise BadRequest("a reversal needs a reason")
    with db.read() as s:
        flag = _open_flag(s, flag_id)
        member_id = flag.member_id
    if member_id is None:
        raise BadRequest(f"flag {flag_id} names no member: there is nothing to reverse")
    if points == 0:
        raise BadRequest("a reversal moves points: points must not be 0")
    entry_id = derived_id("console-reversal", str(flag_id))
    body = AdjustmentIn(
        id=entry_id,
        member_id=member_id,
        points=points,
        reason=f"flag {flag_id} reversed at HQ: {note.strip()}"[:500],
    )
    who = Principal("console", actor.removeprefix("console:"))
    adjust(db, who, body, now)
    with db.write() as s:
        flag = _open_flag(s, flag_id)
        _decide(s, flag, "reversed", entry_id, points, note, now, actor)
    return entry_id


def _decide(
    s: Any,
    flag: FlaggedRecord,
    decision: str,
    entry_id: str | None,
    points: int | None,
    note: str,
    now: dt.datetime,
    actor: str,
) -> None:
    flag.resolved_at = now
    s.add(
        FlagDecision(
            flag_id=flag.id,
            decision=decision,
            entry_id=entry_id,
            points=points,
            note=note.strip()[:500],
            decided_by=actor,
            decided_at=now,
        )
    )
    s.flush()
    audit.record(
        s,
        now,
        actor,
        f"flag.{decision}",
        str(flag.id),
        kind=flag.kind,
        points=points,
        entry_id=entry_id,
    )
