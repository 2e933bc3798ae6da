"""HQ's notification job: who gets what (planning), and sending it (docs/notifications.md).

**Planning** finds the members due a message with set-based queries, each driven by an
index (lots by expiry date, the day's sales by time, consents by member) and joined to
``member_consents`` so only members who agreed are looked at, and writes one
``notifications`` row per (member, kind, period, channel): the unique key makes a rerun,
a retry or a restart write nothing twice. A channel needs the member's consent for it
and an address; a marketing kind needs marketing consent and stays within the weekly
cap; rows are due when the quiet hours allow.

**Sending** claims due rows (``FOR UPDATE SKIP LOCKED``), checks consent again (a
withdrawal stops what is queued), marks them ``sending`` and commits before it calls
the provider; the answer is recorded after. A row found still ``sending`` past its lease
(the process died mid-send) becomes ``unknown`` and is never sent again: at most once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, extract, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pos_app.core import notify as core
from pos_app.core.calendar import local_date
from pos_app.core.entries import PURCHASE_KINDS, purchase_points
from pos_app.core.perks import ANNIVERSARY_REASON
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import progress, window_start_at
from pos_app.hq.channels import (
    FAILED,
    REJECTED,
    RETRY,
    SENT,
    Channel,
    Delivery,
    Message,
    NotifyConfig,
)
from pos_app.hq.consent import consent_of, open_address
from pos_app.hq.database import HQDatabase
from pos_app.hq.keyed import KEYS, per_key
from pos_app.hq.keys import MasterKey
from pos_app.hq.ledger import active_rules, spend_since_of
from pos_app.hq.mall import active_items
from pos_app.hq.models import (
    LedgerEntry,
    LotteryPrize,
    LotteryWinner,
    MallItem,
    Member,
    MemberConsent,
    MemberContact,
    Notification,
    PointLot,
    Sale,
    SaleLine,
    Store,
)

BATCH = 2000
LEASE = dt.timedelta(minutes=10)
# A message not sent within this long after it was planned is dropped (``expired``):
# "member day tomorrow" must not arrive the week after.
MAX_AGE = dt.timedelta(days=2)
WEEK = dt.timedelta(days=7)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Due:
    """A message a member is due (before channels): kind, period and its variables."""

    member_id: str
    kind: str
    period: str
    params: dict[str, str]


@dataclass(frozen=True)
class Planned:
    """One message on one channel."""

    member_id: str
    kind: str
    period: str
    channel: str
    params: dict[str, str]

    @property
    def id(self) -> str:
        """The row's id: derived from its unique key."""
        key = "\x1f".join((self.member_id, self.kind, self.period, self.channel))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass
class PlanReport:
    """What a planning run found."""

    planned: list[Planned] = field(default_factory=list)
    already: int = 0
    capped: int = 0
    no_channel: int = 0

    def counts(self) -> dict[str, int]:
        """Messages per kind and channel, and what was left out."""
        out: dict[str, int] = defaultdict(int)
        for p in self.planned:
            out[f"{p.kind}.{p.channel}"] += 1
        return {
            **dict(sorted(out.items())),
            "already_planned": self.already,
            "over_weekly_cap": self.capped,
            "no_consented_channel": self.no_channel,
        }


@dataclass
class SendReport:
    """What a sending run did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    rejected: int = 0
    withdrawn: int = 0
    expired: int = 0
    unknown: int = 0
    quiet: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-friendly form."""
        return asdict(self)


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# -- who is due what ----------------------------------------------------------------------


def _store_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Store.code, Store.name))}


def by_members(session: Session, query: Any, column: Any, member_ids: Sequence[str]) -> Any:
    """The rows of ``query`` for each of ``member_ids``: on PostgreSQL one index probe
    per member in the one partition that holds it (``book.per_key``), not every
    partition searching for every member."""
    pg = session.get_bind().dialect.name == "postgresql"
    return session.execute(select(per_key(query, column, pg=pg)), {KEYS: list(member_ids)})


def _home_stores(session: Session, member_ids: Sequence[str]) -> dict[str, str | None]:
    rows = by_members(session, select(Member.id, Member.registered_store), Member.id, member_ids)
    return {member_id: store for member_id, store in rows}


