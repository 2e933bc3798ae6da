"""The basket being rung up and its table model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from pos_app.core.perks import tier_unit_price
from pos_app.core.quote import BasketLine, at_tier_prices
from pos_app.core.rules import RuleSet
from pos_app.core.scale import format_weight
from pos_app.services.scanning import WeighedItem
from pos_app.services.till_session import ProductInfo
from pos_app.ui.messages import money
from pos_app.ui.qt import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

ModelIndex = QModelIndex | QPersistentModelIndex
#: The rule set and the identified member's tier a basket is priced for (None: no member).
Pricing = tuple[RuleSet, str] | None


@dataclass(frozen=True)
class BasketItem:
    """One line of the basket.

    Attributes:
        product: The product scanned.
        quantity: Units (positive; 1 on a weighed line).
        discount_fen: Discount on the whole line in fen.
        weighed: The scale label of a weighed line (称重码), else None.
    """

    product: ProductInfo
    quantity: int = 1
    discount_fen: int = 0
    weighed: WeighedItem | None = None

    def shelf_price_fen(self) -> int:
        """Unit price without member pricing (a weighed line: its price)."""
        if self.weighed is not None:
            return self.weighed.price_fen(False)
        return self.product.price_fen

    def member_price_fen(self) -> int | None:
        """The member price of one unit (a weighed line: of its weight), if any."""
        if self.weighed is not None:
            return self.weighed.member_price_fen()
        return self.product.member_price_fen

    def unit_price_fen(self, pricing: Pricing) -> int:
        """Unit price for the identified member's tier (``pricing`` None: no member),
        by the core's rule (:func:`pos_app.core.perks.tier_unit_price`), as the quote."""
        if pricing is None:
            return self.shelf_price_fen()
        rules, tier = pricing
        return tier_unit_price(rules, tier, self.shelf_price_fen(), self.member_price_fen())

    def gross_fen(self, pricing: Pricing) -> int:
        """Quantity times unit price."""
        return self.quantity * self.unit_price_fen(pricing)

    def member_saving_fen(self, pricing: Pricing) -> int:
        """What the member's tier price saves on the whole line (0 without a member)."""
        return self.gross_fen(None) - self.gross_fen(pricing)

    def as_line(self, pricing: Pricing) -> BasketLine:
        """The core's basket line: the shelf price and the member price (the quote
        charges the member's tier price)."""
        if self.weighed is not None:
            return self.weighed.as_line(pricing is not None, self.discount_fen)
        return BasketLine(
            sku=self.product.sku,
            name=self.product.name,
            category=self.product.category,
            quantity=self.quantity,
            unit_price_fen=self.product.price_fen,
            line_discount_fen=self.discount_fen,
            member_price_fen=self.product.member_price_fen,
        )


def parse_yuan(text: str) -> int | None:
    """Fen from a yuan amount typed by the cashier ("12", "12.5", "12.50"), or None."""
    value = text.strip().replace("¥", "").replace(",", "")
    if not value:
        return None
    try:
        amount = Fraction(value) * 100
    except (ValueError, ZeroDivisionError):
        return None
    if amount.denominator != 1 or amount < 0 or len(value) > 12:
        return None
    return int(amount)


