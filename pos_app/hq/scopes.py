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
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Select,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from pos_app.hq import audit
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.keyed import KEYS, one_of
from pos_app.hq.models import Member, MemberScope, Store, UTCDateTime
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

    Set-based: one query for the pairs already held, one ``INSERT ... SELECT FROM
    unnest(arrays) ON CONFLICT DO NOTHING`` for the rest (executemany on SQLite), each new row numbered by
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
    pg = session.get_bind().dialect.name == "postgresql"
    members = sorted({m for m, _ in wanted})
    held = {(m, r) for m, r in session.execute(_held(pg), {KEYS: members}) if (m, r) in wanted}
    when = at or dt.datetime.now(dt.UTC)
    values = [
        (m, r, next_seq(), reason)
        for (m, r), reason in sorted(wanted.items())
        if (m, r) not in held
    ]
    if values and pg:
        columns = list(zip(*values, strict=True))
        session.execute(
            _INSERT_UNNEST,
            {"m": columns[0], "r": columns[1], "s": columns[2], "why": columns[3], "at": when},
        )
    elif values:
        session.execute(
            sqlite.insert(MemberScope).on_conflict_do_nothing(),
            [
                {"member_id": m, "region": r, "seq": seq, "reason": why, "added_at": when}
                for m, r, seq, why in values
            ],
        )
    return len(values)


# Built once: a statement built per batch costs more in SQLAlchemy (a 500-row multi-VALUES
# insert took ~2 ms of compiling per batch) than PostgreSQL takes to run it.
_INSERT_UNNEST = text(
    "INSERT INTO member_scopes (member_id, region, seq, reason, added_at)"
    " SELECT u.m, u.r, u.s, u.why, :at"
    " FROM unnest(CAST(:m AS VARCHAR[]), CAST(:r AS VARCHAR[]), CAST(:s AS BIGINT[]),"
    " CAST(:why AS VARCHAR[])) AS u(m, r, s, why)"
    " ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("m", type_=ARRAY(String())),
    bindparam("r", type_=ARRAY(String())),
    bindparam("s", type_=ARRAY(BigInteger())),
    bindparam("why", type_=ARRAY(String())),
    bindparam("at", type_=UTCDateTime()),
)


@cache
def _held(pg: bool) -> Select[str, str]:
    """The scope rows of the members in the ``keys`` parameter (``keyed.one_of``)."""
    column = MemberScope.member_id
    return select(column, MemberScope.region).where(one_of(column, pg=pg))


def members_seen(
    principal: Principal,
    seen: Sequence[tuple[str, str]],
    canonical_id: Callable[[str], str | None],
) -> list[ScopeRow]:
    """The scope rows of the push path's hook: members a till registered or sold to,
    ``(member id, reason)``, enter its region's scope, with the member each one is merged
    into (``canonical_id``; its tills must hold both to follow the merge). Channels have
    no region: none for them."""
    if principal.region is None:
        return []
    rows: list[ScopeRow] = []
    for member_id, reason in seen:
        rows.append((member_id, principal.region, reason))
        kept = canonical_id(member_id)
        if kept is not None and kept != member_id:
            rows.append((kept, principal.region, reason))
    return rows


def add_registered_scopes(
    session: Session, member_ids: Select[tuple[str]], start: int, at: dt.datetime
) -> int:
    """Set-wise, for a bulk load (``pos-hq import-members``): the members ``member_ids``
    selects enter the scope of the region of the store that registered them, numbered
    ``start + 1``... in member-id order.

    Returns:
        How many entered a scope (the caller advances the counter by as many).
    """
    number = literal(start, BigInteger()) + func.row_number().over(order_by=Member.id)
    query = (
        select(Member.id, Store.region, number, literal("registered"), literal(at, UTCDateTime()))
        .join(Store, Store.code == Member.registered_store)
        .where(Member.id.in_(member_ids))
    )
    columns = ["member_id", "region", "seq", "reason", "added_at"]
    count = int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    session.execute(insert(MemberScope).from_select(columns, query))
    return count


def region_exists(session: Session, region: str) -> bool:
    """True when some store belongs to ``region``."""
    found = session.scalars(select(Store.code).where(Store.region == region).limit(1)).first()
    return found is not None


def assign_members(
    db: HQDatabase,
    region: str,
    member_ids: Sequence[str],
    now: dt.datetime,
    *,
    actor: str = audit.SYSTEM_ACTOR,
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
        audit.record(s, now, actor, "members.assign", region, members=len(ids), added=added)
    return {"region": region, "members": len(ids), "added": added}
