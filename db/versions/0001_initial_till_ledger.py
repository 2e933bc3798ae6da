"""Initial till ledger: members, lots, immutable ledger, sales, refunds, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 23:05:48.338103
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


IMMUTABLE_TABLES = (
    "ledger_entries",
    "lot_moves",
    "sales",
    "sale_lines",
    "tenders",
    "refunds",
    "refund_lines",
    "coupon_uses",
    "audit_log",
)


def _create_triggers() -> None:
    for table in IMMUTABLE_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_{table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are immutable: write a correction'); END"
            )
    op.execute(
        "CREATE TRIGGER trg_refund_lines_not_over BEFORE INSERT ON refund_lines "
        "WHEN (SELECT COALESCE(SUM(quantity), 0) FROM refund_lines "
        "      WHERE sale_line_id = NEW.sale_line_id) + NEW.quantity > "
        "     (SELECT quantity FROM sale_lines WHERE id = NEW.sale_line_id) "
        "BEGIN SELECT RAISE(ABORT, 'refund exceeds the quantity sold'); END"
    )
    op.execute(
        "CREATE TRIGGER trg_ledger_points_nonzero BEFORE INSERT ON ledger_entries "
        "WHEN NEW.points = 0 BEGIN SELECT RAISE(ABORT, 'a ledger entry moves points'); END"
    )


def _drop_triggers() -> None:
    for table in IMMUTABLE_TABLES:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_{action}")
    op.execute("DROP TRIGGER IF EXISTS trg_refund_lines_not_over")
    op.execute("DROP TRIGGER IF EXISTS trg_ledger_points_nonzero")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "mall_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("points_price", sa.Integer(), nullable=False),
        sa.Column("cash_price_fen", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("min_tier", sa.String(length=16), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("discount_from", sa.String(length=32), nullable=True),
        sa.Column("discount_to", sa.String(length=32), nullable=True),
        sa.Column("available_from", sa.String(length=32), nullable=True),
        sa.Column("available_to", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mall_items")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("member_no", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("phone_last4", sa.String(length=4), nullable=False),
        sa.Column("phone_masked", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("tier_since", sa.String(length=32), nullable=False),
        sa.Column("last_review", sa.Date(), nullable=True),
        sa.Column("referral_code", sa.String(length=16), nullable=False),
        sa.Column("referred_by", sa.String(length=32), nullable=True),
        sa.Column("registered_at", sa.String(length=32), nullable=False),
        sa.Column("registered_store", sa.String(length=16), nullable=False),
        sa.Column("first_purchase_at", sa.String(length=32), nullable=True),
        sa.Column("birthday_gift_year", sa.Integer(), nullable=True),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["referred_by"], ["members.id"], name=op.f("fk_members_referred_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("member_no", name=op.f("uq_members_member_no")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_members_phone_hash")),
        sa.UniqueConstraint("referral_code", name=op.f("uq_members_referral_code")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_members_last4_seen", ["phone_last4", "last_seen_at"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("aggregate_id", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_pending", ["seq"], unique=False, sqlite_where=sa.text("sent_at IS NULL")
        )

    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("member_price_fen", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
        sa.UniqueConstraint("barcode", name=op.f("uq_products_barcode")),
    )
    op.create_table(
        "receipt_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind", name=op.f("pk_receipt_counters")),
    )
    op.create_table(
        "rule_sets",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rule_sets")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("amount_off_fen", sa.Integer(), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=False),
        sa.Column("min_order_fen", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.String(length=32), nullable=False),
        sa.Column("valid_to", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_coupons_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_table(
        "point_lots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("earned_at", sa.String(length=32), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_point_lots_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_lots")),
    )
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_point_lots_open",
            ["member_id", "expires_on"],
            unique=False,
            sqlite_where=sa.text("remaining > 0"),
        )

    op.create_table(
        "sales",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("receipt_no", sa.String(length=24), nullable=False),
        sa.Column("store_id", sa.String(length=16), nullable=False),
        sa.Column("till_id", sa.String(length=16), nullable=False),
        sa.Column("cashier_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("subtotal_fen", sa.Integer(), nullable=False),
        sa.Column("line_discount_fen", sa.Integer(), nullable=False),
        sa.Column("coupon_fen", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("points_used", sa.Integer(), nullable=False),
        sa.Column("points_value_fen", sa.Integer(), nullable=False),
        sa.Column("cash_due_fen", sa.Integer(), nullable=False),
        sa.Column("points_earned", sa.Integer(), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("rule_set_version", sa.String(length=64), nullable=False),
        sa.Column("quote_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sales_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
        sa.UniqueConstraint("receipt_no", name=op.f("uq_sales_receipt_no")),
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index("ix_sales_member_time", ["member_id", "created_at"], unique=False)
        batch_op.create_index("ix_sales_time", ["created_at"], unique=False)

    op.create_table(
        "coupon_uses",
        sa.Column("coupon_id", sa.String(length=32), nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_uses_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_coupon_uses_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("coupon_id", name=op.f("pk_coupon_uses")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("refund_no", sa.String(length=24), nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("cashier_id", sa.String(length=32), nullable=False),
        sa.Column("approved_by", sa.String(length=32), nullable=False),
        sa.Column("gross_cash_fen", sa.Integer(), nullable=False),
        sa.Column("cash_refund_fen", sa.Integer(), nullable=False),
        sa.Column("cash_deducted_fen", sa.Integer(), nullable=False),
        sa.Column("points_reversed", sa.Integer(), nullable=False),
        sa.Column("points_restored", sa.Integer(), nullable=False),
        sa.Column("debt_points", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], name=op.f("fk_refunds_sale_id_sales")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("refund_no", name=op.f("uq_refunds_refund_no")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index("ix_refunds_sale", ["sale_id"], unique=False)

    op.create_table(
        "sale_lines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("line_discount_fen", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=False),
        sa.Column("coupon_fen", sa.Integer(), nullable=False),
        sa.Column("points_used", sa.Integer(), nullable=False),
        sa.Column("points_value_fen", sa.Integer(), nullable=False),
        sa.Column("cash_fen", sa.Integer(), nullable=False),
        sa.Column("earn_points", sa.Integer(), nullable=False),
        sa.Column("is_reward", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_sale_lines_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_lines")),
        sa.UniqueConstraint("sale_id", "line_no", name=op.f("uq_sale_lines_sale_id")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=True),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("rule_set_version", sa.String(length=64), nullable=True),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_ledger_entries_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_ledger_entries_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_ledger_entries_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_member_time", ["member_id", "created_at"], unique=False)
        batch_op.create_index("ix_ledger_sale", ["sale_id"], unique=False)

    op.create_table(
        "refund_lines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("refund_id", sa.String(length=32), nullable=False),
        sa.Column("sale_line_id", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("cash_fen", sa.Integer(), nullable=False),
        sa.Column("points_reversed", sa.Integer(), nullable=False),
        sa.Column("points_restored", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_refund_lines_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(
            ["sale_line_id"],
            ["sale_lines.id"],
            name=op.f("fk_refund_lines_sale_line_id_sale_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_lines")),
    )
    with op.batch_alter_table("refund_lines", schema=None) as batch_op:
        batch_op.create_index("ix_refund_lines_sale_line", ["sale_line_id"], unique=False)

    op.create_table(
        "tenders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=True),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("received_fen", sa.Integer(), nullable=False),
        sa.Column("change_fen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_tenders_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], name=op.f("fk_tenders_sale_id_sales")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenders")),
    )
    with op.batch_alter_table("tenders", schema=None) as batch_op:
        batch_op.create_index("ix_tenders_sale", ["sale_id"], unique=False)

    op.create_table(
        "lot_moves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("lot_id", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_lot_moves_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["point_lots.id"], name=op.f("fk_lot_moves_lot_id_point_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_moves")),
    )
    with op.batch_alter_table("lot_moves", schema=None) as batch_op:
        batch_op.create_index("ix_lot_moves_entry", ["entry_id"], unique=False)
        batch_op.create_index("ix_lot_moves_lot", ["lot_id"], unique=False)
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("lot_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_moves_lot")
        batch_op.drop_index("ix_lot_moves_entry")

    op.drop_table("lot_moves")
    with op.batch_alter_table("tenders", schema=None) as batch_op:
        batch_op.drop_index("ix_tenders_sale")

    op.drop_table("tenders")
    with op.batch_alter_table("refund_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_lines_sale_line")

    op.drop_table("refund_lines")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_sale")
        batch_op.drop_index("ix_ledger_member_time")

    op.drop_table("ledger_entries")
    op.drop_table("sale_lines")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_sale")

    op.drop_table("refunds")
    op.drop_table("coupon_uses")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_time")
        batch_op.drop_index("ix_sales_member_time")

    op.drop_table("sales")
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_open", sqlite_where=sa.text("remaining > 0"))

    op.drop_table("point_lots")
    op.drop_table("coupons")
    op.drop_table("users")
    op.drop_table("settings")
    op.drop_table("rule_sets")
    op.drop_table("receipt_counters")
    op.drop_table("products")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending", sqlite_where=sa.text("sent_at IS NULL"))

    op.drop_table("outbox")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_last4_seen")

    op.drop_table("members")
    op.drop_table("mall_items")
    op.drop_table("audit_log")
