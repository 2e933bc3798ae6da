"""``pos-hq``: migrate, stores, tills, admins, rules, jobs, and a real ``serve``."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from pos_app.core.rules import default_rule_set
from pos_app.hq.cli import main
from pos_app.hq.database import HQDatabase, head_revision
from tests.hq.support import serving


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_admin_commands(
    pg_database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ("--db", pg_database)
    code, out, _ = run(capsys, "migrate", *db)
    assert code == 0
    assert head_revision() in out
    assert run(capsys, "create-store", "001", "--name", "一号店", *db)[0] == 0
    code, _, err = run(capsys, "create-store", "0 1", *db)
    assert code == 2
    assert "code" in err
    code, _, err = run(capsys, "create-store", "001", *db)
    assert code == 1
    assert "already exists" in err
    code, out, err = run(capsys, "register-till", "001", *db)
    assert code == 0
    assert "shown only now" in err
    till = json.loads(out)
    assert (till["id"], till["store_code"], till["till_code"]) == ("001-01", "001", "01")
    assert till["token"].startswith("ptt_")
    assert len(bytes.fromhex(till["phone_key"])) == 32
    second = json.loads(run(capsys, "register-till", "001", *db)[1])
    assert second["till_code"] == "02"
    assert second["token"] != till["token"]
    assert run(capsys, "register-till", "999", *db)[0] == 1
    admin = json.loads(run(capsys, "create-admin", "总部", *db)[1])
    assert admin["token"].startswith("pta_")
    channel = json.loads(run(capsys, "create-channel", "mall", *db)[1])
    assert channel["token"].startswith("ptc_")
    # HQ keeps hashes only
    hq = HQDatabase(pg_database)
    try:
        with hq.engine.connect() as conn:
            dump = str(conn.execute(text("SELECT * FROM tills")).all())
            dump += str(conn.execute(text("SELECT * FROM admins")).all())
        assert till["token"] not in dump
        assert admin["token"] not in dump
    finally:
        hq.close()
    rules = json.loads(default_rule_set().to_json())
    rules["version"] = "2027.01"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules), "utf-8")
    code, out, _ = run(capsys, "publish-rules", str(path), *db)
    assert code == 0
    assert json.loads(out) == {"version": "2027.01", "active": True}
    rules["spending"]["max_share_percent"] = 120
    path.write_text(json.dumps(rules), "utf-8")
    code, _, err = run(capsys, "publish-rules", str(path), *db)
    assert code == 1
    assert "spending.max_share_percent" in err
    assert run(capsys, "run-jobs", "--now", "2027-01-01", *db)[0] == 2  # no time zone
    code, out, _ = run(capsys, "openapi", *db)
    assert code == 0
    assert "/v1/push" in json.loads(out)["paths"]


def test_serve_runs_the_api_on_postgresql(pg_database: str) -> None:
    with serving(pg_database) as base:
        health = httpx.get(f"{base}/health", timeout=5).json()
        assert health["status"] == "ok"
        assert health["reads"]["replica_configured"] is False
        spec = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert {"/v1/push", "/v1/pull", "/v1/holds", "/v1/holds/{hold_id}/post"} <= set(
            spec["paths"]
        )
        assert httpx.post(f"{base}/v1/push", json={"events": []}, timeout=5).status_code == 401
    hq = HQDatabase(pg_database)
    try:
        assert hq.current_revision() == head_revision()  # serve migrated at start
    finally:
        hq.close()


def health_pids(base: str, tries: int = 40) -> set[int]:
    """Worker pids answering ``/health`` on new connections, until two differ."""
    pids: set[int] = set()
    with ThreadPoolExecutor(4) as pool:
        for _ in range(tries):
            answers = pool.map(lambda _: httpx.get(f"{base}/health", timeout=5).json(), range(4))
            pids |= {a["pid"] for a in answers}
            if len(pids) > 1:
                break
    return pids


def test_serve_with_two_workers_and_a_long_keep_alive(pg_database: str) -> None:
    with serving(pg_database, "--workers", "2", "--write-slots", "3") as base:
        pids = health_pids(base)
        assert len(pids) == 2  # two processes answer, each configured from the parent's flags
        assert httpx.get(f"{base}/health", timeout=5).json()["admission"]["write"]["slots"] == 3
        # an idle connection outlives uvicorn's default keep-alive (5 s): the default 75 s
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", "/health")
            first = json.loads(conn.getresponse().read())
            local = conn.sock.getsockname()
            time.sleep(6)
            conn.request("GET", "/health")
            second = json.loads(conn.getresponse().read())
            assert conn.sock.getsockname() == local  # the same connection
            assert second["pid"] == first["pid"]
        finally:
            conn.close()


def test_serve_refuses_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    for flags in (["--workers", "0"], ["--queue-wait", "-1"], ["--keep-alive", "x"]):
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--db", "sqlite:///unused.sqlite", *flags])
        assert exited.value.code == 2
        assert flags[0] in capsys.readouterr().err


def test_a_worker_keeps_the_garbage_collector_out_of_the_push(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn builds each worker's app with ``app_from_environment``: what it built is
    frozen and young collections are rare (issue 10: 22% of a push's CPU was the
    collector walking the heap)."""
    import gc

    from fastapi.testclient import TestClient

    from pos_app.hq.serve import ENVIRONMENT_KEY, GC_THRESHOLDS, ServeConfig, app_from_environment

    db = HQDatabase(pg_database)
    db.migrate()
    db.close()
    before = gc.get_threshold()
    monkeypatch.setenv(ENVIRONMENT_KEY, ServeConfig(db_url=pg_database).to_json())
    try:
        app = app_from_environment()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 10_000
        with TestClient(app) as client:  # its lifespan closes the databases it opened
            assert client.get("/health").status_code == 200
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
