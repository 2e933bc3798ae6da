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
* ``console_mall_totals``: redemptions per mall item, recounted at each run.

A day is the store-local date of the entry's ``created_at`` in the active rule set's
time zone (on the SQLite demo, that zone's offset now: right for zones without summer
time such as Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
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
ACTIVITY_KINDS = ("earn", "spend")


@dataclass
class RefreshReport:
    """What one refresh did."""

    entries: int = 0
    up_to_seq: int = 0
    snapshot_day: dt.date | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "entries": self.entries,
            "up_to_seq": self.up_to_seq,
            "snapshot_day": self.snapshot_day.isoformat() if self.snapshot_day else None,
        }


def day_expression(session: Session, zone_name: str, column: str = "created_at") -> str:
    """SQL for the store-local date of ``column`` (a timestamp of HQ's)."""
    if session.get_bind().dialect.name == "postgresql":
        return f"CAST(({column} AT TIME ZONE :zone) AS date)"
    from zoneinfo import ZoneInfo

    offset = dt.datetime.now(ZoneInfo(zone_name)).utcoffset() or dt.timedelta()
    return f"date({column}, '{int(offset.total_seconds())} seconds')"


def _state(session: Session) -> SummaryState:
    row = session.get(SummaryState, LEDGER_SEQ, with_for_update=True)
    if row is None:
        row = SummaryState(name=LEDGER_SEQ, value=0, updated_at=dt.datetime.now(dt.UTC))
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
    counted = session.execute(
        text("SELECT COUNT(*) FROM ledger_entries WHERE seq > :low AND seq <= :high"), params
    ).scalar_one()
    return int(counted)


def refresh_points(db: HQDatabase, now: dt.datetime, report: RefreshReport) -> None:
    """Add every ledger entry numbered after the watermark, slice by slice."""
    while True:
        with db.write() as s:
            state = _state(s)
            counter = s.scalars(select(Counter.value).where(Counter.name == CHANGE_COUNTER)).one()
            low = state.value
            if low >= counter:
                state.updated_at = now
                report.up_to_seq = low
                return
            high = min(low + SLICE, counter)
            report.entries += _add_entries(s, active_rules(s).timezone, low, high)
            state.value, state.updated_at = high, now
            report.up_to_seq = high


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
            {"since": _bind_time(s, since), "now": _bind_time(s, now)},
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


def _bind_time(session: Session, at: dt.datetime) -> object:
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
    refresh_snapshots(db, now, report)
    return report
