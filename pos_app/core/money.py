"""Money and points arithmetic.

Money is CNY held as integer fen (分); points are integers. Nothing here is a float.
Every rounding decision the loyalty core makes is written down in this module:

* points earned are rounded **down** (a member never gets a fraction of a point);
* a cash value of points is exact (rule sets are validated so that one spending unit
  is a whole number of fen);
* a share of an amount split across lines uses the largest-remainder method, so the
  parts always add up to the whole;
* when a refund reverses part of a line, points taken back are rounded **up** and
  points given back are rounded **down**: rounding can never mint points.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import NewType

FEN_PER_YUAN = 100

Fen = NewType("Fen", int)
"""An amount of money in fen (分). mypy keeps it apart from :data:`Points`: a value in
fen passed where points are expected (or the reverse) is a type error."""

Points = NewType("Points", int)
"""A number of loyalty points."""


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    return value


def yuan(amount: int | str) -> int:
    """Return fen for a yuan amount given as an int or a decimal string ("12.50")."""
    if isinstance(amount, int) and not isinstance(amount, bool):
        return amount * FEN_PER_YUAN
    if isinstance(amount, str):
        frac = Fraction(amount.strip())
        fen = frac * FEN_PER_YUAN
        if fen.denominator != 1:
            raise ValueError(f"{amount!r} has more than two decimal places")
        return int(fen)
    raise TypeError(f"yuan() takes an int or a str, got {type(amount).__name__}")


def format_fen(fen: int, *, symbol: str = "¥") -> str:
    """Format fen as a plain yuan string: ``format_fen(1250) == '¥12.50'``."""
    _check_int(fen, "fen")
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{symbol}{whole}.{part:02d}"


def floor_mul(amount: int, ratio: Fraction) -> int:
    """``floor(amount * ratio)`` computed exactly (in integers: no Fraction is built)."""
    return amount * ratio.numerator // ratio.denominator


def ceil_mul(amount: int, ratio: Fraction) -> int:
    """``ceil(amount * ratio)`` computed exactly (in integers)."""
    return -((-amount * ratio.numerator) // ratio.denominator)


def round_down_to_unit(points: Points, unit: int) -> Points:
    """Largest multiple of ``unit`` not above ``points`` (0 for negative input)."""
    if unit <= 0:
        raise ValueError("unit must be positive")
    if points <= 0:
        return Points(0)
    return Points(points - points % unit)


def split_pro_rata(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` across ``weights`` in proportion, parts summing exactly to ``total``.

    Largest-remainder method; ties go to the earlier index. Zero weights get zero.
    If every weight is zero the whole total goes nowhere and a ValueError is raised
    unless the total is zero.
    """
    if total < 0:
        raise ValueError("total must not be negative")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return [0 for _ in weights]
    parts = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -i) for i, w in enumerate(weights)]
    missing = total - sum(parts)
    for _, neg_i in sorted(remainders, reverse=True)[:missing]:
        parts[-neg_i] += 1
    return parts


def points_to_fen(points: int, points_per_yuan: int) -> Fen:
    """Cash value of ``points`` in fen, rounded down (a plain count is taken too: HQ's
    figures are not typed yet)."""
    return Fen(points * FEN_PER_YUAN // points_per_yuan)


def fen_to_points_floor(fen: Fen, points_per_yuan: int) -> Points:
    """Points ``fen`` of value is worth, rounded down."""
    return Points(fen * points_per_yuan // FEN_PER_YUAN)


def fen_to_points_ceil(fen: Fen, points_per_yuan: int) -> Points:
    """Points needed to cover ``fen`` of value, rounded up."""
    return Points(-((-fen * points_per_yuan) // FEN_PER_YUAN))
