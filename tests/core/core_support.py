"""Shared helpers for the loyalty-core tests (plain functions, usable from hypothesis tests).

The module name is deliberately specific: tests/ has no ``__init__.py`` files, so pytest
puts each test directory on ``sys.path`` and a generic name such as ``helpers`` could
clash with another directory's module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from pos_app.core.quote import BasketLine, MemberContext, Quote
from pos_app.core.refunds import SoldLine
from pos_app.core.rules import RuleSet, default_rule_set, load_rule_set

SH = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A tz-aware store-local (Asia/Shanghai) moment."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


# 2026-11-10 is a Tuesday: not a member day (18th), not in the year-end sale
# (2026-12-20..31), so only the tier multiplier applies to a member without a birthday.
PLAIN_DAY = at(2026, 11, 10)
# 2026-11-18 is a Wednesday and the member day (day 18 of the month).
MEMBER_DAY = at(2026, 11, 18)


@cache
def default_rules() -> RuleSet:
    """The shipped default rule set (loaded once; RuleSet is frozen)."""
    return default_rule_set()


def default_document() -> dict[str, Any]:
    """A fresh, mutable copy of the default rule set document."""
    doc: dict[str, Any] = json.loads(default_rules().to_json())
    return doc


def rules_with(patch: Callable[[dict[str, Any]], None]) -> RuleSet:
    """The default rule set with ``patch`` applied to its document."""
    doc = default_document()
    patch(doc)
    return load_rule_set(doc)


def item(
    price_fen: int,
    quantity: int = 1,
    *,
    category: str = "food",
    sku: str = "sku",
    name: str = "item",
    discount_fen: int = 0,
    is_reward: bool = False,
) -> BasketLine:
    """A basket line."""
    return BasketLine(
        sku=sku,
        name=name,
        category=category,
        quantity=quantity,
        unit_price_fen=price_fen,
        line_discount_fen=discount_fen,
        is_reward=is_reward,
    )


def member(tier: str = "regular", balance: int = 0, **kwargs: Any) -> MemberContext:
    """A member context with id ``m1``."""
    return MemberContext(member_id="m1", tier=tier, balance=balance, **kwargs)


def sold_lines(quote: Quote, ids: Sequence[str] | None = None) -> list[SoldLine]:
    """The sale lines as the till would store them from a quote."""
    names = ids if ids is not None else [f"L{q.index}" for q in quote.lines]
    return [
        SoldLine(
            line_id=name,
            quantity=q.line.quantity,
            cash_fen=q.cash_fen,
            points_used=q.points_used,
            points_value_fen=q.points_value_fen,
            earn_points=q.earn_points,
        )
        for name, q in zip(names, quote.lines, strict=True)
    ]
