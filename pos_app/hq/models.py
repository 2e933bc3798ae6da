"""SQLAlchemy models of HQ's authoritative loyalty ledger (PostgreSQL; SQLite for the demo).

Ledger entries, lot moves, sales, sale lines, refunds and refund lines are immutable:
the migration installs triggers that refuse UPDATE and DELETE on them. A correction is a
new entry. Every member row carries a cached balance equal to the sum of its entries.

Rows the tills pull (members, ledger entries, rule set versions, products, mall items,
coupons) carry ``seq``: a number from HQ's single change counter, given when the row is
written and again whenever it changes (see :mod:`pos_app.hq.database`). A pull is
``seq > cursor`` ordered by ``seq``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
    "refunds",
    "refund_lines",
    "hq_audit",
)

ID_LEN = 64
CHANGE_COUNTER = "change_seq"
# Member-owned tables are hash-partitioned by member id on PostgreSQL (docs/scaling.md):
# every key of theirs starts with the member id, so the same schema can be distributed
# by member with Citus. SQLite (the demo) ignores the partitioning.
MEMBER_PARTITIONS = 16
PARTITIONED_TABLES = (
    "members",
    "ledger_entries",
    "lots",
    "lot_moves",
    "spend_holds",
    "member_consents",
    "consent_records",
    "member_contacts",
    "notifications",
)


def is_partition(name: str | None) -> bool:
    """Whether ``name`` is one of the partitions of a partitioned table (``members_p03``):
    the migrations make them; schema comparisons look at the partitioned table only."""
    if not name or "_p" not in name:
        return False
    table, _, number = name.rpartition("_p")
    return table in PARTITIONED_TABLES and number.isdigit()


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic's ``include_name`` hook: leave partitions out of schema comparisons."""
    return not (type_ == "table" and is_partition(name))


def include_object(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
    """Alembic's ``include_object`` hook: PostgreSQL shows a foreign key into a
    partitioned table once more per partition; only the table's own is compared."""
    if type_ == "foreign_key_constraint":
        return not is_partition(obj.referred_table.name)
    return not (type_ == "table" and is_partition(name))


def by_member(column: str = "member_id") -> dict[str, str]:
    """Table options: hash-partitioned by ``column`` on PostgreSQL."""
    return {"postgresql_partition_by": f"HASH ({column})"}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime: ``timestamptz`` on PostgreSQL, naive UTC on SQLite, UTC on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.utcoffset() is None:
            raise ValueError("HQ stores aware datetimes only")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base with a naming convention for stable constraint names."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSONDoc,
        list[Any]: JSONDoc,
    }


class FeedMixin:
    """A row tills pull: ``seq`` is stamped from the change counter on every change.

    Attributes:
        __feed_topic__: Name of the pull topic.
        __feed_ignore__: Attributes whose change alone does not re-publish the row.
    """

    __feed_topic__: ClassVar[str]
    __feed_ignore__: ClassVar[frozenset[str]] = frozenset()
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)


# -- settings, identities -------------------------------------------------------------


