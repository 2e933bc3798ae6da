"""Scope rows without a per-row foreign key, as the ledger's hot tables (0050).

Revision ID: 0090_scope_rows
Revises: 0080_entry_key
Create Date: 2026-12-05

A push puts the buyer of a sale into the scope of the selling till's region
(``member_scopes``) when the member is not there yet: for a member shopping away from
home, one row per sale. Its foreign key to ``members`` fired a trigger per row, a look-up
into the partitioned members table and a ``FOR KEY SHARE`` lock on a row the push has
already locked. The push writes a scope row only for a member it holds locked (or
registered in the same transaction), and ``pos-hq audit verify`` names a scope row of
no member (``member scopes of no member``), as it does for the ledger's rows.

On SQLite (the demo) nothing changes.
"""

from __future__ import annotations

from alembic import op

revision = "0090_scope_rows"
down_revision = "0080_entry_key"
branch_labels = None
depends_on = None

KEY = "fk_member_scopes_member_id_members"


def _pg() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _pg():
        op.drop_constraint(KEY, "member_scopes", type_="foreignkey")


def downgrade() -> None:
    if _pg():
        op.create_foreign_key(KEY, "member_scopes", "members", ["member_id"], ["id"])
