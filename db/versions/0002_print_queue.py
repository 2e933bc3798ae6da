"""Print queue: receipt print jobs and the receipt printer's settings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:12:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column("printed_at", sa.String(length=32), nullable=True),
        sa.Column("reprint", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('sale', 'refund', 'test')", name=op.f("ck_print_jobs_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed')", name=op.f("ck_print_jobs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_print_jobs_pending",
            ["id"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index("ix_print_jobs_ref", ["ref_id"], unique=False)

    op.create_table(
        "printer_settings",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("chinese_mode", sa.Boolean(), nullable=False),
        sa.Column("qr_mode", sa.String(length=8), nullable=False),
        sa.Column("cut", sa.Boolean(), nullable=False),
        sa.Column("drawer_kick", sa.Boolean(), nullable=False),
        sa.Column("receipt_code", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_printer_settings")),
    )


def downgrade() -> None:
    op.drop_table("printer_settings")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_print_jobs_ref")
        batch_op.drop_index("ix_print_jobs_pending", sqlite_where=sa.text("status = 'pending'"))

    op.drop_table("print_jobs")