class Setting(Base):
    """HQ settings (the phone-hash key tills receive at registration...)."""

    __tablename__ = "hq_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Counter(Base):
    """Named counters; ``change_seq`` orders every change tills pull."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Store(Base):
    """A store (门店).

    Attributes:
        region: The region whose members its tills hold (see :class:`MemberScope`);
            a store's own code unless HQ groups stores.
    """

    __tablename__ = "stores"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    region: Mapped[str] = mapped_column(String(16))


class Till(Base):
    """A till of a store; its credential is kept as a SHA-256 of a random token."""

    __tablename__ = "tills"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "<store>-<till>"
    store_code: Mapped[str] = mapped_column(ForeignKey("stores.code"))
    till_code: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_push_at: Mapped[dt.datetime | None]
    last_skew_seconds: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("store_code", "till_code"),)


class Channel(Base):
    """Another sales channel (online mall ``mall``, member app ``app``) and its credential."""

    __tablename__ = "channels"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StoreManager(Base):
    """A manager of a store, as HQ knows them: a till's adjustment must name one
    (its entries' ``actor_id``, the till user who approved it with her PIN).

    HQ's administrators keep this roster (``pos-hq add-manager``, the admin API); a till
    cannot add to it, so a stolen till token cannot make up an approver.
    """

    __tablename__ = "store_managers"
    store_code: Mapped[str] = mapped_column(ForeignKey("stores.code"), primary_key=True)
    manager_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class Admin(Base):
    """An HQ administrator (rule sets, catalogue, mall, stores, tills)."""

    __tablename__ = "admins"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# -- members and their points ---------------------------------------------------------


class Member(FeedMixin, Base):
    """A member, found by the keyed hash of the phone; no plaintext phone anywhere.

    A phone registered twice (two stores offline) keeps one canonical member; the
    later id becomes an alias (``alias_of``) whose balance is moved by entries.
    """

    __tablename__ = "members"
    __feed_topic__ = "member"
    __feed_ignore__ = frozenset({"last_review", "updated_at"})
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    # Not indexed (0070_lean_members): HQ finds a member by number through
    # ``member_numbers`` and by phone through ``member_phones``.
    member_no: Mapped[int | None] = mapped_column(BigInteger)
    phone_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    phone_last4: Mapped[str] = mapped_column(String(4))
    phone_masked: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(64), default="")
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    tier: Mapped[str] = mapped_column(String(16))
    tier_since: Mapped[dt.datetime]
    last_review: Mapped[dt.date | None] = mapped_column(Date)
    referral_code: Mapped[str | None] = mapped_column(String(16))
    referred_by: Mapped[str | None] = mapped_column(String(ID_LEN))
    registered_at: Mapped[dt.datetime]
    registered_channel: Mapped[str] = mapped_column(String(16))
    registered_store: Mapped[str | None] = mapped_column(String(16))
    registered_till: Mapped[str | None] = mapped_column(String(40))
    first_purchase_at: Mapped[dt.datetime | None]
    birthday_gift_year: Mapped[int | None] = mapped_column(Integer)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    alias_of: Mapped[str | None] = mapped_column(ForeignKey("members.id"))
    received_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # Unique by construction (the change counter); a partitioned table's unique keys
    # must hold the partition key.
    seq: Mapped[int] = mapped_column(BigInteger, index=True)

    __table_args__ = (
        Index(
            "ix_members_alias_of",
            "alias_of",
            postgresql_where=text("alias_of IS NOT NULL"),
            sqlite_where=text("alias_of IS NOT NULL"),
        ),
        by_member("id"),
    )


class MemberPhone(Base):
    """The canonical member of each phone (by its keyed hash): the one place that decides
    which registration of a phone keeps the member (the members table is partitioned by
    member id, so it cannot hold a unique key on the phone)."""

    __tablename__ = "member_phones"
    phone_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))


class MemberNumber(Base):
    """Member numbers (printed on cards and in member codes), unique chain-wide."""

    __tablename__ = "member_numbers"
    member_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))


class LedgerEntry(FeedMixin, Base):
    """One movement of points (immutable), keyed by the id its writer generated.

    Attributes:
        member_id: The member whose balance moved (aliases resolved).
        member_ref: The member id the writer named (an alias, or the same).
        created_at: When the writer says it happened (its clock).
        received_at: When HQ recorded it (HQ's clock orders events).
        source_channel: ``store``, ``mall``, ``app`` or ``hq``.
        in_origin_ledger: False when the writer does not hold the entry itself (HQ
            corrections, bonuses for members the till did not know): the writer pulls it.
    """

    __tablename__ = "ledger_entries"
    __feed_topic__ = "entry"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    member_ref: Mapped[str] = mapped_column(String(ID_LEN))
    kind: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    source_channel: Mapped[str] = mapped_column(String(16))
    store_code: Mapped[str | None] = mapped_column(String(16))
    till_id: Mapped[str | None] = mapped_column(String(40))
    in_origin_ledger: Mapped[bool] = mapped_column(Boolean)
    event_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    sale_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)
    refund_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    rule_set_version: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    reason: Mapped[str | None] = mapped_column(Text)

    seq: Mapped[int] = mapped_column(BigInteger, index=True)

    __table_args__ = (
        PrimaryKeyConstraint("member_id", "id"),
        CheckConstraint("points <> 0", name="points_nonzero"),
        Index("ix_ledger_entries_member_time", "member_id", "created_at"),
        # An entry id is looked up by this key, in its member's ledger (0080_entry_key):
        # ``pos-hq audit verify`` reports an id recorded under two members.
        # The anniversary notice reads the job's bonus entries by time (0060_reach_more).
        Index(
            "ix_ledger_entries_anniversary",
            "created_at",
            postgresql_where=text("kind = 'bonus' AND reason = 'anniversary'"),
            sqlite_where=text("kind = 'bonus' AND reason = 'anniversary'"),
        ),
        by_member(),
    )


class PointLot(Base):
    """Points earned together, with one expiry date (HQ's own lots)."""

    __tablename__ = "lots"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[dt.datetime]
    expires_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        PrimaryKeyConstraint("member_id", "id"),
        Index("ix_lots_member_open", "member_id", "expires_on"),
        Index("ix_lots_expiring", "expires_on", postgresql_where=text("remaining > 0")),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        by_member(),
    )


class LotMove(Base):
    """Points a debit entry took out of a lot (immutable); ``id`` orders them. A credit
    writes no move at HQ: the lot's own row (its entry, its points) records it."""

    __tablename__ = "lot_moves"
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True
    )
    entry_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    lot_id: Mapped[str] = mapped_column(String(80), index=True)
    points: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        PrimaryKeyConstraint("member_id", "id"),
        by_member(),
    )


