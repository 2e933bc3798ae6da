"""Provisional members: a member code a till scanned while HQ was away.

A till that cannot ask HQ for a member it does not hold records the sale for
``no-<member number>`` (the number of the scanned code): it earns points as a regular
member's and spends none. When the sale arrives, HQ creates that id as an alias of the
member with that number, posts the till's entries on it as written, and the alias
sweep moves them to the member (``merge_out`` / ``merge_in``, which every till holding
either pulls). A number no member has keeps the id as a member of its own, flagged
``unknown_member_number`` for a person.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select

from pos_app.core.privacy import placeholder_phone_hash
from pos_app.hq.book import NUMBERS, MemberRow

if TYPE_CHECKING:
    from pos_app.hq.events import EventContext

PROVISIONAL_ID = re.compile(r"^no-([1-9][0-9]{0,14})$")


def provisional_member(ctx: EventContext, member_id: str) -> MemberRow | None:
    """The member row for a provisional id, created now in the event's book; None for
    any other id."""
    match = PROVISIONAL_ID.match(member_id)
    if match is None:
        return None
    book, who, now = ctx.book, ctx.principal, ctx.received_at
    owner = book.execute(
        select(NUMBERS.c.member_id).where(NUMBERS.c.member_no == int(match.group(1)))
    ).scalar()
    kept = book.canonical_id(owner) if owner is not None else None
    if kept is not None:
        book.member_ids_of(kept)  # its aliases known before one more joins them
    row = MemberRow(
        id=member_id,
        member_no=None,
        phone_hash=placeholder_phone_hash(member_id),
        phone_last4="",
        phone_masked="",
        name="",
        birthday=None,
        tier=book.active_rules().tier_codes()[0],
        tier_since=now,
        last_review=None,
        referral_code=None,
        referred_by=None,
        registered_at=now,
        registered_channel=who.source_channel,
        registered_store=who.store_code,
        registered_till=who.id if who.kind == "till" else None,
        first_purchase_at=None,
        birthday_gift_year=None,
        balance=0,
        alias_of=kept,
        received_at=now,
        updated_at=now,
    )
    book.add_member(row)
    if kept is None:
        ctx.flag("unknown_member_number", member_id=member_id)  # nobody's code
    return row
