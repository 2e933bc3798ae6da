"""Users, their PIN attempts, and the audit log (who did what)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pos_app.store import raw
from pos_app.store.models import AuditLog, PinAttempts, User

SQL_LAST_AUDIT = "SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
SQL_TRIGGERS = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
SQL_UNCHAINED_AUDIT = "SELECT id FROM audit_log WHERE seq IS NULL"
AUDIT_CHAIN_COLUMNS = (
    "seq",
    "id",
    "at",
    "actor_id",
    "action",
    "subject",
    "detail",
    "prev_hash",
    "row_hash",
)
SQL_AUDIT_CHAIN = (
    f"SELECT {', '.join(AUDIT_CHAIN_COLUMNS)} FROM audit_log WHERE seq IS NOT NULL ORDER BY seq"
)


# -- users ---------------------------------------------------------------------------------
def active_users(session: Session) -> list[User]:
    """Active users, by name."""
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)))


def has_users(session: Session) -> bool:
    """True when the till has at least one user."""
    return session.execute(select(func.count()).select_from(User)).scalar_one() > 0


def user_names(session: Session) -> dict[str, str]:
    """Every user's name by id."""
    return {uid: name for uid, name in session.execute(select(User.id, User.name)).all()}


def get_user(session: Session, user_id: str) -> User | None:
    """The user's ORM row, or None."""
    return session.get(User, user_id)


def add_user(session: Session, user: User) -> None:
    """Add a new user row to the session."""
    session.add(user)


# -- PIN attempts ----------------------------------------------------------------------------
def pin_attempts(session: Session, scope: str) -> PinAttempts | None:
    """The failed-PIN counter of ``scope``, or None."""
    return session.get(PinAttempts, scope)


def add_pin_attempts(session: Session, row: PinAttempts) -> None:
    """Add a new failed-PIN counter to the session."""
    session.add(row)


def clear_pin_attempts(session: Session, scope: str) -> None:
    """Forget the failed PINs of ``scope``."""
    session.execute(delete(PinAttempts).where(PinAttempts.scope == scope))


# -- the audit log ---------------------------------------------------------------------------
def last_audit_link(session: Session) -> tuple[int, str] | None:
    """(seq, row hash) of the newest audit row, or None for an empty log."""
    last = raw.execute(session, SQL_LAST_AUDIT).fetchone()
    return None if last is None else (int(last[0]), str(last[1]))


def add_audit_row(session: Session, row: AuditLog) -> None:
    """Write an audit row now (the chain trigger sees it before the next is numbered)."""
    session.add(row)
    session.flush()


def trigger_names(conn: sqlite3.Connection) -> set[str]:
    """Names of the database's triggers."""
    return {row[0] for row in conn.execute(SQL_TRIGGERS)}


def unchained_audit_ids(conn: sqlite3.Connection) -> list[str]:
    """Ids of audit rows without a number (outside the chain)."""
    return [row_id for (row_id,) in conn.execute(SQL_UNCHAINED_AUDIT)]


def audit_chain(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """The numbered audit rows in order, as dicts of :data:`AUDIT_CHAIN_COLUMNS`."""
    for row in conn.execute(SQL_AUDIT_CHAIN):
        yield dict(zip(AUDIT_CHAIN_COLUMNS, row, strict=True))