class BasketModel(QAbstractTableModel):
    """Table model of the basket: item, quantity, price, discount, amount.

    Quantity and discount are editable; a refused edit emits :attr:`edit_refused`
    and leaves the line as it was.

    Signals:
        changed: The lines or the pricing changed (the screen re-quotes).
        edit_refused: An edit was refused; carries the message to show.
    """

    changed = Signal()
    edit_refused = Signal(str)

    COL_NAME, COL_QTY, COL_PRICE, COL_DISCOUNT, COL_AMOUNT = range(5)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[BasketItem] = []
        self._pricing: Pricing = None

    # -- data -------------------------------------------------------------------
    @property
    def items(self) -> list[BasketItem]:
        """A copy of the lines."""
        return list(self._items)

    @property
    def member_pricing(self) -> bool:
        """Member prices apply (a member is identified)."""
        return self._pricing is not None

    @property
    def pricing(self) -> Pricing:
        """The rule set and tier the lines are priced for (None: no member)."""
        return self._pricing

    def set_pricing(self, pricing: Pricing) -> None:
        """Price the lines for a member's tier (None: shelf prices)."""
        if pricing != self._pricing:
            self._pricing = pricing
            if self._items:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(self._items) - 1, self.COL_AMOUNT)
                )
            self.changed.emit()

    def lines(self) -> list[BasketLine]:
        """The basket as the core's lines."""
        return [item.as_line(self._pricing) for item in self._items]

    def priced_lines(self) -> list[BasketLine]:
        """The lines at the prices charged (the member's tier price applied by the core)."""
        if self._pricing is None:
            return self.lines()  # the shelf prices
        rules, tier = self._pricing
        return at_tier_prices(rules, self.lines(), tier)

    def member_saving_fen(self) -> int:
        """What the member's tier prices save on the whole basket."""
        return sum(item.member_saving_fen(self._pricing) for item in self._items)

    def add_product(self, product: ProductInfo, quantity: int = 1) -> int:
        """Add ``quantity`` of ``product`` (merging with its line). Returns the row."""
        for row, item in enumerate(self._items):
            if item.product.sku == product.sku and item.weighed is None:
                self._items[row] = replace(item, quantity=item.quantity + quantity)
                self.dataChanged.emit(self.index(row, 0), self.index(row, self.COL_AMOUNT))
                self.changed.emit()
                return row
        row = len(self._items)
        self.beginInsertRows(QModelIndex(), row, row)
        self._items.append(BasketItem(product, quantity))
        self.endInsertRows()
        self.changed.emit()
        return row

    def add_weighed(self, weighed: WeighedItem) -> int:
        """Add a weighed item as a line of its own (never merged). Returns the row."""
        row = len(self._items)
        self.beginInsertRows(QModelIndex(), row, row)
        self._items.append(BasketItem(weighed.product, 1, weighed=weighed))
        self.endInsertRows()
        self.changed.emit()
        return row

    def remove_row(self, row: int) -> bool:
        """Remove one line."""
        if not 0 <= row < len(self._items):
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._items[row]
        self.endRemoveRows()
        self.changed.emit()
        return True

    def set_items(self, items: list[BasketItem]) -> None:
        """Replace every line (recall, void)."""
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()
        self.changed.emit()

    def clear(self) -> None:
        """Empty the basket."""
        self.set_items([])

    def set_quantity(self, row: int, quantity: int) -> bool:
        """Change a line's quantity (refused unless a whole number above zero)."""
        return self.setData(self.index(row, self.COL_QTY), str(quantity), Qt.ItemDataRole.EditRole)

    def set_discount(self, row: int, text: str) -> bool:
        """Change a line's discount, given in yuan."""
        return self.setData(self.index(row, self.COL_DISCOUNT), text, Qt.ItemDataRole.EditRole)

    # -- Qt model -----------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Qt override."""
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Qt override."""
        return 0 if parent.isValid() else 5

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Qt override."""
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        return (
            self.tr("Item"),
            self.tr("Qty"),
            self.tr("Price"),
            self.tr("Discount"),
            self.tr("Amount"),
        )[section]

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Qt override: quantity and discount are editable."""
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        weighed = 0 <= index.row() < len(self._items) and self._items[index.row()].weighed
        if index.column() == self.COL_DISCOUNT or (index.column() == self.COL_QTY and not weighed):
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Qt override."""
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole and col != self.COL_NAME:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.EditRole:
            if col == self.COL_QTY:
                return str(item.quantity)
            if col == self.COL_DISCOUNT:
                return f"{item.discount_fen / 100:.2f}"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if item.weighed is not None and col in (self.COL_QTY, self.COL_PRICE):
            return self._weighed_cell(item.weighed, col)
        if col == self.COL_NAME:
            return item.product.name
        if col == self.COL_QTY:
            return str(item.quantity)
        if col == self.COL_PRICE:  # the shelf price; a member (tier) price shows as a discount
            return money(item.shelf_price_fen())
        if col == self.COL_DISCOUNT:
            off = item.discount_fen + item.member_saving_fen(self._pricing)
            return money(-off) if off else ""
        return money(item.gross_fen(self._pricing) - item.discount_fen)

    def _weighed_cell(self, weighed: WeighedItem, col: int) -> str:
        """Qty: the weight (a price label: 1); price: the shelf price per kg (a member's
        price per kg shows as a discount, like any member price), or the label's price."""
        per_kg = weighed.price_per_kg_fen(False)
        if col == self.COL_QTY:
            grams = weighed.weight_g
            return format_weight(grams) if grams is not None else "1"
        if per_kg is None:
            return money(weighed.price_fen(False))
        return self.tr("{price}/kg").format(price=money(per_kg))

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Qt override: validates quantity and discount."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row, col = index.row(), index.column()
        if not 0 <= row < len(self._items):
            return False
        item = self._items[row]
        text = str(value).strip()
        if col == self.COL_QTY and item.weighed is not None:
            self.edit_refused.emit(
                self.tr("A weighed item's weight comes from its scale label: weigh it again.")
            )
            return False
        if col == self.COL_QTY:
            try:
                quantity = int(text)
            except ValueError:
                quantity = 0
            if quantity <= 0 or quantity > 9999:
                self.edit_refused.emit(
                    self.tr(
                        "The quantity must be a whole number from 1 to 9999 (got {qty})."
                    ).format(qty=text)
                )
                return False
            new = replace(item, quantity=quantity)
            if new.discount_fen > new.gross_fen(self._pricing):
                new = replace(new, discount_fen=0)
        elif col == self.COL_DISCOUNT:
            fen = parse_yuan(text) if text else 0
            if fen is None or fen > item.gross_fen(self._pricing):
                self.edit_refused.emit(
                    self.tr(
                        "The discount must be an amount from 0 to the line amount {amount}."
                    ).format(amount=money(item.gross_fen(self._pricing)))
                )
                return False
            new = replace(item, discount_fen=fen)
        else:
            return False
        self._items[row] = new
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.COL_AMOUNT))
        self.changed.emit()
        return True
