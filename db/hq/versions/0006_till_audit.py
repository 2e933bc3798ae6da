"""Tills' audit chains at HQ: ``till_audit`` holds each till's pushed audit rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Rows are immutable, as ``hq_audit``'s: a trigger refuses UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
TABLE = "till_audit"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("till_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("row_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("problem", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("till_id", "seq", name=op.f("pk_till_audit")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # hq_immutable() is 0001's: it raises "<table> is immutable"
        op.execute(
            f"CREATE TRIGGER trg_{TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION hq_immutable()"
        )
        op.execute(
            f"CREATE TRIGGER trg_{TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hq_immutable()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER trg_{TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is immutable: write a new row instead'); END"
        )


def downgrade() -> None:
    op.drop_table(TABLE)
