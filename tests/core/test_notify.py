"""Notification rules of the core: consent, quiet hours, texts (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.core import notify
from pos_app.core.errors import RuleSetError
from pos_app.core.rules import default_rule_set, load_rule_set
from pos_app.core.tiers import TierProgress

RULES = default_rule_set()
SHANGHAI = ZoneInfo("Asia/Shanghai")

consents = st.builds(
    notify.Consent,
    marketing=st.booleans(),
    channels=st.frozensets(st.sampled_from(notify.CHANNELS)),
    notify_earned=st.booleans(),
)
kinds = st.sampled_from(sorted(notify.KINDS))
channels = st.sampled_from(notify.CHANNELS)
times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1), timezones=st.just(dt.UTC)
)
clock_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(kinds, st.none() | consents, channels)
def test_nothing_goes_without_consent(
    kind: str, consent: notify.Consent | None, channel: str
) -> None:
    allowed = notify.may_send(kind, consent, channel)
    if consent is None or channel not in consent.channels:
        assert not allowed
    elif notify.KINDS[kind].marketing:
        assert allowed == consent.marketing
    elif kind == notify.POINTS_EARNED:
        assert allowed == consent.notify_earned
    else:
        assert allowed  # a transactional notice on a chosen channel


@given(times, clock_times, clock_times)
def test_a_message_waits_for_the_end_of_quiet_hours_and_no_longer(
    at: dt.datetime, start: dt.time, end: dt.time
) -> None:
    rules = RULES.model_copy(
        update={
            "notifications": RULES.notifications.model_copy(
                update={"quiet_start": start, "quiet_end": end}
            )
        }
    )
    when = notify.next_send_time(rules, at)
    assert when >= at
    assert not notify.in_quiet_hours(rules, when)
    assert when - at <= dt.timedelta(days=1)
    if not notify.in_quiet_hours(rules, at):
        assert when == at
    else:
        assert when.astimezone(SHANGHAI).time() == end


def test_quiet_hours_across_midnight() -> None:
    night = dt.datetime(2026, 11, 17, 22, 30, tzinfo=SHANGHAI)
    assert notify.in_quiet_hours(RULES, night)
    assert notify.next_send_time(RULES, night) == dt.datetime(2026, 11, 18, 9, 0, tzinfo=SHANGHAI)
    early = dt.datetime(2026, 11, 18, 8, 59, tzinfo=SHANGHAI)
    assert notify.next_send_time(RULES, early) == dt.datetime(2026, 11, 18, 9, 0, tzinfo=SHANGHAI)
    assert not notify.in_quiet_hours(RULES, early.replace(hour=9, minute=0))


@given(kinds, st.data())
def test_every_figure_given_is_in_the_text(kind: str, data: st.DataObject) -> None:
    values = st.text(alphabet="0123456789¥.年月日积分", min_size=1, max_size=12)
    params = {p: data.draw(values) for p in notify.KINDS[kind].params}
    text = notify.render(kind, params)
    assert all(v in text for v in params.values())
    missing = dict(params)
    missing.pop(notify.KINDS[kind].params[0])
    with pytest.raises(KeyError, match="missing"):
        notify.render(kind, missing)


def test_the_tier_text_is_the_brief_s() -> None:
    prog = TierProgress("silver", "gold", "金卡会员", 15_000, 600)
    assert notify.tier_near(RULES, prog)
    text = notify.render(notify.TIER_NEAR, notify.tier_params(prog, "https://m"))
    assert text.startswith("再消费 ¥150.00 或再得 600 积分即可升级金卡会员")
    assert not notify.tier_near(RULES, TierProgress("gold", None, None, 0, 0))
    far = TierProgress("regular", "silver", "银卡会员", 25_000, 1_001)
    assert not notify.tier_near(RULES, far)


def test_member_day_tomorrow() -> None:
    eve = dt.datetime(2026, 12, 17, 23, 0, tzinfo=SHANGHAI)
    promo = notify.member_day_tomorrow(RULES, eve)
    assert promo is not None
    assert promo.name == "会员日"
    assert notify.member_day_tomorrow(RULES, eve + dt.timedelta(days=1)) is None


def test_the_notifications_section_is_checked() -> None:
    document = json.loads(RULES.to_json())
    document["notifications"] = {"expiry_days": [7, 30]}
    assert load_rule_set(document).notifications.expiry_days == [30, 7]
    document["notifications"] = {"expiry_days": [7, 7]}
    with pytest.raises(RuleSetError, match=r"notifications\.expiry_days"):
        load_rule_set(document)
    document["notifications"] = {"marketing_per_week": -1}
    with pytest.raises(RuleSetError, match="marketing_per_week"):
        load_rule_set(document)
    with pytest.raises(notify.UnknownKind):
        notify.spec("lottery")
