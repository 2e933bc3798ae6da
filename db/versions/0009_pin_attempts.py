"""Wrong PINs in a row, per user and per till (escalating delay and lockout).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pin_attempts",
        sa.Column("scope", sa.String(48), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.String(length=32), nullable=True),
        sa.Column("blocked_until", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_pin_attempts")),
    )


def downgrade() -> None:
    op.drop_table("pin_attempts")
