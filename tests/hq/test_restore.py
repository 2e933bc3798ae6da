"""HQ restored from a backup: the entries HQ writes itself come back with the same ids.

Tills pull HQ's own entries (merges, corrections, expiries of HQ's jobs) and keep them by
id. If HQ is restored from a backup taken before it wrote them, the tills push their
unacknowledged events again and the jobs run again; the entries HQ writes then must carry
the same ids, or every till that pulled the first copies would count them twice.

The "restore" here is a second, empty HQ database fed the same events and jobs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pos_app.hq.cli import main
from pos_app.hq.database import HQDatabase
from tests.hq.conftest import HQ, open_hq
from tests.hq.support import SHANGHAI, Clock, FakeTill, basket
from tests.support.pgcluster import PgCluster

RESTORED = "pos_restored"


@contextmanager
def restored_hq(pg_cluster: PgCluster, clock: Clock) -> Iterator[HQ]:
    """A second HQ on an empty database of the same cluster (dropped afterwards)."""
    url = pg_cluster.create_database(RESTORED)
    db = HQDatabase(url)
    try:
        db.migrate()
        with open_hq(db, clock) as hq:
            yield hq
    finally:
        db.close()
        pg_cluster.drop_database(RESTORED)


def hq_written(hq: HQ, token: str) -> list[tuple[str, str, str, int]]:
    """(id, kind, member, points) of every entry HQ wrote itself, as a channel pulls them
    (the whole chain; a till gets those of its region's members)."""
    changes, _ = hq.pull_all(token)
    return [
        (c["data"]["id"], c["data"]["kind"], c["data"]["member_ref"], c["data"]["points"])
        for c in changes
        if c["topic"] == "entry" and c["data"]["source_channel"] == "hq"
    ]


def run_jobs(capsys: pytest.CaptureFixture[str], url: str, now: str) -> dict[str, Any]:
    assert main(["run-jobs", "--db", url, "--now", now]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_merges_and_job_expiries_get_the_same_ids_after_a_restore(
    hq: HQ, pg_cluster: PgCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two stores register the same phone offline in 2024; store 002 also sells to it.
    when = dt.datetime(2024, 10, 1, 12, 0, tzinfo=SHANGHAI)
    a = FakeTill("001", "01", hq.phone_key, Clock(when))
    b = FakeTill("002", "01", hq.phone_key, Clock(when + dt.timedelta(minutes=5)))
    _first, reg_a = a.register("13812341234")
    second, reg_b = b.register("13812341234")
    sale_b = b.sale(second, basket(100))

    def feed(target: HQ) -> list[tuple[str, str, str, int]]:
        target.push_ok(target.till1, reg_a)
        target.push_ok(target.till2, reg_b, sale_b)
        # Two years on, HQ's expiry job takes the 2024 lots.
        report = run_jobs(capsys, target.db.url, "2026-11-17T12:00:00+08:00")
        assert report["members_expired"] >= 1
        return hq_written(target, target.mall)

    original = feed(hq)
    kinds = sorted(kind for _id, kind, _member, _points in original)
    assert set(kinds) == {"adjust", "expire", "merge_in", "merge_out"}, kinds
    with restored_hq(pg_cluster, hq.clock) as again:
        assert feed(again) == original
