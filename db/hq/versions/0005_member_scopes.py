"""Scoped pull: stores get a region; ``member_scopes`` says which members a region's tills
hold; coupons are found by member.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

A store's region starts as its own code. Members HQ already holds are put in the scope
of the region of the store that registered them and of every store that sold to them,
with ``seq`` 0: every till that pulled before this revision holds them already (a till
pulled the whole chain then), so they do not enter any feed again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("stores", sa.Column("region", sa.String(length=16), nullable=True))
    op.execute("UPDATE stores SET region = code")
    with op.batch_alter_table("stores") as batch:
        batch.alter_column("region", existing_type=sa.String(length=16), nullable=False)
    op.create_table(
        "member_scopes",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_scopes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "region", name=op.f("pk_member_scopes")),
    )
    op.create_index("ix_member_scopes_region_seq", "member_scopes", ["region", "seq"])
    op.create_index("ix_member_scopes_region_member", "member_scopes", ["region", "member_id"])
    op.create_index(op.f("ix_coupons_member_id"), "coupons", ["member_id"], unique=False)
    op.execute(
        "INSERT INTO member_scopes (member_id, region, seq, reason, added_at) "
        "SELECT m.id, st.region, 0, 'registered', m.received_at FROM members m "
        "JOIN stores st ON st.code = m.registered_store"
    )
    op.execute(
        "INSERT INTO member_scopes (member_id, region, seq, reason, added_at) "
        "SELECT s.member_id, st.region, 0, 'seen', MIN(s.received_at) FROM sales s "
        "JOIN stores st ON st.code = s.store_code WHERE s.member_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM member_scopes sc "
        "                WHERE sc.member_id = s.member_id AND sc.region = st.region) "
        "GROUP BY s.member_id, st.region"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_coupons_member_id"), table_name="coupons")
    op.drop_index("ix_member_scopes_region_member", table_name="member_scopes")
    op.drop_index("ix_member_scopes_region_seq", table_name="member_scopes")
    op.drop_table("member_scopes")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("region")
