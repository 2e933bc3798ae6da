"""Quote a basket: what it costs, how many points it may use, and what it earns.

:func:`quote_basket` is the single place where the till (and HQ, which recomputes every
sale it receives) turns a basket, a member and a rule set into money and points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pos_app.core.calendar import active_promotions, in_birthday_window, is_member_day, local_date
from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput, LoyaltyError, SpendNotAllowed
from pos_app.core.money import (
    Fen,
    Points,
    fen_to_points_floor,
    floor_mul,
    format_fen,
    points_to_fen,
    round_down_to_unit,
    split_pro_rata,
    yuan,
)
from pos_app.core.notes import Note
from pos_app.core.perks import priced_line
from pos_app.core.rules import RuleSet, as_fraction


@dataclass(frozen=True)
class BasketLine:
    """One line of a basket as the till rings it up.

    Attributes:
        sku: Catalogue id.
        name: Display name.
        category: Category code (e.g. ``"gift_card"`` is excluded from earning).
        quantity: Units, a positive integer.
        unit_price_fen: Price per unit in fen: the shelf price when ``member_price_fen``
            is given (the quote then prices the line for the member's tier), else the
            price charged.
        line_discount_fen: Discount on the whole line in fen.
        is_reward: A reward line (mall gift, free item): never earns, never paid by points.
        weight_g: Grams, on a line rung up from a weight label (称重码); such a line has
            quantity 1 and ``unit_price_fen`` is what the weight costs. None otherwise.
        price_per_kg_fen: The price per kilogram the weight was priced at (shown on the
            line and the receipt), with ``weight_g``; None otherwise.
        member_price_fen: The product's member price per unit (会员价; a weighed line:
            its weight at the member's price per kg), None without one. With an
            identified member the quote charges that member's tier price
            (:func:`pos_app.core.perks.tier_unit_price`); without one, ``unit_price_fen``.
    """

    sku: str
    name: str
    category: str
    quantity: int
    unit_price_fen: int
    line_discount_fen: int = 0
    is_reward: bool = False
    weight_g: int | None = None
    price_per_kg_fen: int | None = None
    member_price_fen: int | None = None

    @property
    def gross_fen(self) -> int:
        """Quantity times unit price."""
        return self.quantity * self.unit_price_fen

    @property
    def net_fen(self) -> int:
        """Gross less the line discount."""
        return self.gross_fen - self.line_discount_fen


@dataclass(frozen=True)
class MemberContext:
    """What the quote needs to know about the member.

    Attributes:
        member_id: Member id.
        tier: Current tier code.
        balance: Points balance now.
        birthday: Date of birth, if given.
        first_purchase: True when this sale would be the member's first purchase.
        earned_today: Purchase points already earned today (for the daily cap).
        referred_by: Member id of the referrer, if any.
        birthday_gift_year: Last calendar year a birthday gift was granted.
        spend_limit: An extra cap on points usable now (the offline allowance), or None.
    """

    member_id: str
    tier: str
    balance: int
    birthday: dt.date | None = None
    first_purchase: bool = False
    earned_today: int = 0
    referred_by: str | None = None
    birthday_gift_year: int | None = None
    spend_limit: int | None = None


@dataclass(frozen=True)
class CouponInput:
    """A coupon presented with the basket (amount off or percent off)."""

    code: str
    amount_off_fen: int = 0
    percent_off: int = 0
    min_order_fen: int = 0


@dataclass(frozen=True)
class QuotedLine:
    """How one basket line is paid for and what it earns (kept with the sale for refunds).

    ``line`` is the basket line at the price charged (the member's tier price applied);
    ``shelf_price_fen`` its unit price before member and tier pricing.
    """

    index: int
    line: BasketLine
    net_fen: int
    coupon_fen: int
    points_used: int
    points_value_fen: int
    cash_fen: int
    earn_points: int
    earns: bool
    spendable: bool
    shelf_price_fen: int = 0

    @property
    def tier_saving_fen(self) -> int:
        """What the member's (tier) price saves on the whole line against the shelf price."""
        return max(self.line.quantity * self.shelf_price_fen - self.line.gross_fen, 0)


@dataclass(frozen=True)
class Bonus:
    """A one-off bonus granted with the sale.

    Attributes:
        kind: ``"birthday_gift"``, ``"referral_friend"`` or ``"referral_referrer"``.
        member_id: Who receives it.
        points: How many points.
    """

    kind: str
    member_id: str
    points: int
    note: Note


@dataclass(frozen=True)
class Quote:
    """The full result of quoting a basket."""

    rule_set_version: str
    at: dt.datetime
    member_id: str | None
    lines: tuple[QuotedLine, ...]
    subtotal_fen: int
    line_discount_fen: int
    coupon_fen: int
    coupon_codes: tuple[str, ...]
    total_fen: int
    points_used: int
    points_value_fen: int
    cash_due_fen: int
    eligible_cash_fen: int
    base_points: int
    points_earned: int
    multiplier: Fraction
    earn_breakdown: tuple[Note, ...]
    bonuses: tuple[Bonus, ...]
    max_usable_points: int
    limits: tuple[Note, ...]
    binding_limit: Note | None
    member_day: bool
    birthday: bool
    notes: tuple[Note, ...] = field(default_factory=tuple)
    price_tier: str | None = None

    @property
    def tier_saving_fen(self) -> int:
        """What member and tier prices save on the whole basket."""
        return sum(q.tier_saving_fen for q in self.lines)

    @property
    def bonus_points_for_member(self) -> int:
        """Bonus points the buying member receives with this sale."""
        return sum(b.points for b in self.bonuses if b.member_id == self.member_id)

    def explain(self) -> list[str]:
        """A readable explanation, one sentence a line (English source text)."""
        out = [
            f"Total {format_fen(self.total_fen)}; points used {self.points_used} "
            f"(worth {format_fen(self.points_value_fen)}); cash due {format_fen(self.cash_due_fen)}.",
        ]
        out += [n.text() for n in self.earn_breakdown]
        out.append(f"Points earned by this sale: {self.points_earned}.")
        out += [b.note.text() for b in self.bonuses]
        out.append(f"Largest usable points: {self.max_usable_points}.")
        out += [n.text() for n in self.limits]
        out += [n.text() for n in self.notes]
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``pos-app rules simulate`` prints this)."""
        return {
            "rule_set_version": self.rule_set_version,
            "at": self.at.isoformat(),
            "member_id": self.member_id,
            "subtotal_fen": self.subtotal_fen,
            "line_discount_fen": self.line_discount_fen,
            "coupon_fen": self.coupon_fen,
            "total_fen": self.total_fen,
            "points_used": self.points_used,
            "points_value_fen": self.points_value_fen,
            "cash_due_fen": self.cash_due_fen,
            "eligible_cash_fen": self.eligible_cash_fen,
            "base_points": self.base_points,
            "multiplier": str(self.multiplier),
            "points_earned": self.points_earned,
            "earn_breakdown": [n.as_dict() for n in self.earn_breakdown],
            "bonuses": [
                {"kind": b.kind, "member_id": b.member_id, "points": b.points} for b in self.bonuses
            ],
            "max_usable_points": self.max_usable_points,
            "limits": [n.as_dict() for n in self.limits],
            "binding_limit": self.binding_limit.code if self.binding_limit else None,
            "member_day": self.member_day,
            "birthday": self.birthday,
            "price_tier": self.price_tier,
            "tier_saving_fen": self.tier_saving_fen,
            "lines": [
                {
                    "sku": q.line.sku,
                    "quantity": q.line.quantity,
                    "net_fen": q.net_fen,
                    "coupon_fen": q.coupon_fen,
                    "points_used": q.points_used,
                    "points_value_fen": q.points_value_fen,
                    "cash_fen": q.cash_fen,
                    "earn_points": q.earn_points,
                    "unit_price_fen": q.line.unit_price_fen,
                    "tier_saving_fen": q.tier_saving_fen,
                }
                for q in self.lines
            ],
        }


def _check_weighed(i: int, line: BasketLine) -> None:
    for value in (line.weight_g, line.price_per_kg_fen):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(
                QT_TRANSLATE_NOOP(
                    "Errors", "Line {line}: a weight and its price must be whole numbers."
                ),
                line=i + 1,
            )
    if line.weight_g is not None and (line.weight_g <= 0 or line.quantity != 1):
        raise InvalidInput(
            QT_TRANSLATE_NOOP(
                "Errors", "Line {line}: a weighed line has one item of more than 0 g."
            ),
            line=i + 1,
        )


def _check_member_price(i: int, line: BasketLine) -> None:
    price = line.member_price_fen
    if price is not None and (isinstance(price, bool) or not isinstance(price, int) or price < 0):
        raise InvalidInput(
            QT_TRANSLATE_NOOP(
                "Errors", "Line {line}: the member price must be whole fen, not negative."
            ),
            line=i + 1,
        )


def at_tier_prices(
    rules: RuleSet, lines: Sequence[BasketLine], tier: str | None
) -> list[BasketLine]:
    """``lines`` at the prices a member of ``tier`` pays (None: no member): a line with a
    member price at the tier's price (:func:`pos_app.core.perks.priced_line`); without a
    member, at its shelf price. The one place the till's quote (and its screens) and
    HQ's re-quote price lines."""
    return [
        ln
        if ln.member_price_fen is None
        else priced_line(rules, tier, ln, ln.unit_price_fen, ln.member_price_fen)
        for ln in lines
    ]


def parse_basket_line(text: str) -> BasketLine:
    """A basket line written ``SKU:CATEGORY:QTY:PRICE_YUAN[:DISCOUNT_YUAN][:reward]``
    (``pos-app rules simulate --line`` and the HQ console's simulator).

    Raises:
        InvalidInput: not in that form, or a number that is not one.
    """
    parts = text.strip().split(":")
    if len(parts) < 4:
        raise InvalidInput(
            "Basket line {line!r}: write SKU:CATEGORY:QTY:PRICE[:DISCOUNT][:reward]", line=text
        )
    try:
        qty = int(parts[2])
        price = yuan(parts[3])
        discount = yuan(parts[4]) if len(parts) > 4 and parts[4] not in ("", "reward") else 0
    except ValueError as exc:
        raise InvalidInput("Basket line {line!r}: {problem}", line=text, problem=str(exc)) from None
    return BasketLine(
        parts[0], parts[0], parts[1], qty, price, discount, is_reward="reward" in parts[4:]
    )


def _check_line(i: int, line: BasketLine) -> None:
    _check_weighed(i, line)
    _check_member_price(i, line)
    if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity <= 0:
        raise InvalidInput(
            QT_TRANSLATE_NOOP(
                "Errors", "Line {line}: the quantity must be a whole number above zero (got {qty})."
            ),
            line=i + 1,
            qty=line.quantity,
        )
    if isinstance(line.unit_price_fen, bool) or not isinstance(line.unit_price_fen, int):
        raise InvalidInput(
            QT_TRANSLATE_NOOP(
                "Errors", "Line {line}: the price must be a whole number of fen (got {value})."
            ),
            line=i + 1,
            value=line.unit_price_fen,
        )
    if isinstance(line.line_discount_fen, bool) or not isinstance(line.line_discount_fen, int):
        raise InvalidInput(
            QT_TRANSLATE_NOOP(
                "Errors", "Line {line}: the discount must be a whole number of fen (got {value})."
            ),
            line=i + 1,
            value=line.line_discount_fen,
        )
    if line.unit_price_fen < 0:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "Line {line}: the price must not be negative."), line=i + 1
        )
    if line.line_discount_fen < 0:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "Line {line}: the discount must not be negative."),
            line=i + 1,
        )