def due_expiring(session: Session, rules: RuleSet, now: dt.datetime, mall_url: str) -> list[Due]:
    """Points expiring: for each window of ``notifications.expiry_days`` (30 and 7 by
    default), members with open lots whose last valid day falls in the window (past the
    next smaller window), told the points of their first such day. Driven by
    ``ix_lots_expiring`` (lots by date, open only)."""
    today = local_date(rules, now)
    windows = rules.notifications.expiry_days
    stores = _store_names(session)
    found: list[Due] = []
    for i, days in enumerate(windows):
        nearer = windows[i + 1] if i + 1 < len(windows) else -1
        rows = session.execute(
            select(PointLot.member_id, PointLot.expires_on, func.sum(PointLot.remaining))
            .join(MemberConsent, MemberConsent.member_id == PointLot.member_id)
            .where(
                PointLot.remaining > 0,
                PointLot.expires_on > today + dt.timedelta(days=nearer),
                PointLot.expires_on <= today + dt.timedelta(days=days),
            )
            .group_by(PointLot.member_id, PointLot.expires_on)
        ).all()
        first: dict[str, tuple[dt.date, int]] = {}
        for member_id, day, points in rows:
            assert day is not None  # the range excludes lots that never expire
            if member_id not in first or day < first[member_id][0]:
                first[member_id] = (day, int(points))
        homes = _home_stores(session, list(first)) if first else {}
        for member_id, (day, points) in first.items():
            params = {
                "points": str(points),
                "date": _cn_date(day),
                "days": str((day - today).days),
                "store": stores.get(homes.get(member_id) or "", "门店"),
                "mall_url": mall_url,
            }
            found.append(
                Due(member_id, core.POINTS_EXPIRING, core.expiry_period(days, day), params)
            )
    return found


def _day_sales(session: Session, now: dt.datetime) -> Any:
    """Sales of members made in the last day (``ix_sales_created_at``)."""
    return select(Sale).where(
        Sale.created_at > now - DAY, Sale.created_at <= now, Sale.member_id.is_not(None)
    )


def due_earned(session: Session, now: dt.datetime) -> list[Due]:
    """Points earned, for members who asked for it: their sales of the last day."""
    stores = _store_names(session)
    rows = session.execute(
        select(Sale.id, Sale.member_id, Sale.receipt_no, Sale.store_code, Sale.points_earned)
        .join(MemberConsent, MemberConsent.member_id == Sale.member_id)
        .join(Member, Member.id == Sale.member_id)
        .where(
            Sale.created_at > now - DAY,
            Sale.created_at <= now,
            Sale.points_earned > 0,
            MemberConsent.notify_earned.is_(True),
        )
        .add_columns(Member.balance)
    ).all()
    return [
        Due(
            member_id,
            core.POINTS_EARNED,
            sale_id,
            {
                "points": str(points),
                "store": stores.get(store or "", "积分商城"),
                "balance": str(balance),
                "receipt_no": receipt or sale_id[:12],
            },
        )
        for sale_id, member_id, receipt, store, points, balance in rows
    ]


def window_figures(
    session: Session, member_ids: Sequence[str], since: dt.datetime
) -> dict[str, tuple[int, int]]:
    """(spend in fen, purchase points) in the tier window for each member, in three
    grouped queries over ``ix_sales_member_time`` (``ledger.spend_since_of``,
    ``core.entries.purchase_points``)."""
    spend = spend_since_of(session, member_ids, since)
    kinds: dict[str, list[tuple[str, int]]] = defaultdict(list)
    earned = (
        select(LedgerEntry.member_id, LedgerEntry.kind, LedgerEntry.points)
        .join(Sale, Sale.id == LedgerEntry.sale_id)
        .where(LedgerEntry.kind.in_(PURCHASE_KINDS), Sale.created_at >= since)
    )
    for member_id, kind, points in by_members(session, earned, LedgerEntry.member_id, member_ids):
        kinds[member_id].append((kind, int(points)))
    return {m: (spend[m], purchase_points(kinds.get(m, []))) for m in member_ids}


