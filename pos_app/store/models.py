"""SQLAlchemy models of the till's SQLite ledger.

Ledger entries, lot moves, sales, refunds, tenders and the audit log are immutable:
the migrations install triggers that abort any UPDATE or DELETE on them. A correction
is a new row. Member rows carry a cached balance that :mod:`pos_app.store.checks`
proves equal to the ledger sum.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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

from pos_app.store.types import SealedMask, UTCDateTime

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
    """A loyalty member. No plaintext phone and no plaintext first digits: a keyed hash
    of the number, the last 4 digits, a keyed hint of the first 3 + last 4, the mask
    sealed (docs/security.md).

    Attributes:
        phone_hash: HMAC-SHA256 of the E.164 number under HQ's phone key.
        phone_last4: The last four digits (the suffix search).
        phone_hint: Keyed hash of the first 3 + last 4 digits under the till's own key
            (the ``138*1234`` look-up); kept in step with ``phone_masked`` by
            ``store.database`` when a session flushes.
        phone_masked: The masked phone (138****1234), stored sealed in the column
            ``phone_mask_sealed``; raw SQL reads it with ``phone_mask(...)``.
        snapshot_seq: HQ's change number of the last snapshot of this member the till
            applied (its balance as of that number); pulled entries numbered at or
            below it are in that balance already. None: followed entry by entry.
    """

    __tablename__ = "members"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_no: Mapped[int] = mapped_column(Integer, unique=True)
    phone_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    phone_last4: Mapped[str] = mapped_column(String(4))
    phone_hint: Mapped[bytes | None] = mapped_column(LargeBinary(16), nullable=True)
    phone_masked: Mapped[str] = mapped_column("phone_mask_sealed", SealedMask, nullable=True)
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
    snapshot_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        Index("ix_members_last4_seen", "phone_last4", "last_seen_at"),
        Index("ix_members_hint_seen", "phone_hint", "last_seen_at"),
        # Manager views: members per tier and the points liability, index-only.
        Index("ix_members_tier_balance", "tier", "balance"),
    )


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
        # The reminder list: open lots by expiry date, covering member and points.
        Index(
            "ix_point_lots_expiring",
            "expires_on",
            "member_id",
            "remaining",
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
        # Day report: the points moved in a day, by kind and actor.
        Index("ix_ledger_time", "created_at"),
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
    # A line rung up from a scale label (称重码): grams and the price per kg; else NULL.
    weight_g: Mapped[int | None] = mapped_column(Integer, nullable=True)
    price_per_kg_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)

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

    __table_args__ = (
        Index("ix_tenders_sale", "sale_id"),
        Index("ix_tenders_refund", "refund_id"),
    )


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
    # Earned points of the refunded part left with the member because they had expired.
    points_expired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_refunds_sale", "sale_id"),
        Index("ix_refunds_time", "created_at"),
    )


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
    # What a redemption hands over: goods (from store stock), a coupon, a lottery entry.
    kind: Mapped[str] = mapped_column(String(8), default="goods", server_default="goods")
    per_member_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_new: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    coupon_amount_off_fen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coupon_percent_off: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coupon_min_order_fen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coupon_valid_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    lottery_winners: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # HQ's front-page picks: JSON section -> position ({} for none), pulled with the item.
    featured: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


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

    __table_args__ = (
        Index("ix_outbox_pending", "seq", sqlite_where=text("sent_at IS NULL")),
        # The offline spend check: a sale's unsent event by the sale id (migration 0004).
        Index(
            "ix_outbox_pending_aggregate",
            "aggregate_id",
            "kind",
            sqlite_where=text("sent_at IS NULL"),
        ),
    )


class AuditLog(Base):
    """Who did what that a manager may need to answer for (immutable, hash-chained).

    Write rows with ``services.audit.record`` only: it numbers them and chains their
    hashes (``core.audit``); a trigger refuses a row that does not follow the last one.

    Attributes:
        seq: 1, 2, 3... in the order rows were written.
        prev_hash: ``row_hash`` of row ``seq - 1`` (``core.audit.GENESIS`` for row 1).
        row_hash: SHA-256 over the row's content and ``prev_hash`` (``core.audit``).
    """

    __tablename__ = "audit_log"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_audit_log_seq", "seq", unique=True),)


class PinAttempts(Base):
    """Wrong PINs in a row, per user (``user:<id>``) and for the whole till (``till``):
    what the escalating delay and the lockout are measured on (services.auth). Mutable;
    each failure is also an audit row."""

    __tablename__ = "pin_attempts"
    scope: Mapped[str] = mapped_column(String(48), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReceiptCounter(Base):
    """Per-day receipt sequence of this till."""

    __tablename__ = "receipt_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class PrintJob(Base):
    """A receipt waiting for (or done with) the printer: the till's persistent print queue.

    A sale or refund writes its job in its own transaction, so a committed sale always
    has a receipt to print. The bytes are rendered when the job prints, from the stored
    sale; a job is ``done`` only after the printer took it. Mutable (status, attempts).
    """

    __tablename__ = "print_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # sale | refund | test
    ref_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    printed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reprint: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN ('sale', 'refund', 'test')", name="kind"),
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
        Index("ix_print_jobs_pending", "id", sqlite_where=text("status = 'pending'")),
        Index("ix_print_jobs_ref", "ref_id"),
        {"sqlite_autoincrement": True},
    )


class PrinterSetting(Base):
    """How the till's receipt printer is reached and what it can do (one row per printer)."""

    __tablename__ = "printer_settings"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # "receipt"
    uri: Mapped[str] = mapped_column(Text)  # "preview://" = no printer: PNG previews
    columns: Mapped[int] = mapped_column(Integer, default=48)  # 32 (58 mm) | 48 (80 mm)
    encoding: Mapped[str] = mapped_column(String(16), default="gb18030")
    chinese_mode: Mapped[bool] = mapped_column(Boolean, default=True)  # FS & / FS .
    qr_mode: Mapped[str] = mapped_column(String(8), default="native")  # native | image
    cut: Mapped[bool] = mapped_column(Boolean, default=True)
    drawer_kick: Mapped[bool] = mapped_column(Boolean, default=False)
    receipt_code: Mapped[str] = mapped_column(String(8), default="code128")
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# -- points mall, signed member codes, manager views (migration 0003) ----------------------

