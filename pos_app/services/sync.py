"""The till's sync with HQ: push the outbox, pull what changed elsewhere, authorise spends.

Push (Anki's rule: pending until acknowledged). Outbox events leave in ``seq`` order, in
batches; HQ applies each event once in its own transaction and answers per event. An
event is marked sent only when its answer says ``applied`` (a retry after a lost reply
gets the first answer back, marked ``replayed``). Every attempt is counted and its error
kept on the event. A refused event (conflict, invalid, rejected, forbidden) stops the
push and is reported: nothing after it is sent until someone fixes it. An event HQ
cannot apply yet (``retry_later``) stops the push quietly until the next round.

Pull. Changes come back by cursor (HQ's change counter) in pages; each page is applied
in ONE SQLite transaction together with the new cursor, so an interrupted first sync
resumes at the last page it committed and a page applied twice changes nothing the
second time. Ledger entries keep their HQ ids and move lots and the cached balance the
way :func:`pos_app.services.ledger.post_points` does (a debit the lots cannot cover
becomes debt, as at HQ), so every balance stays equal to its ledger sum. Members,
rule set versions, products, mall items and coupons are upserted.

Spending online. :func:`complete_sale_online` asks HQ for a hold on the points before
the sale, commits the sale, then posts the hold (or voids it when the sale fails). Only
a sale HQ authorised this way is free of the offline allowance; see :class:`OnlineFlag`.

:class:`SyncWorker` runs all this on a plain background thread, with exponential
backoff and jitter while HQ is away, and reports a :class:`SyncState` through a
callback. It never touches Qt; the UI re-emits the callback as a signal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pos_app import __version__
from pos_app.core.calendar import local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP, InsufficientPoints
from pos_app.core.lots import expiry_for, take_up_to
from pos_app.core.quote import BasketLine
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.services import checkout
from pos_app.services.context import TillContext
from pos_app.services.ledger import ENTRY_KINDS, NO_FLOOR, post_points
from pos_app.services.retry import backoff_delay
from pos_app.store import repo
from pos_app.store.models import (
    Coupon,
    CouponUse,
    LedgerEntry,
    MallItemRow,
    Member,
    OutboxEvent,
    Product,
    Refund,
    RuleSetVersion,
    Sale,
)
from pos_app.store.types import new_id

log = logging.getLogger(__name__)

# -- settings keys (the till's ``settings`` table) ----------------------------------------

SETTING_URL = "hq_url"
SETTING_TOKEN = "hq_token"
SETTING_CURSOR = "sync_cursor"
SETTING_LAST_SYNC = "sync_last_at"
SETTING_HQ_TILL = "hq_till_id"

#: Environment variables that override the stored HQ address and token (support, tests).
ENV_URL = "POS_HQ_URL"
ENV_TOKEN = "POS_HQ_TOKEN"

#: HQ accepts at most 500 events per push and 5000 changes per pull page.
MAX_PUSH_BATCH = 500
MAX_PULL_PAGE = 5000

#: Entry kinds that add points (the rest take points away).
_DEBIT_KINDS = frozenset({"spend", "expire", "refund_reversal", "merge_out"})

#: Statuses of a pushed event that stop the push for good (until someone acts).
REFUSED_STATUSES = frozenset({"conflict", "invalid", "rejected", "forbidden"})

#: ``last_error`` of an event HQ refused starts with this: it is not sent again by itself.
REFUSED_MARK = "refused: "


# -- errors -------------------------------------------------------------------------------


class SyncError(Exception):
    """Base of everything the sync raises."""


class HQUnavailable(SyncError):
    """HQ cannot be reached, timed out, or answered with a server error (try again later)."""


class HQResponseError(SyncError):
    """HQ refused a whole request.

    Attributes:
        status: HTTP status.
        code: HQ's stable error code (``conflict``, ``invalid``...).
        detail: HQ's message (or the list of bad fields of a 422).
        facts: Extra JSON facts HQ attached (ids, amounts).
    """

    def __init__(self, status: int, code: str, detail: Any, facts: Mapping[str, Any]) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.facts = dict(facts)
        super().__init__(f"HQ answered {status} {code}: {_short(detail)}")


class HQAuthError(HQResponseError):
    """HQ does not know (or no longer accepts) the till's token."""


class SyncConfigError(SyncError):
    """The till is not set up for HQ (no address or token, or another identity)."""


def _short(detail: Any, limit: int = 300) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncConfig:
    """Where HQ is and how the till proves who it is.

    Attributes:
        hq_url: HQ's base URL (``https://hq.example.com``).
        token: The till's bearer token (``ptt_…``), from ``pos-app register-till``.
        push_batch: Events per push request (HQ takes at most 500).
        pull_page: Changes per pull page (HQ gives at most 5000).
        timeout: Seconds to wait for HQ's answer.
    """

    hq_url: str
    token: str
    push_batch: int = 100
    pull_page: int = 500
    timeout: float = 30.0


def load_sync_config(ctx: TillContext, env: Mapping[str, str] | None = None) -> SyncConfig | None:
    """The till's HQ settings (``$POS_HQ_URL`` / ``$POS_HQ_TOKEN`` win), or None."""
    env = os.environ if env is None else env
    with ctx.db.read() as session:
        url = env.get(ENV_URL) or repo.get_setting(session, SETTING_URL)
        token = env.get(ENV_TOKEN) or repo.get_setting(session, SETTING_TOKEN)
    if not url or not token:
        return None
    return SyncConfig(url, token)


def save_sync_config(ctx: TillContext, hq_url: str, token: str) -> None:
    """Store HQ's address and the till's token."""
    with ctx.db.write() as session:
        repo.put_setting(session, SETTING_URL, hq_url.rstrip("/"))
        repo.put_setting(session, SETTING_TOKEN, token)


def holds_data(ctx: TillContext) -> bool:
    """True once the till holds members or sales (its identity can no longer change)."""
    with ctx.db.read() as session:
        return (
            session.scalars(select(Member.id).limit(1)).first() is not None
            or session.scalars(select(Sale.id).limit(1)).first() is not None
        )


def save_registration(ctx: TillContext, hq_url: str, credential: Mapping[str, Any]) -> None:
    """Adopt a till credential from HQ: its token, store and till codes and the phone key.

    The phone-hash key must be HQ's for phone lookups to work across stores, and the
    store and till codes must be the ones HQ registered (HQ refuses sales naming another
    store). Neither can change once the till holds members or sales, because the stored
    hashes and receipt numbers depend on them. Reopen the till afterwards.

    Raises:
        SyncConfigError: the credential is not a till's, or the till already holds data
            made under another identity.
    """
    if credential.get("kind") != "till" or not credential.get("token"):
        raise SyncConfigError("this is not a till credential")
    store, till = str(credential.get("store_code") or ""), str(credential.get("till_code") or "")
    key = str(credential.get("phone_key") or "")
    if not store or not till or len(key) != 64:
        raise SyncConfigError("the credential lacks the store, the till or the phone key")
    with ctx.db.write() as session:
        same = (
            repo.get_setting(session, "store_id") == store
            and repo.get_setting(session, "till_id") == till
            and repo.get_setting(session, "phone_key") == key
        )
        if not same:
            if (
                session.scalars(select(Member.id).limit(1)).first() is not None
                or session.scalars(select(Sale.id).limit(1)).first() is not None
            ):
                raise SyncConfigError(
                    "this till already holds members or sales made under another store, "
                    "till or phone key: register it with its current codes, or start a "
                    "new till database"
                )
            repo.put_setting(session, "store_id", store)
            repo.put_setting(session, "till_id", till)
            repo.put_setting(session, "phone_key", key)
        repo.put_setting(session, SETTING_URL, hq_url.rstrip("/"))
        repo.put_setting(session, SETTING_TOKEN, str(credential["token"]))
        repo.put_setting(session, SETTING_HQ_TILL, str(credential.get("id") or f"{store}-{till}"))


