"""HQ's member-code signing keys: create, rotate, revoke, list, and sign codes.

HQ alone signs member codes (:mod:`pos_app.core.member_codes`); tills pull the public
keys (topic ``member_code_key``) and never hold a private one.

Where the private keys are: in ``member_code_keys.sealed_private``, encrypted with
AES-256-GCM (the key id as associated data, so a sealed key cannot be moved to another
row) under HQ's **master key**, a 32-byte random key in a file OUTSIDE the database
(``--master-key FILE``, ``$POS_HQ_MASTER_KEY``, else ``hq-master.key`` in the user's
config folder, mode 0600, made by the first ``pos-hq keys create``). A copy of the
database or a backup alone therefore cannot mint a code; every HQ server that signs
(``pos-hq serve`` for the member app's codes) needs the file. A revoked key's sealed
private half is erased.

Validity: a key signs from ``not_before``; rotating sets the old keys' ``not_after`` to
now, so codes they issued before stay good until they expire (minutes) and no code is
signed with them again. Tills accept a code only when it was issued inside its key's
window and the key is not revoked.

The embedded demo key (:data:`pos_app.core.member_codes.DEMO_KEY_ID`) exists only in the
SQLite demo HQ: its private half is public knowledge.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pos_app.core.member_codes import (
    DEFAULT_LIFETIME,
    DEMO_KEY_ID,
    DEMO_PRIVATE_KEY,
    MAX_LIFETIME,
    public_key_of,
    sign_dynamic_code,
)
from pos_app.hq import audit
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, HQError, NotFound
from pos_app.hq.models import MemberCodeKey

MASTER_KEY_ENV = "POS_HQ_MASTER_KEY"
MASTER_KEY_FILE = "hq-master.key"
MAX_KEY_ID = 0xFFFE
DEMO_SINCE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_NONCE = 12


class NoSigningKey(HQError):
    """HQ cannot sign a member code now: no key is valid, or its master key is missing."""

    status = 503
    code = "no_signing_key"


def default_master_key_path() -> Path:
    """``$POS_HQ_MASTER_KEY``, else ``hq-master.key`` in the user's config folder."""
    env = os.environ.get(MASTER_KEY_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "points-till" / MASTER_KEY_FILE


class MasterKey:
    """HQ's master key: seals and unseals the member-code private keys.

    Attributes:
        path: The file it was read from.
    """

    def __init__(self, key: bytes, path: Path) -> None:
        if len(key) != 32:
            raise ValueError("a master key is 32 bytes")
        self._aead = AESGCM(key)
        self.path = path

    @classmethod
    def load(cls, path: Path) -> MasterKey:
        """The master key in ``path`` (64 hex digits).

        Raises:
            ValueError: missing, malformed, or readable by others than its owner.
        """
        try:
            info = path.stat()
            text = path.read_text("ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read HQ's master key {path}: {exc}") from None
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"HQ's master key {path} is readable by others: chmod 600 it")
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path} is not an HQ master key (64 hex digits)") from None
        return cls(key, path)

    @classmethod
    def load_or_create(cls, path: Path) -> MasterKey:
        """The master key in ``path``, made (0600) if the file does not exist."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
        return cls.load(path)

    def seal(self, key_id: int, private_key: bytes) -> bytes:
        """``private_key`` encrypted for row ``key_id``."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, private_key, _aad(key_id))

    def unseal(self, key_id: int, sealed: bytes) -> bytes:
        """The private key :meth:`seal` sealed for ``key_id``.

        Raises:
            NoSigningKey: sealed under another master key, or tampered with.
        """
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(key_id))
        except (InvalidTag, ValueError):
            raise NoSigningKey(
                f"member-code key {key_id} cannot be opened with the master key {self.path}: "
                "it was sealed under another master key, or altered"
            ) from None

    def seal_for(self, purpose: str, data: bytes) -> bytes:
        """``data`` encrypted and bound to ``purpose`` (a member's contact address:
        ``contact:<member>:<channel>``), so a sealed value moved to another row does not
        open."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, purpose.encode())

    def unseal_for(self, purpose: str, sealed: bytes) -> bytes:
        """What :meth:`seal_for` sealed for ``purpose``.

        Raises:
            ValueError: sealed under another master key or purpose, or altered.
        """
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], purpose.encode())
        except (InvalidTag, ValueError):
            raise ValueError(
                f"{purpose} cannot be opened with the master key {self.path}"
            ) from None


def _aad(key_id: int) -> bytes:
    return f"points-till member-code key {key_id}".encode()


def _new_private_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


def key_data(row: Any) -> dict[str, Any]:
    """A key as tills receive it and ``pos-hq keys list`` shows it (never the private half)."""
    return {
        "key_id": row.key_id,
        "public_key": bytes(row.public_key).hex(),
        "not_before": row.not_before.isoformat(),
        "not_after": row.not_after.isoformat() if row.not_after else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def _listing(row: MemberCodeKey, now: dt.datetime) -> dict[str, Any]:
    signs = (
        row.revoked_at is None
        and row.not_before <= now
        and (row.not_after is None or now < row.not_after)
    )
    return key_data(row) | {
        "created_at": row.created_at.isoformat(),
        "revoke_reason": row.revoke_reason,
        "demo": row.key_id == DEMO_KEY_ID,
        "signing": signs,
    }


# -- administration ---------------------------------------------------------------------


def create_key(
    db: HQDatabase,
    master: MasterKey,
    now: dt.datetime,
    *,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    actor: str = audit.SYSTEM_ACTOR,
) -> dict[str, Any]:
    """A new signing key with the next free id (1-65534).

    Raises:
        Conflict: the window is empty, or every key id is taken.
    """
    start = valid_from or now
    if valid_until is not None and valid_until <= start:
        raise BadRequest("a key's validity must end after it starts")
    private = _new_private_key()
    with db.write() as s:
        top = s.scalar(
            select(func.max(MemberCodeKey.key_id)).where(MemberCodeKey.key_id <= MAX_KEY_ID)
        )
        key_id = int(top or 0) + 1
        if key_id > MAX_KEY_ID:
            raise Conflict("every member-code key id is used")
        row = MemberCodeKey(
            key_id=key_id,
            public_key=public_key_of(private),
            sealed_private=master.seal(key_id, private),
            not_before=start,
            not_after=valid_until,
            created_at=now,
        )
        s.add(row)
        s.flush()
        audit.record(s, now, actor, "member_code_key.create", str(key_id), **key_data(row))
        return _listing(row, now)


def rotate_keys(
    db: HQDatabase, master: MasterKey, now: dt.datetime, *, actor: str = audit.SYSTEM_ACTOR
) -> dict[str, Any]:
    """A new key signing from now; every other key stops signing now (codes it issued
    before stay valid until they expire)."""
    created = create_key(db, master, now, actor=actor)
    with db.write() as s:
        ended = []
        for row in s.scalars(
            select(MemberCodeKey).where(
                MemberCodeKey.key_id != created["key_id"],
                MemberCodeKey.revoked_at.is_(None),
                or_(MemberCodeKey.not_after.is_(None), MemberCodeKey.not_after > now),
            )
        ):
            row.not_after = now
            ended.append(row.key_id)
        s.flush()
        audit.record(s, now, actor, "member_code_key.rotate", str(created["key_id"]), ended=ended)
    return created | {"ended": ended}


def revoke_key(
    db: HQDatabase, key_id: int, reason: str, now: dt.datetime, *, actor: str = audit.SYSTEM_ACTOR
) -> dict[str, Any]:
    """Withdraw a key: tills refuse every code it signed once they pull; its private
    half is erased.

    Raises:
        NotFound: no such key.
    """
    if not reason.strip():
        raise BadRequest("say why the key is revoked (--reason)")
    with db.write() as s:
        row = s.get(MemberCodeKey, key_id)
        if row is None:
            raise NotFound(f"no member-code key {key_id}")
        if row.revoked_at is None:
            row.revoked_at = now
            row.revoke_reason = reason.strip()
            row.sealed_private = None
            s.flush()
            audit.record(s, now, actor, "member_code_key.revoke", str(key_id), reason=reason)
        return _listing(row, now)


def list_keys(db: HQDatabase, now: dt.datetime) -> list[dict[str, Any]]:
    """Every key, oldest first, with whether it signs now."""
    with db.read() as s:
        return [
            _listing(row, now)
            for row in s.scalars(select(MemberCodeKey).order_by(MemberCodeKey.key_id))
        ]


def install_demo_key(session: Session) -> None:
    """The embedded demo key, for the SQLite demo HQ only (no private half stored)."""
    if session.get(MemberCodeKey, DEMO_KEY_ID) is None:
        session.add(
            MemberCodeKey(
                key_id=DEMO_KEY_ID,
                public_key=public_key_of(DEMO_PRIVATE_KEY),
                sealed_private=None,
                not_before=DEMO_SINCE,
                not_after=None,
                created_at=DEMO_SINCE,
            )
        )


# -- signing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedCode:
    """A freshly signed member code."""

    code: str
    key_id: int
    member_no: int
    issued_at: dt.datetime
    expires_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "code": self.code,
            "key_id": self.key_id,
            "member_no": self.member_no,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


def _signing_row(session: Session, now: dt.datetime) -> MemberCodeKey:
    row = session.scalars(
        select(MemberCodeKey)
        .where(
            MemberCodeKey.revoked_at.is_(None),
            MemberCodeKey.not_before <= now,
            or_(MemberCodeKey.not_after.is_(None), MemberCodeKey.not_after > now),
        )
        .order_by(MemberCodeKey.not_before.desc(), MemberCodeKey.key_id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NoSigningKey("HQ has no member-code key valid now: run pos-hq keys create")
    return row


def sign_member_code(
    session: Session,
    master: MasterKey | None,
    member_no: int,
    now: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> SignedCode:
    """A code for ``member_no`` signed with the key valid now.

    Raises:
        NoSigningKey: no valid key, or HQ has no master key to open it.
    """
    if not dt.timedelta(seconds=1) <= lifetime <= MAX_LIFETIME:
        raise BadRequest(f"a code lives 1 to {int(MAX_LIFETIME.total_seconds())} seconds")
    row = _signing_row(session, now)
    if row.key_id == DEMO_KEY_ID:
        private = DEMO_PRIVATE_KEY
    elif row.sealed_private is None:
        raise NoSigningKey(f"member-code key {row.key_id} has no private half")
    elif master is None:
        raise NoSigningKey(
            "HQ has no master key to sign member codes with: start it with --master-key"
        )
    else:
        private = master.unseal(row.key_id, row.sealed_private)
    issued = now.replace(microsecond=0)
    code = sign_dynamic_code(
        private,
        key_id=row.key_id,
        member_no=member_no,
        issued_at=issued,
        nonce=secrets.token_bytes(8),
        lifetime=lifetime,
    )
    return SignedCode(code, row.key_id, member_no, issued, issued + lifetime)
