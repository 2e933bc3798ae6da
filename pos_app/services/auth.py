"""Cashier and manager accounts with argon2-hashed PINs, and what stops PIN guessing.

Wrong PINs are counted per user and per till (``pin_attempts``), each one audited: the
first few cost nothing, then each costs a doubling wait, and a run of them locks the
user out for a while; many on one till within a window block every PIN entry on it
(:class:`PinPolicy`). Login and the manager's approval share the count. An approval
names the manager (picked by name, then her PIN): there is no approval by PIN alone.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.services import audit
from pos_app.services.context import TillContext
from pos_app.services.errors import AuthError
from pos_app.services.users import LAST_LOGIN_SETTING, UserInfo
from pos_app.store import repo
from pos_app.store.models import PinAttempts, User
from pos_app.store.types import new_id

ROLES = ("cashier", "manager")
_PIN = re.compile(r"^\d{4,8}$")
# Interactive logins at a till: cheap enough to feel instant, still memory-hard.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def create_user(ctx: TillContext, name: str, role: str, pin: str) -> UserInfo:
    """Add a user with a 4-8 digit PIN."""
    if role not in ROLES:
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "Unknown role {role}."), role=role)
    if not _PIN.match(pin):
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "A PIN is 4 to 8 digits."))
    if not name.strip():
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "A user needs a name."))
    user = User(id=new_id(), name=name.strip(), role=role, pin_hash=_hasher.hash(pin), active=True)
    with ctx.db.write() as session:
        session.add(user)
    return UserInfo(user.id, user.name, user.role)


def list_users(ctx: TillContext) -> list[UserInfo]:
    """Active users, by name."""
    with ctx.db.read() as session:
        rows = session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
        return [UserInfo(u.id, u.name, u.role) for u in rows]


def last_login_user_id(ctx: TillContext) -> str | None:
    """The user who logged in last on this till (the login screen pre-selects her),
    or None before the first login."""
    with ctx.db.read() as session:
        return repo.get_setting(session, LAST_LOGIN_SETTING)


def login_users(ctx: TillContext) -> tuple[list[UserInfo], str | None]:
    """The login screen's list: the active users and the id of the one to pre-select."""
    return list_users(ctx), last_login_user_id(ctx)


@dataclass(frozen=True)
class PinPolicy:
    """How wrong PINs slow down and lock out (per user, and for the whole till).

    Attributes:
        free_failures: Wrong PINs in a row a user may enter with no wait.
        first_delay_s: The wait after the next wrong PIN; it doubles with each one after.
        lock_after: Wrong PINs in a row that lock the user out for ``lockout_s``.
        lockout_s: How long a locked-out user waits (a right PIN does not help meanwhile).
        till_failures: Wrong PINs on this till (any users) within ``till_window_s``
            that block every PIN entry on it for ``till_lockout_s``.
        till_window_s: The window the till's failures are counted in.
        till_lockout_s: How long the till refuses PINs after that.
    """

    free_failures: int = 3
    first_delay_s: int = 5
    lock_after: int = 10
    lockout_s: int = 15 * 60
    till_failures: int = 20
    till_window_s: int = 15 * 60
    till_lockout_s: int = 5 * 60

    def user_wait(self, failures: int) -> dt.timedelta:
        """The wait after the ``failures``-th wrong PIN in a row of one user."""
        if failures >= self.lock_after:
            return dt.timedelta(seconds=self.lockout_s)
        if failures <= self.free_failures:
            return dt.timedelta(0)
        delay = self.first_delay_s * 2 ** (failures - self.free_failures - 1)
        return dt.timedelta(seconds=min(delay, self.lockout_s))


PIN_POLICY = PinPolicy()
TILL_SCOPE = "till"

Purpose = Literal["login", "approval"]


class PinLocked(AuthError):
    """PIN entry refused for now: too many wrong PINs (the user's or the till's)."""


def _user_scope(user_id: str) -> str:
    return f"user:{user_id}"


def _blocked_for(ctx: TillContext, user_id: str, now: dt.datetime) -> int:
    """Seconds the user (or the whole till) must still wait; 0 when PINs are taken."""
    with ctx.db.read() as session:
        waits = [
            row.blocked_until
            for row in (
                session.get(PinAttempts, _user_scope(user_id)),
                session.get(PinAttempts, TILL_SCOPE),
            )
            if row is not None and row.blocked_until is not None and row.blocked_until > now
        ]
    return math.ceil(max((w - now).total_seconds() for w in waits)) if waits else 0


def _count_failure(
    session: Session, scope: str, now: dt.datetime, *, window_s: int | None = None
) -> PinAttempts:
    row = session.get(PinAttempts, scope)
    if row is None:
        row = PinAttempts(scope=scope, failures=0)
        session.add(row)
    stale = window_s is not None and (
        row.last_failure_at is None or now - row.last_failure_at > dt.timedelta(seconds=window_s)
    )
    row.failures = 1 if stale else row.failures + 1
    row.last_failure_at = now
    return row


