"""The console dashboard's figures computed the plain way: straight SQL over the ledger,
members and redemptions, with no summary table. The tests compare the console's
figures with these; ``benchmarks/bench_console.py`` times both.

This module must not import pytest: benchmarks use it too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import text

from pos_app.core.calendar import local_date
from pos_app.core.money import points_to_fen
from pos_app.hq.console.dashboard import (
    TOP_ITEMS,
    TOP_STORES,
    buckets,
    categorise,
    period_start,
    rate,
    span_start,
    tier_move,
)
from pos_app.hq.console.summaries import ACTIVE_DAYS
from pos_app.hq.database import HQDatabase
from pos_app.hq.ledger import active_rules

DAY = "CAST((created_at AT TIME ZONE :zone) AS date)"
EDAY = "CAST((e.created_at AT TIME ZONE :zone) AS date)"


def plain_figures(db: HQDatabase, now: dt.datetime, period: str = "day") -> dict[str, Any]:
    """Every dashboard figure from the base tables (PostgreSQL)."""
    with db.read(snapshot=True) as s:
        rules = active_rules(s)
        zone = rules.timezone
        today = local_date(rules, now)
        start = span_start(today, period)
        liability = int(
            s.execute(text("SELECT COALESCE(SUM(points), 0) FROM ledger_entries")).scalar_one()
        )
        before = int(
            s.execute(
                text(f"SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE {DAY} < :start"),
                {"zone": zone, "start": start},
            ).scalar_one()
        )
        by_bucket: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for day, kind, points in s.execute(
            text(
                f"SELECT {DAY} AS d, kind, SUM(points) FROM ledger_entries "
                f"WHERE {DAY} >= :start AND {DAY} <= :today GROUP BY 1, 2"
            ),
            {"zone": zone, "start": start, "today": today},
        ):
            by_bucket[period_start(day, period)][kind] += int(points)
        flows, running = [], before
        for first in buckets(today, period):
            kinds = dict(by_bucket.get(first, {}))
            running += sum(kinds.values())
            flows.append({"period": first, "liability": running, **categorise(kinds)})
        totals = {name: sum(row[name] for row in flows) for name in categorise({})}
        stores: dict[str, dict[str, int]] = defaultdict(dict)
        for store, kind, points in s.execute(
            text(
                "SELECT COALESCE(store_code, '@' || source_channel), kind, SUM(points) "
                f"FROM ledger_entries WHERE {DAY} >= :start AND {DAY} <= :today GROUP BY 1, 2"
            ),
            {"zone": zone, "start": start, "today": today},
        ):
            stores[store][kind] = int(points)
        ranked = sorted(stores.items(), key=lambda item: (-categorise(item[1])["issued"], item[0]))
        regions: dict[str, dict[str, int]] = defaultdict(dict)
        for region, kind, points in s.execute(
            text(
                "SELECT COALESCE(st.region, e.store_code, '@' || e.source_channel), e.kind, "
                "SUM(e.points) FROM ledger_entries e LEFT JOIN stores st ON st.code = e.store_code "
                f"WHERE {EDAY} >= :start AND {EDAY} <= :today GROUP BY 1, 2"
            ),
            {"zone": zone, "start": start, "today": today},
        ):
            regions[region][kind] = int(points)
        by_region = sorted(
            regions.items(), key=lambda item: (-categorise(item[1])["issued"], item[0])
        )
        tiers = {
            str(tier): int(n)
            for tier, n in s.execute(
                text("SELECT tier, COUNT(*) FROM members WHERE alias_of IS NULL GROUP BY tier")
            )
        }
        active = int(
            s.execute(
                text(
                    "SELECT COUNT(DISTINCT member_id) FROM ledger_entries WHERE kind IN "
                    "('earn', 'spend') AND created_at >= :since AND created_at <= :now"
                ),
                {"since": now - dt.timedelta(days=ACTIVE_DAYS), "now": now},
            ).scalar_one()
        )
        mall = [
            {"item_id": i, "quantity": int(q), "points": int(p), "redemptions": int(r)}
            for i, q, p, r in s.execute(
                text(
                    "SELECT item_id, SUM(quantity), SUM(points), COUNT(*) FROM redemptions "
                    "GROUP BY item_id ORDER BY 2 DESC, 1 LIMIT :n"
                ),
                {"n": TOP_ITEMS},
            )
        ]
    return {
        "liability_points": liability,
        "liability_fen": points_to_fen(liability, rules.spending.points_per_yuan),
        "flows": flows,
        "totals": totals,
        "redemption_rate": rate(totals["spent"], totals["issued"]),
        "stores": [{"store": st, **categorise(k)} for st, k in ranked[:TOP_STORES]],
        "regions": [{"store": r, **categorise(k)} for r, k in by_region[:TOP_STORES]],
        "tier_periods": plain_tier_periods(db, now, period),
        "tiers": tiers,
        "members": sum(tiers.values()),
        "active_members": active,
        "mall": mall,
    }


def console_figures(board: Any) -> dict[str, Any]:
    """The same keys from the console's :class:`pos_app.hq.console.dashboard.Dashboard`."""
    return {
        "liability_points": board.liability_points,
        "liability_fen": board.liability_fen,
        "flows": board.flows,
        "totals": board.totals,
        "redemption_rate": board.redemption_rate,
        "stores": board.stores,
        "regions": board.regions,
        "tier_periods": board.tier_periods,
        "tiers": board.tiers,
        "members": board.members,
        "active_members": board.active_members,
        "mall": [{k: v for k, v in row.items() if k != "name"} for row in board.mall],
    }


