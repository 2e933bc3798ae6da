"""Use cases the till's screens need beyond checkout and refunds.

Products (catalogue lookup by barcode or SKU, and a small upsert used by tests and
demo tooling), the demo users of an empty till, the HQ sync status shown in the
status bar, and client-generated ids for sales and refunds (the UI must not import
:mod:`pos_app.store`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput, LoyaltyError
from pos_app.services import auth
from pos_app.services.context import TillContext
from pos_app.services.users import UserInfo
from pos_app.store import catalog, outbox
from pos_app.store import users as user_store
from pos_app.store.models import Product

#: The demo accounts created on an empty till: (name, role, PIN).
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("小王", "cashier", "1111"),
    ("李姐", "manager", "9999"),
)


#: The longest barcode or SKU the catalogue holds (``products.sku`` is 32 characters).
MAX_CODE_LENGTH = 32


class UnknownProduct(LoyaltyError):
    """No active product has the scanned barcode or SKU."""


@dataclass(frozen=True)
class ProductInput:
    """A catalogue row to insert or replace.

    Attributes:
        sku: Catalogue id (the primary key).
        name: Display name.
        category: Category code (``"gift_card"`` earns nothing...).
        price_fen: Shelf price in fen.
        barcode: EAN/UPC barcode, if any.
        member_price_fen: Price for identified members, if different.
        active: Whether the product can be sold.
    """

    sku: str
    name: str
    category: str
    price_fen: int
    barcode: str | None = None
    member_price_fen: int | None = None
    active: bool = True


@dataclass(frozen=True)
class ProductInfo:
    """A product as the checkout screen rings it up."""

    sku: str
    barcode: str | None
    name: str
    category: str
    price_fen: int
    member_price_fen: int | None

    def unit_price_fen(self, member: bool) -> int:
        """The price that applies with or without an identified member."""
        if member and self.member_price_fen is not None:
            return self.member_price_fen
        return self.price_fen


@dataclass(frozen=True)
class SyncStatus:
    """What the status bar says about HQ.

    Attributes:
        online: HQ is reachable.
        pending: Events waiting in the outbox for HQ.
    """

    online: bool
    pending: int


def new_client_id() -> str:
    """A fresh client-generated id for a sale or refund (32 hex characters)."""
    return uuid.uuid4().hex


def product_info(row: Product) -> ProductInfo:
    """The checkout screen's view of a catalogue row."""
    return ProductInfo(
        row.sku, row.barcode, row.name, row.category, row.price_fen, row.member_price_fen
    )


def find_product(ctx: TillContext, code: str) -> ProductInfo:
    """The active product whose barcode or SKU is ``code``.

    Raises:
        InvalidInput: an empty code.
        UnknownProduct: no product, or one that is not for sale.
    """
    value = (code or "").strip()
    if not value:
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Scan or type a product code."))
    if len(value) > MAX_CODE_LENGTH:
        raise InvalidInput(
            QT_TRANSLATE_NOOP(
                "Errors",
                "{length} characters is too long for a product code (at most {max}): "
                "scan it again or check what was typed.",
            ),
            length=len(value),
            max=MAX_CODE_LENGTH,
        )
    with ctx.db.read() as session:
        row = catalog.product_by_code(session, value)
        if row is None or not row.active:
            raise UnknownProduct(
                QT_TRANSLATE_NOOP("Errors", "No product has the code {code}."), code=value
            )
        return product_info(row)


def _check_product(item: ProductInput) -> None:
    if not item.sku.strip() or len(item.sku) > 32 or not item.name.strip():
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "A product needs a SKU and a name."))
    prices = (item.price_fen, item.member_price_fen)
    for price in prices:
        if price is not None and (
            isinstance(price, bool) or not isinstance(price, int) or price < 0
        ):
            raise InvalidInput(
                QT_TRANSLATE_NOOP(
                    "Errors", "Product {sku}: a price must be whole fen, not negative."
                ),
                sku=item.sku,
            )


def upsert_products(ctx: TillContext, products: Iterable[ProductInput]) -> int:
    """Insert or replace catalogue rows in one transaction. Returns how many."""
    items = list(products)
    for item in items:
        _check_product(item)
    with ctx.db.write() as session:
        for item in items:
            row = catalog.product_for_update(session, item.sku)
            row.barcode = item.barcode
            row.name = item.name.strip()
            row.category = item.category
            row.price_fen = item.price_fen
            row.member_price_fen = item.member_price_fen
            row.active = item.active
    return len(items)


def ensure_demo_users(ctx: TillContext) -> list[UserInfo]:
    """Create the demo cashier and manager when the till has no user yet.

    Returns:
        The active users afterwards.
    """
    with ctx.db.read() as session:
        has_users = user_store.has_users(session)
    if not has_users:
        for name, role, pin in DEMO_USERS:
            auth.create_user(ctx, name, role, pin)
    return auth.list_users(ctx)


def pending_outbox_count(ctx: TillContext) -> int:
    """Events waiting to be uploaded to HQ."""
    with ctx.db.read() as session:
        return outbox.pending_outbox(session)


def sync_status(ctx: TillContext) -> SyncStatus:
    """HQ reachability and the outbox backlog."""
    return SyncStatus(online=bool(ctx.online()), pending=pending_outbox_count(ctx))
