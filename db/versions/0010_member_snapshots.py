"""Members: the change number of the snapshot HQ last sent of each (scoped pull).

A till receives a member whole (a snapshot: its row, open lots, coupons and balance as
of one of HQ's change numbers) when the member enters the till's region, when the till
fetches it on demand, and at the till's first sync. ``snapshot_seq`` keeps that number:
a pulled entry of the member numbered at or below it is already in the snapshot's
balance and is skipped. NULL for a member the till has followed entry by entry.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild: instant on a million members).
    op.add_column("members", sa.Column("snapshot_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("snapshot_seq")
