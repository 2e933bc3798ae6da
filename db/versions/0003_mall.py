"""Points mall at the counter, signed member codes, manager views.

* ``member_code_uses``: the replay cache of signed dynamic member codes;
* ``mall_items`` gains what a redemption hands over (goods, coupon, lottery entry), a
  per-member limit, the "new" flag, the coupon template and the lottery's winner count;
* ``mall_redemptions``, ``lottery_entries``, ``lottery_draws``, ``shift_closes``
  (immutable, like the ledger);
* indexes the manager views need on a million members: members by tier (with the
  balance, index-only), open lots by expiry date, ledger entries and refunds by time,
  refund tenders.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

IMMUTABLE_TABLES = ("mall_redemptions", "lottery_entries", "lottery_draws", "shift_closes")


def _create_triggers() -> None:
    for table in IMMUTABLE_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_{table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are immutable: write a correction'); END"
            )


def _drop_triggers() -> None:
    for table in IMMUTABLE_TABLES:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_{action}")


def upgrade() -> None:
    op.create_table(
        "lottery_draws",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("drawn_at", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("seed_hex", sa.String(length=64), nullable=False),
        sa.Column("entries_count", sa.Integer(), nullable=False),
        sa.Column("entries_digest", sa.String(length=64), nullable=False),
        sa.Column("winners", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_draws")),
        sa.UniqueConstraint("item_id", name=op.f("uq_lottery_draws_item_id")),
    )
    op.create_table(
        "member_code_uses",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("member_no", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_member_code_uses")),
    )
    with op.batch_alter_table("member_code_uses", schema=None) as batch_op:
        batch_op.create_index("ix_member_code_uses_expires", ["expires_at"], unique=False)

    op.create_table(
        "shift_closes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("till_id", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.String(length=32), nullable=False),
        sa.Column("closed_at", sa.String(length=32), nullable=False),
        sa.Column("closed_by", sa.String(length=32), nullable=False),
        sa.Column("float_fen", sa.Integer(), nullable=False),
        sa.Column("cash_sales_fen", sa.Integer(), nullable=False),
        sa.Column("cash_refunds_fen", sa.Integer(), nullable=False),
        sa.Column("cash_mall_fen", sa.Integer(), nullable=False),
        sa.Column("expected_fen", sa.Integer(), nullable=False),
        sa.Column("counted_fen", sa.Integer(), nullable=False),
        sa.Column("difference_fen", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_closes")),
    )
    with op.batch_alter_table("shift_closes", schema=None) as batch_op:
        batch_op.create_index("ix_shift_closes_time", ["closed_at"], unique=False)

    op.create_table(
        "mall_redemptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("item_name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_points", sa.Integer(), nullable=False),
        sa.Column("regular_points", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("unit_cash_fen", sa.Integer(), nullable=False),
        sa.Column("cash_fen", sa.Integer(), nullable=False),
        sa.Column("cash_method", sa.String(length=16), nullable=True),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("store_id", sa.String(length=16), nullable=False),
        sa.Column("till_id", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('goods', 'coupon', 'lottery')", name=op.f("ck_mall_redemptions_kind")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_mall_redemptions_quantity")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_mall_redemptions_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_mall_redemptions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mall_redemptions")),
    )
    with op.batch_alter_table("mall_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mall_redemptions_member_item", ["member_id", "item_id"], unique=False
        )
        batch_op.create_index("ix_mall_redemptions_time", ["created_at"], unique=False)

    op.create_table(
        "lottery_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("redemption_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_lottery_entries_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["mall_redemptions.id"],
            name=op.f("fk_lottery_entries_redemption_id_mall_redemptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_entries")),
    )
    with op.batch_alter_table("lottery_entries", schema=None) as batch_op:
        batch_op.create_index("ix_lottery_entries_item", ["item_id"], unique=False)

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_time", ["created_at"], unique=False)

    with op.batch_alter_table("mall_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="goods", nullable=False)
        )
        batch_op.add_column(sa.Column("per_member_limit", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("is_new", sa.Boolean(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("coupon_amount_off_fen", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("coupon_percent_off", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("coupon_min_order_fen", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("coupon_valid_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(
            sa.Column("lottery_winners", sa.Integer(), server_default="1", nullable=False)
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index("ix_members_tier_balance", ["tier", "balance"], unique=False)

    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_point_lots_expiring",
            ["expires_on", "member_id", "remaining"],
            unique=False,
            sqlite_where=sa.text("remaining > 0"),
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index("ix_refunds_time", ["created_at"], unique=False)

    with op.batch_alter_table("tenders", schema=None) as batch_op:
        batch_op.create_index("ix_tenders_refund", ["refund_id"], unique=False)

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("tenders", schema=None) as batch_op:
        batch_op.drop_index("ix_tenders_refund")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_time")

    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_expiring", sqlite_where=sa.text("remaining > 0"))

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_tier_balance")

    with op.batch_alter_table("mall_items", schema=None) as batch_op:
        batch_op.drop_column("lottery_winners")
        batch_op.drop_column("coupon_valid_days")
        batch_op.drop_column("coupon_min_order_fen")
        batch_op.drop_column("coupon_percent_off")
        batch_op.drop_column("coupon_amount_off_fen")
        batch_op.drop_column("is_new")
        batch_op.drop_column("per_member_limit")
        batch_op.drop_column("kind")

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_time")

    with op.batch_alter_table("lottery_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_lottery_entries_item")

    op.drop_table("lottery_entries")
    with op.batch_alter_table("mall_redemptions", schema=None) as batch_op:
        batch_op.drop_index("ix_mall_redemptions_time")
        batch_op.drop_index("ix_mall_redemptions_member_item")

    op.drop_table("mall_redemptions")
    with op.batch_alter_table("shift_closes", schema=None) as batch_op:
        batch_op.drop_index("ix_shift_closes_time")

    op.drop_table("shift_closes")
    with op.batch_alter_table("member_code_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_member_code_uses_expires")

    op.drop_table("member_code_uses")
    op.drop_table("lottery_draws")
