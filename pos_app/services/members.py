"""Member lookup (phone, last 4 digits, member code), registration and summaries.

A till holds its region's members. A member it does not hold is asked of HQ by phone
or member code (``ctx.fetch_member``, set up with the background sync) and kept from
then on. When HQ cannot be asked, a member code (its number checks out) still makes a
**provisional member** (id ``no-<member number>``): a sale to it earns points as a
regular member's and spends none, and HQ credits the points to the member the code
belongs to when the sale arrives there. The cashier is told why no balance is shown.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.core.calendar import in_birthday_window, is_member_day, local_date
from pos_app.core.codes import member_code, parse_member_code
from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.lots import ExpiringSoon, expiring_soon
from pos_app.core.notify import Consent
from pos_app.core.privacy import (
    last4,
    mask_phone,
    normalize_phone,
    phone_hash,
    phone_hint,
    placeholder_phone_hash,
)
from pos_app.core.quote import registration_bonus
from pos_app.core.tiers import TierProgress, progress, window_start_at
from pos_app.services import audit
from pos_app.services.context import FetchOutcome, TillContext
from pos_app.services.errors import ConflictError, UnknownMember
from pos_app.services.ledger import add_outbox, entry_payload, post_points
from pos_app.store import raw, repo
from pos_app.store.models import Member
from pos_app.store.repo import MemberRow
from pos_app.store.types import new_id

_REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


PROVISIONAL_PREFIX = "no-"
"""Id prefix of a provisional member: ``no-`` + the member number of a code."""


def is_provisional(member_id: str | None) -> bool:
    """True for a member known only by the number on a code scanned offline."""
    return bool(member_id) and str(member_id).startswith(PROVISIONAL_PREFIX)


def _ask_hq(ctx: TillContext, key: str, value: str | int) -> FetchOutcome:
    """Ask HQ for a member this till does not hold (``unknown`` without an HQ)."""
    return ctx.fetch_member(key, value) if ctx.fetch_member is not None else "unknown"


@dataclass(frozen=True)
class MemberHit:
    """One row of a last-4 search: enough to pick the right member, nothing more."""

    id: str
    member_no: int
    masked_phone: str
    name: str
    tier: str
    tier_name: str
    balance: int


@dataclass(frozen=True)
class MemberSummary:
    """What the member panel and the receipt show about a member."""

    id: str
    member_no: int
    code: str
    masked_phone: str
    name: str
    tier: str
    tier_name: str
    balance: int
    expiring: ExpiringSoon
    progress: TierProgress
    spend_12m_fen: int
    points_12m: int
    member_day: bool
    birthday: bool
    referral_code: str
    birthday_date: dt.date | None
    provisional: bool = False


def hit_of(ctx: TillContext, row: MemberRow, masked_phone: str | None = None) -> MemberHit:
    """What a lookup shows of a member (masked phone, tier name, balance)."""
    return MemberHit(
        row.id,
        row.member_no,
        row.phone_masked if masked_phone is None else masked_phone,
        row.name,
        row.tier,
        ctx.rules.tier_name(row.tier),
        row.balance,
    )


def find_by_phone(ctx: TillContext, raw_phone: str) -> MemberHit:
    """Exact lookup by a full phone number.

    Raises:
        InvalidInput: the number is malformed.
        UnknownMember: nobody has this number.
    """
    e164 = normalize_phone(raw_phone)
    digest = phone_hash(e164, ctx.phone_key)
    row = repo.member_by_phone_hash(ctx.db.raw_reader(), digest)
    if row is None and _ask_hq(ctx, "phone_hash", digest.hex()) == "fetched":
        row = repo.member_by_phone_hash(ctx.db.raw_reader(), digest)
    if row is None:
        raise UnknownMember(QT_TRANSLATE_NOOP("Errors", "No member has this phone number."))
    return hit_of(ctx, row, mask_phone(e164))


def find_by_last4(
    ctx: TillContext, digits: str, limit: int = 20, prefix: str = ""
) -> list[MemberHit]:
    """Members whose phone ends in ``digits``, most recently seen first; with ``prefix``
    (the first 3 digits, as the masked phone shows them: 138****1234) only those whose
    number starts with it (one index hit on the keyed hint of first 3 + last 4)."""
    digits, prefix = digits.strip(), prefix.strip()
    if len(digits) != 4 or not digits.isdigit():
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Enter the last 4 digits of the phone."))
    if prefix and (len(prefix) != 3 or not prefix.isdigit() or not prefix.startswith("1")):
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "A mobile number starts with 1 and 2 more digits.")
        )
    reader = ctx.db.raw_reader()
    hint = phone_hint(prefix, digits, ctx.db.phone.hint_key) if prefix else None
    if hint is not None:
        rows = repo.members_by_hint(reader, hint, limit)
    else:
        rows = repo.members_by_last4(reader, digits, limit)
    return [hit_of(ctx, r) for r in rows]


def find_by_code(ctx: TillContext, code: str) -> MemberHit:
    """Lookup by the static member card code (asked of HQ when not held here; a
    provisional member when HQ cannot be asked).

    Raises:
        InvalidCode: malformed or forged code.
        UnknownMember: a well-formed code of no member (here, and at HQ).
    """
    return hit_of(ctx, member_for_number(ctx, parse_member_code(code)))


def member_for_number(ctx: TillContext, member_no: int) -> MemberRow:
    """The member with number ``member_no`` (from a code whose check digit or signature
    holds): held here, fetched from HQ, or provisional while HQ cannot be asked.

    Raises:
        UnknownMember: no member has this number (HQ said so, or there is no HQ).
    """
    row = repo.member_by_no(ctx.db.raw_reader(), member_no)
    if row is not None:
        return row
    outcome = _ask_hq(ctx, "member_no", member_no)
    if outcome == "fetched":
        row = repo.member_by_no(ctx.db.raw_reader(), member_no)
    elif outcome == "unreachable":
        row = _provisional(ctx, member_no)
    if row is None:
        raise UnknownMember(QT_TRANSLATE_NOOP("Errors", "No member has this member code."))
    return row


def _provisional(ctx: TillContext, member_no: int) -> MemberRow:
    """A member known only by the number of a code, until HQ sends the member: no
    phone, a regular member's tier, no first purchase or birthday bonus to give."""
    now = ctx.now()
    member_id = f"{PROVISIONAL_PREFIX}{member_no}"
    with ctx.db.write() as session:
        if session.get(Member, member_id) is None:
            session.add(
                Member(
                    id=member_id,
                    member_no=member_no,
                    phone_hash=placeholder_phone_hash(member_id),
                    phone_last4="",
                    phone_masked="",
                    name="",
                    birthday=None,
                    tier=ctx.rules.tier_codes()[0],
                    tier_since=now,
                    referral_code=f"N{member_no}"[-16:],
                    referred_by=None,
                    registered_at=now,
                    registered_store=ctx.store_id,
                    first_purchase_at=now,
                    balance=0,
                    last_seen_at=now,
                )
            )
        row = repo.member_by_no(raw.dbapi(session), member_no)
    assert row is not None
    return row


