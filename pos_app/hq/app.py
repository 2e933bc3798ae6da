"""HQ's HTTP API (FastAPI). ``create_app(db)`` builds it; ``pos-hq serve`` runs it.

Every endpoint but ``/health`` and the OpenAPI document needs ``Authorization: Bearer
<token>``: a till's, a channel's or an admin's, checked before the body is read, and
every body has a size limit (413) (:mod:`pos_app.hq.gate`). Errors are JSON:
``{"detail": message, "code": code}``; a malformed request is 422 with the path of every
bad field. Admin actions and refused writes go to the audit trail (:mod:`pos_app.hq.audit`).

Back-pressure (:mod:`pos_app.hq.admission`): write requests (push, channel events,
holds) and reads (pull, member look-ups) each pass a per-process gate; a full queue, a
pooled connection or a lock that does not come in time answers ``503`` with
``Retry-After``, never ``500``. Pull and member look-ups may be answered by a streaming
replica (:mod:`pos_app.hq.replica`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pos_app import __version__
from pos_app.hq import (
    adjustments,
    admin,
    audit,
    consent,
    feed,
    front,
    holds,
    keys,
    mall,
    member_codes,
    pull,
    scopes,
    snapshot,
)
from pos_app.hq import push as pushing
from pos_app.hq.admission import READ, WRITE, Gate, gates
from pos_app.hq.config import HQSettings
from pos_app.hq.console.web import ConsoleMount, console_app
from pos_app.hq.database import PHONE_KEY, HQDatabase
from pos_app.hq.errors import BadRequest, Busy, Forbidden, HQError, Unauthorized
from pos_app.hq.events import allowed_kinds
from pos_app.hq.gate import PRINCIPAL_KEY, RequestGate
from pos_app.hq.jobs import run_jobs
from pos_app.hq.ledger import active_rules
from pos_app.hq.replica import Reader
from pos_app.hq.schemas import (
    AdjustmentIn,
    ChannelIn,
    Code,
    ConsentStatementIn,
    ContactsIn,
    CouponsIn,
    CredentialOut,
    HoldOut,
    HoldPostRequest,
    HoldRequest,
    JobsIn,
    MallFrontIn,
    MallItemsIn,
    ManagerIn,
    MemberCodeUseIn,
    PrizesIn,
    ProductsIn,
    PullResponse,
    PushRequest,
    PushResponse,
    ReviewStatus,
    RuleSetIn,
    ScopeMembersIn,
    StoreIn,
    TillIn,
)
from pos_app.hq.security import Principal, authenticate

log = logging.getLogger(__name__)


def own_channel(who: Principal, channel: str) -> None:
    """Refuse a channel credential acting under another channel's path.

    Raises:
        Forbidden: ``who`` is not channel ``channel``.
    """
    if who.id != channel:
        raise Forbidden(f"this credential is channel {who.id!r}, not {channel!r}")


def _json(answer: PushResponse) -> Response:
    """A push's answer as JSON, serialised once by pydantic: FastAPI would validate the
    returned model again and encode it with the standard library (10 ms for 500 events,
    about 5% of a push's time)."""
    return Response(answer.model_dump_json(), media_type="application/json")


# SQLSTATEs of PostgreSQL giving up on a lock: lock_not_available (lock_timeout),
# query_canceled (statement_timeout), serialization_failure, deadlock_detected
LOCK_TIMEOUTS = frozenset({"55P03", "57014", "40001", "40P01"})

_bearer = HTTPBearer(auto_error=False, description="A till, channel or admin token.")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request says something impossible (`code`: `bad_request`...)."},
    401: {"description": "Missing or unknown credential (checked before the body is read)."},
    403: {"description": "The credential may not do this."},
    404: {"description": "No such store, till, member, hold, key or review."},
    409: {"description": "Conflicts with what HQ holds (an id reused, a state, a floor)."},
    413: {"description": "The body is larger than HQ takes on this path (not read)."},
    422: {"description": "Malformed request: `detail` lists each bad field with its path."},
    503: {
        "description": "HQ is busy (admission queue full, no database connection or lock "
        "in time; the transaction in flight was rolled back: send the same request again "
        "after the `Retry-After` header's seconds, with jitter), or cannot sign a member "
        "code now (`code`: `no_signing_key`).",
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        },
    },
}


