"""Which promotions are in force at a moment, and birthday windows."""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from functools import lru_cache

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.rules import (
    BirthdayPromotion,
    DateRangePromotion,
    FirstPurchasePromotion,
    MonthlyDayPromotion,
    Promotion,
    RuleSet,
    WeeklyPromotion,
)


def require_aware(at: dt.datetime, what: str = "time") -> dt.datetime:
    """Refuse naive datetimes: every time in the ledger is timezone-aware."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "The {what} must carry a time zone."), what=what
        )
    return at


def local_date(rules: RuleSet, at: dt.datetime) -> dt.date:
    """The store-local calendar date of ``at``."""
    return require_aware(at).astimezone(rules.zone).date()


def day_start(rules: RuleSet, day: dt.date) -> dt.datetime:
    """The instant the store-local ``day`` begins (midnight in the store's time zone)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=rules.zone)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by ``months`` (clamped to the month's last day)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def _birthday_in_year(birthday: dt.date, year: int) -> dt.date:
    try:
        return birthday.replace(year=year)
    except ValueError:  # 29 February in a common year: celebrate on 28 February
        return dt.date(year, 2, 28)


@lru_cache(maxsize=8192)
def in_birthday_window(birthday: dt.date | None, today: dt.date, window: str) -> bool:
    """True when ``today`` falls in the member's birthday day, ISO week or month
    (remembered: every quote asks it for its member, several times)."""
    if birthday is None:
        return False
    this_year = _birthday_in_year(birthday, today.year)
    if window == "day":
        return this_year == today
    if window == "week":
        # An ISO week can straddle New Year: a 31 December birthday falls in the same
        # week as 2 January of the next year, so look at the neighbouring years too.
        week = today.isocalendar()[:2]
        return any(
            _birthday_in_year(birthday, year).isocalendar()[:2] == week
            for year in (today.year - 1, today.year, today.year + 1)
        )
    if window == "month":
        return birthday.month == today.month
    raise ValueError(f"unknown birthday window {window!r}")


def is_member_day(rules: RuleSet, today: dt.date) -> bool:
    """True on a monthly member day."""
    return any(
        isinstance(p, MonthlyDayPromotion) and p.day == today.day for p in rules.earning.promotions
    )


def promotion_applies(
    promo: Promotion, today: dt.date, *, birthday: dt.date | None, first_purchase: bool
) -> bool:
    """True when ``promo`` is in force on ``today`` for this member."""
    if isinstance(promo, MonthlyDayPromotion):
        return today.day == promo.day
    if isinstance(promo, WeeklyPromotion):
        if promo.start is not None and today < promo.start:
            return False
        if promo.end is not None and today > promo.end:
            return False
        return today.isoweekday() in promo.weekdays
    if isinstance(promo, DateRangePromotion):
        return promo.start <= today <= promo.end
    if isinstance(promo, BirthdayPromotion):
        return in_birthday_window(birthday, today, promo.window)
    if isinstance(promo, FirstPurchasePromotion):
        return first_purchase
    raise TypeError(f"unknown promotion {promo!r}")  # pragma: no cover - exhaustive


def active_promotions(
    rules: RuleSet, today: dt.date, *, birthday: dt.date | None, first_purchase: bool
) -> list[Promotion]:
    """Promotions in force, in rule-set order."""
    return [
        p
        for p in rules.earning.promotions
        if promotion_applies(p, today, birthday=birthday, first_purchase=first_purchase)
    ]
