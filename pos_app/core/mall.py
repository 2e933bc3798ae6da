"""The points mall (积分商城): prices in force, browsing filters, redemption rules,
suggestions at the moment of payment and the lottery draw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from pos_app.core.calendar import require_aware
from pos_app.core.errors import (
    QT_TRANSLATE_NOOP,
    InvalidInput,
    RedeemNotAllowed,
    RedeemPointsShort,
    RedeemTierTooLow,
)
from pos_app.core.money import floor_mul
from pos_app.core.notes import Note
from pos_app.core.perks import early_access
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
        kind: What a redemption hands over: ``"goods"`` (store stock), ``"coupon"``
            (issued to the member) or ``"lottery"`` (one entry per unit).
        per_member_limit: Most units one member may ever redeem, or None.
        is_new: HQ marks the item as new (新品).
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
    kind: str = "goods"
    per_member_limit: int | None = None
    is_new: bool = False


ITEM_KINDS = ("goods", "coupon", "lottery")

#: Points ranges of the mall (专区): (code, lowest price, highest price or None).
#: Bounds are inclusive at the top: 1000 is in "0-1000", 1001 in "1000-5000".
POINTS_RANGES: tuple[tuple[str, int, int | None], ...] = (
    ("0-1000", 0, 1000),
    ("1000-5000", 1001, 5000),
    ("5000+", 5001, None),
)
THEMES = ("limited", "new")
#: An item counts as new (新品) this long after it appears, even without HQ's flag.
NEW_FOR = dt.timedelta(days=30)


class MallItemFields(Protocol):
    """What a stored mall item holds, at HQ (its row, the book's row) or at the till."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def points_price(self) -> int: ...
    @property
    def cash_price_fen(self) -> int: ...
    @property
    def stock(self) -> int | None: ...
    @property
    def min_tier(self) -> str | None: ...
    @property
    def level(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def brand(self) -> str: ...
    @property
    def keywords(self) -> str: ...
    @property
    def discount_percent(self) -> int: ...
    @property
    def discount_from(self) -> dt.datetime | None: ...
    @property
    def discount_to(self) -> dt.datetime | None: ...
    @property
    def available_from(self) -> dt.datetime | None: ...
    @property
    def available_to(self) -> dt.datetime | None: ...
    @property
    def kind(self) -> str: ...


def mall_item_of(
    row: MallItemFields, *, per_member_limit: int | None = None, is_new: bool = False
) -> MallItem:
    """A stored item as a :class:`MallItem` (keywords are stored space-separated): the
    one mapping HQ and the till use (HQ holds no per-member limit nor a "new" mark)."""
    return MallItem(
        item_id=row.id,
        name=row.name,
        points_price=row.points_price,
        cash_price_fen=row.cash_price_fen,
        stock=row.stock,
        min_tier=row.min_tier,
        level=row.level,
        category=row.category,
        brand=row.brand,
        keywords=tuple(row.keywords.split()),
        discount_percent=row.discount_percent,
        discount_from=row.discount_from,
        discount_to=row.discount_to,
        available_from=row.available_from,
        available_to=row.available_to,
        kind=row.kind,
        per_member_limit=per_member_limit,
        is_new=is_new,
    )


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


def available(item: MallItem, at: dt.datetime, early: dt.timedelta = dt.timedelta(0)) -> bool:
    """Whether ``item`` is in the mall at ``at`` for a member whose tier opens items
    ``early`` before everyone else (``core.perks.early_access``); the end is the same
    for all."""
    start = item.available_from - early if item.available_from is not None else None
    return _in_window(at, start, item.available_to)


def price_at(item: MallItem, at: dt.datetime) -> int:
    """Points price in force at ``at`` (time-limited discounts applied, rounded down)."""
    if item.discount_percent and _in_window(at, item.discount_from, item.discount_to):
        return floor_mul(item.points_price, Fraction(100 - item.discount_percent, 100))
    return item.points_price


def eligible(rules: RuleSet, item: MallItem, tier: str, at: dt.datetime) -> bool:
    """True when a member of ``tier`` could redeem ``item`` at ``at`` given enough points."""
    if item.stock is not None and item.stock <= 0:
        return False
    if not available(item, at, early_access(rules, tier)):
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


# -- browsing ---------------------------------------------------------------------------
def in_points_range(points: int, range_code: str | None) -> bool:
    """True when ``points`` falls in the range ``range_code`` (None: every price).

    Raises:
        InvalidInput: an unknown range code.
    """
    if range_code is None:
        return True
    for code, low, high in POINTS_RANGES:
        if code == range_code:
            return points >= low and (high is None or points <= high)
    raise InvalidInput(
        QT_TRANSLATE_NOOP("Errors", "Unknown points range {range}."), range=range_code
    )


def discount_active(item: MallItem, at: dt.datetime) -> bool:
    """A time-limited points discount (限时) is in force at ``at``."""
    return bool(item.discount_percent) and _in_window(at, item.discount_from, item.discount_to)


def is_new(item: MallItem, at: dt.datetime) -> bool:
    """New (新品): flagged by HQ, or appeared within :data:`NEW_FOR`."""
    require_aware(at)
    if item.is_new:
        return True
    return item.available_from is not None and item.available_from <= at < (
        item.available_from + NEW_FOR
    )


def themes(item: MallItem, at: dt.datetime) -> tuple[str, ...]:
    """The themes ``item`` belongs to at ``at`` (``"limited"``, ``"new"``)."""
    found = []
    if discount_active(item, at):
        found.append("limited")
    if is_new(item, at):
        found.append("new")
    return tuple(found)


def matches_text(item: MallItem, text: str) -> bool:
    """Search by name, brand or keyword (case-insensitive; every word must match)."""
    words = text.casefold().split()
    haystack = " ".join((item.name, item.brand, item.category, *item.keywords)).casefold()
    return all(word in haystack for word in words)


def matches(
    item: MallItem,
    at: dt.datetime,
    *,
    text: str = "",
    category: str | None = None,
    points_range: str | None = None,
    theme: str | None = None,
    early: dt.timedelta = dt.timedelta(0),
) -> bool:
    """Whether ``item`` passes the mall screen's filters at ``at`` (its price in force
    decides the points range). Items outside their availability window (opened
    ``early`` for the member's tier) never match."""
    if not available(item, at, early):
        return False
    if category and item.category != category:
        return False
    if theme is not None and theme not in themes(item, at):
        return False
    if not in_points_range(price_at(item, at), points_range):
        return False
    return matches_text(item, text) if text.strip() else True


# -- redemption ---------------------------------------------------------------------------
def check_redeem(
    rules: RuleSet,
    item: MallItem,
    *,
    tier: str,
    balance: int,
    quantity: int,
    already: int,
    at: dt.datetime,
    spend_limit: int | None = None,
    drawn: bool = False,
) -> int:
    """Check a redemption of ``quantity`` units and return the unit points price in force.

    Args:
        rules: The rule set (tier ladder).
        item: The mall item as the till holds it (stock included).
        tier: The member's tier.
        balance: The member's points balance.
        quantity: Units asked for.
        already: Units of this item the member redeemed before.
        at: The moment of redemption (decides the price in force).
        spend_limit: An extra cap on points spendable now (offline allowance), or None.
        drawn: For a lottery, whether it has been drawn already.

    Raises:
        InvalidInput: a quantity that is not a whole number above zero.
        RedeemNotAllowed: the reason the redemption is refused.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "The quantity must be a whole number above zero.")
        )
    if item.kind not in ITEM_KINDS:
        raise RedeemNotAllowed(
            QT_TRANSLATE_NOOP("Errors", "{item} cannot be redeemed at the counter."),
            item=item.name,
        )
    if not available(item, at, early_access(rules, tier)):
        raise RedeemNotAllowed(
            QT_TRANSLATE_NOOP("Errors", "{item} is not available in the mall now."),
            item=item.name,
        )
    if drawn:
        raise RedeemNotAllowed(
            QT_TRANSLATE_NOOP("Errors", "The lottery {item} has been drawn: no more entries."),
            item=item.name,
        )
    if item.min_tier is not None and not eligible(
        rules, MallItem(item.item_id, item.name, 0, min_tier=item.min_tier), tier, at
    ):
        raise RedeemTierTooLow(
            QT_TRANSLATE_NOOP("Errors", "{item} is for {tier} members and above."),
            item=item.name,
            tier=rules.tier_name(item.min_tier),
            tier_code=item.min_tier,
        )
    if item.stock is not None and item.stock < quantity:
        raise RedeemNotAllowed(
            QT_TRANSLATE_NOOP("Errors", "Only {stock} of {item} left in stock."),
            item=item.name,
            stock=max(item.stock, 0),
        )
    if item.per_member_limit is not None and already + quantity > item.per_member_limit:
        raise RedeemNotAllowed(
            QT_TRANSLATE_NOOP(
                "Errors",
                "{item} is limited to {limit} per member; this member already has {already}.",
            ),
            item=item.name,
            limit=item.per_member_limit,
            already=already,
        )
    unit = price_at(item, at)
    total = unit * quantity
    if total > balance:
        raise RedeemPointsShort(
            QT_TRANSLATE_NOOP(
                "Errors", "Not enough points: {points} needed, the member has {balance}."
            ),
            points=total,
            balance=max(balance, 0),
        )
    if spend_limit is not None and total > spend_limit:
        raise RedeemNotAllowed(
            QT_TRANSLATE_NOOP(
                "Errors", "HQ cannot be reached: at most {limit} points can be used now."
            ),
            limit=max(spend_limit, 0),
        )
    return unit


# -- the lottery --------------------------------------------------------------------------
DRAW_ALGORITHM = "hmac-sha256-rank-v1"


def entries_digest(entry_ids: Iterable[str]) -> str:
    """SHA-256 over the sorted entry ids (one per line): pins who took part."""
    body = "\n".join(sorted(entry_ids)).encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def draw_lottery(entry_ids: Iterable[str], seed: bytes, winners: int) -> list[str]:
    """The winning entries: the ``winners`` entries whose HMAC-SHA256(seed, id) is lowest.

    Every entry has the same chance whatever its id, the order the entries are given in
    does not matter, and anyone with the recorded seed and the entry list gets the same
    winners (:data:`DRAW_ALGORITHM`).
    """
    if winners < 0:
        raise ValueError("winners must not be negative")
    if len(seed) < 16:
        raise ValueError("the seed must be at least 16 bytes")
    ranked = sorted(
        set(entry_ids),
        key=lambda entry: (hmac.new(seed, entry.encode("utf-8"), hashlib.sha256).digest(), entry),
    )
    return ranked[:winners]


def lottery_entry_ids(redemption_id: str, quantity: int) -> list[str]:
    """The entry ids a redemption of ``quantity`` units of a lottery buys: one per unit,
    ``<redemption id>:<n>``, so HQ and anyone auditing derive the same list."""
    return [f"{redemption_id}:{n}" for n in range(quantity)]


# -- lottery prizes -----------------------------------------------------------------------
PRIZE_KINDS = ("coupon", "goods", "points")


@dataclass(frozen=True)
class Prize:
    """One line of a draw's prize catalogue.

    Attributes:
        position: Order in the catalogue: the best-ranked winners take position 0 first.
        kind: ``"coupon"`` (a coupon issued to the winner), ``"goods"`` (a voucher to
            collect the goods at the store) or ``"points"`` (a ``bonus`` ledger entry).
        name: What the winner is told they won.
        count: How many winners get it.
        points: Points of a ``points`` prize.
        amount_off_fen: Value of a ``coupon`` prize.
    """

    position: int
    kind: str
    name: str
    count: int
    points: int = 0
    amount_off_fen: int = 0


def prize_slots(prizes: Iterable[Prize]) -> list[Prize]:
    """Every prize unit in catalogue order (a prize of count 3 is three slots)."""
    return [p for p in sorted(prizes, key=lambda p: p.position) for _ in range(p.count)]


def assign_prizes(
    ranked_entries: Sequence[str], prizes: Iterable[Prize]
) -> list[tuple[str, Prize]]:
    """Pair the draw's winners (best rank first, :func:`draw_lottery`) with the prize
    slots in catalogue order: deterministic, so the seed and the entry list give the
    same winners *and* the same prize for each."""
    return list(zip(ranked_entries, prize_slots(prizes), strict=False))


# -- floating points prices ---------------------------------------------------------------
@dataclass(frozen=True)
class FloatBounds:
    """HQ's bounds for an item whose points price floats (浮动积分价).

    Attributes:
        floor: Lowest price.
        ceiling: Highest price.
        step: Most the price moves at one change.
        interval: Least time between two changes.
        target: Redemptions per interval that count as steady demand: more moves the
            price up a step, fewer than half of it moves it down a step.
    """

    floor: int
    ceiling: int
    step: int
    interval: dt.timedelta
    target: int

    def __post_init__(self) -> None:
        if self.floor < 1 or self.ceiling < self.floor:
            raise ValueError("floating bounds need 1 <= floor <= ceiling")
        if self.step < 1 or self.target < 1 or self.interval <= dt.timedelta(0):
            raise ValueError("floating bounds need step, target and interval above 0")


def float_price(
    bounds: FloatBounds,
    price: int,
    *,
    changed_at: dt.datetime | None,
    at: dt.datetime,
    redeemed: int,
    stock: int | None,
) -> int:
    """The points price a floating item should carry at ``at``.

    ``redeemed`` counts the units redeemed in the last ``bounds.interval``. Demand above
    the target, or a stock that those redemptions would empty again, moves the price up
    one step; demand under half the target moves it down one step (not when the stock
    is gone). Never outside ``[floor, ceiling]``; never a move before ``interval`` has
    passed since ``changed_at``, and never more than one step, except that a price
    outside bounds HQ has just narrowed goes to the nearest bound at once.
    """
    require_aware(at)
    inside = min(max(price, bounds.floor), bounds.ceiling)
    if inside != price:
        return inside
    if changed_at is not None and at - changed_at < bounds.interval:
        return price
    scarce = stock is not None and stock <= redeemed
    if redeemed > bounds.target or (scarce and redeemed > 0):
        move = bounds.step
    elif redeemed * 2 < bounds.target and not (stock is not None and stock <= 0):
        move = -bounds.step
    else:
        move = 0
    return min(max(price + move, bounds.floor), bounds.ceiling)