def plain_tier_periods(db: HQDatabase, now: dt.datetime, period: str) -> list[dict[str, Any]]:
    """Members by tier at the end of each period, and the moves in it, counted straight
    from the tier history (``console_tier_history``, one row per member change)."""
    with db.read(snapshot=True) as s:
        rules = active_rules(s)
        today = local_date(rules, now)
        ranks = {code: n for n, code in enumerate(rules.tier_codes())}
        history = [
            (day, from_tier or "", to_tier or "", member_id)
            for day, from_tier, to_tier, member_id in s.execute(
                text(
                    "SELECT CAST((at AT TIME ZONE :zone) AS date), from_tier, to_tier, member_id "
                    "FROM console_tier_history"
                ),
                {"zone": rules.timezone},
            )
        ]
    out = []
    for first in buckets(today, period):
        end = min(next_period(first, period) - dt.timedelta(days=1), today)
        tiers: dict[str, int] = defaultdict(int)
        for day, from_tier, to_tier, _m in history:
            if day <= end:
                tiers[from_tier] -= 1
                tiers[to_tier] += 1
        moves = dict.fromkeys(("joined", "upgrades", "downgrades", "merged"), 0)
        for day, from_tier, to_tier, _m in history:
            if first <= day <= end:
                moves[tier_move(ranks, from_tier, to_tier)] += 1
        counted = {t: n for t, n in sorted(tiers.items()) if t and n}
        out.append({"period": first, "tiers": counted, **moves})
    return out


def next_period(first: dt.date, period: str) -> dt.date:
    """The first day of the period after the one starting on ``first``."""
    if period == "day":
        return first + dt.timedelta(days=1)
    if period == "week":
        return first + dt.timedelta(weeks=1)
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def plain_campaign(
    db: HQDatabase, days: list[dt.date], comparable: list[dt.date]
) -> dict[str, Any]:
    """A campaign's figures (:mod:`pos_app.hq.console.campaign`) from the ledger and sales."""
    with db.read(snapshot=True) as s:
        zone = active_rules(s).timezone

        def figures(chosen: list[dt.date]) -> dict[str, int]:
            params = {"zone": zone, "days": chosen}
            issued, spent = s.execute(
                text(
                    "SELECT COALESCE(SUM(points) FILTER (WHERE kind IN ('earn', 'bonus')), 0), "
                    "COALESCE(-SUM(points) FILTER (WHERE kind = 'spend'), 0) "
                    f"FROM ledger_entries WHERE {DAY} = ANY(:days)"
                ),
                params,
            ).one()
            active = s.execute(
                text(
                    f"SELECT COUNT(DISTINCT ({DAY}, member_id)) FROM ledger_entries "
                    f"WHERE kind IN ('earn', 'spend') AND {DAY} = ANY(:days)"
                ),
                params,
            ).scalar_one()
            sales, sales_fen = s.execute(
                text(
                    "SELECT COUNT(*), COALESCE(SUM(total_fen), 0) FROM sales s "
                    "WHERE CAST((s.created_at AT TIME ZONE :zone) AS date) = ANY(:days) "
                    "AND EXISTS (SELECT 1 FROM ledger_entries e WHERE e.sale_id = s.id)"
                ),
                params,
            ).one()
            return {
                "issued": int(issued),
                "spent": int(spent),
                "sales": int(sales),
                "sales_fen": int(sales_fen),
                "active": int(active),
            }

        return {
            "days": [d.isoformat() for d in days],
            "comparable": [d.isoformat() for d in comparable],
            "campaign": figures(days),
            "comparable_totals": figures(comparable),
        }