def _day_buyers(session: Session, now: dt.datetime, *columns: Any) -> list[Any]:
    """``columns`` of the canonical members with marketing consent who bought in the last
    day (``ix_sales_created_at``, then members by primary key)."""
    return list(
        session.execute(
            select(*columns)
            .join(MemberConsent, MemberConsent.member_id == Member.id)
            .where(
                Member.id.in_(_day_sales(session, now).with_only_columns(Sale.member_id)),
                MemberConsent.marketing.is_(True),
                Member.alias_of.is_(None),
            )
        ).all()
    )


def due_tier_near(session: Session, rules: RuleSet, now: dt.datetime, mall_url: str) -> list[Due]:
    """Close to the next tier (再消费 ¥X 或再得 N 积分升级…): members with marketing
    consent who bought in the last day, measured with the core's tier formulas; once a
    month per target tier."""
    rows = _day_buyers(session, now, Member.id, Member.tier)
    since = window_start_at(rules, now)
    month = local_date(rules, now).strftime("%Y-%m")
    found: list[Due] = []
    for chunk in _chunks(rows):
        figures = window_figures(session, [m for m, _ in chunk], since)
        for member_id, tier in chunk:
            prog = progress(rules, tier, *figures[member_id])
            if core.tier_near(rules, prog):
                period = f"{month}:{prog.next_tier}"
                found.append(
                    Due(member_id, core.TIER_NEAR, period, core.tier_params(prog, mall_url))
                )
    return found


def due_birthday(session: Session, rules: RuleSet, now: dt.datetime) -> list[Due]:
    """Birthday-month gift: members with marketing consent born this month, once a year
    (only when the rule set has a birthday gift)."""
    gift = rules.bonuses.birthday_gift
    if not gift:
        return []
    today = local_date(rules, now)
    stores = _store_names(session)
    rows = session.execute(
        select(Member.id, Member.registered_store)
        .join(MemberConsent, MemberConsent.member_id == Member.id)
        .where(
            MemberConsent.marketing.is_(True),
            Member.alias_of.is_(None),
            extract("month", Member.birthday) == today.month,
        )
    ).all()
    params = {"month": str(today.month), "points": str(gift)}
    return [
        Due(
            member_id,
            core.BIRTHDAY_GIFT,
            str(today.year),
            params | {"store": stores.get(store or "", "门店")},
        )
        for member_id, store in rows
    ]


def due_member_day(session: Session, rules: RuleSet, now: dt.datetime, mall_url: str) -> list[Due]:
    """Member day tomorrow: every member with marketing consent, once per member day."""
    promo = core.member_day_tomorrow(rules, now)
    if promo is None:
        return []
    tomorrow = local_date(rules, now) + DAY
    params = {
        "date": f"{tomorrow.month}月{tomorrow.day}日",
        "promotion": promo.name,
        "multiplier": f"{promo.multiplier.normalize():f}",
        "mall_url": mall_url,
    }
    ids = session.scalars(
        select(MemberConsent.member_id).where(MemberConsent.marketing.is_(True))
    ).all()
    return [Due(m, core.MEMBER_DAY, tomorrow.isoformat(), params) for m in ids]


PRIZE_HOW = {
    "points": "积分已存入您的账户。",
    "coupon": "优惠券已发放到您的账户，结账时出示会员码即可使用。",
    "goods": "请在{days}天内到门店出示会员码领取。",
}


def due_prizes(session: Session, now: dt.datetime) -> list[Due]:
    """Lottery prizes issued in the last :data:`MAX_AGE` (transactional: the member's
    own prize), one message per win (its id is the period)."""
    rows = session.execute(
        select(LotteryWinner, MallItem.name, LotteryPrize.valid_days)
        .join(MallItem, MallItem.id == LotteryWinner.item_id)
        .join(
            LotteryPrize,
            and_(
                LotteryPrize.item_id == LotteryWinner.item_id,
                LotteryPrize.position == LotteryWinner.prize_position,
            ),
        )
        .join(MemberConsent, MemberConsent.member_id == LotteryWinner.member_id)
        .where(LotteryWinner.issued_at > now - MAX_AGE, LotteryWinner.issued_at <= now)
    ).all()
    return [
        Due(
            win.member_id,
            core.LOTTERY_PRIZE,
            win.id[:40],
            {
                "lottery": lottery,
                "prize": win.prize_name,
                "how": PRIZE_HOW[win.prize_kind].format(days=days),
            },
        )
        for win, lottery, days in rows
    ]


