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
    SELECT m.id, m.balance,
           COALESCE((SELECT SUM(points) FROM ledger_entries e WHERE e.member_id = m.id), 0),
           COALESCE((SELECT SUM(remaining) FROM point_lots l WHERE l.member_id = m.id), 0)
    FROM members m
    """
)


def balance_mismatches(session: Session, limit: int = 100) -> list[Mismatch]:
    """Members whose cached balance differs from the ledger sum, or whose lots
    hold a different total than a non-negative balance (a negative balance is a
    debt with no lots)."""
    out: list[Mismatch] = []
    for member_id, cached, ledger, lots in session.execute(CHECK_SQL):
        if cached != ledger or lots != max(ledger, 0):
            out.append(Mismatch(member_id, cached, ledger, lots))
            if len(out) >= limit:
                break
    return out
