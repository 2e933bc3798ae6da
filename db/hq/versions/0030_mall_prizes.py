"""The points mall at HQ: lottery prizes and draws, floating points prices.

Revision ID: 0030_mall_prizes
Revises: 0021_front_picks
Create Date: 2026-12-04

* ``mall_items``: ``kind`` (goods or lottery), ``price_version`` and
  ``price_changed_at`` (every points price change is a new version, named by quotes),
  the floating bounds ``float_floor``/``float_ceiling``/``float_step``/
  ``float_interval_minutes``/``float_target``.
* ``mall_price_changes``: every price of every item, by version (append-only).
* ``lottery_prizes``: a lottery's prize catalogue.
* ``lottery_draws``: the recorded draw (seed, entries digest; immutable).
* ``lottery_winners``: each winning entry, its prize and how it was issued.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_mall_prizes"
down_revision = "0021_front_picks"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
IMMUTABLE = ("mall_price_changes", "lottery_draws")
FLOAT_COLUMNS = (
    ("float_floor", sa.BigInteger()),
    ("float_ceiling", sa.BigInteger()),
    ("float_step", sa.BigInteger()),
    ("float_interval_minutes", sa.Integer()),
    ("float_target", sa.Integer()),
)


def _pg() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _item_columns() -> None:
    with op.batch_alter_table("mall_items") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=8), server_default="goods", nullable=False)
        )
        batch.add_column(
            sa.Column("price_version", sa.Integer(), server_default="1", nullable=False)
        )
        batch.add_column(sa.Column("price_changed_at", TZ, nullable=True))
        for name, type_ in FLOAT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def _item_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["item_id"], ["mall_items.id"], name=f"fk_{table}_item_id_mall_items"
    )


def _tables() -> None:
    op.create_table(
        "mall_price_changes",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("points_price", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        _item_fk("mall_price_changes"),
        sa.PrimaryKeyConstraint("item_id", "version", name="pk_mall_price_changes"),
    )
    op.create_table(
        "lottery_prizes",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount_off_fen", sa.BigInteger(), nullable=False),
        sa.Column("min_order_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        _item_fk("lottery_prizes"),
        sa.PrimaryKeyConstraint("item_id", "position", name="pk_lottery_prizes"),
    )
    op.create_table(
        "lottery_draws",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("drawn_at", TZ, nullable=False),
        sa.Column("seed_hex", sa.String(length=128), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("entries_digest", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        _item_fk("lottery_draws"),
        sa.PrimaryKeyConstraint("item_id", name="pk_lottery_draws"),
    )
    op.create_table(
        "lottery_winners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=72), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("prize_position", sa.Integer(), nullable=False),
        sa.Column("prize_kind", sa.String(length=8), nullable=False),
        sa.Column("prize_name", sa.String(length=64), nullable=False),
        sa.Column("issued_at", TZ, nullable=True),
        sa.Column("ledger_entry_id", sa.String(length=64), nullable=True),
        sa.Column("coupon_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["lottery_draws.item_id"],
            name="fk_lottery_winners_item_id_lottery_draws",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lottery_winners"),
        sa.UniqueConstraint("item_id", "rank", name="uq_lottery_winners_item_id"),
    )
    op.create_index("ix_lottery_winners_item_id", "lottery_winners", ["item_id"])
    op.create_index("ix_lottery_winners_member_id", "lottery_winners", ["member_id"])


def upgrade() -> None:
    _item_columns()
    _tables()
    if _pg():
        # hq_immutable() is 0001's: it raises "<table> is immutable"
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER trg_{table}_immutable BEFORE UPDATE OR DELETE ON "
                f"{table} FOR EACH ROW EXECUTE FUNCTION hq_immutable()"
            )


def downgrade() -> None:
    if _pg():
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_immutable ON {table}")
    op.drop_index("ix_lottery_winners_member_id", table_name="lottery_winners")
    op.drop_index("ix_lottery_winners_item_id", table_name="lottery_winners")
    for table in ("lottery_winners", "lottery_draws", "lottery_prizes", "mall_price_changes"):
        op.drop_table(table)
    with op.batch_alter_table("mall_items") as batch:
        for name, _type in reversed(FLOAT_COLUMNS):
            batch.drop_column(name)
        for name in ("price_changed_at", "price_version", "kind"):
            batch.drop_column(name)
