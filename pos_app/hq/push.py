"""Push: a writer's events in, each applied once, the whole request in one transaction.

A request's events are parsed and validated before any lock is taken. Every event HQ
refuses is recorded in its audit trail (:mod:`pos_app.hq.audit`) in the same transaction. Then, in ONE
write transaction (the change-counter lock taken once, :meth:`HQDatabase.write`):

1. the idempotency records of every event id are read in one query: an id already
   answered with the same payload gets its first answer again (``replayed``); with
   another payload (or from another writer) it is a conflict and writes nothing;
2. what the events will read is loaded in a few queries (:meth:`Book.prefetch`);
3. the events are applied in the order sent, in memory. An event HQ refuses (a conflict,
   an impossible payload, a dependency not received yet) is undone alone; the others
   stay. Refunds and redemptions are applied alone (the book is written before and
   after them);
4. everything is written in bulk (``COPY`` on PostgreSQL), with one idempotency record
   per applied event, and committed once.

If the database refuses the bulk write (a constraint the checks did not foresee), the
transaction is rolled back and the request applied again event by event, each in a
savepoint, so that the one bad event is refused alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from pos_app.core.tiers import window_start_at
from pos_app.hq import audit
from pos_app.hq.book import IDEMPOTENCY, SALES, Book, Prefetch
from pos_app.hq.config import HQSettings
from pos_app.hq.database import GiveWay, HQDatabase
from pos_app.hq.errors import Forbidden, HQError
from pos_app.hq.events import SOLO_KINDS, EventContext, allowed_kinds, apply, gather, owns_sale
from pos_app.hq.keyed import KEYS, one_of
from pos_app.hq.ledger import active_rules
from pos_app.hq.models import FlaggedRecord, Till
from pos_app.hq.schemas import PAYLOADS, EventIn, EventResult, Payload, PushRequest, PushResponse
from pos_app.hq.scopes import add_scopes, members_seen
from pos_app.hq.security import Principal

_STATUS_OF_ERROR = {
    400: "rejected",
    403: "forbidden",
    404: "rejected",
    409: "conflict",
    424: "retry_later",
}


def payload_hash(kind: str, payload: Any) -> str:
    """SHA-256 of the canonical JSON of (kind, payload): sorted keys, no spaces, UTF-8.

    orjson writes exactly what ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` writes for JSON values, ten times faster; what it refuses (a lone
    surrogate, an integer beyond 64 bits) goes the standard library's way.
    """
    try:
        data = orjson.dumps([kind, payload], option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = json.dumps(
            [kind, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Prepared:
    """One event, checked before the lock: its payload model, or the answer refusing it."""

    event: EventIn
    digest: str
    model: Payload | None = None
    refusal: EventResult | None = None


def _error_list(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join([prefix, *(str(p) for p in err["loc"])])
        out.append({"loc": path, "msg": err["msg"], "type": err["type"]})
    return out


def _parse(event: EventIn) -> Any:
    """The event's payload as JSON values (a till sends it as the text it stored), or
    None when the text is not JSON."""
    if isinstance(event.payload, str):
        try:
            return orjson.loads(event.payload)
        except orjson.JSONDecodeError:
            pass  # orjson refuses some texts json accepts (a lone surrogate, NaN): ask it
        try:
            return json.loads(event.payload)
        except (ValueError, RecursionError):
            return None
    return event.payload


def _refused(ev: EventIn, status: str, http_status: int, error: str, **extra: Any) -> EventResult:
    return EventResult(
        event_id=ev.id,
        status=status,
        http_status=http_status,
        error=error,
        **extra,
    )


def prepare(principal: Principal, ev: EventIn, payload: Any) -> Prepared:
    """Validate one event's payload (no database needed)."""
    digest = payload_hash(ev.kind, payload)
    if payload is None:
        return Prepared(
            ev, digest, refusal=_refused(ev, "invalid", 422, "payload: not valid JSON text")
        )
    if ev.kind not in PAYLOADS:
        return Prepared(
            ev, digest, refusal=_refused(ev, "invalid", 422, f"unknown event kind {ev.kind!r}")
        )
    if ev.kind not in allowed_kinds(principal):
        refusal = _refused(
            ev, "rejected", 400, f"a {principal.kind} does not push {ev.kind} events"
        )
        return Prepared(ev, digest, refusal=refusal)
    try:
        model = PAYLOADS[ev.kind].model_validate(payload)
    except ValidationError as exc:
        errors = _error_list(exc, "payload")
        first = errors[0]
        refusal = _refused(ev, "invalid", 422, f"{first['loc']}: {first['msg']}", errors=errors)
        return Prepared(ev, digest, refusal=refusal)
    return Prepared(ev, digest, model=model)


# -- ownership: a till writes only for its own store ----------------------------------


def _refund_sale_ids(events: Sequence[EventIn], parsed: Sequence[Any]) -> set[str]:
    out: set[str] = set()
    for ev, payload in zip(events, parsed, strict=True):
        if ev.kind == "refund" and isinstance(payload, dict):
            refund = payload.get("refund")
            sale_id = refund.get("sale_id") if isinstance(refund, dict) else None
            if isinstance(sale_id, str) and len(sale_id) <= 64:
                out.add(sale_id)
    return out


def _names_other_store(
    principal: Principal, kind: str, payload: Any, sales: dict[str, tuple[str | None, str]]
) -> str | None:
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
        sale = sales.get(str(payload["refund"].get("sale_id")))
        if sale is not None and not owns_sale(principal, *sale):
            return f"refund of sale {payload['refund']['sale_id']}, which another store made"
    return None


def _check_ownership(
    db: HQDatabase, principal: Principal, events: Sequence[EventIn], parsed: Sequence[Any]
) -> None:
    sale_ids = _refund_sale_ids(events, parsed)
    sales: dict[str, tuple[str | None, str]] = {}
    if sale_ids:
        with db.read() as s:
            rows = s.execute(
                select(SALES.c.id, SALES.c.store_code, SALES.c.source_channel).where(
                    SALES.c.id.in_(sale_ids)
                )
            )
            sales = {row.id: (row.store_code, row.source_channel) for row in rows}
    for ev, payload in zip(events, parsed, strict=True):
        why = _names_other_store(principal, ev.kind, payload, sales)
        if why is not None:
            raise Forbidden(f"event {ev.id}: {why}; nothing was written", event_id=ev.id)


# -- push -------------------------------------------------------------------------------


def push(
    db: HQDatabase, principal: Principal, request: PushRequest, settings: HQSettings
) -> PushResponse:
    """Apply a batch in order, in one transaction; one result per event.

    Raises:
        Forbidden: an event names another store (checked before anything is written).
    """
    parsed = [_parse(ev) for ev in request.events]
    _check_ownership(db, principal, request.events, parsed)
    prepared = [
        prepare(principal, ev, payload) for ev, payload in zip(request.events, parsed, strict=True)
    ]
    job = _Job(principal, request.sent_at, prepared, settings.now())
    committer_of(db).run(job, settings)
    return PushResponse(received_at=job.received, results=job.results)


@dataclass(eq=False)
class _Job:
    """One push request waiting for the writer, and then its answers.

    Attributes:
        received: HQ's clock when the request came in (its entries' ``received_at``).
        results: One answer per event, in order, once done.
        error: What stopped its transaction (raised to the request), once done.
    """

    principal: Principal
    sent_at: dt.datetime | None
    prepared: list[Prepared]
    received: dt.datetime
    results: list[EventResult] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def events(self) -> int:
        return len(self.prepared)


class GroupCommit:
    """The pushes waiting for the writer, applied together in one transaction.

    Tills push one sale at a time; each push alone is a transaction with its round
    trips and its durable commit. Pushes that arrive while one is being written queue
    here, and whichever request finds the writer free takes the queue (up to
    ``max_events`` events, whole requests, in arrival order) and applies it as one
    batch: one lock, one prefetch, one bulk write, one commit, one answer per request.
    Nothing changes for a request but its wait; a refused event is still refused alone.

    Up to ``writers`` groups run at once: a push takes the change counter only to write
    (:func:`_commit_group`), so while one group writes the next one reads and re-quotes,
    its members locked; groups touching the same member wait for each other's commit.

    Attributes:
        max_events: The most events one transaction takes.
        writers: Groups applied at the same time in this process.
        groups: Transactions run so far; ``jobs``: requests they carried.
    """

    def __init__(self, db: HQDatabase, max_events: int = 2000, writers: int = 2) -> None:
        self.db = db
        self.max_events = max_events
        self.writers = writers
        self.groups = 0
        self.jobs = 0
        self._queue: list[_Job] = []
        self._running = 0
        self._ready = threading.Condition()

    def run(self, job: _Job, settings: HQSettings) -> None:
        """Apply ``job`` (with whatever else is waiting); raise its transaction's error."""
        with self._ready:
            self._queue.append(job)
        while True:
            with self._ready:
                while self._running >= self.writers and not job.done.is_set():
                    self._ready.wait()
                if job.done.is_set():
                    break
                if not self._queue:  # another writer took it: wait for its answer
                    self._ready.wait()
                    continue
                self._running += 1
                group = self._take()
            try:
                _commit_group(self.db, group, settings)
            finally:
                with self._ready:
                    self._running -= 1
                    self.groups += 1
                    self.jobs += len(group)
                    self._ready.notify_all()
        if job.error is not None:
            raise job.error

    def _take(self) -> list[_Job]:
        group = [self._queue.pop(0)]
        events = group[0].events
        while self._queue and events + self._queue[0].events <= self.max_events:
            events += self._queue[0].events
            group.append(self._queue.pop(0))
        return group


_committers: weakref.WeakKeyDictionary[HQDatabase, GroupCommit] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def committer_of(db: HQDatabase) -> GroupCommit:
    """The group commit of ``db`` in this process."""
    with _committers_lock:
        found = _committers.get(db)
        if found is None:
            found = _committers[db] = GroupCommit(db)
        return found


# A late-counter transaction that ends in a deadlock or a serialization failure is run
# again holding the counter from the start, as one that gives way (GiveWay) is.
_RUN_AGAIN = frozenset({"40P01", "40001"})


def _commit_group(db: HQDatabase, jobs: list[_Job], settings: HQSettings) -> None:
    """Apply ``jobs`` in one transaction; if the database refuses the bulk write, each
    job again alone, event by event in savepoints. Every job ends done.

    The transaction locks the members (and coupons, holds, mall items) it reads and
    takes the change counter only to write (:meth:`HQDatabase.write` ``late_counter``):
    another worker process computes its batch while this one writes. If the writer
    holding the counter waits for one of its members, it gives way and is run again
    the usual way, counter first (:class:`GiveWay`).
    """
    try:
        try:
            try:
                _Batch(db, jobs, settings).run(one_by_one=False, late=True)
            except (GiveWay, OperationalError) as exc:
                if isinstance(exc, OperationalError) and (
                    getattr(exc.orig, "sqlstate", None) not in _RUN_AGAIN
                ):
                    raise
                _Batch(db, jobs, settings).run(one_by_one=False)
        except (IntegrityError, DataError):
            for job in jobs:
                _Batch(db, [job], settings).run(one_by_one=True)
    except BaseException as exc:
        for job in jobs:
            if not job.done.is_set():
                job.error = exc
        raise
    finally:
        for job in jobs:
            job.done.set()


@dataclass
class _Batch:
    """One transaction: the events of ``jobs`` in order, on one :class:`Book`."""

    db: HQDatabase
    jobs: list[_Job]
    settings: HQSettings

    def run(self, *, one_by_one: bool, late: bool = False) -> None:
        # members each writer registered or sold to: they enter its region's scope
        self.seen: list[tuple[Principal, Sequence[tuple[str, str]]]] = []
        with self.db.write(late_counter=late) as s:
            for job in self.jobs:
                if job.sent_at is not None or job.principal.kind == "till":
                    _check_clock(s, job.principal, job.sent_at, job.received, self.settings)
            book = Book(s, self.settings.now())
            want = Prefetch()
            for job in self.jobs:
                for item in job.prepared:
                    if item.model is not None:
                        gather(want, item.event.kind, item.model)
            rules = active_rules(s)
            now = self.jobs[0].received
            book.prefetch(want, rules, window_start_at(rules, now))
            # the first answers are read once the members are locked: a push of the same
            # events that held them (another worker) has committed by then, and its
            # answers are seen with the rows it wrote
            records = self._records(book)
            results = {
                id(job): [
                    self._apply(book, job, item, records, one_by_one) for item in job.prepared
                ]
                for job in self.jobs
            }
            # the sales, lines, lots and answers first, the counter free: another
            # writer commits meanwhile; then, holding it, the rows tills pull by number
            book.flush_unsequenced()
            book.lock_counter()
            book.flush()
            scopes = [
                row
                for principal, seen in self.seen
                for row in members_seen(principal, seen, book.canonical_id)
            ]
            add_scopes(s, scopes, book.next_seq, at=now)
            for job in self.jobs:
                self._audit_refusals(s, job, results[id(job)])
        for job in self.jobs:
            job.results = results[id(job)]

    @staticmethod
    def _audit_refusals(session: Session, job: _Job, results: Sequence[EventResult]) -> None:
        """Record every event HQ refused in its audit trail (not ``retry_later``: that
        one is only early)."""
        kinds = {item.event.id: item.event.kind for item in job.prepared}
        for result in results:
            if result.status in ("applied", "retry_later"):
                continue
            audit.record(
                session,
                job.received,
                job.principal.key,
                "push.refused",
                result.event_id,
                kind=kinds.get(result.event_id),
                status=result.status,
                http_status=result.http_status,
                error=(result.error or "")[:300],
            )

    def _records(self, book: Book) -> dict[str, tuple[str, str, dict[str, Any]]]:
        ids = {
            item.event.id for job in self.jobs for item in job.prepared if item.model is not None
        }
        if not ids:
            return {}
        rows = book.execute(_idempotency_records(book.pg), {KEYS: sorted(ids)})
        return {row.key: (row.principal, row.payload_hash, row.response) for row in rows}

    def _apply(
        self,
        book: Book,
        job: _Job,
        item: Prepared,
        records: dict[str, tuple[str, str, dict[str, Any]]],
        one_by_one: bool,
    ) -> EventResult:
        ev = item.event
        if item.refusal is not None or item.model is None:
            assert item.refusal is not None
            return item.refusal
        record = records.get(ev.id)
        if record is not None:
            principal, digest, response = record
            if digest == item.digest and principal == job.principal.key:
                return EventResult.model_validate(response | {"replayed": True})
            return _refused(
                ev,
                "conflict",
                409,
                f"event id {ev.id} was already used with a different payload; nothing was written",
            )
        alone = one_by_one or ev.kind in SOLO_KINDS
        if alone:
            book.flush()
        savepoint = book.conn.begin_nested() if one_by_one else None
        mark = book.mark()
        try:
            ctx = EventContext(book, job.principal, ev.id, job.received, self.settings)
            result = apply(ctx, ev.kind, item.model)
            answer = EventResult(event_id=ev.id, status="applied", http_status=201, result=result)
            response = answer.model_dump(mode="json")
            book.insert(
                IDEMPOTENCY,
                {
                    "key": ev.id,
                    "principal": job.principal.key,
                    "kind": ev.kind,
                    "payload_hash": item.digest,
                    "response": response,
                    "created_at": job.received,
                },
            )
            if alone:
                book.flush()
            if savepoint is not None:
                savepoint.commit()
        except HQError as exc:
            book.rollback(mark)
            if savepoint is not None:
                savepoint.rollback()
            return _refused(
                ev,
                _STATUS_OF_ERROR.get(exc.status, "rejected"),
                exc.status,
                exc.message,
                result={"facts": exc.detail} if exc.detail else None,
            )
        except (IntegrityError, DataError) as exc:
            if savepoint is None:
                raise  # the whole request is applied again, event by event
            savepoint.rollback()
            book.reset()
            if isinstance(exc, IntegrityError):
                return _refused(
                    ev, "conflict", 409, f"an id in this event is already used: {_first_line(exc)}"
                )
            return _refused(ev, "rejected", 400, f"a value is out of range: {_first_line(exc)}")
        records[ev.id] = (job.principal.key, item.digest, response)
        self.seen.append((job.principal, ctx.seen))
        return answer


@cache
def _idempotency_records(pg: bool) -> Select[Any]:
    """The first answers of a batch's event ids: one array parameter on PostgreSQL (an
    ``IN`` list of 500 literals cost more to render and send than to run)."""
    return select(
        IDEMPOTENCY.c.key,
        IDEMPOTENCY.c.principal,
        IDEMPOTENCY.c.payload_hash,
        IDEMPOTENCY.c.response,
    ).where(one_of(IDEMPOTENCY.c.key, pg=pg))


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.splitlines()[0][:200]


def _check_clock(
    s: Session,
    principal: Principal,
    sent_at: dt.datetime | None,
    now: dt.datetime,
    settings: HQSettings,
) -> None:
    """Record the till's last push and its clock; flag a clock that is off (one open
    flag per writer, updated while it lasts)."""
    skew = None if sent_at is None else int((sent_at - now).total_seconds())
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
            FlaggedRecord(kind="clock_skew", principal=principal.key, detail=detail, created_at=now)
        )
    else:
        open_flag.detail = {**detail, "first_seen": open_flag.created_at.isoformat()}
