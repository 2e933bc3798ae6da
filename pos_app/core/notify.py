"""Member notifications: kinds, consent, quiet hours and the Chinese texts (pure).

HQ's notification job (:mod:`pos_app.hq.notify`) decides who gets what with set-based
SQL; what a message may be, when it may go and what it says is decided here, so the
rules are typed, tested with hypothesis and the same wherever they are used.

* A **transactional** notice (points expiring, points earned, a lottery prize won, the
  membership-anniversary bonus posted) concerns the member's own points; a **marketing**
  message (close to the next tier, birthday gift, member day, enough points for a mall
  item) promotes. Every message needs the member's consent to be contacted on that channel;
  a marketing message needs marketing consent as well; ``points_earned`` goes only to a
  member who asked for it (PIPL: nothing without consent).
* Quiet hours are store-local; a message due in them waits until they end.
* Each message has one key (member, kind, period, channel): the job writes it once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pos_app.core.calendar import is_member_day, local_date
from pos_app.core.mall import MallItem, eligible, price_at
from pos_app.core.money import format_fen
from pos_app.core.rules import MonthlyDayPromotion, RuleSet
from pos_app.core.tiers import TierProgress

CHANNELS: Final = ("sms", "wechat", "email")

POINTS_EXPIRING: Final = "points_expiring"
TIER_NEAR: Final = "tier_near"
BIRTHDAY_GIFT: Final = "birthday_gift"
MEMBER_DAY: Final = "member_day"
POINTS_EARNED: Final = "points_earned"
LOTTERY_PRIZE: Final = "lottery_prize"
MALL_AFFORDABLE: Final = "mall_affordable"
ANNIVERSARY_BONUS: Final = "anniversary_bonus"


@dataclass(frozen=True)
class KindSpec:
    """One kind of message.

    Attributes:
        marketing: Needs marketing consent and counts against the weekly cap.
        params: The template's variables, in the order SMS templates number them.
        text: The Chinese text, ``str.format`` style over ``params``.
        title: The e-mail subject / WeChat title.
    """

    marketing: bool
    params: tuple[str, ...]
    text: str
    title: str


KINDS: Final[dict[str, KindSpec]] = {
    POINTS_EXPIRING: KindSpec(
        False,
        ("points", "date", "days", "store", "mall_url"),
        "尊敬的会员，您有 {points} 积分将于 {date} 到期（还剩 {days} 天），"
        "请尽快到{store}或积分商城使用：{mall_url}",
        "积分即将到期提醒",
    ),
    TIER_NEAR: KindSpec(
        True,
        ("spend", "points", "tier", "mall_url"),
        "再消费 {spend} 或再得 {points} 积分即可升级{tier}，享更多会员权益。"
        "积分商城：{mall_url} 退订回T",
        "会员升级提醒",
    ),
    BIRTHDAY_GIFT: KindSpec(
        True,
        ("month", "points", "store"),
        "生日快乐！{month}月内到{store}消费即可领取 {points} 生日礼积分。退订回T",
        "生日礼遇",
    ),
    MEMBER_DAY: KindSpec(
        True,
        ("date", "promotion", "multiplier", "mall_url"),
        "明天（{date}）是{promotion}，到店消费享 {multiplier} 倍积分。积分商城：{mall_url} 退订回T",
        "会员日预告",
    ),
    POINTS_EARNED: KindSpec(
        False,
        ("points", "store", "balance", "receipt_no"),
        "您在{store}的消费（小票 {receipt_no}）获得 {points} 积分，当前积分 {balance}。",
        "积分到账通知",
    ),
    LOTTERY_PRIZE: KindSpec(
        False,
        ("lottery", "prize", "how"),
        "恭喜您在“{lottery}”抽奖中获得{prize}！{how}",
        "中奖通知",
    ),
    MALL_AFFORDABLE: KindSpec(
        True,
        ("item", "points", "balance", "mall_url"),
        "您常买的品类有好物可兑：“{item}”只需 {points} 积分，您现有 {balance} 积分，"
        "立即兑换：{mall_url} 退订回T",
        "积分可兑换提醒",
    ),
    ANNIVERSARY_BONUS: KindSpec(
        False,
        ("years", "points", "balance"),
        "感谢您成为会员满 {years} 年！会员周年礼 {points} 积分已存入您的账户，当前积分 {balance}。",
        "会员周年礼",
    ),
}


class UnknownKind(ValueError):
    """A kind of message that does not exist."""


def spec(kind: str) -> KindSpec:
    """The spec of ``kind``.

    Raises:
        UnknownKind: no such kind.
    """
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownKind(f"unknown kind {kind!r} (one of {', '.join(KINDS)})") from None


@dataclass(frozen=True)
class Consent:
    """A member's current choices.

    Attributes:
        marketing: Agreed to marketing messages.
        channels: Channels the member may be contacted on (sms, wechat, email).
        notify_earned: Asked for a notice of points earned after each sale.
    """

    marketing: bool
    channels: frozenset[str]
    notify_earned: bool = False


def may_send(kind: str, consent: Consent | None, channel: str) -> bool:
    """Whether a ``kind`` message may go to a member with ``consent`` on ``channel``:
    never without a consent record, never on a channel not chosen, marketing only with
    marketing consent, points earned only when asked for."""
    if consent is None or channel not in consent.channels:
        return False
    if spec(kind).marketing:
        return consent.marketing
    if kind == POINTS_EARNED:
        return consent.notify_earned
    return True


def render(kind: str, params: dict[str, str]) -> str:
    """The message text of ``kind`` with ``params`` (every variable must be given).

    Raises:
        KeyError: a variable is missing.
    """
    kind_spec = spec(kind)
    missing = [p for p in kind_spec.params if p not in params]
    if missing:
        raise KeyError(f"{kind}: missing {', '.join(missing)}")
    return kind_spec.text.format(**{p: params[p] for p in kind_spec.params})


# -- quiet hours --------------------------------------------------------------------


def in_quiet_hours(rules: RuleSet, at: dt.datetime) -> bool:
    """True when ``at`` (store-local) falls in the rule set's quiet hours."""
    start, end = rules.notifications.quiet_start, rules.notifications.quiet_end
    local = at.astimezone(rules.zone).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_send_time(rules: RuleSet, at: dt.datetime) -> dt.datetime:
    """``at`` itself, or the end of the quiet hours ``at`` falls in."""
    if not in_quiet_hours(rules, at):
        return at
    local = at.astimezone(rules.zone)
    end = rules.notifications.quiet_end
    day = local.date() if local.time() < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=rules.zone).astimezone(at.tzinfo)


