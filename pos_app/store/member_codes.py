"""Member codes: the uses of dynamic member codes this till accepted (the replay cache)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pos_app.store.models import Member, MemberCodeUse


def code_used(session: Session, nonce: str) -> bool:
    """True when a code with this nonce was accepted here already."""
    return session.get(MemberCodeUse, nonce) is not None


def forget_uses_before(session: Session, cutoff: dt.datetime) -> None:
    """Drop the uses of codes that expired before ``cutoff``."""
    session.execute(delete(MemberCodeUse).where(MemberCodeUse.expires_at < cutoff))


def remember_use(
    session: Session,
    *,
    nonce: str,
    key_id: int,
    member_no: int,
    expires_at: dt.datetime,
    used_at: dt.datetime,
) -> None:
    """Record a code's use (a unique nonce: a second use fails at the flush)."""
    session.add(
        MemberCodeUse(
            nonce=nonce, key_id=key_id, member_no=member_no, expires_at=expires_at, used_at=used_at
        )
    )


def latest_use_of_member(session: Session, member_id: str, since: dt.datetime) -> Any | None:
    """(nonce, key_id, expires_at) of the member's latest code use since ``since``, or None."""
    return session.execute(
        select(MemberCodeUse.nonce, MemberCodeUse.key_id, MemberCodeUse.expires_at)
        .join(Member, Member.member_no == MemberCodeUse.member_no)
        .where(Member.id == member_id, MemberCodeUse.used_at >= since)
        .order_by(MemberCodeUse.used_at.desc())
        .limit(1)
    ).first()
