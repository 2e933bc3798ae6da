"""Pushing the outbox to HQ.

Anki's rule: pending until acknowledged. Outbox events leave in ``seq`` order, in
batches; HQ applies each event once in its own transaction and answers per event. An
event is marked sent only when its answer says ``applied`` (a retry after a lost reply
gets the first answer back, marked ``replayed``). Every attempt is counted and its error
kept on the event. A refused event (conflict, invalid, rejected, forbidden) stops the
push and is reported: nothing after it is sent until someone fixes it. An event HQ
cannot apply yet (``retry_later``) stops the push quietly until the next round.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from pos_app.services.context import TillContext
from pos_app.services.sync.client import (
    HQAuthError,
    HQClient,
    HQResponseError,
    HQUnavailable,
    _short,
)
from pos_app.store import members as member_store
from pos_app.store import outbox

#: HQ accepts at most 500 events per push.
MAX_PUSH_BATCH = 500

#: Statuses of a pushed event that stop the push for good (until someone acts).
REFUSED_STATUSES = frozenset({"conflict", "invalid", "rejected", "forbidden"})

#: ``last_error`` of an event HQ refused starts with this: it is not sent again by itself.
REFUSED_MARK = "refused: "


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


def pending_events(session: Session, limit: int, held: Collection[str] = ()) -> list[_Pending]:
    """The oldest unsent outbox events, in order (kinds in ``held`` left out)."""
    rows = outbox.unsent_events(session, limit, frozenset(held))
    return [
        _Pending(
            r.seq,
            r.id,
            r.kind,
            with_personal(session, r.kind, r.payload),
            r.created_at,
            r.last_error,
        )
        for r in rows
    ]


def with_personal(session: Session, kind: str, payload: str) -> str:
    """The payload HQ receives: a ``member_registered`` event gets the member's name,
    birthday and phone digits HQ needs from the member row, at the moment it is sent.
    The outbox never keeps them (``services.members.register`` leaves them out, and
    :func:`~pos_app.store.outbox.scrub_personal` drops them from older events once HQ has
    them), so a copied file's outbox holds none; an event sent again gets the same
    values, so HQ sees the same payload (its idempotency hash)."""
    if kind not in outbox.PERSONAL_PATHS:
        return payload
    data = json.loads(payload)
    block = data.get("member")
    member = (
        member_store.get_member(session, str(block.get("id"))) if isinstance(block, dict) else None
    )
    if member is None or not isinstance(block, dict):
        return payload
    block.update(
        name=member.name,
        birthday=member.birthday.isoformat() if member.birthday else None,
        phone_last4=member.phone_last4,
        phone_masked=member.phone_masked,
    )
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


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


@dataclass
class _PushTally:
    """What a push did so far."""

    acknowledged: int = 0
    replayed: int = 0
    batches: int = 0
    refused: RefusedEvent | None = None
    waiting: RefusedEvent | None = None
    blocker: RefusedEvent | None = None  # a refused event further on in the outbox
    flags: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """An event was refused, waits, or blocks the outbox: no further batch."""
        return self.refused is not None or self.waiting is not None or self.blocker is not None


class OutboxPusher:
    """The push half of :class:`~pos_app.services.sync.session.SyncClient`.

    Attributes:
        ctx: The till.
        client: The HTTP client.
        push_batch: Events per push request.
        retry_refused: Send again the events HQ refused before.
    """

    ctx: TillContext
    client: HQClient
    push_batch: int
    retry_refused: bool
    identity: dict[str, Any] | None

    def held_kinds(self) -> frozenset[str]:
        """Outbox kinds kept back: ``audit`` until HQ's ``/v1/me`` lists it in
        ``event_kinds`` (an HQ that does not know it would refuse it and stop the push)."""
        accepted = (self.identity or {}).get("event_kinds") or ()
        return frozenset() if outbox.AUDIT_KIND in accepted else frozenset({outbox.AUDIT_KIND})

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
        tally = _PushTally()
        while (stop is None or not stop.is_set()) and (
            max_batches is None or tally.batches < max_batches
        ):
            batch = self._next_batch(tally)
            if not batch:
                break
            answer = self._send(batch, tally)
            tally.batches += 1
            if answer is None:
                break
            self._record_answers(batch, answer, tally)
            if tally.stopped or len(batch) < self.push_batch:
                break
        if tally.refused is None and tally.waiting is None:
            tally.refused = tally.blocker
        with self.ctx.db.read() as session:
            pending = outbox.pending_outbox(session)
        return PushResult(
            tally.acknowledged,
            tally.replayed,
            tally.batches,
            pending,
            tally.refused,
            tally.waiting,
            tuple(sorted(set(tally.flags))),
        )

    def _next_batch(self, tally: _PushTally) -> list[_Pending]:
        """The oldest unsent events, up to a refused one (unless refusals are resent),
        each counted as one more attempt."""
        with self.ctx.db.write() as session:
            batch = pending_events(session, self.push_batch, self.held_kinds())
            if not self.retry_refused:  # never resend a refusal by itself
                stuck = next((i for i, ev in enumerate(batch) if ev.refused), None)
                if stuck is not None:
                    tally.blocker = _refusal_of(batch[stuck])
                    batch = batch[:stuck]
            if batch:
                outbox.count_attempt(session, [ev.seq for ev in batch])
        return batch

    def _send(self, batch: Sequence[_Pending], tally: _PushTally) -> Mapping[str, Any] | None:
        """HQ's answer to the batch; None when HQ refused the whole request (the event
        it names is recorded as refused).

        Raises:
            HQUnavailable, HQAuthError: recorded on every event of the batch.
        """
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
            return self.client.push(body, self.ctx.now())
        except (HQUnavailable, HQAuthError) as exc:
            self._record_errors(batch, str(exc))
            raise
        except HQResponseError as exc:
            culprit = _event_in_request_error(exc, batch)
            tally.refused = RefusedEvent(
                culprit.seq, culprit.id, culprit.kind, exc.code, exc.status, _short(exc.detail)
            )
            self._record_errors([culprit], _refusal_text(tally.refused))
            return None

    def _record_answers(
        self, batch: Sequence[_Pending], answer: Mapping[str, Any], tally: _PushTally
    ) -> None:
        """Mark what HQ applied as sent (its personal fields dropped), and record why
        the others were not."""
        results = {
            str(r.get("event_id")): r for r in answer.get("results", []) if isinstance(r, dict)
        }
        now = self.ctx.now()
        with self.ctx.db.write() as session:
            for ev in batch:
                r = results.get(ev.id)
                if r is None:
                    self._set_error(session, ev.seq, "HQ gave no answer for this event")
                    tally.waiting = tally.waiting or RefusedEvent(
                        ev.seq, ev.id, ev.kind, "no_answer", 0, "HQ gave no answer"
                    )
                    continue
                status = str(r.get("status"))
                if status == "applied":
                    done = outbox.mark_sent(session, ev.seq, now)
                    outbox.scrub_personal(session, [ev.seq])
                    if done:
                        tally.acknowledged += 1
                        tally.replayed += bool(r.get("replayed"))
                    result = r.get("result") or {}
                    tally.flags += [str(f) for f in result.get("flags") or ()]
                    continue
                error = str(r.get("error") or status)
                http = int(r.get("http_status") or 0)
                problem = RefusedEvent(ev.seq, ev.id, ev.kind, status, http, error)
                if status in REFUSED_STATUSES:
                    tally.refused = tally.refused or problem
                    self._set_error(session, ev.seq, _refusal_text(problem))
                else:
                    tally.waiting = tally.waiting or problem
                    self._set_error(session, ev.seq, f"{status} ({http}): {error}")

    def _record_errors(self, batch: Sequence[_Pending], message: str) -> None:
        with self.ctx.db.write() as session:
            for ev in batch:
                self._set_error(session, ev.seq, message)

    @staticmethod
    def _set_error(session: Session, seq: int, message: str) -> None:
        outbox.set_error(session, seq, message)