#: Tables of migration 0003 whose rows are immutable (triggers abort UPDATE and DELETE).
MALL_IMMUTABLE_TABLES = ("mall_redemptions", "lottery_entries", "lottery_draws", "shift_closes")


class MemberCodeUse(Base):
    """A signed dynamic member code the till accepted: the replay cache.

    The primary key is the code's nonce, so a second scan of the same code fails.
    Rows are pruned once the code has expired (it would be refused as expired anyway).
    """

    __tablename__ = "member_code_uses"
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer)
    member_no: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_member_code_uses_expires", "expires_at"),)


class MallRedemption(Base):
    """A points-mall redemption at the counter (immutable).

    ``unit_points`` is the points price in force at the moment of redemption (a
    time-limited discount applied); ``regular_points`` the list price at that moment.
    """

    __tablename__ = "mall_redemptions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    item_id: Mapped[str] = mapped_column(String(32))
    item_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_points: Mapped[int] = mapped_column(Integer)
    regular_points: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    unit_cash_fen: Mapped[int] = mapped_column(Integer)
    cash_fen: Mapped[int] = mapped_column(Integer)
    cash_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[str] = mapped_column(String(16))
    till_id: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("kind IN ('goods', 'coupon', 'lottery')", name="kind"),
        Index("ix_mall_redemptions_member_item", "member_id", "item_id"),
        Index("ix_mall_redemptions_time", "created_at"),
    )


class LotteryEntry(Base):
    """One lottery entry bought with points (immutable)."""

    __tablename__ = "lottery_entries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    redemption_id: Mapped[str] = mapped_column(ForeignKey("mall_redemptions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_lottery_entries_item", "item_id"),)


class LotteryDraw(Base):
    """The draw of a lottery, recorded so anyone can repeat it (immutable).

    The winners follow from ``seed_hex`` and the entry ids alone
    (:func:`pos_app.core.mall.draw_lottery`); ``entries_digest`` pins the entry list.
    """

    __tablename__ = "lottery_draws"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32), unique=True)
    drawn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(32))
    algorithm: Mapped[str] = mapped_column(String(32))
    seed_hex: Mapped[str] = mapped_column(String(64))
    entries_count: Mapped[int] = mapped_column(Integer)
    entries_digest: Mapped[str] = mapped_column(String(64))
    winners: Mapped[str] = mapped_column(Text)


class ShiftClose(Base):
    """A shift closed with a cash count: expected vs counted (immutable)."""

    __tablename__ = "shift_closes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    till_id: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(32))
    float_fen: Mapped[int] = mapped_column(Integer)
    cash_sales_fen: Mapped[int] = mapped_column(Integer)
    cash_refunds_fen: Mapped[int] = mapped_column(Integer)
    cash_mall_fen: Mapped[int] = mapped_column(Integer)
    expected_fen: Mapped[int] = mapped_column(Integer)
    counted_fen: Mapped[int] = mapped_column(Integer)
    difference_fen: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_shift_closes_time", "closed_at"),)
