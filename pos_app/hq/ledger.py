"""Reading HQ's ledger: rule sets, members, lots, and the facts of sales and refunds.

Points are moved by :meth:`pos_app.hq.book.Book.post` (one entry, the lots it opens or its
moves out of lots, and the cached balance together); this module holds the queries the
appliers, the jobs and the admin views read with, and the tier window's statements the
push's prefetch runs too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, func, select, text
from sqlalchemy.orm import Session, aliased

from pos_app.core import refunds as core_refunds
from pos_app.core.calendar import local_date
from pos_app.core.entries import PURCHASE_KINDS, purchase_points
from pos_app.core.refunds import SoldLine
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.core.tiers import RefundedLine, window_spend_fen
from pos_app.hq.keyed import KEYS, one_of
from pos_app.hq.models import (
    LedgerEntry,
    LotMove,
    Member,
    PointLot,
    Refund,
    RefundLine,
    RuleSetVersion,
    Sale,
    SaleLine,
)

_rules_cache: dict[str, RuleSet] = {}


def rules_for(session: Session, version: str | None) -> RuleSet | None:
    """The published rule set ``version``, or None if HQ does not know it."""
    if version is None:
        return None
    row = session.get(RuleSetVersion, version)
    if row is None:
        return None
    rules = _rules_cache.get(row.document)  # keyed by the text: versions never change
    if rules is None:
        rules = _rules_cache[row.document] = load_rule_set(row.document)
    return rules


def active_rules(session: Session) -> RuleSet:
    """The rule set HQ applies today."""
    # One query for the document (every event asks); parsed once per distinct text.
    document = session.scalars(
        select(RuleSetVersion.document).where(RuleSetVersion.active.is_(True)).limit(1)
    ).first()
    if document is None:
        raise RuntimeError("HQ has no active rule set: run `pos-hq migrate`")
    rules = _rules_cache.get(document)
    if rules is None:
        rules = _rules_cache[document] = load_rule_set(document)
    return rules


def resolve_member(session: Session, member_id: str | None) -> Member | None:
    """The canonical member for ``member_id`` (following aliases), or None."""
    if member_id is None:
        return None
    member = session.get(Member, member_id)
    for _ in range(8):
        if member is None or member.alias_of is None:
            return member
        member = session.get(Member, member.alias_of)
    return member


def open_lots(session: Session, member_id: str) -> list[PointLot]:
    """Lots with points left, soonest expiry first."""
    return list(
        session.scalars(
            select(PointLot)
            .where(PointLot.member_id == member_id, PointLot.remaining > 0)
            .order_by(PointLot.expires_on.asc().nulls_last(), PointLot.id)
        )
    )


def as_sold_lines(rows: Iterable[SaleLine], done: Mapping[str, int]) -> list[SoldLine]:
    """Sale line rows as :class:`pos_app.core.refunds.SoldLine`, with the units ``done``
    already refunded (what :func:`refunded_quantities` returns)."""
    return [
        SoldLine(
            row.id,
            row.quantity,
            row.cash_fen or 0,
            row.points_used or 0,
            row.points_value_fen or 0,
            row.earn_points or 0,
            done.get(row.id, 0),
        )
        for row in rows
    ]


def due_points(session: Session, rules: RuleSet, member_id: str, now: dt.datetime) -> int:
    """Points in lots whose last valid day is before today (store-local)."""
    today = local_date(rules, now)
    return int(
        session.execute(
            select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
                PointLot.member_id == member_id,
                PointLot.remaining > 0,
                PointLot.expires_on < today,
            )
        ).scalar_one()
    )


def ledger_sum(session: Session, member_id: str) -> int:
    """Sum of the member's entries (equals its cached balance)."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id
            )
        ).scalar_one()
    )


def purchase_points_between(
    session: Session,
    member_ids: Sequence[str],
    since: dt.datetime,
    until: dt.datetime | None = None,
    exclude_sale: str | None = None,
) -> int:
    """Points earned by purchases made in [since, until), net of refunds, by a member
    under any of ``member_ids`` (the canonical id and its aliases), in one query
    (``core.entries.purchase_points``)."""
    query = (
        select(LedgerEntry.kind, func.sum(LedgerEntry.points))
        .join(Sale, Sale.id == LedgerEntry.sale_id)
        .where(
            LedgerEntry.member_id.in_(member_ids),
            LedgerEntry.kind.in_(PURCHASE_KINDS),
            Sale.created_at >= since,
        )
        .group_by(LedgerEntry.kind)
    )
    if until is not None:
        query = query.where(Sale.created_at < until)
    if exclude_sale is not None:
        query = query.where(Sale.id != exclude_sale)
    return purchase_points((kind, int(points)) for kind, points in session.execute(query))


