"""Members: the look-ups (constant SQL on the raw reader: the counter's hot path), the
row a sale reads and writes (:class:`MemberState`) and the other member queries.

Hot paths (member lookup by phone hash, by last 4 digits, by member number) run on the
thread's raw sqlite3 connection with constant SQL; a sale reads and writes its member on
the session's own connection (``store.raw``), inside the sale's transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pos_app.store import raw
from pos_app.store.models import Member
from pos_app.store.raw import from_db_date, update_row
from pos_app.store.types import from_db_time


@dataclass(frozen=True)
class MemberRow:
    """The columns a lookup returns (no phone: only its mask)."""

    id: str
    member_no: int
    phone_masked: str
    name: str
    tier: str
    balance: int


# The masked phone is stored sealed; ``phone_mask()`` (store.database) opens it.
_MEMBER_COLS = "id, member_no, phone_mask(phone_mask_sealed), name, tier, balance"
# The exact look-up knows the number, so it shows the mask made from it (no unsealing).
SQL_BY_HASH = "SELECT id, member_no, '', name, tier, balance FROM members WHERE phone_hash = ?"
SQL_BY_NO = f"SELECT {_MEMBER_COLS} FROM members WHERE member_no = ?"
SQL_BY_LAST4 = (
    f"SELECT {_MEMBER_COLS} FROM members WHERE phone_last4 = ? ORDER BY last_seen_at DESC LIMIT ?"
)
# First 3 + last 4 (138*1234): the keyed hint, one index hit on (phone_hint, last_seen_at).
SQL_BY_HINT = (
    f"SELECT {_MEMBER_COLS} FROM members WHERE phone_hint = ? ORDER BY last_seen_at DESC LIMIT ?"
)


def _row(r: tuple[str, int, str, str, str, int] | None) -> MemberRow | None:
    return None if r is None else MemberRow(*r)


def member_by_phone_hash(conn: sqlite3.Connection, digest: bytes) -> MemberRow | None:
    """Exact match on the keyed phone hash (``phone_masked`` left empty: the caller
    knows the number and masks it itself)."""
    return _row(conn.execute(SQL_BY_HASH, (digest,)).fetchone())


def member_by_no(conn: sqlite3.Connection, member_no: int) -> MemberRow | None:
    """Match on the member number (from a member code)."""
    return _row(conn.execute(SQL_BY_NO, (member_no,)).fetchone())


def members_by_last4(conn: sqlite3.Connection, last4: str, limit: int = 20) -> list[MemberRow]:
    """Members whose phone ends in ``last4``, most recently seen first."""
    return [MemberRow(*r) for r in conn.execute(SQL_BY_LAST4, (last4, limit)).fetchall()]


def members_by_hint(conn: sqlite3.Connection, hint: bytes, limit: int = 20) -> list[MemberRow]:
    """Members whose phone hint (first 3 + last 4 digits) is ``hint``, most recently
    seen first."""
    return [MemberRow(*r) for r in conn.execute(SQL_BY_HINT, (hint, limit)).fetchall()]


def member_by_no_in(session: Session, member_no: int) -> MemberRow | None:
    """:func:`member_by_no` in the session's transaction."""
    return member_by_no(raw.dbapi(session), member_no)


def member_id_with_phone_hash(session: Session, digest: bytes) -> str | None:
    """The id of the member registered with this phone hash, or None."""
    return session.scalars(select(Member.id).where(Member.phone_hash == digest)).first()


def member_id_with_referral_code(session: Session, code: str) -> str | None:
    """The id of the member whose referral code is ``code``, or None."""
    return session.scalars(select(Member.id).where(Member.referral_code == code)).first()


def has_members(session: Session) -> bool:
    """True when the till holds at least one member."""
    return session.scalars(select(Member.id).limit(1)).first() is not None


def get_member(session: Session, member_id: str | None) -> Member | None:
    """The member's ORM row (None for no id or an unknown one)."""
    return session.get(Member, member_id) if member_id else None


def add_member(session: Session, member: Member) -> None:
    """Add a new member row to the session (written with its flush)."""
    session.add(member)


@dataclass
class MemberState:
    """A member's row as a sale reads and changes it, loaded without the ORM (the
    checkout's hot path). Write changes back with :func:`save_member_state`; the
    balance is written by ``services.ledger.post_points`` with each entry."""

    id: str
    tier: str
    tier_since: dt.datetime
    balance: int
    birthday: dt.date | None
    first_purchase_at: dt.datetime | None
    referred_by: str | None
    birthday_gift_year: int | None
    last_seen_at: dt.datetime


_SQL_MEMBER_STATE = (
    "SELECT id, tier, tier_since, balance, birthday, first_purchase_at, referred_by, "
    "birthday_gift_year, last_seen_at FROM members WHERE id = ?"
)


def member_state(session: Session, member_id: str) -> MemberState | None:
    """The member's row for a sale or a quote, in the session's transaction."""
    row = raw.execute(session, _SQL_MEMBER_STATE, (member_id,)).fetchone()
    if row is None:
        return None
    mid, tier, tier_since, balance, birthday, first, referred_by, gift_year, seen = row
    return MemberState(
        id=mid,
        tier=tier,
        tier_since=from_db_time(tier_since),
        balance=balance,
        birthday=from_db_date(birthday),
        first_purchase_at=None if first is None else from_db_time(first),
        referred_by=referred_by,
        birthday_gift_year=gift_year,
        last_seen_at=from_db_time(seen),
    )


def save_member_state(session: Session, state: MemberState) -> None:
    """Write a sale's changes to the member (tier, first purchase, birthday gift, last
    seen); the balance moved with each ledger entry already."""
    update_row(
        session,
        Member,
        state.id,
        {
            "tier": state.tier,
            "tier_since": state.tier_since,
            "first_purchase_at": state.first_purchase_at,
            "birthday_gift_year": state.birthday_gift_year,
            "last_seen_at": state.last_seen_at,
        },
    )


def next_member_no(session: Session, base: int, block: int = 100_000) -> int:
    """Next member number from this till's block (HQ may renumber on merge).

    Only numbers inside the block count: members pulled from HQ carry other tills'
    numbers, some above this block.
    """
    current = session.execute(
        select(func.max(Member.member_no)).where(
            Member.member_no >= base, Member.member_no < base + block
        )
    ).scalar_one_or_none()
    return (current or base) + 1


def members_by_ids(session: Session, member_ids: Sequence[str]) -> list[Member]:
    """The members' ORM rows (unknown ids left out)."""
    if not member_ids:
        return []
    return list(session.scalars(select(Member).where(Member.id.in_(list(member_ids)))))


def others_holding(
    session: Session,
    member_id: str,
    *,
    phone_hash: bytes | None = None,
    member_no: int | None = None,
    referral_code: str | None = None,
) -> list[Member]:
    """Members other than ``member_id`` holding the given phone hash, member number or
    referral code (exactly one of them; all three are unique)."""
    if phone_hash is not None:
        where = Member.phone_hash == phone_hash
    elif member_no is not None:
        where = Member.member_no == member_no
    elif referral_code is not None:
        where = Member.referral_code == referral_code
    else:
        raise ValueError("name a phone hash, a member number or a referral code")
    return list(session.scalars(select(Member).where(where, Member.id != member_id)))


def member_id_with_no(session: Session, member_no: int) -> str | None:
    """The id of the member with this number, or None."""
    return session.scalars(select(Member.id).where(Member.member_no == member_no)).first()


def forget_snapshot_marks(session: Session) -> None:
    """Clear every member's snapshot number (the next snapshot sets them again)."""
    session.execute(update(Member).values(snapshot_seq=None))
