"""Push (events in, each applied once) and pull (changes out, by cursor).

Push: every event is applied in its own transaction, together with its idempotency
record (event id -> payload hash + the answer). The same id with the same payload gets
the first answer again; with another payload it gets 409 and nothing is written.

Pull: rows tills need carry ``seq`` from HQ's change counter; a page is the rows with
``seq`` above the cursor, in order. Writers hold the counter lock until they commit
(:class:`pos_app.hq.database.HQDatabase`), so numbers commit in order and a cursor
never skips a row that commits later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, not_, select
from sqlalchemy.exc import DataError, IntegrityError

from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict, Forbidden, HQError
from pos_app.hq.events import EventContext, allowed_kinds, apply
from pos_app.hq.models import (
    CHANGE_COUNTER,
    Counter,
    Coupon,
    FlaggedRecord,
    IdempotencyRecord,
    LedgerEntry,
    MallItem,
    Member,
    Product,
    RuleSetVersion,
    Sale,
    Till,
)
from pos_app.hq.schemas import PAYLOADS, EventIn, EventResult, PushRequest, PushResponse
from pos_app.hq.security import Principal

MAX_PULL = 5000


def payload_hash(kind: str, payload: Any) -> str:
    """SHA-256 of the canonical JSON of (kind, payload)."""
    text = json.dumps(
        [kind, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _error_list(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join([prefix, *(str(p) for p in err["loc"])])
        out.append({"loc": path, "msg": err["msg"], "type": err["type"]})
    return out


def _parse(event: EventIn) -> Any:
    if isinstance(event.payload, str):
        try:
            return json.loads(event.payload)
        except (ValueError, RecursionError):
            return None
    return event.payload


# -- ownership: a till writes only for its own store ----------------------------------


def _names_other_store(db: HQDatabase, principal: Principal, kind: str, payload: Any) -> str | None:
    """Why ``payload`` is not the caller's to write, or None."""
    if not isinstance(payload, dict):
        return None
    own = principal.store_code if principal.kind == "till" else principal.id
    section = {"sale": "sale", "member_registered": "member"}.get(kind)
    if section is not None and isinstance(payload.get(section), dict):
        store = payload[section].get("store_id")
        if store is not None and store != own:
            return f"{kind} names store {store!r}; this credential writes for {own!r} only"
        till = payload[section].get("till_id") if kind == "sale" else None
        if principal.kind == "till" and till is not None and till != principal.till_code:
            return f"sale names till {till!r}; this credential is till {principal.till_code!r}"
    if kind == "refund" and isinstance(payload.get("refund"), dict):
        sale_id = payload["refund"].get("sale_id")
        if isinstance(sale_id, str) and len(sale_id) <= 64:
            with db.read() as s:
                sale = s.get(Sale, sale_id)
                if sale is not None and (
                    sale.store_code != (principal.store_code if principal.kind == "till" else None)
                    or (principal.kind == "channel" and sale.source_channel != principal.id)
                ):
                    return f"refund of sale {sale_id}, which another store made"
    return None


# -- push -------------------------------------------------------------------------------


def push(
    db: HQDatabase, principal: Principal, request: PushRequest, settings: HQSettings
) -> PushResponse:
    """Apply a batch in order; one result per event.

    Raises:
        Forbidden: an event names another store (checked before anything is written).
    """
    parsed = [_parse(ev) for ev in request.events]
    for ev, payload in zip(request.events, parsed, strict=True):
        why = _names_other_store(db, principal, ev.kind, payload)
        if why is not None:
            raise Forbidden(f"event {ev.id}: {why}; nothing was written", event_id=ev.id)
    received = settings.now()
    if request.sent_at is not None or principal.kind == "till":
        _check_clock(db, principal, request.sent_at, received, settings)
    results = [
        _push_one(db, principal, ev, payload, settings)
        for ev, payload in zip(request.events, parsed, strict=True)
    ]
    return PushResponse(received_at=received, results=results)


