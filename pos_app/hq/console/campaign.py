"""A campaign's effect: its days (a member day, a weekly promotion, a date range of the
active rule set, or a window typed in) against comparable days.

**Comparable days** are, for each campaign day, the same weekday in each of the
:data:`WEEKS_BACK` weeks before it that is not itself a campaign day (named on the
page). The figures of a set of days come from the summaries
(:mod:`pos_app.hq.console.summaries`), the same definitions as the dashboard's:

* **issued** ``earn + bonus``, **spent** ``-spend`` (``console_points_daily``);
* **sales**: the sales that moved points (an entry names them), counted on the sale's
  store-local day, and their amount (``console_activity_daily``);
* **active members**: members with an ``earn`` or ``spend`` entry that day
  (``console_activity_daily``), averaged over the days.

Each figure is given in total and per day; the lift is the campaign's per-day figure
over the comparable days' per-day figure, less one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from pos_app.core.calendar import local_date, promotion_applies
from pos_app.core.rules import DateRangePromotion, MonthlyDayPromotion, RuleSet, WeeklyPromotion
from pos_app.hq.console.dashboard import categorise
from pos_app.hq.console.models import ActivityDaily, PointsDaily
from pos_app.hq.database import HQDatabase
from pos_app.hq.ledger import active_rules

WEEKS_BACK = 4
LOOKBACK_DAYS = 90
MAX_DAYS = 366
FIGURES = ("issued", "spent", "sales", "sales_fen", "active")
DayPromotion = MonthlyDayPromotion | WeeklyPromotion | DateRangePromotion


class CampaignProblem(ValueError):
    """A campaign the page cannot show: ``field`` names the form field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class Effect:
    """A campaign's days, its comparable days and the figures of both."""

    name: str
    days: list[dt.date]
    comparable: list[dt.date]
    campaign_totals: dict[str, int] = field(default_factory=dict)
    comparable_totals: dict[str, int] = field(default_factory=dict)
    campaign_per_day: dict[str, float] = field(default_factory=dict)
    comparable_per_day: dict[str, float] = field(default_factory=dict)
    lift: dict[str, float | None] = field(default_factory=dict)


def day_promotions(rules: RuleSet) -> list[DayPromotion]:
    """The active rule set's promotions that fall on days (not a member's own)."""
    return [
        p
        for p in rules.earning.promotions
        if isinstance(p, MonthlyDayPromotion | WeeklyPromotion | DateRangePromotion)
    ]


def offered(db: HQDatabase) -> list[tuple[str, str]]:
    """(id, name) of the active rule set's day promotions, for the page's choice."""
    with db.read() as s:
        return [(p.id, p.name) for p in day_promotions(active_rules(s))]


def promotion_days(promo: DayPromotion, today: dt.date) -> list[dt.date]:
    """The days ``promo`` was in force up to today (a date range: all of it; otherwise
    the last :data:`LOOKBACK_DAYS` days)."""
    first = today - dt.timedelta(days=LOOKBACK_DAYS - 1)
    last = today
    if isinstance(promo, DateRangePromotion):
        first, last = promo.start, min(promo.end, today)
    days = [first + dt.timedelta(days=n) for n in range(max((last - first).days + 1, 0))]
    return [d for d in days if promotion_applies(promo, d, birthday=None, first_purchase=False)][
        -MAX_DAYS:
    ]


def comparable_days(days: list[dt.date]) -> list[dt.date]:
    """The same weekday in each of the :data:`WEEKS_BACK` weeks before every campaign
    day, campaign days left out."""
    chosen = set(days)
    out = {d - dt.timedelta(weeks=k) for d in days for k in range(1, WEEKS_BACK + 1)} - chosen
    return sorted(out)


