"""Cashier and manager accounts with argon2-hashed PINs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.services.context import TillContext
from pos_app.services.errors import AuthError
from pos_app.store.models import User
from pos_app.store.types import new_id

ROLES = ("cashier", "manager")
_PIN = re.compile(r"^\d{4,8}$")
# Interactive logins at a till: cheap enough to feel instant, still memory-hard.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class UserInfo:
    """A logged-in user."""

    id: str
    name: str
    role: str

    @property
    def is_manager(self) -> bool:
        """Managers approve refunds and adjustments."""
        return self.role == "manager"


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


def verify_pin(ctx: TillContext, user_id: str, pin: str) -> UserInfo:
    """The user, if ``pin`` is theirs.

    Raises:
        AuthError: unknown or inactive user, or a wrong PIN.
    """
    with ctx.db.read() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise AuthError(QT_TRANSLATE_NOOP("Errors", "Unknown user."))
        stored = user.pin_hash
        info = UserInfo(user.id, user.name, user.role)
    try:
        _hasher.verify(stored, pin or "")
    except (VerificationError, InvalidHashError):
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "Wrong PIN.")) from None
    return info


def verify_manager(ctx: TillContext, user_id: str, pin: str) -> UserInfo:
    """A manager's approval: their PIN, and the manager role."""
    info = verify_pin(ctx, user_id, pin)
    if not info.is_manager:
        raise AuthError(QT_TRANSLATE_NOOP("Errors", "Only a manager can approve this."))
    return info


def find_manager_by_pin(ctx: TillContext, pin: str) -> UserInfo:
    """The manager whose PIN this is (approval by PIN alone at the counter)."""
    for user in list_users(ctx):
        if user.is_manager:
            try:
                return verify_pin(ctx, user.id, pin)
            except AuthError:
                continue
    raise AuthError(QT_TRANSLATE_NOOP("Errors", "No manager has this PIN."))


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
