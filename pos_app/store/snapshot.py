"""Loading HQ's member snapshots (a first sync, a member HQ sent whole): members, their
lots and opening entries, and coupons, one statement per table on the session's own
connection (``store.raw``), inside the caller's transaction.

A fresh till's first sync builds the secondary indexes of these tables after the load
(:func:`drop_secondary_indexes`, :func:`create_indexes`): inserting a million keys in
random order into an index costs several times more than sorting them once.

Only member rows can clash with rows already here (a phone, number or referral code of
another member), so only they are written under a savepoint: on SQLCipher, inserting
into a table with triggers (ledger_entries) under a savepoint costs ten times more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pos_app.store import raw
from pos_app.store.encryption import driver
from pos_app.store.models import Member

MEMBER_COLUMNS = (
    "id",
    "member_no",
    "phone_hash",
    "phone_last4",
    "phone_hint",
    "phone_mask_sealed",
    "name",
    "birthday",
    "tier",
    "tier_since",
    "referral_code",
    "referred_by",
    "registered_at",
    "registered_store",
    "first_purchase_at",
    "birthday_gift_year",
    "balance",
    "last_seen_at",
    "snapshot_seq",
)
SQL_INSERT_MEMBERS = (
    f"INSERT INTO members ({', '.join(MEMBER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(MEMBER_COLUMNS))})"
)
# A fresh member: one whose phone, number or code another row holds is left out.
SQL_INSERT_NEW_MEMBERS = SQL_INSERT_MEMBERS.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
# A member the till holds with nothing to keep (a stub, a zero balance) takes HQ's row.
SQL_UPSERT_MEMBERS = f"{SQL_INSERT_MEMBERS} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in MEMBER_COLUMNS[1:]
)
COUPON_COLUMNS = (
    "id",
    "code",
    "member_id",
    "name",
    "amount_off_fen",
    "percent_off",
    "min_order_fen",
    "valid_from",
    "valid_to",
    "issued_at",
    "source",
)
SQL_UPSERT_COUPONS = (
    f"INSERT INTO coupons ({', '.join(COUPON_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(COUPON_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COUPON_COLUMNS[1:])
)
SQL_INSERT_LOTS = (
    "INSERT INTO point_lots (id, member_id, points, remaining, earned_at, expires_on) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SQL_INSERT_OPENING_ENTRIES = (
    "INSERT INTO ledger_entries (id, member_id, kind, points, created_at, sale_id, refund_id, "
    "rule_set_version, actor_id, reason, detail) VALUES (?, ?, 'opening', ?, ?, NULL, NULL, ?, "
    "'@hq', 'snapshot', ?)"
)
SQL_KNOWN_MEMBERS = "SELECT id, balance, snapshot_seq FROM members WHERE id IN ({marks})"
SQL_KNOWN_RANGE = "SELECT id, balance, snapshot_seq FROM members WHERE id BETWEEN ? AND ?"
#: Members asked at once from which an ordered list is read as one range.
RANGE_FROM = 1000
SQL_TAKEN = "SELECT {column} FROM members WHERE {column} IN ({marks})"
UNIQUE_MEMBER_COLUMNS = ("member_no", "phone_hash", "referral_code")
#: The tables a snapshot fills: their secondary indexes may be built after a bulk load.
LOADED_TABLES = ("members", "point_lots", "ledger_entries")
# Unique constraints (autoindexes, without SQL) and unique indexes stay: they find clashes.
SQL_SECONDARY_INDEXES = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
    f"AND tbl_name IN ({', '.join(repr(t) for t in LOADED_TABLES)}) "
    "AND upper(sql) NOT LIKE 'CREATE UNIQUE %' ORDER BY name"
)


def defer_foreign_keys(session: Session) -> None:
    """Check foreign keys at the commit (referrers of a snapshot come later in it)."""
    raw.execute(session, "PRAGMA defer_foreign_keys = ON")


def drop_secondary_indexes(session: Session) -> list[str]:
    """Drop the secondary indexes of :data:`LOADED_TABLES` that are not unique; their
    ``CREATE INDEX`` statements, for :func:`create_indexes`."""
    found = list(raw.execute(session, SQL_SECONDARY_INDEXES))
    for name, _sql in found:
        raw.execute(session, f'DROP INDEX "{name}"')
    return [str(sql) for _name, sql in found]


def create_indexes(session: Session, statements: Sequence[str]) -> None:
    """Build indexes again (``CREATE INDEX`` statements of :func:`drop_secondary_indexes`);
    one present already is kept."""
    for sql in statements:
        if not sql.upper().startswith("CREATE INDEX "):
            raise ValueError(f"not a CREATE INDEX statement: {sql[:60]}")
        raw.execute(session, "CREATE INDEX IF NOT EXISTS " + sql[len("CREATE INDEX ") :])


def set_page_cache(session: Session, kib: int) -> None:
    """SQLite's page cache of the session's connection, in KiB."""
    raw.execute(session, f"PRAGMA cache_size=-{int(kib)}")


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[start : start + 500] for start in range(0, len(values), 500)]


def holds_members(session: Session) -> bool:
    """The till holds at least one member."""
    return raw.execute(session, "SELECT 1 FROM members LIMIT 1").fetchone() is not None


def known_members(session: Session, ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
    """(balance, snapshot_seq) of the members of ``ids`` the till holds (a first sync's
    thousands, in id order: one range of the primary key)."""
    found: dict[str, tuple[int, int | None]] = {}
    if len(ids) > RANGE_FROM and list(ids) == sorted(set(ids)):
        wanted = set(ids)
        for member_id, balance, seq in raw.execute(session, SQL_KNOWN_RANGE, (ids[0], ids[-1])):
            if member_id in wanted:
                found[member_id] = (int(balance), seq)
        return found
    for chunk in _chunks(ids):
        sql = SQL_KNOWN_MEMBERS.format(marks=", ".join("?" * len(chunk)))
        for member_id, balance, seq in raw.execute(session, sql, chunk):
            found[member_id] = (int(balance), seq)
    return found


def taken_values(session: Session, column: str, values: Sequence[Any]) -> set[Any]:
    """The ``values`` some member holds already in the unique ``column``."""
    if column not in UNIQUE_MEMBER_COLUMNS:
        raise ValueError(f"members.{column} is not a unique column")
    found: set[Any] = set()
    for chunk in _chunks(values):
        sql = SQL_TAKEN.format(column=column, marks=", ".join("?" * len(chunk)))
        found |= {value for (value,) in raw.execute(session, sql, chunk)}
    return found


def upsert_coupons(session: Session, rows: Sequence[Sequence[Any]]) -> bool:
    """Write coupons (:data:`COUPON_COLUMNS`), replacing those with the same id; False
    (and nothing written) when a code is another coupon's here."""
    return _under_savepoint(session, "snapshot_coupons", [(SQL_UPSERT_COUPONS, rows)])


