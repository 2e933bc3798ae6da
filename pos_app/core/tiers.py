"""Tiers (会员等级): qualification, immediate upgrade, yearly review, progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pos_app.core.calendar import add_months, day_start, local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.core.money import format_fen
from pos_app.core.notes import Note
from pos_app.core.refunds import refunded_quantities
from pos_app.core.rules import RuleSet


@dataclass(frozen=True)
class TierProgress:
    """How far a member is from the next tier.

    Attributes:
        tier: Current tier code.
        next_tier: Next tier code, or None at the top.
        next_name: Display name of the next tier.
        spend_needed_fen: More spend (in the window) that qualifies.
        points_needed: More points earned (in the window) that qualify.
    """

    tier: str
    next_tier: str | None
    next_name: str | None
    spend_needed_fen: int
    points_needed: int

    def note(self) -> Note:
        """ "再消费 XX 元 / 再得 XX 积分升级金卡" as a translatable note."""
        if self.next_tier is None:
            return Note("tier_top", QT_TRANSLATE_NOOP("Rules", "Top tier reached."))
        return Note(
            "tier_progress",
            QT_TRANSLATE_NOOP(
                "Rules", "Spend {spend} more or earn {points} more points to reach {tier}."
            ),
            {
                "spend": format_fen(self.spend_needed_fen),
                "points": self.points_needed,
                "tier": self.next_name,
            },
        )


@dataclass(frozen=True)
class RefundedLine:
    """One refund line of a sale in the tier window, with its sale line's figures.

    Attributes:
        line_id: The sale line refunded.
        cash_fen: Cash paid for the whole sale line.
        points_value_fen: Cash value of the points spent on the whole sale line.
        sold_qty: Units the sale line sold.
        refunded_qty: Units this refund line gave back.
    """

    line_id: str
    cash_fen: int
    points_value_fen: int
    sold_qty: int
    refunded_qty: int


def window_spend_fen(sales_total_fen: int, refunded: Iterable[RefundedLine]) -> int:
    """Spend in the tier window: order totals net of what refunds gave back.

    The rule, the same at the till and at HQ:

    * The window holds the sales made in it, each at its order total (the caller sums
      them: ``sales_total_fen``), and the refunds **of those sales**, whenever they were
      made. A refund counts against the window of the sale it refunds: refunding last
      year's sale today does not lower this window's spend.
    * A sale line of ``Q`` units after ``k`` were refunded in total (all its refund
      lines together, at most ``Q``) gave back ``floor(cash * k / Q) + floor(points
      value * k / Q)``: exactly what the refunds themselves handed back in cash and
      points (``core.refunds``' cumulative rounding), so a fully refunded sale leaves
      no spend behind.
    * Spend is never below 0 (clamped): only rows that do not add up (refunds beyond
      the window's order totals) could take it lower, and a negative spend would hide
      the member's next purchases.

    Raises:
        ValueError: a line that sold no units, or a negative refunded quantity.
    """
    lines: dict[str, RefundedLine] = {}
    rows: list[tuple[str, int]] = []
    for row in refunded:
        if row.sold_qty <= 0 or row.refunded_qty < 0:
            raise ValueError(
                f"sale line {row.line_id}: {row.refunded_qty} of {row.sold_qty} units refunded"
            )
        lines.setdefault(row.line_id, row)
        rows.append((row.line_id, row.refunded_qty))
    given_back = 0
    for line_id, units in refunded_quantities(rows).items():
        line = lines[line_id]
        k = min(units, line.sold_qty)
        given_back += line.cash_fen * k // line.sold_qty
        given_back += line.points_value_fen * k // line.sold_qty
    return max(0, sales_total_fen - given_back)


def qualified_tier(rules: RuleSet, spend_fen: int, points_earned: int) -> str:
    """Highest tier whose spend or points threshold is met in the window."""
    result = rules.tiers.levels[0].code
    for level in rules.tiers.levels:
        if spend_fen >= level.spend_fen or points_earned >= level.points:
            result = level.code
    return result


def tier_after_activity(rules: RuleSet, current: str, spend_fen: int, points_earned: int) -> str:
    """Upgrade at once when qualified; never downgrade outside the yearly review."""
    qualified = qualified_tier(rules, spend_fen, points_earned)
    if current not in rules.tier_codes():
        return qualified
    return qualified if rules.tier_rank(qualified) > rules.tier_rank(current) else current


def review_tier(rules: RuleSet, spend_fen: int, points_earned: int) -> str:
    """The yearly review: the tier is exactly what the last window qualifies for."""
    return qualified_tier(rules, spend_fen, points_earned)


def last_review_date(rules: RuleSet, today: dt.date) -> dt.date:
    """The most recent yearly review day on or before ``today``."""
    candidate = dt.date(today.year, rules.tiers.review_month, rules.tiers.review_day)
    return candidate if candidate <= today else candidate.replace(year=today.year - 1)


def review_due(rules: RuleSet, last_review: dt.date | None, today: dt.date) -> bool:
    """True when a review day has passed since ``last_review``."""
    return last_review is None or last_review < last_review_date(rules, today)


def window_start(rules: RuleSet, today: dt.date) -> dt.date:
    """First day of the qualification window that ends ``today``."""
    return add_months(today, -rules.tiers.window_months) + dt.timedelta(days=1)


def window_start_at(rules: RuleSet, at: dt.datetime) -> dt.datetime:
    """The instant the qualification window that ends at ``at`` begins (store time)."""
    return day_start(rules, window_start(rules, local_date(rules, at)))


def progress(rules: RuleSet, tier: str, spend_fen: int, points_earned: int) -> TierProgress:
    """Progress from ``tier`` to the next tier up."""
    codes = rules.tier_codes()
    rank = codes.index(tier) if tier in codes else 0
    if rank + 1 >= len(codes):
        return TierProgress(tier, None, None, 0, 0)
    nxt = rules.tiers.levels[rank + 1]
    return TierProgress(
        tier,
        nxt.code,
        nxt.name,
        max(0, nxt.spend_fen - spend_fen),
        max(0, nxt.points - points_earned),
    )
