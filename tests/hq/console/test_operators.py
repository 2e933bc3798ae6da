"""The operators page (admins only): list, create, change role, disable and enable,
reset a password; every change audited, bad input names its field and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pos_app.hq.console.models import Operator
from tests.hq.console.conftest import PASSWORD, Console
from tests.hq.console.test_auth import actions, nothing_written


def operator(console: Console, username: str) -> Any:
    """(role, active) of ``username``."""
    with console.hq.db.read() as s:
        return s.execute(
            select(Operator.role, Operator.active).where(Operator.username == username)
        ).one()


@pytest.mark.parametrize("role", ["viewer", "marketing", "finance"])
def test_only_admins_see_and_use_the_operators_page(console: Console, role: str) -> None:
    console.login(role)
    assert 'id="nav-operators"' not in console.client.get("/console/").text
    assert console.client.get("/console/operators").status_code == 403
    for path, data in (
        ("/console/operators", {"username": "x1", "role": "admin", "password": PASSWORD}),
        ("/console/operators/viewer/role", {"role": "admin"}),
        ("/console/operators/viewer/disable", {}),
        ("/console/operators/viewer/password", {"new_password": "another long one"}),
    ):
        with nothing_written(console.hq.db):
            assert console.post(path, data).status_code == 403, path
    assert operator(console, role).role == role


def test_an_admin_manages_operators(console: Console) -> None:
    console.login("admin")
    page = console.client.get("/console/operators")
    assert page.status_code == 200
    assert page.text.count("<tr data-username=") == 4
    for data, field in (
        ({"username": "zhao", "role": "boss", "password": PASSWORD}, "role: must be one of"),
        ({"username": "zhao", "role": "viewer", "password": "short"}, "password: at least 10"),
        ({"username": "", "role": "viewer", "password": PASSWORD}, "username: "),
        ({"username": "viewer", "role": "viewer", "password": PASSWORD}, "username: operator"),
    ):
        with nothing_written(console.hq.db):
            refused = console.post("/console/operators", data)
        assert refused.status_code == 400, data
        assert field in refused.text
    added = console.post(
        "/console/operators",
        {"username": "zhao", "display_name": "赵会计", "role": "viewer", "password": PASSWORD},
    )
    assert added.status_code == 303
    assert console.post("/console/operators/zhao/role", {"role": "finance"}).status_code == 303
    assert operator(console, "zhao").role == "finance"
    new_password = "a brand new passphrase"
    reset = console.post("/console/operators/zhao/password", {"new_password": new_password})
    assert reset.status_code == 303
    with nothing_written(console.hq.db):
        short = console.post("/console/operators/zhao/password", {"new_password": "short"})
    assert short.status_code == 400
    assert "password: at least 10" in short.text
    assert console.post("/console/operators/zhao/disable").status_code == 303
    assert not operator(console, "zhao").active
    assert console.post("/console/operators/zhao/enable").status_code == 303
    assert console.post("/console/operators/nobody/disable").status_code == 404
    trail = actions(console)
    for action in ("operator.add", "operator.role", "operator.password", "operator.disable"):
        assert action in trail
    assert "operator.enable" in trail
    assert console.login("zhao", PASSWORD).status_code == 400  # the old password is gone
    assert console.login("zhao", new_password).status_code == 303


def test_the_last_admin_is_kept(console: Console) -> None:
    console.login("admin")
    for path, data in (
        ("/console/operators/admin/disable", {}),
        ("/console/operators/admin/role", {"role": "viewer"}),
    ):
        with nothing_written(console.hq.db):
            refused = console.post(path, data)
        assert refused.status_code == 400
        assert "最后一位管理员" in refused.text
    assert console.post("/console/operators/finance/role", {"role": "admin"}).status_code == 303
    assert console.post("/console/operators/admin/role", {"role": "viewer"}).status_code == 303
    assert operator(console, "admin").role == "viewer"
