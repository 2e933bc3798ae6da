"""What a printed receipt (小票) says, as plain immutable data.

The services layer fills a :class:`Receipt` from a completed sale or refund; the
layout engine (:mod:`pos_app.devices.layout`) turns it into lines, and the ESC/POS
renderer or the preview draws those lines. Nothing here knows about printers.

Conventions:

* Money is integer fen and points are integers; floats are refused.
* On a refund receipt every amount is a positive magnitude: the labels ("退款合计",
  "扣回积分", ...) carry the direction, so nothing prints as ``--￥5.00``.
* The member block only ever holds a masked phone number (``138****1234``); a value
  that looks like a full phone number is refused, so a full number cannot reach paper.
* Every label the receipt prints lives in :data:`LABELS`, keyed by language, so an
  English receipt is a ``language="en"`` away.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

ReceiptKind = Literal["sale", "refund"]
Language = Literal["zh_CN", "en"]

LANGUAGES: Final[tuple[Language, ...]] = ("zh_CN", "en")

#: Every fixed text a receipt prints, per language. Placeholders use ``str.format``.
LABELS: Final[Mapping[Language, Mapping[str, str]]] = {
    "zh_CN": {
        "title_sale": "销售小票",
        "title_refund": "退货小票",
        "reprint": "** 重印 **",
        "till": "收银台：",
        "cashier": "收银员：",
        "time": "时间：",
        "receipt_no": "单号：",
        "refund_of": "原单号：",
        "col_item": "商品",
        "col_qty": "数量",
        "col_price": "单价",
        "col_amount": "金额",
        "line_discount": "优惠",
        "tier_saving": "{tier}价 已省",
        "weight": "重量 {weight}",
        "per_kg": "单价 {price}/kg",
        "subtotal": "商品合计",
        "discount": "优惠",
        "coupon": "优惠券",
        "points_used_sale": "积分抵扣（{points}积分）",
        "points_used_refund": "退回积分（{points}积分）",
        "total_sale": "实付",
        "total_refund": "退款合计",
        "change": "找零",
        "member": "会员：",
        "tier": "等级：",
        "points_earned_sale": "本单获得 {points} 积分",
        "points_earned_refund": "本单扣回 {points} 积分",
        "balance": "积分余额",
        "expiring": "{points} 积分将于 {date} 到期",
        "suggestions": "积分好礼",
        "bullet": "· ",
        "mall_qr": "扫码进入积分商城",
        "points_unit": "积分",
        "currency": "￥",
    },
    "en": {
        "title_sale": "SALES RECEIPT",
        "title_refund": "REFUND RECEIPT",
        "reprint": "** REPRINT **",
        "till": "Till: ",
        "cashier": "Cashier: ",
        "time": "Time: ",
        "receipt_no": "No.: ",
        "refund_of": "Refund of: ",
        "col_item": "Item",
        "col_qty": "Qty",
        "col_price": "Price",
        "col_amount": "Amount",
        "line_discount": "Discount",
        "tier_saving": "{tier} price saves",
        "weight": "Weight {weight}",
        "per_kg": "at {price}/kg",
        "subtotal": "Subtotal",
        "discount": "Discount",
        "coupon": "Coupon",
        "points_used_sale": "Points ({points} pts)",
        "points_used_refund": "Points returned ({points} pts)",
        "total_sale": "TOTAL PAID",
        "total_refund": "TOTAL REFUND",
        "change": "Change",
        "member": "Member: ",
        "tier": "Tier: ",
        "points_earned_sale": "Points earned: {points}",
        "points_earned_refund": "Points reversed: {points}",
        "balance": "Points balance",
        "expiring": "{points} pts expire on {date}",
        "suggestions": "Rewards for you",
        "bullet": "- ",
        "mall_qr": "Scan for the points mall",
        "points_unit": " pts",
        "currency": "¥",
    },
}

# Seven or more digits in a row (optionally separated by spaces or dashes): more than
# a masked number ever shows, so this is a full phone number and never goes on paper.
_FULL_PHONE = re.compile(r"(?:\d[\s-]?){7,}")


def labels(language: Language) -> Mapping[str, str]:
    """The label table for ``language``.

    Args:
        language: ``"zh_CN"`` or ``"en"``.

    Returns:
        The labels, keyed as in :data:`LABELS`.

    Raises:
        ValueError: an unknown language.
    """
    try:
        return LABELS[language]
    except KeyError:
        raise ValueError(f"unknown receipt language {language!r}") from None


def _check_int(value: object, what: str, *, non_negative: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if non_negative and value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One basket line.

    Attributes:
        name: Product name as it should print (wrapped by the layout when long).
        quantity: Units (pieces); a positive int.
        unit_price_fen: Price of one unit, in fen.
        amount_fen: What the line costs after its own discount, in fen.
        discount_fen: The line's own discount (member price, promotion), in fen; 0 for none.
        weight_g: Grams of a weighed line (称重码), printed under it; None otherwise.
        price_per_kg_fen: The price per kilogram of a weighed line; None otherwise.
        tier_saving_fen: What the member's tier price (会员等级价) saved on the line
            against the shelf price, printed under it; 0 for none.
        price_name: The tier whose price was charged ("金卡"), with ``tier_saving_fen``.
    """

    name: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    discount_fen: int = 0
    weight_g: int | None = None
    price_per_kg_fen: int | None = None
    tier_saving_fen: int = 0
    price_name: str = ""

    def __post_init__(self) -> None:
        _check_int(self.quantity, "quantity")
        _check_int(self.unit_price_fen, "unit_price_fen")
        _check_int(self.amount_fen, "amount_fen")
        _check_int(self.discount_fen, "discount_fen")
        _check_int(self.tier_saving_fen, "tier_saving_fen")
        for value, name in (
            (self.weight_g, "weight_g"),
            (self.price_per_kg_fen, "price_per_kg_fen"),
        ):
            if value is not None:
                _check_int(value, name)


