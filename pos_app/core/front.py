"""The points mall's front page (积分商城首页): what to show first, from the items on
offer and what HQ features (pure; the channel API serves it, the till may too).

Sections, each HQ-featured items first in HQ's order, then the rule below:

* ``hot`` (热门活动): items under a time-limited discount now, the deepest first;
* ``value`` (超值兑换): the most points saved against the regular price;
* ``new`` (新品): marked new by HQ or in the mall for less than 30 days, newest first;
* ``lottery`` (抽奖): what HQ features there (HQ knows its draws), soonest closing first;
* ``member_day`` (会员日专区): on a member day only, what HQ features there.

Only items a member of the given tier could redeem now are shown (stock, window with
the tier's early access, minimum tier). The pyramid (low, middle, top items on offer) is
counted so the page can keep every level visible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pos_app.core.calendar import is_member_day, local_date
from pos_app.core.mall import MallItem, discount_active, eligible, is_new, price_at
from pos_app.core.rules import RuleSet

SECTIONS = ("hot", "value", "new", "lottery", "member_day")
LEVELS = ("low", "middle", "top")


@dataclass(frozen=True)
class Featured:
    """An item HQ puts in a section, at a position (lowest first)."""

    section: str
    item_id: str
    position: int


@dataclass(frozen=True)
class FrontItem:
    """One item on the front page, with the figures a member compares."""

    item_id: str
    name: str
    level: str
    points_price: int
    regular_points: int
    points_saved: int
    cash_price_fen: int
    featured: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "item_id": self.item_id,
            "name": self.name,
            "level": self.level,
            "points_price": self.points_price,
            "regular_points": self.regular_points,
            "points_saved": self.points_saved,
            "cash_price_fen": self.cash_price_fen,
            "featured": self.featured,
        }


def featured_of(picks: Mapping[str, Mapping[str, int]]) -> list[Featured]:
    """HQ's picks as each item carries them (item id -> {section: position}, what tills
    pull) as the page's :class:`Featured` list; unknown sections are left out."""
    return [
        Featured(section, item_id, position)
        for item_id, sections in picks.items()
        for section, position in sections.items()
        if section in SECTIONS
    ]


def _shown(item: MallItem, at: dt.datetime, featured: bool) -> FrontItem:
    now = price_at(item, at)
    return FrontItem(
        item.item_id,
        item.name,
        item.level,
        now,
        item.points_price,
        item.points_price - now,
        item.cash_price_fen,
        featured,
    )


def _section(
    offered: Sequence[MallItem],
    picks: Sequence[str],
    rule: Callable[[MallItem], bool] | None,
    order: Callable[[MallItem], Any],
    at: dt.datetime,
    size: int,
) -> list[FrontItem]:
    """HQ's picks (in HQ's order) then the rule's items in ``order``, at most ``size``."""
    by_id = {item.item_id: item for item in offered}
    chosen = [by_id[i] for i in picks if i in by_id]
    shown = [_shown(item, at, True) for item in chosen]
    if rule is not None:
        rest = sorted(
            (item for item in offered if rule(item) and item.item_id not in picks), key=order
        )
        shown += [_shown(item, at, False) for item in rest]
    return shown[:size]


def front_page(
    rules: RuleSet,
    items: Sequence[MallItem],
    featured: Sequence[Featured],
    at: dt.datetime,
    tier: str | None,
    size: int = 6,
) -> dict[str, Any]:
    """The front page at ``at`` for a member of ``tier`` (None: a visitor, who sees what
    the lowest tier sees).

    Returns:
        ``sections`` (section -> items), ``pyramid`` (level -> items on offer) and
        ``member_day`` (whether today is one).
    """
    who = tier if tier is not None else rules.tier_codes()[0]
    offered = [item for item in items if eligible(rules, item, who, at)]
    picks = {
        s: [f.item_id for f in sorted(featured, key=lambda f: f.position) if f.section == s]
        for s in SECTIONS
    }

    def newest(item: MallItem) -> Any:
        start = item.available_from or dt.datetime.min.replace(tzinfo=dt.UTC)
        return (-start.timestamp(), item.item_id)

    member_day = is_member_day(rules, local_date(rules, at))
    sections = {
        "hot": _section(
            offered,
            picks["hot"],
            lambda i: discount_active(i, at),
            lambda i: (-i.discount_percent, i.item_id),
            at,
            size,
        ),
        "value": _section(
            offered,
            picks["value"],
            lambda i: price_at(i, at) < i.points_price,
            lambda i: (price_at(i, at) - i.points_price, i.item_id),
            at,
            size,
        ),
        "new": _section(offered, picks["new"], lambda i: is_new(i, at), newest, at, size),
        "lottery": _section(
            offered,
            picks["lottery"],
            lambda i: i.kind == "lottery",
            lambda i: (i.available_to or dt.datetime.max.replace(tzinfo=dt.UTC), i.item_id),
            at,
            size,
        ),
        "member_day": (
            _section(offered, picks["member_day"], None, lambda i: i.item_id, at, size)
            if member_day
            else []
        ),
    }
    pyramid = {level: sum(1 for item in offered if item.level == level) for level in LEVELS}
    return {"sections": sections, "pyramid": pyramid, "member_day": member_day}
