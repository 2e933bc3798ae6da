"""HQ's audit trail: every admin action and every refused till write, each row chained
to the one before; an edited or deleted row is found even with the trigger dropped."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from pos_app.hq import audit
from pos_app.hq.cli import main
from pos_app.hq.models import Setting
from tests.hq.conftest import HQ
from tests.hq.support import basket


def _rows(hq: HQ) -> list[Any]:
    with hq.db.read() as s:
        return list(s.execute(select(audit.AUDIT).order_by(audit.AUDIT.c.seq)).all())


def _verify(hq: HQ, expect: audit.Head | None = None) -> audit.Verdict:
    with hq.db.read() as s:
        return audit.verify(s, expect)


def _admin_id(hq: HQ) -> str:
    me = hq.client.get("/v1/me", headers=hq.headers(hq.admin)).json()
    return f"admin:{me['id']}"


def test_admin_actions_are_audited_with_who_did_them(hq: HQ) -> None:
    headers = hq.headers(hq.admin)
    boss = _admin_id(hq)
    assert (
        hq.client.post(
            "/v1/admin/stores", json={"code": "003", "name": "三号店"}, headers=headers
        ).status_code
        == 201
    )
    assert hq.client.post("/v1/admin/stores/003/tills", json={}, headers=headers).status_code == 201
    assert (
        hq.client.post(
            "/v1/admin/stores/003/managers",
            json={"manager_id": "m3", "name": "店长"},
            headers=headers,
        ).status_code
        == 201
    )
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    hq.push_ok(hq.till1, registered)
    assert (
        hq.client.post(
            "/v1/admin/adjustments",
            json={"id": "fix-1", "member_id": member_id, "points": 5, "reason": "补偿"},
            headers=headers,
        ).status_code
        == 201
    )
    assert (
        hq.client.post(
            "/v1/admin/member-code-keys/1/revoke", params={"reason": "drill"}, headers=headers
        ).status_code
        == 200
    )
    assert hq.client.post("/v1/admin/jobs/run", json={}, headers=headers).status_code == 200
    mine = [(r.action, r.subject) for r in _rows(hq) if r.actor == boss]
    assert mine == [
        ("store.create", "003"),
        ("till.register", "003-01"),
        ("manager.add", "m3"),
        ("member.adjust", member_id),
        ("member_code_key.revoke", "1"),
        ("jobs.run", None),
    ]
    setup = {r.action for r in _rows(hq) if r.actor == audit.SYSTEM_ACTOR}
    assert {"store.create", "till.register", "admin.create", "channel.create"} <= setup
    assert {"manager.add", "member_code_key.create"} <= setup
    assert _verify(hq).ok


def test_refused_till_writes_are_audited(hq: HQ) -> None:
    mine = hq.till("001", "01")
    member_id, registered = mine.register("13812341234")
    hq.push_ok(hq.till1, registered)
    other = hq.till("002", "01")
    other.know(member_id, 100)
    # a whole push refused (another store's sale), an event refused, a malformed request
    assert hq.push(hq.till1, other.sale(member_id, basket(10))).status_code == 403
    refused = mine.adjustment(member_id, 10, manager="nobody")
    assert hq.push(hq.till1, refused).json()["results"][0]["status"] == "forbidden"
    assert (
        hq.client.post("/v1/push", json={"events": []}, headers=hq.headers(hq.till1)).status_code
        == 422
    )
    trail = [
        (r.actor, r.action, r.subject, r.detail) for r in _rows(hq) if r.actor.startswith("till:")
    ]
    assert [(a, b) for a, b, _, _ in trail] == [
        ("till:001-01", "request.refused"),
        ("till:001-01", "push.refused"),
        ("till:001-01", "request.refused"),
    ]
    assert trail[0][3]["status"] == 403
    assert trail[1][2] == refused["id"]
    assert trail[1][3]["status"] == "forbidden"
    assert trail[2][3]["status"] == 422
    assert "13812341234" not in str(trail)  # no personal data in the trail


def test_the_trail_refuses_updates_and_deletes(hq: HQ) -> None:
    for sql in (
        "UPDATE hq_audit SET actor = 'nobody'",
        "DELETE FROM hq_audit",
        "TRUNCATE hq_audit",
    ):
        with pytest.raises(DBAPIError, match="immutable"), hq.db.engine.begin() as conn:
            conn.execute(text(sql))
    assert _verify(hq).ok


def _tamper(hq: HQ, *statements: str) -> None:
    with hq.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER trg_hq_audit_immutable ON hq_audit"))
        for sql in statements:
            conn.execute(text(sql))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_a_deleted_row_is_found_after_the_trigger_is_dropped(
    hq: HQ, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows(hq)
    assert len(rows) >= 5
    code, out = run(capsys, "audit", "verify", "--db", hq.db.url)
    assert code == 0
    assert f"OK: {len(rows)} audit rows" in out
    _tamper(hq, "DELETE FROM hq_audit WHERE seq = 3")
    verdict = _verify(hq)
    assert not verdict.ok
    assert any("rows 3..3 are missing" in p for p in verdict.problems)
    code, out = run(capsys, "audit", "verify", "--db", hq.db.url)
    assert code == 1
    assert "BROKEN: row 4 does not follow row 2" in out


def test_an_edited_row_is_found(hq: HQ) -> None:
    _tamper(hq, "UPDATE hq_audit SET actor = 'admin:someone-else' WHERE seq = 2")
    assert _verify(hq).problems == ["row 2 was edited: it no longer matches its hash"]


def test_a_deleted_last_row_is_found(hq: HQ) -> None:
    last = _rows(hq)[-1].seq
    _tamper(hq, f"DELETE FROM hq_audit WHERE seq = {last}")
    (problem,) = _verify(hq).problems
    assert f"ends at row {last - 1}" in problem


def _rewrite_chain_from(hq: HQ, seq: int) -> None:
    """What an attacker with the database's keys and the trigger dropped can do: delete a
    row and recompute every later hash and the stored head."""
    _tamper(hq, f"DELETE FROM hq_audit WHERE seq = {seq}")
    with hq.db.engine.begin() as conn:
        rows = conn.execute(
            select(audit.AUDIT).where(audit.AUDIT.c.seq > seq).order_by(audit.AUDIT.c.seq)
        ).all()
        previous = conn.execute(
            select(audit.AUDIT.c.hash).where(audit.AUDIT.c.seq == seq - 1)
        ).scalar_one()
        conn.execute(text(f"DELETE FROM hq_audit WHERE seq > {seq}"))
        for row in rows:
            new_seq = row.seq - 1
            digest = audit.chain_hash(
                previous, new_seq, row.at, row.actor, row.action, row.subject, row.detail
            )
            values: dict[str, Any] = dict(row._mapping) | {
                "seq": new_seq,
                "prev_hash": previous,
                "hash": digest,
            }
            conn.execute(audit.AUDIT.insert().values(**values))
            previous = digest
        conn.execute(
            Setting.__table__.update()  # type: ignore[attr-defined]
            .where(Setting.__table__.c.key == audit.HEAD_SETTING)  # type: ignore[attr-defined]
            .values(value=f"{rows[-1].seq - 1}:{previous}")
        )


def test_a_rewritten_chain_is_found_against_a_head_kept_elsewhere(
    hq: HQ, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "audit", "head", "--db", hq.db.url)
    assert code == 0
    recorded = audit.Head.parse(out)
    assert recorded.seq == _rows(hq)[-1].seq
    _rewrite_chain_from(hq, 2)
    assert _verify(hq).ok  # consistent in itself: only the outside copy tells
    code, out = run(capsys, "audit", "verify", "--db", hq.db.url, "--expect", str(recorded))
    assert code == 1
    assert f"row {recorded.seq}, recorded earlier, is missing" in out
