"""Pull: changes out, by cursor (push is :mod:`pos_app.hq.push`).

Rows tills need carry ``seq`` from HQ's change counter; a page is the rows with
``seq`` above the cursor, in order. Writers hold the counter lock until they commit
(:class:`pos_app.hq.database.HQDatabase`), so numbers commit in order and a cursor
never skips a row that commits later.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import and_, not_, select

from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict
from pos_app.hq.keys import key_data
from pos_app.hq.models import (
    CHANGE_COUNTER,
    Counter,
    Coupon,
    LedgerEntry,
    MallItem,
    Member,
    MemberCodeKey,
    Product,
    RuleSetVersion,
)
from pos_app.hq.security import Principal

MAX_PULL = 5000


# -- pull -------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def member_data(m: Any) -> dict[str, Any]:
    """A member as tills receive it (no plaintext phone)."""
    return {
        "id": m.id,
        "member_no": m.member_no,
        "phone_hash": m.phone_hash.hex(),
        "phone_last4": m.phone_last4,
        "phone_masked": m.phone_masked,
        "name": m.name,
        "birthday": m.birthday.isoformat() if m.birthday else None,
        "tier": m.tier,
        "tier_since": _iso(m.tier_since),
        "referral_code": m.referral_code,
        "referred_by": m.referred_by,
        "registered_at": _iso(m.registered_at),
        "registered_store": m.registered_store,
        "first_purchase_at": _iso(m.first_purchase_at),
        "birthday_gift_year": m.birthday_gift_year,
        "alias_of": m.alias_of,
        "balance": m.balance,
    }


def entry_data(e: Any) -> dict[str, Any]:
    """A ledger entry as tills receive it."""
    return {
        "id": e.id,
        "member_id": e.member_id,
        "member_ref": e.member_ref,
        "kind": e.kind,
        "points": e.points,
        "created_at": _iso(e.created_at),
        "received_at": _iso(e.received_at),
        "source_channel": e.source_channel,
        "store_id": e.store_code,
        "till_id": e.till_id,
        "sale_id": e.sale_id,
        "refund_id": e.refund_id,
        "rule_set_version": e.rule_set_version,
        "reason": e.reason,
    }


def _columns(row: Any, *names: str) -> dict[str, Any]:
    out = {}
    for name in names:
        value = getattr(row, name)
        out[name] = _iso(value) if isinstance(value, dt.datetime) else value
    return out


def _rule_set_data(r: Any) -> dict[str, Any]:
    return {
        "version": r.version,
        "document": json.loads(r.document),
        "active": r.active,
        "published_at": _iso(r.published_at),
    }


def _product_data(p: Any) -> dict[str, Any]:
    return _columns(
        p, "sku", "barcode", "name", "category", "price_fen", "member_price_fen", "active"
    )


def _mall_item_data(m: Any) -> dict[str, Any]:
    return _columns(
        m,
        "id",
        "name",
        "points_price",
        "cash_price_fen",
        "stock",
        "min_tier",
        "level",
        "category",
        "brand",
        "keywords",
        "discount_percent",
        "discount_from",
        "discount_to",
        "available_from",
        "available_to",
        "active",
    )


def _coupon_data(c: Any) -> dict[str, Any]:
    return _columns(
        c,
        "id",
        "code",
        "member_id",
        "name",
        "amount_off_fen",
        "percent_off",
        "min_order_fen",
        "valid_from",
        "valid_to",
        "issued_at",
        "source",
        "used_at",
        "used_sale_id",
    )


def pull(db: HQDatabase, principal: Principal, cursor: int, limit: int) -> dict[str, Any]:
    """Changes after ``cursor``: at most ``limit``, in ``seq`` order.

    Entries a till (or channel) wrote itself and holds in its own ledger are left out;
    everything else is in: members, entries from other stores and channels (and HQ's
    corrections), rule sets, products, mall items, coupons, and HQ's member-code public
    keys with their windows and revocations (never a private key).
    """
    limit = max(1, min(limit, MAX_PULL))
    with db.read(snapshot=True) as s:
        high = int(
            s.execute(select(Counter.value).where(Counter.name == CHANGE_COUNTER)).scalar_one()
        )
        if cursor > high:
            raise Conflict(
                f"cursor {cursor} is ahead of HQ ({high}): HQ's database was restored; "
                "pull again from cursor 0",
                high_water=high,
            )
        if principal.kind == "till":
            own = and_(
                LedgerEntry.in_origin_ledger,
                LedgerEntry.till_id.is_not_distinct_from(principal.id),  # NULL-safe
            )
        else:
            own = and_(
                LedgerEntry.in_origin_ledger,
                LedgerEntry.till_id.is_(None),
                LedgerEntry.source_channel == principal.source_channel,
            )
        sources: list[tuple[str, Any, Any, Any]] = [
            ("member", Member, member_data, None),
            ("entry", LedgerEntry, entry_data, not_(own)),
            ("rule_set", RuleSetVersion, _rule_set_data, None),
            ("product", Product, _product_data, None),
            ("mall_item", MallItem, _mall_item_data, None),
            ("coupon", Coupon, _coupon_data, None),
            ("member_code_key", MemberCodeKey, key_data, None),
        ]
        found: list[tuple[int, str, dict[str, Any]]] = []
        for topic, model, render, extra in sources:
            table = model.__table__  # plain rows: no ORM identity map on the hot path
            query = select(table).where(table.c.seq > cursor, table.c.seq <= high)
            if extra is not None:
                query = query.where(extra)
            rows = s.execute(query.order_by(table.c.seq).limit(limit + 1)).all()
            found += [(row.seq, topic, render(row)) for row in rows]
        found.sort(key=lambda item: item[0])
        page = found[:limit]
        has_more = len(found) > limit
        next_cursor = page[-1][0] if has_more else high
        return {
            "cursor": cursor,
            "next_cursor": next_cursor,
            "has_more": has_more,
            "changes": [
                {"seq": seq, "topic": topic, "data": data}
                for seq, topic, data in _members_first(s, page, cursor)
            ],
        }


def _members_first(
    session: Any, page: list[tuple[int, str, dict[str, Any]]], cursor: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """The page with its members first (canonical before alias), plus every member an
    entry or an alias in the page refers to that the caller may not have yet (its row
    changed after ``cursor`` and comes later in the feed: it will come again there)."""
    members = {data["id"]: (seq, topic, data) for seq, topic, data in page if topic == "member"}
    others = [item for item in page if item[1] != "member"]
    for _ in range(2):  # entries -> their members -> the members' canonical members
        wanted = {d["member_id"] for _, t, d in others if t == "entry"}
        wanted |= {d["member_ref"] for _, t, d in others if t == "entry"}
        wanted |= {d["alias_of"] for _, _, d in members.values() if d["alias_of"]}
        missing = wanted - members.keys()
        if not missing:
            break
        table = Member.__table__
        for row in session.execute(
            select(table).where(table.c.id.in_(sorted(missing)), table.c.seq > cursor)
        ):
            members[row.id] = (row.seq, "member", member_data(row))
    ordered = sorted(members.values(), key=lambda item: (item[2]["alias_of"] is not None, item[0]))
    return ordered + others
