"""Signed dynamic member codes (动态会员码) for the member app, verified offline.

HQ signs a short-lived code with its Ed25519 private key; the member's phone shows it
as a QR code; the till verifies it with HQ's PUBLIC keys only, so a till can check a
code without a network and can never mint one. The code carries a key id (which public
key to use), so HQ can rotate keys while old tills still hold the previous one.

Format (``MD`` + RFC 4648 base32 without padding; QR alphanumeric mode holds it)::

    payload = version:1 | key_id:2 | member_no:5 | issued_at:4 | lifetime_s:2 | nonce:8
    code    = "MD" + base32(payload + Ed25519(DOMAIN + payload))     # 140 characters

All integers are big-endian; ``issued_at`` is Unix seconds. A code is valid from
``issued_at - SKEW`` to ``issued_at + lifetime + SKEW``: :data:`CLOCK_SKEW` is the
explicit tolerance for the phone's and the till's clocks disagreeing. Lifetimes above
:data:`MAX_LIFETIME` are refused, so a leaked code is useless within minutes. That a
code is accepted only once (its nonce) is the till's job, and HQ's for tills online
(:mod:`pos_app.services.member_codes`, ``POST /v1/member-codes/uses``): this module is
pure computation, the time is passed in.

Parsing is strict: only ``MD`` and the base32 alphabet (``A-Z``, ``2-7``) are read, and
the text must be exactly the canonical encoding of the bytes it decodes to (no lower
case, no other script's letters that upper-case to ASCII such as U+017F, no spare bits
set in the last character). Only ASCII whitespace around the code (a scanner's Enter)
is ignored.

HQ's keys carry validity windows (:class:`TrustedKey`): a code is accepted only when it
was issued inside its key's window and the key is not revoked. :data:`DEMO_KEY_ID` is
the embedded demo key pair's id: its private half is public knowledge, so only a demo
till without HQ and the SQLite demo HQ use it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pos_app.core.calendar import require_aware
from pos_app.core.codes import DYNAMIC_PREFIX
from pos_app.core.errors import QT_TRANSLATE_NOOP, ExpiredCode, ForgedCode, InvalidCode

VERSION = 1
DOMAIN = b"points-till member code v1\x00"
CLOCK_SKEW = dt.timedelta(seconds=30)
DEFAULT_LIFETIME = dt.timedelta(seconds=120)
MAX_LIFETIME = dt.timedelta(minutes=10)
NONCE_BYTES = 8
SIGNATURE_BYTES = 64
_PAYLOAD = struct.Struct(">BH5sIH8s")
CODE_LENGTH = len(DYNAMIC_PREFIX) + -(-(_PAYLOAD.size + SIGNATURE_BYTES) * 8 // 5)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CANONICAL = re.compile(rf"^{DYNAMIC_PREFIX}[A-Z2-7]{{{CODE_LENGTH - len(DYNAMIC_PREFIX)}}}$")
_SCANNER_WHITESPACE = " \t\r\n"

#: Key id of the embedded demo key pair (HQ's own keys use 1-65534).
DEMO_KEY_ID = 0xFFFF
#: The demo key's private half: derived from a published phrase, so anyone can mint
#: demo codes. Trusted only by a demo till without HQ and by the SQLite demo HQ.
DEMO_PRIVATE_KEY = hashlib.sha256(
    b"points-till demo HQ member-code key (public knowledge)"
).digest()


@dataclass(frozen=True)
class DynamicCode:
    """What a signed member code says (only trustworthy once verified).

    Attributes:
        key_id: Which of HQ's public keys signed it.
        member_no: The member number.
        issued_at: When HQ (or the app, with HQ's key) issued it.
        expires_at: ``issued_at`` plus the code's lifetime.
        nonce: 16 hex digits, unique per code: the till's replay cache key.
    """

    key_id: int
    member_no: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    nonce: str


@dataclass(frozen=True)
class TrustedKey:
    """One of HQ's public keys, as a till holds it.

    Attributes:
        public_key: The raw 32-byte Ed25519 public key.
        not_before: Codes issued before this are refused (None: no lower bound).
        not_after: Codes issued after this are refused (None: open-ended).
        revoked: HQ withdrew the key: every code it signed is refused.
    """

    public_key: bytes
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    revoked: bool = False


def _malformed() -> InvalidCode:
    return InvalidCode(
        QT_TRANSLATE_NOOP(
            "Errors", "This dynamic member code is damaged: ask the member to show it again."
        )
    )


def _unix(at: dt.datetime) -> int:
    require_aware(at)
    return int((at - _EPOCH).total_seconds())


def _split(text: str) -> tuple[bytes, bytes]:
    value = text.strip(_SCANNER_WHITESPACE)
    if not _CANONICAL.fullmatch(value):
        raise _malformed()
    body = value[len(DYNAMIC_PREFIX) :]
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise _malformed() from None
    if len(raw) != _PAYLOAD.size + SIGNATURE_BYTES or _encode(raw) != value:
        raise _malformed()  # spare bits set: not the encoding HQ makes
    return raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]


def _encode(raw: bytes) -> str:
    return DYNAMIC_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")


def parse_dynamic_code(text: str) -> DynamicCode:
    """Read a code WITHOUT checking its signature or time (see :func:`verify_dynamic_code`).

    Raises:
        InvalidCode: not a well-formed signed member code of a known version.
    """
    payload, _signature = _split(text)
    version, key_id, member_raw, issued, lifetime, nonce = _PAYLOAD.unpack(payload)
    if version != VERSION:
        raise InvalidCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This member code has a format version ({version}) the till does not know.",
            ),
            version=version,
        )
    member_no = int.from_bytes(member_raw, "big")
    if member_no <= 0:
        raise _malformed()
    issued_at = _EPOCH + dt.timedelta(seconds=issued)
    return DynamicCode(
        key_id=key_id,
        member_no=member_no,
        issued_at=issued_at,
        expires_at=issued_at + dt.timedelta(seconds=lifetime),
        nonce=nonce.hex(),
    )


def verify_dynamic_code(
    text: str,
    public_keys: Mapping[int, bytes | TrustedKey],
    now: dt.datetime,
    *,
    skew: dt.timedelta = CLOCK_SKEW,
) -> DynamicCode:
    """Check a code's signature with HQ's public keys, and its validity window at ``now``.

    Args:
        text: The scanned code.
        public_keys: HQ's keys by key id: :class:`TrustedKey` (with its window), or a
            raw 32-byte Ed25519 public key (no window).
        now: The till's time (aware).
        skew: Clock-skew tolerance on both ends of the window.

    Raises:
        InvalidCode: malformed, signed with a key the till does not have, a revoked key,
            or issued outside its key's validity window.
        ForgedCode: the signature does not verify (a flipped bit, another key).
        ExpiredCode: outside its validity window, or a lifetime above the maximum.
    """
    require_aware(now)
    payload, signature = _split(text)
    code = parse_dynamic_code(text)
    found = public_keys.get(code.key_id)
    trusted = TrustedKey(found) if isinstance(found, bytes) else found
    if trusted is None:
        raise InvalidCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This member code was signed with key {key_id}, which this till does not "
                "have: HQ's keys need updating.",
            ),
            key_id=code.key_id,
        )
    try:
        Ed25519PublicKey.from_public_bytes(trusted.public_key).verify(signature, DOMAIN + payload)
    except (InvalidSignature, ValueError):
        raise ForgedCode(
            QT_TRANSLATE_NOOP(
                "Errors", "This member code is forged or damaged: its signature does not match."
            )
        ) from None
    _check_key_window(trusted, code, skew)
    if code.expires_at - code.issued_at > MAX_LIFETIME:
        raise ExpiredCode(
            QT_TRANSLATE_NOOP(
                "Errors", "This member code claims a lifetime longer than {minutes} minutes."
            ),
            minutes=int(MAX_LIFETIME.total_seconds() // 60),
        )
    if now < code.issued_at - skew:
        raise ExpiredCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This member code is not valid yet: the till's clock or the phone's is wrong.",
            )
        )
    if now > code.expires_at + skew:
        raise ExpiredCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This member code has expired: ask the member to refresh it in the app.",
            )
        )
    return code


def _check_key_window(key: TrustedKey, code: DynamicCode, skew: dt.timedelta) -> None:
    """Refuse a code of a revoked key, or issued outside its key's validity window."""
    if key.revoked:
        raise InvalidCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This member code was signed with key {key_id}, which HQ has revoked: ask the "
                "member to refresh it in the app.",
            ),
            key_id=code.key_id,
        )
    early = key.not_before is not None and code.issued_at < key.not_before - skew
    late = key.not_after is not None and code.issued_at > key.not_after + skew
    if early or late:
        raise InvalidCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This member code was issued outside the validity of HQ's key {key_id}.",
            ),
            key_id=code.key_id,
        )


