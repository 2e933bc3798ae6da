"""Repositories: the queries the services run against the till's ledger.

Hot paths (member lookup by phone hash, by last 4 digits, by member number) run on the
thread's raw sqlite3 connection with constant SQL. Everything a sale reads and writes
goes through the caller's session so it joins the caller's transaction: the queries a
checkout runs are constant SQL on that session's own sqlite3 connection (``store.raw``),
the rest are ORM queries.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.core import refunds as core_refunds
from pos_app.core.entries import PURCHASE_KINDS, purchase_points
from pos_app.core.lots import Lot
from pos_app.core.tiers import RefundedLine, window_spend_fen
from pos_app.store import raw
from pos_app.store.models import (
    LedgerEntry,
    LotMove,
    Member,
    OutboxEvent,
    Setting,
)
from pos_app.store.raw import from_db_date, update_row
from pos_app.store.types import from_db_time, to_db_time


@dataclass(frozen=True)
class MemberRow:
    """The columns a lookup returns (no phone: only its mask)."""

    id: str
    member_no: int
    phone_masked: str
    name: str
    tier: str
    balance: int


# The masked phone is stored sealed; ``phone_mask()`` (store.database) opens it.
_MEMBER_COLS = "id, member_no, phone_mask(phone_mask_sealed), name, tier, balance"
# The exact look-up knows the number, so it shows the mask made from it (no unsealing).
SQL_BY_HASH = "SELECT id, member_no, '', name, tier, balance FROM members WHERE phone_hash = ?"
SQL_BY_NO = f"SELECT {_MEMBER_COLS} FROM members WHERE member_no = ?"
SQL_BY_LAST4 = (
    f"SELECT {_MEMBER_COLS} FROM members WHERE phone_last4 = ? ORDER BY last_seen_at DESC LIMIT ?"
)
# First 3 + last 4 (138*1234): the keyed hint, one index hit on (phone_hint, last_seen_at).
SQL_BY_HINT = (
    f"SELECT {_MEMBER_COLS} FROM members WHERE phone_hint = ? ORDER BY last_seen_at DESC LIMIT ?"
)


def _row(r: tuple[str, int, str, str, str, int] | None) -> MemberRow | None:
    return None if r is None else MemberRow(*r)


def member_by_phone_hash(conn: sqlite3.Connection, digest: bytes) -> MemberRow | None:
    """Exact match on the keyed phone hash (``phone_masked`` left empty: the caller
    knows the number and masks it itself)."""
    return _row(conn.execute(SQL_BY_HASH, (digest,)).fetchone())


def member_by_no(conn: sqlite3.Connection, member_no: int) -> MemberRow | None:
    """Match on the member number (from a member code)."""
    return _row(conn.execute(SQL_BY_NO, (member_no,)).fetchone())


def members_by_last4(conn: sqlite3.Connection, last4: str, limit: int = 20) -> list[MemberRow]:
    """Members whose phone ends in ``last4``, most recently seen first."""
    return [MemberRow(*r) for r in conn.execute(SQL_BY_LAST4, (last4, limit)).fetchall()]


def members_by_hint(conn: sqlite3.Connection, hint: bytes, limit: int = 20) -> list[MemberRow]:
    """Members whose phone hint (first 3 + last 4 digits) is ``hint``, most recently
    seen first."""
    return [MemberRow(*r) for r in conn.execute(SQL_BY_HINT, (hint, limit)).fetchall()]


PERSONAL_PATHS: dict[str, tuple[str, ...]] = {
    "member_registered": (
        "$.member.name",
        "$.member.birthday",
        "$.member.phone_masked",
        "$.member.phone_last4",
    ),
}
"""Per outbox event kind, the personal fields dropped once HQ has the event."""

SCRUB_SENT_SQL = tuple(
    f"UPDATE outbox SET payload = json_remove(payload, {', '.join(repr(p) for p in paths)}) "
    f"WHERE kind = '{kind}' AND sent_at IS NOT NULL"
    for kind, paths in PERSONAL_PATHS.items()
)
"""Statements dropping the personal fields of every acknowledged event (migration 0007)."""


def scrub_personal(session: Session, seqs: Sequence[int]) -> None:
    """Drop the personal fields (:data:`PERSONAL_PATHS`) of the outbox events ``seqs``
    (HQ acknowledged them), in the caller's transaction."""
    for kind, paths in PERSONAL_PATHS.items():
        marks = ", ".join("?" for _ in paths)
        raw.executemany(
            session,
            f"UPDATE outbox SET payload = json_remove(payload, {marks}) WHERE seq = ? AND kind = ?",
            [(*paths, seq, kind) for seq in seqs],
        )


