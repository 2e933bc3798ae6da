"""Member codes at HQ: a member's current code (the member app, ``pos-hq member-code``)
and each code's single use across every till.

An online till reports each scanned code (``POST /v1/member-codes/uses``) before it
accepts it: the first report wins, a second one anywhere is refused (409
``code_used``). An offline till accepts the code alone (its own replay cache stops a
second scan there) and its sale names the code (``sale.member_code``); when the sale is
pushed HQ records the use, and flags ``member_code_replayed`` if another till or
channel used that code first. A replay across tills is so bounded by the code's
lifetime (at most 10 minutes) and never goes unnoticed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pos_app.core.errors import InvalidCode
from pos_app.core.member_codes import DEFAULT_LIFETIME, TrustedKey, verify_dynamic_code
from pos_app.hq.book import CODE_USES
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, NotFound
from pos_app.hq.keys import MasterKey, SignedCode, sign_member_code
from pos_app.hq.ledger import resolve_member
from pos_app.hq.models import Member, MemberCodeKey, MemberCodeUse, MemberNumber
from pos_app.hq.security import Principal


class CodeUsed(Conflict):
    """The member code was already used (at another till, or by another sale)."""

    code = "code_used"


class CodeRefused(BadRequest):
    """A member code HQ does not accept (damaged, forged, expired, revoked key...)."""

    code = "invalid_code"


def trusted_keys(session: Session) -> dict[int, TrustedKey]:
    """Every key HQ ever made, as a till holds them (revoked ones included)."""
    return {
        row.key_id: TrustedKey(
            bytes(row.public_key), row.not_before, row.not_after, row.revoked_at is not None
        )
        for row in session.scalars(select(MemberCodeKey))
    }


def code_for_member(
    db: HQDatabase,
    master: MasterKey | None,
    member_ref: str,
    now: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> SignedCode:
    """A fresh code for the member ``member_ref`` (an id, or an alias of the member).

    Raises:
        NotFound: no such member, or the member has no member number.
        NoSigningKey: HQ cannot sign now.
    """
    with db.read() as s:
        member = resolve_member(s, member_ref)
        if member is None:
            raise NotFound(f"no member {member_ref}")
        if member.member_no is None:
            raise NotFound(f"member {member.id} has no member number yet")
        return sign_member_code(s, master, int(member.member_no), now, lifetime)


def member_no_of(db: HQDatabase, text: str) -> int | None:
    """The member number of a member id, a card code (M…) or a member number HQ holds."""
    from pos_app.core.codes import parse_member_code

    value = text.strip()
    with db.read() as s:
        if value.isdigit():
            found = s.scalar(
                select(MemberNumber.member_no).where(MemberNumber.member_no == int(value))
            )
            return int(found) if found is not None else None
        try:
            number = parse_member_code(value)
        except InvalidCode:
            member = resolve_member(s, value)
            return int(member.member_no) if member is not None and member.member_no else None
        found = s.scalar(select(MemberNumber.member_no).where(MemberNumber.member_no == number))
        return int(found) if found is not None else None


def record_use(db: HQDatabase, principal: Principal, text: str, now: dt.datetime) -> dict[str, Any]:
    """Verify a scanned code with HQ's keys and record its one use (the same caller
    reporting it again, a retry after a lost answer, gets the same answer).

    Raises:
        CodeRefused: HQ does not accept the code.
        CodeUsed: it was used before (anywhere).
    """
    with db.transaction() as s:
        try:
            verified = verify_dynamic_code(text, trusted_keys(s), now)
        except InvalidCode as exc:
            raise CodeRefused(f"HQ refuses this member code: {exc}") from None
        row = {
            "nonce": verified.nonce,
            "key_id": verified.key_id,
            "member_no": verified.member_no,
            "principal": principal.key,
            "sale_id": None,
            "used_at": now,
            "expires_at": verified.expires_at,
            "received_at": now,
        }
        table = CODE_USES
        dialect_insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        inserted = s.execute(
            dialect_insert(table).values(**row).on_conflict_do_nothing().returning(table.c.nonce)
        ).first()
        first = s.get(MemberCodeUse, verified.nonce) if inserted is None else None
        if first is not None and first.principal != principal.key:
            raise CodeUsed(
                "this member code was already used: ask the member to refresh it in the app",
                used_at=first.used_at.isoformat(),
                used_by=first.principal,
            )
        member_id = s.scalar(
            select(Member.id)
            .join(MemberNumber, MemberNumber.member_id == Member.id)
            .where(MemberNumber.member_no == verified.member_no, Member.alias_of.is_(None))
        )
        return {
            "nonce": verified.nonce,
            "member_no": verified.member_no,
            "member_id": member_id,
            "expires_at": verified.expires_at.isoformat(),
            "replayed": first is not None,  # this caller's retry: the same answer
        }
