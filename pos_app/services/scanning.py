"""What a scanned product code rings up: a catalogue product or a weighed item.

:func:`find_item` reads scale labels (称重码) before ordinary barcodes: a code whose
prefix one of the rule set's scale layouts names is parsed as a label
(:func:`pos_app.core.scale.parse_scale_label`), its item code looked up in the
catalogue, and the result is a :class:`WeighedItem`. Anything else is a barcode or SKU
(:func:`~pos_app.services.till_session.find_product`); an in-store code (20-29) that
is no product and no configured label is refused as a label of unknown layout.

The item code of a label is a product's SKU, as printed (``00123``) or without its
leading zeros (``123``). The catalogue price of an item sold by weight is its price
per kilogram; a weight label costs ``weight x price per kg`` rounded to the nearest fen,
halves up (:func:`pos_app.core.scale.weighed_amount_fen`); a price label costs what it
says.
"""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.core.quote import BasketLine
from pos_app.core.scale import (
    ScaleLabel,
    is_in_store_code,
    is_scale_label,
    parse_scale_label,
    weighed_amount_fen,
)
from pos_app.services.context import TillContext
from pos_app.services.till_session import ProductInfo, UnknownProduct, find_product, product_info
from pos_app.store.catalog import active_products


@dataclass(frozen=True)
class WeighedItem:
    """A weighed item read from its scale label.

    Attributes:
        product: The catalogue product of the label's item code (price per kg).
        label: The label as read.
    """

    product: ProductInfo
    label: ScaleLabel

    @property
    def weight_g(self) -> int | None:
        """Grams (weight labels), else None."""
        return self.label.weight_g

    def price_per_kg_fen(self, member: bool) -> int | None:
        """The price per kilogram a weight label is priced at (None for a price label)."""
        return self.product.unit_price_fen(member) if self.label.kind == "weight" else None

    def price_fen(self, member: bool) -> int:
        """What the item costs: the printed price, or the weight at the price per kg
        (the member's price per kg once a member is identified)."""
        per_kg = self.price_per_kg_fen(member)
        if per_kg is None:
            return self.label.value
        return weighed_amount_fen(self.label.value, per_kg)

    def member_price_fen(self) -> int | None:
        """The weight at the member's price per kg (None: no member price applies)."""
        if self.label.kind != "weight" or self.product.member_price_fen is None:
            return None
        return self.price_fen(True)

    def as_line(self, member: bool, discount_fen: int = 0) -> BasketLine:
        """The core's basket line: one item at its shelf price with its member price (the
        quote charges an identified member's tier price), its weight and the price per kg
        it shows (the member's with a member)."""
        return BasketLine(
            sku=self.product.sku,
            name=self.product.name,
            category=self.product.category,
            quantity=1,
            unit_price_fen=self.price_fen(False),
            line_discount_fen=discount_fen,
            weight_g=self.weight_g,
            price_per_kg_fen=self.price_per_kg_fen(member),
            member_price_fen=self.member_price_fen(),
        )


def find_item(ctx: TillContext, code: str) -> ProductInfo | WeighedItem:
    """What ``code`` rings up: a weighed item (scale labels first), else a product.

    Raises:
        ScaleLabelError: a scale label with a bad check digit, an impossible weight or
            price, or an in-store code (20-29) that is no product and whose prefix no
            layout names.
        UnknownProduct: no product has the code (or the label's item code).
        InvalidInput: an empty code.
    """
    value = (code or "").strip()
    scale = ctx.rules.scale
    if is_scale_label(value, scale):
        label = parse_scale_label(value, scale)
        return WeighedItem(_product_of_item_code(ctx, label), label)
    try:
        return find_product(ctx, value)
    except UnknownProduct:
        if is_in_store_code(value):
            parse_scale_label(value, scale)  # raises UnknownScaleLayout: say what it is
        raise


def _product_of_item_code(ctx: TillContext, label: ScaleLabel) -> ProductInfo:
    codes = [label.item_code, label.item_code.lstrip("0") or "0"]
    with ctx.db.read() as session:
        found = {row.sku: product_info(row) for row in active_products(session, codes)}
    for sku in codes:
        if sku in found:
            return found[sku]
    raise UnknownProduct(
        QT_TRANSLATE_NOOP("Errors", "No product has the item code {item} of scale label {code}."),
        item=label.item_code,
        code=label.code,
    )
