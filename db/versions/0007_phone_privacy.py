"""Members keep no plaintext first digits; HQ's phone key leaves the file; sent events
lose their personal fields.

* ``members.phone_masked`` (138****1234 in clear) becomes ``phone_mask_sealed`` (the
  same text sealed with AES-GCM under a key of the till's own) and ``phone_hint`` (a
  keyed hash of the first 3 + last 4 digits, indexed with ``last_seen_at``: the
  ``138*1234`` look-up is one index hit). The old column is dropped with a plain
  ``ALTER TABLE ... DROP COLUMN`` (no rebuild of the table).
* The ``phone_key`` setting (HQ's phone-hash key) moves to the key store.
* Outbox events HQ has acknowledged drop their personal fields (``store.outbox``).

Needs the till's keys: run it through ``TillDatabase`` (``pos-app`` does at start).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from pos_app.store.outbox import SCRUB_SENT_SQL

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def _till_database():  # type: ignore[no-untyped-def]
    db = context.config.attributes.get("till_database")
    if db is None:
        raise RuntimeError(
            "migration 0007 seals the members' masked phones with the till's keys: "
            "open the database with pos_app.store.database.TillDatabase"
        )
    return db


def upgrade() -> None:
    db = _till_database()
    op.add_column("members", sa.Column("phone_hint", sa.LargeBinary(16), nullable=True))
    op.add_column("members", sa.Column("phone_mask_sealed", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    rows = conn.exec_driver_sql("SELECT id, phone_masked, phone_last4 FROM members").fetchall()
    masks = db.phone.masks
    updates = [
        (masks.seal(masked or ""), db.phone.hint_of_mask(masked or "", last4 or ""), member_id)
        for member_id, masked, last4 in rows
    ]
    if updates:
        conn.exec_driver_sql(
            "UPDATE members SET phone_mask_sealed = ?, phone_hint = ? WHERE id = ?", updates
        )
    op.execute("ALTER TABLE members DROP COLUMN phone_masked")
    op.create_index("ix_members_hint_seen", "members", ["phone_hint", "last_seen_at"])
    key = conn.exec_driver_sql("SELECT value FROM settings WHERE key = 'phone_key'").scalar()
    if key:
        db.set_phone_key(bytes.fromhex(key))  # saved before the row goes (a rerun finds both)
        conn.exec_driver_sql("DELETE FROM settings WHERE key = 'phone_key'")
    for statement in SCRUB_SENT_SQL:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    db = _till_database()
    op.add_column(
        "members", sa.Column("phone_masked", sa.String(20), nullable=False, server_default="")
    )
    conn = op.get_bind()
    rows = conn.exec_driver_sql("SELECT id, phone_mask_sealed FROM members").fetchall()
    if rows:
        conn.exec_driver_sql(
            "UPDATE members SET phone_masked = ? WHERE id = ?",
            [(db.phone.masks.open(sealed), member_id) for member_id, sealed in rows],
        )
    op.drop_index("ix_members_hint_seen", table_name="members")
    op.execute("ALTER TABLE members DROP COLUMN phone_hint")
    op.execute("ALTER TABLE members DROP COLUMN phone_mask_sealed")
    if db.keys.phone_key is not None:
        conn.exec_driver_sql(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('phone_key', ?)",
            (db.keys.phone_key.hex(),),
        )