def _summary(ctx: TillContext, session: Session, member: Member) -> MemberSummary:
    rules = ctx.rules
    now = ctx.now()
    today = local_date(rules, now)
    since = window_start_at(rules, now)
    spend = repo.spend_since(session, member.id, since)
    points = repo.purchase_points_since(session, member.id, since)
    lots = repo.open_lot_rows(session, member.id)
    return MemberSummary(
        id=member.id,
        member_no=member.member_no,
        code=member_code(member.member_no),
        masked_phone=member.phone_masked,
        name=member.name,
        tier=member.tier,
        tier_name=rules.tier_name(member.tier),
        balance=member.balance,
        expiring=expiring_soon(rules, lots, now),
        progress=progress(rules, member.tier, spend, points),
        spend_12m_fen=spend,
        points_12m=points,
        member_day=is_member_day(rules, today),
        birthday=in_birthday_window(member.birthday, today, "week"),
        referral_code=member.referral_code,
        birthday_date=member.birthday,
        provisional=is_provisional(member.id),
    )


def summary(ctx: TillContext, member_id: str) -> MemberSummary:
    """The member panel's figures for ``member_id``."""
    with ctx.db.read() as session:
        member = session.get(Member, member_id)
        if member is None:
            raise UnknownMember(QT_TRANSLATE_NOOP("Errors", "Unknown member."))
        return _summary(ctx, session, member)


def _referral_code() -> str:
    return "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(8))


