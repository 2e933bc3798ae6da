"""Pull: changes out, by cursor, scoped to what the caller holds.

Rows tills pull carry ``seq`` from HQ's change counter; a page is the rows with ``seq``
above the cursor, in order. Writers hold the counter lock until they commit
(:class:`pos_app.hq.database.HQDatabase`), so numbers commit in order and a cursor never
skips a row that commits later.

A till pulls its region's scope (:mod:`pos_app.hq.scopes`): the members in it and their
entries, and a whole member (a snapshot, :mod:`pos_app.hq.snapshot`) when one enters
it; rule sets, products, mall items and HQ's member-code public keys; bearer coupons and
coupons of its members. A channel (the online mall, the app) pulls the whole chain.

The cursor is opaque text (:mod:`pos_app.hq.feed`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict
from pos_app.hq.feed import (
    coupon_data,
    entry_data,
    format_cursor,
    high_water,
    mall_item_data,
    member_data,
    product_data,
    rule_set_data,
)
from pos_app.hq.keys import key_data
from pos_app.hq.models import (
    Coupon,
    LedgerEntry,
    MallItem,
    Member,
    MemberCodeKey,
    MemberScope,
    Product,
    RuleSetVersion,
)
from pos_app.hq.security import Principal
from pos_app.hq.snapshot import member_snapshots

MAX_PULL = 5000


# -- the scope ----------------------------------------------------------------------------


def _held_before(member_id: Any, region: str, cursor: int) -> ColumnElement[bool]:
    """The member was in ``region``'s scope at ``cursor``: the till has it already (it
    entered later: the till gets it whole, as a snapshot, and nothing else about it)."""
    sc = MemberScope.__table__.c
    return exists().where(sc.member_id == member_id, sc.region == region, sc.seq <= cursor)


def _own_entries(principal: Principal) -> ColumnElement[bool]:
    """Entries the caller wrote itself and holds in its own ledger."""
    if principal.kind == "till":
        return and_(
            LedgerEntry.in_origin_ledger,
            LedgerEntry.till_id.is_not_distinct_from(principal.id),  # NULL-safe
        )
    return and_(
        LedgerEntry.in_origin_ledger,
        LedgerEntry.till_id.is_(None),
        LedgerEntry.source_channel == principal.source_channel,
    )


Source = tuple[str, Any, Any, ColumnElement[bool] | None]


def _sources(principal: Principal, cursor: int) -> list[Source]:
    """(topic, model, render, extra condition) of each feed the caller pulls."""
    members = Member.__table__.c
    entries = LedgerEntry.__table__.c
    coupons = Coupon.__table__.c
    region = principal.region if principal.kind == "till" else None
    in_scope: dict[str, ColumnElement[bool] | None] = {"member": None, "entry": None}
    coupon_rule = None
    if region is not None:
        in_scope["member"] = _held_before(members.id, region, cursor)
        in_scope["entry"] = _held_before(entries.member_id, region, cursor)
        coupon_rule = or_(
            coupons.member_id.is_(None), _held_before(coupons.member_id, region, cursor)
        )
    others: ColumnElement[bool] = not_(_own_entries(principal))
    if in_scope["entry"] is not None:
        others = and_(others, in_scope["entry"])
    return [
        ("member", Member, member_data, in_scope["member"]),
        ("entry", LedgerEntry, entry_data, others),
        ("rule_set", RuleSetVersion, rule_set_data, None),
        ("product", Product, product_data, None),
        ("mall_item", MallItem, mall_item_data, None),
        ("coupon", Coupon, coupon_data, coupon_rule),
        ("member_code_key", MemberCodeKey, key_data, None),
    ]


Found = list[tuple[int, str, dict[str, Any]]]


def pull(db: HQDatabase, principal: Principal, cursor: int, limit: int) -> dict[str, Any]:
    """Changes after ``cursor``: at most ``limit``, in ``seq`` order.

    Entries a till (or channel) wrote itself and holds in its own ledger are left out.
    A till gets only its region's scope; a member that entered it after ``cursor``
    comes as one ``member_snapshot`` (the row, open lots, coupons and ``as_of``: the
    page's high water) instead of its row, entries and coupons.

    Raises:
        Conflict: ``cursor`` is ahead of HQ (HQ was restored from a backup).
    """
    limit = max(1, min(limit, MAX_PULL))
    with db.read(snapshot=True) as s:
        high = high_water(s)
        if cursor > high:
            raise Conflict(
                f"cursor {format_cursor(cursor)} is ahead of HQ ({format_cursor(high)}): "
                "HQ's database was restored; pull again from the start",
                high_water=format_cursor(high),
            )
        found: Found = []
        for topic, model, render, extra in _sources(principal, cursor):
            table = model.__table__  # plain rows: no ORM identity map on the hot path
            query = select(table).where(table.c.seq > cursor, table.c.seq <= high)
            if extra is not None:
                query = query.where(extra)
            rows = s.execute(query.order_by(table.c.seq).limit(limit + 1)).all()
            found += [(row.seq, topic, render(row)) for row in rows]
        if principal.kind == "till" and principal.region is not None:
            found += _entered_scope(s, principal.region, cursor, high, limit)
        found.sort(key=lambda item: item[0])
        page = found[:limit]
        has_more = len(found) > limit
        next_cursor = page[-1][0] if has_more else high
        region = principal.region if principal.kind == "till" else None
        return {
            "cursor": format_cursor(cursor),
            "next_cursor": format_cursor(next_cursor),
            "up_to": next_cursor,
            "has_more": has_more,
            "changes": [
                {"seq": seq, "topic": topic, "data": data}
                for seq, topic, data in _members_first(s, page, cursor, region)
            ],
        }


def _entered_scope(session: Session, region: str, cursor: int, high: int, limit: int) -> Found:
    """Members that entered ``region``'s scope after ``cursor``, each as a snapshot."""
    sc = MemberScope.__table__.c
    rows = session.execute(
        select(sc.member_id, sc.seq)
        .where(sc.region == region, sc.seq > cursor, sc.seq <= high)
        .order_by(sc.seq)
        .limit(limit + 1)
    ).all()
    if not rows:
        return []
    snapshots = {d["id"]: d for d in member_snapshots(session, [r.member_id for r in rows], high)}
    return [(r.seq, "member_snapshot", snapshots[r.member_id]) for r in rows]


def _members_first(session: Session, page: Found, cursor: int, region: str | None) -> Found:
    """The page with its snapshots and members first (canonical before alias), plus every
    member an entry or an alias in the page refers to that the caller may not have yet
    (its row changed after ``cursor`` and comes later in the feed: it will come again
    there). A till gets only those in its region's scope."""
    snapshots = [item for item in page if item[1] == "member_snapshot"]
    members = {data["id"]: (seq, topic, data) for seq, topic, data in page if topic == "member"}
    others = [item for item in page if item[1] not in ("member", "member_snapshot")]
    known = members.keys() | {data["id"] for _, _, data in snapshots}
    for _ in range(2):  # entries -> their members -> the members' canonical members
        wanted = {d["member_id"] for _, t, d in others if t == "entry"}
        wanted |= {d["member_ref"] for _, t, d in others if t == "entry"}
        wanted |= {d["alias_of"] for _, _, d in members.values() if d["alias_of"]}
        missing = wanted - members.keys() - known
        if not missing:
            break
        table = Member.__table__
        query = select(table).where(table.c.id.in_(sorted(missing)), table.c.seq > cursor)
        if region is not None:
            query = query.where(_held_before(table.c.id, region, cursor))
        for row in session.execute(query):
            members[row.id] = (row.seq, "member", member_data(row))
        known = known | missing
    ordered = sorted(members.values(), key=lambda item: (item[2]["alias_of"] is not None, item[0]))
    return snapshots + ordered + others