# -- HTTP ---------------------------------------------------------------------------------


class HQClient:
    """A thin client of HQ's API (``docs/api.md``): JSON in, JSON out, errors mapped.

    Network failures, timeouts and 5xx answers raise :class:`HQUnavailable`; 401
    raises :class:`HQAuthError`; other 4xx answers raise :class:`HQResponseError`.
    One client per thread (the worker has its own).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        headers = {"User-Agent": f"points-till/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    @classmethod
    def from_config(
        cls, config: SyncConfig, transport: httpx.BaseTransport | None = None
    ) -> HQClient:
        """A client for ``config``."""
        return cls(config.hq_url, config.token, transport=transport, timeout=config.timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HQClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        token: str | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one request; the decoded JSON answer, or an error (see the class).

        A connection HQ closed just as it was reused (its keep-alive ran out) is retried
        once on a fresh one when the request is idempotent, as every sync request is
        (events and holds carry their ids).
        """
        headers = {"Authorization": f"Bearer {token}"} if token else None
        for attempt in (1, 2):
            try:
                response = self._http.request(
                    method, path, json=json_body, params=params, headers=headers
                )
                break
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if attempt == 2 or not idempotent:
                    raise HQUnavailable(f"HQ unreachable: {type(exc).__name__}: {exc}") from exc
            except httpx.TransportError as exc:
                raise HQUnavailable(f"HQ unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise HQUnavailable(f"HQ answered {response.status_code}")
        try:
            body = response.json() if response.content else None
        except ValueError:
            raise HQUnavailable(f"HQ answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            detail: Any = body
            code, facts = "http", dict[str, Any]()
            if isinstance(body, dict):
                detail = body.get("detail", body)
                code = str(body.get("code") or "http")
                facts = body.get("facts") or {}
            cls = HQAuthError if response.status_code == 401 else HQResponseError
            raise cls(response.status_code, code, detail, facts)
        return body

    # -- the till's calls ---------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """Who the token is, HQ's clock, the active rule set and the phone-hash key."""
        return dict(self.request("GET", "/v1/me"))

    def push(self, events: Sequence[Mapping[str, Any]], sent_at: dt.datetime) -> dict[str, Any]:
        """POST /v1/push: per-event results, in order."""
        body = {"events": list(events), "sent_at": sent_at.isoformat()}
        return dict(self.request("POST", "/v1/push", json_body=body))

    def pull(self, cursor: int, limit: int) -> dict[str, Any]:
        """GET /v1/pull: the changes after ``cursor``."""
        return dict(self.request("GET", "/v1/pull", params={"cursor": cursor, "limit": limit}))

    def create_hold(
        self, hold_id: str, member_id: str, points: int, sale_id: str | None, ttl_seconds: int
    ) -> dict[str, Any]:
        """POST /v1/holds: reserve ``points`` of the member at HQ."""
        body = {
            "id": hold_id,
            "member_id": member_id,
            "points": points,
            "ttl_seconds": ttl_seconds,
            "sale_id": sale_id,
        }
        return dict(self.request("POST", "/v1/holds", json_body=body))

    def post_hold(self, hold_id: str, sale_id: str) -> dict[str, Any]:
        """POST /v1/holds/{id}/post: the sale took the points."""
        return dict(
            self.request("POST", f"/v1/holds/{hold_id}/post", json_body={"sale_id": sale_id})
        )

    def void_hold(self, hold_id: str) -> dict[str, Any]:
        """POST /v1/holds/{id}/void: release the points."""
        return dict(self.request("POST", f"/v1/holds/{hold_id}/void"))

    def register_till(
        self, admin_token: str, store: str, till_code: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/admin/stores/{store}/tills with an admin token: a till credential."""
        return dict(
            self.request(
                "POST",
                f"/v1/admin/stores/{store}/tills",
                json_body={"till_code": till_code},
                token=admin_token,
                idempotent=False,  # a second till would be created
            )
        )


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedEvent:
    """An outbox event HQ did not apply.

    Attributes:
        seq: Its place in the outbox.
        event_id: Its id.
        kind: ``sale``, ``refund``...
        status: HQ's verdict (``conflict``, ``invalid``, ``rejected``, ``forbidden``,
            ``retry_later``).
        http_status: The matching HTTP status.
        error: HQ's explanation.
    """

    seq: int
    event_id: str
    kind: str
    status: str
    http_status: int
    error: str

    def __str__(self) -> str:
        return f"{self.kind} event {self.event_id} (#{self.seq}) {self.status}: {self.error}"


@dataclass(frozen=True)
class PushResult:
    """What one push did.

    Attributes:
        acknowledged: Events HQ acknowledged (and the till marked sent).
        replayed: Of those, events HQ had applied before (a lost reply).
        batches: Requests sent.
        pending: Events still waiting afterwards.
        refused: The event that stopped the push for good, if any.
        waiting: The event HQ cannot apply yet (``retry_later``), if any.
        flags: Kinds of the records HQ flagged for review on the way.
    """

    acknowledged: int = 0
    replayed: int = 0
    batches: int = 0
    pending: int = 0
    refused: RefusedEvent | None = None
    waiting: RefusedEvent | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncProgress:
    """Progress of a pull (a first sync can take many pages).

    Attributes:
        pages: Pages applied so far in this pull.
        changes: Changes applied so far in this pull.
        cursor: The cursor committed with the last page.
        has_more: HQ has more after it.
    """

    pages: int
    changes: int
    cursor: int
    has_more: bool


@dataclass(frozen=True)
class PullResult:
    """What one pull did.

    Attributes:
        pages: Pages applied.
        changes: Changes received.
        applied: Changes per topic that wrote something (a repeat writes nothing).
        cursor: The cursor afterwards.
        restarted: HQ said our cursor is ahead of it (a restored database): every event
            was marked unsent again and the pull started again from 0.
        mismatches: Members whose balance here, less the till's unsent points, differs
            from HQ's after the pull (the post-sync sanity check; should stay empty).
        problems: Changes that could not be applied as sent (recorded, not fatal).
    """

    pages: int = 0
    changes: int = 0
    applied: Mapping[str, int] = field(default_factory=dict)
    cursor: int = 0
    restarted: bool = False
    mismatches: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    """One push and pull."""

    push: PushResult
    pull: PullResult
    finished_at: dt.datetime


# -- pushing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    seq: int
    id: str
    kind: str
    payload: str
    created_at: dt.datetime
    last_error: str | None

    @property
    def refused(self) -> bool:
        """HQ refused it before: it waits for a person."""
        return bool(self.last_error and self.last_error.startswith(REFUSED_MARK))


def pending_events(session: Session, limit: int) -> list[_Pending]:
    """The oldest unsent outbox events, in order."""
    rows = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.sent_at.is_(None))
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    return [_Pending(r.seq, r.id, r.kind, r.payload, r.created_at, r.last_error) for r in rows]


def _refusal_text(refused: RefusedEvent) -> str:
    """What a refused event's ``last_error`` says (it starts with :data:`REFUSED_MARK`)."""
    return f"{REFUSED_MARK}{refused.status} ({refused.http_status}): {refused.error}"


def _refusal_of(ev: _Pending) -> RefusedEvent:
    """The refusal recorded on ``ev`` by an earlier push."""
    text = (ev.last_error or "").removeprefix(REFUSED_MARK)
    head, _, error = text.partition(": ")
    status, _, http = head.partition(" (")
    code = http.rstrip(")")
    return RefusedEvent(
        ev.seq, ev.id, ev.kind, status or "refused", int(code) if code.isdigit() else 0, error
    )


def _event_in_request_error(exc: HQResponseError, batch: Sequence[_Pending]) -> _Pending:
    """The event a whole-request refusal names (a 403's facts, a 422's field path)."""
    named = exc.facts.get("event_id")
    for ev in batch:
        if ev.id == named:
            return ev
    if isinstance(exc.detail, list):
        for err in exc.detail:
            loc = str(err.get("loc", "")) if isinstance(err, dict) else ""
            parts = loc.split(".")
            if "events" in parts:
                at = parts.index("events") + 1
                if at < len(parts) and parts[at].isdigit() and int(parts[at]) < len(batch):
                    return batch[int(parts[at])]
    return batch[0]


class SyncClient:
    """Push and pull for one till through one :class:`HQClient`.

    Attributes:
        ctx: The till.
        client: The HTTP client.
        push_batch: Events per push request.
        pull_page: Changes per pull page.
        on_progress: Called after every pull page (on the calling thread).
        retry_refused: Send again the events HQ refused before (after someone fixed
            the cause); by default a refused event stays put and blocks the push.
        identity: HQ's ``/v1/me`` answer, once checked.
        clock_skew_seconds: This till's clock minus HQ's, measured at that check.
    """

    def __init__(
        self,
        ctx: TillContext,
        client: HQClient,
        *,
        push_batch: int = 100,
        pull_page: int = 500,
        on_progress: Callable[[SyncProgress], None] | None = None,
        retry_refused: bool = False,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.retry_refused = retry_refused
        self.push_batch = max(1, min(push_batch, MAX_PUSH_BATCH))
        self.pull_page = max(1, min(pull_page, MAX_PULL_PAGE))
        self.on_progress = on_progress
        self.identity: dict[str, Any] | None = None
        self.clock_skew_seconds: float | None = None

    # -- identity -----------------------------------------------------------------------
    def verify_identity(self) -> dict[str, Any]:
        """Ask HQ who the token is and check it matches this till (once per client).

        Raises:
            SyncConfigError: the token is another till's, or the phone keys differ
                (members registered here would never be found elsewhere).
        """
        if self.identity is not None:
            return self.identity
        asked = self.ctx.now()
        me = self.client.me()
        answered = self.ctx.now()
        hq_time = _when(me.get("hq_time"))
        if hq_time is not None:
            self.clock_skew_seconds = ((asked + (answered - asked) / 2) - hq_time).total_seconds()
        if me.get("kind") != "till":
            raise SyncConfigError(f"the token is a {me.get('kind')} credential, not a till's")
        if (me.get("store_id"), me.get("till_id")) != (self.ctx.store_id, self.ctx.till_id):
            raise SyncConfigError(
                f"the token is till {me.get('store_id')}-{me.get('till_id')} at HQ but this "
                f"till is {self.ctx.store_id}-{self.ctx.till_id}: run pos-app register-till"
            )
        key = me.get("phone_key")
        if key and key != self.ctx.phone_key.hex():
            raise SyncConfigError(
                "this till's phone-hash key is not HQ's: run pos-app register-till before "
                "registering members"
            )
        self.identity = me
        return me

    # -- push -----------------------------------------------------------------------------
    def push(
        self, *, stop: threading.Event | None = None, max_batches: int | None = None
    ) -> PushResult:
        """Send the outbox in order until it is empty, an event is refused or HQ asks
        to wait.

        Raises:
            HQUnavailable: HQ went away (the batch in flight stays pending; HQ may
                have applied it, which the next push finds out).
            HQAuthError: the token was refused.
        """
        acknowledged = replayed = batches = 0
        refused: RefusedEvent | None = None
        waiting: RefusedEvent | None = None
        blocker: RefusedEvent | None = None  # a refused event further on in the outbox
        flags: list[str] = []
        while (stop is None or not stop.is_set()) and (
            max_batches is None or batches < max_batches
        ):
            with self.ctx.db.write() as session:
                batch = pending_events(session, self.push_batch)
                if not self.retry_refused:  # never resend a refusal by itself
                    stuck = next((i for i, ev in enumerate(batch) if ev.refused), None)
                    if stuck is not None:
                        blocker = _refusal_of(batch[stuck])
                        batch = batch[:stuck]
                if not batch:
                    break
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq.in_([ev.seq for ev in batch]))
                    .values(attempts=OutboxEvent.attempts + 1)
                )
            body = [
                {
                    "id": ev.id,
                    "kind": ev.kind,
                    "payload": ev.payload,
                    "created_at": ev.created_at.isoformat(),
                }
                for ev in batch
            ]
            try:
                answer = self.client.push(body, self.ctx.now())
            except (HQUnavailable, HQAuthError) as exc:
                self._record_errors(batch, str(exc))
                raise
            except HQResponseError as exc:
                culprit = _event_in_request_error(exc, batch)
                refused = RefusedEvent(
                    culprit.seq, culprit.id, culprit.kind, exc.code, exc.status, _short(exc.detail)
                )
                self._record_errors([culprit], _refusal_text(refused))
                batches += 1
                break
            batches += 1
            results = {
                str(r.get("event_id")): r for r in answer.get("results", []) if isinstance(r, dict)
            }
            now = self.ctx.now()
            with self.ctx.db.write() as session:
                for ev in batch:
                    r = results.get(ev.id)
                    if r is None:
                        self._set_error(session, ev.seq, "HQ gave no answer for this event")
                        waiting = waiting or RefusedEvent(
                            ev.seq, ev.id, ev.kind, "no_answer", 0, "HQ gave no answer"
                        )
                        continue
                    status = str(r.get("status"))
                    if status == "applied":
                        done = session.execute(
                            update(OutboxEvent)
                            .where(OutboxEvent.seq == ev.seq, OutboxEvent.sent_at.is_(None))
                            .values(sent_at=now, last_error=None)
                        )
                        if int(getattr(done, "rowcount", 1) or 0):
                            acknowledged += 1
                            replayed += bool(r.get("replayed"))
                        result = r.get("result") or {}
                        flags += [str(f) for f in result.get("flags") or ()]
                        continue
                    error = str(r.get("error") or status)
                    http = int(r.get("http_status") or 0)
                    problem = RefusedEvent(ev.seq, ev.id, ev.kind, status, http, error)
                    if status in REFUSED_STATUSES:
                        refused = refused or problem
                        self._set_error(session, ev.seq, _refusal_text(problem))
                    else:
                        waiting = waiting or problem
                        self._set_error(session, ev.seq, f"{status} ({http}): {error}")
            if refused is not None or waiting is not None or blocker is not None:
                break
            if len(batch) < self.push_batch:
                break
        if refused is None and waiting is None:
            refused = blocker
        with self.ctx.db.read() as session:
            pending = repo.pending_outbox(session)
        return PushResult(
            acknowledged, replayed, batches, pending, refused, waiting, tuple(sorted(set(flags)))
        )

    def _record_errors(self, batch: Sequence[_Pending], message: str) -> None:
        with self.ctx.db.write() as session:
            for ev in batch:
                self._set_error(session, ev.seq, message)

    @staticmethod
    def _set_error(session: Session, seq: int, message: str) -> None:
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.seq == seq, OutboxEvent.sent_at.is_(None))
            .values(last_error=message[:2000])
        )

    # -- pull -----------------------------------------------------------------------------
    def cursor(self) -> int:
        """The stored pull cursor (0 before the first sync)."""
        with self.ctx.db.read() as session:
            return _stored_cursor(session)

    def pull(
        self, *, stop: threading.Event | None = None, max_pages: int | None = None
    ) -> PullResult:
        """Apply HQ's changes page by page until none are left.

        Raises:
            HQUnavailable: HQ went away (every page applied so far stays applied).
            HQAuthError: the token was refused.
        """
        pages = changes = 0
        applied: dict[str, int] = {}
        mismatches: dict[str, None] = {}
        problems: list[str] = []
        restarted = False
        cursor = self.cursor()
        while (stop is None or not stop.is_set()) and (max_pages is None or pages < max_pages):
            try:
                page = self.client.pull(cursor, self.pull_page)
            except HQResponseError as exc:
                if exc.status != 409 or restarted or isinstance(exc, HQAuthError):
                    raise
                log.warning(
                    "HQ says cursor %s is ahead of it (restored from a backup): sending every "
                    "event again and pulling from 0",
                    cursor,
                )
                with self.ctx.db.write() as session:
                    repo.put_setting(session, SETTING_CURSOR, "0")
                    session.execute(  # HQ replays what it kept and applies what it lost
                        update(OutboxEvent)
                        .where(OutboxEvent.sent_at.is_not(None))
                        .values(sent_at=None, last_error="HQ was restored: sending again")
                    )
                cursor, restarted = 0, True
                continue
            items = list(page.get("changes") or ())
            next_cursor = int(page.get("next_cursor", cursor))
            with self.ctx.db.write() as session:
                stored = _stored_cursor(session)
                applier = PullApplier(self.ctx, session)
                if stored == cursor:
                    applier.apply_all(items)
                    applier.check_balances(up_to=next_cursor)
                    repo.put_setting(session, SETTING_CURSOR, str(max(next_cursor, cursor)))
            if stored != cursor:  # another sync of this till moved on: follow it
                cursor = stored
                continue
            applier.after_commit()
            pages += 1
            changes += len(items)
            for topic, n in applier.applied.items():
                applied[topic] = applied.get(topic, 0) + n
            for member_id in applier.mismatches:
                mismatches[member_id] = None
            for member_id in applier.matched:
                mismatches.pop(member_id, None)
            problems += applier.problems
            has_more = bool(page.get("has_more")) and next_cursor > cursor
            cursor = max(next_cursor, cursor)
            if self.on_progress is not None:
                self.on_progress(SyncProgress(pages, changes, cursor, has_more))
            if not has_more:
                break
        return PullResult(
            pages,
            changes,
            applied,
            cursor,
            restarted,
            tuple(mismatches),
            tuple(problems),
        )

    # -- both -------------------------------------------------------------------------------
    def sync_once(self, *, stop: threading.Event | None = None) -> SyncResult:
        """Check the identity, push, then pull; record the time of a complete round.

        After HQ was restored from a backup (the pull restarted), push and pull again:
        the events HQ lost go back at once.
        """
        self.verify_identity()
        pushed = self.push(stop=stop)
        pulled = self.pull(stop=stop)
        if pulled.restarted:
            pushed = self.push(stop=stop)
            again = self.pull(stop=stop)
            pulled = dataclasses.replace(
                again,
                restarted=True,
                changes=pulled.changes + again.changes,
                pages=pulled.pages + again.pages,
            )
        finished = self.ctx.now()
        with self.ctx.db.write() as session:
            repo.put_setting(session, SETTING_LAST_SYNC, finished.isoformat())
        return SyncResult(pushed, pulled, finished)


