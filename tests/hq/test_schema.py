"""HQ's schema: migrations at head and equal to the models, immutable ledger tables,
and the SQLite demo database."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pos_app.core.member_codes import DEMO_KEY_ID, DEMO_PRIVATE_KEY, public_key_of
from pos_app.hq.app import create_app
from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase, alembic_config, head_revision
from pos_app.hq.models import Base, include_name, include_object
from tests.hq.conftest import HQ
from tests.hq.support import Clock, basket, ledger_problems

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from fastapi.testclient import TestClient


def test_migrated_database_is_at_head_and_matches_the_models(hq_db: HQDatabase) -> None:
    assert hq_db.current_revision() == head_revision()
    with hq_db.engine.connect() as conn:
        opts = {"include_name": include_name, "include_object": include_object}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == []
    with hq_db.engine.begin() as conn:  # down to nothing and up again
        command.downgrade(alembic_config(conn), "base")
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ).scalar_one()
            == 0
        )
    hq_db.migrate()
    hq_db.migrate()  # again: nothing to do, nothing duplicated
    with hq_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hq_settings")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM rule_set_versions")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM counters")).scalar_one() == 1


def test_the_ledger_is_immutable(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(100))
    refund = till.refund(sale["payload"]["sale"]["id"], {0: 1})
    hq.push_ok(hq.till1, registered, sale, refund)
    for sql in (
        "UPDATE ledger_entries SET points = points + 1000",
        "DELETE FROM ledger_entries",
        "UPDATE sales SET total_fen = 0",
        "DELETE FROM sale_lines",
        "DELETE FROM lot_moves",
        "UPDATE refunds SET points_reversed = 0",
        "DELETE FROM refund_lines",
        "TRUNCATE ledger_entries CASCADE",
    ):
        with pytest.raises(DBAPIError, match="immutable"), hq.db.engine.begin() as conn:
            conn.execute(text(sql))
    assert hq.member(member_id)["balance"] == 100


def test_the_sqlite_demo_database_works_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pos_app.hq import admin
    from pos_app.hq import push as pushing

    # each push is written as one batch: none fails its bulk write (a foreign key the
    # demo keeps) and is applied again event by event
    runs: list[bool] = []  # one_by_one, per transaction
    batch_run = pushing._Batch.run

    def run(batch: pushing._Batch, *, one_by_one: bool, late: bool = False) -> None:
        runs.append(one_by_one)
        batch_run(batch, one_by_one=one_by_one, late=late)

    monkeypatch.setattr(pushing._Batch, "run", run)
    db = HQDatabase(f"sqlite:///{tmp_path / 'hq-demo.sqlite'}")
    try:
        db.migrate()
        assert db.current_revision() == head_revision()
        clock = Clock()
        admin.create_store(db, "001", "演示店", clock())
        cred = admin.register_till(db, "001", None, clock())
        assert cred.till_code == "01"
        from tests.hq.support import FakeTill

        till = FakeTill("001", "01", bytes.fromhex(cred.phone_key or ""), clock)
        member_id, registered = till.register("13812341234")
        sale = till.sale(member_id, basket(100))
        with TestClient(create_app(db, HQSettings(clock=clock))) as client:
            headers = {"Authorization": f"Bearer {cred.token}"}
            for _ in range(2):
                response = client.post(
                    "/v1/push", json={"events": [registered, sale]}, headers=headers
                )
                assert response.status_code == 200, response.text
                assert [r["status"] for r in response.json()["results"]] == ["applied"] * 2
            assert runs == [False, False]
            pulled = client.get("/v1/pull", headers=headers).json()
            # the member entered the till's region: it comes whole, as a snapshot
            topics = {c["topic"] for c in pulled["changes"]}
            assert topics == {"member_snapshot", "rule_set", "member_code_key"}
            (whole,) = [c["data"] for c in pulled["changes"] if c["topic"] == "member_snapshot"]
            assert (whole["id"], whole["balance"]) == (member_id, 600)
            assert [lot["remaining"] for lot in whole["lots"]] == [100, 500]
            (key,) = [c["data"] for c in pulled["changes"] if c["topic"] == "member_code_key"]
            assert key["key_id"] == DEMO_KEY_ID  # the demo HQ signs with the demo key
            assert key["public_key"] == public_key_of(DEMO_PRIVATE_KEY).hex()
        with db.engine.begin() as conn, pytest.raises(DBAPIError, match="immutable"):
            conn.execute(text("DELETE FROM ledger_entries"))
        assert ledger_problems(db) == []
    finally:
        db.close()
