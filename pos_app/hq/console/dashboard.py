"""The dashboard's figures, read from the summaries (:mod:`pos_app.hq.console.summaries`).

Definitions (the same in the tests' plain SQL over the ledger):

* **liability**: the points members hold, ``SUM(ledger_entries.points)``, and their value
  at the active rule set's ``spending.points_per_yuan``;
* **issued** ``earn + bonus``; **spent** ``-spend``; **expired** ``-expire``;
  **adjusted** ``adjust`` (net); **refunds** ``refund_reversal + refund_restore`` (net);
* **redemption rate** of a span: spent / issued in it;
* periods are store-local days, ISO weeks (Monday first) or calendar months; a span is
  the last 30 days, 12 weeks or 12 months up to today;
* members by tier and active members: the newest jobs run's snapshot;
* by region: the store figures summed over the stores' current ``stores.region`` (an
  entry without a store keeps its ``@channel``);
* members by tier at the end of each period and the tier moves in it (joined, upgrades,
  downgrades on the active rule set's ladder, merged away): from the tier changes the
  summaries recorded (``console_tier_daily``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.core.calendar import local_date
from pos_app.core.money import points_to_fen
from pos_app.hq.console.models import (
    MallTotal,
    PointsDaily,
    PointsStoreDaily,
    Snapshot,
    SummaryState,
    TierDaily,
)
from pos_app.hq.console.summaries import LEDGER_SEQ
from pos_app.hq.database import HQDatabase
from pos_app.hq.ledger import active_rules
from pos_app.hq.models import MallItem, Store

PERIODS = {"day": 30, "week": 12, "month": 12}
CATEGORIES: dict[str, dict[str, int]] = {
    "issued": {"earn": 1, "bonus": 1},
    "spent": {"spend": -1},
    "expired": {"expire": -1},
    "adjusted": {"adjust": 1},
    "refunds": {"refund_reversal": 1, "refund_restore": 1},
}
TOP_STORES = 20
TOP_ITEMS = 10


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the period holding ``day``."""
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def span_start(today: dt.date, period: str) -> dt.date:
    """The first day of the span the dashboard shows for ``period``."""
    first = period_start(today, period)
    count = PERIODS[period] - 1
    if period == "day":
        return first - dt.timedelta(days=count)
    if period == "week":
        return first - dt.timedelta(weeks=count)
    months = first.year * 12 + first.month - 1 - count
    return dt.date(months // 12, months % 12 + 1, 1)


def buckets(today: dt.date, period: str) -> list[dt.date]:
    """The first day of every period of the span, oldest first."""
    out: list[dt.date] = []
    day = span_start(today, period)
    while day <= today:
        out.append(day)
        if period == "day":
            day += dt.timedelta(days=1)
        elif period == "week":
            day += dt.timedelta(weeks=1)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def categorise(by_kind: dict[str, int]) -> dict[str, int]:
    """Points by kind as the dashboard's categories."""
    return {
        name: sum(sign * by_kind.get(kind, 0) for kind, sign in kinds.items())
        for name, kinds in CATEGORIES.items()
    }


def rate(spent: int, issued: int) -> float | None:
    """Redemption rate (spent / issued), None when nothing was issued."""
    return round(spent / issued, 4) if issued > 0 else None


@dataclass
class Dashboard:
    """Every figure the dashboard page shows."""

    period: str
    today: dt.date
    refreshed_at: dt.datetime | None
    up_to_seq: int
    points_per_yuan: int
    liability_points: int
    liability_fen: int
    flows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    redemption_rate: float | None = None
    stores: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    tier_periods: list[dict[str, Any]] = field(default_factory=list)
    tier_codes: list[str] = field(default_factory=list)
    tiers: dict[str, int] = field(default_factory=dict)
    members: int = 0
    active_members: int = 0
    snapshot_day: dt.date | None = None
    mall: list[dict[str, Any]] = field(default_factory=list)


def figures(db: HQDatabase, now: dt.datetime, period: str = "day") -> Dashboard:
    """The dashboard as of ``now`` from the summaries."""
    if period not in PERIODS:
        raise ValueError(f"period is day, week or month, not {period!r}")
    with db.read(snapshot=True) as s:
        rules = active_rules(s)
        today = local_date(rules, now)
        start = span_start(today, period)
        state = s.get(SummaryState, LEDGER_SEQ)
        before = int(
            s.scalar(
                select(func.coalesce(func.sum(PointsDaily.points), 0)).where(
                    PointsDaily.day < start
                )
            )
            or 0
        )
        daily = s.execute(
            select(PointsDaily.day, PointsDaily.kind, PointsDaily.points).where(
                PointsDaily.day >= start
            )
        ).all()
        board = Dashboard(
            period=period,
            today=today,
            refreshed_at=state.updated_at if state else None,
            up_to_seq=state.value if state else 0,
            points_per_yuan=rules.spending.points_per_yuan,
            liability_points=0,
            liability_fen=0,
        )
        _flows(board, before, [(d, k, int(p)) for d, k, p in daily if d <= today])
        # every entry counts, a till's clock ahead of today's date included
        board.liability_points = before + sum(int(p) for _d, _k, p in daily)
        board.liability_fen = points_to_fen(board.liability_points, board.points_per_yuan)
        board.stores = _stores(s, start, today)
        board.regions = _stores(s, start, today, by_region=True)
        board.tier_codes = rules.tier_codes()
        board.tier_periods = _tier_periods(s, board, start)
        _snapshots(s, board)
        board.mall = _mall(s)
    return board


def _flows(board: Dashboard, before: int, daily: list[tuple[dt.date, str, int]]) -> None:
    by_bucket: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, kind, points in daily:
        by_bucket[period_start(day, board.period)][kind] += points
    running = before
    totals: dict[str, int] = defaultdict(int)
    for first in buckets(board.today, board.period):
        kinds = by_bucket.get(first, {})
        running += sum(kinds.values())
        row = categorise(dict(kinds))
        for name, value in row.items():
            totals[name] += value
        board.flows.append({"period": first, "liability": running, **row})
    board.totals = dict(totals)
    board.redemption_rate = rate(totals["spent"], totals["issued"])


def _stores(
    s: Session, start: dt.date, today: dt.date, *, by_region: bool = False
) -> list[dict[str, Any]]:
    """The span's figures per store, or per region (the top :data:`TOP_STORES`)."""
    key = (
        func.coalesce(Store.region, PointsStoreDaily.store) if by_region else PointsStoreDaily.store
    )
    query = select(key, PointsStoreDaily.kind, func.sum(PointsStoreDaily.points))
    if by_region:
        query = query.join(Store, Store.code == PointsStoreDaily.store, isouter=True)
    rows = s.execute(
        query.where(PointsStoreDaily.day >= start, PointsStoreDaily.day <= today).group_by(
            key, PointsStoreDaily.kind
        )
    ).all()
    by_store: dict[str, dict[str, int]] = defaultdict(dict)
    for store, kind, points in rows:
        by_store[store][kind] = int(points)
    ranked = sorted(by_store.items(), key=lambda item: (-categorise(item[1])["issued"], item[0]))
    return [{"store": store, **categorise(kinds)} for store, kinds in ranked[:TOP_STORES]]


def tier_move(ranks: dict[str, int], from_tier: str, to_tier: str) -> str:
    """What a tier change is: ``joined``, ``merged``, ``upgrades`` or ``downgrades``."""
    if not from_tier:
        return "joined"
    if not to_tier:
        return "merged"
    return "upgrades" if ranks.get(to_tier, -1) > ranks.get(from_tier, -1) else "downgrades"


def tier_periods(
    ranks: dict[str, int],
    before: list[tuple[str, str, int]],
    daily: list[tuple[dt.date, str, str, int]],
    today: dt.date,
    period: str,
) -> list[dict[str, Any]]:
    """Members by tier at the end of each period and the moves in it, from tier changes
    (``before`` the span: from, to, members; in it: day, from, to, members)."""
    counts: dict[str, int] = defaultdict(int)

    def apply(from_tier: str, to_tier: str, members: int) -> None:
        if from_tier:
            counts[from_tier] -= members
        if to_tier:
            counts[to_tier] += members

    for from_tier, to_tier, members in before:
        apply(from_tier, to_tier, members)
    by_bucket: dict[dt.date, list[tuple[str, str, int]]] = defaultdict(list)
    for day, from_tier, to_tier, members in daily:
        by_bucket[period_start(day, period)].append((from_tier, to_tier, members))
    out = []
    for first in buckets(today, period):
        moves = dict.fromkeys(("joined", "upgrades", "downgrades", "merged"), 0)
        for from_tier, to_tier, members in by_bucket.get(first, []):
            apply(from_tier, to_tier, members)
            moves[tier_move(ranks, from_tier, to_tier)] += members
        tiers = {tier: n for tier, n in sorted(counts.items()) if n}
        out.append({"period": first, "tiers": tiers, **moves})
    return out


def _tier_periods(s: Session, board: Dashboard, start: dt.date) -> list[dict[str, Any]]:
    pair = (TierDaily.from_tier, TierDaily.to_tier)
    before = s.execute(
        select(*pair, func.sum(TierDaily.members)).where(TierDaily.day < start).group_by(*pair)
    ).all()
    daily = s.execute(
        select(TierDaily.day, *pair, TierDaily.members).where(
            TierDaily.day >= start, TierDaily.day <= board.today
        )
    ).all()
    ranks = {code: n for n, code in enumerate(board.tier_codes)}
    return tier_periods(
        ranks,
        [(f, t, int(n)) for f, t, n in before],
        [(d, f, t, int(n)) for d, f, t, n in daily],
        board.today,
        board.period,
    )


def _snapshots(s: Session, board: Dashboard) -> None:
    newest = s.scalar(select(func.max(Snapshot.day)))
    board.snapshot_day = newest
    if newest is None:
        return
    rows = s.execute(
        select(Snapshot.metric, Snapshot.key, Snapshot.value).where(Snapshot.day == newest)
    ).all()
    for metric, key, value in rows:
        if metric == "tier":
            board.tiers[key] = int(value)
        elif metric == "members":
            board.members = int(value)
        elif metric == "active":
            board.active_members = int(value)


def _mall(s: Session) -> list[dict[str, Any]]:
    rows = s.execute(
        select(
            MallTotal.item_id,
            MallItem.name,
            MallTotal.quantity,
            MallTotal.points,
            MallTotal.redemptions,
        )
        .join(MallItem, MallItem.id == MallTotal.item_id, isouter=True)
        .order_by(MallTotal.quantity.desc(), MallTotal.item_id)
        .limit(TOP_ITEMS)
    ).all()
    return [
        {"item_id": i, "name": n or i, "quantity": int(q), "points": int(p), "redemptions": int(r)}
        for i, n, q, p, r in rows
    ]
