"""Push: events in, each applied once (pull is :mod:`pos_app.hq.pull`).

Every event is applied in its own transaction, together with its idempotency record
(event id -> payload hash + the answer). The same id with the same payload gets the
first answer again; with another payload it gets 409 and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Forbidden, HQError
from pos_app.hq.events import EventContext, allowed_kinds, apply
from pos_app.hq.models import (
    FlaggedRecord,
    IdempotencyRecord,
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
