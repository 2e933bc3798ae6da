"""HQ's scheduled jobs: hold expiry, points expiry, the yearly tier review, lottery
prizes and floating mall prices.

Each is driven by HQ's clock and is idempotent: what it does is decided by the state
(lots past their date, members not reviewed since the last review day), so running it
again at the same time finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import extract, or_, select, tuple_
from sqlalchemy.orm import Session

from pos_app.core.calendar import day_start, local_date
from pos_app.core.perks import ANNIVERSARY_REASON, anniversary_bonus
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import last_review_date, review_tier, window_start
from pos_app.hq.book import Book, Origin, Prefetch
from pos_app.hq.database import HQDatabase
from pos_app.hq.holds import expire_holds
from pos_app.hq.ledger import (
    active_rules,
    member_ids_of,
    purchase_points_between,
    spend_since,
)
from pos_app.hq.mall import issue_prizes, run_floating
from pos_app.hq.models import LedgerEntry, Member, PointLot
from pos_app.hq.notify import Reach
from pos_app.hq.security import derived_id

BATCH = 500


@dataclass
class JobReport:
    """What one run did."""

    holds_expired: int = 0
    members_expired: int = 0
    points_expired: int = 0
    members_reviewed: int = 0
    tier_changes: int = 0
    anniversary_bonuses: int = 0
    anniversary_points: int = 0
    prizes_issued: int = 0
    prices_moved: int = 0
    notifications_planned: int = 0
    notifications_sent: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-friendly form."""
        return asdict(self)


def run_jobs(db: HQDatabase, now: dt.datetime, reach: Reach | None = None) -> JobReport:
    """Run every job as of ``now``; with ``reach``, plan the members' notifications and
    send what is due (docs/notifications.md)."""
    if now.utcoffset() is None:
        raise ValueError("now must carry a time zone")
    report = JobReport()
    with db.write() as s:
        report.holds_expired = expire_holds(s, now)
    run_expiry(db, now, report)
    run_tier_review(db, now, report)
    run_anniversary(db, now, report)
    report.prizes_issued = issue_prizes(db, now)
    report.prices_moved = run_floating(db, now)
    if reach is not None:
        planned, sent = reach.run(db, now)
        report.notifications_planned, report.notifications_sent = planned, sent
    return report


def run_expiry(db: HQDatabase, now: dt.datetime, report: JobReport) -> None:
    """Expire every lot whose last valid day is before today (HQ's clock, store zone)."""
    origin = Origin("hq", None, None, None, now)
    while True:
        with db.write() as s:
            rules = active_rules(s)
            today = local_date(rules, now)
            member_ids = list(
                s.scalars(
                    select(PointLot.member_id)
                    .where(PointLot.remaining > 0, PointLot.expires_on < today)
                    .distinct()
                    .limit(BATCH)
                )
            )
            if not member_ids:
                return
            book = Book(s, now)
            book.prefetch(
                Prefetch(member_ids=set(member_ids), debit_member_ids=set(member_ids)), rules, None
            )
            for member_id in member_ids:
                member = book.member(member_id)
                assert member is not None
                due = [
                    lot
                    for lot in book.open_lots(member_id)
                    if lot.expires_on is not None and lot.expires_on < today
                ]
                points = sum(lot.remaining for lot in due)
                book.post(
                    rules,
                    member,
                    # One expiry per member and store day: a rerun (or HQ restored
                    # from a backup) writes the same id.
                    entry_id=derived_id("expire", member_id, today.isoformat()),
                    kind="expire",
                    points=-points,
                    created_at=now,
                    origin=origin,
                    prefer_lots=[lot.id for lot in due],
                    in_origin_ledger=False,
                    reason=f"expiry: lots valid until before {today.isoformat()}",
                )
                report.members_expired += 1
                report.points_expired += points
            book.flush()


