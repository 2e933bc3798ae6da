"""Refund quotes: exactly which points a refund takes back and which it gives back.

For a refunded quantity the rounding is cumulative: after ``k`` of ``Q`` units of a line
are refunded in total, ``ceil(E*k/Q)`` of its earned points ``E`` have been taken back
and ``floor(P*k/Q)`` of its spent points ``P`` given back. Partial refunds therefore add
up exactly to a whole refund, and rounding never mints points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from pos_app.core.entries import purchase_points
from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput, RefundNotAllowed
from pos_app.core.money import FEN_PER_YUAN, ceil_mul, floor_mul
from pos_app.core.rules import RuleSet


@dataclass(frozen=True)
class SoldLine:
    """A sale line as stored, with what was already refunded.

    Attributes:
        line_id: Id of the sale line.
        quantity: Units sold.
        cash_fen: Cash (non-points) paid for the whole line.
        points_used: Points spent on the whole line.
        points_value_fen: Cash value of those points.
        earn_points: Points the whole line earned.
        refunded_qty: Units already refunded.
    """

    line_id: str
    quantity: int
    cash_fen: int
    points_used: int
    points_value_fen: int
    earn_points: int
    refunded_qty: int = 0


@dataclass(frozen=True)
class RefundLineQuote:
    """What refunding ``quantity`` units of one line does."""

    line_id: str
    quantity: int
    cash_fen: int
    points_reversed: int
    points_restored: int
    points_value_fen: int


@dataclass(frozen=True)
class RefundQuote:
    """The whole refund.

    Attributes:
        cash_refund_fen: Cash handed back, after any deduction.
        gross_cash_fen: Cash the refunded lines were paid with.
        points_reversed: Earned points taken back from the member.
        points_restored: Spent points given back to the member.
        shortfall_points: Earned points the member no longer had.
        cash_deducted_fen: Cash kept back for the shortfall (policy ``deduct_cash``).
        debt_points: Points the balance goes below zero (policy ``negative_balance``).
        balance_after: The member's balance after the refund.
        flagged: True when the balance goes negative and must be recovered.
        expired_points: Earned points of the refunded part that had already expired: the
            expiry took them once, the refund does not take them again.
    """

    lines: tuple[RefundLineQuote, ...]
    gross_cash_fen: int
    cash_refund_fen: int
    points_reversed: int
    points_restored: int
    shortfall_points: int
    cash_deducted_fen: int
    debt_points: int
    balance_after: int
    flagged: bool
    expired_points: int = 0


def _cumulative(total: int, done: int, now: int, qty: int, *, up: bool) -> int:
    ratio_after = Fraction(done + now, qty)
    ratio_before = Fraction(done, qty)
    if up:
        return ceil_mul(total, ratio_after) - ceil_mul(total, ratio_before)
    return floor_mul(total, ratio_after) - floor_mul(total, ratio_before)


def quote_refund(
    rules: RuleSet,
    sold: Sequence[SoldLine],
    request: Mapping[str, int],
    *,
    balance: int | None,
    reversible_points: int | None = None,
) -> RefundQuote:
    """Quote refunding ``request`` (line id -> units) of a sale.

    ``balance`` is the member's balance now, or None for a sale without a member.
    ``reversible_points`` is how many of the sale's earned points a refund may still take
    back: what it earned, less what earlier refunds took back and what expired from the
    lot it opened (None: no limit). Points that expired are gone already; taking them
    again would charge the member twice.

    Raises:
        InvalidInput: an empty request, an unknown line or a non-positive quantity.
        RefundNotAllowed: more units than are left to refund, or a shortfall the
            rule set cannot absorb.
    """
    if not request:
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Choose at least one line to refund."))
    by_id = {line.line_id: line for line in sold}
    quotes: list[RefundLineQuote] = []
    for line_id, qty in request.items():
        line = by_id.get(line_id)
        if line is None:
            raise InvalidInput(
                QT_TRANSLATE_NOOP("Errors", "Line {line} is not part of this sale."), line=line_id
            )
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise InvalidInput(
                QT_TRANSLATE_NOOP(
                    "Errors",
                    "The quantity to refund must be a whole number above zero (got {qty}).",
                ),
                qty=qty,
            )
        left = line.quantity - line.refunded_qty
        if qty > left:
            raise RefundNotAllowed(
                QT_TRANSLATE_NOOP(
                    "Errors", "Only {left} of {qty} units of this line can still be refunded."
                ),
                left=left,
                qty=line.quantity,
            )
        q, done = line.quantity, line.refunded_qty
        quotes.append(
            RefundLineQuote(
                line_id=line_id,
                quantity=qty,
                cash_fen=_cumulative(line.cash_fen, done, qty, q, up=False),
                points_reversed=_cumulative(line.earn_points, done, qty, q, up=True),
                points_restored=_cumulative(line.points_used, done, qty, q, up=False),
                points_value_fen=_cumulative(line.points_value_fen, done, qty, q, up=False),
            )
        )
    gross_cash = sum(q.cash_fen for q in quotes)
    reversed_pts = sum(q.points_reversed for q in quotes)
    restored = sum(q.points_restored for q in quotes)
    expired = 0
    if reversible_points is not None:
        expired = max(0, reversed_pts - max(0, reversible_points))
        reversed_pts -= expired
    if balance is None:
        if reversed_pts or restored:
            raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "This sale has points but no member."))
        return RefundQuote(tuple(quotes), gross_cash, gross_cash, 0, 0, 0, 0, 0, 0, False)

    after = balance + restored - reversed_pts
    # Points the member no longer has: below zero, or deeper into an existing debt.
    shortfall = max(0, min(0, balance) - after)
    deducted = 0
    debt = 0
    policy = rules.refunds
    if shortfall:
        if policy.when_earned_points_spent == "deduct_cash":
            ppy = rules.spending.points_per_yuan
            value = -((-shortfall * FEN_PER_YUAN) // ppy)  # cash value, rounded up
            if value > gross_cash:
                raise RefundNotAllowed(
                    QT_TRANSLATE_NOOP(
                        "Errors",
                        "The member already spent {points} of the points this sale earned "
                        "and the refund cannot cover their value.",
                    ),
                    points=shortfall,
                )
            deducted = value
            reversed_pts -= shortfall
            after = balance + restored - reversed_pts
        else:
            if after < policy.negative_floor:
                raise RefundNotAllowed(
                    QT_TRANSLATE_NOOP(
                        "Errors",
                        "This refund would take the balance to {after}, below the allowed {floor}.",
                    ),
                    after=after,
                    floor=policy.negative_floor,
                )
            debt = shortfall
    return RefundQuote(
        lines=tuple(quotes),
        gross_cash_fen=gross_cash,
        cash_refund_fen=gross_cash - deducted,
        points_reversed=reversed_pts,
        points_restored=restored,
        shortfall_points=shortfall,
        cash_deducted_fen=deducted,
        debt_points=debt,
        balance_after=after,
        flagged=after < 0,
        expired_points=expired,
    )


def refunded_quantities(refund_lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Units refunded so far per sale line, from (sale line id, units) rows: one row per
    refund line of the sale, every refund of it included."""
    done: dict[str, int] = {}
    for line_id, quantity in refund_lines:
        done[line_id] = done.get(line_id, 0) + quantity
    return done


def reversible_earned_points(
    sale_entries: Iterable[tuple[str, int]], earn_lot_moves: Iterable[tuple[str, int]]
) -> int:
    """How many of the points a sale earned a refund may still take back.

    That is what the sale earned, less what its refunds took back, less what the expiry
    run took from the lots the sale's earn opened (the expiry took those once; a refund
    must not take them again). Passed to :func:`quote_refund` as ``reversible_points``.

    Args:
        sale_entries: (kind, points) of the sale's own ledger entries (other kinds than
            ``earn`` and ``refund_reversal`` are ignored).
        earn_lot_moves: (kind of the moving entry, points) of every lot move on the lots
            the sale's earn opened; only the ``expire`` moves count.

    Returns:
        The points, from 0 to what the sale earned net of its refunds.
    """
    earned = purchase_points(sale_entries)
    expired = -sum(points for kind, points in earn_lot_moves if kind == "expire")
    return max(0, earned - max(0, expired))
