"""The settings registry: every key declared once, typed reads and writes, and no
undeclared key read or written anywhere."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos_app.store import setting_keys
from pos_app.store.database import TillDatabase
from pos_app.store.settings import get_setting, put_setting, read, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TillDatabase]:
    database = TillDatabase(tmp_path / "till.sqlite", background_checkpoint=False)
    yield database
    database.close()


def test_keys_are_declared_once() -> None:
    keys = [spec.key for spec in setting_keys.SETTINGS]
    assert len(keys) == len(set(keys))
    for family in setting_keys.FAMILIES:
        assert not any(key.startswith(family.prefix) for key in keys), family.prefix
    for spec in setting_keys.SETTINGS:
        assert spec.description.strip(), spec.key
        assert isinstance(spec.default, spec.type), spec.key


def test_typed_read_and_write(db: TillDatabase) -> None:
    with db.write() as session:
        assert read(session, setting_keys.HQ_INSECURE) is False  # the default
        assert read(session, setting_keys.SNAPSHOT_DONE) == 0
        write(session, setting_keys.HQ_INSECURE, True)
        write(session, setting_keys.SNAPSHOT_DONE, 1234)
    with db.read() as session:
        assert get_setting(session, "hq_allow_insecure_http") == "1"
        assert read(session, setting_keys.HQ_INSECURE) is True
        assert read(session, setting_keys.SNAPSHOT_DONE) == 1234


def test_an_undeclared_key_is_refused(db: TillDatabase) -> None:
    with db.write() as session, pytest.raises(KeyError, match="not declared"):
        put_setting(session, "hq_ulr", "https://typo.example")
    with db.read() as session, pytest.raises(KeyError, match="not declared"):
        get_setting(session, "reciept.footer")


def test_a_family_member_is_declared(db: TillDatabase) -> None:
    key = setting_keys.MEMBER_CODE_KEYS.key(7)
    with db.write() as session:
        put_setting(session, key, "{}")
    with db.read() as session:
        assert get_setting(session, key) == "{}"


def _literal_keys() -> Iterator[tuple[str, int, str]]:
    """String literals passed as the key of a settings call anywhere in pos_app."""
    calls = {"get_setting", "put_setting", "check_key"}
    for path in sorted((REPO / "pos_app").rglob("*.py")):
        if "hq" in path.relative_to(REPO).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 1:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in calls:
                continue
            key = node.args[1] if name != "check_key" and len(node.args) > 1 else node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield str(path.relative_to(REPO)), node.lineno, key.value


def test_every_literal_key_in_the_code_is_declared() -> None:
    undeclared = [
        f"{path}:{line}: {key}"
        for path, line, key in _literal_keys()
        if not setting_keys.is_declared(key)
    ]
    assert not undeclared, "settings missing from pos_app.store.setting_keys:\n" + "\n".join(
        undeclared
    )
