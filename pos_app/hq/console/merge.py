"""Merging a duplicate member into the one kept, from the member page, and the member's
consent as HQ keeps it.

A duplicate (the same person registered twice under two phones, or by two stores) is
merged the way HQ merges a phone registered twice (:func:`pos_app.hq.events.sweep_aliases`):
the duplicate becomes an alias (``alias_of``) of the member kept, its aliases follow, and
its balance moves by two ledger entries, ``merge_out`` on the duplicate and ``merge_in``
on the member kept (its lots' expiry dates carried over), so both ledgers' figures stay
and the kept member's balance is the sum. The kept member takes the higher tier, and a
name or birthday it lacks. It enters the scope of every region holding the duplicate, so
those tills pull it whole; every till holding the duplicate pulls it as an alias.

The entry ids derive from the two member ids: a second click moves nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.core.rules import RuleSet
from pos_app.hq import audit
from pos_app.hq.book import Book, MemberRow, Origin
from pos_app.hq.consent import current
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.ledger import active_rules, resolve_member
from pos_app.hq.models import ConsentRecord, Member, MemberScope, SpendHold
from pos_app.hq.scopes import add_scopes
from pos_app.hq.security import derived_id

CONSENT_ROWS = 50


class MergeProblem(BadRequest):
    """A merge refused before anything is written: ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Merged:
    """What a merge did."""

    kept: str
    alias: str
    points: int


def merge_members(
    db: HQDatabase, keep_id: str, duplicate: str, confirm: str, now: dt.datetime, *, actor: str
) -> Merged:
    """Merge member ``duplicate`` into ``keep_id`` (``confirm`` must repeat its id).

    Raises:
        NotFound: no member ``keep_id``.
        MergeProblem: no such duplicate, the same member, already merged, not confirmed,
            or the duplicate has points on hold at a till.
    """
    with db.write() as s:
        book = Book(s, now)
        keep, dup = _pair(s, book, keep_id, duplicate)
        if confirm.strip() != dup.id:
            raise MergeProblem("confirm", f"type the duplicate's id {dup.id} to confirm")
        rules = active_rules(s)
        points = dup.balance
        if points:
            _move_balance(book, rules, dup, keep, now)
        merged_ids = book.member_ids_of(dup.id)
        book.update_member(
            keep,
            name=keep.name or dup.name,
            birthday=keep.birthday or dup.birthday,
            **_higher_tier(rules, keep, dup, now),
        )
        regions = s.scalars(select(MemberScope.region).where(MemberScope.member_id == dup.id))
        add_scopes(s, [(keep.id, r, "assigned") for r in regions], book.next_seq, at=now)
        book.flush()
        # the book never changes ``alias_of``: the ORM does, and stamps change numbers
        for row in s.scalars(select(Member).where(Member.id.in_(merged_ids))):
            row.alias_of, row.updated_at = keep.id, now
        s.flush()
        audit.record(s, now, actor, "member.merge", keep.id, alias=dup.id, points=points)
        return Merged(kept=keep.id, alias=dup.id, points=points)


def _pair(s: Session, book: Book, keep_id: str, duplicate: str) -> tuple[MemberRow, MemberRow]:
    named = book.member(keep_id)
    if named is None:
        raise NotFound(f"no member {keep_id}")
    keep = book.canonical(named)
    found = book.member(duplicate.strip()) if duplicate.strip() else None
    if found is None:
        raise MergeProblem("duplicate", f"no member {duplicate.strip() or '(empty)'}")
    dup = book.canonical(found)
    if dup.id == keep.id:
        raise MergeProblem("duplicate", f"{found.id} is this member already")
    held = s.scalar(
        select(func.count()).where(
            SpendHold.member_id == dup.id, SpendHold.status.in_(("active", "posted"))
        )
    )
    if held:
        raise MergeProblem("duplicate", f"{dup.id} has points on hold at a till: merge later")
    return keep, dup


def _move_balance(
    book: Book, rules: RuleSet, dup: MemberRow, keep: MemberRow, now: dt.datetime
) -> None:
    """``merge_out`` on the duplicate, ``merge_in`` on the member kept (lots' expiries)."""
    book.move_balance(
        rules,
        dup,
        keep,
        entry_ids=(
            derived_id("console-merge", dup.id, keep.id, "out"),
            derived_id("console-merge", dup.id, keep.id, "in"),
        ),
        at=now,
        origin=Origin("hq", None, None, None, now),
    )


def _higher_tier(
    rules: RuleSet, keep: MemberRow, dup: MemberRow, now: dt.datetime
) -> dict[str, Any]:
    codes = rules.tier_codes()
    if dup.tier in codes and keep.tier in codes and codes.index(dup.tier) > codes.index(keep.tier):
        return {"tier": dup.tier, "tier_since": now}
    return {}


def preview(db: HQDatabase, keep_id: str, duplicate: str) -> dict[str, Any]:
    """Both members side by side, before the merge is confirmed.

    Raises:
        NotFound: no member ``keep_id``.
        MergeProblem: no such duplicate, or the same member.
    """
    with db.read() as s:
        keep = resolve_member(s, keep_id)
        if keep is None:
            raise NotFound(f"no member {keep_id}")
        found = resolve_member(s, duplicate.strip()) if duplicate.strip() else None
        if found is None:
            raise MergeProblem("duplicate", f"no member {duplicate.strip() or '(empty)'}")
        if found.id == keep.id:
            raise MergeProblem("duplicate", f"{duplicate.strip()} is this member already")
        s.expunge_all()
        return {"keep": keep, "duplicate": found, "total": keep.balance + found.balance}


def consent_page(db: HQDatabase, member_ids: list[str]) -> dict[str, Any]:
    """The member's current consent (the first id) and the statements of it and its
    aliases, newest first (time, what, through whom)."""
    with db.read() as s:
        state = current(s, member_ids[0])
        rows = s.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.member_id.in_(member_ids))
            .order_by(ConsentRecord.stated_at.desc(), ConsentRecord.id)
            .limit(CONSENT_ROWS)
        ).all()
        history = [
            {
                "member_id": r.member_id,
                "stated_at": r.stated_at,
                "marketing": r.marketing,
                "channels": [c for c in r.channels.split(",") if c],
                "notify_earned": r.notify_earned,
                "source": r.source,
                "recorded_at": r.recorded_at,
            }
            for r in rows
        ]
    return {"consent": state, "consent_history": history}