#: The sales a member's categories are read from (积分可兑换: "a category they buy").
CATEGORY_WINDOW = dt.timedelta(days=90)


def top_categories(session: Session, member_ids: Sequence[str], now: dt.datetime) -> dict[str, str]:
    """Each member's category of most spend (lines' price less their discount, reward
    lines left out) over the last :data:`CATEGORY_WINDOW`: one grouped query over
    ``ix_sales_member_time`` and the lines by sale; ties go to the first category by name."""
    spend = func.sum(SaleLine.quantity * SaleLine.unit_price_fen - SaleLine.line_discount_fen)
    rows = session.execute(
        select(Sale.member_id, SaleLine.category, spend)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(
            Sale.member_id.in_(member_ids),
            Sale.created_at > now - CATEGORY_WINDOW,
            Sale.created_at <= now,
            SaleLine.is_reward.is_(False),
        )
        .group_by(Sale.member_id, SaleLine.category)
    ).all()
    best: dict[str, tuple[int, str]] = {}
    for member_id, category, fen in rows:
        mine = best.get(str(member_id))
        if fen > 0 and (mine is None or (-fen, category) < (-mine[0], mine[1])):
            best[str(member_id)] = (int(fen), category)
    return {m: category for m, (_, category) in best.items()}


def due_mall_affordable(
    session: Session, rules: RuleSet, now: dt.datetime, mall_url: str
) -> list[Due]:
    """Enough points for a mall item in the category they buy most (积分可兑换提醒): members
    with marketing consent who bought in the last day (their balance moved), whose
    balance covers the dearest item of that category they could redeem now
    (``core.notify.mall_offers`` once per tier, the core's mall rules); once per item
    and month.
    HQ records no item views (the mall's quote does not name the member): the category
    is the only signal."""
    rows = _day_buyers(session, now, Member.id, Member.tier, Member.balance)
    if not rows:
        return []
    items = active_items(session)
    offers: dict[str, core.Offers] = {}
    found: list[Due] = []
    for chunk in _chunks(rows):
        categories = top_categories(session, [m for m, _, _ in chunk], now)
        for member_id, tier, balance in chunk:
            category = categories.get(member_id)
            if category is None:
                continue
            if tier not in offers:
                offers[tier] = core.mall_offers(rules, items, tier, now)
            pick = core.affordable_item(offers[tier], category, balance)
            if pick is not None:
                item, price = pick
                found.append(
                    Due(
                        member_id,
                        core.MALL_AFFORDABLE,
                        core.mall_period(rules, now, item.item_id),
                        core.mall_params(item, price, balance, mall_url),
                    )
                )
    return found


def due_anniversary(session: Session, rules: RuleSet, now: dt.datetime) -> list[Due]:
    """The membership-anniversary bonus HQ's job posted in the last :data:`MAX_AGE`
    (transactional: the member's own points), once per member and year. Driven by
    ``ix_ledger_entries_anniversary`` (the job's bonus entries by time)."""
    rows = session.execute(
        select(
            LedgerEntry.member_id,
            LedgerEntry.points,
            LedgerEntry.created_at,
            Member.registered_at,
            Member.balance,
        )
        .join(Member, Member.id == LedgerEntry.member_id)
        .join(MemberConsent, MemberConsent.member_id == LedgerEntry.member_id)
        .where(
            LedgerEntry.kind == "bonus",
            LedgerEntry.reason == ANNIVERSARY_REASON,
            LedgerEntry.created_at > now - MAX_AGE,
            LedgerEntry.created_at <= now,
        )
    ).all()
    found: list[Due] = []
    for member_id, points, posted_at, registered_at, balance in rows:
        posted_on = local_date(rules, posted_at)
        registered_on = local_date(rules, registered_at)
        params = core.anniversary_params(registered_on, posted_on, int(points), int(balance))
        found.append(Due(member_id, core.ANNIVERSARY_BONUS, str(posted_on.year), params))
    return found