def _record_failure(ctx: TillContext, user_id: str, now: dt.datetime, purpose: Purpose) -> int:
    """Count a wrong PIN for the user and the till, set their waits, audit it; the
    seconds the user must now wait."""
    policy = PIN_POLICY
    with ctx.db.write() as session:
        user = _count_failure(session, _user_scope(user_id), now)
        wait = policy.user_wait(user.failures)
        user.blocked_until = now + wait if wait else None
        till = _count_failure(session, TILL_SCOPE, now, window_s=policy.till_window_s)
        till_locked = till.failures >= policy.till_failures
        if till_locked:
            till.blocked_until = now + dt.timedelta(seconds=policy.till_lockout_s)
            till.failures = 0
        detail = {
            "purpose": purpose,
            "failures": user.failures,
            "wait_s": int(wait.total_seconds()),
        }
        audit.record(
            session, at=now, actor_id=user_id, action="pin_failed", subject=user_id, detail=detail
        )
        if till_locked:
            audit.record(
                session,
                at=now,
                actor_id=user_id,
                action="pin_till_locked",
                subject=TILL_SCOPE,
                detail={"purpose": purpose, "lockout_s": policy.till_lockout_s},
            )
    return int(wait.total_seconds())


def _clear_failures(ctx: TillContext, user_id: str) -> None:
    with ctx.db.read() as session:
        row = session.get(PinAttempts, _user_scope(user_id))
        if row is None or not row.failures:
            return
    with ctx.db.write() as session:
        session.execute(delete(PinAttempts).where(PinAttempts.scope == _user_scope(user_id)))


def _refuse_blocked(ctx: TillContext, user_id: str, now: dt.datetime, purpose: Purpose) -> None:
    wait = _blocked_for(ctx, user_id, now)
    if not wait:
        return
    with ctx.db.write() as session:
        audit.record(
            session,
            at=now,
            actor_id=user_id,
            action="pin_blocked",
            subject=user_id,
            detail={"purpose": purpose, "wait_s": wait},
        )
    raise PinLocked(
        QT_TRANSLATE_NOOP("Errors", "Too many wrong PINs: try again in {seconds} s."),
        seconds=wait,
    )


def verify_pin(ctx: TillContext, user_id: str, pin: str, *, purpose: Purpose = "login") -> UserInfo:
    """The user, if ``pin`` is theirs. Wrong PINs are counted per user and per till and
    audited; after :attr:`PinPolicy.free_failures` of them each costs a growing wait,
    and :attr:`PinPolicy.lock_after` lock the user out (:data:`PIN_POLICY`).

    Raises:
        PinLocked: the user or the till must wait (the PIN was not even checked).
        AuthError: unknown or inactive user, or a wrong PIN.
    """
    now = ctx.now()
    _refuse_blocked(ctx, user_id, now, purpose)
    with ctx.db.read() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise AuthError(QT_TRANSLATE_NOOP("Errors", "Unknown user."))
        stored = user.pin_hash
        info = UserInfo(user.id, user.name, user.role)
    try:
        _hasher.verify(stored, pin or "")
    except (VerificationError, InvalidHashError):
        wait = _record_failure(ctx, user_id, now, purpose)
        if wait:
            raise PinLocked(
                QT_TRANSLATE_NOOP("Errors", "Wrong PIN. Try again in {seconds} s."), seconds=wait
            ) from None
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "Wrong PIN.")) from None
    _clear_failures(ctx, user_id)
    if purpose == "login":
        with ctx.db.write() as session:
            repo.put_setting(session, LAST_LOGIN_SETTING, user_id)
    return info


def verify_manager(ctx: TillContext, user_id: str, pin: str) -> UserInfo:
    """A manager's approval: the manager picked by name, her PIN (counted and locked out
    as at login, :func:`verify_pin`), and the manager role."""
    info = verify_pin(ctx, user_id, pin, purpose="approval")
    if not info.is_manager:
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "Only a manager can approve this."))
    return info


def list_managers(ctx: TillContext) -> list[UserInfo]:
    """Active managers, by name (the approval dialog's choice)."""
    return [u for u in list_users(ctx) if u.is_manager]


def require_manager(ctx: TillContext, user_id: str) -> UserInfo:
    """The logged-in user ``user_id``, if a manager (the manager views, the lottery draw).

    Raises:
        AuthError: unknown or inactive user, or not a manager.
    """
    with ctx.db.read() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise AuthError(QT_TRANSLATE_NOOP("Errors", "Unknown user."))
        info = UserInfo(user.id, user.name, user.role)
    if not info.is_manager:
        raise AuthError(
            QT_TRANSLATE_NOOP("Errors", "Only a manager can do this: log in as a manager.")
        )
    return info
