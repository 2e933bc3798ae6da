"""Point lots: every earned batch of points has its own expiry date.

Spending takes the lots that expire soonest first. A balance may go below zero only
when the rule set allows it (a refund after the points were spent); that debt is repaid
by the next points earned before a new lot opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pos_app.core.calendar import add_months, local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP, InsufficientPoints
from pos_app.core.rules import RuleSet

_NEVER = dt.date.max


@dataclass(frozen=True)
class Lot:
    """A batch of points with one expiry date.

    Attributes:
        lot_id: Id of the lot (the id of the ledger entry that opened it).
        remaining: Points still in the lot.
        expires_on: Last day the points are valid (store-local date), or None for never.
    """

    lot_id: str
    remaining: int
    expires_on: dt.date | None


@dataclass(frozen=True)
class LotTake:
    """Points taken from one lot by a movement."""

    lot_id: str
    points: int


@dataclass(frozen=True)
class ExpiringSoon:
    """Points that expire within the reminder window."""

    points: int
    first_date: dt.date | None


def expiry_for(rules: RuleSet, earned_at: dt.datetime) -> dt.date | None:
    """Last valid day of a lot earned at ``earned_at`` under ``rules``."""
    ex = rules.expiry
    day = local_date(rules, earned_at)
    if ex.mode == "never":
        return None
    if ex.mode == "rolling":
        return add_months(day, ex.months)
    size = {"year": 12, "quarter": 3, "month": 1}[ex.period]
    period_start_month = (day.month - 1) // size * size + 1
    start = dt.date(day.year, period_start_month, 1)
    end_start = add_months(start, size * (ex.periods_after + 1))
    return end_start - dt.timedelta(days=1)


def _order_key(lot: Lot) -> tuple[dt.date, str]:
    return (lot.expires_on or _NEVER, lot.lot_id)


def take_from_lots(lots: Iterable[Lot], points: int, prefer: Sequence[str] = ()) -> list[LotTake]:
    """Choose which lots pay for ``points``: ``prefer`` first, then soonest expiry.

    Raises:
        InsufficientPoints: the lots hold fewer than ``points``.
    """
    if points < 0:
        raise ValueError("points must not be negative")
    pool = [lot for lot in lots if lot.remaining > 0]
    available = sum(lot.remaining for lot in pool)
    if points > available:
        raise InsufficientPoints(
            QT_TRANSLATE_NOOP(
                "Errors", "Not enough points: {points} needed, {available} available."
            ),
            points=points,
            available=available,
        )
    rank = {lot_id: i for i, lot_id in enumerate(prefer)}
    pool.sort(key=lambda lot: (rank.get(lot.lot_id, len(rank)), *_order_key(lot)))
    takes: list[LotTake] = []
    left = points
    for lot in pool:
        if left == 0:
            break
        part = min(lot.remaining, left)
        takes.append(LotTake(lot.lot_id, part))
        left -= part
    return takes


def take_up_to(
    lots: Iterable[Lot], points: int, prefer: Sequence[str] = ()
) -> tuple[list[LotTake], int]:
    """Like :func:`take_from_lots` but takes what there is; returns (takes, shortfall)."""
    pool = [lot for lot in lots if lot.remaining > 0]
    available = sum(lot.remaining for lot in pool)
    taken = min(points, available)
    return take_from_lots(pool, taken, prefer), points - taken


def due_for_expiry(rules: RuleSet, lots: Iterable[Lot], now: dt.datetime) -> list[Lot]:
    """Lots whose last valid day is before today (store-local)."""
    today = local_date(rules, now)
    return sorted(
        (
            lot
            for lot in lots
            if lot.remaining > 0 and lot.expires_on is not None and lot.expires_on < today
        ),
        key=_order_key,
    )


def expiring_soon(rules: RuleSet, lots: Iterable[Lot], now: dt.datetime) -> ExpiringSoon:
    """Points whose last valid day falls within the reminder window from today."""
    today = local_date(rules, now)
    horizon = today + dt.timedelta(days=rules.expiry.reminder_days)
    soon = [
        lot
        for lot in lots
        if lot.remaining > 0 and lot.expires_on is not None and today <= lot.expires_on <= horizon
    ]
    if not soon:
        return ExpiringSoon(0, None)
    return ExpiringSoon(
        sum(lot.remaining for lot in soon), min(lot.expires_on for lot in soon if lot.expires_on)
    )


def credit(balance: int, points: int) -> tuple[int, int]:
    """Points credited to a balance: returns (points that open a lot, debt repaid)."""
    if points < 0:
        raise ValueError("points must not be negative")
    debt = max(0, -balance)
    repaid = min(debt, points)
    return points - repaid, repaid


def restore_expiries(
    rules: RuleSet,
    spent: Sequence[tuple[int, dt.date | None]],
    points: int,
    now: dt.datetime,
    already_restored: int = 0,
) -> list[tuple[int, dt.date | None]]:
    """How spent points given back by a refund expire (the parts of the credit).

    ``spent`` is what the sale's spend took, in the order taken: (points, the expiry of
    the lot they came from). The points come back with those expiries, the last taken
    first, past the ``already_restored`` points earlier refunds of the sale gave back. A
    date already past, and points beyond what ``spent`` lists, get the reminder window
    from today instead.
    """
    today = local_date(rules, now)
    grace = today + dt.timedelta(days=rules.expiry.reminder_days)
    parts: list[tuple[int, dt.date | None]] = []
    left, skip = points, already_restored
    for taken_from_lot, lot_expires in reversed(spent):
        if left <= 0:
            break
        taken = taken_from_lot - min(taken_from_lot, skip)
        skip -= taken_from_lot - taken
        if taken <= 0:
            continue
        expires = grace if lot_expires is not None and lot_expires < today else lot_expires
        part = min(taken, left)
        parts.append((part, expires))
        left -= part
    if left > 0:
        parts.append((left, grace))
    return parts
