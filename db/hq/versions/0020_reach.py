"""Reaching members: consent (PIPL), contact addresses, the notification outbox.

Revision ID: 0020_reach
Revises: 0010_console
Create Date: 2026-12-04

* ``member_consents``: each member's current consent (marketing, channels, points-earned
  notices), stated when and through whom; no row, no message.
* ``consent_records``: every consent stated or withdrawn (append-only; UPDATE and DELETE
  refused on PostgreSQL).
* ``member_contacts``: a member's address per channel, sealed under HQ's master key.
* ``notifications``: one row per (member, kind, period, channel), the unique key that
  makes the notification job idempotent, with its delivery state.
* ``ix_sales_created_at``: the job reads the last day's sales by time.
* ``mall_featured``: what HQ puts on the mall's front page, per section and position.

All four are member-owned and hash-partitioned by member id on PostgreSQL like
``members`` (16 partitions); the SQLite demo keeps plain tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020_reach"
down_revision = "0010_console"
branch_labels = None
depends_on = None

PARTITIONS = 16
TZ = sa.DateTime(timezone=True)
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TABLES = ("member_consents", "consent_records", "member_contacts", "notifications")


def _pg() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _by_member() -> dict[str, str]:
    return {"postgresql_partition_by": "HASH (member_id)"} if _pg() else {}


def _partitions(table: str) -> None:
    if not _pg():
        return
    for n in range(PARTITIONS):
        op.execute(
            f'CREATE TABLE "{table}_p{n:02d}" PARTITION OF "{table}" '
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
        )


def _consents() -> None:
    op.create_table(
        "member_consents",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("wechat", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("notify_earned", sa.Boolean(), nullable=False),
        sa.Column("stated_at", TZ, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_member_consents"),
        **_by_member(),
    )
    op.create_table(
        "consent_records",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("channels", sa.String(length=32), nullable=False),
        sa.Column("notify_earned", sa.Boolean(), nullable=False),
        sa.Column("stated_at", TZ, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "id", name="pk_consent_records"),
        **_by_member(),
    )
    op.create_table(
        "member_contacts",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("address_masked", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "channel", name="pk_member_contacts"),
        **_by_member(),
    )


def _notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("params", JSONDOC, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("member_id", "id", name="pk_notifications"),
        sa.UniqueConstraint(
            "member_id", "kind", "period", "channel", name="uq_notifications_member_id"
        ),
        **_by_member(),
    )
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
        sqlite_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index("ix_notifications_member_time", "notifications", ["member_id", "created_at"])


def _featured() -> None:
    op.create_table(
        "mall_featured",
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["mall_items.id"], name="fk_mall_featured_item_id_mall_items"
        ),
        sa.PrimaryKeyConstraint("section", "item_id", name="pk_mall_featured"),
    )


def upgrade() -> None:
    op.create_index("ix_sales_created_at", "sales", ["created_at"])
    _featured()
    _consents()
    _notifications()
    for table in TABLES:
        _partitions(table)
    if _pg():
        # hq_immutable() is 0001's: it raises "<table> is immutable"
        op.execute(
            "CREATE TRIGGER trg_consent_records_immutable BEFORE UPDATE OR DELETE ON "
            "consent_records FOR EACH ROW EXECUTE FUNCTION hq_immutable()"
        )


def downgrade() -> None:
    if _pg():
        op.execute("DROP TRIGGER IF EXISTS trg_consent_records_immutable ON consent_records")
    op.drop_index("ix_notifications_member_time", table_name="notifications")
    op.drop_index("ix_notifications_due", table_name="notifications")
    for table in reversed(TABLES):
        op.drop_table(table)
    op.drop_table("mall_featured")
    op.drop_index("ix_sales_created_at", table_name="sales")
