"""Signed dynamic member codes at the till: HQ's public keys, the code's one use, lookup.

HQ alone signs codes (``pos-hq keys``, :mod:`pos_app.hq.keys`). The till holds only
HQ's PUBLIC keys, pulled from HQ (topic ``member_code_key``) with their validity windows
and revocations, in the settings table (``member_code_key.<id>`` = the key as HQ sends
it, JSON). Nothing in the till database can mint a code, and the till makes no key of
its own: a till that has no key from HQ yet refuses codes and says so.

:func:`find_by_dynamic_code` verifies a scanned code offline
(:mod:`pos_app.core.member_codes`); then, when the till has HQ set up, it reports the use
to HQ with a short timeout (``POST /v1/member-codes/uses``): a code used at any other
till is refused. When HQ cannot be reached in time the till goes on alone: its replay
cache (``member_code_uses``) refuses a second scan here, and the sale names the code
(``sale.member_code``) so that HQ flags a replay across tills when the sale arrives.

A demo till (built by ``pos-app demo-data``, no HQ set up) trusts the embedded demo key
(:data:`pos_app.core.member_codes.DEMO_KEY_ID`), whose private half is public knowledge;
no other till ever does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidCode, InvalidInput, ReplayedCode
from pos_app.core.member_codes import (
    DEMO_KEY_ID,
    DEMO_PRIVATE_KEY,
    DynamicCode,
    TrustedKey,
    public_key_of,
    verify_dynamic_code,
)
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.members import MemberHit, hit_of, member_for_number
from pos_app.store import raw, repo
from pos_app.store.models import Member, MemberCodeUse, Setting

log = logging.getLogger(__name__)

KEY_SETTING_PREFIX = "member_code_key."
#: How long the till waits for HQ to record a scanned code's use before going on alone.
ONLINE_CHECK_SECONDS = 2.0
#: How long the replay cache keeps a used code (longer than any code lives), so that a
#: sale made a while after the scan still names the code that identified its member.
USE_RETENTION = dt.timedelta(hours=1)
#: A sale names the code of a scan at most this long before it.
SALE_WINDOW = dt.timedelta(minutes=30)


def _parse_when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def trusted_key(data: Mapping[str, Any]) -> tuple[int, TrustedKey]:
    """One of HQ's keys as HQ sends it (``key_id``, ``public_key`` hex, ``not_before``,
    ``not_after``, ``revoked_at``).

    Raises:
        InvalidInput: not a 32-byte Ed25519 public key with a key id of 16 bits.
    """
    try:
        key_id = int(data["key_id"])
        public = bytes.fromhex(str(data["public_key"]))
        key = TrustedKey(
            public,
            _parse_when(data.get("not_before")),
            _parse_when(data.get("not_after")),
            bool(data.get("revoked_at")),
        )
    except (KeyError, TypeError, ValueError):
        key_id, public = -1, b""
    if not 0 <= key_id <= 0xFFFF or len(public) != 32:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "A member-code key is a 32-byte Ed25519 public key.")
        )
    return key_id, key


def install_key(session: Session, data: Mapping[str, Any]) -> None:
    """Store one of HQ's keys (what a pull does), replacing what the till had for it."""
    key_id, _key = trusted_key(data)
    repo.put_setting(
        session, f"{KEY_SETTING_PREFIX}{key_id}", json.dumps(dict(data), sort_keys=True)
    )


def _is_demo_without_hq(session: Session) -> bool:
    from pos_app.services.sync.client import SETTING_TOKEN, SETTING_URL

    return (
        repo.get_setting(session, "demo") == "1"
        and not repo.get_setting(session, SETTING_URL)
        and not repo.get_setting(session, SETTING_TOKEN)
    )


def public_keys(ctx: TillContext) -> dict[int, TrustedKey]:
    """HQ's keys the till verifies member codes with, by key id (a demo till without HQ:
    the embedded demo key). Values that are not HQ's (a key the till once made itself,
    before HQ held the keys) are not trusted."""
    with ctx.db.read() as session:
        rows = session.execute(
            select(Setting.key, Setting.value).where(Setting.key.like(f"{KEY_SETTING_PREFIX}%"))
        ).all()
        demo = _is_demo_without_hq(session)
    keys: dict[int, TrustedKey] = {}
    for name, value in rows:
        try:
            data = json.loads(value)
            key_id, key = trusted_key(data)
        except (ValueError, InvalidInput):
            continue  # the till's own key of old: HQ alone holds the keys now
        if name == f"{KEY_SETTING_PREFIX}{key_id}":
            keys[key_id] = key
    if demo:
        keys.setdefault(DEMO_KEY_ID, TrustedKey(public_key_of(DEMO_PRIVATE_KEY)))
    return keys


