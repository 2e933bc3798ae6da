"""The membership-anniversary notice finds the bonuses HQ's job posted by time.

Revision ID: 0060_reach_more
Revises: 0050_ingest
Create Date: 2026-12-05

* ``ix_ledger_entries_anniversary``: ``ledger_entries (created_at)`` for the job's
  anniversary bonuses only (``kind = 'bonus' AND reason = 'anniversary'``, one row per
  member and year): the notification job reads the last two days' bonuses through it
  instead of scanning the ledger (docs/notifications.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0060_reach_more"
down_revision = "0050_ingest"
branch_labels = None
depends_on = None

WHERE = "kind = 'bonus' AND reason = 'anniversary'"


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_anniversary",
        "ledger_entries",
        ["created_at"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_anniversary", table_name="ledger_entries")
