"""HQ ledger: identities, members, the immutable ledger with lots, sales and refunds,
what HQ publishes, holds, flags and idempotency records.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Ledger entries, lot moves, sales, sale lines, refunds and refund lines refuse UPDATE and
DELETE (triggers): a correction is a new row. ``counters`` starts with ``change_seq`` = 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
IMMUTABLE_TABLES = (
    "ledger_entries",
    "lot_moves",
    "sales",
    "sale_lines",
    "refunds",
    "refund_lines",
)


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hq_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is immutable: write a new row instead', TG_TABLE_NAME; "
            "END $$"
        )
        for table in IMMUTABLE_TABLES:
            op.execute(
                f"CREATE TRIGGER trg_{table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION hq_immutable()"
            )
            op.execute(
                f"CREATE TRIGGER trg_{table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION hq_immutable()"
            )
        return
    for table in IMMUTABLE_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_{table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is immutable: write a new row instead'); END"
            )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_immutable ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS hq_immutable()")
        return
    for table in IMMUTABLE_TABLES:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_{action}")


def upgrade() -> None:
    op.create_table(
        "admins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
        sa.UniqueConstraint("name", name=op.f("uq_admins_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_admins_token_hash")),
    )
    op.create_table(
        "channels",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_channels")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_channels_token_hash")),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "flagged_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("principal", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("detail", JSONDOC, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flagged_records")),
    )
    op.create_index(op.f("ix_flagged_records_kind"), "flagged_records", ["kind"], unique=False)
    op.create_index(
        op.f("ix_flagged_records_member_id"), "flagged_records", ["member_id"], unique=False
    )
    op.create_table(
        "hq_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hq_settings")),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("response", JSONDOC, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_records")),
    )
    op.create_table(
        "mall_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("points_price", sa.BigInteger(), nullable=False),
        sa.Column("cash_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("min_tier", sa.String(length=16), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("discount_from", TZ, nullable=True),
        sa.Column("discount_to", TZ, nullable=True),
        sa.Column("available_from", TZ, nullable=True),
        sa.Column("available_to", TZ, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mall_items")),
        sa.UniqueConstraint("seq", name=op.f("uq_mall_items_seq")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("member_no", sa.BigInteger(), nullable=True),
        sa.Column("phone_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("phone_last4", sa.String(length=4), nullable=False),
        sa.Column("phone_masked", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("tier_since", TZ, nullable=False),
        sa.Column("last_review", sa.Date(), nullable=True),
        sa.Column("referral_code", sa.String(length=16), nullable=True),
        sa.Column("referred_by", sa.String(length=64), nullable=True),
        sa.Column("registered_at", TZ, nullable=False),
        sa.Column("registered_channel", sa.String(length=16), nullable=False),
        sa.Column("registered_store", sa.String(length=16), nullable=True),
        sa.Column("registered_till", sa.String(length=40), nullable=True),
        sa.Column("first_purchase_at", TZ, nullable=True),
        sa.Column("birthday_gift_year", sa.Integer(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("alias_of", sa.String(length=64), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alias_of"], ["members.id"], name=op.f("fk_members_alias_of_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("member_no", name=op.f("uq_members_member_no")),
        sa.UniqueConstraint("seq", name=op.f("uq_members_seq")),
    )
    op.create_index(op.f("ix_members_phone_hash"), "members", ["phone_hash"], unique=False)
    op.create_index(op.f("ix_members_phone_last4"), "members", ["phone_last4"], unique=False)
    op.create_index(op.f("ix_members_referral_code"), "members", ["referral_code"], unique=False)
    op.create_index(
        "uq_members_phone_hash_canonical",
        "members",
        ["phone_hash"],
        unique=True,
        postgresql_where=sa.text("alias_of IS NULL"),
        sqlite_where=sa.text("alias_of IS NULL"),
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("member_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
        sa.UniqueConstraint("seq", name=op.f("uq_products_seq")),
    )
    op.create_table(
        "rule_set_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rule_set_versions")),
        sa.UniqueConstraint("seq", name=op.f("uq_rule_set_versions_seq")),
    )
    op.create_table(
        "stores",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_stores")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("amount_off_fen", sa.BigInteger(), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=False),
        sa.Column("min_order_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", TZ, nullable=False),
        sa.Column("valid_to", TZ, nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.Column("used_sale_id", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_coupons_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
        sa.UniqueConstraint("seq", name=op.f("uq_coupons_seq")),
    )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("source_channel", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["mall_items.id"], name=op.f("fk_redemptions_item_id_mall_items")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_redemptions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
    )
    op.create_index(op.f("ix_redemptions_member_id"), "redemptions", ["member_id"], unique=False)
    op.create_table(
        "sales",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("receipt_no", sa.String(length=32), nullable=True),
        sa.Column("source_channel", sa.String(length=16), nullable=False),
        sa.Column("store_code", sa.String(length=16), nullable=True),
        sa.Column("till_id", sa.String(length=40), nullable=True),
        sa.Column("cashier_id", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("member_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_due_fen", sa.BigInteger(), nullable=False),
        sa.Column("points_used", sa.BigInteger(), nullable=False),
        sa.Column("points_earned", sa.BigInteger(), nullable=False),
        sa.Column("rule_set_version", sa.String(length=64), nullable=False),
        sa.Column("coupons", JSONDOC, nullable=False),
        sa.Column("tenders", JSONDOC, nullable=False),
        sa.Column("hq_quote", JSONDOC, nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sales_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
    )
    op.create_index(op.f("ix_sales_member_id"), "sales", ["member_id"], unique=False)
    op.create_index(op.f("ix_sales_store_code"), "sales", ["store_code"], unique=False)
    op.create_table(
        "spend_holds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("member_ref", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.Column("posted_at", TZ, nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.CheckConstraint("points > 0", name=op.f("ck_spend_holds_points_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_spend_holds_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spend_holds")),
    )
    op.create_index(op.f("ix_spend_holds_member_id"), "spend_holds", ["member_id"], unique=False)
    op.create_index(op.f("ix_spend_holds_sale_id"), "spend_holds", ["sale_id"], unique=False)
    op.create_table(
        "tills",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("store_code", sa.String(length=16), nullable=False),
        sa.Column("till_code", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_push_at", TZ, nullable=True),
        sa.Column("last_skew_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_code"], ["stores.code"], name=op.f("fk_tills_store_code_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tills")),
        sa.UniqueConstraint("store_code", "till_code", name=op.f("uq_tills_store_code")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tills_token_hash")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("refund_no", sa.String(length=32), nullable=True),
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("store_code", sa.String(length=16), nullable=True),
        sa.Column("till_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("cashier_id", sa.String(length=64), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("cash_refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_deducted_fen", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("points_restored", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], name=op.f("fk_refunds_sale_id_sales")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_index(op.f("ix_refunds_sale_id"), "refunds", ["sale_id"], unique=False)
    op.create_table(
        "sale_lines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("line_discount_fen", sa.BigInteger(), nullable=False),
        sa.Column("is_reward", sa.Boolean(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=True),
        sa.Column("points_used", sa.BigInteger(), nullable=True),
        sa.Column("points_value_fen", sa.BigInteger(), nullable=True),
        sa.Column("earn_points", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_sale_lines_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_lines")),
    )
    op.create_index(op.f("ix_sale_lines_sale_id"), "sale_lines", ["sale_id"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("member_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("source_channel", sa.String(length=16), nullable=False),
        sa.Column("store_code", sa.String(length=16), nullable=True),
        sa.Column("till_id", sa.String(length=40), nullable=True),
        sa.Column("in_origin_ledger", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("rule_set_version", sa.String(length=64), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("points <> 0", name=op.f("ck_ledger_entries_points_nonzero")),
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
        sa.UniqueConstraint("seq", name=op.f("uq_ledger_entries_seq")),
    )
    op.create_index(
        op.f("ix_ledger_entries_member_id"), "ledger_entries", ["member_id"], unique=False
    )
    op.create_index(op.f("ix_ledger_entries_sale_id"), "ledger_entries", ["sale_id"], unique=False)
    op.create_table(
        "refund_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=False),
        sa.Column("sale_line_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
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
    op.create_index(op.f("ix_refund_lines_refund_id"), "refund_lines", ["refund_id"], unique=False)
    op.create_index(
        op.f("ix_refund_lines_sale_line_id"), "refund_lines", ["sale_line_id"], unique=False
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", TZ, nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= points", name=op.f("ck_lots_remaining_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_lots_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_lots_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
    )
    op.create_index(
        "ix_lots_expiring",
        "lots",
        ["expires_on"],
        unique=False,
        postgresql_where=sa.text("remaining > 0"),
    )
    op.create_index("ix_lots_member_open", "lots", ["member_id", "expires_on"], unique=False)
    op.create_table(
        "lot_moves",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.String(length=80), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_lot_moves_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_moves_lot_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_moves")),
    )
    op.create_index(op.f("ix_lot_moves_entry_id"), "lot_moves", ["entry_id"], unique=False)
    op.create_index(op.f("ix_lot_moves_lot_id"), "lot_moves", ["lot_id"], unique=False)
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "change_seq", "value": 0}])
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_index(op.f("ix_lot_moves_lot_id"), table_name="lot_moves")
    op.drop_index(op.f("ix_lot_moves_entry_id"), table_name="lot_moves")
    op.drop_table("lot_moves")
    op.drop_index("ix_lots_member_open", table_name="lots")
    op.drop_index("ix_lots_expiring", table_name="lots", postgresql_where=sa.text("remaining > 0"))
    op.drop_table("lots")
    op.drop_index(op.f("ix_refund_lines_sale_line_id"), table_name="refund_lines")
    op.drop_index(op.f("ix_refund_lines_refund_id"), table_name="refund_lines")
    op.drop_table("refund_lines")
    op.drop_index(op.f("ix_ledger_entries_sale_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_member_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_sale_lines_sale_id"), table_name="sale_lines")
    op.drop_table("sale_lines")
    op.drop_index(op.f("ix_refunds_sale_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_table("tills")
    op.drop_index(op.f("ix_spend_holds_sale_id"), table_name="spend_holds")
    op.drop_index(op.f("ix_spend_holds_member_id"), table_name="spend_holds")
    op.drop_table("spend_holds")
    op.drop_index(op.f("ix_sales_store_code"), table_name="sales")
    op.drop_index(op.f("ix_sales_member_id"), table_name="sales")
    op.drop_table("sales")
    op.drop_index(op.f("ix_redemptions_member_id"), table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_table("coupons")
    op.drop_table("stores")
    op.drop_table("rule_set_versions")
    op.drop_table("products")
    op.drop_index(
        "uq_members_phone_hash_canonical",
        table_name="members",
        postgresql_where=sa.text("alias_of IS NULL"),
        sqlite_where=sa.text("alias_of IS NULL"),
    )
    op.drop_index(op.f("ix_members_referral_code"), table_name="members")
    op.drop_index(op.f("ix_members_phone_last4"), table_name="members")
    op.drop_index(op.f("ix_members_phone_hash"), table_name="members")
    op.drop_table("members")
    op.drop_table("mall_items")
    op.drop_table("idempotency_records")
    op.drop_table("hq_settings")
    op.drop_index(op.f("ix_flagged_records_member_id"), table_name="flagged_records")
    op.drop_index(op.f("ix_flagged_records_kind"), table_name="flagged_records")
    op.drop_table("flagged_records")
    op.drop_table("counters")
    op.drop_table("channels")
    op.drop_table("admins")