def _check_clock(
    db: HQDatabase,
    principal: Principal,
    sent_at: dt.datetime | None,
    now: dt.datetime,
    settings: HQSettings,
) -> None:
    skew = None if sent_at is None else int((sent_at - now).total_seconds())
    with db.write() as s:
        if principal.kind == "till":
            till = s.get(Till, principal.id)
            if till is not None:
                till.last_push_at = now
                till.last_skew_seconds = skew
        if skew is None or abs(skew) <= settings.clock_skew_seconds:
            return
        open_flag = s.scalars(
            select(FlaggedRecord).where(
                FlaggedRecord.kind == "clock_skew",
                FlaggedRecord.principal == principal.key,
                FlaggedRecord.subject_id.is_(None),
                FlaggedRecord.resolved_at.is_(None),
            )
        ).first()
        detail = {
            "seconds": skew,
            "writer_clock": sent_at.isoformat() if sent_at else None,
            "hq_clock": now.isoformat(),
            "threshold": settings.clock_skew_seconds,
        }
        if open_flag is None:
            s.add(
                FlaggedRecord(
                    kind="clock_skew",
                    principal=principal.key,
                    detail=detail,
                    created_at=now,
                )
            )
        else:
            open_flag.detail = {**detail, "first_seen": open_flag.created_at.isoformat()}


def _push_one(
    db: HQDatabase, principal: Principal, ev: EventIn, payload: Any, settings: HQSettings
) -> EventResult:
    digest = payload_hash(ev.kind, payload)
    if payload is None:
        return EventResult(
            event_id=ev.id,
            status="invalid",
            http_status=422,
            error="payload: not valid JSON text",
        )
    if ev.kind not in PAYLOADS:
        return EventResult(
            event_id=ev.id,
            status="invalid",
            http_status=422,
            error=f"unknown event kind {ev.kind!r}",
        )
    if ev.kind not in allowed_kinds(principal):
        return EventResult(
            event_id=ev.id,
            status="rejected",
            http_status=400,
            error=f"a {principal.kind} does not push {ev.kind} events",
        )
    try:
        model = PAYLOADS[ev.kind].model_validate(payload)
    except ValidationError as exc:
        errors = _error_list(exc, "payload")
        first = errors[0]
        return EventResult(
            event_id=ev.id,
            status="invalid",
            http_status=422,
            error=f"{first['loc']}: {first['msg']}",
            errors=errors,
        )
    try:
        with db.write() as s:
            record = s.get(IdempotencyRecord, ev.id)
            if record is not None:
                if record.payload_hash == digest and record.principal == principal.key:
                    return EventResult.model_validate(record.response | {"replayed": True})
                return EventResult(
                    event_id=ev.id,
                    status="conflict",
                    http_status=409,
                    error=f"event id {ev.id} was already used with a different payload; "
                    "nothing was written",
                )
            ctx = EventContext(s, principal, ev.id, settings.now(), settings)
            result = apply(ctx, ev.kind, model)
            answer = EventResult(event_id=ev.id, status="applied", http_status=201, result=result)
            s.add(
                IdempotencyRecord(
                    key=ev.id,
                    principal=principal.key,
                    kind=ev.kind,
                    payload_hash=digest,
                    response=answer.model_dump(mode="json"),
                    created_at=ctx.received_at,
                )
            )
            return answer
    except HQError as exc:
        status = {
            400: "rejected",
            403: "forbidden",
            404: "rejected",
            409: "conflict",
            424: "retry_later",
        }.get(exc.status, "rejected")
        return EventResult(
            event_id=ev.id,
            status=status,
            http_status=exc.status,
            error=exc.message,
            result={"facts": exc.detail} if exc.detail else None,
        )
    except IntegrityError as exc:
        return EventResult(
            event_id=ev.id,
            status="conflict",
            http_status=409,
            error=f"an id in this event is already used: {_first_line(exc)}",
        )
    except DataError as exc:
        return EventResult(
            event_id=ev.id,
            status="rejected",
            http_status=400,
            error=f"a value is out of range: {_first_line(exc)}",
        )


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.splitlines()[0][:200]


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
    corrections), rule sets, products, mall items, coupons.
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
