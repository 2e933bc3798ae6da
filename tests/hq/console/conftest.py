"""Console fixtures: HQ on the real PostgreSQL (tests.hq.conftest) with one operator of
each role, and a browser-like client that signs in and posts forms with their CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from pos_app.hq.console import auth
from pos_app.hq.console.models import ROLES
from tests.hq.conftest import HQ

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Console:
    """The console of ``hq`` for one signed-in operator."""

    hq: HQ

    @property
    def client(self) -> Any:
        return self.hq.client

    def login(self, username: str, password: str = PASSWORD) -> Any:
        """Sign in as ``username`` (through the sign-in form); returns the response."""
        self.client.cookies.clear()
        page = self.client.get("/console/login")
        assert page.status_code == 200
        token = CSRF_RE.search(page.text)
        assert token is not None
        return self.client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf": token.group(1)},
            follow_redirects=False,
        )

    def csrf(self, path: str = "/console/") -> str:
        """The session's CSRF token, as a page's forms carry it."""
        page = self.client.get(path)
        found = CSRF_RE.search(page.text)
        assert found is not None, page.text[:500]
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True) -> Any:
        """POST a form as the page would (with the CSRF token unless ``csrf`` is False)."""
        body = dict(data or {})
        if csrf:
            body["csrf"] = self.csrf()
        return self.client.post(path, data=body, follow_redirects=False)


@pytest.fixture
def console(hq: HQ) -> Console:
    """HQ with operators ``viewer``, ``marketing``, ``finance`` and ``admin``."""
    for role in ROLES:
        auth.add_operator(hq.db, role, PASSWORD, role, hq.clock(), actor="test")
    return Console(hq)


def overspend(hq: HQ) -> tuple[str, int]:
    """A member registered at store 001 who then overspent offline at store 002:
    returns (member id, the overspend flag's id)."""
    from tests.hq.support import basket

    home, away = hq.till("001", "01"), hq.till("002", "01")
    member_id, registered = home.register("13812345678", name="张三")
    hq.push_ok(hq.till1, registered)
    away.know(member_id, 2500)  # an old view: HQ holds the registration bonus only
    hq.push_ok(hq.till2, away.sale(member_id, basket(150), points=2000))
    (flag,) = hq.flags("overspend")
    return member_id, int(flag["id"])