def write_members(
    session: Session, new: Sequence[Sequence[Any]], replaced: Sequence[Sequence[Any]]
) -> bool:
    """Insert ``new`` members and replace the rows of ``replaced`` (:data:`MEMBER_COLUMNS`);
    False (and nothing written) when a unique value clashes with another row. ORM objects
    of replaced rows are expired."""
    ok = _under_savepoint(
        session, "member_snapshots", [(SQL_INSERT_MEMBERS, new), (SQL_UPSERT_MEMBERS, replaced)]
    )
    if ok:
        written = {row[0] for row in replaced}
        for obj in list(session.identity_map.values()):  # rows written under the ORM
            if isinstance(obj, Member) and obj.id in written:
                session.expire(obj)
    return ok


def insert_new_members(session: Session, rows: Sequence[Sequence[Any]]) -> set[str]:
    """Insert members the till does not hold (:data:`MEMBER_COLUMNS`); the ids of those
    left out because a phone, number or referral code is another row's (no savepoint:
    under one, every index page a load touches would be copied aside first)."""
    try:
        written = raw.dbapi(session).executemany(SQL_INSERT_NEW_MEMBERS, rows).rowcount
    except driver.Error as exc:
        raise raw.wrapped(SQL_INSERT_NEW_MEMBERS, rows, exc) from exc
    if written == len(rows):
        return set()
    ids = [str(row[0]) for row in rows]
    return set(ids) - set(known_members(session, ids))


def insert_members(session: Session, rows: Sequence[Sequence[Any]]) -> None:
    """Insert member rows (:data:`MEMBER_COLUMNS`) known not to clash."""
    raw.executemany(session, SQL_INSERT_MEMBERS, rows)


def insert_lots_and_openings(
    session: Session, lots: Sequence[Sequence[Any]], entries: Sequence[Sequence[Any]]
) -> None:
    """Insert opening lots (id, member, points, remaining, earned_at, expires_on) and
    opening entries (id, member, points, created_at, rule set version, detail)."""
    raw.executemany(session, SQL_INSERT_LOTS, lots)
    raw.executemany(session, SQL_INSERT_OPENING_ENTRIES, entries)


def _under_savepoint(
    session: Session, name: str, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]
) -> bool:
    conn = raw.dbapi(session)
    conn.execute(f"SAVEPOINT {name}")
    try:
        for sql, rows in statements:
            raw.executemany(session, sql, rows)
    except IntegrityError:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        return False
    conn.execute(f"RELEASE {name}")
    return True
