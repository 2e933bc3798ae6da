"""Trust: member-code signing keys and code uses, store managers, adjustment reviews,
and the hash-chained audit trail.

Revision ID: 0003_trust
Revises: 0002
Create Date: 2026-12-08

* ``member_code_keys``: HQ's Ed25519 member-code keys (tills pull the public half,
  topic ``member_code_key``; the private half is sealed under a master key kept outside
  the database).
* ``member_code_uses``: each signed member code used once, online or named by a sale.
* ``store_managers``: who may approve a till's adjustment, per store.
* ``adjustment_reviews``: till adjustments held for an admin's review.
* ``hq_audit``: admin actions and refused till writes, each row chained to the one
  before by a SHA-256; UPDATE, DELETE and TRUNCATE are refused by triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_trust"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
AUDIT = "hq_audit"


def _protect_audit() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # hq_immutable() is 0001's: it raises "<table> is immutable"
        op.execute(
            f"CREATE TRIGGER trg_{AUDIT}_immutable BEFORE UPDATE OR DELETE ON {AUDIT} "
            "FOR EACH ROW EXECUTE FUNCTION hq_immutable()"
        )
        op.execute(
            f"CREATE TRIGGER trg_{AUDIT}_no_truncate BEFORE TRUNCATE ON {AUDIT} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hq_immutable()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER trg_{AUDIT}_no_{action.lower()} BEFORE {action} ON {AUDIT} "
            f"BEGIN SELECT RAISE(ABORT, '{AUDIT} is immutable: write a new row instead'); END"
        )


def _unprotect_audit() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS trg_{AUDIT}_immutable ON {AUDIT}")
        op.execute(f"DROP TRIGGER IF EXISTS trg_{AUDIT}_no_truncate ON {AUDIT}")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS trg_{AUDIT}_no_{action}")


def upgrade() -> None:
    op.create_table(
        "member_code_keys",
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=True),
        sa.Column("not_before", TZ, nullable=False),
        sa.Column("not_after", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "key_id BETWEEN 1 AND 65535", name=op.f("ck_member_code_keys_key_id_range")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_member_code_keys")),
        sa.UniqueConstraint("seq", name=op.f("uq_member_code_keys_seq")),
    )
    op.create_table(
        "member_code_uses",
        sa.Column("nonce", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("member_no", sa.BigInteger(), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.Column("used_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_member_code_uses")),
    )
    op.create_table(
        "store_managers",
        sa.Column("store_code", sa.String(length=16), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["store_code"], ["stores.code"], name=op.f("fk_store_managers_store_code_stores")
        ),
        sa.PrimaryKeyConstraint("store_code", "manager_id", name=op.f("pk_store_managers")),
    )
    op.create_table(
        "adjustment_reviews",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("store_code", sa.String(length=16), nullable=True),
        sa.Column("till_id", sa.String(length=40), nullable=True),
        sa.Column("payload", JSONDOC, nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustment_reviews")),
    )
    op.create_index(
        op.f("ix_adjustment_reviews_status"), "adjustment_reviews", ["status"], unique=False
    )
    op.create_table(
        AUDIT,
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("detail", JSONDOC, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_hq_audit")),
        sa.UniqueConstraint("hash", name=op.f("uq_hq_audit_hash")),
    )
    _protect_audit()


def downgrade() -> None:
    _unprotect_audit()
    op.drop_table(AUDIT)
    op.drop_index(op.f("ix_adjustment_reviews_status"), table_name="adjustment_reviews")
    op.drop_table("adjustment_reviews")
    op.drop_table("store_managers")
    op.drop_table("member_code_uses")
    op.drop_table("member_code_keys")