def everything_due(session: Session, rules: RuleSet, now: dt.datetime, mall_url: str) -> list[Due]:
    """Every message due now, transactional kinds first (they win over the cap)."""
    return [
        *due_expiring(session, rules, now, mall_url),
        *due_earned(session, now),
        *due_prizes(session, now),
        *due_anniversary(session, rules, now),
        *due_tier_near(session, rules, now, mall_url),
        *due_mall_affordable(session, rules, now, mall_url),
        *due_birthday(session, rules, now),
        *due_member_day(session, rules, now, mall_url),
    ]


# -- channels, the cap, what is there already ---------------------------------------------


def _reachable(session: Session, member_ids: Sequence[str]) -> dict[str, tuple[Any, set[str]]]:
    """Each member's consent row and the channels they have an address on."""
    columns = [
        MemberConsent.__table__.c[n]
        for n in ("member_id", "marketing", *core.CHANNELS, "notify_earned")
    ]
    consents = {
        row.member_id: row
        for row in by_members(session, select(*columns), MemberConsent.member_id, member_ids)
    }
    addresses: dict[str, set[str]] = defaultdict(set)
    for member_id, channel in by_members(
        session,
        select(MemberContact.member_id, MemberContact.channel),
        MemberContact.member_id,
        member_ids,
    ):
        addresses[member_id].add(channel)
    return {m: (consents[m], addresses[m]) for m in consents}


def _existing(session: Session, member_ids: Sequence[str]) -> set[tuple[str, str, str]]:
    rows = by_members(
        session,
        select(Notification.member_id, Notification.kind, Notification.period),
        Notification.member_id,
        member_ids,
    )
    return {(m, k, p) for m, k, p in rows}


def _recent_marketing(
    session: Session, member_ids: Sequence[str], now: dt.datetime
) -> dict[str, int]:
    """Marketing messages (kind and period, whatever the channels) per member in 7 days."""
    query = select(Notification.member_id, Notification.kind, Notification.period).where(
        Notification.created_at > now - WEEK, Notification.marketing.is_(True)
    )
    seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for member_id, kind, period in by_members(session, query, Notification.member_id, member_ids):
        seen[member_id].add((kind, period))
    return {m: len(pairs) for m, pairs in seen.items()}


def plan(session: Session, rules: RuleSet, now: dt.datetime, mall_url: str) -> PlanReport:
    """What would be written now: every due message on each channel the member agreed
    to and can be reached on, less what exists already and what the cap holds back."""
    report = PlanReport()
    by_member: dict[str, list[Due]] = defaultdict(list)
    for due in everything_due(session, rules, now, mall_url):
        by_member[due.member_id].append(due)
    cap = rules.notifications.marketing_per_week
    for chunk in _chunks(list(by_member)):
        reach = _reachable(session, chunk)
        existing = _existing(session, chunk)
        recent = _recent_marketing(session, chunk, now)
        for member_id in chunk:
            consent, addresses = reach.get(member_id, (None, set()))
            budget = cap - recent.get(member_id, 0)
            for due in by_member[member_id]:
                if (member_id, due.kind, due.period) in existing:
                    report.already += 1
                    continue
                mine = consent_of(consent) if consent is not None else None
                channels = [
                    c for c in core.CHANNELS if c in addresses and core.may_send(due.kind, mine, c)
                ]
                if not channels:
                    report.no_channel += 1
                    continue
                if core.spec(due.kind).marketing:
                    if budget <= 0:
                        report.capped += 1
                        continue
                    budget -= 1
                report.planned += [
                    Planned(member_id, due.kind, due.period, c, due.params) for c in channels
                ]
    return report


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def write_plan(
    session: Session, rules: RuleSet, now: dt.datetime, planned: Iterable[Planned]
) -> int:
    """Write the planned rows (a row whose key exists is left alone); returns how many
    were new."""
    due_at = core.next_send_time(rules, now)
    insert = _insert(session)
    written = 0
    for chunk in _chunks(list(planned)):
        rows = [
            {
                "member_id": p.member_id,
                "id": p.id,
                "kind": p.kind,
                "period": p.period,
                "channel": p.channel,
                "marketing": core.spec(p.kind).marketing,
                "params": p.params,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": due_at,
            }
            for p in chunk
        ]
        # executemany: one compiled statement, sent in pages (insertmanyvalues)
        stmt = insert(Notification).on_conflict_do_nothing().returning(Notification.id)
        written += len(session.execute(stmt, rows).all())
    return written