def _stored_cursor(session: Session) -> int:
    value = repo.get_setting(session, SETTING_CURSOR)
    return int(value) if value else 0


def last_sync_time(ctx: TillContext) -> dt.datetime | None:
    """When the till last finished a push and pull, or None."""
    with ctx.db.read() as session:
        value = repo.get_setting(session, SETTING_LAST_SYNC)
    return dt.datetime.fromisoformat(value) if value else None


# -- applying pulled changes -------------------------------------------------------------


def _merged_from(d: Mapping[str, Any]) -> str:
    """The member a ``merge_in`` entry moved points from (HQ writes "merged from ID")."""
    return str(d.get("reason") or "").removeprefix("merged from ")


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def _digest(prefix: str, text: str) -> bytes:
    return hashlib.sha256(f"{prefix}:{text}".encode()).digest()


def _placeholder_hash(member_id: str) -> bytes:
    """A phone hash no phone can have (aliases and members known only by id)."""
    return _digest("points-till/no-phone", member_id)


class PullApplier:
    """Applies one page of pulled changes inside the caller's transaction.

    Members that a change names before their own row arrives (their row's number moves
    on with every balance change, so it comes after their entries) are created as
    stubs with a placeholder phone hash and number, and filled in when the row comes.

    Attributes:
        applied: Changes per topic that wrote something.
        mismatches: Members whose balance less unsent points differs from HQ's.
        matched: Members whose balance agreed with HQ's in this page.
        problems: Changes applied differently than sent, explained.
    """

    def __init__(self, ctx: TillContext, session: Session) -> None:
        self.ctx = ctx
        self.session = session
        self.rules = ctx.rules
        self.applied: dict[str, int] = {}
        self.mismatches: list[str] = []
        self.matched: list[str] = []
        self.problems: list[str] = []
        self._rules_by_version: dict[str, RuleSet] = {self.rules.version: self.rules}
        self._rules_changed = False
        self._unsent: dict[str, int] | None = None
        self._merge_lots: dict[str, list[tuple[int, dt.date | None]]] = {}
        self._hq_balances: dict[str, tuple[int, int]] = {}
        self._known_entries: dict[str, tuple[int, str]] = {}
        self._checked: set[str] = set()
        self._members: dict[str, Member] = {}
        self._local_sales: set[str] = set()
        self._local_refunds: set[str] = set()

    # -- driver -------------------------------------------------------------------------
    def apply_all(self, changes: Iterable[Mapping[str, Any]]) -> None:
        """Apply ``changes`` in order."""
        handlers: dict[str, Callable[[Mapping[str, Any]], bool]] = {
            "member": self.apply_member,
            "entry": self.apply_entry,
            "rule_set": self.apply_rule_set,
            "product": self.apply_product,
            "mall_item": self.apply_mall_item,
            "coupon": self.apply_coupon,
        }
        changes = list(changes)
        self._prefetch([c["data"] for c in changes if c.get("topic") == "entry"])
        for change in changes:
            topic = str(change.get("topic"))
            handler = handlers.get(topic)
            data = change.get("data")
            if handler is None or not isinstance(data, Mapping):
                self.problems.append(f"seq {change.get('seq')}: unknown topic {topic!r} skipped")
                continue
            if handler(data):
                self.applied[topic] = self.applied.get(topic, 0) + 1
            if topic == "member" and isinstance(data.get("balance"), int):
                self._hq_balances[str(data["id"])] = (int(change.get("seq") or 0), data["balance"])
        self.session.flush()

    def check_balances(self, up_to: int) -> None:
        """The sanity check, once the page is applied: each member whose row the page
        carried at or below ``up_to`` (so every entry of theirs is here by now) must have
        HQ's balance plus the points of this till's unsent events. A member row HQ sent
        ahead of its place (to introduce the member of an entry) is checked later."""
        for member_id, (seq, hq_balance) in self._hq_balances.items():
            if seq > up_to:
                continue
            row = self.session.get(Member, member_id)
            expected = hq_balance + self.unsent_points().get(member_id, 0)
            if row is None or row.balance != expected:
                self.mismatches.append(member_id)
            else:
                self.matched.append(member_id)

    def _prefetch(self, entries: Sequence[Any]) -> None:
        """What the page's entries need to know, in a few queries instead of a few per
        entry: which ids the till holds already, which of their sales and refunds are
        this till's."""
        s = self.session
        rows = [d for d in entries if isinstance(d, Mapping)]
        ids = [str(d.get("id")) for d in rows]
        self._checked.update(ids)
        sales = sorted({str(d["sale_id"]) for d in rows if d.get("sale_id")})
        refunds = sorted({str(d["refund_id"]) for d in rows if d.get("refund_id")})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for entry_id, points, member_id in s.execute(
                select(LedgerEntry.id, LedgerEntry.points, LedgerEntry.member_id).where(
                    LedgerEntry.id.in_(chunk)
                )
            ):
                self._known_entries[entry_id] = (int(points), member_id)
        for start in range(0, len(sales), 500):
            self._local_sales |= set(
                s.scalars(select(Sale.id).where(Sale.id.in_(sales[start : start + 500])))
            )
        for start in range(0, len(refunds), 500):
            self._local_refunds |= set(
                s.scalars(select(Refund.id).where(Refund.id.in_(refunds[start : start + 500])))
            )

    def after_commit(self) -> None:
        """Make a newly active rule set the context's (after the page committed)."""
        if not self._rules_changed:
            return
        with self.ctx.db.read() as session:
            row = session.scalars(
                select(RuleSetVersion).where(RuleSetVersion.active.is_(True))
            ).first()
            document = row.document if row is not None else None
        if document is not None:
            self.ctx.install_rule_set(load_rule_set(document), activate=True)

    # -- helpers ----------------------------------------------------------------------------
    def _rules_for(self, version: str | None) -> RuleSet:
        if not version:
            return self.rules
        found = self._rules_by_version.get(version)
        if found is None:
            row = self.session.get(RuleSetVersion, version)
            found = load_rule_set(row.document) if row is not None else self.rules
            self._rules_by_version[version] = found
        return found

    def unsent_points(self) -> dict[str, int]:
        """Points per member in outbox events HQ has not acknowledged."""
        if self._unsent is None:
            totals: dict[str, int] = {}
            rows = self.session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.sent_at.is_(None))
            )
            for text in rows:
                try:
                    payload = json.loads(text)
                except ValueError:
                    continue
                for e in payload.get("entries") or ():
                    mid = e.get("member_id")
                    if isinstance(mid, str) and isinstance(e.get("points"), int):
                        totals[mid] = totals.get(mid, 0) + e["points"]
                for section in ("member", "sale"):
                    part = payload.get(section)
                    mid = (part or {}).get("id" if section == "member" else "member_id")
                    if isinstance(mid, str):
                        totals.setdefault(mid, 0)
            self._unsent = totals
        return self._unsent

    def _free_member_no(self, member_id: str, avoid: int | None = None) -> int:
        """A local member number for a member HQ gave none: in 8000000000-8999999999,
        below every till's block, so it never takes a number a till hands out."""
        seed = int.from_bytes(_digest("member-no", member_id)[:8], "big") % 999_999_999
        while True:
            number = 8_000_000_000 + seed
            holder = self.session.scalars(
                select(Member.id).where(Member.member_no == number)
            ).first()
            if number != avoid and holder in (None, member_id):
                return number
            seed = (seed + 1) % 999_999_999

    def _free_referral_code(self, member_id: str) -> str:
        base = hashlib.sha256(f"ref:{member_id}".encode()).hexdigest().upper()
        for start in range(0, 48, 2):
            code = "Z" + base[start : start + 7]
            if self.session.scalars(
                select(Member.id).where(Member.referral_code == code)
            ).first() in (None, member_id):
                return code
        return "Z" + new_id()[-15:].upper()

    def _get_member(self, member_id: str) -> Member | None:
        """The member row, kept for the page (the session holds clean rows weakly)."""
        row = self._members.get(member_id)
        if row is None:
            row = self.session.get(Member, member_id)
            if row is not None:
                self._members[member_id] = row
        return row

    def member(self, member_id: str, at: dt.datetime) -> Member:
        """The member ``member_id``, created as a stub when the till does not know it."""
        row = self._get_member(member_id)
        if row is not None:
            return row
        row = Member(
            id=member_id,
            member_no=self._free_member_no(member_id),
            phone_hash=_placeholder_hash(member_id),
            phone_last4="",
            phone_masked="",
            name="",
            birthday=None,
            tier=self.rules.tier_codes()[0],
            tier_since=at,
            referral_code=self._free_referral_code(member_id),
            referred_by=None,
            registered_at=at,
            registered_store="",
            balance=0,
            last_seen_at=at,
        )
        self.session.add(row)
        self.session.flush()
        self._members[member_id] = row
        return row

    # -- members ------------------------------------------------------------------------
    def apply_member(self, d: Mapping[str, Any]) -> bool:
        """Create or update a member from HQ's row (never its balance: the ledger's).

        The phone hash, member number and referral code are unique here as at HQ: HQ's
        values win, and another row holding one of them (an alias, a member registered
        here and not pushed yet) gets a placeholder first.
        """
        s = self.session
        member_id = str(d["id"])
        registered = _when(d.get("registered_at")) or self.ctx.now()
        row = self._get_member(member_id)
        # The phone: the canonical member holds it; an alias is no longer found by it.
        alias = bool(d.get("alias_of"))
        digest = _placeholder_hash(member_id) if alias else bytes.fromhex(str(d["phone_hash"]))
        last4 = "" if alias else str(d.get("phone_last4") or "")
        number = d.get("member_no")
        if not (isinstance(number, int) and 0 < number < 10**10):
            number = row.member_no if row is not None else None
        code = str(d.get("referral_code") or "") or (row.referral_code if row else None)
        evicted = False
        if row is None or row.phone_hash != digest:
            for other in s.scalars(
                select(Member).where(Member.phone_hash == digest, Member.id != member_id)
            ):
                other.phone_hash, other.phone_last4, evicted = _placeholder_hash(other.id), "", True
        if number is not None and (row is None or row.member_no != number):
            for other in s.scalars(
                select(Member).where(Member.member_no == number, Member.id != member_id)
            ):
                other.member_no, evicted = self._free_member_no(other.id, avoid=number), True
        if code and (row is None or row.referral_code != code):
            for other in s.scalars(
                select(Member).where(Member.referral_code == code, Member.id != member_id)
            ):
                other.referral_code, evicted = self._free_referral_code(other.id), True
        if evicted:
            s.flush()  # free the values before this row takes them (UNIQUE is checked per row)
        if row is None:
            row = Member(
                id=member_id,
                member_no=number if number is not None else self._free_member_no(member_id),
                referral_code=code or self._free_referral_code(member_id),
                phone_hash=digest,
                phone_last4=last4,
                phone_masked="",
                tier=self.rules.tier_codes()[0],
                tier_since=_when(d.get("tier_since")) or registered,
                registered_at=registered,
                registered_store="",
                balance=0,
                last_seen_at=registered,
            )
            s.add(row)
            s.flush()  # before any entry of theirs: the unit of work does not order by FK
            self._members[member_id] = row
        else:
            row.phone_hash, row.phone_last4 = digest, last4
            if number is not None:
                row.member_no = number
            if code:
                row.referral_code = code
        row.phone_masked = str(d.get("phone_masked") or row.phone_masked or "")
        row.name = str(d.get("name") or row.name or "")
        row.birthday = _day(d.get("birthday")) or row.birthday
        referred_by = d.get("referred_by")
        if referred_by and referred_by != member_id:
            self.member(str(referred_by), registered)
            row.referred_by = str(referred_by)
        row.registered_at = registered
        row.registered_store = str(d.get("registered_store") or row.registered_store or "")
        first = _when(d.get("first_purchase_at"))
        if first is not None and (row.first_purchase_at is None or first < row.first_purchase_at):
            row.first_purchase_at = first
        gift = d.get("birthday_gift_year")
        if isinstance(gift, int) and (row.birthday_gift_year or 0) < gift:
            row.birthday_gift_year = gift
        self._apply_tier(row, d)
        return True

    def _apply_tier(self, row: Member, d: Mapping[str, Any]) -> None:
        tier = d.get("tier")
        codes = self.rules.tier_codes()
        if tier not in codes or tier == row.tier:
            return
        local_higher = row.tier in codes and self.rules.tier_rank(row.tier) > self.rules.tier_rank(
            str(tier)
        )
        if local_higher and row.id in self.unsent_points():
            return  # an unsent sale here upgraded the member: HQ will agree once it has it
        row.tier = str(tier)
        row.tier_since = _when(d.get("tier_since")) or row.tier_since

    # -- ledger entries -----------------------------------------------------------------
    def apply_entry(self, d: Mapping[str, Any]) -> bool:
        """Record another channel's (or HQ's) ledger entry under its HQ id."""
        s = self.session
        entry_id = str(d["id"])
        points = int(d["points"])
        member_id = str(d["member_id"])
        known = self._known_entries.get(entry_id)
        if entry_id not in self._checked:  # not prefetched (a change applied by hand)
            row = s.get(LedgerEntry, entry_id)
            known = (row.points, row.member_id) if row is not None else None
        if known is not None:
            if known != (points, member_id):
                self.problems.append(
                    f"entry {entry_id}: HQ has {points} points for {member_id}, this till "
                    f"{known[0]} for {known[1]}; kept the till's"
                )
            return False
        if points == 0:
            self.problems.append(f"entry {entry_id} moves no points: skipped")
            return False
        created = _when(d.get("created_at")) or self.ctx.now()
        received = _when(d.get("received_at")) or created
        kind = str(d.get("kind") or "adjust")
        if kind not in ENTRY_KINDS:
            self.problems.append(f"entry {entry_id}: unknown kind {kind!r} kept as an adjustment")
            kind = "adjust"
        member = self.member(member_id, created)
        sale_id = d.get("sale_id")
        refund_id = d.get("refund_id")
        origin = {
            key: d.get(key)
            for key in (
                "source_channel",
                "store_id",
                "till_id",
                "sale_id",
                "refund_id",
                "member_ref",
                "received_at",
            )
            if d.get(key) is not None
        }
        rules = self._rules_for(d.get("rule_set_version"))
        # One mechanism moves points on this till: post_points, as for its own entries.
        # HQ's word is final, so a debit may take the balance as low as HQ took it.
        post = functools.partial(
            post_points,
            self.session,
            rules,
            member,
            kind=kind,
            points=points,
            at=created,
            sale_id=sale_id if sale_id in self._local_sales else None,
            refund_id=refund_id if refund_id in self._local_refunds else None,
            actor_id="@hq",
            reason=d.get("reason"),
            detail={"origin": "hq", **origin},
            entry_id=entry_id,
        )
        if points > 0:
            # Points keep the expiry they had (a merge), the rest expire by the rule
            # set from when they were earned (or received, if the till's clock was late).
            parts = list(self._merge_lots.pop(_merged_from(d), ()) if kind == "merge_in" else ())
            covered = sum(p for p, _ in parts)
            if covered < points:
                parts.append((points - covered, expiry_for(rules, min(created, received))))
            post(credit_expiries=parts)
        else:
            lots = repo.open_lot_rows(self.session, member.id)
            prefer: list[str] = []
            if kind == "expire":
                today = local_date(rules, received)
                prefer = [
                    lot.lot_id
                    for lot in lots
                    if lot.expires_on is not None and lot.expires_on < today
                ]
            if kind == "merge_out":  # the lots move to the member merged into, expiry and all
                expires = {lot.lot_id: lot.expires_on for lot in lots}
                takes, _shortfall = take_up_to(lots, -points, prefer)
                self._merge_lots[member.id] = [(t.points, expires[t.lot_id]) for t in takes]
            post(prefer_lots=prefer, allow_debt_to=NO_FLOOR)
        self._known_entries[entry_id] = (points, member.id)
        return True

    # -- rule sets, catalogue, mall, coupons --------------------------------------------
    def apply_rule_set(self, d: Mapping[str, Any]) -> bool:
        """Store a rule set version; HQ says which one is active."""
        s = self.session
        version = str(d["version"])
        active = bool(d.get("active"))
        row = s.get(RuleSetVersion, version)
        if row is None:
            rules = load_rule_set(d["document"])
            if rules.version != version:
                self.problems.append(f"rule set {version}: the document says {rules.version}")
                return False
            row = RuleSetVersion(
                version=version,
                document=rules.to_json(),
                received_at=self.ctx.now(),
                active=False,
            )
            s.add(row)
            self._rules_by_version[version] = rules
        if row.active == active:
            s.flush()
            return False
        if active:
            for other in s.scalars(select(RuleSetVersion).where(RuleSetVersion.active.is_(True))):
                other.active = False
            s.flush()
        row.active = active
        s.flush()
        self._rules_changed = True
        return True

    def apply_product(self, d: Mapping[str, Any]) -> bool:
        """Create or replace a catalogue product (its barcode moves with it)."""
        s = self.session
        sku = str(d["sku"])
        barcode = d.get("barcode") or None
        if barcode is not None:
            for other in s.scalars(
                select(Product).where(Product.barcode == barcode, Product.sku != sku)
            ):
                other.barcode = None
            s.flush()
        row = s.get(Product, sku)
        if row is None:
            row = Product(sku=sku)
            s.add(row)
        row.barcode = barcode
        row.name = str(d.get("name") or sku)
        row.category = str(d.get("category") or "")
        row.price_fen = int(d.get("price_fen") or 0)
        member_price = d.get("member_price_fen")
        row.member_price_fen = int(member_price) if member_price is not None else None
        row.active = bool(d.get("active", True))
        return True

    def apply_mall_item(self, d: Mapping[str, Any]) -> bool:
        """Create or replace a mall item; one HQ withdrew leaves the till."""
        s = self.session
        item_id = str(d["id"])
        row = s.get(MallItemRow, item_id)
        if not d.get("active", True):
            if row is None:
                return False
            s.delete(row)
            return True
        if row is None:
            row = MallItemRow(id=item_id)
            s.add(row)
        row.name = str(d.get("name") or item_id)
        row.points_price = int(d.get("points_price") or 0)
        row.cash_price_fen = int(d.get("cash_price_fen") or 0)
        row.stock = d.get("stock")
        row.min_tier = d.get("min_tier")
        row.level = str(d.get("level") or "middle")
        row.category = str(d.get("category") or "")
        row.brand = str(d.get("brand") or "")
        row.keywords = str(d.get("keywords") or "")
        row.discount_percent = int(d.get("discount_percent") or 0)
        row.discount_from = _when(d.get("discount_from"))
        row.discount_to = _when(d.get("discount_to"))
        row.available_from = _when(d.get("available_from"))
        row.available_to = _when(d.get("available_to"))
        return True

    def apply_coupon(self, d: Mapping[str, Any]) -> bool:
        """Create or update a coupon; one used elsewhere can no longer be used here."""
        s = self.session
        coupon_id = str(d["id"])
        code = str(d["code"]).upper()
        issued = _when(d.get("issued_at")) or self.ctx.now()
        valid_from = _when(d.get("valid_from")) or issued
        valid_to = _when(d.get("valid_to")) or valid_from
        member_id = d.get("member_id")
        if member_id:
            self.member(str(member_id), issued)
        clash = s.scalars(select(Coupon).where(Coupon.code == code, Coupon.id != coupon_id)).first()
        if clash is not None:
            self.problems.append(f"coupon {coupon_id}: code {code} is coupon {clash.id} here")
            return False
        row = s.get(Coupon, coupon_id)
        if row is None:
            row = Coupon(id=coupon_id, code=code)
            s.add(row)
        row.code = code
        row.member_id = str(member_id) if member_id else None
        row.name = str(d.get("name") or code)
        row.amount_off_fen = int(d.get("amount_off_fen") or 0)
        row.percent_off = int(d.get("percent_off") or 0)
        row.min_order_fen = int(d.get("min_order_fen") or 0)
        row.valid_from = valid_from
        row.valid_to = valid_to
        row.issued_at = issued
        row.source = str(d.get("source") or "hq")[:32]
        used_sale = d.get("used_sale_id")
        if used_sale and s.get(CouponUse, coupon_id) is None:
            # Used at another store or online: its validity ends when it was used.
            used_at = _when(d.get("used_at")) or issued
            row.valid_to = max(valid_from, min(valid_to, used_at))
        return True


