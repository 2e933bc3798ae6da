"""SQLAlchemy models of the till's SQLite ledger.

Ledger entries, lot moves, sales, refunds, tenders and the audit log are immutable:
the migrations install triggers that abort any UPDATE or DELETE on them. A correction
is a new row. Member rows carry a cached balance that :mod:`pos_app.store.checks`
proves equal to the ledger sum.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pos_app.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IMMUTABLE_TABLES = (
    "ledger_entries",
    "lot_moves",
    "sales",
    "sale_lines",
    "tenders",
    "refunds",
    "refund_lines",
    "coupon_uses",
    "audit_log",
)


class Base(DeclarativeBase):
    """Declarative base with a naming convention for stable constraint names."""

    metadata = MetaData(naming_convention=NAMING)


class Setting(Base):
    """Till settings and counters (store id, till id, phone-hash key...)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    """A cashier or manager who logs in with a PIN."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # cashier | manager
    pin_hash: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Member(Base):
    """A loyalty member. No plaintext phone: a keyed hash, the last 4 digits, a mask."""

    __tablename__ = "members"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_no: Mapped[int] = mapped_column(Integer, unique=True)
    phone_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    phone_last4: Mapped[str] = mapped_column(String(4))
    phone_masked: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(64), default="")
    birthday: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    tier: Mapped[str] = mapped_column(String(16))
    tier_since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_review: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    referred_by: Mapped[str | None] = mapped_column(ForeignKey("members.id"), nullable=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    registered_store: Mapped[str] = mapped_column(String(16))
    first_purchase_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    birthday_gift_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_members_last4_seen", "phone_last4", "last_seen_at"),)


class PointLot(Base):
    """A batch of earned points with one expiry date (a projection of the ledger)."""

    __tablename__ = "point_lots"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    earned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)

    __table_args__ = (
        Index(
            "ix_point_lots_open",
            "member_id",
            "expires_on",
            sqlite_where=text("remaining > 0"),
        ),
    )


class LedgerEntry(Base):
    """One immutable movement of a member's points."""

    __tablename__ = "ledger_entries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), nullable=True)
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refunds.id"), nullable=True)
    rule_set_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_ledger_member_time", "member_id", "created_at"),
        Index("ix_ledger_sale", "sale_id"),
    )


class LotMove(Base):
    """Points a ledger entry put into or took out of a lot."""

    __tablename__ = "lot_moves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"))
    lot_id: Mapped[str] = mapped_column(ForeignKey("point_lots.id"))
    points: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_lot_moves_entry", "entry_id"), Index("ix_lot_moves_lot", "lot_id"))


class Sale(Base):
    """A committed sale (immutable)."""

    __tablename__ = "sales"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(24), unique=True)
    store_id: Mapped[str] = mapped_column(String(16))
    till_id: Mapped[str] = mapped_column(String(16))
    cashier_id: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    subtotal_fen: Mapped[int] = mapped_column(Integer)
    line_discount_fen: Mapped[int] = mapped_column(Integer)
    coupon_fen: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    points_used: Mapped[int] = mapped_column(Integer)
    points_value_fen: Mapped[int] = mapped_column(Integer)
    cash_due_fen: Mapped[int] = mapped_column(Integer)
    points_earned: Mapped[int] = mapped_column(Integer)
    bonus_points: Mapped[int] = mapped_column(Integer)
    rule_set_version: Mapped[str] = mapped_column(String(64))
    quote_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_sales_member_time", "member_id", "created_at"),
        Index("ix_sales_time", "created_at"),
    )


class SaleLine(Base):
    """A sale line with how it was paid and what it earned (immutable)."""

    __tablename__ = "sale_lines"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    line_discount_fen: Mapped[int] = mapped_column(Integer)
    net_fen: Mapped[int] = mapped_column(Integer)
    coupon_fen: Mapped[int] = mapped_column(Integer)
    points_used: Mapped[int] = mapped_column(Integer)
    points_value_fen: Mapped[int] = mapped_column(Integer)
    cash_fen: Mapped[int] = mapped_column(Integer)
    earn_points: Mapped[int] = mapped_column(Integer)
    is_reward: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("sale_id", "line_no"),)


class Tender(Base):
    """Money taken (sale) or handed back (refund)."""

    __tablename__ = "tenders"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), nullable=True)
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refunds.id"), nullable=True)
    method: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(Integer)
    received_fen: Mapped[int] = mapped_column(Integer)
    change_fen: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_tenders_sale", "sale_id"),)


class Refund(Base):
    """A refund of some or all of a sale (immutable)."""

    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    refund_no: Mapped[str] = mapped_column(String(24), unique=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cashier_id: Mapped[str] = mapped_column(String(32))
    approved_by: Mapped[str] = mapped_column(String(32))
    gross_cash_fen: Mapped[int] = mapped_column(Integer)
    cash_refund_fen: Mapped[int] = mapped_column(Integer)
    cash_deducted_fen: Mapped[int] = mapped_column(Integer)
    points_reversed: Mapped[int] = mapped_column(Integer)
    points_restored: Mapped[int] = mapped_column(Integer)
    debt_points: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_refunds_sale", "sale_id"),)


class RefundLine(Base):
    """Units of one sale line refunded (immutable)."""

    __tablename__ = "refund_lines"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    refund_id: Mapped[str] = mapped_column(ForeignKey("refunds.id"))
    sale_line_id: Mapped[str] = mapped_column(ForeignKey("sale_lines.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    cash_fen: Mapped[int] = mapped_column(Integer)
    points_reversed: Mapped[int] = mapped_column(Integer)
    points_restored: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_refund_lines_sale_line", "sale_line_id"),)


class Coupon(Base):
    """A coupon issued to a member (or a bearer coupon when member_id is empty)."""

    __tablename__ = "coupons"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(64))
    amount_off_fen: Mapped[int] = mapped_column(Integer, default=0)
    percent_off: Mapped[int] = mapped_column(Integer, default=0)
    min_order_fen: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32), default="hq")


class CouponUse(Base):
    """A coupon spent on a sale: the primary key makes a second use impossible."""

    __tablename__ = "coupon_uses"
    coupon_id: Mapped[str] = mapped_column(ForeignKey("coupons.id"), primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"))
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Product(Base):
    """The catalogue as pushed by HQ."""

    __tablename__ = "products"
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    barcode: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    price_fen: Mapped[int] = mapped_column(Integer)
    member_price_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MallItemRow(Base):
    """A points-mall item as pushed by HQ."""

    __tablename__ = "mall_items"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    points_price: Mapped[int] = mapped_column(Integer)
    cash_price_fen: Mapped[int] = mapped_column(Integer, default=0)
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    level: Mapped[str] = mapped_column(String(8), default="middle")
    category: Mapped[str] = mapped_column(String(32), default="")
    brand: Mapped[str] = mapped_column(String(64), default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    discount_percent: Mapped[int] = mapped_column(Integer, default=0)
    discount_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discount_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    available_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    available_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RuleSetVersion(Base):
    """Every rule set version the till has received."""

    __tablename__ = "rule_sets"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class OutboxEvent(Base):
    """A change waiting to be pushed to HQ (written in the same transaction as the change)."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_pending", "seq", sqlite_where=text("sent_at IS NULL")),)


class AuditLog(Base):
    """Who did what that a manager may need to answer for (immutable)."""

    __tablename__ = "audit_log"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


class ReceiptCounter(Base):
    """Per-day receipt sequence of this till."""

    __tablename__ = "receipt_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
