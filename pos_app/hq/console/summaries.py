"""The dashboard's summaries, kept up to date by ``pos-hq run-jobs``.

Ledger entries never change and each carries a number from HQ's change counter
(``seq``), stamped in commit order under the writer lock. So the points summaries are
maintained incrementally: each refresh adds the entries numbered after the last one it
summed (``console_summary_state.ledger_seq``), in slices of :data:`SLICE` numbers, each
in one write transaction holding the writer lock (no entry below the counter can still
be uncommitted). Summing twice is impossible: the watermark moves in the same
transaction as the sums.

* ``console_points_daily``: points and entries per store-local day and kind;
* ``console_points_store_daily``: the same per store (``@channel`` for entries without a
  store: the online mall, the app, HQ's own corrections);
* ``console_snapshots``: counted afresh at each run for its store-local day: members by
  tier, members in all, active members (an ``earn`` or ``spend`` entry in the last
  :data:`ACTIVE_DAYS` days);
* ``console_mall_totals``: redemptions per mall item, recounted at each run;
* ``console_member_days`` and ``console_activity_daily``: the members with an ``earn`` or
  ``spend`` entry per day (a member counted once a day: the pair is kept, so a late
  entry of a day already counted adds nothing), and the sales that moved points per day
  of the sale (a sale counted with the slice holding its first entry);
* ``console_tier_history``, ``console_tier_daily``: HQ keeps a member's tier and
  ``tier_since`` only, so the refresh records the changes itself. Every member row
  change takes a change number (``members.seq``); the refresh reads the member rows
  numbered after its own watermark (``member_seq``), compares each with the tier it
  last saw (``console_member_tiers``) and records a change: joined (at registration),
  moved (at ``tier_since``), merged into another member (an alias leaves the counts, at
  the merge). Two moves of one member between two refreshes are seen as one.

A day is the store-local date of the entry's ``created_at`` in the active rule set's
time zone (on the SQLite demo, that zone's offset now: right for zones without summer
time such as Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from pos_app.core.calendar import local_date
from pos_app.hq.console.models import MallTotal, Snapshot, SummaryState
from pos_app.hq.database import HQDatabase
from pos_app.hq.ledger import active_rules
from pos_app.hq.models import CHANGE_COUNTER, Counter

SLICE = 500_000
ACTIVE_DAYS = 30
LEDGER_SEQ = "ledger_seq"
MEMBER_SEQ = "member_seq"
ACTIVITY_KINDS = ("earn", "spend")
# A member's tier as the console counts it: none for an alias (merged into another).
CURRENT_TIER = "CASE WHEN m.alias_of IS NULL THEN m.tier END"


@dataclass
class RefreshReport:
    """What one refresh did."""

    entries: int = 0
    up_to_seq: int = 0
    snapshot_day: dt.date | None = None
    tier_changes: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "entries": self.entries,
            "up_to_seq": self.up_to_seq,
            "snapshot_day": self.snapshot_day.isoformat() if self.snapshot_day else None,
            "tier_changes": self.tier_changes,
        }


def day_expression(session: Session, zone_name: str, column: str = "created_at") -> str:
    """SQL for the store-local date of ``column`` (a timestamp of HQ's)."""
    if session.get_bind().dialect.name == "postgresql":
        return f"CAST(({column} AT TIME ZONE :zone) AS date)"
    from zoneinfo import ZoneInfo

    offset = dt.datetime.now(ZoneInfo(zone_name)).utcoffset() or dt.timedelta()
    return f"date({column}, '{int(offset.total_seconds())} seconds')"


def _state(session: Session, name: str = LEDGER_SEQ) -> SummaryState:
    row = session.get(SummaryState, name, with_for_update=True)
    if row is None:
        row = SummaryState(name=name, value=0, updated_at=dt.datetime.now(dt.UTC))
        session.add(row)
        session.flush()
    return row


def _add_entries(session: Session, zone: str, low: int, high: int) -> int:
    """Sum entries numbered ``low < seq <= high`` into the points summaries."""
    day = day_expression(session, zone)
    params = {"zone": zone, "low": low, "high": high}
    store = "COALESCE(store_code, '@' || source_channel)"
    session.execute(
        text(
            "INSERT INTO console_points_daily (day, kind, points, entries) "
            f"SELECT {day}, kind, SUM(points), COUNT(*) FROM ledger_entries "
            "WHERE seq > :low AND seq <= :high GROUP BY 1, 2 "
            "ON CONFLICT (day, kind) DO UPDATE SET "
            "points = console_points_daily.points + excluded.points, "
            "entries = console_points_daily.entries + excluded.entries"
        ),
        params,
    )
    session.execute(
        text(
            "INSERT INTO console_points_store_daily (day, store, kind, points, entries) "
            f"SELECT {day}, {store}, kind, SUM(points), COUNT(*) FROM ledger_entries "
            "WHERE seq > :low AND seq <= :high GROUP BY 1, 2, 3 "
            "ON CONFLICT (day, store, kind) DO UPDATE SET "
            "points = console_points_store_daily.points + excluded.points, "
            "entries = console_points_store_daily.entries + excluded.entries"
        ),
        params,
    )
    _add_activity(session, zone, params)
    counted = session.execute(
        text("SELECT COUNT(*) FROM ledger_entries WHERE seq > :low AND seq <= :high"), params
    ).scalar_one()
    return int(counted)


def _add_activity(session: Session, zone: str, params: dict[str, object]) -> None:
    """Count the slice's new (day, member) pairs and the sales it holds the first entry of."""
    new_pairs = (
        f"SELECT n.day, n.member_id FROM (SELECT DISTINCT {day_expression(session, zone)} AS day,"
        " member_id FROM ledger_entries WHERE seq > :low AND seq <= :high"
        " AND kind IN ('earn', 'spend')) n WHERE NOT EXISTS (SELECT 1 FROM console_member_days d"
        " WHERE d.day = n.day AND d.member_id = n.member_id)"
    )
    session.execute(
        text(
            "INSERT INTO console_activity_daily (day, members, sales, sales_fen) "
            f"SELECT p.day, COUNT(*), 0, 0 FROM ({new_pairs}) p GROUP BY p.day "
            "ON CONFLICT (day) DO UPDATE SET "
            "members = console_activity_daily.members + excluded.members"
        ),
        params,
    )
    session.execute(
        text(f"INSERT INTO console_member_days (day, member_id) {new_pairs}"),
        params,
    )
    session.execute(
        text(
            "INSERT INTO console_activity_daily (day, members, sales, sales_fen) "
            f"SELECT {day_expression(session, zone, 's.created_at')}, 0, COUNT(*), "
            "SUM(s.total_fen) FROM sales s WHERE s.id IN (SELECT sale_id FROM ledger_entries "
            "WHERE seq > :low AND seq <= :high AND sale_id IS NOT NULL) AND NOT EXISTS ("
            "SELECT 1 FROM ledger_entries x WHERE x.sale_id = s.id AND x.seq <= :low) "
            "GROUP BY 1 ON CONFLICT (day) DO UPDATE SET "
            "sales = console_activity_daily.sales + excluded.sales, "
            "sales_fen = console_activity_daily.sales_fen + excluded.sales_fen"
        ),
        params,
    )


def _refresh_after(
    db: HQDatabase, now: dt.datetime, name: str, add: Callable[[Session, str, int, int], int]
) -> tuple[int, int]:
    """Run ``add`` on every change number after the watermark ``name``, slice by slice,
    each slice in the write transaction that moves the watermark; returns (what ``add``
    counted, the watermark)."""
    counted = 0
    while True:
        with db.write() as s:
            state = _state(s, name)
            counter = s.scalars(select(Counter.value).where(Counter.name == CHANGE_COUNTER)).one()
            low = state.value
            if low >= counter:
                state.updated_at = now
                return counted, low
            high = min(low + SLICE, counter)
            counted += add(s, active_rules(s).timezone, low, high)
            state.value, state.updated_at = high, now


def refresh_points(db: HQDatabase, now: dt.datetime, report: RefreshReport) -> None:
    """Add every ledger entry numbered after the watermark, slice by slice."""
    entries, report.up_to_seq = _refresh_after(db, now, LEDGER_SEQ, _add_entries)
    report.entries += entries


def _add_tier_changes(session: Session, zone: str, low: int, high: int) -> int:
    """Record the tier changes of member rows numbered ``low < seq <= high``."""
    params = {"zone": zone, "low": low, "high": high}
    session.execute(
        text(
            "INSERT INTO console_tier_history (member_id, seq, at, from_tier, to_tier) "
            "SELECT m.id, m.seq, CASE WHEN t.member_id IS NULL THEN m.registered_at "
            "WHEN m.alias_of IS NULL AND t.tier IS NOT NULL THEN m.tier_since "
            f"ELSE m.updated_at END, t.tier, {CURRENT_TIER} "
            "FROM members m LEFT JOIN console_member_tiers t ON t.member_id = m.id "
            "WHERE m.seq > :low AND m.seq <= :high "
            f"AND COALESCE(t.tier, '') <> COALESCE({CURRENT_TIER}, '')"
        ),
        params,
    )
    session.execute(
        text(
            "INSERT INTO console_member_tiers (member_id, tier, seq) "
            "SELECT member_id, to_tier, seq FROM console_tier_history "
            "WHERE seq > :low AND seq <= :high "
            "ON CONFLICT (member_id) DO UPDATE SET tier = excluded.tier, seq = excluded.seq"
        ),
        params,
    )
    session.execute(
        text(
            "INSERT INTO console_tier_daily (day, from_tier, to_tier, members) "
            f"SELECT {day_expression(session, zone, 'at')}, COALESCE(from_tier, ''), "
            "COALESCE(to_tier, ''), COUNT(*) FROM console_tier_history "
            "WHERE seq > :low AND seq <= :high GROUP BY 1, 2, 3 "
            "ON CONFLICT (day, from_tier, to_tier) DO UPDATE SET "
            "members = console_tier_daily.members + excluded.members"
        ),
        params,
    )
    counted = session.execute(
        text("SELECT COUNT(*) FROM console_tier_history WHERE seq > :low AND seq <= :high"),
        params,
    ).scalar_one()
    return int(counted)


def refresh_tiers(db: HQDatabase, now: dt.datetime, report: RefreshReport) -> None:
    """Record the tier changes of every member row changed after the watermark."""
    changes, _seq = _refresh_after(db, now, MEMBER_SEQ, _add_tier_changes)
    report.tier_changes += changes


def refresh_snapshots(db: HQDatabase, now: dt.datetime, report: RefreshReport) -> None:
    """Count members by tier, members and active members for today; recount mall totals."""
    with db.write() as s:
        rules = active_rules(s)
        today = local_date(rules, now)
        since = now - dt.timedelta(days=ACTIVE_DAYS)
        tiers = s.execute(
            text("SELECT tier, COUNT(*) FROM members WHERE alias_of IS NULL GROUP BY tier")
        ).all()
        active = s.execute(
            text(
                "SELECT COUNT(DISTINCT member_id) FROM ledger_entries "
                "WHERE kind IN ('earn', 'spend') AND created_at >= :since AND created_at <= :now"
            ),
            {"since": bind_time(s, since), "now": bind_time(s, now)},
        ).scalar_one()
        values = {("tier", str(tier)): int(count) for tier, count in tiers}
        values[("members", "all")] = sum(int(count) for _tier, count in tiers)
        values[("active", f"{ACTIVE_DAYS}d")] = int(active)
        s.execute(delete(Snapshot).where(Snapshot.day == today))
        for (metric, key), value in sorted(values.items()):
            s.add(Snapshot(day=today, metric=metric, key=key, value=value))
        s.execute(delete(MallTotal))
        s.execute(
            text(
                "INSERT INTO console_mall_totals (item_id, redemptions, quantity, points) "
                "SELECT item_id, COUNT(*), SUM(quantity), SUM(points) FROM redemptions "
                "GROUP BY item_id"
            )
        )
        report.snapshot_day = today


def bind_time(session: Session, at: dt.datetime) -> object:
    """``at`` as a text query binds it (naive UTC text on SQLite, as HQ stores it)."""
    if session.get_bind().dialect.name == "postgresql":
        return at
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def refresh(db: HQDatabase, now: dt.datetime) -> RefreshReport:
    """Bring every summary up to date as of ``now`` (run by ``pos-hq run-jobs``)."""
    if now.utcoffset() is None:
        raise ValueError("now must carry a time zone")
    report = RefreshReport()
    refresh_points(db, now, report)
    refresh_tiers(db, now, report)
    refresh_snapshots(db, now, report)
    return report
