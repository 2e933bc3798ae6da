"""Console operators, their roles, passwords and sessions.

* Passwords are argon2id hashes (``argon2-cffi``'s defaults); at least
  :data:`MIN_PASSWORD` characters. Five wrong passwords in a row lock the account for
  :data:`LOCKOUT` (each failure is audited, never the password typed).
* A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie; HQ keeps
  its SHA-256 with a CSRF token every POST form must carry. It ends after
  :data:`IDLE` without a request, or :data:`LIFETIME` after sign-in, whichever is first.
* Roles grant capabilities (:data:`CAPABILITIES`); a page or button outside the role is
  not shown and its URL answers 403.
* Every change (operators, sign-in and sign-out) is in HQ's audit trail.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pos_app.hq import audit
from pos_app.hq.console.models import ROLES, ConsoleSession, Operator
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, NotFound
from pos_app.hq.security import new_id, token_hash

MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=5)
IDLE = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(minutes=1)

# capability -> roles that have it ("view" is every role's)
CAPABILITIES: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "rules.edit": frozenset({"marketing", "admin"}),
    "mall.edit": frozenset({"marketing", "admin"}),
    "review.decide": frozenset({"finance", "admin"}),
    "members.privacy": frozenset({"admin"}),
    "tills.revoke": frozenset({"admin"}),
    "members.merge": frozenset({"finance", "admin"}),
    "operators.manage": frozenset({"admin"}),
}

_hasher = PasswordHasher()
# verified against when the username is unknown, so both answers take as long
_DUMMY_HASH = _hasher.hash("not a password anyone has")


@dataclass(frozen=True)
class Signed:
    """A signed-in operator, as a request sees them."""

    operator_id: str
    username: str
    display_name: str
    role: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit trail names them."""
        return f"console:{self.username}"[:64]

    def can(self, capability: str) -> bool:
        """Whether their role grants ``capability``."""
        return self.role in CAPABILITIES[capability]


