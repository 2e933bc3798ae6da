"""Syncing in the background.

:class:`SyncWorker` runs the push and pull on a plain background thread, with
exponential backoff and jitter while HQ is away, and reports a :class:`SyncState`
through a callback. It never touches Qt; the UI re-emits the callback as a signal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from pos_app.services.context import TillContext
from pos_app.services.retry import backoff_delay, retry_after_delay
from pos_app.services.sync.client import (
    HQBusy,
    HQClient,
    HQResponseError,
    HQUnavailable,
    SyncConfig,
    SyncConfigError,
    load_sync_config,
)
from pos_app.services.sync.holds import OnlineFlag
from pos_app.services.sync.pull import SyncProgress
from pos_app.services.sync.push import RefusedEvent
from pos_app.services.sync.session import SyncClient, last_sync_time
from pos_app.services.sync.snapshot import LOOKUP_TIMEOUT, MemberFetcher
from pos_app.store import repo

log = logging.getLogger(__name__)


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
        busy: HQ asked the till to come back later (503/429 with ``Retry-After``): the
            till waits that long, then sends the same requests again.
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
    busy: bool = False


class SyncWorker:
    """Syncs a till with HQ on a background thread until stopped.

    Every ``interval`` seconds (sooner after :meth:`poke`), it pushes and pulls. While
    HQ is away it waits :func:`backoff_delay` instead; when HQ says it is busy, the
    time HQ asked for (:func:`retry_after_delay`). After every round it updates
    :attr:`flag` and calls ``on_state`` with a :class:`SyncState`, on the worker thread:
    a GUI must hop to its own thread (a queued signal).

    Attributes:
        ctx: The till.
        flag: Reachability of HQ (installed as ``ctx.online`` by
            :func:`start_background_sync`).
        fetcher: The member look-up at HQ this worker's till uses (closed with it).
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
        self.fetcher: MemberFetcher | None = None

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
        """Sync soon (after a sale), unless HQ is away or busy and the worker waits."""
        state = self.state
        if state.failures == 0 and not state.busy:
            self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the request in flight (if any) and join the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the sync thread did not stop within %.0f s", timeout)
        if self.fetcher is not None:
            self.fetcher.close()

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
        busy = 0  # busy answers in a row
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
                    busy = 0
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
                        busy=False,
                        last_sync_at=result.finished_at,
                        last_error=str(refused) if refused else None,
                        refused=refused,
                        failures=failures,
                        clock_skew_seconds=syncer.clock_skew_seconds,
                    )
                except HQBusy as exc:  # not a refusal: the same requests, after the wait
                    busy += 1
                    self.flag.set_reachable(True)
                    delay = retry_after_delay(
                        exc.retry_after, busy, self.backoff_base, self.backoff_cap, self._rng
                    )
                    self._publish(online=True, busy=True, last_error=str(exc))
                except HQUnavailable as exc:
                    failures, busy = failures + 1, 0
                    self.flag.set_reachable(False)
                    delay = backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng)
                    self._publish(online=False, busy=False, last_error=str(exc), failures=failures)
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

    The worker's :class:`OnlineFlag` becomes ``ctx.online``, and the member look-up
    asks HQ for members the till does not hold while HQ is reachable
    (``ctx.fetch_member``, a :class:`MemberFetcher` with a short timeout).
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
    worker.fetcher = MemberFetcher(
        ctx,
        lambda: HQClient(config.hq_url, config.token, transport=transport, timeout=LOOKUP_TIMEOUT),
        reachable=lambda: flag.reachable,
    )
    ctx.fetch_member = worker.fetcher
    worker.start()
    return worker
