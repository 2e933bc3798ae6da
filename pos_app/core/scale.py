"""Scale labels (称重码): EAN-13 codes the store's scales print on weighed goods.

A label is a 2-digit in-store prefix (GS1's 20-29), the item code, the price in fen or
the weight in grams, and the EAN-13 check digit. How many digits each part has, and
whether the value is a price or a weight, is the rule set's ``scale`` section
(:class:`~pos_app.core.rules.Scale`; ``docs/rules.md``).

:func:`parse_scale_label` turns a scanned code into a :class:`ScaleLabel` or raises a
typed :class:`~pos_app.core.errors.ScaleLabelError`; :func:`build_scale_label` is its
inverse (what a scale prints). :func:`weighed_amount_fen` prices a weight:
``weight_g x price per kg / 1000`` rounded to the nearest fen, halves up (四舍五入).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pos_app.core.codes import gtin_check_digit
from pos_app.core.errors import (
    QT_TRANSLATE_NOOP,
    BadCheckDigit,
    ImpossiblePrice,
    ImpossibleWeight,
    UnknownScaleLayout,
)
from pos_app.core.money import format_fen
from pos_app.core.rules import Scale, ScaleLayout

EAN13_LENGTH = 13
PREFIX_DIGITS = 2
GRAMS_PER_KG = 1000
_EAN13 = re.compile(r"^\d{13}$")


@dataclass(frozen=True)
class ScaleLabel:
    """A scale label read back.

    Attributes:
        code: The 13 digits as scanned.
        prefix: The 2-digit in-store prefix.
        item_code: The item code digits (leading zeros kept).
        kind: ``"price"`` (the value is fen) or ``"weight"`` (the value is grams).
        value: The price in fen or the weight in grams, above zero.
    """

    code: str
    prefix: str
    item_code: str
    kind: Literal["price", "weight"]
    value: int

    @property
    def price_fen(self) -> int | None:
        """The printed price (price labels), else None."""
        return self.value if self.kind == "price" else None

    @property
    def weight_g(self) -> int | None:
        """The printed weight (weight labels), else None."""
        return self.value if self.kind == "weight" else None


def is_in_store_code(code: str) -> bool:
    """True for 13 digits starting with 2 (GS1's in-store range 20-29): a scale label or
    a store's own barcode, never a manufacturer's EAN-13."""
    return bool(_EAN13.match(code)) and code.startswith("2")


def is_scale_label(code: str, scale: Scale) -> bool:
    """True when ``code`` is 13 digits whose prefix a layout of ``scale`` names."""
    return bool(_EAN13.match(code)) and scale.layout_for(code[:PREFIX_DIGITS]) is not None


def parse_scale_label(code: str, scale: Scale) -> ScaleLabel:
    """Read a scanned scale label with the rule set's layouts.

    Raises:
        UnknownScaleLayout: ``code`` is not 13 digits, or no layout names its prefix.
        BadCheckDigit: the EAN-13 check digit does not match.
        ImpossibleWeight: a weight of 0 g or above ``scale.max_weight_g``.
        ImpossiblePrice: a price of 0 fen.
    """
    value = code.strip()
    layout = scale.layout_for(value[:PREFIX_DIGITS]) if _EAN13.match(value) else None
    if layout is None:
        raise UnknownScaleLayout(
            QT_TRANSLATE_NOOP(
                "Errors", "{code}: no scale label layout is set up for prefix {prefix}."
            ),
            code=value,
            prefix=value[:PREFIX_DIGITS],
        )
    expected = gtin_check_digit(value[:-1])
    if expected != int(value[-1]):
        raise BadCheckDigit(
            QT_TRANSLATE_NOOP(
                "Errors",
                "Scale label {code}: the check digit is wrong (should be {expected}). "
                "Scan it again or print a new label.",
            ),
            code=value,
            expected=expected,
        )
    item_end = PREFIX_DIGITS + layout.item_digits
    label = ScaleLabel(
        code=value,
        prefix=value[:PREFIX_DIGITS],
        item_code=value[PREFIX_DIGITS:item_end],
        kind=layout.value,
        value=int(value[item_end : item_end + layout.value_digits]),
    )
    _check_value(label, scale)
    return label


def _check_value(label: ScaleLabel, scale: Scale) -> None:
    if label.kind == "weight" and not 0 < label.value <= scale.max_weight_g:
        raise ImpossibleWeight(
            QT_TRANSLATE_NOOP(
                "Errors",
                "Scale label {code}: a weight of {weight} g is not possible "
                "(from 1 g to {max_weight} g). Weigh the item again.",
            ),
            code=label.code,
            weight=label.value,
            max_weight=scale.max_weight_g,
        )
    if label.kind == "price" and label.value <= 0:
        raise ImpossiblePrice(
            QT_TRANSLATE_NOOP("Errors", "Scale label {code}: a price of {price} is not possible."),
            code=label.code,
            price=format_fen(0),
        )


def build_scale_label(layout: ScaleLayout, prefix: str, item_code: str, value: int) -> str:
    """The 13 digits a scale prints for ``item_code`` and ``value`` with ``layout``.

    Args:
        layout: The label layout.
        prefix: One of ``layout.prefixes``.
        item_code: Digits, at most ``layout.item_digits`` (zero-padded on the left).
        value: Price in fen or weight in grams, below ``10 ** layout.value_digits``.

    Raises:
        ValueError: a prefix the layout does not name, an item code or value that does
            not fit its digits.
    """
    if prefix not in layout.prefixes:
        raise ValueError(f"prefix {prefix!r} is not one of the layout's")
    if not item_code.isdigit() or len(item_code) > layout.item_digits:
        raise ValueError(f"item code {item_code!r} does not fit {layout.item_digits} digits")
    if not 0 <= value < 10**layout.value_digits:
        raise ValueError(f"value {value} does not fit {layout.value_digits} digits")
    body = f"{prefix}{item_code.zfill(layout.item_digits)}{value:0{layout.value_digits}d}"
    return body + str(gtin_check_digit(body))


def format_weight(weight_g: int) -> str:
    """Grams as kilograms with three decimals: ``format_weight(456) == '0.456kg'``."""
    if weight_g < 0:
        raise ValueError("a weight must not be negative")
    kg, grams = divmod(weight_g, GRAMS_PER_KG)
    return f"{kg}.{grams:03d}kg"


def weighed_amount_fen(weight_g: int, price_per_kg_fen: int) -> int:
    """What ``weight_g`` grams cost at ``price_per_kg_fen`` a kilogram, in whole fen.

    ``weight_g * price_per_kg_fen / 1000`` rounded to the nearest fen, halves up
    (四舍五入): 456 g at ¥25.80/kg is 1176.48 fen -> 1176; 125 g at ¥0.04/kg is 0.5 fen -> 1.
    """
    if weight_g < 0 or price_per_kg_fen < 0:
        raise ValueError("weight and price must not be negative")
    return (weight_g * price_per_kg_fen * 2 + GRAMS_PER_KG) // (2 * GRAMS_PER_KG)
