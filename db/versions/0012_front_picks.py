"""Mall items: HQ's picks for the front page (F11), as pulled with the item.

``featured`` holds the sections HQ features the item in and its position in each (JSON
``{"hot": 0, "value": 2}``, ``{}`` for none); the till's front page orders them with
``pos_app.core.front.front_page`` as HQ's channel API does.

Revision ID: 0012_front_picks
Revises: 0011
Create Date: 2026-12-04 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_front_picks"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "mall_items", sa.Column("featured", sa.Text(), nullable=False, server_default="{}")
    )


def downgrade() -> None:
    with op.batch_alter_table("mall_items") as batch:
        batch.drop_column("featured")
