"""A stolen till file gives nothing away: encrypted at rest (SQLCipher), its keys apart,
files 0600, and an old plaintext file moved to the encrypted form with nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from pos_app.services import members
from pos_app.services.context import open_till
from pos_app.store import keys as keystore
from pos_app.store.database import TillDatabase
from pos_app.store.encryption import DatabaseKeyError, driver, file_kind
from pos_app.store.keys import FileKeyStore, KeyringKeyStore, KeyStoreError, TillKeys

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURE_0001 = DATA / "till-0001.sqlite"
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
PHONES = ("13812341234", "13912345678")
NAMES = ("张三丰", "李四娘")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _side_files(path: Path) -> list[Path]:
    """The database file and everything beside it that SQLite made for it."""
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))


@pytest.fixture
def till(tmp_path: Path):
    ctx = open_till(tmp_path / "counter" / "till.sqlite", clock=lambda: NOW)
    for phone, name in zip(PHONES, NAMES, strict=True):
        members.register(ctx, phone=phone, name=name, birthday=dt.date(1990, 3, 5))
    yield ctx
    ctx.db.close()


def test_the_file_is_encrypted_and_only_its_user_may_read_it(till, tmp_path):
    path = till.db.path
    assert file_kind(path) == "encrypted"
    for file in _side_files(path):  # the file, its -wal and -shm while open
        assert _mode(file) == 0o600, file
    plain = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT * FROM members").fetchall()
    plain.close()
    # The key lives in the user's configuration folder, not beside the file.
    store = till.db.key_store
    assert isinstance(store, FileKeyStore)
    key_file = store.folder / f"{till.db.file_id}.json"
    assert _mode(key_file) == 0o600
    assert _mode(store.folder) == 0o700
    assert store.folder.resolve() != path.parent.resolve()
    assert not any(p.suffix == ".json" for p in path.parent.iterdir())


def test_a_copied_file_and_everything_beside_it_give_back_no_phone_and_no_name(till, tmp_path):
    """The attack: copy the till's folder (file, -wal, -shm) and read it without the keys."""
    members.find_by_last4(till, "1234")  # the raw reader has the WAL open too
    stolen = tmp_path / "stolen"
    shutil.copytree(till.db.path.parent, stolen)
    copy = stolen / till.db.path.name
    needles = [
        *PHONES,
        *(f"+86{p}" for p in PHONES),
        *(f"{p[:3]}****{p[-4:]}" for p in PHONES),
        *NAMES,
        till.phone_key.hex(),
        "1990-03-05",
    ]
    for file in stolen.iterdir():
        data = file.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, (file.name, needle)
    # SQLite cannot read it; SQLCipher cannot without the key ...
    plain = sqlite3.connect(copy)
    with pytest.raises(sqlite3.DatabaseError):
        plain.execute("SELECT name FROM members").fetchall()
    plain.close()
    keyless = driver.connect(str(copy))
    with pytest.raises(driver.DatabaseError):
        keyless.execute("SELECT name FROM members").fetchall()
    keyless.close()
    # ... and the till's own code with another user's (empty) key store finds no key.
    with pytest.raises(DatabaseKeyError, match="holds no key"):
        TillDatabase(copy, key_store=FileKeyStore(tmp_path / "thief-keys"))


def test_the_phone_key_is_in_the_key_store_not_in_the_file(till):
    conn = till.db.connect(readonly=True)
    try:
        settings = dict(conn.execute("SELECT key, value FROM settings").fetchall())
    finally:
        conn.close()
    assert "phone_key" not in settings
    assert till.db.key_store.load(till.db.file_id) == till.db.keys
    assert till.db.keys.phone_key == till.phone_key


def test_a_wrong_key_is_refused(till, tmp_path):
    till.db.close()
    store = FileKeyStore(tmp_path / "other-keys")
    store.save(till.db.file_id, TillKeys.new())
    with pytest.raises(DatabaseKeyError, match="does not open"):
        TillDatabase(till.db.path, key_store=store)


def test_keys_are_never_kept_beside_the_database(tmp_path):
    with pytest.raises(KeyStoreError, match="database's folder"):
        TillDatabase(tmp_path / "till.sqlite", key_store=FileKeyStore(tmp_path))
    with pytest.raises(KeyStoreError, match="database's folder"):
        TillDatabase(tmp_path / "sub" / "till.sqlite", key_store=FileKeyStore(tmp_path))
    assert not (tmp_path / "till.sqlite").exists()