@dataclass
class MemberState:
    """A member's row as a sale reads and changes it, loaded without the ORM (the
    checkout's hot path). Write changes back with :func:`save_member_state`; the
    balance is written by ``services.ledger.post_points`` with each entry."""

    id: str
    tier: str
    tier_since: dt.datetime
    balance: int
    birthday: dt.date | None
    first_purchase_at: dt.datetime | None
    referred_by: str | None
    birthday_gift_year: int | None
    last_seen_at: dt.datetime


_SQL_MEMBER_STATE = (
    "SELECT id, tier, tier_since, balance, birthday, first_purchase_at, referred_by, "
    "birthday_gift_year, last_seen_at FROM members WHERE id = ?"
)


def member_state(session: Session, member_id: str) -> MemberState | None:
    """The member's row for a sale or a quote, in the session's transaction."""
    row = raw.execute(session, _SQL_MEMBER_STATE, (member_id,)).fetchone()
    if row is None:
        return None
    mid, tier, tier_since, balance, birthday, first, referred_by, gift_year, seen = row
    return MemberState(
        id=mid,
        tier=tier,
        tier_since=from_db_time(tier_since),
        balance=balance,
        birthday=from_db_date(birthday),
        first_purchase_at=None if first is None else from_db_time(first),
        referred_by=referred_by,
        birthday_gift_year=gift_year,
        last_seen_at=from_db_time(seen),
    )


def save_member_state(session: Session, state: MemberState) -> None:
    """Write a sale's changes to the member (tier, first purchase, birthday gift, last
    seen); the balance moved with each ledger entry already."""
    update_row(
        session,
        Member,
        state.id,
        {
            "tier": state.tier,
            "tier_since": state.tier_since,
            "first_purchase_at": state.first_purchase_at,
            "birthday_gift_year": state.birthday_gift_year,
            "last_seen_at": state.last_seen_at,
        },
    )


def sale_exists(session: Session, sale_id: str) -> bool:
    """True when a sale with this id was committed (a retried checkout)."""
    row = raw.execute(session, "SELECT 1 FROM sales WHERE id = ?", (sale_id,)).fetchone()
    return row is not None


# -- settings ------------------------------------------------------------------------
def get_setting(session: Session, key: str) -> str | None:
    """A setting's value, or None."""
    row = session.get(Setting, key)
    return None if row is None else row.value


def put_setting(session: Session, key: str, value: str) -> None:
    """Create or replace a setting."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


_SQL_NEXT_COUNTER = (
    "INSERT INTO receipt_counters (day, kind, last) VALUES (?, ?, 1) "
    "ON CONFLICT (day, kind) DO UPDATE SET last = last + 1 RETURNING last"
)


def next_counter(session: Session, day: str, kind: str) -> int:
    """Next number in a per-day sequence (receipts ``S``, refunds ``F``), in one statement."""
    (last,) = raw.execute(session, _SQL_NEXT_COUNTER, (day, kind)).fetchone()
    return int(last)


def next_member_no(session: Session, base: int, block: int = 100_000) -> int:
    """Next member number from this till's block (HQ may renumber on merge).

    Only numbers inside the block count: members pulled from HQ carry other tills'
    numbers, some above this block.
    """
    current = session.execute(
        select(func.max(Member.member_no)).where(
            Member.member_no >= base, Member.member_no < base + block
        )
    ).scalar_one_or_none()
    return (current or base) + 1


# -- lots and ledger -------------------------------------------------------------------
# The queries every checkout runs are constant SQL on the session's own sqlite3
# connection (see store/raw.py): through SQLAlchemy each one cost more Python than
# SQLite takes to answer it (benchmarks/bench_checkout.py).
_SQL_OPEN_LOT_ROWS = (
    "SELECT id, remaining, expires_on FROM point_lots WHERE member_id = ? AND remaining > 0"
)


def open_lot_rows(session: Session, member_id: str) -> list[Lot]:
    """The member's open lots as core lots, read without building ORM objects."""
    rows = raw.execute(session, _SQL_OPEN_LOT_ROWS, (member_id,)).fetchall()
    return [Lot(lot_id, remaining, from_db_date(expires)) for lot_id, remaining, expires in rows]