def run_tier_review(db: HQDatabase, now: dt.datetime, report: JobReport) -> None:
    """The yearly review: each canonical member not reviewed since the last review day
    gets exactly the tier its last window qualifies for."""
    after = ""
    while True:
        with db.write() as s:
            rules = active_rules(s)
            today = local_date(rules, now)
            review_day = last_review_date(rules, today)
            since = dt.datetime.combine(window_start(rules, today), dt.time(), tzinfo=rules.zone)
            members = list(
                s.scalars(
                    select(Member)
                    .where(
                        Member.alias_of.is_(None),
                        Member.id > after,
                        or_(Member.last_review.is_(None), Member.last_review < review_day),
                    )
                    .order_by(Member.id)
                    .limit(BATCH)
                )
            )
            if not members:
                return
            for member in members:
                after = member.id
                points = purchase_points_between(s, member_ids_of(s, member.id), since)
                tier = review_tier(rules, spend_since(s, member.id, since), points)
                if tier != member.tier:
                    member.tier = tier
                    member.tier_since = now
                    report.tier_changes += 1
                member.last_review = review_day
                report.members_reviewed += 1


def _anniversary_candidates(s: Session, rules: RuleSet, today: dt.date, after: str) -> list[Member]:
    """Canonical members who registered in this month of an earlier year (store time),
    a set-based filter on the UTC month (this one or a neighbour: the store's zone may
    move a date across a month's end), the exact store-local rule is the core's."""
    months = sorted({(today.month + shift - 1) % 12 + 1 for shift in (-1, 0, 1)})
    members = s.scalars(
        select(Member)
        .where(
            Member.alias_of.is_(None),
            Member.id > after,
            Member.registered_at < day_start(rules, dt.date(today.year, 1, 1)),
            extract("month", Member.registered_at).in_(months),
        )
        .order_by(Member.id)
        .limit(BATCH)
    ).all()
    return list(members)


def anniversary_entry_id(member_id: str, year: int) -> str:
    """The one anniversary bonus of ``member_id`` in ``year``."""
    return derived_id("anniversary", member_id, str(year))


def run_anniversary(db: HQDatabase, now: dt.datetime, report: JobReport) -> None:
    """Membership-anniversary bonuses (``perks.anniversary_bonus``): one ``bonus`` entry
    per member and year, in the month they registered, pulled by every till like HQ's
    other entries. A rerun finds the year's entry written and writes nothing."""
    origin = Origin("hq", None, None, None, now)
    after = ""
    while True:
        with db.write() as s:
            rules = active_rules(s)
            if not rules.perks.anniversary_bonus:
                return
            today = local_date(rules, now)
            members = _anniversary_candidates(s, rules, today, after)
            if not members:
                return
            after = members[-1].id
            due = {
                m.id: points
                for m in members
                if (
                    points := anniversary_bonus(
                        rules, m.tier, local_date(rules, m.registered_at), today
                    )
                )
            }
            ids = {anniversary_entry_id(m, today.year): m for m in due}
            done = set(
                s.scalars(
                    select(LedgerEntry.id).where(
                        tuple_(LedgerEntry.member_id, LedgerEntry.id).in_(
                            [(m, entry_id) for entry_id, m in ids.items()]
                        )
                    )
                )
            )
            todo = {m: p for m, p in due.items() if anniversary_entry_id(m, today.year) not in done}
            if not todo:
                continue
            book = Book(s, now)
            book.prefetch(Prefetch(member_ids=set(todo)), rules, None)
            for member_id, points in todo.items():
                member = book.member(member_id)
                assert member is not None
                book.post(
                    rules,
                    member,
                    entry_id=anniversary_entry_id(member_id, today.year),
                    kind="bonus",
                    points=points,
                    created_at=now,
                    origin=origin,
                    in_origin_ledger=False,
                    reason=ANNIVERSARY_REASON,
                )
                report.anniversary_bonuses += 1
                report.anniversary_points += points
            book.flush()
