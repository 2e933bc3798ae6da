"""Refunds: record the earned points a refund did not take back because they expired.

A refund takes back the points the refunded part earned, but never points that already
expired from the lot the sale opened: the expiry took them once. The refund row keeps
how many it left for that reason, so a retried refund answers with the same figures and
the refund receipt can say so.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 02:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of the table would drop its immutability triggers.
    op.add_column(
        "refunds",
        sa.Column("points_expired", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("refunds", "points_expired")