class MemberScope(Base):
    """A member the tills of ``region`` hold: registered, seen (a sale, a refund, a hold)
    or assigned there, or fetched on demand by one of its tills.

    A new row takes the next change number (``seq``): the member enters the region's
    feed then, and its tills receive it whole (a member snapshot). The key starts with
    the member id, so the table can be hash-partitioned by member like the ledger.
    """

    __tablename__ = "member_scopes"
    # no foreign key on PostgreSQL (HQ 0090): checked by the push, and by audit verify
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    region: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_member_scopes_region_seq", "region", "seq"),
        # The snapshot stream: a region's members in member-id order (resumable).
        Index("ix_member_scopes_region_member", "region", "member_id"),
    )


# -- sales and refunds ----------------------------------------------------------------


class Sale(Base):
    """A sale as a till (or channel) reported it, with HQ's own re-quote.

    Attributes:
        hq_quote: ``{"agrees": true}`` when HQ's re-quote gives the till's figures
            (they are on the sale and its lines); else HQ's whole recomputation
            (``pos_app.core.quote.Quote.as_dict``) with the mismatches, or the reason it
            could not recompute.
    """

    __tablename__ = "sales"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(ID_LEN))
    receipt_no: Mapped[str | None] = mapped_column(String(32))
    source_channel: Mapped[str] = mapped_column(String(16))
    store_code: Mapped[str | None] = mapped_column(String(16), index=True)
    till_id: Mapped[str | None] = mapped_column(String(40))
    cashier_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    member_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    member_ref: Mapped[str | None] = mapped_column(String(ID_LEN))
    created_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    total_fen: Mapped[int] = mapped_column(BigInteger)
    cash_due_fen: Mapped[int] = mapped_column(BigInteger)
    points_used: Mapped[int] = mapped_column(BigInteger)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    rule_set_version: Mapped[str] = mapped_column(String(64))
    coupons: Mapped[list[Any]]
    tenders: Mapped[list[Any]]
    hq_quote: Mapped[dict[str, Any]]
    verified: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_sales_member_time", "member_id", "created_at"),
        # The notification job's day of sales (points earned, close to the next tier).
        Index("ix_sales_created_at", "created_at"),
    )


class SaleLine(Base):
    """A sale line; ``cash_fen``... are HQ's per-line figures (None if not recomputed)."""

    __tablename__ = "sale_lines"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    sale_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    line_discount_fen: Mapped[int] = mapped_column(BigInteger)
    is_reward: Mapped[bool] = mapped_column(Boolean)
    cash_fen: Mapped[int | None] = mapped_column(BigInteger)
    points_used: Mapped[int | None] = mapped_column(BigInteger)
    points_value_fen: Mapped[int | None] = mapped_column(BigInteger)
    earn_points: Mapped[int | None] = mapped_column(BigInteger)


