"""Which database answers a read: a streaming replica when it may, else the primary.

``pos-hq serve --replica-db URL`` serves pull and member look-ups from a physical
streaming replica of HQ's PostgreSQL. A replica replays the primary's commits in order,
and change numbers (``seq``) commit in order, so a replica's snapshot is a consistent
earlier state of the primary; its change counter says how far it has come.

One rule keeps tills safe: **a till's cursor never goes backwards**. A read that must not
answer below a change number (a pull's cursor) goes to the replica only once the
replica's counter has reached it: :class:`Reader` waits a bounded time for replay to catch
up (``replica_wait_seconds``, polling every ``replica_poll_seconds``), then asks the
primary. A replica that fails (down, restarting, not accepting connections) is left alone
for ``replica_rest_seconds`` while the primary answers everything; a row the replica does
not have yet (``NotFound``) is asked of the primary too.

Every endpoint that may read from the replica goes through :meth:`Reader.run`; writes
and authentication always use the primary. Logs name the read's kind and the database
that answered, never ids or personal data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import NotFound
from pos_app.hq.models import CHANGE_COUNTER, Counter

log = logging.getLogger(__name__)

T = TypeVar("T")

REPLICA = "replica"
PRIMARY = "primary"
# why the primary answered a read although a replica is configured
LAGGING = "lagging"  # the replica stayed behind the cursor for the whole wait
REPLICA_DOWN = "replica_down"  # it failed now, or recently and is resting
REPLICA_ERROR = "replica_error"  # it answered with an error (a migration not replayed yet)
NOT_FOUND = "not_found"  # it does not have the row (yet)


class ReadStats:
    """How many reads each database answered, and why the primary did (thread-safe).

    Counts are per process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: Tally[str] = Tally()
        self._reasons: Tally[str] = Tally()
        self._waited = 0

    def count(self, source: str, reason: str | None = None, *, waited: bool = False) -> None:
        """One read answered by ``source`` (``replica`` or ``primary``)."""
        with self._lock:
            self._answers[source] += 1
            if reason is not None:
                self._reasons[reason] += 1
            self._waited += waited

    def as_dict(self) -> dict[str, Any]:
        """``{"replica": n, "primary": n, "waited": n, "primary_because": {...}}``;
        ``waited`` counts replica answers that first waited for replay."""
        with self._lock:
            return {
                REPLICA: self._answers[REPLICA],
                PRIMARY: self._answers[PRIMARY],
                "waited": self._waited,
                "primary_because": dict(sorted(self._reasons.items())),
            }


def change_counter(db: HQDatabase) -> int:
    """The change counter (``counters.change_seq``) as ``db`` sees it now."""
    with db.read() as session:
        value = session.execute(
            select(Counter.value).where(Counter.name == CHANGE_COUNTER)
        ).scalar_one()
    return int(value)


def _replica_is_down(exc: SQLAlchemyError) -> bool:
    """A connection-level failure (rest the replica), not an error in one query."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    # no SQLSTATE: the connection failed; 08: connection exception; 57P: shutting down,
    # starting up (a restarting standby); 53: out of connections
    return sqlstate is None or sqlstate.startswith(("08", "57P", "53"))


class Reader:
    """Picks the database each read is answered from.

    Attributes:
        primary: HQ's database (always right, always current).
        replica: A streaming replica of it, or None.
        settings: The replica wait, poll and rest times.
        stats: Answers per database, and why the primary answered.
    """

    def __init__(
        self,
        primary: HQDatabase,
        replica: HQDatabase | None = None,
        settings: HQSettings | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.settings = settings or HQSettings()
        self.stats = ReadStats()
        self._monotonic = monotonic
        self._sleep = sleep
        self._rest_until = 0.0
        self._state = "ok"  # logged when it changes: ok, lagging, down

    def run(self, what: str, read: Callable[[HQDatabase], T], *, at_least: int = 0) -> T:
        """``read(db)`` on the replica when it may answer, else on the primary.

        Args:
            what: The kind of read, for logs (``pull``, ``member``); never an id.
            read: The read, given the database to run on. It opens its own transaction.
            at_least: The change number the answer must not go below (a pull's cursor):
                the replica answers only once its counter has reached it.

        Returns:
            What ``read`` returned.
        """
        replica = self.replica
        if replica is None:
            self.stats.count(PRIMARY)
            return read(self.primary)
        if self._monotonic() < self._rest_until:
            return self._from_primary(what, read, REPLICA_DOWN)
        try:
            caught_up, waited = self._caught_up(replica, at_least)
            if caught_up:
                answer = read(replica)
                self._note_state("ok", "the replica answers again")
                self.stats.count(REPLICA, waited=waited)
                log.debug("%s answered by the replica (waited for replay: %s)", what, waited)
                return answer
            self._note_state(LAGGING, f"the replica is behind a {what} cursor")
            reason = LAGGING
        except NotFound:
            reason = NOT_FOUND
        except SQLAlchemyError as exc:
            reason = self._replica_failed(what, exc)
        return self._from_primary(what, read, reason)  # outside the try: its errors are its own

    def _replica_failed(self, what: str, exc: SQLAlchemyError) -> str:
        """Why the primary answers after the replica raised ``exc``; rests a replica that
        is down."""
        if not _replica_is_down(exc):
            log.info(
                "the replica failed a %s read (%s); the primary answers it",
                what,
                type(exc).__name__,
            )
            return REPLICA_ERROR
        self._rest_until = self._monotonic() + self.settings.replica_rest_seconds
        self._note_state("down", f"the replica is unreachable ({type(exc).__name__})")
        return REPLICA_DOWN

    def _caught_up(self, replica: HQDatabase, at_least: int) -> tuple[bool, bool]:
        """(the replica's counter reached ``at_least`` within the wait, it had to wait)."""
        if at_least <= 0:
            return True, False
        deadline = self._monotonic() + self.settings.replica_wait_seconds
        waited = False
        while change_counter(replica) < at_least:
            if self._monotonic() >= deadline:
                return False, waited
            self._sleep(self.settings.replica_poll_seconds)
            waited = True
        return True, waited

    def _from_primary(self, what: str, read: Callable[[HQDatabase], T], reason: str) -> T:
        self.stats.count(PRIMARY, reason)
        log.debug("%s answered by the primary (%s)", what, reason)
        return read(self.primary)

    def _note_state(self, state: str, message: str) -> None:
        """Log a change of the replica's state once, not every read."""
        if state != self._state:
            self._state = state
            level = logging.WARNING if state == "down" else logging.INFO
            log.log(level, "%s: reads go to the %s", message, REPLICA if state == "ok" else PRIMARY)