def run_planning(db: HQDatabase, now: dt.datetime, mall_url: str) -> dict[str, int]:
    """Plan and write in one transaction (no change-counter lock: tills pull none of it)."""
    with db.transaction() as s:
        rules = active_rules(s)
        report = plan(s, rules, now, mall_url)
        written = write_plan(s, rules, now, report.planned)
    return {"written": written, **report.counts()}


# -- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A row claimed for sending, with where it goes."""

    member_id: str
    id: str
    channel: str
    address: str
    message: Message
    attempts: int


def message_of(row: Notification | Any) -> Message:
    """The rendered message of a notification row."""
    kind = core.spec(row.kind)
    return Message(row.id, row.kind, kind.title, core.render(row.kind, row.params), row.params)


def _set(session: Session, member_id: str, row_id: str, **values: Any) -> None:
    session.execute(
        update(Notification)
        .where(Notification.member_id == member_id, Notification.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def abandon_stale(session: Session, now: dt.datetime) -> int:
    """Rows left ``sending`` past their lease (a crash mid-send) become ``unknown``."""
    stale = (
        update(Notification)
        .where(Notification.status == "sending", Notification.next_attempt_at <= now)
        .values(status="unknown", last_error="the sender stopped while sending; not sent again")
        .returning(Notification.id)
    )
    return len(session.execute(stale).all())


def claim(
    db: HQDatabase,
    master: MasterKey,
    channels: dict[str, Channel],
    now: dt.datetime,
    report: SendReport,
    limit: int = 200,
) -> list[Claimed]:
    """Claim up to ``limit`` due rows of configured channels, consent checked again."""
    claimed: list[Claimed] = []
    with db.transaction() as s:
        rules = active_rules(s)
        report.unknown += abandon_stale(s, now)
        rows = s.execute(
            select(Notification, MemberConsent, MemberContact.address_sealed)
            .outerjoin(MemberConsent, MemberConsent.member_id == Notification.member_id)
            .outerjoin(
                MemberContact,
                and_(
                    MemberContact.member_id == Notification.member_id,
                    MemberContact.channel == Notification.channel,
                ),
            )
            .where(
                Notification.status == "pending",
                Notification.next_attempt_at <= now,
                Notification.channel.in_(list(channels)),
            )
            .order_by(Notification.next_attempt_at)
            .limit(limit)
            .with_for_update(of=Notification, skip_locked=True)
        ).all()
        for row, consent, sealed in rows:
            mine = consent_of(consent) if consent is not None else None
            if sealed is None or not core.may_send(row.kind, mine, row.channel):
                _set(
                    s, row.member_id, row.id, status="withdrawn", last_error="no consent or address"
                )
                report.withdrawn += 1
                continue
            if now - row.created_at > MAX_AGE:
                _set(s, row.member_id, row.id, status="expired", last_error="not sent in time")
                report.expired += 1
                continue
            if core.in_quiet_hours(rules, now):
                _set(s, row.member_id, row.id, next_attempt_at=core.next_send_time(rules, now))
                report.quiet += 1
                continue
            address = open_address(master, row.member_id, row.channel, sealed)
            attempt = row.attempts + 1
            claimed.append(
                Claimed(row.member_id, row.id, row.channel, address, message_of(row), attempt)
            )
            _set(
                s,
                row.member_id,
                row.id,
                status="sending",
                attempts=attempt,
                next_attempt_at=now + LEASE,
            )
    return claimed


def backoff(base_seconds: int, attempts: int) -> dt.timedelta:
    """The wait before attempt ``attempts + 1``: doubling from ``base_seconds``, at most
    a day."""
    return dt.timedelta(seconds=min(86_400, base_seconds * 2 ** max(0, attempts - 1)))


def record(
    db: HQDatabase,
    item: Claimed,
    delivery: Delivery,
    now: dt.datetime,
    *,
    max_attempts: int,
    backoff_seconds: int,
    report: SendReport,
) -> None:
    """Write what the provider said about a claimed row."""
    values: dict[str, Any] = {"last_error": delivery.error}
    if delivery.status == SENT:
        values |= {"status": "sent", "sent_at": now, "provider_ref": delivery.provider_ref}
        report.sent += 1
    elif delivery.status == RETRY and item.attempts < max_attempts:
        values |= {
            "status": "pending",
            "next_attempt_at": now + backoff(backoff_seconds, item.attempts),
        }
        report.retry += 1
    elif delivery.status == REJECTED:
        values |= {"status": "rejected"}
        report.rejected += 1
    else:
        values |= {"status": FAILED}
        report.failed += 1
    with db.transaction() as s:
        _set(s, item.member_id, item.id, **values)


def send_due(
    db: HQDatabase,
    master: MasterKey,
    channels: dict[str, Channel],
    now: dt.datetime,
    *,
    max_attempts: int = 5,
    backoff_seconds: int = 60,
) -> SendReport:
    """Send every due message of the configured channels, once."""
    report = SendReport()
    if not channels:
        return report
    while True:
        batch = claim(db, master, channels, now, report)
        if not batch:
            return report
        for item in batch:
            delivery = channels[item.channel].send(item.address, item.message)
            record(
                db,
                item,
                delivery,
                now,
                max_attempts=max_attempts,
                backoff_seconds=backoff_seconds,
                report=report,
            )


def preview(
    session: Session, rules: RuleSet, now: dt.datetime, kind: str, member_id: str, mall_url: str
) -> dict[str, Any]:
    """What ``kind`` would say to ``member_id`` now (whether or not it is due), and
    whether consent allows it on each channel.

    Raises:
        UnknownKind: no such kind.
        LookupError: the member has nothing to say for this kind now.
    """
    core.spec(kind)
    mine = session.get(MemberConsent, member_id)
    consent = consent_of(mine) if mine is not None else None
    planned = [
        d for d in _due_of_kind(session, rules, now, kind, mall_url) if d.member_id == member_id
    ]
    stored = session.scalars(
        select(Notification)
        .where(Notification.member_id == member_id, Notification.kind == kind)
        .order_by(Notification.created_at.desc())
    ).first()
    if planned:
        due = planned[0]
        params, period = due.params, due.period
    elif stored is not None:
        params, period = stored.params, stored.period
    else:
        raise LookupError(f"member {member_id} has no {kind} message to show now")
    return {
        "member_id": member_id,
        "kind": kind,
        "period": period,
        "marketing": core.spec(kind).marketing,
        "title": core.spec(kind).title,
        "text": core.render(kind, params),
        "params": params,
        "allowed": {c: core.may_send(kind, consent, c) for c in core.CHANNELS},
    }


def _due_of_kind(
    session: Session, rules: RuleSet, now: dt.datetime, kind: str, mall_url: str
) -> list[Due]:
    planners: dict[str, Callable[[], list[Due]]] = {
        core.POINTS_EXPIRING: lambda: due_expiring(session, rules, now, mall_url),
        core.POINTS_EARNED: lambda: due_earned(session, now),
        core.TIER_NEAR: lambda: due_tier_near(session, rules, now, mall_url),
        core.BIRTHDAY_GIFT: lambda: due_birthday(session, rules, now),
        core.LOTTERY_PRIZE: lambda: due_prizes(session, now),
        core.MEMBER_DAY: lambda: due_member_day(session, rules, now, mall_url),
        core.MALL_AFFORDABLE: lambda: due_mall_affordable(session, rules, now, mall_url),
        core.ANNIVERSARY_BONUS: lambda: due_anniversary(session, rules, now),
    }
    return planners[kind]()


@dataclass(frozen=True)
class Reach:
    """What the scheduled job needs to notify members: the configuration, and the
    master key that opens their addresses (without it nothing is sent, only planned)."""

    config: NotifyConfig
    master: MasterKey | None

    def run(self, db: HQDatabase, now: dt.datetime) -> tuple[int, int]:
        """Plan, then send what is due; returns (rows written, messages sent)."""
        planned = run_planning(db, now, self.config.mall_url)["written"]
        if self.master is None:
            return planned, 0
        sent = send_due(
            db,
            self.master,
            self.config.channels(),
            now,
            max_attempts=self.config.max_attempts,
            backoff_seconds=self.config.backoff_seconds,
        )
        return planned, sent.sent
