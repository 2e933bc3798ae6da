"""Credentials: random bearer tokens, kept by HQ only as SHA-256 hashes.

A token is ``pt<kind>_<43 url-safe characters>`` (256 random bits), shown once when it
is created. A SHA-256 of a 256-bit random secret cannot be brute-forced, so a slow
password hash buys nothing here and would cost every request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.hq.models import Admin, Channel, Store, Till

PREFIXES = {"till": "ptt_", "channel": "ptc_", "admin": "pta_"}


def new_token(kind: str) -> str:
    """A fresh credential for a ``till``, ``channel`` or ``admin``."""
    return PREFIXES[kind] + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What HQ stores for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def derived_id(*parts: str, prefix: str = "hq") -> str:
    """A deterministic id for a row HQ derives from something else (an entry it writes
    while applying a till's event, or for a job's day): the same parts give the same id.

    HQ restored from a backup and fed the same events again writes the same ids, so a
    till that pulled the first copy of such an entry recognises the second and does not
    count it twice.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest[:32]}"


def new_id(prefix: str = "hq") -> str:
    """An HQ-generated, time-ordered id (``hq-`` + 32 hex digits, UUIDv7 layout)."""
    ms = time.time_ns() // 1_000_000
    rand = secrets.randbits(80)
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return f"{prefix}-{value:032x}"


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        kind: ``till``, ``channel`` or ``admin``.
        id: Till id (``<store>-<till>``), channel code or admin id.
        store_code: The till's store.
        till_code: The till's code within its store.
        region: The region of the till's store (whose members the till holds).
    """

    kind: str
    id: str
    store_code: str | None = None
    till_code: str | None = None
    region: str | None = None

    @property
    def key(self) -> str:
        """``kind:id``, recorded with idempotency records and flags."""
        return f"{self.kind}:{self.id}"

    @property
    def source_channel(self) -> str:
        """Channel of what this caller writes: ``store`` for a till, else the channel."""
        if self.kind == "till":
            return "store"
        return self.id if self.kind == "channel" else "hq"


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal holding ``token``, or None."""
    kind = next((k for k, p in PREFIXES.items() if token.startswith(p)), None)
    if kind is None or len(token) > 200:
        return None
    digest = token_hash(token)
    if kind == "till":
        found = session.execute(
            select(Till, Store.region)
            .join(Store, Store.code == Till.store_code)
            .where(Till.token_hash == digest)
        ).first()
        if found is None or not found[0].active:
            return None
        till, region = found
        return Principal("till", till.id, till.store_code, till.till_code, region)
    if kind == "channel":
        channel = session.scalars(select(Channel).where(Channel.token_hash == digest)).first()
        if channel is None or not channel.active:
            return None
        return Principal("channel", channel.code)
    admin = session.scalars(select(Admin).where(Admin.token_hash == digest)).first()
    if admin is None or not admin.active:
        return None
    return Principal("admin", admin.id)
