"""Back-pressure: how many requests of a kind one HQ process serves at once.

Each :class:`Gate` lets ``slots`` requests in at a time; up to ``queue`` more wait for a
slot, each at most ``wait_seconds``. A request that finds the queue full, or waits too
long, is refused with :class:`~pos_app.hq.errors.Busy` (``503`` with ``Retry-After``)
before it touches the database, so a crowd of tills pushing their backlogs meets a
bounded queue and a clear "come back in N seconds" instead of an exhausted connection
pool and a ``500`` a minute and a half later.

The gates live in the event loop (routes take them with an ``async`` dependency), so
waiting costs no thread; the limits hold per process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pos_app.hq.config import HQSettings
from pos_app.hq.errors import Busy

log = logging.getLogger(__name__)

WRITE = "write"
READ = "read"


class Gate:
    """At most ``slots`` requests of one kind at a time; a bounded, time-limited queue.

    Attributes:
        name: What the gate guards (``write``, ``read``), for the stats and messages.
        slots: Requests served at once.
        queue: Requests that may wait for a slot.
        wait_seconds: The longest a request waits.
        retry_after: Seconds a refused request is told to wait.
        admitted: Requests let in so far.
        refused: Requests refused so far.
    """

    def __init__(
        self, name: str, slots: int, queue: int, wait_seconds: float, retry_after: int
    ) -> None:
        self.name = name
        self.slots = slots
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.retry_after = retry_after
        self.admitted = 0
        self.refused = 0
        self.in_use = 0
        self.waiting = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._free: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        """The slots of the running event loop (a test client may start a new loop)."""
        loop = asyncio.get_running_loop()
        if self._free is None or self._loop is not loop:
            self._loop, self._free = loop, asyncio.Semaphore(self.slots)
            self.in_use = self.waiting = 0
        return self._free

    def _refuse(self, why: str) -> Busy:
        self.refused += 1
        log.debug("%s request refused: %s", self.name, why)
        return Busy(
            f"HQ is busy ({why}); send the same request again in {self.retry_after} s",
            retry_after=self.retry_after,
        )

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold a slot for the block.

        Raises:
            Busy: the queue is full, or no slot came free within ``wait_seconds``.
        """
        free = self._semaphore()
        if free.locked() and self.waiting >= self.queue:
            raise self._refuse(f"{self.waiting} {self.name} requests are already waiting")
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_seconds):
                await free.acquire()
        except TimeoutError:
            raise self._refuse(
                f"no {self.name} slot came free in {self.wait_seconds:g} s"
            ) from None
        finally:
            self.waiting -= 1
        self.admitted += 1
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
            free.release()

    def stats(self) -> dict[str, Any]:
        """Counters and limits, for ``/health``."""
        return {
            "slots": self.slots,
            "in_use": self.in_use,
            "waiting": self.waiting,
            "admitted": self.admitted,
            "refused": self.refused,
        }


def gates(settings: HQSettings) -> dict[str, Gate]:
    """The write and read gates of one process, sized by ``settings``."""
    return {
        kind: Gate(
            kind,
            slots,
            settings.queue_limit,
            settings.queue_wait_seconds,
            settings.retry_after_seconds,
        )
        for kind, slots in ((WRITE, settings.write_slots), (READ, settings.read_slots))
    }