def spend_since(session: Session, member_id: str, since: dt.datetime) -> int:
    """Spend (order totals, fen) since ``since``, net of what refunds gave back
    (``core.tiers.window_spend_fen``)."""
    return spend_since_of(session, [member_id], since)[member_id]


def spend_since_of(
    session: Session, member_ids: Sequence[str], since: dt.datetime
) -> dict[str, int]:
    """:func:`spend_since` of each of ``member_ids`` (0 without sales), in two grouped
    queries over ``ix_sales_member_time``: the statements the push reads its buyers'
    tier windows with (:meth:`pos_app.hq.book.Book.prefetch`)."""
    pg = session.get_bind().dialect.name == "postgresql"
    window = {KEYS: list(member_ids), "since": since}
    totals = {str(m): int(fen or 0) for m, fen in session.execute(spend_sum_query(pg), window)}
    refunded: dict[str, list[RefundedLine]] = {m: [] for m in member_ids}
    for member_id, line_id, cash, value, sold, qty in session.execute(
        refunded_lines_query(pg), window
    ):
        refunded[str(member_id)].append(
            RefundedLine(line_id, cash or 0, value or 0, sold, int(qty))
        )
    return {m: window_spend_fen(totals.get(m, 0), refunded[m]) for m in member_ids}


# The tier window's statements, built once per dialect (a member's sales since a time,
# and their refunded lines, each refunded quantity summed per line).
_SALES: Table = Sale.__table__  # type: ignore[assignment]
_SALE_LINES: Table = SaleLine.__table__  # type: ignore[assignment]
_REFUND_LINES: Table = RefundLine.__table__  # type: ignore[assignment]


@cache
def spend_sum_query(pg: bool) -> Select[Any]:
    """(member id, order totals in fen) of sales made since ``:since`` by ``:keys``."""
    since = bindparam("since", type_=_SALES.c.created_at.type)
    return (
        select(_SALES.c.member_id, func.sum(_SALES.c.total_fen))
        .where(one_of(_SALES.c.member_id, pg=pg), _SALES.c.created_at >= since)
        .group_by(_SALES.c.member_id)
    )


@cache
def refunded_lines_query(pg: bool) -> Select[Any]:
    """(member id, line id, line cash, line points value, sold, refunded) of refunded
    lines of sales made since ``:since`` by ``:keys``."""
    since = bindparam("since", type_=_SALES.c.created_at.type)
    return (
        select(
            _SALES.c.member_id,
            _SALE_LINES.c.id,
            _SALE_LINES.c.cash_fen,
            _SALE_LINES.c.points_value_fen,
            _SALE_LINES.c.quantity,
            func.sum(_REFUND_LINES.c.quantity),
        )
        .join(_SALE_LINES, _SALE_LINES.c.id == _REFUND_LINES.c.sale_line_id)
        .join(_SALES, _SALES.c.id == _SALE_LINES.c.sale_id)
        .where(one_of(_SALES.c.member_id, pg=pg), _SALES.c.created_at >= since)
        .group_by(
            _SALES.c.member_id,
            _SALE_LINES.c.id,
            _SALE_LINES.c.cash_fen,
            _SALE_LINES.c.points_value_fen,
            _SALE_LINES.c.quantity,
        )
    )


def refunded_quantities(session: Session, sale_id: str) -> dict[str, int]:
    """Units already refunded per sale line (``core.refunds.refunded_quantities``)."""
    rows = session.execute(
        select(RefundLine.sale_line_id, RefundLine.quantity)
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.sale_id == sale_id)
    ).all()
    return core_refunds.refunded_quantities((line_id, qty) for line_id, qty in rows)


def spent_lots_of_sale(session: Session, sale_id: str) -> list[tuple[int, dt.date | None]]:
    """(points taken, the lot's expiry) of the sale's spend entries, in the order taken."""
    rows = session.execute(
        select(LotMove.points, PointLot.expires_on)
        .join(
            LedgerEntry,
            and_(LedgerEntry.member_id == LotMove.member_id, LedgerEntry.id == LotMove.entry_id),
        )
        .join(
            PointLot, and_(PointLot.member_id == LotMove.member_id, PointLot.id == LotMove.lot_id)
        )
        .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "spend")
        .order_by(LotMove.id)
    ).all()
    return [(-int(points), expires_on) for points, expires_on in rows]


def reversible_earned_points(session: Session, sale_id: str) -> int:
    """How many of the points the sale earned a refund may still take back: earned, less
    what refunds took back, less what expired from the lots the sale opened (as at the
    till: ``core.refunds.reversible_earned_points``)."""
    entries = session.execute(
        select(LedgerEntry.kind, LedgerEntry.points).where(LedgerEntry.sale_id == sale_id)
    ).all()
    mover = aliased(LedgerEntry)
    moves = session.execute(
        select(mover.kind, LotMove.points)
        .join(mover, and_(mover.member_id == LotMove.member_id, mover.id == LotMove.entry_id))
        .where(LotMove.lot_id.in_(earn_lots_of_sale_query(sale_id)))
    ).all()
    return core_refunds.reversible_earned_points(
        ((kind, int(points)) for kind, points in entries),
        ((kind, int(points)) for kind, points in moves),
    )


