"""The till's users as the screens see them (no database code: the login screen imports
this before the database layer is loaded)."""

from __future__ import annotations

from dataclasses import dataclass

#: Setting naming the user who logged in last on this till (pre-selected at login).
LAST_LOGIN_SETTING = "last_login_user"


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
