"""Members in the console: find one, show them, export their data, erase the person.

Look-ups use HQ's directories, never a scan of the partitioned members table: a phone
number is normalised and hashed with HQ's phone key exactly as a till does
(:func:`pos_app.core.privacy.phone_hash`) and found in ``member_phones``; a member
number or a static card code (``M…``) in ``member_numbers``; anything else is taken as
a member id.

Erasure (PIPL): the name, birthday and the phone's hash, last digits and mask are
removed from the member and its aliases, and the phone leaves the directory, so the
number finds nobody; the ledger, lots and sales stay, so every figure stays. The member
rows are re-published: tills pull the erased record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pos_app.core.codes import parse_member_code
from pos_app.core.errors import InvalidCode, InvalidInput
from pos_app.core.privacy import normalize_phone, phone_hash
from pos_app.hq import audit
from pos_app.hq.console.models import TierChange
from pos_app.hq.database import PHONE_KEY, HQDatabase
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.ledger import open_lots, resolve_member
from pos_app.hq.models import (
    Coupon,
    LedgerEntry,
    Member,
    MemberNumber,
    MemberPhone,
    PointLot,
    Redemption,
    Sale,
)

LEDGER_ROWS = 200
ERASED_MASK = "-"


def _looks_like_phone(text: str) -> bool:
    """Member numbers have at most 10 digits; a mobile number has 11 (and may say +86)."""
    digits = sum(ch.isdigit() for ch in text)
    spelled = all(ch.isdigit() or ch in " -+()（）－＋" for ch in text)
    return spelled and (digits >= 11 or text.startswith("+"))


def find_member(db: HQDatabase, query: str) -> str | None:
    """The canonical member id ``query`` names (phone, member number, card code or id).

    Raises:
        BadRequest: empty, or a phone number that is not a mobile number.
    """
    text = query.strip()
    if not text or len(text) > 64:
        raise BadRequest("type a phone number, a member number, a member code or an id")
    with db.read() as s:
        member_id = _lookup(s, db, text)
        member = resolve_member(s, member_id) if member_id else None
        return member.id if member is not None else None


def _lookup(s: Session, db: HQDatabase, text: str) -> str | None:
    if _looks_like_phone(text):
        try:
            e164 = normalize_phone(text)
        except InvalidInput:
            raise BadRequest("not a valid mobile phone number") from None
        key = db.setting(PHONE_KEY)
        assert key is not None
        return s.scalar(
            select(MemberPhone.member_id).where(
                MemberPhone.phone_hash == phone_hash(e164, bytes.fromhex(key))
            )
        )
    number: int | None = None
    if text.isdigit():
        number = int(text)
    elif text[:1] in "Mm":
        try:
            number = parse_member_code(text)
        except InvalidCode:
            number = None
    if number is not None:
        if number >= 2**63:
            return None
        return s.scalar(select(MemberNumber.member_id).where(MemberNumber.member_no == number))
    return text


def member_page(db: HQDatabase, member_id: str) -> dict[str, Any]:
    """A member with their newest ledger entries, open lots, aliases and tier history
    (as the jobs' summary refresh recorded it: :mod:`pos_app.hq.console.summaries`).

    Raises:
        NotFound: no such member.
    """
    with db.read() as s:
        member = resolve_member(s, member_id)
        if member is None:
            raise NotFound(f"no member {member_id}")
        entries = s.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.member_id == member.id)
            .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
            .limit(LEDGER_ROWS)
        ).all()
        aliases = list(s.scalars(select(Member.id).where(Member.alias_of == member.id)))
        lots = open_lots(s, member.id)
        tiers = s.execute(
            select(TierChange.at, TierChange.member_id, TierChange.from_tier, TierChange.to_tier)
            .where(TierChange.member_id.in_([member.id, *aliases]))
            .order_by(TierChange.at, TierChange.seq)
        ).all()
        s.expunge_all()  # read on after the transaction ends
        return {
            "member": member,
            "entries": list(entries),
            "lots": lots,
            "aliases": aliases,
            "tier_history": [dict(row._mapping) for row in tiers],
            "erased": member.phone_masked == ERASED_MASK,
        }


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_member(
    db: HQDatabase, member_id: str, now: dt.datetime, *, actor: str
) -> dict[str, Any]:
    """Everything HQ holds about a member (their PIPL access request), audited.

    Raises:
        NotFound: no such member.
    """
    with db.write() as s:
        member = resolve_member(s, member_id)
        if member is None:
            raise NotFound(f"no member {member_id}")
        ids = [member.id, *s.scalars(select(Member.id).where(Member.alias_of == member.id))]
        data = {
            "exported_at": now.isoformat(),
            "member": _member_json(member),
            "aliases": ids[1:],
            "ledger": [_entry_json(e) for e in _rows(s, LedgerEntry, ids, LedgerEntry.created_at)],
            "lots": [_lot_json(lot) for lot in _rows(s, PointLot, ids, PointLot.earned_at)],
            "sales": [_sale_json(sale) for sale in _rows(s, Sale, ids, Sale.created_at)],
            "redemptions": [
                {
                    "id": r.id,
                    "item_id": r.item_id,
                    "quantity": r.quantity,
                    "points": r.points,
                    "cash_fen": r.cash_fen,
                    "created_at": _iso(r.created_at),
                }
                for r in _rows(s, Redemption, ids, Redemption.created_at)
            ],
            "coupons": [
                {
                    "code": c.code,
                    "name": c.name,
                    "valid_to": _iso(c.valid_to),
                    "used_at": _iso(c.used_at),
                }
                for c in _rows(s, Coupon, ids, Coupon.issued_at)
            ],
        }
        audit.record(s, now, actor, "member.export", member.id, entries=len(data["ledger"]))
        return data


def _rows(s: Session, model: Any, ids: list[str], order: Any) -> list[Any]:
    rows: list[Any] = []
    for mid in ids:  # one partition at a time
        rows += s.scalars(select(model).where(model.member_id == mid).order_by(order)).all()
    return rows


def _member_json(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "member_no": m.member_no,
        "phone": m.phone_masked,
        "name": m.name,
        "birthday": _iso(m.birthday),
        "tier": m.tier,
        "tier_since": _iso(m.tier_since),
        "registered_at": _iso(m.registered_at),
        "registered_channel": m.registered_channel,
        "registered_store": m.registered_store,
        "balance": m.balance,
        "referral_code": m.referral_code,
    }


def _entry_json(e: LedgerEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "points": e.points,
        "created_at": _iso(e.created_at),
        "store": e.store_code,
        "channel": e.source_channel,
        "sale_id": e.sale_id,
        "reason": e.reason,
    }


def _lot_json(lot: PointLot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "points": lot.points,
        "remaining": lot.remaining,
        "earned_at": _iso(lot.earned_at),
        "expires_on": _iso(lot.expires_on),
    }


def _sale_json(sale: Sale) -> dict[str, Any]:
    return {
        "id": sale.id,
        "receipt_no": sale.receipt_no,
        "store": sale.store_code,
        "created_at": _iso(sale.created_at),
        "total_fen": sale.total_fen,
        "points_used": sale.points_used,
        "points_earned": sale.points_earned,
    }


def erase_member(
    db: HQDatabase, member_id: str, confirm: str, now: dt.datetime, *, actor: str
) -> None:
    """Erase the person (name, birthday, phone) and keep the ledger; audited.

    Raises:
        NotFound: no such member.
        BadRequest: ``confirm`` is not the member's id.
    """
    with db.write() as s:
        member = resolve_member(s, member_id)
        if member is None:
            raise NotFound(f"no member {member_id}")
        if confirm.strip() != member.id:
            raise BadRequest("type the member's id to confirm the erasure")
        people = [member, *s.scalars(select(Member).where(Member.alias_of == member.id))]
        for person in people:
            s.execute(delete(MemberPhone).where(MemberPhone.member_id == person.id))
            person.name, person.birthday = "", None
            person.phone_hash = hashlib.sha256(b"erased\n" + person.id.encode()).digest()
            person.phone_last4, person.phone_masked = "", ERASED_MASK
            person.updated_at = now
        s.flush()
        audit.record(s, now, actor, "member.erase", member.id, members=len(people))
