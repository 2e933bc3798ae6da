"""A draft rule set on last month's real sales: points issued and the liability, before
and after.

Last month is the previous calendar month in store-local dates (the active rule set's
zone). The sales are HQ's recorded member sales and their lines (``sales``,
``sale_lines``: HQ's per-line ``cash_fen``, or the line's price less its discount where
HQ could not recompute it), aggregated in SQL, one pass per rule set,
never re-quoted one by one (a chain of 10,000,000 members sells ~45 M baskets a month).
Per sale, under a rule set: the eligible cash (lines that are not rewards nor in
``earning.excluded_categories``), its base points (``cash × points_per_yuan // 100``),
multiplied by the multiplier of the sale's day and the member's tier (the core's own,
:func:`pos_app.core.quote.quote_basket` on a one-line basket, once per day and tier:
tier multiplier and day promotions combined as the rule set says), rounded down, capped
per order.

What the aggregate leaves out, and the page says so: promotions of the member's own
(birthday, first purchase), the cap per member per day, the tier the member had on the
day (it uses today's), and the cash a change in the value of points would have moved.
Next to the draft's figure stands the active rule set's figure by the same formula and
the points the sales really earned: their difference measures what is left out.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from pos_app.core.calendar import local_date
from pos_app.core.money import points_to_fen
from pos_app.core.quote import BasketLine, MemberContext, quote_basket
from pos_app.core.rules import RuleSet
from pos_app.hq.console.rules import check
from pos_app.hq.console.summaries import bind_time, day_expression
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest
from pos_app.hq.ledger import active_rules

_PROBE_CATEGORY = "\x1fsimulated"  # a category no rule set excludes


@dataclass(frozen=True)
class MonthSimulation:
    """Last month's sales under the active rule set and under the draft."""

    first_day: dt.date
    last_day: dt.date
    sales: int
    earned: int  # what the sales really earned (``sales.points_earned``)
    active_points: int  # the aggregate under the active rule set
    draft_points: int  # the aggregate under the draft
    liability: int  # points members hold now
    liability_fen: int  # at the active rule set's value of a point
    liability_after: int  # had the draft been in force last month
    liability_after_fen: int  # at the draft's value of a point
    seconds: float

    @property
    def change(self) -> int:
        """Points the draft would have issued more (less: negative)."""
        return self.draft_points - self.active_points


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the calendar month before ``today``'s."""
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


def simulate(db: HQDatabase, document: str, now: dt.datetime) -> MonthSimulation:
    """The draft ``document`` on last month's sales.

    Raises:
        BadRequest: the draft is not a valid rule set (the field named).
    """
    draft, problem = check(document)
    if problem is not None or draft is None:
        assert problem is not None
        raise BadRequest(f"{problem.field}: {problem.problem}")
    started = time.perf_counter()
    with db.read(snapshot=True) as s:
        current = active_rules(s)
        first, last = last_month(local_date(current, now))
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        window = _window(s, current, first, last)
        sales, earned, active_points = _aggregate(s, current, current, days, window)
        _sales, _earned, draft_points = _aggregate(s, current, draft, days, window)
        liability = int(
            s.execute(text("SELECT COALESCE(SUM(points), 0) FROM ledger_entries")).scalar_one()
        )
    after = liability + draft_points - active_points
    return MonthSimulation(
        first_day=first,
        last_day=last,
        sales=sales,
        earned=earned,
        active_points=active_points,
        draft_points=draft_points,
        liability=liability,
        liability_fen=points_to_fen(liability, current.spending.points_per_yuan),
        liability_after=after,
        liability_after_fen=points_to_fen(after, draft.spending.points_per_yuan),
        seconds=round(time.perf_counter() - started, 3),
    )


def _window(s: Session, zone_rules: RuleSet, first: dt.date, last: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone_rules.zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone_rules.zone)
    return {"start": bind_time(s, start), "end": bind_time(s, end)}


def multiplier(rules: RuleSet, tier: str, day: dt.date) -> Fraction:
    """The multiplier a member of ``tier`` earns at on ``day`` (no promotion of their
    own), as the core's quote computes it."""
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=rules.zone)
    probe = BasketLine("SIM", "SIM", _PROBE_CATEGORY, 1, 10_000, 0)
    member = MemberContext(member_id="simulated", tier=tier, balance=0)
    return quote_basket(rules, [probe], member=member, at=noon).multiplier


def _aggregate(
    s: Session, zone_rules: RuleSet, rules: RuleSet, days: list[dt.date], window: dict[str, Any]
) -> tuple[int, int, int]:
    """(sales, points they earned, points under ``rules``) of the window's member sales."""
    factors = [
        (day.isoformat(), tier, m.numerator, m.denominator)
        for day in days
        for tier in rules.tier_codes()
        for m in [multiplier(rules, tier, day)]
    ]
    values = ", ".join(
        f"(CAST(:d{n} AS TEXT), CAST(:t{n} AS TEXT), CAST(:n{n} AS BIGINT), CAST(:e{n} AS BIGINT))"
        for n in range(len(factors))
    )
    params: dict[str, Any] = dict(window)
    for n, (day, tier, num, den) in enumerate(factors):
        params |= {f"d{n}": day, f"t{n}": tier, f"n{n}": num, f"e{n}": den}
    cap = rules.earning.caps.per_order
    capped = (
        "p.pts" if cap is None else f"CASE WHEN p.pts > {int(cap)} THEN {int(cap)} ELSE p.pts END"
    )
    day = day_expression(s, zone_rules.timezone, "s.created_at")
    statement = text(
        f"WITH m(day, tier, num, den) AS (VALUES {values}), "
        "per_sale AS ("
        f" SELECT s.id, CAST({day} AS TEXT) AS day, mb.tier, s.points_earned AS earned,"
        "  CAST(SUM(CASE WHEN NOT l.is_reward AND l.category NOT IN :excluded"
        "   THEN COALESCE(l.cash_fen, l.quantity * l.unit_price_fen - l.line_discount_fen)"
        "   ELSE 0 END) AS BIGINT) AS cash"
        " FROM sales s JOIN members mb ON mb.id = s.member_id"
        " JOIN sale_lines l ON l.sale_id = s.id"
        " WHERE s.created_at >= :start AND s.created_at < :end"
        " GROUP BY s.id, 2, mb.tier, s.points_earned) "
        "SELECT COUNT(*), COALESCE(SUM(p.earned), 0), "
        f"COALESCE(SUM({capped}), 0) FROM ("
        " SELECT ps.earned, COALESCE(((ps.cash * CAST(:ppy AS BIGINT) / 100) * m.num) / m.den, 0)"
        "  AS pts"
        " FROM per_sale ps LEFT JOIN m ON m.day = ps.day AND m.tier = ps.tier) p"
    ).bindparams(bindparam("excluded", expanding=True))
    params |= {
        "zone": zone_rules.timezone,
        "excluded": sorted(rules.earning.excluded_categories),
        "ppy": rules.earning.points_per_yuan,
    }
    sales, earned, points = s.execute(statement, params).one()
    return int(sales), int(earned), int(points)
