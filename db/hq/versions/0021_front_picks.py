"""HQ's picks for the mall's front page travel to tills with the mall items.

Revision ID: 0021_front_picks
Revises: 0020_reach
Create Date: 2026-12-04

* ``mall_items.featured``: the sections HQ features the item in and its position in each
  (JSON ``{"hot": 0, "value": 2}``), kept by ``pos_app.hq.front.set_featured`` from
  ``mall_featured``; a change re-publishes the item in the pull feed, so every till's
  front page (F11) shows HQ's picks as the channel API does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_front_picks"
down_revision = "0020_reach"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "mall_items", sa.Column("featured", sa.Text(), nullable=False, server_default="{}")
    )


def downgrade() -> None:
    op.drop_column("mall_items", "featured")