# -- holds: spending online ------------------------------------------------------------------


class OnlineFlag:
    """The context's ``online`` callable, kept up to date by the sync worker.

    ``reachable`` says whether HQ answers. Calling the flag says whether checkout may
    drop the offline allowance, which is only safe when HQ authorised the spend: by
    default that is never for a plain sale (:func:`complete_sale_online` lifts it for
    the sale HQ holds points for). ``lift_cap=True`` makes reachability alone lift it,
    which leaves two tills free to spend the same points between two pulls.

    Attributes:
        lift_cap: Whether reachability alone lifts the offline allowance.
    """

    def __init__(self, *, reachable: bool = False, lift_cap: bool = False) -> None:
        self._reachable = threading.Event()
        if reachable:
            self._reachable.set()
        self.lift_cap = lift_cap

    @property
    def reachable(self) -> bool:
        """HQ answered the last request."""
        return self._reachable.is_set()

    def set_reachable(self, value: bool) -> None:
        """Record whether HQ answered."""
        if value:
            self._reachable.set()
        else:
            self._reachable.clear()

    def __call__(self) -> bool:
        return self.lift_cap and self.reachable


@dataclass(frozen=True)
class Hold:
    """Points HQ reserved for a sale.

    Attributes:
        id: The hold id (derived from the sale id).
        member_id: The member (HQ's canonical id).
        points: Points reserved.
        status: ``active``, ``posted``, ``settled``, ``voided`` or ``expired``.
        available: The member's points left at HQ after every open hold.
    """

    id: str
    member_id: str
    points: int
    status: str
    available: int

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Hold:
        """From HQ's ``HoldOut``."""
        return cls(
            str(body["id"]),
            str(body["member_id"]),
            int(body["points"]),
            str(body["status"]),
            int(body.get("available", 0)),
        )


