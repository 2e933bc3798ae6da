"""HQ's settings and clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, fields


def utc_now() -> dt.datetime:
    """HQ's clock: now, aware."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class HQSettings:
    """Numbers HQ applies that are not part of the rule set.

    The admission limits hold per server process (``pos-hq serve --workers N`` has N of
    each); see docs/sync.md, "Busy HQ".

    Attributes:
        clock_skew_seconds: A writer's clock further than this from HQ's is flagged.
        large_adjustment_points: A till adjustment above this is flagged.
        write_slots: Write requests (push, channel events, holds) served at once.
        read_slots: Read requests (pull, member look-ups) served at once.
        queue_limit: Requests of each kind that may wait for a slot; more are refused.
        queue_wait_seconds: The longest a request waits for a slot before it is refused.
        retry_after_seconds: The ``Retry-After`` a refused (503) request is given.
        replica_wait_seconds: How long a read whose cursor is ahead of the replica waits
            for the replica's replay before the primary answers it.
        replica_poll_seconds: How often that wait looks at the replica's change counter.
        replica_rest_seconds: After the replica fails, how long the primary answers
            every read before the replica is tried again.
        max_body_bytes: The largest request body HQ reads (413 above it).
        max_batch_body_bytes: The same for push, channel events and the admin's bulk
            uploads (a till's 500-event batch fits).
        clock: HQ's clock (tests inject a fixed one).
    """

    clock_skew_seconds: int = 300
    large_adjustment_points: int = 100_000
    write_slots: int = 32
    read_slots: int = 8
    queue_limit: int = 64
    queue_wait_seconds: float = 5.0
    retry_after_seconds: int = 2
    replica_wait_seconds: float = 1.0
    replica_poll_seconds: float = 0.05
    replica_rest_seconds: float = 5.0
    max_body_bytes: int = 1 << 20
    max_batch_body_bytes: int = 32 << 20
    clock: Callable[[], dt.datetime] = field(default=utc_now, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "write_slots",
            "read_slots",
            "retry_after_seconds",
            "max_body_bytes",
            "max_batch_body_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("queue_limit", "queue_wait_seconds", "replica_wait_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative ({getattr(self, name)})")
        for name in ("replica_poll_seconds", "replica_rest_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be above 0, not {getattr(self, name)}")

    def numbers(self) -> dict[str, int | float]:
        """Every setting but the clock, by name (for passing to worker processes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clock"}

    def now(self) -> dt.datetime:
        """HQ's time now (aware)."""
        value = self.clock()
        if value.utcoffset() is None:
            raise ValueError("HQ's clock returned a naive datetime")
        return value
