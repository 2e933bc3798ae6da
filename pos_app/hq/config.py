"""HQ's settings and clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field


def utc_now() -> dt.datetime:
    """HQ's clock: now, aware."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class HQSettings:
    """Numbers HQ applies that are not part of the rule set.

    Attributes:
        clock_skew_seconds: A writer's clock further than this from HQ's is flagged.
        large_adjustment_points: A till adjustment above this is flagged.
        clock: HQ's clock (tests inject a fixed one).
    """

    clock_skew_seconds: int = 300
    large_adjustment_points: int = 100_000
    clock: Callable[[], dt.datetime] = field(default=utc_now, compare=False)

    def now(self) -> dt.datetime:
        """HQ's time now (aware)."""
        value = self.clock()
        if value.utcoffset() is None:
            raise ValueError("HQ's clock returned a naive datetime")
        return value