def _registration_replayed(
    ctx: TillContext,
    session: Session,
    member: Member,
    digest: bytes,
    name: str,
    birthday: dt.date | None,
) -> MemberSummary:
    """The answer to a registration retried with its member id: the member as
    registered, if the retry asks for the same phone, name and birthday."""
    if (member.phone_hash, member.name, member.birthday) != (digest, name, birthday):
        raise ConflictError(
            QT_TRANSLATE_NOOP("Errors", "This member id was already used for another member.")
        )
    return _summary(ctx, session, member)


def consent_block(consent: Consent | None, at: dt.datetime) -> dict[str, object]:
    """The ``consent`` of a ``member_registered`` payload (none when not asked): choices,
    not personal data, so it may rest in the outbox."""
    if consent is None:
        return {}
    return {
        "consent": {
            "marketing": consent.marketing,
            "channels": sorted(consent.channels),
            "notify_earned": consent.notify_earned,
            "stated_at": at.isoformat(),
        }
    }


def register(
    ctx: TillContext,
    *,
    phone: str,
    name: str = "",
    birthday: dt.date | None = None,
    referral_code: str | None = None,
    actor_id: str = "",
    member_id: str | None = None,
    consent: Consent | None = None,
) -> MemberSummary:
    """Register a member at the counter: the member, the registration bonus and the
    outbox event in one transaction. ``consent`` is what the member chose on the
    register dialog (marketing, channels, notice of points earned); it travels to HQ in
    the event (no consent: HQ sends them nothing).

    A retry with the same ``member_id`` (the till died between the commit and the
    answer) is answered like the first registration, as sales and refunds are.

    Raises:
        InvalidInput: malformed phone, a birthday in the future, an unknown referral code.
        ConflictError: the phone is already registered, or ``member_id`` was used for
            another registration.
    """
    e164 = normalize_phone(phone)
    name = name.strip()
    if len(name) > 32:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "The name is too long (32 characters at most).")
        )
    now = ctx.now()
    rules = ctx.rules
    if birthday is not None and birthday > local_date(rules, now):
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "The birthday cannot be in the future."))
    digest = phone_hash(e164, ctx.phone_key)
    with ctx.db.write() as session:
        existing = session.get(Member, member_id) if member_id else None
        if existing is not None:
            return _registration_replayed(ctx, session, existing, digest, name, birthday)
        if session.scalars(select(Member.id).where(Member.phone_hash == digest)).first():
            raise ConflictError(
                QT_TRANSLATE_NOOP("Errors", "This phone number is already registered.")
            )
        referrer_id = None
        if referral_code:
            code = referral_code.strip().upper()
            referrer_id = session.scalars(
                select(Member.id).where(Member.referral_code == code)
            ).first()
            if referrer_id is None:
                raise InvalidInput(
                    QT_TRANSLATE_NOOP("Errors", "Unknown referral code {code}."), code=code
                )
        member = Member(
            id=member_id or new_id(),
            member_no=repo.next_member_no(session, ctx.member_no_base),
            phone_hash=digest,
            phone_last4=last4(e164),
            phone_masked=mask_phone(e164),
            name=name,
            birthday=birthday,
            tier=rules.tier_codes()[0],
            tier_since=now,
            referral_code=_referral_code(),
            referred_by=referrer_id,
            registered_at=now,
            registered_store=ctx.store_id,
            balance=0,
            last_seen_at=now,
        )
        session.add(member)
        session.flush()
        entries = []
        bonus = registration_bonus(rules)
        if bonus:
            entries.append(
                post_points(
                    session,
                    rules,
                    member,
                    kind="bonus",
                    points=bonus,
                    at=now,
                    actor_id=actor_id or None,
                    reason="registration",
                )
            )
        audit.record(
            session,
            at=now,
            actor_id=actor_id or "-",
            action="register",
            subject=member.id,
            detail="",
        )
        add_outbox(
            session,
            "member_registered",
            member.id,
            {
                "member": {
                    "id": member.id,
                    "member_no": member.member_no,
                    "phone_hash": digest.hex(),
                    # name, birthday, phone_last4, phone_masked: added from the member
                    # row when the event is pushed, never kept in the outbox (sync/push.py)
                    "referred_by": referrer_id,
                    "referral_code": member.referral_code,
                    "registered_at": now.isoformat(),
                    "store_id": ctx.store_id,
                },
                "entries": [entry_payload(e) for e in entries],
                **consent_block(consent, now),
            },
            now,
        )
        session.flush()
        return _summary(ctx, session, member)
