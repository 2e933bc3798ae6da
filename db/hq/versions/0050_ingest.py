"""Ingest at a chain's rate: the ledger's hot tables lose their per-row foreign keys.

Revision ID: 0050_ingest
Revises: 0040_console_more
Create Date: 2026-12-04

Every row a push writes into ``sales``, ``sale_lines``, ``ledger_entries``, ``lots``
and ``lot_moves`` fired a foreign-key trigger per row: a look-up into a partitioned
table and a ``FOR KEY SHARE`` lock on the row it names (the member's row once per
entry, lot and sale). Measured on 100,000 members (PostgreSQL CPU per ledger entry
pushed): about 250 us with the keys, 180 us without the ones inside a member's ledger,
145 us without any (issue 10; benchmarks/README.md).

The write path (``pos_app.hq.book``) already checks each of these references before it
writes, under the member's row lock: the member exists (or the event is refused), a
lot's entry and a move's lot and entry are written in the same batch, a line's sale
with it. ``pos-hq audit verify`` checks the same references over the whole ledger
(``pos_app.hq.ledger.dangling_references``) and names any row that points at nothing.

The keys that stay: everything outside the push's hot path (stores, tills, phones,
numbers, scopes, refunds' lines, redemptions...). On SQLite (the demo) nothing changes.
"""

from __future__ import annotations

from alembic import op

revision = "0050_ingest"
down_revision = "0040_console_more"
branch_labels = None
depends_on = None

# (table, constraint, columns, referred table, referred columns)
KEYS = (
    ("sales", "fk_sales_member_id_members", ["member_id"], "members", ["id"]),
    ("sale_lines", "fk_sale_lines_sale_id_sales", ["sale_id"], "sales", ["id"]),
    ("ledger_entries", "fk_ledger_entries_member_id_members", ["member_id"], "members", ["id"]),
    ("ledger_entries", "fk_ledger_entries_sale_id_sales", ["sale_id"], "sales", ["id"]),
    ("ledger_entries", "fk_ledger_entries_refund_id_refunds", ["refund_id"], "refunds", ["id"]),
    ("lots", "fk_lots_member_id_members", ["member_id"], "members", ["id"]),
    (
        "lots",
        "fk_lots_member_id_ledger_entries",
        ["member_id", "entry_id"],
        "ledger_entries",
        ["member_id", "id"],
    ),
    (
        "lot_moves",
        "fk_lot_moves_member_id_ledger_entries",
        ["member_id", "entry_id"],
        "ledger_entries",
        ["member_id", "id"],
    ),
    (
        "lot_moves",
        "fk_lot_moves_member_id_lots",
        ["member_id", "lot_id"],
        "lots",
        ["member_id", "id"],
    ),
)


def _pg() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _pg():
        return
    for table, name, _cols, _referred, _remote in KEYS:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    if not _pg():
        return
    for table, name, cols, referred, remote in KEYS:
        op.create_foreign_key(name, table, referred, cols, remote)