class Refund(Base):
    """A refund as a till reported it."""

    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(ID_LEN))
    refund_no: Mapped[str | None] = mapped_column(String(32))
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    store_code: Mapped[str | None] = mapped_column(String(16))
    till_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    cashier_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    approved_by: Mapped[str | None] = mapped_column(String(ID_LEN))
    cash_refund_fen: Mapped[int] = mapped_column(BigInteger)
    cash_deducted_fen: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    points_restored: Mapped[int] = mapped_column(BigInteger)


class RefundLine(Base):
    """Units of one sale line a refund gave back."""

    __tablename__ = "refund_lines"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    refund_id: Mapped[str] = mapped_column(ForeignKey("refunds.id"), index=True)
    sale_line_id: Mapped[str] = mapped_column(ForeignKey("sale_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Redemption(Base):
    """A points-mall redemption from the online mall or the member app."""

    __tablename__ = "redemptions"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(ID_LEN))
    source_channel: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("mall_items.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    cash_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]


# -- what HQ publishes ----------------------------------------------------------------


class RuleSetVersion(FeedMixin, Base):
    """Every rule set version HQ published; exactly one is active."""

    __tablename__ = "rule_set_versions"
    __feed_topic__ = "rule_set"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    published_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class Product(FeedMixin, Base):
    """A catalogue product."""

    __tablename__ = "products"
    __feed_topic__ = "product"
    __feed_ignore__ = frozenset({"updated_at"})
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    barcode: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    member_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime]


class MallItem(FeedMixin, Base):
    """A points-mall item (the fields of ``pos_app.core.mall.MallItem``)."""

    __tablename__ = "mall_items"
    __feed_topic__ = "mall_item"
    __feed_ignore__ = frozenset(
        {
            "updated_at",
            "price_changed_at",
            "float_floor",
            "float_ceiling",
            "float_step",
            "float_interval_minutes",
            "float_target",
        }
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    points_price: Mapped[int] = mapped_column(BigInteger)
    cash_price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    stock: Mapped[int | None] = mapped_column(BigInteger)
    min_tier: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(8), default="middle")
    category: Mapped[str] = mapped_column(String(32), default="")
    brand: Mapped[str] = mapped_column(String(64), default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    discount_percent: Mapped[int] = mapped_column(Integer, default=0)
    discount_from: Mapped[dt.datetime | None]
    discount_to: Mapped[dt.datetime | None]
    available_from: Mapped[dt.datetime | None]
    available_to: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: HQ's front-page picks (JSON section -> position), kept from ``mall_featured`` by
    #: :func:`pos_app.hq.front.set_featured` so tills pull them with the item.
    featured: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    updated_at: Mapped[dt.datetime]
    # goods or lottery (HQ draws its lotteries: pos_app.hq.mall)
    kind: Mapped[str] = mapped_column(String(8), default="goods", server_default="goods")
    # +1 at every change of points_price (a quote names it: docs/mall.md)
    price_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    price_changed_at: Mapped[dt.datetime | None]
    # floating price bounds (all set, or none: a fixed price)
    float_floor: Mapped[int | None] = mapped_column(BigInteger)
    float_ceiling: Mapped[int | None] = mapped_column(BigInteger)
    float_step: Mapped[int | None] = mapped_column(BigInteger)
    float_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    float_target: Mapped[int | None] = mapped_column(Integer)


class MallPriceChange(Base):
    """Every points price an item had: version n is the price from ``changed_at`` until
    version n + 1's (append-only)."""

    __tablename__ = "mall_price_changes"
    item_id: Mapped[str] = mapped_column(ForeignKey("mall_items.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    points_price: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[dt.datetime]
    source: Mapped[str] = mapped_column(String(64))


class LotteryPrize(Base):
    """One line of a lottery item's prize catalogue (``pos_app.core.mall.Prize``)."""

    __tablename__ = "lottery_prizes"
    item_id: Mapped[str] = mapped_column(ForeignKey("mall_items.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_off_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    min_order_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    valid_days: Mapped[int] = mapped_column(Integer, default=30)


class LotteryDraw(Base):
    """The recorded draw of an HQ lottery: seed, entries digest, who drew it. Immutable."""

    __tablename__ = "lottery_draws"
    item_id: Mapped[str] = mapped_column(ForeignKey("mall_items.id"), primary_key=True)
    drawn_at: Mapped[dt.datetime]
    seed_hex: Mapped[str] = mapped_column(String(128))
    algorithm: Mapped[str] = mapped_column(String(32))
    entries: Mapped[int] = mapped_column(Integer)
    entries_digest: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))


class LotteryWinner(Base):
    """A winning entry and its prize's issue: ``issued_at`` and the ledger entry or
    coupon it became are set once, by the prize job."""

    __tablename__ = "lottery_winners"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("lottery_draws.item_id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[str] = mapped_column(String(ID_LEN + 8))
    member_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    prize_position: Mapped[int] = mapped_column(Integer)
    prize_kind: Mapped[str] = mapped_column(String(8))
    prize_name: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime | None]
    ledger_entry_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    coupon_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("item_id", "rank"),)


class Coupon(FeedMixin, Base):
    """A coupon; ``used_at``/``used_sale_id`` travel to every till once it is used."""

    __tablename__ = "coupons"
    __feed_topic__ = "coupon"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    amount_off_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    percent_off: Mapped[int] = mapped_column(Integer, default=0)
    min_order_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    valid_from: Mapped[dt.datetime]
    valid_to: Mapped[dt.datetime]
    issued_at: Mapped[dt.datetime]
    source: Mapped[str] = mapped_column(String(32), default="hq")
    used_at: Mapped[dt.datetime | None]
    used_sale_id: Mapped[str | None] = mapped_column(String(ID_LEN))


class MemberCodeKey(FeedMixin, Base):
    """A member-code signing key (Ed25519) and the validity window of what it signs.

    Tills pull the public half (topic ``member_code_key``); the private half never
    leaves HQ and is stored sealed (AES-256-GCM) under HQ's master key, which lives in a
    file outside the database (:mod:`pos_app.hq.keys`). A revoked key keeps no private
    half at all.

    Attributes:
        key_id: The id a code names (1-65534; 65535 is the embedded demo key).
        not_before: Codes issued before this are refused.
        not_after: Codes issued after this are refused (set when the key is rotated
            out); None: open-ended.
        sealed_private: nonce + AES-GCM ciphertext of the raw private key; None for a
            revoked key and for the demo key (whose private half is public knowledge).
    """

    __tablename__ = "member_code_keys"
    __feed_topic__ = "member_code_key"
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_private: Mapped[bytes | None] = mapped_column(LargeBinary)
    not_before: Mapped[dt.datetime]
    not_after: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("key_id BETWEEN 1 AND 65535", name="key_id_range"),)


class MemberCodeUse(Base):
    """A signed member code used once: scanned at an online till, or named by a sale.

    A second use anywhere is refused online (``POST /v1/member-codes/uses``) and flagged
    when an offline till's sale names it (``member_code_replayed``).
    """

    __tablename__ = "member_code_uses"
    nonce: Mapped[str] = mapped_column(String(16), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer)
    member_no: Mapped[int] = mapped_column(BigInteger)
    principal: Mapped[str] = mapped_column(String(64))
    sale_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    used_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]


# -- spending safely, review and replay -----------------------------------------------


class SpendHold(Base):
    """Points reserved online before a sale (authorise -> post -> settled, or void).

    ``status``: ``active`` (reserves until ``expires_at``), ``posted`` (reserves until
    the sale arrives), ``settled`` (the sale's spend entry took the points), ``voided``,
    ``expired``.
    """

    __tablename__ = "spend_holds"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    member_ref: Mapped[str] = mapped_column(String(ID_LEN))
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    principal: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    sale_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)
    posted_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]

    __table_args__ = (
        PrimaryKeyConstraint("member_id", "id"),
        CheckConstraint("points > 0", name="points_positive"),
        # A hold id is unique chain-wide: HQ checks it under the writer lock.
        Index("ix_spend_holds_id", "id"),
        by_member(),
    )


