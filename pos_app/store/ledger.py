"""The ledger and its lots: entries, lot moves, point lots, and the figures read from
them (balances, the tier window, what a refund may take back, the offline allowance).

The queries every checkout runs are constant SQL on the session's own sqlite3
connection (see store/raw.py): through SQLAlchemy each one cost more Python than SQLite
takes to answer it (benchmarks/bench_checkout.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.core import refunds as core_refunds
from pos_app.core.entries import PURCHASE_KINDS, purchase_points
from pos_app.core.lots import Lot
from pos_app.core.tiers import RefundedLine, window_spend_fen
from pos_app.store import raw
from pos_app.store.models import LedgerEntry, LotMove, Member, PointLot
from pos_app.store.raw import from_db_date
from pos_app.store.types import to_db_time

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


def write_entry(
    session: Session,
    entry: dict[str, Any],
    *,
    new_lots: Sequence[dict[str, Any]] = (),
    lot_updates: Sequence[tuple[str, int]] = (),
    moves: Sequence[dict[str, Any]] = (),
    balance: int,
) -> None:
    """Write one ledger entry with its new lots, the lots it drew from (new remaining
    points), its lot moves and the member's new cached balance, as constant SQL on the
    session's connection (``store.raw``: the ORM unit of work, even Core inserts, cost
    milliseconds per sale)."""
    raw.insert_rows(session, LedgerEntry, [entry])
    if new_lots:
        raw.insert_rows(session, PointLot, new_lots)
    if lot_updates:
        raw.update_many(session, PointLot, "remaining", lot_updates)
        _expire_loaded(session, {lot_id for lot_id, _ in lot_updates})
    if moves:
        raw.insert_rows(session, LotMove, moves)
    raw.update_row(session, Member, entry["member_id"], {"balance": balance})


def _expire_loaded(session: Session, ids: set[str]) -> None:
    """ORM objects of rows written by raw statements must not show old figures."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, PointLot) and obj.id in ids:
            session.expire(obj, ["remaining"])


def get_lot(session: Session, lot_id: str) -> PointLot | None:
    """The lot's ORM row, or None."""
    return session.get(PointLot, lot_id)


def members_with_expired_lots(session: Session, today: dt.date, limit: int) -> list[str]:
    """Up to ``limit`` members holding open lots whose last valid day is before ``today``."""
    return list(
        session.scalars(
            select(PointLot.member_id)
            .where(PointLot.remaining > 0, PointLot.expires_on < today)
            .distinct()
            .limit(limit)
        )
    )


# -- the member's figures as they stood (receipts, reprints) ----------------------------------
SQL_CUT_OF_SALE = (
    "SELECT created_at, rowid FROM ledger_entries "
    "WHERE member_id = :member AND sale_id = :ref AND refund_id IS NULL "
    "ORDER BY created_at DESC, rowid DESC LIMIT 1"
)
SQL_CUT_OF_REFUND = (
    "SELECT created_at, rowid FROM ledger_entries "
    "WHERE member_id = :member AND refund_id = :ref "
    "ORDER BY created_at DESC, rowid DESC LIMIT 1"
)
SQL_CUT_BY_TIME = (
    "SELECT created_at, rowid FROM ledger_entries "
    "WHERE member_id = :member AND created_at <= :at "
    "ORDER BY created_at DESC, rowid DESC LIMIT 1"
)
# Entries in ledger order (created_at, then insertion order) up to and including the cut.
_UP_TO_CUT = "(le.created_at < :cut_at OR (le.created_at = :cut_at AND le.rowid <= :cut_row))"
SQL_BALANCE_AT = (
    "SELECT COALESCE(SUM(le.points), 0) FROM ledger_entries le "
    f"WHERE le.member_id = :member AND {_UP_TO_CUT}"
)
SQL_LOTS_AT = (
    "SELECT lm.lot_id, SUM(lm.points), pl.expires_on FROM lot_moves lm "
    "JOIN ledger_entries le ON le.id = lm.entry_id "
    "JOIN point_lots pl ON pl.id = lm.lot_id "
    f"WHERE le.member_id = :member AND {_UP_TO_CUT} "
    "GROUP BY lm.lot_id HAVING SUM(lm.points) > 0"
)

LedgerCut = tuple[str, int]
"""A place in a member's ledger: (created_at as stored, rowid) of its last entry."""


def ledger_cut(
    session: Session,
    member_id: str,
    at: dt.datetime,
    *,
    sale_id: str | None = None,
    refund_id: str | None = None,
) -> LedgerCut | None:
    """The last ledger entry of the sale (or refund); else the member's last one by ``at``."""
    row = None
    if refund_id is not None:
        row = raw.execute(
            session, SQL_CUT_OF_REFUND, {"member": member_id, "ref": refund_id}
        ).fetchone()
    elif sale_id is not None:
        row = raw.execute(
            session, SQL_CUT_OF_SALE, {"member": member_id, "ref": sale_id}
        ).fetchone()
    if row is None:
        params = {"member": member_id, "at": to_db_time(at)}
        row = raw.execute(session, SQL_CUT_BY_TIME, params).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def balance_at(session: Session, member_id: str, cut: LedgerCut | None) -> int:
    """The member's balance right after the entry ``cut`` (0 before any)."""
    if cut is None:
        return 0
    params = {"member": member_id, "cut_at": cut[0], "cut_row": cut[1]}
    return int(raw.execute(session, SQL_BALANCE_AT, params).fetchone()[0])


def lots_at(session: Session, member_id: str, cut: LedgerCut | None) -> list[Lot]:
    """The member's open lots right after the entry ``cut``."""
    if cut is None:
        return []
    params = {"member": member_id, "cut_at": cut[0], "cut_row": cut[1]}
    return [
        Lot(lot_id, int(remaining), from_db_date(expires))
        for lot_id, remaining, expires in raw.execute(session, SQL_LOTS_AT, params)
    ]


# -- entries by id (pulled changes) ---------------------------------------------------------
SQL_LAST_ENTRY_ROWID = "SELECT COALESCE(MAX(rowid), 0) FROM ledger_entries"
SQL_ENTRY_ROWID = "SELECT rowid FROM ledger_entries WHERE id = ?"


def get_entry(session: Session, entry_id: str) -> LedgerEntry | None:
    """The entry's ORM row, or None."""
    return session.get(LedgerEntry, entry_id)


def entries_by_id(session: Session, entry_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(points, member id) of the entries among ``entry_ids`` the till holds."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(entry_ids), 500):
        chunk = list(entry_ids[start : start + 500])
        for entry_id, points, member_id in session.execute(
            select(LedgerEntry.id, LedgerEntry.points, LedgerEntry.member_id).where(
                LedgerEntry.id.in_(chunk)
            )
        ):
            found[entry_id] = (int(points), member_id)
    return found


def last_entry_rowid(session: Session) -> int:
    """The rowid of the newest ledger entry (0 for an empty ledger)."""
    return int(raw.execute(session, SQL_LAST_ENTRY_ROWID).fetchone()[0])


def entry_rowid(session: Session, entry_id: str) -> int | None:
    """The rowid of the entry (its place in the till's ledger), or None."""
    row = raw.execute(session, SQL_ENTRY_ROWID, (entry_id,)).fetchone()
    return None if row is None else int(row[0])