def ledger_sum(session: Session, member_id: str) -> int:
    """Sum of the member's ledger: the balance by definition."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id
            )
        ).scalar_one()
    )


# -- the tier window -------------------------------------------------------------------
# Each query reads the window of one member (a sale, a summary: the checkout's hot path)
# or of many at once (the manager's list of members near the next tier): the same SQL
# but for the member predicate. The formulas are the core's, over the rows read.
_ONE = "= :member"
_MANY = "IN (SELECT value FROM json_each(:members))"
_END_OF_TIME = to_db_time(dt.datetime.max.replace(tzinfo=dt.UTC))
_PURCHASE_KINDS_SQL = ", ".join(f"'{kind}'" for kind in PURCHASE_KINDS)

_SQL_PURCHASE_ENTRIES = (
    "SELECT e.member_id, e.kind, SUM(e.points) FROM ledger_entries e "
    "JOIN sales s ON s.id = e.sale_id "
    f"WHERE e.member_id {{members}} AND e.kind IN ({_PURCHASE_KINDS_SQL}) "
    "AND s.created_at >= :since AND e.created_at <= :as_of GROUP BY e.member_id, e.kind"
)
_SQL_SALES_TOTALS = (
    "SELECT member_id, SUM(total_fen) FROM sales WHERE member_id {members} "
    "AND created_at >= :since AND created_at <= :as_of GROUP BY member_id"
)
_SQL_REFUNDED_LINES = (
    "SELECT s.member_id, sl.id, sl.cash_fen, sl.points_value_fen, sl.quantity, rl.quantity "
    "FROM sales s JOIN sale_lines sl ON sl.sale_id = s.id "
    "JOIN refund_lines rl ON rl.sale_line_id = sl.id JOIN refunds r ON r.id = rl.refund_id "
    "WHERE s.member_id {members} AND s.created_at >= :since AND s.created_at <= :as_of "
    "AND r.created_at <= :as_of"
)
_WINDOW_SQL = {
    (name, which): sql.format(members=which)
    for name, sql in (
        ("purchase", _SQL_PURCHASE_ENTRIES),
        ("sales", _SQL_SALES_TOTALS),
        ("refunded", _SQL_REFUNDED_LINES),
    )
    for which in (_ONE, _MANY)
}


def purchase_points_since(
    session: Session, member_id: str, since: dt.datetime, as_of: dt.datetime | None = None
) -> int:
    """Points earned by purchases made since ``since``, net of their refunds (daily cap,
    tier window; ``core.entries.purchase_points``). A refund today of an older sale does
    not free room in today's cap. With ``as_of``, the ledger as it stood then."""
    params = {"member": member_id, **_window_times(since, as_of)}
    return _purchase_points(session, _ONE, params).get(member_id, 0)


def purchase_points_by_member(
    session: Session, member_ids: Sequence[str], since: dt.datetime
) -> dict[str, int]:
    """:func:`purchase_points_since` of many members at once (those with none left out)."""
    params = {"members": json.dumps(list(member_ids)), **_window_times(since, None)}
    return _purchase_points(session, _MANY, params)


def spend_since(
    session: Session, member_id: str, since: dt.datetime, as_of: dt.datetime | None = None
) -> int:
    """Spend (fen, the order totals) of the sales since ``since``, net of their refunds
    (tier window; the rule is ``core.tiers.window_spend_fen``). With ``as_of``, the
    sales and refunds made by then."""
    params = {"member": member_id, **_window_times(since, as_of)}
    return _spend(session, _ONE, params).get(member_id, 0)


def spend_by_member(
    session: Session, member_ids: Sequence[str], since: dt.datetime
) -> dict[str, int]:
    """:func:`spend_since` of many members at once (those without sales left out)."""
    params = {"members": json.dumps(list(member_ids)), **_window_times(since, None)}
    return _spend(session, _MANY, params)


def _window_times(since: dt.datetime, as_of: dt.datetime | None) -> dict[str, str]:
    return {
        "since": to_db_time(since),
        "as_of": _END_OF_TIME if as_of is None else to_db_time(as_of),
    }


def _purchase_points(session: Session, which: str, params: dict[str, str]) -> dict[str, int]:
    rows: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for member_id, kind, points in raw.execute(session, _WINDOW_SQL["purchase", which], params):
        rows[member_id].append((kind, points))
    return {member_id: purchase_points(entries) for member_id, entries in rows.items()}


def _spend(session: Session, which: str, params: dict[str, str]) -> dict[str, int]:
    totals = raw.execute(session, _WINDOW_SQL["sales", which], params).fetchall()
    refunded: dict[str, list[RefundedLine]] = defaultdict(list)
    for member_id, *line in raw.execute(session, _WINDOW_SQL["refunded", which], params):
        refunded[member_id].append(RefundedLine(*line))
    return {
        member_id: window_spend_fen(int(total), refunded[member_id]) for member_id, total in totals
    }


