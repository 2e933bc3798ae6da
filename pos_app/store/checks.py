"""Integrity checks: the cached balance, the ledger and the lots must agree."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Mismatch:
    """A member whose figures disagree."""

    member_id: str
    cached_balance: int
    ledger_sum: int
    lots_remaining: int


CHECK_SQL = text(
    """
    SELECT m.id, m.balance, COALESCE(e.total, 0), COALESCE(l.total, 0)
    FROM members m
    LEFT JOIN (SELECT member_id, SUM(points) AS total FROM ledger_entries GROUP BY member_id) e
           ON e.member_id = m.id
    LEFT JOIN (SELECT member_id, SUM(remaining) AS total FROM point_lots GROUP BY member_id) l
           ON l.member_id = m.id
    WHERE m.balance != COALESCE(e.total, 0)
       OR COALESCE(l.total, 0) != MAX(COALESCE(e.total, 0), 0)
    LIMIT :limit
    """
)


def balance_mismatches(session: Session, limit: int = 100) -> list[Mismatch]:
    """Members whose cached balance differs from the ledger sum, or whose lots
    hold a different total than a non-negative balance (a negative balance is a
    debt with no lots)."""
    return [Mismatch(*row) for row in session.execute(CHECK_SQL, {"limit": limit})]
