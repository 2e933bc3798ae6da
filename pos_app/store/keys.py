"""Where the till keeps the keys of its database: never in or beside the database file.

Each till database file has one key entry, found by the file's id: the 16-byte salt
SQLCipher writes at the start of an encrypted file (so a moved or renamed file still
finds its keys, and a copy of the file alone finds nothing). An entry holds:

* ``db_key``: the SQLCipher key of the file (256 random bits, used raw: no KDF);
* ``local_key``: the till's own key, from which the phone-hint and masked-phone keys are
  derived (:func:`pos_app.core.privacy.derive_key`);
* ``phone_key``: HQ's phone-hash key once the till has one.

Two stores:

* :class:`KeyringKeyStore`: the desktop session's keyring (Secret Service, macOS
  Keychain, Windows Credential Locker) through the ``keyring`` package, used only when a
  real backend is available (``keyring`` reports priority >= 1);
* :class:`FileKeyStore`: one JSON file per database in the user's configuration folder
  (``$POS_KEY_DIR``, else ``platformdirs.user_config_dir("points-till")/keys``: on Linux
  ``$XDG_CONFIG_HOME/points-till/keys``), the folder 0700 and each file 0600.

``POS_KEYSTORE=file`` or ``=keyring`` forces one (``auto``, the default, prefers the
keyring). The folder of a database may never be the key folder (:func:`check_apart`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

SERVICE = "points-till"
"""Keyring service name (the entry's user name is ``till-db-<file id>``)."""

KEY_BYTES = 32


class KeyStoreError(RuntimeError):
    """The keys of a database cannot be found, read or written."""


@dataclass(frozen=True)
class TillKeys:
    """The secrets of one till database (see the module docstring)."""

    db_key: bytes
    local_key: bytes
    phone_key: bytes | None = None

    @classmethod
    def new(cls) -> TillKeys:
        """Fresh random keys (no phone key yet)."""
        return cls(secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))

    def with_phone_key(self, key: bytes) -> TillKeys:
        """The same keys with HQ's phone-hash key."""
        return replace(self, phone_key=key)

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(
            {
                "format": 1,
                "db_key": self.db_key.hex(),
                "local_key": self.local_key.hex(),
                "phone_key": self.phone_key.hex() if self.phone_key else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TillKeys:
        """Read a stored entry.

        Raises:
            KeyStoreError: not an entry of this format.
        """
        try:
            data = json.loads(text)
            if data.get("format") != 1:
                raise ValueError(f"format {data.get('format')!r}")
            db_key, local_key = bytes.fromhex(data["db_key"]), bytes.fromhex(data["local_key"])
            phone = data.get("phone_key")
            phone_key = bytes.fromhex(phone) if phone else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyStoreError(f"unreadable key entry: {exc}") from None
        if len(db_key) != KEY_BYTES or len(local_key) != KEY_BYTES:
            raise KeyStoreError("unreadable key entry: wrong key length")
        return cls(db_key, local_key, phone_key)


class KeyStore(Protocol):
    """Loads and saves the key entry of a database file id."""

    def load(self, file_id: str) -> TillKeys | None:
        """The entry, or None if there is none."""

    def save(self, file_id: str, keys: TillKeys) -> None:
        """Create or replace the entry (durably)."""

    def delete(self, file_id: str) -> None:
        """Remove the entry, if any."""

    def describe(self) -> str:
        """Where entries live (for messages and ``pos-app keys``)."""


def _check_file_id(file_id: str) -> str:
    if len(file_id) != 32 or any(c not in "0123456789abcdef" for c in file_id):
        raise KeyStoreError(f"not a database file id: {file_id!r}")
    return file_id


class FileKeyStore:
    """Key entries as ``<folder>/<file id>.json``: folder 0700, files 0600, written
    atomically (a temporary file, fsync, rename)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def describe(self) -> str:
        """The key folder."""
        return str(self.folder)

    def _path(self, file_id: str) -> Path:
        return self.folder / f"{_check_file_id(file_id)}.json"

    def load(self, file_id: str) -> TillKeys | None:
        """The entry of ``file_id``, or None."""
        path = self._path(file_id)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeyStoreError(f"cannot read {path}: {exc}") from None
        return TillKeys.from_json(text)

    def save(self, file_id: str, keys: TillKeys) -> None:
        """Write the entry of ``file_id`` (0600, replaced atomically)."""
        path = self._path(file_id)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, keys.to_json().encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            _fsync_dir(self.folder)
        except OSError as exc:
            raise KeyStoreError(f"cannot write {path}: {exc}") from None

    def delete(self, file_id: str) -> None:
        """Remove the entry of ``file_id``."""
        self._path(file_id).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class KeyringKeyStore:
    """Key entries in the desktop session's keyring (one secret per database)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def describe(self) -> str:
        """The keyring backend's name."""
        return f"keyring {type(self.backend).__module__}.{type(self.backend).__name__}"

    @staticmethod
    def _user(file_id: str) -> str:
        return f"till-db-{_check_file_id(file_id)}"

    def load(self, file_id: str) -> TillKeys | None:
        """The entry of ``file_id``, or None."""
        try:
            text = self.backend.get_password(SERVICE, self._user(file_id))
        except Exception as exc:
            raise KeyStoreError(f"the keyring refused to read: {exc}") from None
        return None if text is None else TillKeys.from_json(text)

    def save(self, file_id: str, keys: TillKeys) -> None:
        """Store the entry of ``file_id``."""
        try:
            self.backend.set_password(SERVICE, self._user(file_id), keys.to_json())
        except Exception as exc:
            raise KeyStoreError(f"the keyring refused to write: {exc}") from None

    def delete(self, file_id: str) -> None:
        """Remove the entry of ``file_id``, if any."""
        try:
            self.backend.delete_password(SERVICE, self._user(file_id))
        except Exception:  # keyring.errors.PasswordDeleteError: nothing stored
            log.debug("no keyring entry to delete")


def real_keyring() -> Any | None:
    """The keyring backend if a real one is available (a desktop session's), else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) < 1:
        return None
    if getattr(backend, "backends", None) == []:  # a chainer with nothing to chain
        return None
    return backend


def default_key_folder() -> Path:
    """``$POS_KEY_DIR``, else the user's configuration folder for the till + ``keys``."""
    env = os.environ.get("POS_KEY_DIR")
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("points-till", appauthor=False)) / "keys"


def default_key_store() -> KeyStore:
    """The keyring when there is a real one (and ``POS_KEYSTORE`` allows), else files."""
    choice = os.environ.get("POS_KEYSTORE", "auto").strip().lower()
    if choice not in ("auto", "file", "keyring"):
        raise KeyStoreError(f"POS_KEYSTORE must be auto, file or keyring, not {choice!r}")
    if choice != "file":
        backend = real_keyring()
        if backend is not None:
            return KeyringKeyStore(backend)
        if choice == "keyring":
            raise KeyStoreError("POS_KEYSTORE=keyring but no keyring backend is available")
    return FileKeyStore(default_key_folder())


def check_apart(store: KeyStore, database: Path) -> None:
    """Refuse a key folder that is the database's folder or holds it (a copy of the
    folder would carry the keys with the file).

    Raises:
        KeyStoreError: the keys would sit beside the database.
    """
    if not isinstance(store, FileKeyStore):
        return
    keys = store.folder.resolve()
    folder = database.resolve().parent
    if keys == folder or keys in folder.parents:
        raise KeyStoreError(
            f"the key folder {keys} is the database's folder or holds it: set POS_KEY_DIR elsewhere"
        )
