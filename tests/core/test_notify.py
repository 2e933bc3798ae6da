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
from pos_app.core.mall import MallItem, eligible, price_at
from pos_app.core.rules import default_rule_set, load_rule_set
from pos_app.core.tiers import TierProgress

RULES = default_rule_set()
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.timedelta(days=1)

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


NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=SHANGHAI)
mall_items = st.builds(
    MallItem,
    item_id=st.sampled_from(["A", "B", "C", "D", "E"]),
    name=st.just("保温杯"),
    points_price=st.integers(0, 5_000),
    stock=st.none() | st.integers(0, 3),
    min_tier=st.none() | st.sampled_from(["regular", "silver", "gold"]),
    category=st.sampled_from(["food", "home"]),
    available_from=st.none() | st.sampled_from([NOW - dt.timedelta(days=1), NOW + DAY]),
    kind=st.sampled_from(["goods", "coupon", "lottery"]),
)


@given(
    st.lists(mall_items, max_size=8),
    st.sampled_from(["regular", "silver", "gold"]),
    st.integers(-100, 6_000),
)
def test_an_affordable_item_is_the_dearest_the_member_could_redeem_now(
    items: list[MallItem], tier: str, balance: int
) -> None:
    pick = notify.affordable_item(notify.mall_offers(RULES, items, tier, NOW), "food", balance)
    could = [
        (price_at(i, NOW), i.item_id)
        for i in items
        if i.category == "food"
        and i.kind != "lottery"
        and eligible(RULES, i, tier, NOW)
        and 0 < price_at(i, NOW) <= balance
    ]
    if not could:
        assert pick is None
        return
    assert pick is not None
    item, price = pick
    assert (-price, item.item_id) == min((-p, i) for p, i in could)
    assert item.category == "food"
    assert item.kind != "lottery"
    assert eligible(RULES, item, tier, NOW)
    assert price <= balance


def test_the_mall_and_anniversary_texts() -> None:
    cup = MallItem("CUP", "保温杯", 800, category="home")
    offers = notify.mall_offers(RULES, [cup], "regular", NOW)
    assert notify.affordable_item(offers, "home", 799) is None
    assert notify.affordable_item(offers, "food", 950) is None
    assert notify.affordable_item(offers, "home", 950) == (cup, 800)
    params = notify.mall_params(cup, 800, 950, "https://m")
    text = notify.render(notify.MALL_AFFORDABLE, params)
    assert "“保温杯”只需 800 积分，您现有 950 积分" in text
    assert text.endswith("退订回T")
    assert notify.mall_period(RULES, NOW, "CUP") == "2027-03:CUP"
    assert notify.KINDS[notify.MALL_AFFORDABLE].marketing
    assert not notify.KINDS[notify.ANNIVERSARY_BONUS].marketing
    params = notify.anniversary_params(dt.date(2025, 3, 20), dt.date(2027, 3, 1), 200, 1200)
    assert params == {"years": "2", "points": "200", "balance": "1200"}
    assert notify.render(notify.ANNIVERSARY_BONUS, params) == (
        "感谢您成为会员满 2 年！会员周年礼 200 积分已存入您的账户，当前积分 1200。"
    )