def test_the_key_folder_follows_the_platform_rules(monkeypatch, tmp_path):
    monkeypatch.delenv("POS_KEY_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert keystore.default_key_folder() == tmp_path / "xdg" / "points-till" / "keys"
    monkeypatch.setenv("POS_KEY_DIR", str(tmp_path / "elsewhere"))
    assert keystore.default_key_folder() == tmp_path / "elsewhere"
    monkeypatch.setenv("POS_KEYSTORE", "keyring")  # no real keyring here: refused, not files
    with pytest.raises(KeyStoreError, match="no keyring backend"):
        keystore.default_key_store()


class MemoryKeyring(KeyringBackend):
    """A desktop keyring stand-in (no Secret Service here): keyring's backend API."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def test_a_desktop_keyring_is_used_when_there_is_one(monkeypatch, tmp_path):
    backend = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
    monkeypatch.setenv("POS_KEY_DIR", str(tmp_path / "keys"))
    store = keystore.default_key_store()
    assert isinstance(store, KeyringKeyStore)
    db = TillDatabase(tmp_path / "till.sqlite", key_store=store)
    db.close()
    ((service, user),) = backend.secrets
    assert (service, user) == ("points-till", f"till-db-{db.file_id}")
    assert TillKeys.from_json(backend.secrets[(service, user)]) == db.keys
    assert not (tmp_path / "keys").exists()  # nothing written to files
    TillDatabase(tmp_path / "till.sqlite", key_store=store).close()  # opens again


# -- an old plaintext till file -------------------------------------------------------------


def _plain_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name != 'alembic_version'"
            )
        ]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def test_an_old_plaintext_file_is_encrypted_at_start_with_nothing_lost(tmp_path):
    path = tmp_path / "till.sqlite"
    shutil.copyfile(FIXTURE_0001, path)
    path.chmod(0o644)  # as an older till left it
    conn = sqlite3.connect(path)
    old_key = conn.execute("SELECT value FROM settings WHERE key = 'phone_key'").fetchone()[0]
    masks = sorted(r[0] for r in conn.execute("SELECT phone_masked FROM members"))
    names = sorted(r[0] for r in conn.execute("SELECT name FROM members"))
    # HQ acknowledged the registrations: they are to lose their personal fields.
    conn.execute("UPDATE outbox SET sent_at = '2026-11-20T00:00:00.000000+00:00'")
    conn.commit()
    conn.close()
    before = _plain_counts(path)
    before["settings"] -= 1  # the phone key leaves the file

    ctx = open_till(path)
    try:
        assert file_kind(path) == "encrypted"
        assert _mode(path) == 0o600
        assert not (tmp_path / "till.sqlite.encrypting").exists()
        reader = ctx.db.connect(readonly=True)
        try:
            after = {t: reader.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in before}
            assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = sorted(
                r[0] for r in reader.execute("SELECT phone_mask(phone_mask_sealed) FROM members")
            )
            settings = dict(reader.execute("SELECT key, value FROM settings").fetchall())
            kept_names = sorted(r[0] for r in reader.execute("SELECT name FROM members"))
            payloads = [
                json.loads(p)
                for (p,) in reader.execute(
                    "SELECT payload FROM outbox WHERE kind = 'member_registered'"
                )
            ]
        finally:
            reader.close()
        assert after == before  # every row of every table
        assert stored == masks
        assert kept_names == names
        assert ctx.phone_key.hex() == old_key  # moved to the key store ...
        assert "phone_key" not in settings  # ... out of the file
        assert payloads
        for payload in payloads:
            assert not {"name", "birthday", "phone_masked", "phone_last4"} & set(payload["member"])
        # The members are found as before (first 3 + last 4: the keyed hint).
        hits = members.find_by_last4(ctx, "1234", prefix="138")
        assert [h.masked_phone for h in hits] == ["138****1234"]
    finally:
        ctx.db.close()
    data = path.read_bytes()
    for needle in [*filter(None, names), *masks, old_key]:
        assert needle.encode() not in data