def _check_discounts(lines: Sequence[BasketLine]) -> None:
    """No line discount above its line's amount (at the price charged)."""
    for i, line in enumerate(lines):
        if line.line_discount_fen > line.gross_fen:
            raise InvalidInput(
                QT_TRANSLATE_NOOP(
                    "Errors", "Line {line}: the discount is larger than the line amount."
                ),
                line=i + 1,
            )


def _coupon_amount(coupon: CouponInput, base_fen: int) -> int:
    if coupon.amount_off_fen < 0 or not 0 <= coupon.percent_off <= 100:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "Coupon {code} is malformed."), code=coupon.code
        )
    if base_fen < coupon.min_order_fen:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "Coupon {code} needs an order of at least {minimum}."),
            code=coupon.code,
            minimum=format_fen(coupon.min_order_fen),
        )
    amount = coupon.amount_off_fen + base_fen * coupon.percent_off // 100
    return min(amount, base_fen)


def _multiplier_steps(
    rules: RuleSet, tier: str, promos: Sequence[Any], *, explain: bool = True
) -> tuple[Fraction, list[tuple[str, str, Fraction, Note | None]]]:
    """Running multipliers: [(rule_id, name, multiplier_after_step, note)] (the notes
    None when not ``explain``)."""
    tier_m = rules.tier_multiplier(tier)
    steps: list[tuple[str, str, Fraction, Note | None]] = []
    tier_name = rules.tier_name(tier) if explain else tier

    def note(code: str, template: str, **params: Any) -> Note | None:
        return Note(code, template, params) if explain else None

    steps.append(
        (
            f"tier:{tier}",
            tier_name,
            tier_m,
            note(
                "tier",
                QT_TRANSLATE_NOOP("Rules", "{tier} x{mult}"),
                tier=tier_name,
                mult=_fmt(tier_m) if explain else "",
            ),
        )
    )
    combine = rules.earning.promotion_combine
    if not promos:
        return tier_m, steps
    if combine == "max":
        best = max(promos, key=lambda p: as_fraction(p.multiplier))
        m = tier_m * as_fraction(best.multiplier)
        steps.append(
            (
                best.id,
                best.name,
                m,
                note(
                    best.id,
                    QT_TRANSLATE_NOOP("Rules", "{name} x{mult}"),
                    name=best.name,
                    mult=_fmt(as_fraction(best.multiplier)) if explain else "",
                ),
            )
        )
        return m, steps
    m = tier_m
    for p in promos:
        pm = as_fraction(p.multiplier)
        m = m * pm if combine == "multiply" else m + (pm - 1)
        steps.append(
            (
                p.id,
                p.name,
                m,
                note(
                    p.id,
                    QT_TRANSLATE_NOOP("Rules", "{name} x{mult}"),
                    name=p.name,
                    mult=_fmt(pm) if explain else "",
                ),
            )
        )
    return m, steps


