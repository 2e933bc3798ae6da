"""Signed dynamic member codes at the till: HQ's public keys, the replay cache, lookup.

The till holds only HQ's PUBLIC keys (settings ``member_code_key.<id>``, raw key as
hex), so nothing in its database can mint a code. :func:`find_by_dynamic_code`
verifies a scanned code offline (:mod:`pos_app.core.member_codes`), then, in one
transaction, prunes expired entries of the replay cache, refuses a nonce seen before,
records this one and returns the member.

For a demo till without HQ, :func:`ensure_demo_signing_key` makes a key pair once: the
public half goes into the settings, the private half into a PEM file NEXT TO the
database (``hq-demo-signing-key.pem``), which is what ``pos-app member-code`` signs with.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput, ReplayedCode
from pos_app.core.member_codes import (
    CLOCK_SKEW,
    DEFAULT_LIFETIME,
    public_key_of,
    sign_dynamic_code,
    verify_dynamic_code,
)
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.members import MemberHit, hit_of, member_for_number
from pos_app.store import raw, repo
from pos_app.store.models import MemberCodeUse, Setting

KEY_SETTING_PREFIX = "member_code_key."
DEMO_KEY_FILE = "hq-demo-signing-key.pem"
DEMO_KEY_ID = 1


def install_public_key(ctx: TillContext, key_id: int, public_key: bytes) -> None:
    """Store one of HQ's public keys (what an HQ push does)."""
    if not 0 <= key_id <= 0xFFFF or len(public_key) != 32:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "A member-code key is a 32-byte Ed25519 public key.")
        )
    with ctx.db.write() as session:
        repo.put_setting(session, f"{KEY_SETTING_PREFIX}{key_id}", public_key.hex())


def public_keys(ctx: TillContext) -> dict[int, bytes]:
    """HQ's public keys the till verifies member codes with, by key id."""
    with ctx.db.read() as session:
        rows = session.execute(
            select(Setting.key, Setting.value).where(Setting.key.like(f"{KEY_SETTING_PREFIX}%"))
        ).all()
    keys: dict[int, bytes] = {}
    for key, value in rows:
        suffix = key.removeprefix(KEY_SETTING_PREFIX)
        if suffix.isdigit():
            keys[int(suffix)] = bytes.fromhex(value)
    return keys


# -- private keys: files outside the till database -------------------------------------
def generate_private_key() -> bytes:
    """A new raw Ed25519 private key (HQ's side)."""
    return Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


def write_private_key(path: Path, private_key: bytes) -> None:
    """Write a private key as PKCS#8 PEM, readable by its owner only."""
    pem = Ed25519PrivateKey.from_private_bytes(private_key).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def read_private_key(path: Path) -> bytes:
    """The raw Ed25519 private key of a PEM file.

    Raises:
        InvalidInput: not an Ed25519 private key.
    """
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "{path} is not an Ed25519 private key."), path=str(path)
        )
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def demo_key_path(ctx: TillContext) -> Path:
    """Where the demo till's signing key lives: next to (never inside) the database."""
    return ctx.db.path.parent / DEMO_KEY_FILE


def ensure_demo_signing_key(ctx: TillContext) -> Path | None:
    """Give a till without any member-code key a demo key pair.

    Returns:
        The private key file when the till uses the demo key, else None (HQ keys).
    """
    if public_keys(ctx):
        path = demo_key_path(ctx)
        return path if path.is_file() else None
    path = demo_key_path(ctx)
    if path.is_file():
        private = read_private_key(path)
    else:
        private = generate_private_key()
        write_private_key(path, private)
    install_public_key(ctx, DEMO_KEY_ID, public_key_of(private))
    return path


def key_id_for(ctx: TillContext, private_key: bytes) -> int:
    """The id under which the till knows the public half of ``private_key``.

    Raises:
        InvalidInput: the till does not trust this key.
    """
    public = public_key_of(private_key)
    for key_id, key in sorted(public_keys(ctx).items()):
        if key == public:
            return key_id
    raise InvalidInput(
        QT_TRANSLATE_NOOP("Errors", "The till does not trust this signing key (no public key).")
    )


def mint(
    private_key: bytes,
    key_id: int,
    member_no: int,
    now: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> str:
    """A fresh signed code for ``member_no`` (HQ's / the app's side; support tooling)."""
    return sign_dynamic_code(
        private_key,
        key_id=key_id,
        member_no=member_no,
        issued_at=now,
        nonce=secrets.token_bytes(8),
        lifetime=lifetime,
    )


# -- the till's side -----------------------------------------------------------------
def find_by_dynamic_code(ctx: TillContext, code: str) -> MemberHit:
    """Verify a scanned ``MD…`` code offline and accept it once.

    Raises:
        InvalidCode: malformed, or signed with a key the till does not have.
        ForgedCode: the signature does not verify.
        ExpiredCode: expired or not yet valid (beyond the clock-skew tolerance).
        ReplayedCode: this code was already accepted.
        UnknownMember: a valid code of no member (here, and at HQ when it was asked).
    """
    now = ctx.now()
    verified = verify_dynamic_code(code, public_keys(ctx), now)
    member_for_number(ctx, verified.member_no)  # held, fetched from HQ, or provisional
    try:
        with ctx.db.write() as session:
            session.execute(
                delete(MemberCodeUse).where(MemberCodeUse.expires_at < now - CLOCK_SKEW)
            )
            if session.get(MemberCodeUse, verified.nonce) is not None:
                raise _replayed()
            row = repo.member_by_no(raw.dbapi(session), verified.member_no)
            if row is None:
                raise UnknownMember(QT_TRANSLATE_NOOP("Errors", "No member has this member code."))
            session.add(
                MemberCodeUse(
                    nonce=verified.nonce,
                    key_id=verified.key_id,
                    member_no=verified.member_no,
                    expires_at=verified.expires_at,
                    used_at=now,
                )
            )
            hit = hit_of(ctx, row)
    except IntegrityError:
        raise _replayed() from None
    return hit


def _replayed() -> ReplayedCode:
    return ReplayedCode(
        QT_TRANSLATE_NOOP(
            "Errors",
            "This member code was already used: ask the member to refresh it in the app.",
        )
    )
