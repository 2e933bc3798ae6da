"""Fixtures of the sync harness: a till template file and HQ on PostgreSQL.

HQ's database is migrated once per session and emptied before every test (a TRUNCATE
takes a fraction of what creating and migrating a database takes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pos_app.hq.database import HQDatabase
from tests.support.pgcluster import PgCluster
from tests.sync.harness import HQ_DATABASE, HQServer, make_till_template, reset_hq_database


@pytest.fixture(scope="session")
def sync_till_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated till with a cashier and a manager, copied for every till."""
    return make_till_template(tmp_path_factory.mktemp("sync-template") / "till.sqlite")


@pytest.fixture(scope="session")
def hq_database(pg_cluster: PgCluster) -> str:
    """URL of a migrated HQ database for the session (named :data:`HQ_DATABASE`)."""
    url = pg_cluster.create_database(HQ_DATABASE)
    db = HQDatabase(url)
    db.migrate()
    db.close()
    return url


@pytest.fixture
def hq_url(hq_database: str) -> str:
    """HQ's database, emptied for this test."""
    reset_hq_database(hq_database)
    return hq_database


@pytest.fixture
def hq(hq_url: str) -> Iterator[HQServer]:
    """HQ served on loopback over an empty database, with store 001."""
    server = HQServer(hq_url).start()
    try:
        server.create_store("001")
        yield server
    finally:
        server.stop()