@dataclass(frozen=True, slots=True)
class Tender:
    """One payment (or, on a refund, one pay-out).

    Attributes:
        method: The payment method's display label ("现金", "微信支付", "银联卡").
        amount_fen: Amount in fen.
    """

    method: str
    amount_fen: int

    def __post_init__(self) -> None:
        _check_int(self.amount_fen, "amount_fen")


@dataclass(frozen=True, slots=True)
class MemberBlock:
    """The loyalty part of a receipt.

    Attributes:
        masked_phone: The member's masked phone (``138****1234``); never a full number.
        tier_name: Display name of the member's tier ("金卡").
        points_earned: Points this sale earned (on a refund: the points taken back).
        balance_after: The member's points balance after this receipt (None: the till
            does not know it, a member HQ has not sent yet).
        earn_breakdown: How the points were computed, one short text per line
            ("基础 300 + 会员日 +450").
        expiring_points: Points expiring soon (0 hides the reminder).
        expiring_date: When ``expiring_points`` expire.
        tier_progress: Progress towards the next tier ("再消费 120 元升级金卡"); empty hides it.
        suggestions: One to three points-mall suggestions ("可兑换 …", "再攒 500 积分即可兑换 …").
        mall_url: URL of the member's mall page, printed as a QR code; None for no QR.
    """

    masked_phone: str
    tier_name: str
    points_earned: int
    balance_after: int | None
    earn_breakdown: Sequence[str] = ()
    expiring_points: int = 0
    expiring_date: dt.date | None = None
    tier_progress: str = ""
    suggestions: Sequence[str] = ()
    mall_url: str | None = None

    def __post_init__(self) -> None:
        if _FULL_PHONE.search(self.masked_phone):
            raise ValueError("masked_phone must be masked (138****1234), not a full number")
        _check_int(self.points_earned, "points_earned")
        if self.balance_after is not None:
            _check_int(self.balance_after, "balance_after", non_negative=False)
        _check_int(self.expiring_points, "expiring_points")
        if self.expiring_points and self.expiring_date is None:
            raise ValueError("expiring_points needs an expiring_date")
        if len(self.suggestions) > 3:
            raise ValueError("a receipt shows at most three mall suggestions")
        object.__setattr__(self, "earn_breakdown", tuple(self.earn_breakdown))
        object.__setattr__(self, "suggestions", tuple(self.suggestions))


@dataclass(frozen=True, slots=True)
class Receipt:
    """Everything one receipt prints.

    Sequences passed in (lists are fine) are stored as tuples, so a receipt is
    immutable and can be queued, compared and re-rendered for a reprint.

    Attributes:
        kind: ``"sale"`` or ``"refund"``.
        store_name: Store name, printed large at the top.
        store_address: Store address (may be empty).
        till_id: Till identifier ("T01").
        cashier_name: Cashier's display name.
        printed_at: When the sale happened (timezone-aware; printed in its own zone).
        receipt_no: Receipt number, also printed as a barcode or QR code to scan back.
        lines: Basket lines.
        subtotal_fen: Sum of the line amounts.
        discount_fen: Order-level discount.
        coupon_fen: Coupon value applied.
        points_used: Points redeemed (on a refund: points given back).
        points_value_fen: Cash value of ``points_used``.
        total_paid_fen: Amount paid (on a refund: amount refunded).
        tenders: Payments (on a refund: pay-outs).
        change_fen: Change given.
        member: The member block, or None for a sale without a member.
        reprint: True on a reprint; prints 重印 prominently.
        join_prompt: Invitation printed on sales without a member; empty for none.
        refund_of: Receipt number of the original sale (refunds).
        footer: Closing text (may hold several lines separated by ``\\n``).
        language: Label language.
    """

    kind: ReceiptKind
    store_name: str
    store_address: str
    till_id: str
    cashier_name: str
    printed_at: dt.datetime
    receipt_no: str
    lines: Sequence[ReceiptLine]
    subtotal_fen: int
    total_paid_fen: int
    tenders: Sequence[Tender] = ()
    discount_fen: int = 0
    coupon_fen: int = 0
    points_used: int = 0
    points_value_fen: int = 0
    change_fen: int = 0
    member: MemberBlock | None = None
    reprint: bool = False
    join_prompt: str = ""
    refund_of: str | None = None
    footer: str = ""
    language: Language = "zh_CN"

    def __post_init__(self) -> None:
        if self.kind not in ("sale", "refund"):
            raise ValueError(f"kind must be 'sale' or 'refund', got {self.kind!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"unknown receipt language {self.language!r}")
        if self.printed_at.tzinfo is None or self.printed_at.utcoffset() is None:
            raise ValueError("printed_at must be timezone-aware")
        if not self.receipt_no:
            raise ValueError("receipt_no must not be empty")
        if self.kind == "refund" and not self.refund_of:
            raise ValueError("a refund receipt names the receipt it refunds (refund_of)")
        for name in (
            "subtotal_fen",
            "discount_fen",
            "coupon_fen",
            "points_used",
            "points_value_fen",
            "total_paid_fen",
            "change_fen",
        ):
            _check_int(getattr(self, name), name)
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "tenders", tuple(self.tenders))
