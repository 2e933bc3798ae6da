"""Health checks a manager or support can run: the ledger proves every balance."""

from __future__ import annotations

from pos_app.services.context import TillContext
from pos_app.store.checks import Mismatch, balance_mismatches


def ledger_check(ctx: TillContext, limit: int = 100) -> list[Mismatch]:
    """Members whose cached balance, ledger sum and lots disagree (empty = healthy)."""
    with ctx.db.read() as session:
        return balance_mismatches(session, limit)
