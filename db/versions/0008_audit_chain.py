"""Audit rows are numbered and hash-chained; a trigger refuses a row that does not follow.

``seq``, ``prev_hash`` and ``row_hash`` are added (``core.audit``) and filled for the
rows already there, in the order they were written (time, then rowid). The immutability
triggers are dropped for the fill and made again; ``trg_audit_log_chain`` then refuses
an INSERT whose ``seq`` is not the next number or whose ``prev_hash`` is not the last
row's hash (rows come from ``services.audit.record``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pos_app.core.audit import GENESIS, row_hash

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHAIN_TRIGGER = (
    "CREATE TRIGGER trg_audit_log_chain BEFORE INSERT ON audit_log "
    "WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1 "
    "  OR NEW.prev_hash IS NOT COALESCE("
    "       (SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1), :genesis) "
    "BEGIN SELECT RAISE(ABORT, 'audit rows are chained: write them with services.audit'); END"
)


def _immutable(action: str) -> str:
    return (
        f"CREATE TRIGGER trg_audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log rows are immutable: write a correction'); END"
    )


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    rows = conn.exec_driver_sql(
        "SELECT id, at, actor_id, action, subject, detail FROM audit_log ORDER BY at, rowid"
    ).fetchall()
    op.execute("DROP TRIGGER IF EXISTS trg_audit_log_no_update")
    prev, updates = GENESIS, []
    for seq, (row_id, at, actor, action, subject, detail) in enumerate(rows, start=1):
        fields = {
            "seq": seq,
            "id": row_id,
            "at": at,
            "actor_id": actor,
            "action": action,
            "subject": subject,
            "detail": detail or "",
        }
        digest = row_hash(fields, prev)
        updates.append((seq, prev, digest, row_id))
        prev = digest
    if updates:
        conn.exec_driver_sql(
            "UPDATE audit_log SET seq = ?, prev_hash = ?, row_hash = ? WHERE id = ?", updates
        )
    op.execute(_immutable("UPDATE"))
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"], unique=True)
    op.execute(CHAIN_TRIGGER.replace(":genesis", f"'{GENESIS}'"))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_audit_log_chain")
    op.drop_index("ix_audit_log_seq", table_name="audit_log")
    op.execute("DROP TRIGGER IF EXISTS trg_audit_log_no_update")
    for column in ("row_hash", "prev_hash", "seq"):
        op.execute(f"ALTER TABLE audit_log DROP COLUMN {column}")
    op.execute(_immutable("UPDATE"))
