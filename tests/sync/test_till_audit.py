"""A till's audit chain at HQ: every row the till writes (an adjustment, a wrong PIN...)
reaches HQ with its hashes, HQ checks each against the row before it, and a row deleted
at the till (its trigger dropped, its unsent event removed with it) is named by till
and row at HQ: flagged for review and reported by ``pos-hq audit verify``."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from pos_app.hq.cli import main as hq_main
from pos_app.services import auth
from pos_app.services.errors import AuthError
from tests.sync.harness import HQServer, SimTill


@pytest.fixture
def till(hq: HQServer, sync_till_template: Path, tmp_path: Path) -> Iterator[SimTill]:
    t = SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(7))
    yield t
    t.close()


def _hq_rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def _audited_actions(t: SimTill) -> None:
    """A registration, two adjustments and a wrong PIN: four rows or more."""
    member_id = t.register("13900000088")
    assert member_id is not None
    assert t.adjust(member_id)
    assert t.adjust(member_id)
    with pytest.raises(AuthError):
        auth.verify_pin(t.ctx, t.cashier.id, "0000")


def _drop_triggers(conn: Any, table: str) -> None:
    """Drop every trigger on ``table`` (what someone with a shell on the till can do)."""
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall()
    for (name,) in names:
        conn.execute(f"DROP TRIGGER {name}")


def _till_chain(t: SimTill) -> list[tuple[int, str]]:
    with t.ctx.db.read() as s:
        return [
            (int(a), str(b))
            for a, b in s.execute(text("SELECT seq, row_hash FROM audit_log ORDER BY seq")).all()
        ]


def test_every_row_of_the_chain_reaches_hq_and_holds(
    till: SimTill, hq_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _audited_actions(till)
    assert till.sync()
    chain = _till_chain(till)
    assert len(chain) >= 4
    held = _hq_rows(
        hq_url,
        f"SELECT seq, row_hash, problem FROM till_audit WHERE till_id = '{till.name}' ORDER BY seq",
    )
    assert [(r.seq, r.row_hash) for r in held] == chain
    assert {r.problem for r in held} == {None}
    assert _hq_rows(hq_url, "SELECT id FROM flagged_records WHERE kind = 'till_audit_break'") == []
    assert hq_main(["audit", "verify", "--db", hq_url]) == 0
    assert "every till's audit chain holds" in capsys.readouterr().out
    assert till.sync()  # sent once: nothing is sent again
    assert len(_hq_rows(hq_url, "SELECT seq FROM till_audit")) == len(chain)


def test_a_row_deleted_at_the_till_is_named_at_hq(
    till: SimTill, hq_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _audited_actions(till)
    assert till.sync()
    last = _till_chain(till)[-1][0]
    for pin in ("0001", "0002"):  # rows last+1 (deleted before it is sent) and last+2
        with pytest.raises(AuthError):
            auth.verify_pin(till.ctx, till.cashier.id, pin)
    conn = till.ctx.db.connect(isolation_level=None)
    try:  # the attack: drop the trigger, delete the row and its unsent event
        _drop_triggers(conn, "audit_log")
        row_id = conn.execute("SELECT id FROM audit_log WHERE seq = ?", (last + 1,)).fetchone()[0]
        conn.execute("DELETE FROM outbox WHERE kind = 'audit' AND aggregate_id = ?", (row_id,))
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (last + 1,))
    finally:
        conn.close()
    assert till.sync()
    (flag,) = _hq_rows(
        hq_url,
        "SELECT principal, subject_id, detail FROM flagged_records WHERE kind = 'till_audit_break'",
    )
    assert flag.subject_id == str(last + 2)
    assert flag.detail["problem"] == "missing"
    assert (flag.detail["first"], flag.detail["last"]) == (last + 1, last + 1)
    assert flag.detail["till_id"] == till.name
    assert hq_main(["audit", "verify", "--db", hq_url]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN: till {till.name}: audit row(s) {last + 1} deleted" in out
    # HQ's copy cannot be rewritten either
    with pytest.raises(Exception, match="immutable"):
        _hq_rows(hq_url, "DELETE FROM till_audit RETURNING seq")


def test_a_forged_row_is_kept_and_flagged_as_edited(till: SimTill, hq_url: str) -> None:
    """A row whose content no longer gives its hash (edited before it was sent)."""
    _audited_actions(till)
    with till.ctx.db.read() as s:
        outbox_id = s.execute(
            text("SELECT id FROM outbox WHERE kind = 'audit' ORDER BY seq DESC LIMIT 1")
        ).scalar_one()
    conn = till.ctx.db.connect(isolation_level=None)
    try:
        _drop_triggers(conn, "outbox")
        conn.execute(
            "UPDATE outbox SET payload = json_set(payload, '$.detail', 'nothing happened') "
            "WHERE id = ?",
            (outbox_id,),
        )
    finally:
        conn.close()
    assert till.sync()
    (row,) = _hq_rows(hq_url, "SELECT problem FROM till_audit WHERE problem IS NOT NULL")
    assert row.problem == "edited"