class FlaggedRecord(Base):
    """Something HQ accepted but a person should look at: overspend, clock skew, merges,
    a sale HQ computes differently..."""

    __tablename__ = "flagged_records"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    member_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)
    principal: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    subject_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]


class AdjustmentReview(Base):
    """A till's adjustment HQ holds for review instead of applying (a member outside the
    till's region, when the rule set says ``review``): an admin approves or rejects it.

    ``status``: ``held``, ``approved`` (its entries posted as the till's), ``rejected``
    (its entries posted and reversed by an HQ correction, so the till that holds them
    pulls the reversal and every ledger ends where it would have without them).
    """

    __tablename__ = "adjustment_reviews"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)  # the event id
    principal: Mapped[str] = mapped_column(String(64))
    store_code: Mapped[str | None] = mapped_column(String(16))
    till_id: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    why: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))


class AuditRecord(Base):
    """HQ's tamper-evident audit trail: every admin action and every refused till write.

    Each row's ``hash`` is SHA-256 over the previous row's hash and this row's canonical
    content (:mod:`pos_app.hq.audit`); ``seq`` has no gaps. A trigger refuses UPDATE and
    DELETE; if one is dropped and a row edited or deleted, ``pos-hq audit verify`` finds
    the broken link.
    """

    __tablename__ = "hq_audit"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str | None] = mapped_column(String(ID_LEN))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class TillAuditRow(Base):
    """A row of a till's own audit chain, as the till pushed it (the ``audit`` event).

    HQ keeps each till's chain and checks every row as it arrives against the row
    before it (:mod:`pos_app.hq.till_audit`): ``problem`` names what did not hold
    (``edited``, ``missing``, ``relinked``, ``rewritten``) and the row is flagged for
    review. Rows are never changed once stored.
    """

    __tablename__ = "till_audit"
    till_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    row_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[str] = mapped_column(String(40))  # as the till hashed it
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime]
    problem: Mapped[str | None] = mapped_column(String(16))


