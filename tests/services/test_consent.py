"""Consent at the till's registration: what the member chose travels to HQ in the
``member_registered`` event, in a form HQ accepts; nothing chosen, nothing sent."""

from __future__ import annotations

import json

from pos_app.core.notify import Consent
from pos_app.hq.schemas import MemberPayload
from pos_app.services import members
from pos_app.services.context import TillContext
from pos_app.services.sync.push import with_personal
from tests.services.support import rows


def pushed_payload(ctx: TillContext, member_id: str) -> MemberPayload:
    (payload,) = rows(
        ctx,
        "SELECT payload FROM outbox WHERE kind = 'member_registered' AND aggregate_id = :m",
        m=member_id,
    )[0]
    with ctx.db.read() as session:
        sent = with_personal(session, "member_registered", payload)
    return MemberPayload.model_validate(json.loads(sent))


def test_the_consent_chosen_at_registration_reaches_hq(ctx: TillContext) -> None:
    choice = Consent(marketing=True, channels=frozenset({"sms", "wechat"}), notify_earned=True)
    member = members.register(ctx, phone="13812345678", consent=choice)
    sent = pushed_payload(ctx, member.id)
    assert sent.consent is not None
    assert sent.consent.marketing is True
    assert sent.consent.channels == ["sms", "wechat"]
    assert sent.consent.notify_earned is True
    assert sent.consent.stated_at == ctx.now()


def test_no_box_ticked_is_a_recorded_refusal_and_no_dialog_means_none(ctx: TillContext) -> None:
    refused = members.register(ctx, phone="13812345679", consent=Consent(False, frozenset()))
    sent = pushed_payload(ctx, refused.id)
    assert sent.consent is not None
    assert (sent.consent.marketing, sent.consent.channels) == (False, [])
    silent = members.register(ctx, phone="13812345670")
    assert pushed_payload(ctx, silent.id).consent is None
