"""Member snapshots: a member whole (row, open lots, coupons) as of a change number.

A till receives a member whole when the member enters its region's scope (in a pull
page, ``member_snapshot``), when it fetches one on demand (``GET /v1/members/lookup``)
and, for its whole scope, at its first sync (``GET /v1/snapshot``). Each snapshot
carries ``as_of``, the change number its state is read at: the till ignores any entry
of that member numbered at or below it (it is in the snapshot's balance).

The JSON of a member is built by PostgreSQL (SQLite for the demo) in the one query that
reads it, so the first-sync stream reads a million members with one server-side cursor
and no Python object per column.

The stream (``application/x-ndjson``, gzip) is: a header line ``{"type": "header",
"cursor", "as_of", "total", "member_fields", "lot_fields", "coupon_fields", …}``; rule
sets, products, mall items and bearer coupons (``{"type": …, "data": …}``, first part
only); one JSON array per member of the scope, in member-id order, its values in the
order of ``member_fields``; then ``{"type": "end", "members": n}``. With ``after`` (a
member id) it is a new read transaction that continues after that member: its header
and members carry that part's own ``as_of``, and a till keeps the first part's cursor.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from pos_app.core.snapshot_format import FORMAT, LOT_FIELDS, MEMBER_FIELDS
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import NotFound
from pos_app.hq.feed import (
    COUPON_FIELDS,
    coupon_data,
    format_cursor,
    high_water,
    mall_item_data,
    product_data,
    rule_set_data,
)
from pos_app.hq.keys import key_data
from pos_app.hq.ledger import resolve_member
from pos_app.hq.models import (
    Coupon,
    MallItem,
    Member,
    MemberCodeKey,
    MemberNumber,
    MemberPhone,
    MemberScope,
    Product,
    RuleSetVersion,
)
from pos_app.hq.scopes import add_scopes, session_seq
from pos_app.hq.security import Principal

#: Members read per round trip of the server-side cursor.
STREAM_BATCH = 2000
#: Members read by id per query (a long list makes PostgreSQL scan the partitions).
LOOKUP_BATCH = 200
#: Uncompressed bytes gathered before a gzip chunk is sent.
CHUNK_BYTES = 1 << 18

# The JSON functions of each dialect: PostgreSQL, and SQLite for the demo HQ.
_DIALECT = {
    "postgresql": {
        "array": "json_build_array",
        "agg": "json_agg",
        "hex": "encode({}, 'hex')",
        "nested": "coalesce(({}), '[]'::json)",
    },
    "sqlite": {
        "array": "json_array",
        "agg": "json_group_array",
        "hex": "lower(hex({}))",
        "nested": "json(({}))",
    },
}


def _member_json(dialect: str) -> str:
    """The SQL expression of one member's JSON array (``MEMBER_FIELDS``; alias ``m``)."""
    sql = _DIALECT[dialect]
    array, agg = sql["array"], sql["agg"]
    lots = (
        f"SELECT {agg}({array}({', '.join('l.' + f for f in LOT_FIELDS)})) "
        "FROM lots l WHERE l.member_id = m.id AND l.remaining > 0"
    )
    coupons = (
        f"SELECT {agg}({array}({', '.join('c.' + f for f in COUPON_FIELDS)})) "
        "FROM coupons c WHERE c.member_id = m.id"
    )
    columns = {
        "phone_hash": sql["hex"].format("m.phone_hash"),
        "lots": sql["nested"].format(lots),
        "coupons": sql["nested"].format(coupons),
        "as_of": "CAST(:as_of AS BIGINT)",
    }
    values = [columns.get(name, f"m.{name}") for name in MEMBER_FIELDS]
    return f"CAST({array}({', '.join(values)}) AS TEXT)"


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _utc(session: Session) -> None:
    """Times as UTC in the JSON PostgreSQL builds (the session's zone otherwise), and no
    JIT: the planner's cost of a scope's subqueries would have PostgreSQL compile the
    query first, a second's wait for a stream that needs none."""
    if _dialect(session) == "postgresql":
        session.execute(text("SET LOCAL TimeZone = 'UTC'"))
        session.execute(text("SET LOCAL jit = off"))


def as_dict(values: Sequence[Any]) -> dict[str, Any]:
    """A member's JSON array (``MEMBER_FIELDS``) as the snapshot object tills apply."""
    member = dict(zip(MEMBER_FIELDS, values, strict=True))
    member["lots"] = [dict(zip(LOT_FIELDS, lot, strict=True)) for lot in member["lots"] or ()]
    member["coupons"] = [dict(zip(COUPON_FIELDS, c, strict=True)) for c in member["coupons"] or ()]
    return member