def _fmt(m: Fraction) -> str:
    if m.denominator == 1:
        return str(m.numerator)
    return f"{float(m):g}" if (m * 100).denominator == 1 else str(m)


def _spending_limits(
    rules: RuleSet,
    member: MemberContext | None,
    total_fen: int,
    spend_base_fen: int,
    has_coupon: bool,
    excluded_names: Sequence[str],
    *,
    explain: bool = True,
) -> tuple[int, list[Note], Note | None]:
    """(the most points the order may use, the limits as notes, the binding one); with
    ``explain`` False the figure alone (no notes)."""
    sp = rules.spending
    if member is None:
        if not explain:
            return 0, [], None
        note = Note(
            "no_member",
            QT_TRANSLATE_NOOP("Rules", "Points can only be used by an identified member."),
        )
        return 0, [note], note
    unit = sp.unit_points
    cap_fen = min(total_fen * sp.max_share_percent // 100, spend_base_fen)
    cap_points = round_down_to_unit(fen_to_points_floor(Fen(cap_fen), sp.points_per_yuan), unit)
    # (points, code) of each limit that caps the points, in the order the notes list them
    candidates: list[tuple[int, str]] = []
    if total_fen < sp.min_order_fen:
        candidates.append((0, "min_order"))
    candidates.append((cap_points, "max_share"))
    candidates.append((round_down_to_unit(Points(member.balance), unit), "balance"))
    if has_coupon and not sp.stack_with_coupons:
        candidates.append((0, "coupon"))
    if member.spend_limit is not None:
        candidates.append((round_down_to_unit(Points(member.spend_limit), unit), "offline"))
    best, binding_code = min(candidates, key=lambda c: c[0])
    if not explain:
        return max(best, 0), [], None
    limits = _limit_notes(rules, member, cap_points, has_coupon, excluded_names)
    binding = next(n for n in limits if n.code == binding_code)
    return max(best, 0), limits, binding


def _limit_notes(
    rules: RuleSet,
    member: MemberContext,
    cap_points: int,
    has_coupon: bool,
    excluded_names: Sequence[str],
) -> list[Note]:
    """The notes of :func:`_spending_limits`, in the order the till shows them."""
    sp = rules.spending
    unit = sp.unit_points
    limits = [
        Note(
            "min_order",
            QT_TRANSLATE_NOOP("Rules", "Points can be used on orders of {minimum} or more."),
            {"minimum": format_fen(sp.min_order_fen)},
        ),
        Note(
            "max_share",
            QT_TRANSLATE_NOOP(
                "Rules",
                "Points can pay at most {percent}% of the order, here {cap_points} points ({cap}).",
            ),
            {
                "percent": sp.max_share_percent,
                "cap_points": cap_points,
                "cap": format_fen(points_to_fen(Points(cap_points), sp.points_per_yuan)),
            },
        ),
        Note(
            "unit",
            QT_TRANSLATE_NOOP("Rules", "Points are used in multiples of {unit} ({value} each)."),
            {"unit": unit, "value": format_fen(points_to_fen(Points(unit), sp.points_per_yuan))},
        ),
        Note(
            "balance",
            QT_TRANSLATE_NOOP("Rules", "The member has {balance} points."),
            {"balance": member.balance},
        ),
    ]
    if has_coupon and not sp.stack_with_coupons:
        limits.append(
            Note(
                "coupon",
                QT_TRANSLATE_NOOP("Rules", "Points cannot be used together with a coupon."),
            )
        )
    if member.spend_limit is not None:
        limits.append(
            Note(
                "offline",
                QT_TRANSLATE_NOOP(
                    "Rules", "HQ cannot be reached: at most {limit} points can be used now."
                ),
                {"limit": member.spend_limit},
            )
        )
    if excluded_names:
        limits.append(
            Note(
                "excluded",
                QT_TRANSLATE_NOOP("Rules", "Cannot be paid with points: {items}."),
                {"items": ", ".join(excluded_names)},
            )
        )
    return limits


def quote_basket(
    rules: RuleSet,
    lines: Sequence[BasketLine],
    *,
    member: MemberContext | None,
    at: dt.datetime,
    coupons: Sequence[CouponInput] = (),
    points_to_use: int = 0,
    explain: bool = True,
) -> Quote:
    """Quote ``lines`` for ``member`` at ``at``.

    The steps, each a function below: check the request; take the coupons off (pro
    rata over the non-reward lines); find how many points may pay (the binding limit) and
    check the points asked for; split the points' value over the spendable lines; earn
    on the cash part (base, multipliers, caps); the bonuses (birthday gift, referral).

    ``explain=False`` gives the same figures without the notes that explain them
    (``limits``, ``earn_breakdown`` and ``notes`` empty, ``binding_limit`` None): what
    HQ needs to check a pushed sale. A request it refuses raises exactly as the explained
    quote does (the explained quote raises it).

    Raises:
        InvalidInput: an empty basket, a non-positive quantity, a negative price...
        SpendNotAllowed: ``points_to_use`` breaks a limit (the message says which).
    """
    if not explain:
        try:
            return _quote(rules, lines, member, at, coupons, points_to_use, explain=False)
        except LoyaltyError:
            pass  # the explained quote raises it, with the notes its message names
    return _quote(rules, lines, member, at, coupons, points_to_use, explain=True)


def _quote(
    rules: RuleSet,
    lines: Sequence[BasketLine],
    member: MemberContext | None,
    at: dt.datetime,
    coupons: Sequence[CouponInput],
    points_to_use: int,
    *,
    explain: bool,
) -> Quote:
    today = local_date(rules, at)
    _check_request(lines, points_to_use)
    shelf = [ln.unit_price_fen for ln in lines]
    lines = at_tier_prices(rules, lines, member.tier if member is not None else None)
    _check_discounts(lines)
    nets = [ln.net_fen for ln in lines]
    coupon_total, coupon_alloc = _coupons_off(lines, nets, coupons)
    after = [n - c for n, c in zip(nets, coupon_alloc, strict=True)]
    total = sum(after)

    sp = rules.spending
    spendable = [(not ln.is_reward) and ln.category not in sp.excluded_categories for ln in lines]
    spend_base = sum(a for a, s in zip(after, spendable, strict=True) if s)
    excluded_names = [
        ln.name for ln, s in zip(lines, spendable, strict=True) if not s and not ln.is_reward
    ]
    max_usable, limits, binding = _spending_limits(
        rules, member, total, spend_base, bool(coupons), excluded_names, explain=explain
    )
    _check_points_asked(rules, member, points_to_use, max_usable, binding)
    value = points_to_fen(Points(points_to_use), sp.points_per_yuan)
    spend_weights = [a if s else 0 for a, s in zip(after, spendable, strict=True)]
    value_alloc = _split(value, spend_weights)
    points_alloc = _split(points_to_use, spend_weights)
    cash = [a - v for a, v in zip(after, value_alloc, strict=True)]

    er = rules.earning
    earns = [
        member is not None and not ln.is_reward and ln.category not in er.excluded_categories
        for ln in lines
    ]
    eligible_cash = sum(c for c, e in zip(cash, earns, strict=True) if e)
    base = eligible_cash * er.points_per_yuan // 100
    earning = _earning(rules, member, base, eligible_cash, today, explain=explain)
    earn_alloc = _split(earning.points, [c if e else 0 for c, e in zip(cash, earns, strict=True)])

    quoted = tuple(
        QuotedLine(
            index=i,
            line=ln,
            net_fen=nets[i],
            coupon_fen=coupon_alloc[i],
            points_used=points_alloc[i],
            points_value_fen=value_alloc[i],
            cash_fen=cash[i],
            earn_points=earn_alloc[i],
            earns=earns[i],
            spendable=spendable[i],
            shelf_price_fen=shelf[i],
        )
        for i, ln in enumerate(lines)
    )
    return Quote(
        rule_set_version=rules.version,
        at=at,
        member_id=member.member_id if member else None,
        lines=quoted,
        subtotal_fen=sum(ln.gross_fen for ln in lines),
        line_discount_fen=sum(ln.line_discount_fen for ln in lines),
        coupon_fen=coupon_total,
        coupon_codes=tuple(c.code for c in coupons),
        total_fen=total,
        points_used=points_to_use,
        points_value_fen=value,
        cash_due_fen=sum(cash),
        eligible_cash_fen=eligible_cash,
        base_points=base,
        points_earned=earning.points,
        multiplier=earning.multiplier,
        earn_breakdown=tuple(earning.breakdown),
        bonuses=tuple(_bonuses(rules, member, today)),
        max_usable_points=max_usable,
        limits=tuple(limits),
        binding_limit=binding,
        member_day=is_member_day(rules, today),
        birthday=earning.birthday,
        notes=tuple(earning.notes),
        price_tier=member.tier if member else None,
    )


def _check_request(lines: Sequence[BasketLine], points_to_use: int) -> None:
    """A non-empty basket of well-formed lines, and a whole number of points."""
    if not lines:
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "The basket is empty."))
    for i, line in enumerate(lines):
        _check_line(i, line)
    if isinstance(points_to_use, bool) or not isinstance(points_to_use, int) or points_to_use < 0:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "The points to use must be a whole number, zero or more.")
        )