def _error(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=dict(headers or {}))


def _loc(loc: Any) -> str:
    return ".".join(str(part) for part in loc)


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    known = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    if isinstance(known, Principal):  # the gate checked it before the body was read
        return known
    if credentials is None or not credentials.credentials:
        raise Unauthorized("a Bearer token is required")
    db: HQDatabase = request.app.state.db
    with db.read() as s:
        who = authenticate(s, credentials.credentials)
    if who is None:
        raise Unauthorized("unknown or revoked credential")
    return who


def _busy(exc: Busy) -> JSONResponse:
    return _error(exc.status, exc.as_dict(), {"Retry-After": str(exc.retry_after)})


def _admitted(kind: str) -> Callable[[Request], AsyncIterator[None]]:
    """A dependency holding a slot of the ``kind`` gate while the request runs."""

    async def admit(request: Request) -> AsyncIterator[None]:
        gate: Gate = request.app.state.gates[kind]
        async with gate.admit():
            yield

    return admit


WRITE_GATE = [Depends(_admitted(WRITE))]
READ_GATE = [Depends(_admitted(READ))]


def _requires(*kinds: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(who: Annotated[Principal, Depends(_principal)]) -> Principal:
        if who.kind not in kinds:
            raise Forbidden(f"this needs a {' or '.join(kinds)} credential, not a {who.kind}")
        return who

    return check


Writer = Annotated[Principal, Depends(_requires("till", "channel"))]
TillOnly = Annotated[Principal, Depends(_requires("till"))]
ChannelOnly = Annotated[Principal, Depends(_requires("channel"))]
AdminOnly = Annotated[Principal, Depends(_requires("admin"))]
Anyone = Annotated[Principal, Depends(_principal)]
ChannelPath = Annotated[str, Path(max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
MemberPath = Annotated[str, Path(max_length=48)]
HoldId = Annotated[str, Path(max_length=48, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


def _audit_refusal(
    db: HQDatabase, request: Request, status: int, code: str, message: str, at: dt.datetime
) -> None:
    """Record a write HQ refused from a known caller (runs on a worker thread)."""
    who = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    if not isinstance(who, Principal) or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    try:
        with db.write() as s:
            audit.record(
                s,
                at,
                who.key,
                "request.refused",
                None,
                method=request.method,
                path=request.url.path[:200],
                status=status,
                code=code,
                error=message[:300],
            )
    except Exception:  # the refusal is answered even when it cannot be recorded
        log.exception("could not record a refused request in the audit trail")


def create_app(
    db: HQDatabase,
    settings: HQSettings | None = None,
    *,
    replica: HQDatabase | None = None,
    closing: Sequence[HQDatabase] = (),
    master_key: keys.MasterKey | None = None,
) -> FastAPI:
    """The API on ``db`` (already migrated).

    Args:
        db: HQ's database (the primary).
        settings: HQ's numbers and clock.
        replica: A streaming replica of ``db`` to serve pull and member look-ups from.
        closing: Databases the app closes when it shuts down (those it was built for).
        master_key: Opens the member-code signing keys (the member app's codes); without
            it only the SQLite demo key signs.
    """
    settings = settings or HQSettings()
    reader = Reader(db, replica, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for database in closing:
                database.close()

    app = FastAPI(
        title="Points till HQ (会员积分总部)",
        version=__version__,
        description=(
            "HQ's authoritative loyalty ledger. Tills push their outbox events and pull "
            "changes by cursor; the online mall and the member app push through "
            "`/v1/channel/{channel}/events`. See docs/sync.md for the protocol."
        ),
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    app.state.reader = reader
    app.state.gates = gates(settings)
    app.add_middleware(RequestGate, db=db, settings=settings)
    # The console signs in with its own cookie: its paths bypass the API's Bearer gate.
    app.add_middleware(
        ConsoleMount, console=console_app(db, settings), max_body=settings.max_batch_body_bytes
    )

    async def refused(request: Request, status: int, code: str, message: str) -> None:
        await run_in_threadpool(_audit_refusal, db, request, status, code, message, settings.now())

    # -- errors ---------------------------------------------------------------------
    @app.exception_handler(HQError)
    async def _hq_error(request: Request, exc: HQError) -> JSONResponse:
        if isinstance(exc, Busy):
            return _busy(exc)
        if exc.status not in (401, 424, 503):
            await refused(request, exc.status, exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.as_dict(), headers)

    @app.exception_handler(PoolTimeout)
    async def _no_connection(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection came free in time: answered 503")
        return _busy(Busy("HQ has no database connection free", settings.retry_after_seconds))

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        # a lock or statement timeout, a lost connection, a server shutting down: the
        # transaction was rolled back and the same request can be sent again. Only the
        # SQLSTATE is logged: the statement's parameters may hold personal data.
        sqlstate = getattr(exc.orig, "sqlstate", None)
        log.warning("database %s (SQLSTATE %s): answered 503", type(exc.orig).__name__, sqlstate)
        why = (
            "a database lock did not come in time"
            if sqlstate in LOCK_TIMEOUTS
            else "its database did not answer"
        )
        return _busy(Busy(f"HQ is busy: {why}", settings.retry_after_seconds))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": _loc(err.get("loc", ())),
                "msg": str(err.get("msg", "")),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": "", "msg": "invalid request"}
        await refused(request, 422, "invalid", f"{first['loc']}: {first['msg']}")
        return _error(
            422,
            jsonable_encoder(
                {"detail": errors, "code": "invalid", "message": f"{first['loc']}: {first['msg']}"}
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, {"detail": str(exc.detail), "code": "http"}, exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        text = str(exc.orig).splitlines()[0][:200] if exc.orig else "integrity error"
        await refused(request, 409, "conflict", text)
        return _error(409, {"detail": f"conflicts with what HQ holds: {text}", "code": "conflict"})

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        text = str(exc.orig).splitlines()[0][:200] if exc.orig else "data error"
        await refused(request, 400, "bad_request", text)
        return _error(400, {"detail": f"a value is out of range: {text}", "code": "bad_request"})

    # -- public ---------------------------------------------------------------------
    @app.get("/health", tags=["public"], responses={413: ERROR_RESPONSES[413]})
    def health() -> dict[str, Any]:
        """Liveness, and this process's counters: reads answered by the replica and by
        the primary, requests admitted and refused (no credential needed)."""
        return {
            "status": "ok",
            "version": __version__,
            "now": settings.now().isoformat(),
            "pid": os.getpid(),
            "reads": {"replica_configured": replica is not None, **reader.stats.as_dict()},
            "admission": {name: gate.stats() for name, gate in app.state.gates.items()},
        }

    # -- tills and channels ---------------------------------------------------------
    @app.get("/v1/me", tags=["sync"], responses=ERROR_RESPONSES)
    def me(who: Anyone) -> dict[str, Any]:
        """Who the credential is, HQ's clock, the active rule set, the phone-hash key and
        the event kinds HQ takes from it (a till holds back any other kind)."""
        with db.read() as s:
            rules = active_rules(s)
        return {
            "kind": who.kind,
            "id": who.id,
            "store_id": who.store_code,
            "till_id": who.till_code,
            "region": who.region,
            "hq_time": settings.now().isoformat(),
            "rule_set_version": rules.version,
            "phone_key": db.setting(PHONE_KEY) if who.kind != "admin" else None,
            "clock_skew_seconds": settings.clock_skew_seconds,
            "event_kinds": sorted(allowed_kinds(who)) if who.kind != "admin" else [],
        }

    @app.post(
        "/v1/push",
        tags=["sync"],
        response_model=PushResponse,
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def push(body: PushRequest, who: TillOnly) -> Response:
        """Apply a till's outbox events in order, in one transaction, each once."""
        return _json(pushing.push(db, who, body, settings))

    @app.post(
        "/v1/channel/{channel}/events",
        tags=["sync"],
        response_model=PushResponse,
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def channel_events(
        channel: Annotated[str, Path(max_length=16, pattern=r"^[A-Za-z0-9_-]+$")],
        body: PushRequest,
        who: ChannelOnly,
    ) -> Response:
        """The online mall's and the member app's events, with the push guarantees."""
        own_channel(who, channel)
        return _json(pushing.push(db, who, body, settings))

    @app.get(
        "/v1/pull",
        tags=["sync"],
        response_model=PullResponse,
        responses=ERROR_RESPONSES,
        dependencies=READ_GATE,
    )
    def pull_changes(
        who: Writer,
        cursor: Annotated[str, Query(max_length=40)] = "",
        limit: Annotated[int, Query(ge=1, le=pull.MAX_PULL)] = 500,
    ) -> JSONResponse:
        """Changes after ``cursor`` (opaque text; a till's region's members and their
        entries, members entering its region whole, rule sets, products, mall items,
        coupons), with the next cursor."""
        after = feed.parse_cursor(cursor)
        page = reader.run("pull", lambda d: pull.pull(d, who, after, limit), at_least=after)
        return JSONResponse(page)

    @app.get(
        "/v1/snapshot",
        tags=["sync"],
        response_class=StreamingResponse,
        responses=ERROR_RESPONSES
        | {200: {"content": {"application/x-ndjson": {}}, "description": "gzip NDJSON"}},
        dependencies=READ_GATE,
    )
    def first_sync_snapshot(
        who: TillOnly, after: Annotated[str, Query(max_length=64)] = ""
    ) -> StreamingResponse:
        """A till's first sync: its region's members whole, with rule sets, products,
        mall items and coupons, then the cursor to pull from (gzip NDJSON, streamed;
        ``after``: continue after that member id)."""
        lines = snapshot.snapshot_lines(db, who, after)
        return StreamingResponse(
            snapshot.gzip_chunks(lines),
            media_type="application/x-ndjson",
            headers={"Content-Encoding": "gzip", "Cache-Control": "no-store"},
        )

    @app.get(
        "/v1/members/lookup", tags=["sync"], responses=ERROR_RESPONSES, dependencies=WRITE_GATE
    )
    def lookup_member(
        who: TillOnly,
        phone_hash: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
        member_no: Annotated[int | None, Query(ge=1, le=10**15)] = None,
        member_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """A member this till does not hold, whole (as in the snapshot); it joins the
        till's region, so its changes come by pull from then on."""
        keys = [k for k in (phone_hash, member_no, member_id) if k is not None]
        if len(keys) != 1:
            raise BadRequest("give exactly one of phone_hash, member_no, member_id")
        return snapshot.lookup_member(
            db,
            who,
            phone_hash=phone_hash,
            member_no=member_no,
            member_id=member_id,
            now=settings.now(),
        )

    @app.get(
        "/v1/members/{member_id}", tags=["sync"], responses=ERROR_RESPONSES, dependencies=READ_GATE
    )
    def member(member_id: Annotated[str, Path(max_length=48)], who: Anyone) -> dict[str, Any]:
        """A member's authoritative balance, what holds reserve, lots and aliases."""
        del who
        now = settings.now()
        return reader.run("member", lambda d: admin.member_view(d, member_id, now))

    @app.post(
        "/v1/holds",
        tags=["holds"],
        status_code=201,
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def create_hold(body: HoldRequest, who: Writer) -> JSONResponse:
        """Authorise a spend online: check HQ's balance and reserve the points."""
        hold, created = holds.create_hold(db, who, body, settings.now())
        return JSONResponse(jsonable_encoder(hold), status_code=201 if created else 200)

    @app.get(
        "/v1/holds/{hold_id}", tags=["holds"], responses=ERROR_RESPONSES, dependencies=WRITE_GATE
    )
    def get_hold(hold_id: HoldId, who: Writer) -> HoldOut:
        """A hold and the member's available points."""
        return holds.get_hold(db, who, hold_id, settings.now())

    @app.post(
        "/v1/holds/{hold_id}/post",
        tags=["holds"],
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def post_hold(hold_id: HoldId, body: HoldPostRequest, who: Writer) -> HoldOut:
        """Confirm the spend for a sale; the points stay reserved until the sale arrives."""
        return holds.post_hold(db, who, hold_id, body, settings.now())

    @app.post(
        "/v1/holds/{hold_id}/void",
        tags=["holds"],
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def void_hold(hold_id: HoldId, who: Writer) -> HoldOut:
        """Release the reserved points."""
        return holds.void_hold(db, who, hold_id, settings.now())

    # -- member codes -----------------------------------------------------------------
    @app.get(
        "/v1/channel/{channel}/members/{member_id}/code",
        tags=["member codes"],
        responses=ERROR_RESPONSES,
        dependencies=READ_GATE,
    )
    def member_code(
        channel: Annotated[str, Path(max_length=16, pattern=r"^[A-Za-z0-9_-]+$")],
        member_id: Annotated[str, Path(max_length=48)],
        who: ChannelOnly,
        lifetime: Annotated[int, Query(ge=10, le=600)] = 120,
    ) -> dict[str, Any]:
        """The member's current signed member code (动态会员码) for the member app to
        show: valid ``lifetime`` seconds, accepted once by any till."""
        own_channel(who, channel)
        signed = member_codes.code_for_member(
            db, master_key, member_id, settings.now(), dt.timedelta(seconds=lifetime)
        )
        return signed.as_dict()

    # -- consent and contacts (the member app) ----------------------------------------
    @app.get(
        "/v1/channel/{channel}/members/{member_id}/consent",
        tags=["consent"],
        responses=ERROR_RESPONSES,
        dependencies=READ_GATE,
    )
    def get_consent(
        channel: ChannelPath, member_id: MemberPath, who: ChannelOnly
    ) -> dict[str, Any]:
        """The member's current consent (null: never stated, nothing is sent) and their
        addresses, masked."""
        own_channel(who, channel)
        with db.read() as s:
            member = consent.canonical_member_id(s, member_id)
            state = consent.current(s, member)
            return {
                "member_id": member,
                "consent": state.as_dict() if state else None,
                "contacts": consent.masked_contacts(s, member),
            }

    @app.put(
        "/v1/channel/{channel}/members/{member_id}/consent",
        tags=["consent"],
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def put_consent(
        channel: ChannelPath, member_id: MemberPath, body: ConsentStatementIn, who: ChannelOnly
    ) -> dict[str, Any]:
        """Record the member's consent (or its withdrawal): in force at once, for what is
        already queued too."""
        own_channel(who, channel)
        with db.transaction() as s:
            member = consent.canonical_member_id(s, member_id)
            consent.record_consent(s, member, body.id, body, who.key, settings.now())
            state = consent.current(s, member)
            assert state is not None
            return state.as_dict()

    @app.put(
        "/v1/channel/{channel}/members/{member_id}/contacts",
        tags=["consent"],
        responses=ERROR_RESPONSES,
        dependencies=WRITE_GATE,
    )
    def put_contacts(
        channel: ChannelPath, member_id: MemberPath, body: ContactsIn, who: ChannelOnly
    ) -> dict[str, Any]:
        """Set the addresses the channel verified (sealed under HQ's master key)."""
        own_channel(who, channel)
        if master_key is None:
            raise keys.NoSigningKey(
                "HQ was started without its master key: it cannot seal addresses"
            )
        given = {name: getattr(body, name) for name in body.model_fields_set}
        with db.transaction() as s:
            member = consent.canonical_member_id(s, member_id)
            consent.set_contacts(s, master_key, member, given, who.key, settings.now())
            return {"member_id": member, "contacts": consent.masked_contacts(s, member)}

    # -- the mall's front page ----------------------------------------------------------
    @app.get(
        "/v1/channel/{channel}/mall/front",
        tags=["mall"],
        responses=ERROR_RESPONSES,
        dependencies=READ_GATE,
    )
    def mall_front(
        channel: ChannelPath,
        who: ChannelOnly,
        member_id: Annotated[str | None, Query(max_length=48)] = None,
    ) -> dict[str, Any]:
        """The mall's front page now (hot campaigns, value picks, new items, lottery,
        the member-day zone; HQ's featured items first), for a member's tier or a
        visitor."""
        own_channel(who, channel)
        with db.read() as s:
            return front.page(s, settings.now(), member_id)

    @app.get(
        "/v1/channel/{channel}/mall/quote",
        tags=["mall"],
        responses=ERROR_RESPONSES,
        dependencies=READ_GATE,
    )
    def mall_quote(
        channel: ChannelPath,
        who: ChannelOnly,
        item_id: Annotated[str, Query(min_length=1, max_length=32)],
        quantity: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> dict[str, Any]:
        """What ``quantity`` units cost now, with the price version to send back in the
        ``redemption`` event: HQ honours it for 15 minutes after the price changes, then
        refuses with 409 (quote again)."""
        own_channel(who, channel)
        with db.read() as s:
            return mall.quote(s, item_id, quantity, settings.now()).as_dict()

    @app.post(
        "/v1/member-codes/uses",
        tags=["member codes"],
        status_code=201,
        responses=ERROR_RESPONSES,
        dependencies=READ_GATE,
    )
    def member_code_use(body: MemberCodeUseIn, who: TillOnly) -> dict[str, Any]:
        """Record that a till accepts this scanned member code (once, anywhere): a code
        used before is refused with 409 ``code_used``; one HQ does not accept with 400
        ``invalid_code``. Tills call it with a short timeout when a code is scanned."""
        return member_codes.record_use(db, who, body.code, settings.now())

    # -- admin ----------------------------------------------------------------------
    @app.get("/v1/admin/stores", tags=["admin"], responses=ERROR_RESPONSES)
    def stores(who: AdminOnly) -> list[dict[str, Any]]:
        """Stores and their tills."""
        return admin.list_stores(db)

    @app.post("/v1/admin/stores", tags=["admin"], status_code=201, responses=ERROR_RESPONSES)
    def create_store(body: StoreIn, who: AdminOnly) -> dict[str, Any]:
        """Create a store."""
        return admin.create_store(
            db, body.code, body.name, settings.now(), body.region, actor=who.key
        )

    @app.post("/v1/admin/regions/{region}/members", tags=["admin"], responses=ERROR_RESPONSES)
    def assign_members(
        region: Annotated[Code, Path()], body: ScopeMembersIn, who: AdminOnly
    ) -> dict[str, Any]:
        """Put members in a region's scope: its tills receive them whole."""
        return scopes.assign_members(
            db, region, list(body.member_ids), settings.now(), actor=who.key
        )

    @app.get("/v1/admin/stores/{store}/managers", tags=["admin"], responses=ERROR_RESPONSES)
    def managers(store: Annotated[Code, Path()], who: AdminOnly) -> list[dict[str, Any]]:
        """The store's managers: who may approve a till's adjustment there."""
        return adjustments.list_managers(db, store)

    @app.post(
        "/v1/admin/stores/{store}/managers",
        tags=["admin"],
        status_code=201,
        responses=ERROR_RESPONSES,
    )
    def add_manager(
        store: Annotated[Code, Path()], body: ManagerIn, who: AdminOnly
    ) -> dict[str, Any]:
        """Make a till user (by her till user id) a manager of the store."""
        return adjustments.add_manager(
            db, store, body.manager_id, body.name, settings.now(), actor=who.key
        )

    @app.delete(
        "/v1/admin/stores/{store}/managers/{manager_id}", tags=["admin"], responses=ERROR_RESPONSES
    )
    def remove_manager(
        store: Annotated[Code, Path()],
        manager_id: Annotated[str, Path(max_length=64)],
        who: AdminOnly,
    ) -> dict[str, Any]:
        """She approves no more adjustments."""
        return adjustments.remove_manager(db, store, manager_id, settings.now(), actor=who.key)

    @app.post(
        "/v1/admin/stores/{store}/tills", tags=["admin"], status_code=201, responses=ERROR_RESPONSES
    )
    def register_till(
        store: Annotated[Code, Path()], body: TillIn, who: AdminOnly
    ) -> CredentialOut:
        """Register a till: its token (shown once) and the phone-hash key."""
        return admin.register_till(db, store, body.till_code, settings.now(), actor=who.key)

    @app.post("/v1/admin/channels", tags=["admin"], status_code=201, responses=ERROR_RESPONSES)
    def create_channel(body: ChannelIn, who: AdminOnly) -> CredentialOut:
        """Create a channel credential (online mall, member app)."""
        return admin.create_channel(db, body.code, body.name, settings.now(), actor=who.key)

    @app.get("/v1/admin/rule-sets", tags=["admin"], responses=ERROR_RESPONSES)
    def rule_sets(who: AdminOnly) -> list[dict[str, Any]]:
        """Published rule set versions."""
        return admin.list_rule_sets(db)

    @app.post("/v1/admin/rule-sets", tags=["admin"], status_code=201, responses=ERROR_RESPONSES)
    def publish_rule_set(body: RuleSetIn, who: AdminOnly) -> dict[str, Any]:
        """Publish (and by default activate) a rule set version."""
        return admin.publish_rule_set(
            db, body.document, body.activate, settings.now(), actor=who.key
        )

    @app.put("/v1/admin/products", tags=["admin"], responses=ERROR_RESPONSES)
    def products(body: ProductsIn, who: AdminOnly) -> dict[str, int]:
        """Create or replace catalogue products."""
        return admin.upsert_products(db, list(body.products), settings.now(), actor=who.key)

    @app.put("/v1/admin/mall-front", tags=["admin"], responses=ERROR_RESPONSES)
    def mall_front_featured(body: MallFrontIn, who: AdminOnly) -> dict[str, list[str]]:
        """Set what the mall's front page features, per section, in order."""
        sections = {str(k): list(v) for k, v in body.sections.items()}
        with db.write() as s:
            featured = front.set_featured(s, sections, settings.now())
            audit.record(s, settings.now(), who.key, "mall.front", None, sections=sections)
            return featured

    @app.put("/v1/admin/mall-items", tags=["admin"], responses=ERROR_RESPONSES)
    def mall_items(body: MallItemsIn, who: AdminOnly) -> dict[str, int]:
        """Create or replace points-mall items."""
        return admin.upsert_mall_items(db, list(body.items), settings.now(), actor=who.key)

    @app.put("/v1/admin/lotteries/{item_id}/prizes", tags=["admin"], responses=ERROR_RESPONSES)
    def lottery_prizes(
        item_id: Annotated[str, Path(max_length=32)], body: PrizesIn, who: AdminOnly
    ) -> list[dict[str, Any]]:
        """Set the prize catalogue of a lottery not drawn yet (best-ranked winners take
        the first prize first)."""
        with db.write() as s:
            rows = mall.set_prizes(s, item_id, list(body.prizes), settings.now(), who.key)
            return [mall.prize_data(r) for r in rows]

    @app.post(
        "/v1/admin/lotteries/{item_id}/draw",
        tags=["admin"],
        status_code=201,
        responses=ERROR_RESPONSES,
    )
    def lottery_draw(
        item_id: Annotated[str, Path(max_length=32)], who: AdminOnly
    ) -> dict[str, Any]:
        """Draw the lottery (a fresh seed, recorded): the prize job issues the prizes."""
        with db.write() as s:
            mall.draw(s, item_id, settings.now(), who.key)
            return mall.lottery_data(s, item_id)

    @app.get("/v1/admin/lotteries/{item_id}", tags=["admin"], responses=ERROR_RESPONSES)
    def lottery(item_id: Annotated[str, Path(max_length=32)], who: AdminOnly) -> dict[str, Any]:
        """The lottery: prizes, entries, the draw (seed included) and each win's issue."""
        with db.read() as s:
            return mall.lottery_data(s, item_id)

    @app.post("/v1/admin/coupons", tags=["admin"], status_code=201, responses=ERROR_RESPONSES)
    def coupons(body: CouponsIn, who: AdminOnly) -> dict[str, int]:
        """Issue coupons."""
        return admin.issue_coupons(db, list(body.coupons), settings.now(), actor=who.key)

    @app.post("/v1/admin/adjustments", tags=["admin"], status_code=201, responses=ERROR_RESPONSES)
    def adjustment(body: AdjustmentIn, who: AdminOnly) -> dict[str, Any]:
        """An HQ correction of a member's points (every till pulls it)."""
        return admin.adjust(db, who, body, settings.now())

    @app.get("/v1/admin/flags", tags=["admin"], responses=ERROR_RESPONSES)
    def flags(
        who: AdminOnly,
        kind: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Flagged records (overspend, clock skew, merges, re-quote mismatches...)."""
        return admin.list_flags(db, kind, after, limit)

    @app.get("/v1/admin/adjustment-reviews", tags=["admin"], responses=ERROR_RESPONSES)
    def reviews(who: AdminOnly, status: ReviewStatus | None = "held") -> list[dict[str, Any]]:
        """Till adjustments held for review (``status``: held, approved, rejected)."""
        return adjustments.list_reviews(db, status)

    @app.post(
        "/v1/admin/adjustment-reviews/{review_id}/{decision}",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def decide(
        review_id: HoldId,
        decision: Annotated[str, Path(pattern=r"^(approve|reject)$")],
        who: AdminOnly,
    ) -> dict[str, Any]:
        """Approve (the till's entries are posted) or reject (posted and reversed) a held
        adjustment."""
        return adjustments.decide_review(
            db, review_id, decision == "approve", settings.now(), actor=who.key
        )

    @app.get("/v1/admin/member-code-keys", tags=["admin"], responses=ERROR_RESPONSES)
    def code_keys(who: AdminOnly) -> list[dict[str, Any]]:
        """HQ's member-code keys (public halves, windows, revocations)."""
        return keys.list_keys(db, settings.now())

    @app.post(
        "/v1/admin/member-code-keys/{key_id}/revoke", tags=["admin"], responses=ERROR_RESPONSES
    )
    def revoke_code_key(
        key_id: Annotated[int, Path(ge=1, le=0xFFFF)],
        who: AdminOnly,
        reason: Annotated[str, Query(min_length=1, max_length=300)],
    ) -> dict[str, Any]:
        """Withdraw a key: tills refuse its codes once they pull (create and rotate keys
        with ``pos-hq keys``, where the master key file is)."""
        return keys.revoke_key(db, key_id, reason, settings.now(), actor=who.key)

    @app.post("/v1/admin/jobs/run", tags=["admin"], responses=ERROR_RESPONSES)
    def jobs(body: JobsIn, who: AdminOnly) -> dict[str, int]:
        """Run expiry, hold expiry and the tier review now (idempotent)."""
        at = body.now or settings.now()
        done = run_jobs(db, at).as_dict()
        with db.write() as s:
            audit.record(s, settings.now(), who.key, "jobs.run", None, now=at.isoformat(), **done)
        return done

    return app
