"""The console, more: tier history and moves, daily activity for a campaign's effect,
rule sets scheduled for later.

Revision ID: 0040_console_more
Revises: 0030_mall_prizes
Create Date: 2026-12-04

* ``console_member_tiers``: each member's tier as the summaries last saw it (none for
  an alias); ``console_tier_history``: every change the summaries saw (joined, moved,
  merged away), numbered by the member row's change number; ``console_tier_daily``:
  those changes counted per store-local day, from tier and to tier ('' for none).
* ``console_member_days``: which members had an ``earn`` or ``spend`` entry on which
  store-local day; ``console_activity_daily``: per day, those members and the sales
  that moved points (count and amount).
* ``console_rule_schedules``: a rule set document to publish at a given time
  (``pos-hq run-jobs`` publishes it when due), or cancelled.

Self-contained: it only adds tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_console_more"
down_revision = "0030_mall_prizes"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
ID = sa.String(length=64)


def _tiers() -> None:
    op.create_table(
        "console_member_tiers",
        sa.Column("member_id", ID, nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_console_member_tiers")),
    )
    op.create_table(
        "console_tier_history",
        sa.Column("member_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("from_tier", sa.String(length=16), nullable=True),
        sa.Column("to_tier", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("member_id", "seq", name=op.f("pk_console_tier_history")),
    )
    op.create_index(
        op.f("ix_console_tier_history_seq"), "console_tier_history", ["seq"], unique=False
    )
    op.create_table(
        "console_tier_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_tier", sa.String(length=16), nullable=False),
        sa.Column("to_tier", sa.String(length=16), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "from_tier", "to_tier", name=op.f("pk_console_tier_daily")),
    )


def _activity() -> None:
    op.create_table(
        "console_member_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("day", "member_id", name=op.f("pk_console_member_days")),
    )
    op.create_table(
        "console_activity_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("sales_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_console_activity_daily")),
    )


def _schedules() -> None:
    op.create_table(
        "console_rule_schedules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("draft_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("publish_at", TZ, nullable=False),
        sa.Column("activate", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("done_at", TZ, nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'published', 'cancelled', 'failed')",
            name=op.f("ck_console_rule_schedules_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_rule_schedules")),
    )
    op.create_index(
        op.f("ix_console_rule_schedules_status_publish_at"),
        "console_rule_schedules",
        ["status", "publish_at"],
        unique=False,
    )


def upgrade() -> None:
    _tiers()
    _activity()
    _schedules()


def downgrade() -> None:
    op.drop_index(
        op.f("ix_console_rule_schedules_status_publish_at"), table_name="console_rule_schedules"
    )
    op.drop_index(op.f("ix_console_tier_history_seq"), table_name="console_tier_history")
    for table in (
        "console_rule_schedules",
        "console_activity_daily",
        "console_member_days",
        "console_tier_daily",
        "console_tier_history",
        "console_member_tiers",
    ):
        op.drop_table(table)