def sign_dynamic_code(
    private_key: bytes,
    *,
    key_id: int,
    member_no: int,
    issued_at: dt.datetime,
    nonce: bytes,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> str:
    """Mint a code (what HQ / the member app does with HQ's private key).

    Args:
        private_key: Raw 32-byte Ed25519 private key.
        key_id: The id tills know the matching public key by (0-65535).
        member_no: The member number (1 to 10^10 - 1).
        issued_at: Issue time (aware).
        nonce: 8 random bytes, unique per code.
        lifetime: How long the code is valid (at most :data:`MAX_LIFETIME` to be accepted).
    """
    if not 0 <= key_id <= 0xFFFF:
        raise ValueError("key_id must fit in 16 bits")
    if not 0 < member_no < 10**10:
        raise ValueError("member_no out of range")
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"the nonce is {NONCE_BYTES} bytes")
    seconds = int(lifetime.total_seconds())
    if not 0 < seconds <= 0xFFFF:
        raise ValueError("lifetime out of range")
    payload = _PAYLOAD.pack(
        VERSION, key_id, member_no.to_bytes(5, "big"), _unix(issued_at), seconds, nonce
    )
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(DOMAIN + payload)
    return _encode(payload + signature)


def public_key_of(private_key: bytes) -> bytes:
    """The raw public key of a raw Ed25519 private key."""
    return (
        Ed25519PrivateKey.from_private_bytes(private_key)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