def earn_lots_of_sale_query(sale_id: str) -> Select[Any]:
    """The ids of the lots the sale's earn entries opened, as a subquery."""
    return (
        select(PointLot.id)
        .join(
            LedgerEntry,
            and_(LedgerEntry.member_id == PointLot.member_id, LedgerEntry.id == PointLot.entry_id),
        )
        .where(LedgerEntry.sale_id == sale_id, LedgerEntry.kind == "earn")
    )


def earn_lots_of_sale(session: Session, sale_id: str) -> list[str]:
    """Lots the sale's earn entries opened."""
    return list(session.scalars(earn_lots_of_sale_query(sale_id)))


def sale_facts(session: Session, sale_id: str) -> Any:
    """A recorded sale's id, store, channel, member and rule set version, or None."""
    return session.execute(
        select(
            Sale.id,
            Sale.store_code,
            Sale.source_channel,
            Sale.member_id,
            Sale.member_ref,
            Sale.rule_set_version,
        ).where(Sale.id == sale_id)
    ).first()


def sale_lines_of(session: Session, sale_id: str) -> list[Any]:
    """The sale's lines as plain rows."""
    table = SaleLine.__table__
    return list(session.execute(select(table).where(table.c.sale_id == sale_id)))


def restored_points_of_sale(session: Session, sale_id: str) -> int:
    """Spent points the sale's refunds gave back so far."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(Refund.points_restored), 0)).where(
                Refund.sale_id == sale_id
            )
        ).scalar_one()
    )


def member_ids_of(session: Session, canonical_id: str) -> list[str]:
    """The canonical member and every alias merged into it."""
    aliases = session.scalars(select(Member.id).where(Member.alias_of == canonical_id))
    return [canonical_id, *aliases]


# The references the push's hot tables hold without a foreign key (HQ migration
# 0050_ingest), and the entry ids no index keeps unique chain-wide (0080): (what, the
# query counting the rows at fault). The book checks
# each one before it writes; ``pos-hq audit verify`` runs these over the whole ledger.
_DANGLING = (
    (
        "ledger entries of no member",
        "SELECT count(*) FROM ledger_entries e"
        " WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = e.member_id)",
    ),
    (
        "ledger entries of no sale",
        "SELECT count(*) FROM ledger_entries e"
        " WHERE e.sale_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.id = e.sale_id)",
    ),
    (
        "ledger entries of no refund",
        "SELECT count(*) FROM ledger_entries e"
        " WHERE e.refund_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.id = e.refund_id)",
    ),
    (
        "sales of no member",
        "SELECT count(*) FROM sales s WHERE s.member_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = s.member_id)",
    ),
    (
        "sale lines of no sale",
        "SELECT count(*) FROM sale_lines l"
        " WHERE NOT EXISTS (SELECT 1 FROM sales s WHERE s.id = l.sale_id)",
    ),
    (
        "lots of no entry",
        "SELECT count(*) FROM lots t WHERE NOT EXISTS"
        " (SELECT 1 FROM ledger_entries e WHERE e.member_id = t.member_id AND e.id = t.entry_id)",
    ),
    (
        "lot moves of no entry",
        "SELECT count(*) FROM lot_moves v WHERE NOT EXISTS"
        " (SELECT 1 FROM ledger_entries e WHERE e.member_id = v.member_id AND e.id = v.entry_id)",
    ),
    (
        "lot moves of no lot",
        "SELECT count(*) FROM lot_moves v WHERE NOT EXISTS"
        " (SELECT 1 FROM lots t WHERE t.member_id = v.member_id AND t.id = v.lot_id)",
    ),
    (
        "member scopes of no member",
        "SELECT count(*) FROM member_scopes c"
        " WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = c.member_id)",
    ),
    # An entry id is checked in its member's ledger (the key is member id + entry id,
    # HQ migration 0080): one recorded under two members is found here.
    (
        "ledger entry ids recorded under two members",
        "SELECT count(*) FROM (SELECT id FROM ledger_entries GROUP BY id HAVING count(*) > 1) d",
    ),
)


def dangling_references(session: Session) -> dict[str, int]:
    """Rows of the ledger's hot tables that name a member, sale, refund, entry or lot
    that does not exist, by kind (only kinds found). Each check is one anti-join over
    its table (a full pass: an audit, not a hot path)."""
    found = {}
    for what, sql in _DANGLING:
        count = int(session.execute(text(sql)).scalar_one())
        if count:
            found[what] = count
    return found
