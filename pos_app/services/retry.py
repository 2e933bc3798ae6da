"""Retry delays for the till's background workers (HQ sync, the printer)."""

from __future__ import annotations

import random


def backoff_step(failures: int, base: float, cap: float) -> float:
    """Seconds of exponential backoff after ``failures`` failed tries in a row: ``base``
    doubled per failure, at most ``cap`` (0 when nothing failed). The exponent is bounded
    so a printer left off for a day does not overflow the arithmetic."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - 1, 30)))


def backoff_delay(
    failures: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """:func:`backoff_step` with "equal jitter" (between half and all of the step), so
    tills do not return in step after an HQ outage."""
    step = backoff_step(failures, base, cap)
    return step / 2 + (rng or random).uniform(0, step / 2) if step else 0.0


def retry_after_delay(
    retry_after: float, failures: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after a busy server's answer (``503``/``429``): what it asked
    (``Retry-After``), or the backoff step of ``failures`` busy answers in a row if that is
    longer, stretched by a random 0-50 % so its clients do not return together; never
    less than ``retry_after`` (docs/sync.md, "Busy HQ")."""
    wait = max(retry_after, backoff_step(failures, base, cap))
    return wait * (1 + (rng or random).uniform(0, 0.5))