def hold_id_for(sale_id: str) -> str:
    """The hold id of a sale (a retried sale asks for the same hold)."""
    return f"{sale_id}.hold"


def authorise_spend(
    client: HQClient, member_id: str, points: int, sale_id: str, ttl_seconds: int = 300
) -> Hold:
    """Reserve ``points`` of the member at HQ for ``sale_id``.

    Raises:
        InsufficientPoints: HQ's balance less other holds does not cover them.
        HQUnavailable: HQ is away (sell under the offline allowance instead).
        HQResponseError: e.g. 404 when HQ does not know the member yet.
    """
    try:
        body = client.create_hold(hold_id_for(sale_id), member_id, points, sale_id, ttl_seconds)
    except HQResponseError as exc:
        if exc.code == "insufficient_points":
            raise InsufficientPoints(
                QT_TRANSLATE_NOOP(
                    "Errors", "Not enough points: {points} needed, {available} available."
                ),
                points=points,
                available=max(int(exc.facts.get("available", 0)), 0),
            ) from None
        raise
    return Hold.from_json(body)


def confirm_spend(client: HQClient, hold: Hold, sale_id: str) -> Hold:
    """Tell HQ the sale took the held points (they stay reserved until it arrives)."""
    return Hold.from_json(client.post_hold(hold.id, sale_id))


