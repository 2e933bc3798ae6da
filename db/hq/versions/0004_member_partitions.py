"""Member-owned tables hash-partitioned by member id; phones and numbers get directories.

Revision ID: 0004
Revises: 0003_trust
Create Date: 2026-12-04

On PostgreSQL, ``members``, ``ledger_entries``, ``lots``, ``lot_moves`` and
``spend_holds`` become ``PARTITION BY HASH (member id)`` tables of 16 partitions, and
every key of theirs starts with the member id (``lot_moves`` gains the column), so the
same schema can be distributed by member with Citus (docs/scaling.md). A partitioned
table cannot hold a unique key without its partition key, so:

* the canonical member of a phone moves to ``member_phones`` (phone hash -> member), and
  member numbers to ``member_numbers`` (number -> member): small directories that
  decide uniqueness chain-wide;
* entry, lot and hold ids stay unique because HQ checks them under its writer lock
  before writing (an index on each id serves the check); change numbers are unique by
  construction (the counter).

The tables are rebuilt (renamed aside, created partitioned, copied, the old ones
dropped) with the foreign keys other tables hold on them re-created as they were. The
SQLite demo keeps plain tables and only gains the directories and ``lot_moves.member_id``.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_trust"
branch_labels = None
depends_on = None

PARTITIONS = 16
TZ = sa.DateTime(timezone=True)
# In dependency order: a table's foreign keys point to tables before it.
TABLES = ("members", "ledger_entries", "lots", "lot_moves", "spend_holds")
IMMUTABLE = ("ledger_entries", "lot_moves")


def _partition_of(column: str, partitioned: bool) -> dict[str, str]:
    return {"postgresql_partition_by": f"HASH ({column})"} if partitioned else {}


def _members(partitioned: bool) -> None:
    keys: list[sa.SchemaItem] = [sa.PrimaryKeyConstraint("id", name="pk_members")]
    if not partitioned:
        keys += [
            sa.UniqueConstraint("member_no", name="uq_members_member_no"),
            sa.UniqueConstraint("seq", name="uq_members_seq"),
        ]
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
        sa.ForeignKeyConstraint(["alias_of"], ["members.id"], name="fk_members_alias_of_members"),
        *keys,
        **_partition_of("id", partitioned),
    )
    op.create_index("ix_members_phone_hash", "members", ["phone_hash"])
    op.create_index("ix_members_phone_last4", "members", ["phone_last4"])
    op.create_index("ix_members_referral_code", "members", ["referral_code"])
    op.create_index(
        "ix_members_alias_of",
        "members",
        ["alias_of"],
        postgresql_where=sa.text("alias_of IS NOT NULL"),
    )
    if partitioned:
        op.create_index("ix_members_member_no", "members", ["member_no"])
        op.create_index("ix_members_seq", "members", ["seq"])
    else:
        op.create_index(
            "uq_members_phone_hash_canonical",
            "members",
            ["phone_hash"],
            unique=True,
            postgresql_where=sa.text("alias_of IS NULL"),
        )


def _ledger_entries(partitioned: bool) -> None:
    keys: list[sa.SchemaItem] = (
        [sa.PrimaryKeyConstraint("member_id", "id", name="pk_ledger_entries")]
        if partitioned
        else [
            sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
            sa.UniqueConstraint("seq", name="uq_ledger_entries_seq"),
        ]
    )
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
        sa.CheckConstraint("points <> 0", name="ck_ledger_entries_points_nonzero"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_ledger_entries_member_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name="fk_ledger_entries_refund_id_refunds"
        ),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], name="fk_ledger_entries_sale_id_sales"),
        *keys,
        **_partition_of("member_id", partitioned),
    )
    op.create_index("ix_ledger_entries_member_time", "ledger_entries", ["member_id", "created_at"])
    op.create_index("ix_ledger_entries_sale_id", "ledger_entries", ["sale_id"])
    if partitioned:
        op.create_index("ix_ledger_entries_id", "ledger_entries", ["id"])
        op.create_index("ix_ledger_entries_seq", "ledger_entries", ["seq"])


def _lots(partitioned: bool) -> None:
    if partitioned:
        keys: list[sa.SchemaItem] = [
            sa.PrimaryKeyConstraint("member_id", "id", name="pk_lots"),
            sa.ForeignKeyConstraint(
                ["member_id", "entry_id"],
                ["ledger_entries.member_id", "ledger_entries.id"],
                name="fk_lots_member_id_ledger_entries",
            ),
        ]
    else:
        keys = [
            sa.PrimaryKeyConstraint("id", name="pk_lots"),
            sa.ForeignKeyConstraint(
                ["entry_id"], ["ledger_entries.id"], name="fk_lots_entry_id_ledger_entries"
            ),
        ]
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
            "remaining >= 0 AND remaining <= points", name="ck_lots_remaining_in_range"
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_lots_member_id_members"),
        *keys,
        **_partition_of("member_id", partitioned),
    )
    op.create_index(
        "ix_lots_expiring", "lots", ["expires_on"], postgresql_where=sa.text("remaining > 0")
    )
    op.create_index("ix_lots_member_open", "lots", ["member_id", "expires_on"])
    op.create_index("ix_lots_entry_id", "lots", ["entry_id"])


def _lot_moves(partitioned: bool) -> None:
    if partitioned:
        columns: list[sa.SchemaItem] = [
            sa.Column("member_id", sa.String(length=64), nullable=False),
            sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        ]
        keys: list[sa.SchemaItem] = [
            sa.PrimaryKeyConstraint("member_id", "id", name="pk_lot_moves"),
            sa.ForeignKeyConstraint(
                ["member_id", "entry_id"],
                ["ledger_entries.member_id", "ledger_entries.id"],
                name="fk_lot_moves_member_id_ledger_entries",
            ),
            sa.ForeignKeyConstraint(
                ["member_id", "lot_id"],
                ["lots.member_id", "lots.id"],
                name="fk_lot_moves_member_id_lots",
            ),
        ]
    else:
        columns = [sa.Column("id", sa.BigInteger(), nullable=False)]
        keys = [
            sa.PrimaryKeyConstraint("id", name="pk_lot_moves"),
            sa.ForeignKeyConstraint(
                ["entry_id"], ["ledger_entries.id"], name="fk_lot_moves_entry_id_ledger_entries"
            ),
            sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name="fk_lot_moves_lot_id_lots"),
        ]
    op.create_table(
        "lot_moves",
        *columns,
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.String(length=80), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        *keys,
        **_partition_of("member_id", partitioned),
    )
    op.create_index("ix_lot_moves_entry_id", "lot_moves", ["entry_id"])
    op.create_index("ix_lot_moves_lot_id", "lot_moves", ["lot_id"])


def _spend_holds(partitioned: bool) -> None:
    key = (
        sa.PrimaryKeyConstraint("member_id", "id", name="pk_spend_holds")
        if partitioned
        else sa.PrimaryKeyConstraint("id", name="pk_spend_holds")
    )
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
        sa.CheckConstraint("points > 0", name="ck_spend_holds_points_positive"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_spend_holds_member_id_members"
        ),
        key,
        **_partition_of("member_id", partitioned),
    )
    op.create_index("ix_spend_holds_sale_id", "spend_holds", ["sale_id"])
    op.create_index(
        "ix_spend_holds_id" if partitioned else "ix_spend_holds_member_id",
        "spend_holds",
        ["id" if partitioned else "member_id"],
    )


BUILDERS: dict[str, Callable[[bool], None]] = {
    "members": _members,
    "ledger_entries": _ledger_entries,
    "lots": _lots,
    "lot_moves": _lot_moves,
    "spend_holds": _spend_holds,
}


# -- rebuilding on PostgreSQL -------------------------------------------------------------


def _foreign_keys_into(tables: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(table, constraint, definition) of foreign keys other tables hold on ``tables``."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.contype = 'f' "
            "AND c.confrelid::regclass::text = ANY(:tables) "
            "AND NOT c.conrelid::regclass::text = ANY(:tables) "
            "AND c.conparentid = 0"
        ),
        {"tables": list(tables)},
    )
    return [(str(t), str(n), str(d)) for t, n, d in rows]


def _set_aside(table: str) -> None:
    """Rename ``table`` and its indexes (their names are schema-wide) out of the way."""
    bind = op.get_bind()
    indexes = bind.execute(
        sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = :t"),
        {"t": table},
    ).scalars()
    for name in list(indexes):
        op.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:55]}_aside"')
    op.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_aside"')


def _partitions(table: str) -> None:
    for n in range(PARTITIONS):
        op.execute(
            f'CREATE TABLE "{table}_p{n:02d}" PARTITION OF "{table}" '
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
        )


def _columns(table: str) -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position"
        ),
        {"t": table},
    )
    return [str(r[0]) for r in rows]


def _copy(table: str) -> None:
    if table == "lot_moves" and "member_id" not in _columns("lot_moves_aside"):
        op.execute(
            "INSERT INTO lot_moves (member_id, id, entry_id, lot_id, points) OVERRIDING SYSTEM VALUE "
            "SELECT l.member_id, m.id, m.entry_id, m.lot_id, m.points "
            "FROM lot_moves_aside m JOIN lots_aside l ON l.id = m.lot_id"
        )
        return
    names = ", ".join(f'"{c}"' for c in _columns(table))
    overriding = " OVERRIDING SYSTEM VALUE" if table == "lot_moves" else ""
    op.execute(f'INSERT INTO "{table}" ({names}){overriding} SELECT {names} FROM "{table}_aside"')


def _rebuild(partitioned: bool) -> None:
    """Rebuild TABLES partitioned (or plain), keeping every row and outside foreign key."""
    outside = _foreign_keys_into(TABLES)
    for table, name, _definition in outside:
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_immutable ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_truncate ON {table}")
    for table in TABLES:
        _set_aside(table)
    for table in TABLES:
        BUILDERS[table](partitioned)
        if partitioned:
            _partitions(table)
    for table in TABLES:
        _copy(table)
    for table in reversed(TABLES):
        op.execute(f'DROP TABLE "{table}_aside"')
    op.execute(
        "SELECT setval(pg_get_serial_sequence('lot_moves', 'id'), "
        "coalesce((SELECT max(id) FROM lot_moves), 0) + 1, false)"
    )
    for table, name, definition in outside:
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER trg_{table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hq_immutable()"
        )
        op.execute(
            f"CREATE TRIGGER trg_{table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hq_immutable()"
        )


# -- directories ----------------------------------------------------------------------------


def _create_directories() -> None:
    op.create_table(
        "member_phones",
        sa.Column("phone_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", name="pk_member_phones"),
    )
    op.create_table(
        "member_numbers",
        sa.Column("member_no", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("member_no", name="pk_member_numbers"),
    )
    op.execute(
        "INSERT INTO member_phones (phone_hash, member_id) "
        "SELECT phone_hash, id FROM members WHERE alias_of IS NULL"
    )
    op.execute(
        "INSERT INTO member_numbers (member_no, member_id) "
        "SELECT member_no, id FROM members WHERE member_no IS NOT NULL"
    )


def _directory_keys() -> None:
    op.create_foreign_key(
        "fk_member_phones_member_id_members", "member_phones", "members", ["member_id"], ["id"]
    )
    op.create_foreign_key(
        "fk_member_numbers_member_id_members", "member_numbers", "members", ["member_id"], ["id"]
    )


def upgrade() -> None:
    _create_directories()
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("lot_moves") as batch:
            batch.add_column(sa.Column("member_id", sa.String(length=64), nullable=True))
        op.execute(
            "UPDATE lot_moves SET member_id = (SELECT member_id FROM lots WHERE lots.id = lot_moves.lot_id)"
        )
        return
    _rebuild(partitioned=True)
    _directory_keys()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("lot_moves") as batch:
            batch.drop_column("member_id")
    else:
        op.drop_constraint(
            "fk_member_phones_member_id_members", "member_phones", type_="foreignkey"
        )
        op.drop_constraint(
            "fk_member_numbers_member_id_members", "member_numbers", type_="foreignkey"
        )
        _rebuild(partitioned=False)
    op.drop_table("member_numbers")
    op.drop_table("member_phones")