class IdempotencyRecord(Base):
    """The first answer to a request id, and the hash of the payload it came with."""

    __tablename__ = "idempotency_records"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]


# -- reaching members (docs/notifications.md) ------------------------------------------


class MemberConsent(Base):
    """A member's current consent (PIPL): marketing, the channels that may be used, and
    whether they asked for a notice of points earned. No row: nothing is sent."""

    __tablename__ = "member_consents"
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    marketing: Mapped[bool] = mapped_column(Boolean)
    sms: Mapped[bool] = mapped_column(Boolean)
    wechat: Mapped[bool] = mapped_column(Boolean)
    email: Mapped[bool] = mapped_column(Boolean)
    notify_earned: Mapped[bool] = mapped_column(Boolean)
    stated_at: Mapped[dt.datetime]
    source: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime]

    __table_args__ = (by_member(),)


class ConsentRecord(Base):
    """Every consent a member stated or withdrew, when and through whom (append-only)."""

    __tablename__ = "consent_records"
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    marketing: Mapped[bool] = mapped_column(Boolean)
    channels: Mapped[str] = mapped_column(String(32))
    notify_earned: Mapped[bool] = mapped_column(Boolean)
    stated_at: Mapped[dt.datetime]
    source: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime]

    __table_args__ = (by_member(),)


class MemberContact(Base):
    """Where a member is reached on a channel (phone, e-mail, WeChat openid), sealed
    under HQ's master key; only the masked form is readable in the database."""

    __tablename__ = "member_contacts"
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    address_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    address_masked: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime]

    __table_args__ = (by_member(),)


class Notification(Base):
    """One message to one member on one channel: written once per (member, kind,
    period, channel), then sent at most once.

    ``status``: ``pending`` (due at ``next_attempt_at``), ``sending`` (claimed; a row
    left so by a crash becomes ``unknown``, never sent again), ``sent``, ``failed``
    (provider errors, retries used up), ``rejected`` (the provider refused the
    template), ``withdrawn`` (consent gone before it left), ``expired`` (not sent within
    two days of planning), ``unknown``.
    """

    __tablename__ = "notifications"
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    period: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8))
    marketing: Mapped[bool] = mapped_column(Boolean)
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime]
    next_attempt_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("member_id", "kind", "period", "channel"),
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_notifications_member_time", "member_id", "created_at"),
        by_member(),
    )


class MallFeatured(Base):
    """An item HQ puts on the mall's front page, in a section at a position."""

    __tablename__ = "mall_featured"
    section: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("mall_items.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime]


FEED_MODELS: tuple[type[Any], ...] = (
    Member,
    LedgerEntry,
    RuleSetVersion,
    Product,
    MallItem,
    Coupon,
    MemberCodeKey,
)