def member_snapshots(
    session: Session, member_ids: Iterable[str], as_of: int
) -> list[dict[str, Any]]:
    """The members ``member_ids`` whole, as of change number ``as_of`` (the caller's
    transaction must see exactly the changes up to it)."""
    ids = sorted(set(member_ids))
    if not ids:
        return []
    _utc(session)
    query = text(
        f"SELECT {_member_json(_dialect(session))} FROM members m WHERE m.id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    out = []
    for start in range(0, len(ids), LOOKUP_BATCH):  # short lists: the key's index answers
        chunk = ids[start : start + LOOKUP_BATCH]
        rows = session.execute(query, {"ids": chunk, "as_of": as_of}).scalars()
        out += [as_dict(json.loads(row)) for row in rows]
    return out


def scope_size(session: Session, region: str) -> int:
    """Members in ``region``'s scope."""
    count = select(func.count()).select_from(MemberScope).where(MemberScope.region == region)
    return int(session.execute(count).scalar_one())


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _published(session: Session) -> Iterator[str]:
    """Rule sets, products, mall items, bearer coupons and HQ's member-code public keys,
    one line each."""
    feeds: list[tuple[str, Any, Any, Any]] = [
        ("rule_set", RuleSetVersion, rule_set_data, None),
        ("product", Product, product_data, None),
        ("mall_item", MallItem, mall_item_data, None),
        ("coupon", Coupon, coupon_data, Coupon.__table__.c.member_id.is_(None)),
        ("member_code_key", MemberCodeKey, key_data, None),
    ]
    for topic, model, render, where in feeds:
        table = model.__table__
        query = select(table).order_by(table.c.seq)
        if where is not None:
            query = query.where(where)
        for row in session.execute(query):
            yield _line({"type": topic, "data": render(row)})


def snapshot_lines(db: HQDatabase, principal: Principal, after: str = "") -> Iterator[str]:
    """The lines of a till's first-sync snapshot (see the module docstring)."""
    region = principal.region or ""
    with db.read(snapshot=True) as s:
        _utc(s)
        high = high_water(s)
        yield _line(
            {
                "type": "header",
                "format": FORMAT,
                "cursor": format_cursor(high),
                "as_of": high,
                "region": region,
                "after": after,
                "total": scope_size(s, region),
                "member_fields": MEMBER_FIELDS,
                "lot_fields": LOT_FIELDS,
                "coupon_fields": COUPON_FIELDS,
            }
        )
        if not after:
            yield from _published(s)
        query = text(
            f"SELECT {_member_json(_dialect(s))} FROM member_scopes sc "
            "JOIN members m ON m.id = sc.member_id "
            "WHERE sc.region = :region AND sc.member_id > :after ORDER BY sc.member_id"
        )
        count = 0
        rows = s.execute(
            query,
            {"region": region, "after": after, "as_of": high},
            execution_options={"stream_results": True, "yield_per": STREAM_BATCH},
        )
        for row in rows.scalars():
            count += 1
            yield row
        yield _line({"type": "end", "members": count})


def gzip_chunks(lines: Iterable[str], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``lines`` as newline-ended UTF-8, gzip-compressed (level 1: fast), in chunks."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    pending: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode("utf-8") + b"\n"
        pending.append(data)
        size += len(data)
        if size >= chunk_bytes:
            out = compressor.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    yield compressor.compress(b"".join(pending)) + compressor.flush()


def lookup_member(
    db: HQDatabase,
    principal: Principal,
    *,
    phone_hash: str | None = None,
    member_no: int | None = None,
    member_id: str | None = None,
    now: dt.datetime,
) -> dict[str, Any]:
    """A member a till does not hold, whole; the member enters the till's region's
    scope (``fetched``), so its later changes reach the till by pull.

    The snapshot is read in the write transaction that adds the scope row, so its
    ``as_of`` is that row's number and everything up to it is in it.

    Raises:
        NotFound: no member has that phone hash, number or id.
    """
    with db.write() as s:
        member = _find_member(s, phone_hash, member_no, member_id)
        if member is None:
            raise NotFound("no member has this phone number, member number or id")
        if principal.region is not None:
            add_scopes(s, [(member.id, principal.region, "fetched")], session_seq(s), at=now)
        s.flush()
        (snapshot,) = member_snapshots(s, [member.id], int(s.info["hq_seq"]))
        return snapshot


def _find_member(
    session: Session, phone_hash: str | None, member_no: int | None, member_id: str | None
) -> Member | None:
    """The canonical member with this phone hash, number or id."""
    if phone_hash is not None:
        return session.scalars(
            select(Member)
            .join(MemberPhone, MemberPhone.member_id == Member.id)
            .where(MemberPhone.phone_hash == bytes.fromhex(phone_hash), Member.alias_of.is_(None))
        ).first()
    if member_no is not None:
        found = session.scalars(
            select(MemberNumber.member_id).where(MemberNumber.member_no == member_no)
        ).first()
        return resolve_member(session, found)
    return resolve_member(session, member_id)
