"""Operators, sign-in, sessions, roles and CSRF on the console (real PostgreSQL)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from pos_app.hq import cli
from pos_app.hq.console import auth
from pos_app.hq.console.models import ROLES, ConsoleSession, Operator
from pos_app.hq.models import AuditRecord, FlaggedRecord, Till
from tests.hq.console.conftest import PASSWORD, Console, overspend
from tests.hq.support import nothing_written

PAGES = (
    "/console/",
    "/console/review",
    "/console/members",
    "/console/rules",
    "/console/mall",
    "/console/stores",
)


def actions(console: Console) -> list[str]:
    with console.hq.db.read() as s:
        return list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_a_page_without_a_session_goes_to_sign_in(console: Console) -> None:
    for path in PAGES:
        response = console.client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"


def test_sign_in_shows_every_page_in_chinese_then_english(console: Console) -> None:
    assert console.login("viewer").status_code == 303
    for path in PAGES:
        page = console.client.get(path)
        assert page.status_code == 200, path
        assert "积分总部控制台" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in page.headers["content-security-policy"]
    switched = console.post("/console/lang", {"lang": "en", "back": "/console/rules"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/console/rules"
    assert "Points HQ console" in console.client.get("/console/rules").text
    assert "console.login" in actions(console)


def test_a_wrong_password_is_refused_and_five_lock_the_account(console: Console) -> None:
    page = console.login("finance", "wrong password")
    assert page.status_code == 400
    assert "用户名或密码不正确" in page.text
    assert console.client.cookies.get("hq_console") is None
    for _ in range(4):
        console.login("finance", "wrong password")
    locked = console.login("finance")  # the right password, but locked
    assert locked.status_code == 400
    assert "锁定" in locked.text
    console.hq.clock.advance(minutes=6)
    assert console.login("finance").status_code == 303
    trail = actions(console)
    assert trail.count("console.login_failed") == 5
    assert "console.login_locked" in trail
    with console.hq.db.read() as s:  # never the password typed
        details = [str(d) for d in s.scalars(select(AuditRecord.detail))]
    assert not any("wrong password" in d or PASSWORD in d for d in details)


def test_an_unknown_user_gets_the_same_answer(console: Console) -> None:
    page = console.login("nobody")
    assert page.status_code == 400
    assert "用户名或密码不正确" in page.text


def test_sessions_expire_when_idle_and_after_their_lifetime(console: Console) -> None:
    console.login("viewer")
    console.hq.clock.advance(minutes=29)
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    console.hq.clock.advance(minutes=31)
    assert console.client.get("/console/", follow_redirects=False).status_code == 303
    console.login("viewer")
    for _ in range(25):  # active all along, but 12 hours is the most
        console.hq.clock.advance(minutes=29)
        last = console.client.get("/console/", follow_redirects=False)
    assert last.status_code == 303


def test_sign_out_ends_the_session(console: Console) -> None:
    console.login("viewer")
    assert console.post("/console/logout").status_code == 303
    assert console.client.get("/console/", follow_redirects=False).status_code == 303
    with console.hq.db.read() as s:
        assert s.scalars(select(ConsoleSession)).first() is None
    assert "console.logout" in actions(console)


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(console: Console) -> None:
    _member, flag_id = overspend(console.hq)
    console.login("admin")
    with nothing_written(console.hq.db):
        for path in (f"/console/review/flags/{flag_id}/approve", "/console/rules/drafts"):
            refused = console.post(path, {"note": "ok"}, csrf=False)
            assert refused.status_code == 403
            assert "表单已过期" in refused.text
            forged = console.client.post(path, data={"csrf": "0" * 64}, follow_redirects=False)
            assert forged.status_code == 403
    # the sign-in form has its own token, bound to a cookie
    console.client.cookies.clear()
    bare = console.client.post(
        "/console/login", data={"username": "admin", "password": PASSWORD, "csrf": "x"}
    )
    assert bare.status_code == 403


ROLE_ACTIONS = {
    # url -> roles that may; every other role gets 403
    "/console/rules/drafts": {"marketing", "admin"},
    "/console/review/flags/{flag}/approve": {"finance", "admin"},
    "/console/members/{member}/erase": {"admin"},
    "/console/tills/001-02/revoke": {"admin"},
    "/console/mall/import": {"marketing", "admin"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_its_buttons_and_gets_403_elsewhere(
    console: Console, role: str
) -> None:
    member_id, flag_id = overspend(console.hq)
    console.login(role)
    review = console.client.get("/console/review").text
    assert ('class="approve"' in review) == (role in {"finance", "admin"})
    rules = console.client.get("/console/rules").text
    assert ('id="new-draft"' in rules) == (role in {"marketing", "admin"})
    member = console.client.get(f"/console/members/{member_id}").text
    assert ('id="erase"' in member) == (role == "admin")
    assert ('id="export"' in member) == (role == "admin")
    mall = console.client.get("/console/mall").text
    assert ('id="import"' in mall) == (role in {"marketing", "admin"})
    stores = console.client.get("/console/stores").text
    assert ("/revoke" in stores) == (role == "admin")
    export = console.client.get(f"/console/members/{member_id}/export")
    assert export.status_code == (200 if role == "admin" else 403)
    for template, allowed in ROLE_ACTIONS.items():
        if role in allowed:
            continue
        path = template.format(flag=flag_id, member=member_id)
        with nothing_written(console.hq.db):
            response = console.post(path, {"confirm": member_id, "note": "x"})
        assert response.status_code == 403, path
        assert "无权" in response.text
    with console.hq.db.read() as s:
        assert s.get(FlaggedRecord, flag_id).resolved_at is None
        assert s.get(Till, "001-02").active


def test_operator_commands(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    url = console.hq.db.url
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    assert (
        cli.main(["operator", "add", "wang", "--role", "viewer", "--password-stdin", "--db", url])
        == 0
    )
    assert cli.main(["operator", "role", "wang", "finance", "--db", url]) == 0
    with console.hq.db.read() as s:
        assert (
            s.scalars(select(Operator.role).where(Operator.username == "wang")).one() == "finance"
        )
    assert console.login("wang", "a long passphrase").status_code == 303
    assert cli.main(["operator", "disable", "wang", "--db", url]) == 0
    assert console.client.get("/console/", follow_redirects=False).status_code == 303
    assert console.login("wang", "a long passphrase").status_code == 400
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        cli.main(["operator", "add", "li", "--role", "viewer", "--password-stdin", "--db", url])
        == 1
    )
    trail = actions(console)
    assert {"operator.add", "operator.role", "operator.disable"} <= set(trail)


def test_a_new_role_ends_the_operators_sessions(console: Console) -> None:
    console.login("viewer")
    auth.set_role(console.hq.db, "viewer", "admin", console.hq.clock(), actor="test")
    assert console.client.get("/console/", follow_redirects=False).status_code == 303