def release_spend(client: HQClient, hold: Hold) -> Hold | None:
    """Give the held points back (the sale failed). None when HQ could not be told:
    the hold then lapses by itself."""
    try:
        return Hold.from_json(client.void_hold(hold.id))
    except SyncError as exc:
        log.warning("could not void hold %s: %s", hold.id, exc)
        return None


def complete_sale_online(
    ctx: TillContext,
    client: HQClient | None,
    *,
    sale_id: str,
    lines: Sequence[BasketLine],
    member_id: str | None,
    tenders: Sequence[checkout.TenderInput],
    cashier_id: str,
    coupon_codes: Sequence[str] = (),
    points_to_use: int = 0,
    flag: OnlineFlag | None = None,
    ttl_seconds: int = 300,
) -> checkout.SaleResult:
    """:func:`pos_app.services.checkout.complete_sale` with the spend authorised at HQ.

    With points to spend and HQ reachable: hold the points at HQ, commit the sale free
    of the offline allowance, then post the hold; a failed sale voids it. When HQ is
    away, or does not know the member yet, the sale goes ahead under the offline
    allowance (and ``flag`` learns HQ is away).

    Raises:
        InsufficientPoints: HQ says the member does not have the points (nothing written).
        Whatever :func:`~pos_app.services.checkout.complete_sale` raises.
    """
    kwargs: dict[str, Any] = {
        "sale_id": sale_id,
        "lines": lines,
        "member_id": member_id,
        "tenders": tenders,
        "cashier_id": cashier_id,
        "coupon_codes": coupon_codes,
        "points_to_use": points_to_use,
    }
    if client is None or member_id is None or points_to_use <= 0:
        return checkout.complete_sale(ctx, **kwargs)
    try:
        hold = authorise_spend(client, member_id, points_to_use, sale_id, ttl_seconds)
    except HQUnavailable:
        if flag is not None:
            flag.set_reachable(False)
        return checkout.complete_sale(ctx, **kwargs)
    except HQResponseError as exc:
        if exc.status != 404:
            raise
        return checkout.complete_sale(ctx, **kwargs)  # not at HQ yet: offline rules
    if flag is not None:
        flag.set_reachable(True)
    authorised = dataclasses.replace(ctx, online=lambda: True)
    try:
        result = checkout.complete_sale(authorised, **kwargs)
    except BaseException:
        release_spend(client, hold)
        raise
    try:
        confirm_spend(client, hold, sale_id)
    except SyncError as exc:  # the sale's own push settles the hold anyway
        log.warning("could not post hold %s: %s", hold.id, exc)
    return result


