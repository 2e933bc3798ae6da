"""The audit trail is tamper-evident: rows hash-chained, a deleted or edited row named by
``pos-app check`` even after its trigger was dropped, each row's hashes queued for HQ."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from pos_app.cli.main import main
from pos_app.core.audit import FIELDS, GENESIS, row_hash
from pos_app.services import audit, auth, refunds
from pos_app.services.errors import AuthError
from pos_app.services.sync.push import OutboxPusher
from pos_app.store.encryption import driver
from pos_app.store.types import new_id
from tests.services.support import BASKET, MANAGER_PIN, give_points, rows, sell


@pytest.fixture
def history(ctx, cashier, manager, regular):
    """A few audited actions: a registration, an adjustment, a refund, a wrong PIN."""
    give_points(ctx, manager.id, regular, 200)
    sale = sell(ctx, cashier.id, regular, BASKET)
    line = refunds.find_sale(ctx, sale.receipt_no).lines[0]
    refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=sale.receipt_no,
        request={line.id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin=MANAGER_PIN,
        reason="顾客退货",
    )
    with pytest.raises(AuthError):
        auth.verify_pin(ctx, cashier.id, "4827")
    return ctx


def _check(ctx, capsys) -> tuple[int, list[str]]:
    """``pos-app check`` on the till's file (closed first, as a support person would)."""
    ctx.db.close()
    code = main(["--db", str(ctx.db.path), "check"])
    return code, capsys.readouterr().out.splitlines()


def _tamper(ctx, *statements: str) -> None:
    conn = ctx.db.connect(isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def test_the_chain_holds(history, capsys):
    ctx = history
    chain = rows(ctx, "SELECT seq, prev_hash, row_hash FROM audit_log ORDER BY seq")
    assert [seq for seq, _p, _h in chain] == list(range(1, len(chain) + 1))
    assert len(chain) >= 4
    assert chain[0][1] == GENESIS
    assert all(chain[i][1] == chain[i - 1][2] for i in range(1, len(chain)))
    assert audit.check_chain(ctx) == []
    code, out = _check(ctx, capsys)
    assert code == 0
    assert out[-1].startswith("OK:")


def test_dropping_the_trigger_and_deleting_a_row_is_detected(history, capsys):
    """The attack of the issue: drop the trigger, delete an audit row, leave no trace."""
    ctx = history
    ((seq, row_id),) = rows(ctx, "SELECT seq, id FROM audit_log WHERE action = 'refund'")
    _tamper(
        ctx,
        "DROP TRIGGER trg_audit_log_no_delete",
        f"DELETE FROM audit_log WHERE id = '{row_id}'",
    )
    code, out = _check(ctx, capsys)
    assert code == 1
    assert "AUDIT trigger trg_audit_log_no_delete is missing" in out
    assert f"AUDIT audit row(s) {seq} deleted" in out
    assert any(line.startswith(f"AUDIT audit row {seq + 1} ") for line in out)


def test_an_edited_row_is_named(history, capsys):
    ctx = history
    ((seq, row_id),) = rows(ctx, "SELECT seq, id FROM audit_log WHERE action = 'adjust'")
    _tamper(
        ctx,
        "DROP TRIGGER trg_audit_log_no_update",
        f"UPDATE audit_log SET actor_id = 'someone-else' WHERE id = '{row_id}'",
        "CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log rows are immutable: write a correction'); END",
    )
    code, out = _check(ctx, capsys)
    assert code == 1
    assert out == [f"AUDIT audit row {seq} ({row_id}) edited: its hash does not match"]


def test_a_row_written_around_the_chain_is_refused_and_else_detected(history, capsys):
    ctx = history
    forged = (
        "INSERT INTO audit_log (id, at, actor_id, action, subject, detail) "
        "VALUES ('forged', '2026-11-17T02:00:00.000000+00:00', 'x', 'refund', 'y', '')"
    )
    with pytest.raises(driver.IntegrityError, match="audit rows are chained"):
        _tamper(ctx, forged)
    _tamper(ctx, "DROP TRIGGER trg_audit_log_chain", forged)
    code, out = _check(ctx, capsys)
    assert code == 1
    assert "AUDIT trigger trg_audit_log_chain is missing" in out
    assert "AUDIT audit row forged is outside the chain (no number)" in out


def test_each_row_goes_to_hq_with_its_hashes(history):
    """The ``audit`` event's payload (docs/sync.md): the row as hashed, and its hashes."""
    ctx = history
    events = {
        aggregate: json.loads(payload)
        for aggregate, payload in rows(
            ctx, "SELECT aggregate_id, payload FROM outbox WHERE kind = 'audit'"
        )
    }
    chain = rows(ctx, "SELECT id, seq, prev_hash, row_hash FROM audit_log ORDER BY seq")
    assert set(events) == {row_id for row_id, *_ in chain}
    for row_id, seq, prev, digest in chain:
        payload = events[row_id]
        assert set(payload) == {*FIELDS, "prev_hash", "row_hash"}
        assert (payload["id"], payload["seq"], payload["prev_hash"], payload["row_hash"]) == (
            row_id,
            seq,
            prev,
            digest,
        )
        assert row_hash(payload, payload["prev_hash"]) == digest  # HQ can recompute it


def test_audit_events_wait_until_hq_lists_the_kind():
    held = OutboxPusher.held_kinds
    assert held(SimpleNamespace(identity=None)) == {"audit"}  # type: ignore[arg-type]
    old_hq = SimpleNamespace(identity={"kind": "till"})
    assert held(old_hq) == {"audit"}  # type: ignore[arg-type]
    new_hq = SimpleNamespace(identity={"kind": "till", "event_kinds": ["sale", "audit"]})
    assert held(new_hq) == frozenset()  # type: ignore[arg-type]
