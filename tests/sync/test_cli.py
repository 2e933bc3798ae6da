"""``pos-app register-till`` and ``pos-app sync`` against a real HQ."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from pos_app.cli.main import main
from pos_app.core.quote import BasketLine
from pos_app.services import auth, checkout, members
from pos_app.services.context import open_till
from pos_app.services.ledger import add_outbox
from pos_app.store.models import OutboxEvent
from tests.sync.harness import HQServer


@pytest.fixture
def till_file(sync_till_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "till.sqlite"
    shutil.copyfile(sync_till_template, path)
    return path


def _sell(path: Path, phone: str) -> None:
    ctx = open_till(path)
    try:
        member = members.register(ctx, phone=phone)
        cashier = next(u for u in auth.list_users(ctx) if u.role == "cashier")
        checkout.complete_sale(
            ctx,
            sale_id=member.id,
            lines=[BasketLine("TEA", "茶", "food", 1, 5_000)],
            member_id=member.id,
            tenders=[checkout.TenderInput("cash", 5_000)],
            cashier_id=cashier.id,
        )
    finally:
        ctx.db.close()


def test_register_then_sync(
    hq: HQServer, till_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", str(till_file)]
    code = main(
        [
            *db,
            "register-till",
            "--hq",
            hq.base_url,
            "--admin-token",
            hq.admin_token,
            "--store",
            "001",
            "--till",
            "07",
        ]
    )
    assert code == 0
    assert "registered as till 07 of store 001" in capsys.readouterr().out
    ctx = open_till(till_file)
    assert (ctx.store_id, ctx.till_id) == ("001", "07")
    ctx.db.close()
    _sell(till_file, "13900000041")
    assert main([*db, "sync", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["push"]["acknowledged"] == 3  # the registration, its audit row, the sale
    assert result["push"]["pending"] == 0
    # the first sync is the region's snapshot: the till's own member, whole
    assert result["pull"]["snapshot_members"] == 1
    assert result["pull"]["cursor"].startswith("v1:")
    assert main([*db, "sync"]) == 0
    out = capsys.readouterr().out
    assert "pushed 0 events" in out
    assert "nothing new" in out or "pulled" in out


def test_sync_exit_codes(hq: HQServer, till_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(till_file)]
    assert main([*db, "sync"]) == 2  # not set up
    assert "register-till" in capsys.readouterr().err
    assert main([*db, "sync", "--hq", hq.base_url, "--token", "ptt_unknown"]) == 2
    assert "401" in capsys.readouterr().err
    assert (
        main(
            [*db, "register-till", "--hq", hq.base_url, "--admin-token", "pta_no", "--store", "001"]
        )
        == 2
    )
    capsys.readouterr()
    assert (
        main(
            [
                *db,
                "register-till",
                "--hq",
                hq.base_url,
                "--admin-token",
                hq.admin_token,
                "--store",
                "001",
            ]
        )
        == 0
    )
    ctx = open_till(till_file)
    with ctx.db.write() as s:  # an event HQ must refuse
        add_outbox(s, "adjustment", "q" * 32, {"entries": []}, ctx.now())
    ctx.db.close()
    assert main([*db, "sync"]) == 1
    assert "refused by HQ: adjustment event" in capsys.readouterr().err
    assert main([*db, "sync"]) == 1  # reported again, not sent again
    assert main([*db, "sync", "--retry-refused"]) == 1  # sent again: still refused
    capsys.readouterr()
    ctx = open_till(till_file)
    with ctx.db.read() as s:
        assert s.scalars(select(OutboxEvent.attempts)).one() == 2
    ctx.db.close()
    hq.stop()
    assert main([*db, "sync", "--push-only"]) == 2
    assert "unreachable" in capsys.readouterr().err
    hq.start(migrate=False)


def test_register_refuses_a_till_with_data_under_another_identity(
    hq: HQServer, till_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sell(till_file, "13900000042")  # a member hashed with the till's own phone key
    register = ["--db", str(till_file), "register-till", "--hq", hq.base_url]
    hq.create_store("003")
    code = main([*register, "--admin-token", hq.admin_token, "--store", "003"])
    assert code == 2  # refused before asking HQ: the store differs
    assert "--store 001 --till 01" in capsys.readouterr().err
    code = main([*register, "--admin-token", hq.admin_token, "--store", "001", "--till", "01"])
    assert code == 2  # HQ's phone key is not the one the member was hashed with
    err = capsys.readouterr().err
    assert "already holds members or sales" in err
    assert "HQ created till 001-01 for nothing" in err