# -- the background worker ------------------------------------------------------------------


@dataclass(frozen=True)
class SyncState:
    """What the status bar shows about HQ.

    Attributes:
        online: HQ answered the last request.
        pending: Events waiting in the outbox.
        last_sync_at: End of the last complete push and pull.
        last_error: Why the last round failed (None after a good round).
        refused: The event HQ refused, which blocks the outbox until someone acts.
        syncing: A round is running.
        progress: Progress of the pull in flight (a first sync).
        failures: Failed rounds in a row.
        next_attempt_in: Seconds until the next round.
        clock_skew_seconds: The till's clock minus HQ's, when known.
    """

    online: bool = False
    pending: int = 0
    last_sync_at: dt.datetime | None = None
    last_error: str | None = None
    refused: RefusedEvent | None = None
    syncing: bool = False
    progress: SyncProgress | None = None
    failures: int = 0
    next_attempt_in: float | None = None
    clock_skew_seconds: float | None = None


class SyncWorker:
    """Syncs a till with HQ on a background thread until stopped.

    Every ``interval`` seconds (sooner after :meth:`poke`), it pushes and pulls. While
    HQ is away it waits :func:`backoff_delay` instead. After every round it updates
    :attr:`flag` and calls ``on_state`` with a :class:`SyncState`, on the worker thread:
    a GUI must hop to its own thread (a queued signal).

    Attributes:
        ctx: The till.
        flag: Reachability of HQ (installed as ``ctx.online`` by
            :func:`start_background_sync`).
    """

    def __init__(
        self,
        ctx: TillContext,
        client_factory: Callable[[], HQClient],
        *,
        on_state: Callable[[SyncState], None] | None = None,
        interval: float = 15.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        push_batch: int = 100,
        pull_page: int = 500,
        flag: OnlineFlag | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ctx = ctx
        self.flag = flag or OnlineFlag()
        self._factory = client_factory
        self._on_state = on_state
        self.interval = interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.push_batch = push_batch
        self.pull_page = pull_page
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._state = SyncState()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    @property
    def state(self) -> SyncState:
        """The latest state (thread-safe)."""
        with self._lock:
            return self._state

    @property
    def running(self) -> bool:
        """The thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hq-sync", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Sync soon (after a sale), unless HQ is away and the worker is backing off."""
        if self.state.failures == 0:
            self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the request in flight (if any) and join the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the sync thread did not stop within %.0f s", timeout)

    # -- the loop ---------------------------------------------------------------------
    def _publish(self, **changes: Any) -> None:
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)
            state = self._state
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("the sync state callback failed")

    def _pending(self) -> int:
        try:
            with self.ctx.db.read() as session:
                return repo.pending_outbox(session)
        except Exception:
            log.exception("could not count the outbox")
            return self.state.pending

    def _run(self) -> None:
        client: HQClient | None = None
        syncer: SyncClient | None = None
        failures = 0
        try:
            self._publish(pending=self._pending(), last_sync_at=last_sync_time(self.ctx))
            while not self._stop.is_set():
                delay = self.interval
                self._publish(syncing=True, next_attempt_in=None)
                try:
                    if syncer is None:
                        client = self._factory()
                        syncer = SyncClient(
                            self.ctx,
                            client,
                            push_batch=self.push_batch,
                            pull_page=self.pull_page,
                            on_progress=lambda p: self._publish(progress=p),
                        )
                    result = syncer.sync_once(stop=self._stop)
                    self.flag.set_reachable(True)
                    refused = result.push.refused
                    failures = failures + 1 if refused else 0
                    if refused:  # nothing moves until someone acts: ask less often
                        delay = max(
                            delay,
                            backoff_delay(failures, self.interval, self.backoff_cap, self._rng),
                        )
                    self._publish(
                        online=True,
                        last_sync_at=result.finished_at,
                        last_error=str(refused) if refused else None,
                        refused=refused,
                        failures=failures,
                        clock_skew_seconds=syncer.clock_skew_seconds,
                    )
                except HQUnavailable as exc:
                    failures += 1
                    self.flag.set_reachable(False)
                    delay = backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng)
                    self._publish(online=False, last_error=str(exc), failures=failures)
                except (HQResponseError, SyncConfigError) as exc:
                    # A refused token or another till's identity: a person must act.
                    failures += 1
                    self.flag.set_reachable(False)
                    if syncer is not None:
                        syncer.identity = None  # check again next time
                    delay = self.backoff_cap
                    self._publish(online=False, last_error=str(exc), failures=failures)
                except Exception as exc:  # a bug or a database problem: keep the till up
                    log.exception("sync round failed")
                    failures += 1
                    delay = backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng)
                    self._publish(last_error=f"{type(exc).__name__}: {exc}", failures=failures)
                self.rounds += 1
                self._publish(
                    syncing=False, progress=None, pending=self._pending(), next_attempt_in=delay
                )
                self._wake.wait(delay)
                self._wake.clear()
        finally:
            if client is not None:
                client.close()
            self.flag.set_reachable(False)


def start_background_sync(
    ctx: TillContext,
    on_state: Callable[[SyncState], None] | None = None,
    *,
    config: SyncConfig | None = None,
    transport: httpx.BaseTransport | None = None,
    lift_cap: bool = False,
    interval: float = 15.0,
) -> SyncWorker | None:
    """Start syncing ``ctx`` with HQ in the background, or None when no HQ is set up.

    The worker's :class:`OnlineFlag` becomes ``ctx.online``.
    """
    config = config or load_sync_config(ctx)
    if config is None:
        return None
    flag = OnlineFlag(lift_cap=lift_cap)
    worker = SyncWorker(
        ctx,
        lambda: HQClient.from_config(config, transport),
        on_state=on_state,
        interval=interval,
        push_batch=config.push_batch,
        pull_page=config.pull_page,
        flag=flag,
    )
    ctx.online = flag
    worker.start()
    return worker
