"""HQ stops indexing member columns it never searches by on ``members``.

Revision ID: 0070_lean_members
Revises: 0060_reach_more
Create Date: 2026-12-05

Every push updates each buyer's row (balance, change number). The change number is
indexed (the pull reads members by it), so such an update is never a heap-only one:
PostgreSQL inserts the new row version into every index of ``members``. Four of them
served no query of HQ's:

* ``ix_members_phone_last4`` and ``ix_members_referral_code``: HQ never looks a member
  up by these (tills do, in their own ledger);
* ``ix_members_phone_hash`` and ``ix_members_member_no`` (PostgreSQL): HQ finds a member
  by phone through ``member_phones`` and by number through ``member_numbers``, whose
  keys are these columns.

Dropping them leaves the key and the change-number index (plus the partial alias index)
to maintain per update (docs/scaling.md, "Ingest").
"""

from __future__ import annotations

from alembic import op

revision = "0070_lean_members"
down_revision = "0060_reach_more"
branch_labels = None
depends_on = None

BOTH = ("phone_hash", "phone_last4", "referral_code")


def _partitioned() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for column in BOTH:
        op.drop_index(f"ix_members_{column}", table_name="members")
    if _partitioned():
        op.drop_index("ix_members_member_no", table_name="members")


def downgrade() -> None:
    for column in BOTH:
        op.create_index(f"ix_members_{column}", "members", [column])
    if _partitioned():
        op.create_index("ix_members_member_no", "members", ["member_no"])
