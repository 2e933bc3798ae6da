"""Pull and member look-ups from a real streaming replica (``pg_replica``): a till's
cursor never goes backwards, a lagging or missing replica hands the read to the primary."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from pos_app.hq import admin, pull
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict
from pos_app.hq.replica import change_counter
from pos_app.hq.security import Principal
from tests.hq.conftest import HQ, open_hq
from tests.hq.support import Clock, serving
from tests.support.pgcluster import PgCluster, PgReplica


def replica_of(replica: PgReplica, hq_db: HQDatabase) -> HQDatabase:
    """``hq_db``'s database on ``replica``, once the replica has replayed it."""
    name = make_url(hq_db.url).database
    assert name is not None
    replica.catch_up()
    return HQDatabase(replica.url(name))


@pytest.fixture
def replica_db(pg_replica: PgReplica, hq_db: HQDatabase) -> Iterator[HQDatabase]:
    db = replica_of(pg_replica, hq_db)
    yield db
    db.close()


def reads(hq: HQ) -> dict[str, Any]:
    """The app's read counters (``/health``)."""
    return dict(hq.client.get("/health").json()["reads"])


def register(hq: HQ, phone: str) -> str:
    """A member registered at till 1 of store 001 (on the primary); its id."""
    member_id, ev = hq.till("001", "01").register(phone)
    hq.push_ok(hq.till1, ev)
    return member_id


def member_ids(page: dict[str, Any]) -> set[str]:
    """Members a page carries (row or whole: till 02 of store 001 holds its region's)."""
    return {c["data"]["id"] for c in page["changes"] if c["topic"] in ("member", "member_snapshot")}


def test_pull_and_member_look_ups_are_served_by_the_replica(
    hq_db: HQDatabase, replica_db: HQDatabase, pg_replica: PgReplica, clock: Clock
) -> None:
    with open_hq(hq_db, clock, replica=replica_db) as hq:
        member_id = register(hq, "13800138000")
        pg_replica.catch_up()
        page = hq.pull(hq.till1b)
        assert member_id in member_ids(page)
        assert page["up_to"] == change_counter(hq_db)
        assert hq.member(member_id)["balance"] == 100
        counts = reads(hq)
    assert counts["replica_configured"] is True
    assert (counts["replica"], counts["primary"]) == (2, 0)


def test_a_lagging_replica_never_moves_a_cursor_back(
    hq_db: HQDatabase,
    replica_db: HQDatabase,
    pg_replica: PgReplica,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pos_app.hq.replica")
    with open_hq(hq_db, clock, replica=replica_db, replica_wait_seconds=0.3) as hq:
        register(hq, "13800138000")
        pg_replica.catch_up()
        first = hq.pull(hq.till1b)
        seen = first["next_cursor"]
        with pg_replica.replay_paused():
            late = register(hq, "13900139000")
            ahead = change_counter(hq_db)
            assert change_counter(replica_db) == first["up_to"] < ahead
            # a till whose last pull the primary answered: the replica alone would
            # answer 409 ("HQ was restored, pull from 0")
            till = Principal("till", "001-02", "001", "02", "001")
            with pytest.raises(Conflict):
                pull.pull(replica_db, till, ahead, 500)
            page = hq.pull(hq.till1b, f"v1:{ahead}")
            assert page["cursor"] == f"v1:{ahead}"
            assert page["up_to"] >= ahead
            # a till behind the replica is answered by it: nothing new, and not backwards
            page = hq.pull(hq.till1b, seen)
            assert late not in member_ids(page)
            assert page["next_cursor"] == seen
            # a member the replica has not replayed yet is looked up on the primary
            assert hq.member(late)["balance"] == 100
            counts = reads(hq)
        assert counts["primary_because"] == {"lagging": 1, "not_found": 1}
        assert counts["primary"] == 2
        pg_replica.catch_up()
        assert late in member_ids(hq.pull(hq.till1b, seen))  # the replica caught up
    logged = [r.getMessage() for r in caplog.records]
    assert "pull answered by the primary (lagging)" in logged
    assert "member answered by the primary (not_found)" in logged
    assert "the replica is behind a pull cursor: reads go to the primary" in logged
    assert not [m for m in logged if late in m or str(ahead) in m]  # no ids, no cursors


def test_a_pull_ahead_of_the_replica_waits_for_its_replay(
    hq_db: HQDatabase, replica_db: HQDatabase, pg_replica: PgReplica, clock: Clock
) -> None:
    with open_hq(hq_db, clock, replica=replica_db, replica_wait_seconds=20) as hq:
        pg_replica.pause_replay()
        try:
            register(hq, "13800138000")
            ahead = change_counter(hq_db)
            assert change_counter(replica_db) < ahead
            threading.Timer(0.3, pg_replica.resume_replay).start()
            page = hq.pull(hq.till1b, f"v1:{ahead}")
        finally:
            pg_replica.resume_replay()
        assert page["up_to"] == ahead
        counts = reads(hq)
    assert (counts["replica"], counts["waited"], counts["primary"]) == (1, 1, 0)


def test_the_primary_answers_while_the_replica_is_down(
    hq_db: HQDatabase, pg_cluster: PgCluster, clock: Clock
) -> None:
    own = PgReplica(pg_cluster).start()  # this one may be stopped
    try:
        replica_db = replica_of(own, hq_db)
        with open_hq(hq_db, clock, replica=replica_db) as hq:
            first = register(hq, "13800138000")
            own.catch_up()
            page = hq.pull(hq.till1b)
            assert first in member_ids(page)
            own.stop()
            second = register(hq, "13900139000")
            later = hq.pull(hq.till1b, page["next_cursor"])
            assert second in member_ids(later)
            assert later["up_to"] == change_counter(hq_db)
            assert hq.member(second)["id"] == second  # resting replica: not even tried
            counts = reads(hq)
        replica_db.close()
    finally:
        own.stop()
    assert counts["replica"] == 1
    assert counts["primary_because"] == {"replica_down": 2}


def test_pos_hq_serve_reads_from_the_replica_db(
    hq_db: HQDatabase, replica_db: HQDatabase, pg_replica: PgReplica, clock: Clock
) -> None:
    admin.create_store(hq_db, "001", "一号店", clock())
    till = admin.register_till(hq_db, "001", None, clock())
    with serving(hq_db.url, "--replica-db", replica_db.url) as base:
        pg_replica.catch_up()
        headers = {"Authorization": f"Bearer {till.token}"}
        page = httpx.get(f"{base}/v1/pull", headers=headers, timeout=10).json()
        assert page["up_to"] == change_counter(hq_db)
        health = httpx.get(f"{base}/health", timeout=5).json()
    assert health["reads"]["replica_configured"] is True
    assert (health["reads"]["replica"], health["reads"]["primary"]) == (1, 0)
