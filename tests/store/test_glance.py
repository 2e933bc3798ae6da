"""The login screen's raw read of the till file (pos_app.store.glance): the same users and
settings the full opening gives, and None for any file the full opening must see first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from pos_app.services import auth
from pos_app.services.context import open_till
from pos_app.services.till_session import ensure_demo_users
from pos_app.services.users import LAST_LOGIN_SETTING, UserInfo
from pos_app.store import repo
from pos_app.store.database import head_revision
from pos_app.store.glance import glance, script_head
from pos_app.store.keys import FileKeyStore


def _ready_till(path: Path, *, last: str | None = None) -> list[UserInfo]:
    ctx = open_till(path, store_name="测试店")
    try:
        ensure_demo_users(ctx)
        if last is not None:
            with ctx.db.write() as session:
                repo.put_setting(session, LAST_LOGIN_SETTING, last)
        return auth.list_users(ctx)
    finally:
        ctx.db.close()


def test_script_head_is_alembics_head() -> None:
    assert script_head() == head_revision()


def test_glance_reads_what_the_full_opening_lists(tmp_path: Path) -> None:
    path = tmp_path / "till.sqlite"
    users = _ready_till(path)
    manager = next(u for u in users if u.is_manager)
    _ready_till(path, last=manager.id)

    found = glance(path, (LAST_LOGIN_SETTING, "no_such_setting"))

    assert found is not None
    assert found.store_name == "测试店"
    assert found.users == tuple((u.id, u.name, u.role) for u in _ready_till(path))
    assert found.setting == {LAST_LOGIN_SETTING: manager.id}


def test_glance_leaves_other_files_to_the_full_opening(tmp_path: Path) -> None:
    assert glance(tmp_path / "missing.sqlite") is None

    plain = tmp_path / "plain.sqlite"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")
    conn.close()
    assert glance(plain) is None

    no_users = tmp_path / "empty.sqlite"
    open_till(no_users).db.close()
    assert glance(no_users) is None

    ready = tmp_path / "till.sqlite"
    _ready_till(ready)
    assert glance(ready) is not None
    assert glance(ready, key_store=FileKeyStore(tmp_path / "other-keys")) is None

    ctx = open_till(ready)
    with ctx.db.engine.begin() as conn:  # as if the till's migrations were older
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    ctx.db.close()
    assert glance(ready) is None