def window_days(start: str, end: str, today: dt.date) -> list[dt.date]:
    """The days of a window typed in (``YYYY-MM-DD``, both included).

    Raises:
        CampaignProblem: naming the field: not a date, in the future, ends before it
            starts, longer than :data:`MAX_DAYS` days.
    """
    first, last = _date("from", start), _date("to", end)
    if last > today:
        raise CampaignProblem("to", f"{last} is after today ({today})")
    if last < first:
        raise CampaignProblem("to", f"{last} is before from ({first})")
    if (last - first).days >= MAX_DAYS:
        raise CampaignProblem("to", f"a window is at most {MAX_DAYS} days")
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CampaignProblem(name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def choose(
    rules: RuleSet, today: dt.date, promotion: str, start: str, end: str
) -> tuple[str, list[dt.date]] | None:
    """The campaign asked for: a window when ``start`` or ``end`` is given, else the
    promotion ``promotion`` (or the first day promotion of the rule set); None when
    the rule set has none."""
    if start.strip() or end.strip():
        return f"{start.strip()} – {end.strip()}", window_days(start, end, today)
    promos = day_promotions(rules)
    if promotion:
        promos = [p for p in promos if p.id == promotion]
        if not promos:
            raise CampaignProblem("campaign", f"no member day or promotion {promotion!r}")
    if not promos:
        return None
    return promos[0].name, promotion_days(promos[0], today)


def effect(
    db: HQDatabase, now: dt.datetime, promotion: str = "", start: str = "", end: str = ""
) -> Effect | None:
    """The effect of the campaign asked for (see :func:`choose`), from the summaries.

    Raises:
        CampaignProblem: the form's input names no campaign (the field and why).
    """
    with db.read(snapshot=True) as s:
        rules = active_rules(s)
        chosen = choose(rules, local_date(rules, now), promotion, start, end)
        if chosen is None:
            return None
        name, days = chosen
        result = Effect(name=name, days=days, comparable=comparable_days(days))
        wanted = sorted(set(result.days) | set(result.comparable))
        points: dict[dt.date, dict[str, int]] = {d: {} for d in wanted}
        for day, kind, value in s.execute(
            select(PointsDaily.day, PointsDaily.kind, PointsDaily.points).where(
                PointsDaily.day.in_(wanted)
            )
        ):
            points[day][kind] = int(value)
        activity = {
            day: {"active": int(members), "sales": int(sales), "sales_fen": int(fen)}
            for day, members, sales, fen in s.execute(
                select(
                    ActivityDaily.day,
                    ActivityDaily.members,
                    ActivityDaily.sales,
                    ActivityDaily.sales_fen,
                ).where(ActivityDaily.day.in_(wanted))
            )
        }
    per_day = {d: _day_figures(points[d], activity.get(d)) for d in wanted}
    result.campaign_totals = _sum(per_day, result.days)
    result.comparable_totals = _sum(per_day, result.comparable)
    result.campaign_per_day = _average(result.campaign_totals, len(result.days))
    result.comparable_per_day = _average(result.comparable_totals, len(result.comparable))
    result.lift = {
        name: (
            round(result.campaign_per_day[name] / result.comparable_per_day[name] - 1, 4)
            if result.comparable_per_day.get(name)
            else None
        )
        for name in FIGURES
    }
    return result


def _day_figures(kinds: dict[str, int], activity: dict[str, int] | None) -> dict[str, int]:
    flows = categorise(kinds)
    return {
        "issued": flows["issued"],
        "spent": flows["spent"],
        **(activity or {"active": 0, "sales": 0, "sales_fen": 0}),
    }


def _sum(per_day: dict[dt.date, dict[str, int]], days: list[dt.date]) -> dict[str, int]:
    return {name: sum(per_day[d][name] for d in days) for name in FIGURES}


def _average(totals: dict[str, int], days: int) -> dict[str, float]:
    return {name: round(value / days, 2) if days else 0.0 for name, value in totals.items()}


def as_dict(result: Effect) -> dict[str, Any]:
    """The figures the tests compare (days as ISO dates)."""
    return {
        "days": [d.isoformat() for d in result.days],
        "comparable": [d.isoformat() for d in result.comparable],
        "campaign": result.campaign_totals,
        "comparable_totals": result.comparable_totals,
    }
