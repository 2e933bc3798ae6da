"""HQ holds the member-code signing keys: ``pos-hq keys``, the pull topic, the member
app's endpoint, one use per code across every till, replays flagged."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from pos_app.core.codes import member_code
from pos_app.core.errors import InvalidCode
from pos_app.core.member_codes import DEMO_KEY_ID, DEMO_PRIVATE_KEY, verify_dynamic_code
from pos_app.hq import keys
from pos_app.hq.app import create_app
from pos_app.hq.cli import main
from pos_app.hq.config import HQSettings
from pos_app.hq.models import MemberCodeKey
from pos_app.services.member_codes import trusted_key
from tests.hq.conftest import HQ, TestClient
from tests.hq.support import basket


def _member(hq: HQ, phone: str = "13812341234") -> tuple[str, int]:
    till = hq.till("001", "01")
    member_id, registered = till.register(phone)
    hq.push_ok(hq.till1, registered)
    return member_id, int(registered["payload"]["member"]["member_no"])


def _pulled_keys(hq: HQ, token: str) -> dict[int, Any]:
    changes, _ = hq.pull_all(token)
    return dict(trusted_key(c["data"]) for c in changes if c["topic"] == "member_code_key")


def _code(hq: HQ, member_id: str, token: str | None = None, channel: str = "mall") -> Any:
    return hq.client.get(
        f"/v1/channel/{channel}/members/{member_id}/code",
        headers=hq.headers(token or hq.mall),
    )


def _use(hq: HQ, token: str, code: str) -> Any:
    return hq.client.post("/v1/member-codes/uses", json={"code": code}, headers=hq.headers(token))


def test_the_member_app_gets_a_code_every_till_verifies_with_the_pulled_keys(hq: HQ) -> None:
    member_id, member_no = _member(hq)
    response = _code(hq, member_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["member_no"] == member_no
    assert body["key_id"] == 1
    verified = verify_dynamic_code(body["code"], _pulled_keys(hq, hq.till2), hq.clock())
    assert verified.member_no == member_no
    assert dt.datetime.fromisoformat(body["expires_at"]) == verified.expires_at
    # the feed carries public halves only
    changes, _ = hq.pull_all(hq.till1)
    (key,) = [c["data"] for c in changes if c["topic"] == "member_code_key"]
    assert set(key) == {"key_id", "public_key", "not_before", "not_after", "revoked_at"}


def test_only_the_member_app_s_own_channel_gets_codes(hq: HQ) -> None:
    member_id, _ = _member(hq)
    assert _code(hq, member_id, hq.till1).status_code == 403
    assert _code(hq, member_id, hq.admin).status_code == 403
    assert _code(hq, member_id, channel="app").status_code == 403
    assert _code(hq, "nobody").status_code == 404


def test_without_the_master_key_hq_cannot_sign(hq: HQ) -> None:
    member_id, _ = _member(hq)
    app = create_app(hq.db, HQSettings(clock=hq.clock))  # no master key given
    with TestClient(app) as client:
        response = client.get(
            f"/v1/channel/mall/members/{member_id}/code", headers=hq.headers(hq.mall)
        )
    assert response.status_code == 503
    assert response.json()["code"] == "no_signing_key"


def test_the_private_key_is_sealed_under_the_master_key_outside_the_database(
    hq: HQ, tmp_path: Path
) -> None:
    with hq.db.read() as s:
        row = s.get(MemberCodeKey, 1)
        assert row is not None
        sealed = bytes(row.sealed_private or b"")
        public = bytes(row.public_key)
    private = hq.master.unseal(1, sealed)
    assert keys.public_key_of(private) == public
    with hq.db.engine.connect() as conn:  # what a backup of the database holds
        dump = " ".join(
            str(row) for row in conn.execute(text("SELECT * FROM member_code_keys")).all()
        )
    for secret in (private.hex(), repr(private)[2:-1]):
        assert secret not in dump
    other = keys.MasterKey.load_or_create(tmp_path / "other.key")
    with pytest.raises(keys.NoSigningKey, match="another master key"):
        other.unseal(1, sealed)
    with pytest.raises(keys.NoSigningKey):  # a sealed key moved to another row
        hq.master.unseal(2, sealed)


def test_rotation_and_revocation_reach_every_till(hq: HQ) -> None:
    member_id, member_no = _member(hq)
    before = _code(hq, member_id).json()["code"]
    hq.clock.advance(seconds=5)
    rotated = keys.rotate_keys(hq.db, hq.master, hq.clock())
    assert (rotated["key_id"], rotated["ended"]) == (2, [1])
    after = _code(hq, member_id).json()
    assert after["key_id"] == 2
    pulled = _pulled_keys(hq, hq.till1)
    assert verify_dynamic_code(before, pulled, hq.clock()).member_no == member_no
    assert verify_dynamic_code(after["code"], pulled, hq.clock()).member_no == member_no
    listing = {k["key_id"]: k for k in keys.list_keys(hq.db, hq.clock())}
    assert (listing[1]["signing"], listing[2]["signing"]) == (False, True)

    keys.revoke_key(hq.db, 2, "laptop stolen", hq.clock())
    with pytest.raises(InvalidCode, match="revoked"):
        verify_dynamic_code(after["code"], _pulled_keys(hq, hq.till1), hq.clock())
    with hq.db.read() as s:
        revoked = s.get(MemberCodeKey, 2)
        assert revoked is not None
        assert revoked.sealed_private is None  # nothing left to steal
    assert _code(hq, member_id).status_code == 503  # no key signs now
    assert keys.create_key(hq.db, hq.master, hq.clock())["key_id"] == 3


def test_a_code_is_used_once_across_every_till(hq: HQ) -> None:
    member_id, member_no = _member(hq)
    code = _code(hq, member_id).json()["code"]
    first = _use(hq, hq.till1, code)
    assert first.status_code == 201, first.text
    assert (first.json()["member_no"], first.json()["member_id"]) == (member_no, member_id)
    again = _use(hq, hq.till1, code)  # the same till's retry after a lost answer
    assert again.status_code == 201
    assert again.json()["replayed"] is True
    elsewhere = _use(hq, hq.till2, code)
    assert elsewhere.status_code == 409
    assert elsewhere.json()["code"] == "code_used"
    assert elsewhere.json()["facts"]["used_by"] == "till:001-01"
    assert _use(hq, hq.mall, code).status_code == 403  # tills report uses, channels do not


@pytest.mark.parametrize("spoil", ["lower", "long_s", "revoked", "forged"])
def test_hq_refuses_a_code_it_did_not_issue_as_is(hq: HQ, spoil: str) -> None:
    member_id, _ = _member(hq)
    code = _code(hq, member_id).json()["code"]
    while "S" not in code:
        code = _code(hq, member_id).json()["code"]
    if spoil == "lower":
        code = code.lower()
    elif spoil == "long_s":
        code = code.replace("S", "\u017f", 1)
    elif spoil == "revoked":
        keys.revoke_key(hq.db, 1, "leaked", hq.clock())
    else:
        code = code[:-10] + ("A" if code[-10] != "A" else "B") + code[-9:]
    response = _use(hq, hq.till1, code)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"


def _named_sale(hq: HQ, store: str, till: str, member_id: str, ref: dict[str, Any]) -> Any:
    seller = hq.till(store, till)
    seller.know(member_id, 100)
    sale = seller.sale(member_id, basket(30))
    sale["payload"]["sale"]["member_code"] = ref
    return sale


def test_an_offline_replay_across_tills_is_flagged_when_the_sales_arrive(hq: HQ) -> None:
    member_id, _ = _member(hq)
    signed = _code(hq, member_id).json()
    parsed = verify_dynamic_code(signed["code"], _pulled_keys(hq, hq.till1), hq.clock())
    ref = {"key_id": parsed.key_id, "nonce": parsed.nonce, "expires_at": signed["expires_at"]}
    # two tills, both offline, both accepted the same code (each saw it once)
    hq.push_ok(hq.till1, _named_sale(hq, "001", "01", member_id, ref))
    assert hq.flags("member_code_replayed") == []
    hq.push_ok(hq.till1, _named_sale(hq, "001", "01", member_id, ref))  # same till: its own
    assert hq.flags("member_code_replayed") == []
    (result,) = hq.push_ok(hq.till2, _named_sale(hq, "002", "01", member_id, ref))
    assert result["result"]["flags"] == ["member_code_replayed"]
    (flag,) = hq.flags("member_code_replayed")
    assert flag["detail"]["first_used_by"] == "till:001-01"
    assert flag["principal"] == "till:002-01"
    # ... and an online till is now refused the code
    assert _use(hq, hq.till1b, signed["code"]).status_code == 409


def test_a_sale_after_an_online_use_at_another_till_is_flagged(hq: HQ) -> None:
    member_id, _ = _member(hq)
    signed = _code(hq, member_id).json()
    assert _use(hq, hq.till1, signed["code"]).status_code == 201
    parsed = verify_dynamic_code(signed["code"], _pulled_keys(hq, hq.till1), hq.clock())
    ref = {"key_id": parsed.key_id, "nonce": parsed.nonce, "expires_at": signed["expires_at"]}
    hq.push_ok(hq.till1, _named_sale(hq, "001", "01", member_id, ref))
    assert hq.flags("member_code_replayed") == []
    hq.push_ok(hq.till1b, _named_sale(hq, "001", "02", member_id, ref))
    assert [f["principal"] for f in hq.flags("member_code_replayed")] == ["till:001-02"]


def test_a_postgresql_hq_never_holds_the_demo_key(hq: HQ) -> None:
    with hq.db.read() as s:
        assert s.scalars(select(MemberCodeKey.key_id)).all() == [1]
    assert DEMO_KEY_ID not in _pulled_keys(hq, hq.till1)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, out, err


def test_pos_hq_keys_and_member_code(
    hq: HQ, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    member_id, member_no = _member(hq)
    db = ("--db", hq.db.url)
    master = ("--master-key", str(tmp_path / "secret" / "hq-master.key"))
    code, listing, _ = run(capsys, "keys", "list", *db)
    assert code == 0
    assert [k["key_id"] for k in listing] == [1]
    code, created, err = run(capsys, "keys", "rotate", *db, *master)
    assert code == 0, err
    assert "made HQ's master key" in err
    assert created["key_id"] == 2
    path = tmp_path / "secret" / "hq-master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, err = run(capsys, "member-code", member_id, "--no-qr", *db, *master)
    assert code == 0, err
    printed = out.splitlines()[0]
    now = dt.datetime.now(dt.UTC)
    assert verify_dynamic_code(printed, _pulled_keys(hq, hq.till1), now).member_no == member_no
    assert f"member {member_no}, key 2" in out
    code, _, err = run(capsys, "member-code", member_code(1), *db, *master)
    assert code == 1
    assert "no member" in err
    code, out, err = run(
        capsys, "member-code", "9999999999", "--any-number", "--no-qr", *db, *master
    )
    assert code == 0, err
    code, revoked, _ = run(capsys, "keys", "revoke", "2", "--reason", "rotated early", *db)
    assert code == 0
    assert revoked["revoked_at"] is not None
    code, _, err = run(capsys, "member-code", member_id, *db, *master)
    assert code == 1
    assert "no member-code key valid now" in err
    os.chmod(path, 0o644)
    code, _, err = run(capsys, "keys", "create", *db, *master)
    assert code == 2
    assert "readable by others" in err
    code, _, err = run(capsys, "keys", "create", "--valid-from", "2027-01-01", *db, *master)
    assert code == 2
    assert "time zone" in err


def test_the_sqlite_demo_hq_signs_with_the_embedded_demo_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ("--db", f"sqlite:///{tmp_path / 'hq-demo.sqlite'}")
    nowhere = ("--master-key", str(tmp_path / "none.key"))  # the demo needs no master key
    code, out, err = run(
        capsys, "member-code", "9000010001", "--any-number", "--no-qr", *db, *nowhere
    )
    assert code == 0, err
    assert "key 65535" in out
    demo = {DEMO_KEY_ID: keys.public_key_of(DEMO_PRIVATE_KEY)}
    printed = out.splitlines()[0]
    assert verify_dynamic_code(printed, demo, dt.datetime.now(dt.UTC)).member_no == 9000010001
    code, listing, _ = run(capsys, "keys", "list", *db)
    assert [(k["key_id"], k["demo"], k["signing"]) for k in listing] == [(DEMO_KEY_ID, True, True)]
