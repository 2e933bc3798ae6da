"""An entry id is looked up in its member's ledger: the chain-wide id index goes.

Revision ID: 0080_entry_key
Revises: 0070_lean_members
Create Date: 2026-12-05

``ix_ledger_entries_id`` let HQ find an entry id in any member's ledger. The ledger is
hash-partitioned by member, so that look-up searched all 16 partitions' indexes for
every entry of a push (48 index pages per entry at 1,000,000 members, the dearest read
of a push), and every new entry was added to the index at a random place.

HQ now looks an entry id up by the ledger's key (member id, entry id), under each id of
the member the event names (the member and the aliases merged into it): one partition,
as a ledger distributed by member does on the member's node (docs/scaling.md). An id
reused for another movement of the same member is still a conflict with nothing
written; an id recorded under two members is reported by ``pos-hq audit verify``
(``ledger entry ids recorded under two members``).
"""

from __future__ import annotations

from alembic import op

revision = "0080_entry_key"
down_revision = "0070_lean_members"
branch_labels = None
depends_on = None


def _partitioned() -> bool:
    # the SQLite demo's ledger is one table keyed by the entry id alone: it keeps that
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _partitioned():
        op.drop_index("ix_ledger_entries_id", table_name="ledger_entries")


def downgrade() -> None:
    if _partitioned():
        op.create_index("ix_ledger_entries_id", "ledger_entries", ["id"])