def earn_lot_of_sale(session: Session, sale_id: str) -> list[str]:
    """Lots the sale's earn entry opened (taken back first on a refund)."""
    return list(
        session.scalars(
            select(LotMove.lot_id)
            .join(LedgerEntry, LedgerEntry.id == LotMove.entry_id)
            .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "earn")
        )
    )


_SQL_SALE_ENTRIES = "SELECT kind, points FROM ledger_entries WHERE sale_id = ?"
_SQL_EARN_LOT_MOVES = (
    "SELECT e.kind, m.points FROM lot_moves m JOIN ledger_entries e ON e.id = m.entry_id "
    "WHERE m.lot_id IN (SELECT em.lot_id FROM lot_moves em "
    "    JOIN ledger_entries ee ON ee.id = em.entry_id "
    "    WHERE ee.sale_id = ? AND ee.kind = 'earn')"
)


def reversible_earned_points(session: Session, sale_id: str) -> int:
    """How many of the points the sale earned a refund may still take back: earned, less
    what earlier refunds took back, less what expired from the lot the sale opened
    (``core.refunds.reversible_earned_points``)."""
    entries = raw.execute(session, _SQL_SALE_ENTRIES, (sale_id,)).fetchall()
    moves = raw.execute(session, _SQL_EARN_LOT_MOVES, (sale_id,)).fetchall()
    return core_refunds.reversible_earned_points(entries, moves)


def spend_moves_of_sale(session: Session, sale_id: str) -> list[tuple[str, int]]:
    """(lot id, points taken) of the sale's spend entry, in the order taken."""
    rows = session.execute(
        select(LotMove.lot_id, LotMove.points)
        .join(LedgerEntry, LedgerEntry.id == LotMove.entry_id)
        .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "spend")
        .order_by(LotMove.id)
    ).all()
    return [(lot_id, -points) for lot_id, points in rows]


_SQL_REFUND_LINES_OF_SALE = (
    "SELECT rl.sale_line_id, rl.quantity FROM refund_lines rl "
    "JOIN sale_lines sl ON sl.id = rl.sale_line_id WHERE sl.sale_id = ?"
)


def refunded_quantities(session: Session, sale_id: str) -> dict[str, int]:
    """Units already refunded per sale line (``core.refunds.refunded_quantities``)."""
    rows = raw.execute(session, _SQL_REFUND_LINES_OF_SALE, (sale_id,)).fetchall()
    return core_refunds.refunded_quantities(rows)


_SQL_PENDING_OFFLINE_POINTS = (
    "SELECT (SELECT COALESCE(SUM(s.points_used - COALESCE(("
    "            SELECT SUM(f.points_restored) FROM refunds f WHERE f.sale_id = s.id), 0)), 0) "
    "        FROM sales s "
    "        WHERE s.member_id = :member_id AND s.points_used > 0 AND EXISTS ("
    "            SELECT 1 FROM outbox o WHERE o.aggregate_id = s.id AND o.kind = 'sale' "
    "            AND o.sent_at IS NULL)) "
    "     + (SELECT COALESCE(SUM(r.points), 0) FROM mall_redemptions r "
    "        JOIN outbox o ON o.aggregate_id = r.id "
    "        WHERE r.member_id = :member_id AND o.kind = 'redemption' AND o.sent_at IS NULL)"
)


def pending_offline_points(session: Session, member_id: str) -> int:
    """Points this till let the member spend (in sales and in the mall) that HQ has not
    acknowledged yet, less what refunds of those sales gave back: what counts against
    the offline allowance.

    Driven from the member's own sales that used points (``ix_sales_member_time``) and
    their own redemptions, each probing the partial index of unsent events by aggregate
    id (``ix_outbox_pending_aggregate``, migration 0004): the cost does not grow with the
    backlog of unsent events, which an offline till adds to with every sale.
    """
    params = {"member_id": member_id}
    return int(raw.execute(session, _SQL_PENDING_OFFLINE_POINTS, params).fetchone()[0])


AUDIT_KIND = "audit"
"""Outbox kind of the audit chain's events: they wait apart from the ledger's (an HQ that
does not take them yet holds nothing else up) and are not counted as pending sync."""


def pending_outbox(session: Session) -> int:
    """Ledger events waiting for HQ (audit events left out: :func:`pending_audit`)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None), OutboxEvent.kind != AUDIT_KIND)
        ).scalar_one()
    )


def pending_audit(session: Session) -> int:
    """Audit rows whose hashes HQ has not acknowledged yet."""
    return int(
        session.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None), OutboxEvent.kind == AUDIT_KIND)
        ).scalar_one()
    )


def db_time(value: dt.datetime) -> str:
    """Re-exported for raw SQL callers."""
    return to_db_time(value)
