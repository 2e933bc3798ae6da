"""What the login screen shows, read straight from the till's file: no SQLAlchemy, no
Alembic, no ORM mapping (each costs a few hundred milliseconds to import, and the
cashier is waiting for the login screen).

:func:`glance` reads the store's name, the active users and who logged in last with one
raw SQLCipher connection, and only from a file that is already encrypted, keyed in the
key store and at the newest migration (:func:`script_head`); anything else (a new file,
an old plaintext one, a pending migration) is left to the full opening
(:class:`pos_app.store.database.TillDatabase`), which the till does right after.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3

from pos_app.resources import migrations_dir
from pos_app.store import encryption
from pos_app.store.keys import (
    FileKeyStore,
    KeyStore,
    KeyStoreError,
    TillKeys,
    default_key_folder,
    default_key_store,
)

_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(?:[\"']([^\"']+)[\"']|None)", re.M)

_SQL_USERS = "SELECT id, name, role FROM users WHERE active ORDER BY name"
_SQL_SETTING = "SELECT value FROM settings WHERE key = ?"


def script_head() -> str | None:
    """The newest migration, read from the scripts' ``revision`` / ``down_revision``
    lines without importing Alembic; None unless exactly one head is found (then
    Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in migrations_dir().glob("versions/*.py"):
        found: dict[str, str | None] = {
            m.group(1): m.group(2) for m in _REVISION.finditer(script.read_text("utf-8"))
        }
        revision, parent = found.get("revision"), found.get("down_revision")
        if not revision:
            return None
        revisions.add(revision)
        if parent:
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


@dataclass(frozen=True)
class Glance:
    """The login screen's figures.

    Attributes:
        store_name: The store's name.
        users: (id, name, role) of the active users, by name.
        setting: Settings the caller asked for (absent ones left out).
    """

    store_name: str
    users: tuple[tuple[str, str, str], ...]
    setting: dict[str, str]


def glance(
    path: Path | str, settings: tuple[str, ...] = (), key_store: KeyStore | None = None
) -> Glance | None:
    """The login screen's figures of the till file at ``path``, or None when the file
    needs the full opening first (missing, plaintext, no key, a pending migration, no
    user yet).

    Args:
        path: The till's file.
        settings: Setting names to read as well.
        key_store: Where the file's key is (default: the till's key store).
    """
    path = Path(path)
    head = script_head()
    if head is None or encryption.file_kind(path) != "encrypted":
        return None
    try:
        fid = encryption.file_id(path)
        keys = _load_keys(fid, key_store)
        if keys is None:
            return None
        conn = encryption.connect(path, encryption.key_literal(keys, fid), readonly=True)
        try:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if revision is None or revision[0] != head:
                return None
            users = tuple((str(i), str(n), str(r)) for i, n, r in conn.execute(_SQL_USERS))
            values = {key: v for key in ("store_name", *settings) if (v := _setting(conn, key))}
        finally:
            conn.close()
    except (KeyStoreError, sqlcipher3.DatabaseError):
        return None  # an unexpected file: the full opening says why
    if not users:
        return None
    store_name = values.pop("store_name", "")
    return Glance(store_name, users, values)


def _load_keys(file_id: str, key_store: KeyStore | None) -> TillKeys | None:
    """The file's keys: from ``key_store`` when given; else from the key folder when
    they are there (a till without a desktop keyring: looking for one imports the
    keyring package and its backends, ~100 ms), else from the till's key store."""
    if key_store is not None:
        return key_store.load(file_id)
    if os.environ.get("POS_KEYSTORE", "auto").strip().lower() != "keyring":
        found = FileKeyStore(default_key_folder()).load(file_id)
        if found is not None:
            return found
    return default_key_store().load(file_id)


def _setting(conn: Any, name: str) -> str | None:
    row = conn.execute(_SQL_SETTING, (name,)).fetchone()
    return None if row is None else str(row[0])
