"""Points-mall suggestions at the moment of payment (积分商城推荐)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from pos_app.core.calendar import require_aware
from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.core.money import floor_mul
from pos_app.core.notes import Note
from pos_app.core.rules import RuleSet


@dataclass(frozen=True)
class MallItem:
    """An item in the points mall.

    Attributes:
        item_id: Catalogue id.
        name: Display name.
        points_price: Regular points price.
        cash_price_fen: Cash part of a points + cash price (0 = points only).
        stock: Units left, or None for unlimited (coupons).
        min_tier: Lowest tier allowed to redeem, or None for everyone.
        level: ``"low"``, ``"middle"`` or ``"top"`` of the pyramid.
        category: Mall category.
        discount_percent: Time-limited points discount (50 = half price).
        discount_from: Start of the discount (inclusive), or None.
        discount_to: End of the discount (exclusive), or None.
        available_from: When the item appears, or None.
        available_to: When it disappears, or None.
    """

    item_id: str
    name: str
    points_price: int
    cash_price_fen: int = 0
    stock: int | None = None
    min_tier: str | None = None
    level: str = "middle"
    category: str = ""
    brand: str = ""
    keywords: tuple[str, ...] = ()
    discount_percent: int = 0
    discount_from: dt.datetime | None = None
    discount_to: dt.datetime | None = None
    available_from: dt.datetime | None = None
    available_to: dt.datetime | None = None


@dataclass(frozen=True)
class Suggestion:
    """One suggestion: redeemable now, or within reach."""

    item: MallItem
    points_price: int
    points_short: int
    note: Note = field(compare=False)

    @property
    def redeemable(self) -> bool:
        """True when the balance already covers the price."""
        return self.points_short == 0


def _in_window(at: dt.datetime, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    require_aware(at)
    return (start is None or at >= start) and (end is None or at < end)


def price_at(item: MallItem, at: dt.datetime) -> int:
    """Points price in force at ``at`` (time-limited discounts applied, rounded down)."""
    if item.discount_percent and _in_window(at, item.discount_from, item.discount_to):
        return floor_mul(item.points_price, Fraction(100 - item.discount_percent, 100))
    return item.points_price


def eligible(rules: RuleSet, item: MallItem, tier: str, at: dt.datetime) -> bool:
    """True when a member of ``tier`` could redeem ``item`` at ``at`` given enough points."""
    if item.stock is not None and item.stock <= 0:
        return False
    if not _in_window(at, item.available_from, item.available_to):
        return False
    if item.min_tier is not None:
        codes = rules.tier_codes()
        if item.min_tier not in codes or tier not in codes:
            return False
        if rules.tier_rank(tier) < rules.tier_rank(item.min_tier):
            return False
    return True


def suggest(
    rules: RuleSet,
    *,
    balance: int,
    tier: str,
    items: Iterable[MallItem],
    at: dt.datetime,
    preferred_categories: Sequence[str] = (),
    limit: int | None = None,
) -> list[Suggestion]:
    """Up to ``limit`` (default: the rule set's) suggestions for a member.

    Redeemable items come first, the most valuable first; then items within
    ``rules.mall.reach_points`` of the balance, the nearest first. Items in the
    member's preferred categories win ties. Never an item out of stock, outside its
    window, or above the member's tier.
    """
    limit = rules.mall.max_suggestions if limit is None else limit
    if limit <= 0:
        return []
    reach = rules.mall.reach_points
    pref = {c: i for i, c in enumerate(preferred_categories)}
    now_list: list[tuple[tuple[int, int, str], Suggestion]] = []
    reach_list: list[tuple[tuple[int, int, str], Suggestion]] = []
    for item in items:
        if not eligible(rules, item, tier, at):
            continue
        price = price_at(item, at)
        short = max(0, price - max(balance, 0))
        rank = pref.get(item.category, len(pref))
        if short == 0:
            note = Note(
                "mall_now",
                QT_TRANSLATE_NOOP("Rules", "Your points can redeem {item}"),
                {"item": item.name, "points": price},
            )
            now_list.append(((rank, -price, item.item_id), Suggestion(item, price, 0, note)))
        elif short <= reach:
            note = Note(
                "mall_reach",
                QT_TRANSLATE_NOOP("Rules", "Save {short} more points to redeem {item}"),
                {"item": item.name, "short": short, "points": price},
            )
            reach_list.append(((short, rank, item.item_id), Suggestion(item, price, short, note)))
    now_sorted = [s for _, s in sorted(now_list, key=lambda t: t[0])]
    reach_sorted = [s for _, s in sorted(reach_list, key=lambda t: t[0])]
    # Keep one slot for "within reach" when there is one: it is what makes members come back.
    take_now = min(len(now_sorted), limit - 1 if reach_sorted else limit)
    if take_now == 0 and now_sorted and limit == 1 and not reach_sorted:
        take_now = 1
    picked = now_sorted[:take_now] + reach_sorted[: limit - take_now]
    if len(picked) < limit:
        picked += now_sorted[take_now : take_now + limit - len(picked)]
    return picked
