"""The till file encrypted at rest (SQLCipher 4) and the move of an old plaintext file.

A till database file is an SQLCipher 4 file (AES-256 pages with an HMAC-SHA512 each)
under a random 256-bit raw key (no passphrase, so no KDF cost per connection). Its first
16 bytes are the salt SQLCipher keeps in clear: the file's id in the key store
(:mod:`pos_app.store.keys`). Files are created 0600; SQLite gives the -wal and -shm
files the database file's mode, and :func:`restrict` narrows files an older till made.

An old plaintext file (it starts with ``SQLite format 3``) is moved to the encrypted
form at start (:func:`encrypt_plain_file`): its WAL folded in, every table copied with
``sqlcipher_export``, the copy checked table by table, the keys saved, the copy renamed
over the original, and the original's bytes overwritten with zeros.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3

from pos_app.store.keys import KeyStore, KeyStoreError, TillKeys, check_apart

log = logging.getLogger(__name__)

driver: Any = sqlcipher3
"""The DB-API module of every till connection (sqlite3's interface, SQLCipher inside)."""

PLAIN_MAGIC = b"SQLite format 3\x00"
SALT_BYTES = 16
SIDE_FILES = ("-wal", "-shm", "-journal")


class DatabaseKeyError(KeyStoreError):
    """The file is encrypted and the key store has no (or a wrong) key for it."""


def file_kind(path: Path) -> str:
    """``"missing"`` (no file or an empty one), ``"plain"`` or ``"encrypted"``."""
    try:
        with path.open("rb") as f:
            head = f.read(len(PLAIN_MAGIC))
    except FileNotFoundError:
        return "missing"
    if not head:
        return "missing"
    return "plain" if head == PLAIN_MAGIC else "encrypted"


def file_id(path: Path) -> str:
    """The id of an encrypted file: its salt in hex."""
    with path.open("rb") as f:
        salt = f.read(SALT_BYTES)
    if len(salt) != SALT_BYTES:
        raise DatabaseKeyError(f"{path} is too short to be a till database")
    return salt.hex()


def key_literal(keys: TillKeys, salt_hex: str) -> str:
    """SQLCipher's raw key with its salt: ``x'<key><salt>'``."""
    return f"x'{keys.db_key.hex()}{salt_hex}'"


def restrict(path: Path) -> None:
    """Make the database file and its side files readable by the till's user only."""
    for suffix in ("", *SIDE_FILES):
        target = Path(f"{path}{suffix}")
        try:
            if target.stat().st_mode & 0o077:
                os.chmod(target, 0o600)
        except FileNotFoundError:
            continue


def create_empty(path: Path) -> None:
    """An empty file with mode 0600 (SQLite gives its -wal/-shm the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def connect(
    path: Path | str,
    key: str,
    *,
    readonly: bool = False,
    setup: Callable[[Any], None] | None = None,
    **kwargs: Any,
) -> Any:
    """An SQLCipher connection to ``path`` keyed with ``key`` (:func:`key_literal`).

    Raises:
        DatabaseKeyError: the key does not open the file.
    """
    target = f"file:{path}?mode=ro" if readonly else str(path)
    conn = driver.connect(target, uri=readonly, **kwargs)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our error to tell
        conn.execute(f'PRAGMA key = "{key}"')
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except driver.DatabaseError:
        conn.close()
        raise DatabaseKeyError(f"the key store's key does not open {path}") from None
    if setup is not None:
        setup(conn)
    return conn


def open_keys(path: Path, store: KeyStore) -> tuple[TillKeys, str]:
    """The keys and file id of the till database at ``path``: made for a new file, read
    from ``store`` for an encrypted one, made while encrypting an old plaintext one.

    Raises:
        KeyStoreError: the keys would sit beside the file, or cannot be read or saved.
        DatabaseKeyError: an encrypted file whose key the store does not hold.
    """
    check_apart(store, path)
    kind = file_kind(path)
    if kind == "missing":
        return _new_file(path, store)
    if kind == "plain":
        return encrypt_plain_file(path, store)
    fid = file_id(path)
    keys = store.load(fid)
    if keys is None:
        raise DatabaseKeyError(
            f"{path} is encrypted and {store.describe()} holds no key for it (file id {fid})"
        )
    connect(path, key_literal(keys, fid)).close()  # DatabaseKeyError if it is not the key
    restrict(path)
    return keys, fid


def _new_file(path: Path, store: KeyStore) -> tuple[TillKeys, str]:
    keys, fid = TillKeys.new(), secrets.token_bytes(SALT_BYTES).hex()
    store.save(fid, keys)  # before the file: a file never exists without its key
    if not path.exists():
        create_empty(path)
    restrict(path)
    conn = connect(path, key_literal(keys, fid), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # writes the first page: the salt
    finally:
        conn.close()
    return keys, fid


def _table_counts(conn: Any, schema: str = "main") -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {n: conn.execute(f'SELECT count(*) FROM {schema}."{n}"').fetchone()[0] for n in names}


def encrypt_plain_file(path: Path, store: KeyStore) -> tuple[TillKeys, str]:
    """Move a plaintext till file to the encrypted form, losing nothing.

    Returns:
        The new file's keys and id.

    Raises:
        RuntimeError: the copy differs from the original (the original is left as it was).
    """
    log.info("encrypting the plaintext till database %s", path)
    plain = sqlite3.connect(str(path), isolation_level=None)
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute("PRAGMA journal_mode=DELETE")  # the copy carries all, no -wal left
    finally:
        plain.close()
    keys, fid = TillKeys.new(), secrets.token_bytes(SALT_BYTES).hex()
    tmp = path.with_name(path.name + ".encrypting")
    for suffix in ("", *SIDE_FILES):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    create_empty(tmp)
    src = driver.connect(str(path), isolation_level=None)
    try:
        version = src.execute("PRAGMA user_version").fetchone()[0]
        src.execute("ATTACH DATABASE ? AS enc KEY ?", (str(tmp), key_literal(keys, fid)))
        src.execute("SELECT sqlcipher_export('enc')")
        src.execute(f"PRAGMA enc.user_version = {int(version)}")
        if _table_counts(src, "main") != _table_counts(src, "enc"):
            raise RuntimeError(f"the encrypted copy of {path} differs: left as it was")
        src.execute("DETACH DATABASE enc")
    except BaseException:
        src.close()
        tmp.unlink(missing_ok=True)
        raise
    src.close()
    check = connect(tmp, key_literal(keys, fid))
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError(f"the encrypted copy of {path} fails its integrity check")
    finally:
        check.close()
    store.save(fid, keys)
    _replace_and_wipe(tmp, path)
    return keys, fid


def _replace_and_wipe(new: Path, old: Path) -> None:
    """Rename ``new`` over ``old``, then overwrite the old file's bytes with zeros (its
    inode, still open here). On flash storage and copy-on-write file systems the old
    blocks may survive: docs/security.md says so."""
    fd = os.open(old, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        os.replace(new, old)
        _fsync_parent(old)
        chunk = b"\x00" * (1 << 20)
        done = 0
        while done < size:
            done += os.write(fd, chunk[: min(len(chunk), size - done)])
        os.fsync(fd)
    finally:
        os.close(fd)
    for suffix in SIDE_FILES:
        Path(f"{old}{suffix}").unlink(missing_ok=True)


def _fsync_parent(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
