"""Tier perks (会员等级权益) beyond the earning multiplier: a price per tier and early
access to the points mall. Pure functions of the rule set's ``perks`` section, used by
the till, HQ and ``pos-app rules simulate`` alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING

from pos_app.core.money import floor_mul
from pos_app.core.rules import RuleSet

if TYPE_CHECKING:  # quote prices its lines with this module
    from pos_app.core.quote import BasketLine


def tier_price_percent(rules: RuleSet, tier: str | None) -> int:
    """The share (percent) of the member price ``tier`` pays; 100 for no tier."""
    if tier is None:
        return 100
    return rules.perks.tier_price_percent.get(tier, 100)


def tier_unit_price(
    rules: RuleSet, tier: str | None, price_fen: int, member_price_fen: int | None
) -> int:
    """The unit price a member of ``tier`` pays (no tier: a customer who is not a
    member): the shelf price without a member price; else the member price times the
    tier's percent, rounded down to the fen, never above the member price or the shelf
    price."""
    if tier is None or member_price_fen is None:
        return price_fen
    percent = tier_price_percent(rules, tier)
    return min(price_fen, floor_mul(member_price_fen, Fraction(percent, 100)))


def priced_line(
    rules: RuleSet, tier: str | None, line: BasketLine, price_fen: int, member_price_fen: int | None
) -> BasketLine:
    """``line`` at the unit price ``tier`` pays (what the quote then works on)."""
    return replace(line, unit_price_fen=tier_unit_price(rules, tier, price_fen, member_price_fen))


def early_access(rules: RuleSet, tier: str | None) -> dt.timedelta:
    """How long before everyone else ``tier`` may see and redeem a new mall item."""
    if tier is None:
        return dt.timedelta(0)
    return dt.timedelta(hours=rules.perks.early_access_hours.get(tier, 0))


def opens_at(
    rules: RuleSet, tier: str | None, available_from: dt.datetime | None
) -> dt.datetime | None:
    """When an item that appears at ``available_from`` opens to ``tier``."""
    if available_from is None:
        return None
    return available_from - early_access(rules, tier)


#: The ``reason`` of the bonus entry HQ's job posts for a membership anniversary (its
#: notice finds the entries by it: ``ix_ledger_entries_anniversary``).
ANNIVERSARY_REASON = "anniversary"


def membership_years(registered_on: dt.date, today: dt.date) -> int:
    """Whole membership years completed by ``today`` (the anniversary of 29 February is
    28 February in a common year)."""
    years = today.year - registered_on.year
    try:
        this_year = registered_on.replace(year=today.year)
    except ValueError:
        this_year = dt.date(today.year, 2, 28)
    return years if today >= this_year else years - 1


def anniversary_bonus(rules: RuleSet, tier: str, registered_on: dt.date, today: dt.date) -> int:
    """The membership-anniversary bonus due ``today`` (0 if none): the tier's points of
    ``perks.anniversary_bonus``, in the month of registration of every later year.
    Granted once per calendar year (HQ's job keys its entry by the year)."""
    if today.month != registered_on.month or today.year <= registered_on.year:
        return 0
    return rules.perks.anniversary_bonus.get(tier, 0)
