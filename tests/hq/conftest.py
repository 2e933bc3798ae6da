"""HQ fixtures: a migrated HQ on the real PostgreSQL of ``pg_database``, its API in a
TestClient, credentials for two stores, a channel and an admin, and fake tills.

After every test using ``hq``, every member's balance must equal its ledger sum (and its
open lots): the check runs in the fixture's teardown.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pos_app.hq import adjustments, admin, keys
from pos_app.hq.app import create_app
from pos_app.hq.config import HQSettings
from pos_app.hq.database import PHONE_KEY, HQDatabase
from tests.hq.support import MANAGER, Clock, FakeTill, ledger_problems
from tests.support.hqdata import Chain, ChainSpec, generate_chain
from tests.support.pgcluster import PgCluster

with warnings.catch_warnings():
    # Starlette wants the httpx2 package for its TestClient and warns when it falls
    # back to httpx; both work the same for these tests.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from fastapi.testclient import TestClient


@dataclass
class HQ:
    """The HQ under test.

    Attributes:
        till1: Token of till 01 of store 001.
        till1b: Token of till 02 of store 001.
        till2: Token of till 01 of store 002.
        mall: Token of the ``mall`` channel.
        admin: An admin token.
        master: HQ's master key (a signing key exists, valid from a day before the clock).
    """

    db: HQDatabase
    client: TestClient
    clock: Clock
    phone_key: bytes
    admin: str
    till1: str
    till1b: str
    till2: str
    mall: str
    master: keys.MasterKey

    def headers(self, token: str | None) -> dict[str, str]:
        """Authorization header for ``token``."""
        return {"Authorization": f"Bearer {token}"} if token else {}

    def push(self, token: str, *events: dict[str, Any], sent_at: str | None = None) -> Any:
        """POST /v1/push; returns the response."""
        body: dict[str, Any] = {"events": list(events)}
        if sent_at is not None:
            body["sent_at"] = sent_at
        return self.client.post("/v1/push", json=body, headers=self.headers(token))

    def push_ok(self, token: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
        """Push and require every event applied; returns the results."""
        response = self.push(token, *events)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        for result in results:
            assert result["status"] == "applied", result
        return list(results)

    def register_members(self, till: FakeTill, count: int, prefix: str) -> list[str]:
        """Register ``count`` members at ``till`` (phones ``prefix`` + 4 digits), pushed
        by till 1 in one request; their ids."""
        ids, events = [], []
        for i in range(count):
            member_id, registered = till.register(f"{prefix}{i:04d}")
            ids.append(member_id)
            events.append(registered)
        self.push_ok(self.till1, *events)
        return ids

    def pull(self, token: str, cursor: str = "", limit: int = 500) -> dict[str, Any]:
        """GET /v1/pull."""
        response = self.client.get(
            "/v1/pull", params={"cursor": cursor, "limit": limit}, headers=self.headers(token)
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def pull_all(self, token: str, cursor: str = "", limit: int = 500) -> tuple[list[Any], str]:
        """Every change after ``cursor``; returns (changes, next cursor)."""
        changes: list[Any] = []
        while True:
            page = self.pull(token, cursor, limit)
            changes += page["changes"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return changes, cursor

    def member(self, member_id: str) -> dict[str, Any]:
        """HQ's view of a member (GET /v1/members/{id} as admin)."""
        response = self.client.get(f"/v1/members/{member_id}", headers=self.headers(self.admin))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def flags(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Flagged records."""
        params = {"kind": kind} if kind else {}
        response = self.client.get(
            "/v1/admin/flags", params=params, headers=self.headers(self.admin)
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    def till(self, store: str, till: str) -> FakeTill:
        """A fake till of ``store`` writing events at the HQ clock's time."""
        return FakeTill(store, till, self.phone_key, self.clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hq_db(pg_database: str) -> Iterator[HQDatabase]:
    db = HQDatabase(pg_database)
    db.migrate()
    yield db
    db.close()


@contextmanager
def open_hq(
    hq_db: HQDatabase,
    clock: Clock,
    *,
    replica: HQDatabase | None = None,
    app_db: HQDatabase | None = None,
    **settings: Any,
) -> Iterator[HQ]:
    """An HQ app on ``hq_db`` with two stores, three tills, the mall channel and an admin,
    manager ``manager-1`` in both stores and a member-code signing key; checks at the end
    that every balance equals its ledger.

    ``replica`` serves its reads, ``app_db`` (the same database with other engine
    options) replaces ``hq_db`` in the app, and ``settings`` override HQSettings."""
    now = clock()
    admin.create_store(hq_db, "001", "积分生活超市 一号店", now)
    admin.create_store(hq_db, "002", "积分生活超市 二号店", now)
    till1 = admin.register_till(hq_db, "001", "01", now)
    till1b = admin.register_till(hq_db, "001", "02", now)
    till2 = admin.register_till(hq_db, "002", "01", now)
    mall = admin.create_channel(hq_db, "mall", "积分商城", now)
    boss = admin.create_admin(hq_db, "总部管理员", now)
    for store in ("001", "002"):
        adjustments.add_manager(hq_db, store, MANAGER, "李店长", now)
    key = hq_db.setting(PHONE_KEY)
    assert key is not None
    assert till1.phone_key == key
    folder = tempfile.TemporaryDirectory(prefix="hq-master-")
    master = keys.MasterKey.load_or_create(Path(folder.name) / "hq-master.key")
    keys.create_key(hq_db, master, now, valid_from=now - dt.timedelta(days=1))
    app = create_app(
        app_db or hq_db, HQSettings(clock=clock, **settings), replica=replica, master_key=master
    )
    with folder, TestClient(app) as client:
        yield HQ(
            db=hq_db,
            client=client,
            clock=clock,
            phone_key=bytes.fromhex(key),
            admin=boss.token,
            till1=till1.token,
            till1b=till1b.token,
            till2=till2.token,
            mall=mall.token,
            master=master,
        )
    problems = ledger_problems(hq_db)
    assert not problems, "balances disagree with the ledger:\n" + "\n".join(problems)


@pytest.fixture
def hq(hq_db: HQDatabase, clock: Clock) -> Iterator[HQ]:
    with open_hq(hq_db, clock) as opened:
        yield opened


# -- a chain of a million members (the EXPLAIN tests) ---------------------------------------

MILLION = 1_000_000
COUPONS_EVERY = 10  # one member in ten holds a coupon; a third of coupons are bearer ones


@dataclass
class BigChain:
    """HQ on a generated chain of :data:`MILLION` members (stores ``G00001``..., regions
    ``R001``...; till ``G00001-01`` registered).

    Attributes:
        db: HQ's database.
        chain: What was generated.
        clock: HQ's clock.
    """

    db: HQDatabase
    chain: Chain
    clock: Clock


_COUPONS = """
INSERT INTO coupons (id, code, member_id, name, amount_off_fen, percent_off, min_order_fen,
    valid_from, valid_to, issued_at, source, seq)
SELECT 'gc' || i, 'GC' || i,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'gm' || lpad(i::text, 10, '0') END,
       'coupon', 500, 0, 0, now(), now() + interval '30 days', now(), 'hq', :base + i
FROM generate_series(1, :n, :every) AS i
"""


@pytest.fixture(scope="session")
def million(pg_cluster: PgCluster) -> Iterator[BigChain]:
    """A chain of a million members with coupons, generated once per session."""
    url = pg_cluster.create_database("million")
    db = HQDatabase(url)
    db.migrate()
    chain = generate_chain(url, ChainSpec(members=MILLION, stores=100, regions=10))
    now = dt.datetime.now(dt.UTC)
    with db.engine.begin() as conn:
        base = conn.exec_driver_sql(
            "SELECT value FROM counters WHERE name = 'change_seq' FOR UPDATE"
        ).scalar_one()
        conn.execute(text(_COUPONS), {"base": base, "n": MILLION, "every": COUPONS_EVERY})
        conn.execute(
            text("UPDATE counters SET value = :v WHERE name = 'change_seq'"),
            {"v": base + MILLION},
        )
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE coupons")
    admin.register_till(db, "G00001", "01", now)
    try:
        yield BigChain(db, chain, Clock(now))
    finally:
        db.close()
        pg_cluster.drop_database("million")
