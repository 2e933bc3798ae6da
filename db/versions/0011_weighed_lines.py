"""Sale lines: the weight and the price per kilogram of a line rung up from a scale label.

A weighed line (称重码) is one item whose unit price is what the weight cost; the weight
and the price per kilogram are kept to show on the line, the receipt and the refund.
Both are NULL on every other line.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuild of the table would drop its immutability triggers.
    op.add_column("sale_lines", sa.Column("weight_g", sa.Integer(), nullable=True))
    op.add_column("sale_lines", sa.Column("price_per_kg_fen", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("sale_lines", "price_per_kg_fen")
    op.drop_column("sale_lines", "weight_g")