class LoginRefused(Exception):
    """Wrong username or password, a disabled account, or a locked one."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadRequest(f"role: must be one of {', '.join(ROLES)}, not {role!r}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"password: at least {MIN_PASSWORD} characters")


def add_operator(
    db: HQDatabase,
    username: str,
    password: str,
    role: str,
    now: dt.datetime,
    *,
    display_name: str = "",
    actor: str,
) -> str:
    """A new operator; returns their id.

    Raises:
        BadRequest: a bad username, role or password.
        Conflict: the username is taken.
    """
    username = username.strip()
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise BadRequest("username: 1-64 printable characters without spaces")
    _check_role(role)
    _check_password(password)
    with db.write() as s:
        if s.scalars(select(Operator.id).where(Operator.username == username)).first():
            raise Conflict(f"username: operator {username} already exists")
        operator_id = new_id("op")[:32]
        s.add(
            Operator(
                id=operator_id,
                username=username,
                display_name=(display_name or username)[:64],
                role=role,
                password_hash=_hasher.hash(password),
                active=True,
                failed_logins=0,
                locked_until=None,
                created_at=now,
                updated_at=now,
            )
        )
        s.flush()
        audit.record(s, now, actor, "operator.add", operator_id, username=username, role=role)
    return operator_id


def _operator(s: Session, username: str) -> Operator:
    row = s.scalars(select(Operator).where(Operator.username == username)).first()
    if row is None:
        raise NotFound(f"no operator {username}")
    return row


def set_role(db: HQDatabase, username: str, role: str, now: dt.datetime, *, actor: str) -> None:
    """Give ``username`` another role (their sessions end: they sign in again).

    Raises:
        BadRequest: unknown role.
        NotFound: no such operator.
    """
    _check_role(role)
    with db.write() as s:
        row = _operator(s, username)
        before = row.role
        row.role, row.updated_at = role, now
        s.execute(delete(ConsoleSession).where(ConsoleSession.operator_id == row.id))
        s.flush()
        audit.record(s, now, actor, "operator.role", row.id, role=role, was=before)


def disable(db: HQDatabase, username: str, now: dt.datetime, *, actor: str) -> None:
    """``username`` can no longer sign in; their sessions end now.

    Raises:
        NotFound: no such operator.
    """
    with db.write() as s:
        row = _operator(s, username)
        row.active, row.updated_at = False, now
        s.execute(delete(ConsoleSession).where(ConsoleSession.operator_id == row.id))
        s.flush()
        audit.record(s, now, actor, "operator.disable", row.id, username=username)


def enable(db: HQDatabase, username: str, now: dt.datetime, *, actor: str) -> None:
    """``username`` may sign in again (a lock from wrong passwords is lifted).

    Raises:
        NotFound: no such operator.
    """
    with db.write() as s:
        row = _operator(s, username)
        row.active, row.failed_logins, row.locked_until, row.updated_at = True, 0, None, now
        s.flush()
        audit.record(s, now, actor, "operator.enable", row.id, username=username)


def reset_password(
    db: HQDatabase, username: str, password: str, now: dt.datetime, *, actor: str
) -> None:
    """A new password for ``username``: their sessions end, a lock is lifted.

    Raises:
        BadRequest: the password is too short.
        NotFound: no such operator.
    """
    _check_password(password)
    with db.write() as s:
        row = _operator(s, username)
        row.password_hash = _hasher.hash(password)
        row.failed_logins, row.locked_until, row.updated_at = 0, None, now
        s.execute(delete(ConsoleSession).where(ConsoleSession.operator_id == row.id))
        s.flush()
        audit.record(s, now, actor, "operator.password", row.id, username=username)


def keeps_an_admin(db: HQDatabase, username: str) -> bool:
    """Whether an active admin is left once ``username`` is no longer one (the console
    refuses to disable or demote the last one: nobody could manage operators then)."""
    with db.read() as s:
        admins = set(
            s.scalars(
                select(Operator.username).where(Operator.role == "admin", Operator.active.is_(True))
            )
        )
    return username not in admins or bool(admins - {username})


def list_operators(db: HQDatabase) -> list[dict[str, object]]:
    """Every operator (no password hash)."""
    with db.read() as s:
        return [
            {
                "username": o.username,
                "display_name": o.display_name,
                "role": o.role,
                "active": o.active,
                "locked_until": o.locked_until,
                "created_at": o.created_at,
                "updated_at": o.updated_at,
            }
            for o in s.scalars(select(Operator).order_by(Operator.username))
        ]


# -- sessions -------------------------------------------------------------------------------


def login(db: HQDatabase, username: str, password: str, now: dt.datetime) -> str:
    """Check the password and open a session; returns the cookie's token.

    Raises:
        LoginRefused: ``bad_login`` (unknown user, wrong password, disabled) or
            ``locked`` (too many failures; try again later). The failure is audited and
            counted (committed) all the same.
    """
    with db.write() as s:
        row = s.scalars(select(Operator).where(Operator.username == username[:64])).first()
        refused = _refusal(s, row, password, now)
        if refused is None:
            assert row is not None
            token = _open_session(s, row, password, now)
    if refused is not None:
        raise LoginRefused(refused)
    return token


def _refusal(s: Session, row: Operator | None, password: str, now: dt.datetime) -> str | None:
    """Why ``row`` may not sign in with ``password`` (audited), or None."""
    if row is None or not row.active:
        _verify(_DUMMY_HASH, password)
        audit.record(s, now, "console:-", "console.login_failed", row.id if row else None)
        return "bad_login"
    actor = f"console:{row.username}"
    if row.locked_until is not None and row.locked_until > now:
        audit.record(s, now, actor, "console.login_locked", row.id)
        return "locked"
    if _verify(row.password_hash, password):
        return None
    row.failed_logins += 1
    locked = row.failed_logins >= MAX_FAILURES
    if locked:
        row.locked_until, row.failed_logins = now + LOCKOUT, 0
    s.flush()
    audit.record(s, now, actor, "console.login_failed", row.id, locked=locked)
    return "locked" if locked else "bad_login"


def _open_session(s: Session, row: Operator, password: str, now: dt.datetime) -> str:
    row.failed_logins, row.locked_until = 0, None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    s.add(
        ConsoleSession(
            token_hash=token_hash(token),
            operator_id=row.id,
            csrf_token=secrets.token_hex(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + LIFETIME,
        )
    )
    s.flush()
    audit.record(s, now, f"console:{row.username}", "console.login", row.id)
    return token


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def session_of(db: HQDatabase, token: str | None, now: dt.datetime) -> Signed | None:
    """The operator signed in with ``token``, or None (unknown, expired, idle too long,
    or the operator was disabled)."""
    if not token or len(token) > 128:
        return None
    digest = token_hash(token)
    with db.transaction() as s:
        row = s.get(ConsoleSession, digest)
        if row is None:
            return None
        operator = s.get(Operator, row.operator_id)
        if (
            operator is None
            or not operator.active
            or row.expires_at <= now
            or now - row.last_seen_at > IDLE
        ):
            s.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return Signed(
            operator.id, operator.username, operator.display_name, operator.role, row.csrf_token
        )


def logout(db: HQDatabase, token: str | None, now: dt.datetime) -> None:
    """End the session of ``token`` (audited)."""
    if not token:
        return
    with db.write() as s:
        row = s.get(ConsoleSession, token_hash(token))
        if row is None:
            return
        operator = s.get(Operator, row.operator_id)
        s.delete(row)
        s.flush()
        name = operator.username if operator else "-"
        audit.record(s, now, f"console:{name}", "console.logout", row.operator_id)


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
