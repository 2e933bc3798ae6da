"""What the customer-facing display (客显) shows, as plain immutable data.

The services layer fills a :class:`CustomerView` from what the till is doing (an item
scanned, the payment, the finished sale, nobody at the counter); the pole display
(:mod:`pos_app.devices.pole_display`) and the second-screen window (``pos_app.ui``)
each draw it in their own way.

Privacy: a view holds the member's masked phone and tier at most, never a name (it
has no field for one) and never a full phone number: a member text with seven or more
digits in a row is refused, as on the receipt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

ViewKind = Literal["idle", "item", "payment", "done"]
VIEW_KINDS: Final[tuple[ViewKind, ...]] = ("idle", "item", "payment", "done")

# More digits in a row than a masked number ever shows (see devices.receipt).
_FULL_PHONE: Final = re.compile(r"(?:\d[\s-]?){7,}")


@dataclass(frozen=True, slots=True)
class MemberDay:
    """The member-day notice of the idle screen.

    Attributes:
        day: The day of the month (会员日).
        multiplier: Its points multiplier, as text (``"2"``).
        today: Whether today is the member day.
    """

    day: int
    multiplier: str
    today: bool = False


@dataclass(frozen=True, slots=True)
class CustomerView:
    """One screenful for the customer.

    Attributes:
        kind: ``idle`` (store name, member-day notice), ``item`` (the item just scanned
            and the total), ``payment`` (amount due, points used and earned, the balance
            it leaves) or ``done`` (the sale's points, balance and change).
        store_name: The store's name.
        member_day: The member-day notice, if the rule set has a member day.
        item_name: The item just scanned.
        item_sku: Its SKU (what a display without Chinese characters shows).
        item_quantity: Units of the line (1 for a weighed item).
        item_weight_g: Grams of a weighed item, else None.
        item_unit_fen: Unit price, or the price per kg of a weighed item.
        item_amount_fen: What the line costs.
        total_fen: The basket's total.
        line_count: Lines in the basket.
        due_fen: Cash due (payment, done).
        points_used: Points paying part of it.
        points_value_fen: Their cash value.
        points_earned: Points this sale earns (本单获得).
        balance_after: The member's balance after the sale, if a member is identified.
        member: The member's masked phone (138****1234), else empty.
        tier_name: The member's tier, else empty.
        mall_url: The member's points-mall page (the screen shows it as a QR code).
        change_fen: Change handed back (done).
    """

    kind: ViewKind
    store_name: str = ""
    member_day: MemberDay | None = None
    item_name: str = ""
    item_sku: str = ""
    item_quantity: int = 0
    item_weight_g: int | None = None
    item_unit_fen: int = 0
    item_amount_fen: int = 0
    total_fen: int = 0
    line_count: int = 0
    due_fen: int = 0
    points_used: int = 0
    points_value_fen: int = 0
    points_earned: int = 0
    balance_after: int | None = None
    member: str = ""
    tier_name: str = ""
    mall_url: str = ""
    change_fen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"unknown view kind {self.kind!r}")
        if _FULL_PHONE.search(self.member):
            raise ValueError("member must be a masked phone (138****1234), not a full number")

    @property
    def has_member(self) -> bool:
        """Whether a member is identified."""
        return bool(self.member)