# -- the till's side -----------------------------------------------------------------
def find_by_dynamic_code(ctx: TillContext, code: str) -> MemberHit:
    """Verify a scanned ``MD…`` code, report its use to HQ when online, accept it once.

    Raises:
        InvalidCode: malformed, a key the till does not have (or none yet), a revoked
            key, refused by HQ.
        ForgedCode: the signature does not verify.
        ExpiredCode: expired or not yet valid (beyond the clock-skew tolerance).
        ReplayedCode: this code was already used, here or (HQ says) at another till.
        UnknownMember: a valid code of no member (here, and at HQ when it was asked).
    """
    now = ctx.now()
    keys = public_keys(ctx)
    if not keys:
        raise InvalidCode(
            QT_TRANSLATE_NOOP(
                "Errors",
                "This till has no member-code key from HQ yet: sync with HQ, then scan again.",
            )
        )
    verified = verify_dynamic_code(code, keys, now)
    with ctx.db.read() as session:
        if session.get(MemberCodeUse, verified.nonce) is not None:
            raise _replayed()
    _report_use(ctx, code)
    member_for_number(ctx, verified.member_no)  # held, fetched from HQ, or provisional
    try:
        with ctx.db.write() as session:
            session.execute(
                delete(MemberCodeUse).where(MemberCodeUse.expires_at < now - USE_RETENTION)
            )
            if session.get(MemberCodeUse, verified.nonce) is not None:
                raise _replayed()
            row = repo.member_by_no(raw.dbapi(session), verified.member_no)
            if row is None:
                raise UnknownMember(QT_TRANSLATE_NOOP("Errors", "No member has this member code."))
            _remember_use(session, verified, now)
            hit = hit_of(ctx, row)
    except IntegrityError:
        raise _replayed() from None
    return hit


def _remember_use(session: Session, verified: DynamicCode, now: dt.datetime) -> None:
    session.add(
        MemberCodeUse(
            nonce=verified.nonce,
            key_id=verified.key_id,
            member_no=verified.member_no,
            expires_at=verified.expires_at,
            used_at=now,
        )
    )


def _report_use(ctx: TillContext, code: str) -> None:
    """Tell HQ the till accepts ``code`` (online tills): refused there if used elsewhere.

    Raises:
        ReplayedCode: HQ has seen the code used already.
        InvalidCode: HQ refuses the code (a key revoked since the till's last pull...).
    """
    from pos_app.services.sync.client import (
        HQClient,
        HQResponseError,
        SyncError,
        load_sync_config,
    )

    config = load_sync_config(ctx)
    if config is None:
        return  # no HQ: the till's own replay cache is the check
    try:
        with HQClient.from_config(config, timeout=ONLINE_CHECK_SECONDS) as client:
            client.record_code_use(code)
    except HQResponseError as exc:
        if exc.code == "code_used":
            raise _replayed_elsewhere() from None
        if exc.code == "invalid_code":
            raise InvalidCode(
                QT_TRANSLATE_NOOP("Errors", "HQ refuses this member code: {reason}"),
                reason=str(exc.detail),
            ) from None
        log.warning("HQ did not record a member code's use (%s): accepted offline", exc.status)
    except SyncError as exc:  # offline, too slow, busy: the code's lifetime bounds a replay
        log.info("HQ unreachable for a member code's use (%s): accepted offline", exc)


def code_for_sale(session: Session, member_id: str, now: dt.datetime) -> dict[str, Any] | None:
    """The member code that identified ``member_id`` for a sale now (its latest scan here
    within :data:`SALE_WINDOW`), as the sale payload names it; None without one."""
    row = session.execute(
        select(MemberCodeUse.nonce, MemberCodeUse.key_id, MemberCodeUse.expires_at)
        .join(Member, Member.member_no == MemberCodeUse.member_no)
        .where(Member.id == member_id, MemberCodeUse.used_at >= now - SALE_WINDOW)
        .order_by(MemberCodeUse.used_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {"key_id": row.key_id, "nonce": row.nonce, "expires_at": row.expires_at.isoformat()}


def _replayed() -> ReplayedCode:
    return ReplayedCode(
        QT_TRANSLATE_NOOP(
            "Errors",
            "This member code was already used: ask the member to refresh it in the app.",
        )
    )


def _replayed_elsewhere() -> ReplayedCode:
    return ReplayedCode(
        QT_TRANSLATE_NOOP(
            "Errors",
            "This member code was already used at another till: ask the member to refresh "
            "it in the app.",
        )
    )
