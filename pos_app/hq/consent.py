"""Consent (PIPL) and contact addresses of members at HQ.

A member states their consent at registration (the till's ``member_registered`` event
carries it as ``payload.consent``) or later through a channel (the member app:
``PUT /v1/channel/{channel}/members/{id}/consent``). Every statement is kept in
``consent_records`` (when, through whom); ``member_consents`` holds the latest one,
which the notification job reads when it plans **and again when it sends**, so a
withdrawal stops what is queued at once. No consent row: nothing is sent.

Addresses (phone for SMS, e-mail, WeChat openid) come through a channel that verified
them (``PUT .../contacts``) and are sealed under HQ's master key; the database holds
only their masked forms. The till never holds a full phone number, so it sends none.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pos_app.core.errors import InvalidInput
from pos_app.core.notify import CHANNELS, Consent
from pos_app.core.privacy import mask_phone, normalize_phone
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.keys import MasterKey
from pos_app.hq.ledger import resolve_member
from pos_app.hq.models import ConsentRecord, MemberConsent, MemberContact
from pos_app.hq.schemas import ConsentIn

if TYPE_CHECKING:
    from pos_app.hq.events import EventContext
    from pos_app.hq.schemas import MemberPayload

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,185}\.[A-Za-z]{2,24}$")
_OPENID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class ConsentState:
    """A member's current consent as the API shows it."""

    member_id: str
    marketing: bool
    channels: list[str]
    notify_earned: bool
    stated_at: dt.datetime
    source: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "member_id": self.member_id,
            "marketing": self.marketing,
            "channels": self.channels,
            "notify_earned": self.notify_earned,
            "stated_at": self.stated_at.isoformat(),
            "source": self.source,
        }


def consent_of(row: MemberConsent | Any) -> Consent:
    """The core's view of a ``member_consents`` row."""
    return Consent(
        marketing=bool(row.marketing),
        channels=frozenset(c for c in CHANNELS if getattr(row, c)),
        notify_earned=bool(row.notify_earned),
    )


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def record_consent(
    session: Session,
    member_id: str,
    record_id: str,
    consent: ConsentIn,
    source: str,
    recorded_at: dt.datetime,
) -> None:
    """Keep ``consent`` in the member's record and make it current unless a later
    statement is current already. The same ``record_id`` again changes nothing."""
    insert = _insert(session)
    channels = sorted(set(consent.channels))
    session.execute(
        insert(ConsentRecord)
        .values(
            member_id=member_id,
            id=record_id,
            marketing=consent.marketing,
            channels=",".join(channels),
            notify_earned=consent.notify_earned,
            stated_at=consent.stated_at,
            source=source,
            recorded_at=recorded_at,
        )
        .on_conflict_do_nothing()
    )
    values = {
        "marketing": consent.marketing,
        "notify_earned": consent.notify_earned,
        "stated_at": consent.stated_at,
        "source": source,
        "recorded_at": recorded_at,
        **{c: c in channels for c in CHANNELS},
    }
    stmt = insert(MemberConsent).values(member_id=member_id, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[MemberConsent.member_id],
            set_={k: getattr(stmt.excluded, k) for k in values},
            where=MemberConsent.stated_at <= stmt.excluded.stated_at,
        )
    )


def record_registration_consent(ctx: EventContext, p: MemberPayload, canonical_id: str) -> None:
    """The consent a ``member_registered`` event carries, for the member it registered
    (the canonical one when the phone was known): called last in
    :func:`pos_app.hq.events.apply_member_registered`, after every check that can refuse
    the event."""
    if p.consent is None:
        return
    record_consent(
        ctx.book.session,
        canonical_id,
        ctx.event_id,
        p.consent,
        ctx.principal.key,
        ctx.received_at,
    )


def current(session: Session, member_id: str) -> ConsentState | None:
    """The member's current consent, None if they never stated one."""
    row = session.get(MemberConsent, member_id)
    if row is None:
        return None
    return ConsentState(
        member_id,
        row.marketing,
        sorted(consent_of(row).channels),
        row.notify_earned,
        row.stated_at,
        row.source,
    )


def canonical_member_id(session: Session, member_id: str) -> str:
    """The canonical id of ``member_id`` (an alias answers with its member).

    Raises:
        NotFound: no such member.
    """
    member = resolve_member(session, member_id)
    if member is None:
        raise NotFound(f"member {member_id} is not known at HQ")
    return member.id


# -- contact addresses ----------------------------------------------------------------


def normalized_address(channel: str, raw: str) -> tuple[str, str]:
    """(address, masked form) of ``raw`` on ``channel``.

    Raises:
        BadRequest: not a mobile number, an e-mail address or a WeChat openid.
    """
    raw = raw.strip()
    if channel == "sms":
        try:
            e164 = normalize_phone(raw)
        except InvalidInput:
            raise BadRequest("sms: not a valid mobile phone number") from None
        return e164, mask_phone(e164)
    if channel == "email":
        if not _EMAIL.match(raw):
            raise BadRequest("email: not an e-mail address")
        local, _, domain = raw.partition("@")
        return raw, f"{local[:1]}***@{domain}"
    if channel == "wechat":
        if not _OPENID.match(raw):
            raise BadRequest("wechat: not a WeChat openid (16-64 letters, digits, _ or -)")
        return raw, f"{raw[:4]}***{raw[-2:]}"
    raise BadRequest(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")


def _purpose(member_id: str, channel: str) -> str:
    return f"contact:{member_id}:{channel}"


def set_contacts(
    session: Session,
    master: MasterKey,
    member_id: str,
    addresses: dict[str, str | None],
    source: str,
    now: dt.datetime,
) -> dict[str, str | None]:
    """Set (or, with None, forget) the member's addresses; returns the masked forms.
    Every address is checked before any is written."""
    checked = {
        ch: (normalized_address(ch, raw) if raw is not None else None)
        for ch, raw in addresses.items()
    }
    shown: dict[str, str | None] = {}
    for channel, value in checked.items():
        row = session.get(MemberContact, (member_id, channel))
        if value is None:
            if row is not None:
                session.delete(row)
            shown[channel] = None
            continue
        address, masked = value
        sealed = master.seal_for(_purpose(member_id, channel), address.encode())
        if row is None:
            row = MemberContact(member_id=member_id, channel=channel)
            session.add(row)
        row.address_sealed, row.address_masked = sealed, masked
        row.source, row.updated_at = source, now
        shown[channel] = masked
    return shown


def masked_contacts(session: Session, member_id: str) -> dict[str, str]:
    """The member's addresses, masked, per channel."""
    rows = session.execute(
        select(MemberContact.channel, MemberContact.address_masked).where(
            MemberContact.member_id == member_id
        )
    )
    return {channel: masked for channel, masked in rows}


def open_address(master: MasterKey, member_id: str, channel: str, sealed: bytes) -> str:
    """The address sealed for the member's ``channel``."""
    return master.unseal_for(_purpose(member_id, channel), sealed).decode()
