"""The HQ console: operators and their sessions, rule drafts, flag decisions, and the
summaries the dashboard reads.

Revision ID: 0010_console
Revises: 0006
Create Date: 2026-12-04

* ``console_operators``, ``console_sessions``: who signs in to the console (argon2
  password hashes; sessions kept as SHA-256 of the cookie's token, with a CSRF token
  and an expiry).
* ``console_rule_drafts``: rule set documents being edited.
* ``console_flag_decisions``: an operator's approval or reversal of a flagged record.
* ``console_points_daily``, ``console_points_store_daily``, ``console_snapshots``,
  ``console_mall_totals``, ``console_summary_state``: summaries maintained by
  ``pos-hq run-jobs`` (``pos_app.hq.console.summaries``).

Self-contained: it only adds tables (one foreign key to ``flagged_records``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_console"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _operators() -> None:
    op.create_table(
        "console_operators",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.CheckConstraint(
            "role IN ('viewer', 'marketing', 'finance', 'admin')",
            name=op.f("ck_console_operators_role_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_operators")),
        sa.UniqueConstraint("username", name=op.f("uq_console_operators_username")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["console_operators.id"],
            name=op.f("fk_console_sessions_operator_id_console_operators"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        op.f("ix_console_sessions_operator_id"), "console_sessions", ["operator_id"], unique=False
    )


def _work() -> None:
    op.create_table(
        "console_rule_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("published_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_rule_drafts")),
    )
    op.create_table(
        "console_flag_decisions",
        sa.Column("flag_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.CheckConstraint(
            "decision IN ('approved', 'reversed')",
            name=op.f("ck_console_flag_decisions_decision_known"),
        ),
        sa.ForeignKeyConstraint(
            ["flag_id"],
            ["flagged_records.id"],
            name=op.f("fk_console_flag_decisions_flag_id_flagged_records"),
        ),
        sa.PrimaryKeyConstraint("flag_id", name=op.f("pk_console_flag_decisions")),
    )


def _summaries() -> None:
    op.create_table(
        "console_points_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind", name=op.f("pk_console_points_daily")),
    )
    op.create_table(
        "console_points_store_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "store", "kind", name=op.f("pk_console_points_store_daily")),
    )
    op.create_table(
        "console_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", "key", name=op.f("pk_console_snapshots")),
    )
    op.create_table(
        "console_mall_totals",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("redemptions", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_console_mall_totals")),
    )
    op.create_table(
        "console_summary_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_console_summary_state")),
    )


def upgrade() -> None:
    _operators()
    _work()
    _summaries()


def downgrade() -> None:
    for table in (
        "console_summary_state",
        "console_mall_totals",
        "console_snapshots",
        "console_points_store_daily",
        "console_points_daily",
        "console_flag_decisions",
        "console_rule_drafts",
    ):
        op.drop_table(table)
    op.drop_index(op.f("ix_console_sessions_operator_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_operators")
