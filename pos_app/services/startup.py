"""The till's start, in two steps: the login screen's figures at once, then the full
opening on the worker thread while the cashier types her PIN.

This module imports no database code at load: :func:`login_glance` reads the file raw
(:mod:`pos_app.store.glance`), :func:`open_for_login` loads the rest when it runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pos_app.services.users import LAST_LOGIN_SETTING, UserInfo
from pos_app.store.glance import glance

if TYPE_CHECKING:
    from pos_app.services.context import TillContext


@dataclass(frozen=True)
class LoginGlance:
    """What the login screen shows before the till is fully open.

    Attributes:
        store_name: The store's name.
        users: The active users, by name.
        last_user_id: Who logged in last on this till, or None.
    """

    store_name: str
    users: tuple[UserInfo, ...]
    last_user_id: str | None


def login_glance(path: Path | str) -> LoginGlance | None:
    """The login screen's figures read straight from the file, or None when the till
    must be fully opened first (a new or old file, a pending migration, no user)."""
    found = glance(path, (LAST_LOGIN_SETTING,))
    if found is None:
        return None
    users = tuple(UserInfo(*row) for row in found.users)
    return LoginGlance(found.store_name, users, found.setting.get(LAST_LOGIN_SETTING))


def open_for_login(path: Path | str) -> TillContext:
    """Open the till (migrations, settings, the rule set) and make sure it has users:
    what :func:`pos_app.ui.app.run_till` does before or after the login screen shows."""
    from pos_app.services.context import open_till
    from pos_app.services.till_session import ensure_demo_users

    ctx = open_till(path)
    ensure_demo_users(ctx)
    return ctx


class TillOpener:
    """The till context, opened once on first call (:func:`open_for_login`).

    The main window calls it on its worker thread, so the database layer is imported
    and the file migrated there while the login screen is already painted. Safe to
    call from any thread; every caller gets the same context.

    Args:
        path: The till's file.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._ctx: TillContext | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> TillContext | None:
        """The context once opened, else None (never opens it)."""
        return self._ctx

    def __call__(self) -> TillContext:
        """The till context, opening the file the first time."""
        with self._lock:
            if self._ctx is None:
                self._ctx = open_for_login(self.path)
            return self._ctx
