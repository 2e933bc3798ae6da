"""The background sync worker: a plain thread with backoff, reporting its state."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pos_app.services.context import open_till
from pos_app.services.retry import backoff_step, retry_after_delay
from pos_app.services.sync import (
    HQClient,
    OnlineFlag,
    SyncConfig,
    SyncState,
    SyncWorker,
    backoff_delay,
    start_background_sync,
)
from pos_app.services.sync.client import MAX_RETRY_AFTER, retry_after_seconds
from tests.sync.harness import VIRTUAL_HQ, FaultTransport, HQServer, SimTill


def wait_until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@pytest.fixture
def till(hq: HQServer, sync_till_template: Path, tmp_path: Path) -> Iterator[SimTill]:
    t = SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(5))
    yield t
    t.close()


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    rng = random.Random(1)
    assert backoff_delay(0, 2, 60, rng) == 0
    for failures, step in ((1, 2), (2, 4), (3, 8), (6, 60), (40, 60)):
        for _ in range(20):
            assert step / 2 <= backoff_delay(failures, 2, 60, rng) <= step


def test_backoff_step_stays_at_the_cap_however_long_it_fails() -> None:
    # The print worker's delay: a printer left off for a day fails thousands of times in
    # a row; 2 ** 1100 would overflow a float.
    assert [backoff_step(n, 0.5, 30) for n in (0, 1, 2, 3, 7, 8)] == [0, 0.5, 1, 2, 30, 30]
    assert backoff_step(5_000, 0.5, 30) == 30
    assert backoff_step(10**9, 2, 60) == 60


def test_the_online_flag_lifts_the_offline_cap_only_when_told() -> None:
    flag = OnlineFlag()
    flag.set_reachable(True)
    assert flag.reachable
    assert not flag()  # reachable alone does not authorise a spend
    assert OnlineFlag(reachable=True, lift_cap=True)()


def test_the_worker_syncs_reports_backs_off_and_recovers(hq: HQServer, till: SimTill) -> None:
    transport = FaultTransport(hq, random.Random(3))
    states: list[SyncState] = []
    threads: set[str] = set()

    def on_state(state: SyncState) -> None:
        threads.add(threading.current_thread().name)
        states.append(state)

    worker = SyncWorker(
        till.ctx,
        lambda: HQClient(VIRTUAL_HQ, till.token, transport=transport),
        on_state=on_state,
        interval=0.2,
        backoff_base=0.05,
        backoff_cap=0.4,
        rng=random.Random(4),
    )
    member = till.register("13900000031")
    assert till.sell(member, spend="none") is not None
    worker.start()
    try:
        wait_until(lambda: worker.state.last_sync_at is not None and worker.state.pending == 0)
        assert worker.state.online
        assert worker.flag.reachable
        assert worker.state.clock_skew_seconds is not None
        assert abs(worker.state.clock_skew_seconds) < 5
        # HQ goes away: offline, with growing but capped waits
        transport.offline = True
        assert till.sell(member, spend="none") is not None
        wait_until(lambda: worker.state.failures >= 3)
        state = worker.state
        assert not state.online
        assert not worker.flag.reachable
        assert state.last_error is not None
        assert "offline" in state.last_error
        waits = [s.next_attempt_in for s in states if s.next_attempt_in and not s.online]
        assert waits
        assert max(waits) <= 0.4
        # ... and comes back
        transport.offline = False
        wait_until(lambda: worker.state.online and worker.state.pending == 0)
        assert worker.state.failures == 0
        assert worker.state.last_error is None
    finally:
        worker.stop()
    assert not worker.running
    assert threads == {"hq-sync"}  # never the caller's (GUI) thread
    assert not worker.flag.reachable


def test_retry_after_is_read_and_bounded() -> None:
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("999999") == MAX_RETRY_AFTER
    # HQ sends whole seconds; anything else counts as absent
    assert retry_after_seconds(None) == retry_after_seconds("soon") == 0
    assert retry_after_seconds("Tue, 17 Nov 2026 02:00:30 GMT") == 0
    rng = random.Random(2)
    for _ in range(50):
        assert 4 <= retry_after_delay(4, 1, 2, 300, rng) <= 6  # at least what HQ asked
        assert 32 <= retry_after_delay(4, 5, 2, 300, rng) <= 48  # busy 5 times in a row
        assert 300 <= retry_after_delay(4, 40, 2, 300, rng) <= 450
        assert 2 <= retry_after_delay(0, 1, 2, 300, rng) <= 3  # HQ said nothing


def test_hq_busy_makes_the_worker_wait_what_hq_asked(hq: HQServer, till: SimTill) -> None:
    transport = FaultTransport(hq, random.Random(3))
    states: list[SyncState] = []
    worker = SyncWorker(
        till.ctx,
        lambda: HQClient(VIRTUAL_HQ, till.token, transport=transport),
        on_state=states.append,
        interval=0.2,
        backoff_base=0.05,
        backoff_cap=5,
        rng=random.Random(4),
    )
    member = till.register("13900000032")
    assert till.sell(member, spend="none") is not None
    transport.busy_answers, transport.retry_after = 2, 1
    began = time.monotonic()
    worker.start()
    try:
        wait_until(lambda: worker.state.last_sync_at is not None and worker.state.pending == 0)
        assert time.monotonic() - began >= 2  # two answers of "come back in 1 s", obeyed
        busy = [s for s in states if s.busy]
        assert busy
        assert all(s.online and s.last_error and "busy" in s.last_error for s in busy)
        waits = [s.next_attempt_in for s in busy if s.next_attempt_in is not None]
        assert waits
        assert all(1 <= w <= 1.5 for w in waits)
        state = worker.state
        assert (state.busy, state.refused, state.failures) == (False, None, 0)
        assert transport.stats.faults == {"busy": 2}
    finally:
        worker.stop()


def test_a_refused_event_is_reported_until_it_is_fixed(hq: HQServer, till: SimTill) -> None:
    from sqlalchemy import select

    from pos_app.services.ledger import add_outbox
    from pos_app.store.models import OutboxEvent

    with till.ctx.db.write() as s:
        add_outbox(s, "adjustment", "q" * 32, {"entries": []}, till.ctx.now())
    worker = SyncWorker(
        till.ctx,
        lambda: HQClient(VIRTUAL_HQ, till.token, transport=FaultTransport(hq, random.Random())),
        interval=0.1,
        backoff_cap=0.3,
    )
    worker.start()
    try:
        wait_until(lambda: worker.state.refused is not None)
        state = worker.state
        assert state.online  # HQ answered: it refused
        assert state.refused is not None
        assert state.refused.status == "invalid"
        assert state.last_error is not None
        assert "adjustment event" in state.last_error
        with till.ctx.db.write() as s:
            s.delete(s.scalars(select(OutboxEvent)).one())
        wait_until(lambda: worker.state.refused is None, timeout=10)
    finally:
        worker.stop()


def test_start_background_sync_needs_a_configured_hq(
    hq: HQServer, till: SimTill, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POS_HQ_URL", raising=False)
    monkeypatch.delenv("POS_HQ_TOKEN", raising=False)
    bare = open_till(tmp_path / "bare.sqlite")
    try:
        assert start_background_sync(bare) is None
    finally:
        bare.db.close()
    worker = start_background_sync(
        till.ctx,
        config=SyncConfig(VIRTUAL_HQ, till.token),
        transport=FaultTransport(hq, random.Random()),
        interval=0.1,
    )
    assert worker is not None
    try:
        assert till.ctx.online is worker.flag
        wait_until(lambda: worker.state.last_sync_at is not None)
        assert not till.ctx.online()  # reachable, but a plain sale keeps the offline cap
    finally:
        worker.stop()
