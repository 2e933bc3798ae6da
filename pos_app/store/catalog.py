"""The catalog and the rules: products, and the rule set versions the till holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.store.models import Product, RuleSetVersion


def product_by_code(session: Session, code: str) -> Product | None:
    """The product with this barcode, else with this SKU (as typed, then upper case)."""
    row = session.scalars(select(Product).where(Product.barcode == code)).first()
    if row is None:
        row = session.get(Product, code) or session.get(Product, code.upper())
    return row


def active_rule_document(session: Session) -> str | None:
    """The active rule set's JSON document, or None."""
    row = session.scalars(select(RuleSetVersion).where(RuleSetVersion.active.is_(True))).first()
    return row.document if row else None


def has_rule_sets(session: Session) -> bool:
    """True when the till holds at least one rule set version."""
    return session.scalars(select(RuleSetVersion.version)).first() is not None


def store_rule_set(
    session: Session, version: str, document: str, received_at: dt.datetime, *, activate: bool
) -> None:
    """Keep a rule set version (once); with ``activate``, it becomes the only active one."""
    if activate:
        for row in session.scalars(select(RuleSetVersion).where(RuleSetVersion.active)):
            row.active = False
    existing = session.get(RuleSetVersion, version)
    if existing is None:
        session.add(
            RuleSetVersion(
                version=version, document=document, received_at=received_at, active=activate
            )
        )
    else:
        existing.active = activate or existing.active


def product_for_update(session: Session, sku: str) -> Product:
    """The product row of ``sku`` to change: the stored one, or a new one added."""
    row = session.get(Product, sku)
    if row is None:
        row = Product(sku=sku)
        session.add(row)
    return row


def get_rule_set(session: Session, version: str) -> RuleSetVersion | None:
    """The stored rule set version, or None."""
    return session.get(RuleSetVersion, version)


def add_rule_set(session: Session, row: RuleSetVersion) -> None:
    """Add a rule set version to the session."""
    session.add(row)


def deactivate_rule_sets(session: Session) -> None:
    """Make no rule set version active (before activating one)."""
    for other in session.scalars(select(RuleSetVersion).where(RuleSetVersion.active.is_(True))):
        other.active = False


def products_with_barcode(session: Session, barcode: str, besides_sku: str) -> list[Product]:
    """Products other than ``besides_sku`` carrying ``barcode``."""
    return list(
        session.scalars(
            select(Product).where(Product.barcode == barcode, Product.sku != besides_sku)
        )
    )


def active_products(session: Session, skus: Sequence[str]) -> list[Product]:
    """The products for sale among ``skus``."""
    return list(
        session.scalars(
            select(Product).where(Product.sku.in_(list(skus)), Product.active.is_(True))
        )
    )
