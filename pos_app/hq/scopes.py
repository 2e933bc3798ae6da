"""Which members a region's tills hold (``member_scopes``).

A store belongs to a region (its own code unless HQ groups stores). A member is in a
region's scope once registered at one of its stores, seen there (a sale, a refund or a
hold by one of its tills), assigned to it by HQ, or fetched on demand by one of its
tills. A member never leaves a scope. Each new scope row takes the next change number:
the member enters the region's feed at that number, and the region's tills then receive
it whole, as a member snapshot (:mod:`pos_app.hq.snapshot`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.ledger import resolve_member
from pos_app.hq.models import Member, MemberScope, Store
from pos_app.hq.security import Principal

REASONS = ("registered", "seen", "assigned", "fetched")

ScopeRow = tuple[str, str, str]
"""(member id, region, reason)."""


def session_seq(session: Session) -> Callable[[], int]:
    """The next change number of a :meth:`HQDatabase.write` session, one per call."""

    def next_seq() -> int:
        value = int(session.info["hq_seq"]) + 1
        session.info["hq_seq"] = value
        return value

    return next_seq


def add_scopes(
    session: Session,
    rows: Iterable[ScopeRow],
    next_seq: Callable[[], int],
    *,
    at: dt.datetime | None = None,
) -> int:
    """Put members in regions' scopes; a pair already there keeps its row and number.

    Set-based: one query for the pairs already held, one multi-row
    ``INSERT ... ON CONFLICT DO NOTHING`` for the rest, each new row numbered by
    ``next_seq`` (the caller's change counter, in the caller's write transaction).

    Returns:
        How many pairs entered a scope.
    """
    wanted: dict[tuple[str, str], str] = {}
    for member_id, region, reason in rows:
        if member_id and region:
            wanted.setdefault((member_id, region), reason)
    if not wanted:
        return 0
    members = sorted({m for m, _ in wanted})
    regions = sorted({r for _, r in wanted})
    held = {
        (m, r)
        for m, r in session.execute(
            select(MemberScope.member_id, MemberScope.region).where(
                MemberScope.member_id.in_(members), MemberScope.region.in_(regions)
            )
        )
    }
    when = at or dt.datetime.now(dt.UTC)
    values = [
        {"member_id": m, "region": r, "seq": next_seq(), "reason": reason, "added_at": when}
        for (m, r), reason in sorted(wanted.items())
        if (m, r) not in held
    ]
    if values:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(MemberScope).values(values).on_conflict_do_nothing())
    return len(values)


def members_seen(
    session: Session,
    principal: Principal,
    member_ids: Sequence[str | None],
    reason: str,
    next_seq: Callable[[], int],
    at: dt.datetime,
) -> int:
    """The push path's hook: members a till registered or sold to enter its region's
    scope, with the member each one is merged into (its tills must hold both to follow
    the merge). Channels have no region: nothing happens for them."""
    if principal.region is None:
        return 0
    ids: list[str] = []
    for member_id in member_ids:
        if not member_id:
            continue
        ids.append(member_id)
        kept = resolve_member(session, member_id)
        if kept is not None and kept.id != member_id:
            ids.append(kept.id)
    return add_scopes(session, [(m, principal.region, reason) for m in ids], next_seq, at=at)


def region_exists(session: Session, region: str) -> bool:
    """True when some store belongs to ``region``."""
    found = session.scalars(select(Store.code).where(Store.region == region).limit(1)).first()
    return found is not None


def assign_members(
    db: HQDatabase, region: str, member_ids: Sequence[str], now: dt.datetime
) -> dict[str, Any]:
    """HQ puts members in a region's scope (``pos-hq assign-members``, the admin API).

    Raises:
        BadRequest: no store is in ``region``.
        NotFound: a member id is unknown (nothing is assigned).
    """
    with db.write() as s:
        if not region_exists(s, region):
            raise BadRequest(f"no store is in region {region}")
        ids = sorted(set(member_ids))
        found = set(s.scalars(select(Member.id).where(Member.id.in_(ids))))
        missing = [m for m in ids if m not in found]
        if missing:
            raise NotFound(
                f"no member {', '.join(missing[:5])}"
                + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
                + "; nothing was assigned",
                missing=missing[:100],
            )
        added = add_scopes(s, [(m, region, "assigned") for m in ids], session_seq(s), at=now)
    return {"region": region, "members": len(ids), "added": added}