# -- what is due --------------------------------------------------------------------


def expiry_period(days: int, first_expiry: dt.date) -> str:
    """The period key of an expiry reminder: the window and the first date concerned
    (points expiring later, or earned since, make another reminder)."""
    return f"{days}d:{first_expiry.isoformat()}"


def tier_near(rules: RuleSet, prog: TierProgress) -> bool:
    """True when the member is within the rule set's distance of the next tier."""
    if prog.next_tier is None:
        return False
    cfg = rules.notifications
    return prog.spend_needed_fen <= cfg.tier_near_spend_fen or (
        prog.points_needed <= cfg.tier_near_points
    )


def tier_params(prog: TierProgress, mall_url: str) -> dict[str, str]:
    """Template variables of a ``tier_near`` message (再消费 ¥X 或再得 N 积分升级金卡)."""
    return {
        "spend": format_fen(prog.spend_needed_fen),
        "points": str(prog.points_needed),
        "tier": prog.next_name or "",
        "mall_url": mall_url,
    }


def member_day_tomorrow(rules: RuleSet, now: dt.datetime) -> MonthlyDayPromotion | None:
    """The member-day promotion in force tomorrow (store-local), if any."""
    tomorrow = local_date(rules, now) + dt.timedelta(days=1)
    if not is_member_day(rules, tomorrow):
        return None
    for promo in rules.earning.promotions:
        if isinstance(promo, MonthlyDayPromotion) and promo.day == tomorrow.day:
            return promo
    return None


#: Mall items a member may be told about, by category: (price now, item), dearest first.
Offers = dict[str, list[tuple[int, MallItem]]]


def mall_offers(rules: RuleSet, items: Iterable[MallItem], tier: str, at: dt.datetime) -> Offers:
    """The items a member of ``tier`` could redeem at ``at`` given the points (in stock, in
    their window or the tier's early access, the tier allowed:
    :func:`pos_app.core.mall.eligible`), by category, dearest first (ties: by id), each
    with its price now. Lottery entries and free items are not offered."""
    offers: Offers = defaultdict(list)
    for item in items:
        if item.kind != "lottery" and eligible(rules, item, tier, at):
            price = price_at(item, at)
            if price > 0:
                offers[item.category].append((price, item))
    for listed in offers.values():
        listed.sort(key=lambda pair: (-pair[0], pair[1].item_id))
    return dict(offers)


def affordable_item(offers: Offers, category: str, balance: int) -> tuple[MallItem, int] | None:
    """The dearest of ``offers`` in ``category`` that ``balance`` points cover, with its
    price; None when they cover none."""
    for price, item in offers.get(category, ()):
        if price <= balance:
            return item, price
    return None


def mall_period(rules: RuleSet, now: dt.datetime, item_id: str) -> str:
    """The period key of a ``mall_affordable`` message: once per item and month."""
    return f"{local_date(rules, now).strftime('%Y-%m')}:{item_id}"


def mall_params(item: MallItem, price: int, balance: int, mall_url: str) -> dict[str, str]:
    """Template variables of a ``mall_affordable`` message."""
    return {
        "item": item.name,
        "points": str(price),
        "balance": str(balance),
        "mall_url": mall_url,
    }


def anniversary_params(
    registered_on: dt.date, posted_on: dt.date, points: int, balance: int
) -> dict[str, str]:
    """Template variables of an ``anniversary_bonus`` notice: the membership year the
    bonus marks (it is posted in the month of registration, maybe before the day:
    ``core.perks.anniversary_bonus``), its points and the balance now."""
    return {
        "years": str(posted_on.year - registered_on.year),
        "points": str(points),
        "balance": str(balance),
    }