def _split(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` split pro rata over ``weights`` (zeros for nothing to split)."""
    return split_pro_rata(amount, weights) if amount else [0] * len(weights)


def _coupons_off(
    lines: Sequence[BasketLine], nets: Sequence[int], coupons: Sequence[CouponInput]
) -> tuple[int, list[int]]:
    """(the coupons' total, its share per line): coupons apply to non-reward lines, one
    after the other on what the previous ones left, split pro rata."""
    coupon_weights = [0 if ln.is_reward else n for ln, n in zip(lines, nets, strict=True)]
    coupon_total = 0
    remaining_base = sum(coupon_weights)
    for c in coupons:
        amount = _coupon_amount(c, remaining_base)
        coupon_total += amount
        remaining_base -= amount
    return coupon_total, _split(coupon_total, coupon_weights)


def _check_points_asked(
    rules: RuleSet,
    member: MemberContext | None,
    points_to_use: int,
    max_usable: int,
    binding: Note | None,
) -> None:
    """The points asked for: a member's, in whole units, within the binding limit."""
    if not points_to_use:
        return
    sp = rules.spending
    if member is None:
        raise SpendNotAllowed(
            QT_TRANSLATE_NOOP("Errors", "Points can only be used by an identified member.")
        )
    if points_to_use % sp.unit_points:
        raise SpendNotAllowed(
            QT_TRANSLATE_NOOP(
                "Errors", "Points are used in multiples of {unit}; {points} is not one."
            ),
            unit=sp.unit_points,
            points=points_to_use,
        )
    if points_to_use > max_usable:
        reason: Note | str = binding if binding is not None else ""
        raise SpendNotAllowed(
            QT_TRANSLATE_NOOP("Errors", "At most {max} points can be used on this order: {reason}"),
            max=max_usable,
            reason=reason,
        )


@dataclass
class _Earning:
    """What a basket earns: points, the multiplier, the breakdown and notes."""

    points: int = 0
    multiplier: Fraction = Fraction(1)
    breakdown: list[Note] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    birthday: bool = False


def _earning(
    rules: RuleSet,
    member: MemberContext | None,
    base: int,
    eligible_cash: int,
    today: dt.date,
    *,
    explain: bool = True,
) -> _Earning:
    """Points earned on the eligible cash: the base, multiplied step by step (tier,
    promotions), then capped per order and per member per day. Nothing without a member.
    With ``explain`` False, no breakdown and no notes."""
    out = _Earning()
    if member is None:
        return out
    out.birthday = in_birthday_window(member.birthday, today, "week") or in_birthday_window(
        member.birthday, today, rules.bonuses.birthday_window
    )
    promos = active_promotions(
        rules, today, birthday=member.birthday, first_purchase=member.first_purchase
    )
    out.multiplier, steps = _multiplier_steps(rules, member.tier, promos, explain=explain)
    if not explain:  # the steps' last running multiplier is the whole one
        out.points = _capped(rules, member, floor_mul(base, out.multiplier), [])
        return out
    out.breakdown.append(
        Note(
            "base",
            QT_TRANSLATE_NOOP("Rules", "Base: {base} points for {amount} eligible"),
            {"base": base, "amount": format_fen(eligible_cash)},
        )
    )
    previous = base
    for _rule_id, _name, running, note in steps:
        points_now = floor_mul(base, running)
        extra = points_now - previous
        previous = points_now
        if extra and note is not None:
            out.breakdown.append(
                Note(
                    note.code,
                    QT_TRANSLATE_NOOP("Rules", "{label}: +{extra}"),
                    {"label": note.text(), "extra": extra},
                )
            )
    if rules.earning.promotion_combine == "max" and len(promos) > 1:
        out.notes.append(
            Note(
                "combine_max",
                QT_TRANSLATE_NOOP(
                    "Rules",
                    "Only the highest promotion multiplier applies ({names} are not combined).",
                ),
                {"names": ", ".join(p.name for p in promos)},
            )
        )
    out.points = _capped(rules, member, previous, out.breakdown)
    return out


def _capped(rules: RuleSet, member: MemberContext, earned: int, breakdown: list[Note]) -> int:
    """``earned`` within the per-order cap and the member's room left in the daily cap
    (each cut noted in ``breakdown``)."""
    caps = rules.earning.caps
    if caps.per_order is not None and earned > caps.per_order:
        breakdown.append(
            Note(
                "cap_order",
                QT_TRANSLATE_NOOP("Rules", "Per-order cap {cap}: -{cut}"),
                {"cap": caps.per_order, "cut": earned - caps.per_order},
            )
        )
        earned = caps.per_order
    if caps.per_member_per_day is not None:
        room = max(0, caps.per_member_per_day - member.earned_today)
        if earned > room:
            breakdown.append(
                Note(
                    "cap_day",
                    QT_TRANSLATE_NOOP("Rules", "Daily cap {cap} (already earned {today}): -{cut}"),
                    {
                        "cap": caps.per_member_per_day,
                        "today": member.earned_today,
                        "cut": earned - room,
                    },
                )
            )
            earned = room
    return earned


def _bonuses(rules: RuleSet, member: MemberContext | None, today: dt.date) -> list[Bonus]:
    """The bonuses the sale gives: the birthday gift (once a year), and on a referred
    member's first purchase the friend's and the referrer's bonuses."""
    if member is None:
        return []
    bo = rules.bonuses
    out: list[Bonus] = []
    if (
        bo.birthday_gift
        and in_birthday_window(member.birthday, today, bo.birthday_window)
        and member.birthday_gift_year != today.year
    ):
        out.append(
            _bonus(
                "birthday_gift",
                member.member_id,
                bo.birthday_gift,
                QT_TRANSLATE_NOOP("Rules", "Birthday gift: +{points}"),
            )
        )
    if member.first_purchase and member.referred_by:
        if bo.referral_friend:
            out.append(
                _bonus(
                    "referral_friend",
                    member.member_id,
                    bo.referral_friend,
                    QT_TRANSLATE_NOOP("Rules", "Referral bonus (first purchase): +{points}"),
                )
            )
        if bo.referral_referrer:
            out.append(
                _bonus(
                    "referral_referrer",
                    member.referred_by,
                    bo.referral_referrer,
                    QT_TRANSLATE_NOOP("Rules", "Referrer's bonus: +{points}"),
                )
            )
    return out


def _bonus(kind: str, member_id: str, points: int, text: str) -> Bonus:
    return Bonus(kind, member_id, points, Note(kind, text, {"points": points}))


def registration_bonus(rules: RuleSet) -> int:
    """Points granted when a member registers."""
    return rules.bonuses.registration
