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

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.core.privacy import placeholder_phone_hash
from pos_app.hq.ledger import active_rules, resolve_member
from pos_app.hq.models import Member
from pos_app.hq.security import Principal

PROVISIONAL_ID = re.compile(r"^no-([1-9][0-9]{0,14})$")


def provisional_member(
    session: Session, member_id: str, principal: Principal, now: dt.datetime
) -> Member | None:
    """The member row for a provisional id (created now), or None for any other id."""
    match = PROVISIONAL_ID.match(member_id)
    if match is None:
        return None
    owner = session.scalars(
        select(Member.id).where(Member.member_no == int(match.group(1)))
    ).first()
    kept = resolve_member(session, owner)
    row = Member(
        id=member_id,
        member_no=None,
        phone_hash=placeholder_phone_hash(member_id),
        phone_last4="",
        phone_masked="",
        name="",
        tier=active_rules(session).tier_codes()[0],
        tier_since=now,
        registered_at=now,
        registered_channel=principal.source_channel,
        registered_store=principal.store_code,
        registered_till=principal.id if principal.kind == "till" else None,
        balance=0,
        alias_of=kept.id if kept is not None else None,
        received_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row
