"""The till's background workers' common part: a loop on its own thread, woken early,
stopped cleanly, backing off after failures, reporting its state through a callback.

:class:`BackgroundWorker` runs :meth:`~BackgroundWorker.step` on a daemon thread until
:meth:`~BackgroundWorker.stop`; each step returns how long to wait before the next one,
and :meth:`~BackgroundWorker.wake` cuts the wait short. A step that raises is logged and
the worker waits ``backoff_cap`` (the thread never dies of a bug). The state goes out
through ``on_status`` on the worker thread: it never touches Qt, the UI re-emits it as a
signal (a queued connection hops to the GUI thread).

The print queue's :class:`~pos_app.services.print_queue.PrintWorker` and HQ sync's
:class:`~pos_app.services.sync.worker.SyncWorker` are the two workers.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from pos_app.services.retry import backoff_delay, backoff_step

log = logging.getLogger(__name__)

S = TypeVar("S")


class BackgroundWorker(Generic[S]):
    """A step loop on a daemon thread, with wake-up, stop, backoff and a status callback.

    Subclasses implement :meth:`step`, and may override :meth:`before_loop` and
    :meth:`after_loop` (run on the worker thread around the loop, the latter even when
    the loop fails), :meth:`on_start` and :meth:`on_stop` (run by the caller's thread).

    Args:
        name: The thread's name.
        on_status: Called with each new state (on the worker thread).
        backoff_base: First retry delay in seconds.
        backoff_cap: Longest retry delay in seconds (also the wait after a failed step).
        jitter: Spread retries randomly (between half and all of the step) so that
            tills do not come back together after an outage.
        rng: The randomness of the jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        name: str,
        *,
        on_status: Callable[[S], None] | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        jitter: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.on_status = on_status
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- control (any thread)

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self.on_start()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after the current step and wait for the thread (at most ``timeout`` s)."""
        self._stop_event.set()
        self._wake.set()
        self.on_stop()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)
            if thread.is_alive():
                log.error("the %s thread did not stop within %s s", self.name, timeout)
        self.after_stop()

    def wake(self) -> None:
        """Take the next step now instead of after the wait."""
        self._wake.set()

    def is_alive(self) -> bool:
        """The thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        """:meth:`stop` was called."""
        return self._stop_event.is_set()

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed tries in a row (exponential from
        ``backoff_base``, at most ``backoff_cap``; jittered when the worker jitters)."""
        if self.jitter:
            return backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng)
        return backoff_step(failures, self.backoff_base, self.backoff_cap)

    # --- for subclasses

    def step(self) -> float:
        """One round of work; returns the seconds to wait before the next (0: at once)."""
        raise NotImplementedError

    def before_loop(self) -> None:
        """Run on the worker thread before the first step."""

    def after_loop(self) -> None:
        """Run on the worker thread after the last step (also when the loop failed)."""

    def on_start(self) -> None:
        """Run by :meth:`start` before the thread starts."""

    def on_stop(self) -> None:
        """Run by :meth:`stop` before waiting for the thread."""

    def after_stop(self) -> None:
        """Run by :meth:`stop` once the thread ended (or the wait timed out)."""

    def emit_status(self, state: S) -> None:
        """Hand ``state`` to ``on_status`` (its errors are logged, never raised)."""
        if self.on_status is None:
            return
        try:
            self.on_status(state)
        except Exception:
            log.exception("the %s status callback failed", self.name)

    # --- the loop

    def _run(self) -> None:
        try:
            self.before_loop()
            while not self._stop_event.is_set():
                try:
                    delay = self.step()
                except Exception:  # never let the thread die: log, back off, carry on
                    log.exception("%s step failed", self.name)
                    delay = self.backoff_cap
                if delay > 0 and not self._stop_event.is_set():
                    self._wake.wait(delay)
                    self._wake.clear()
        finally:
            self.after_loop()
