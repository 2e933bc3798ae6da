"""Back-pressure on the real app (uvicorn on loopback, real PostgreSQL): excess load gets
``503`` with ``Retry-After``, never a ``500``, and a refused request sent again applies."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from pos_app.hq.config import HQSettings
from pos_app.hq.database import EngineOptions, HQDatabase
from tests.hq.conftest import HQ, open_hq
from tests.hq.support import Clock, nothing_written
from tests.support.appserver import served


def conninfo(db: HQDatabase) -> str:
    url = make_url(db.url)
    return f"host={url.host} port={url.port} user={url.username} dbname={url.database}"


@contextmanager
def counter_locked(db: HQDatabase) -> Iterator[None]:
    """Another writer holds the change-counter lock for the block."""
    with psycopg.connect(conninfo(db)) as conn:
        conn.execute("SELECT value FROM counters WHERE name = 'change_seq' FOR UPDATE")
        try:
            yield
        finally:
            conn.rollback()


def registrations(hq: HQ, count: int) -> list[dict[str, Any]]:
    """``count`` member registrations of till 1 of store 001."""
    till = hq.till("001", "01")
    return [till.register(f"1380013{i:04d}")[1] for i in range(count)]


def push(base: str, hq: HQ, *events: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/push", json={"events": list(events)}, headers=hq.headers(hq.till1), timeout=30
    )


def assert_busy(response: httpx.Response, retry_after: int) -> dict[str, Any]:
    """A 503 with ``Retry-After`` and the JSON error body; returns the body."""
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(retry_after)
    body = dict(response.json())
    assert body["code"] == "busy"
    assert body["facts"] == {"retry_after": retry_after}
    return body


def admission(base: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/health", timeout=5).json()["admission"])


def test_a_full_write_queue_answers_503_with_retry_after(hq_db: HQDatabase, clock: Clock) -> None:
    limits = {"write_slots": 1, "queue_limit": 2, "queue_wait_seconds": 0.5}
    with (
        open_hq(hq_db, clock, retry_after_seconds=3, **limits) as hq,
        served(hq.client.app) as base,
    ):
        events = registrations(hq, 8)
        with ThreadPoolExecutor(len(events)) as pool:
            with counter_locked(hq_db):
                futures = {pool.submit(push, base, hq, ev): ev["id"] for ev in events}
                deadline = time.monotonic() + 20
                while sum(f.done() for f in futures) < len(events) - 1:  # one holds the slot
                    assert time.monotonic() < deadline, "refused pushes were not answered"
                    time.sleep(0.05)
                assert sum(not f.done() for f in futures) == 1
            # the lock is released: the admitted push completes
            answers = {futures[f]: f.result() for f in futures}
        statuses = Counter(r.status_code for r in answers.values())
        assert statuses == {200: 1, 503: 7}
        refused = [ev for ev in events if answers[ev["id"]].status_code == 503]
        for ev in refused:
            assert_busy(answers[ev["id"]], 3)
        assert admission(base)["write"] == {
            "slots": 1,
            "in_use": 0,
            "waiting": 0,
            "admitted": 1,
            "refused": 7,
        }
        # sent again, each refused event applies: nothing was lost
        for ev in refused:
            response = push(base, hq, ev)
            assert response.status_code == 200, response.text
            assert response.json()["results"][0]["status"] == "applied"


def test_many_tills_pushing_at_once_get_answers_or_503_never_500(
    hq_db: HQDatabase, clock: Clock
) -> None:
    limits = {"write_slots": 2, "queue_limit": 4, "queue_wait_seconds": 0.2}
    with open_hq(hq_db, clock, **limits) as hq, served(hq.client.app) as base:
        batches = [registrations(hq, 3) for _ in range(24)]
        barrier = threading.Barrier(len(batches))

        def send(batch: list[dict[str, Any]]) -> httpx.Response:
            barrier.wait()
            return push(base, hq, *batch)

        with ThreadPoolExecutor(len(batches)) as pool:
            answers = list(pool.map(send, batches))
        statuses = Counter(r.status_code for r in answers)
        assert set(statuses) <= {200, 503}
        assert statuses[503] > 0  # 24 at once against 2 slots and 4 waiting places
        for batch, answer in zip(batches, answers, strict=True):
            if answer.status_code == 503:
                assert_busy(answer, 2)
            again = answer if answer.status_code == 200 else push(base, hq, *batch)
            assert again.status_code == 200, again.text
        assert admission(base)["write"]["admitted"] == len(batches)  # each batch once
        changes = hq.pull_all(hq.mall)[0]  # the whole chain
        members = {c["data"]["id"] for c in changes if c["topic"] == "member"}
        assert len(members) == 24 * 3


def test_a_lock_timeout_on_the_change_counter_answers_503(hq_db: HQDatabase, clock: Clock) -> None:
    impatient = HQDatabase(hq_db.url, EngineOptions(lock_timeout=0.2))
    try:
        with open_hq(hq_db, clock, app_db=impatient) as hq, served(hq.client.app) as base:
            (ev,) = registrations(hq, 1)
            with counter_locked(hq_db), nothing_written(hq_db):
                body = assert_busy(push(base, hq, ev), 2)
            assert "lock" in body["detail"]
            response = push(base, hq, ev)
            assert response.status_code == 200, response.text
            assert response.json()["results"][0]["status"] == "applied"
    finally:
        impatient.close()


def test_an_exhausted_connection_pool_answers_503(hq_db: HQDatabase, clock: Clock) -> None:
    impatient = HQDatabase(hq_db.url, EngineOptions(pool_timeout=0.2))
    try:
        with open_hq(hq_db, clock, app_db=impatient) as hq, served(hq.client.app) as base:
            me = f"{base}/v1/me"
            taken = [impatient.engine.connect() for _ in range(20)]  # pool 10 + overflow 10
            try:
                assert_busy(httpx.get(me, headers=hq.headers(hq.till1), timeout=10), 2)
            finally:
                for conn in taken:
                    conn.close()
            assert httpx.get(me, headers=hq.headers(hq.till1), timeout=10).status_code == 200
    finally:
        impatient.close()


def test_every_endpoint_documents_503(hq: HQ) -> None:
    spec = hq.client.get("/openapi.json").json()
    operations = [
        (path, method, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if path != "/health"  # touches no database and no gate: it cannot be busy
    ]
    assert len(operations) > 20
    for path, method, op in operations:
        busy = op["responses"].get("503")
        assert busy is not None, f"{method.upper()} {path} does not document 503"
        assert "Retry-After" in busy["headers"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"write_slots": 0}, "write_slots must be at least 1"),
        ({"queue_wait_seconds": -1}, "queue_wait_seconds cannot be negative"),
        ({"replica_poll_seconds": 0}, "replica_poll_seconds must be above 0"),
    ],
)
def test_nonsense_limits_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HQSettings(**settings)
