"""Indexes for the hot paths of push and pull at a chain's size.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

* ``members.alias_of``: every event asks for a member's aliases (a sequential scan of
  ``members`` per event before: 608 million rows read in 150 s at 200,000 members).
* ``ledger_entries (member_id, created_at)`` and ``sales (member_id, created_at)``
  replace the single-column member indexes: the re-quote reads a member's purchases of
  the day and the tier check those of the window, by member and time.
* ``lots.entry_id``: a refund finds the lots its sale's earn entry opened.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_members_alias_of",
        "members",
        ["alias_of"],
        postgresql_where=sa.text("alias_of IS NOT NULL"),
        sqlite_where=sa.text("alias_of IS NOT NULL"),
    )
    op.drop_index("ix_ledger_entries_member_id", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_member_time", "ledger_entries", ["member_id", "created_at"])
    op.drop_index("ix_sales_member_id", table_name="sales")
    op.create_index("ix_sales_member_time", "sales", ["member_id", "created_at"])
    op.create_index("ix_lots_entry_id", "lots", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_lots_entry_id", table_name="lots")
    op.drop_index("ix_sales_member_time", table_name="sales")
    op.create_index("ix_sales_member_id", "sales", ["member_id"])
    op.drop_index("ix_ledger_entries_member_time", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_member_id", "ledger_entries", ["member_id"])
    op.drop_index("ix_members_alias_of", table_name="members")
