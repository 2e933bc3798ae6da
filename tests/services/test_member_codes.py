"""Signed dynamic member codes at the till: offline check, accepted once, no secret kept."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from pos_app.core.errors import ExpiredCode, ForgedCode, InvalidCode, ReplayedCode
from pos_app.core.member_codes import CLOCK_SKEW, public_key_of
from pos_app.services import member_codes, members
from pos_app.services.context import TillContext, open_till
from pos_app.services.errors import UnknownMember
from pos_app.store.models import MemberCodeUse
from tests.services.conftest import Clock

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def signing_key(ctx: TillContext) -> bytes:
    """The demo key pair: private half in a file next to the database."""
    path = member_codes.ensure_demo_signing_key(ctx)
    assert path is not None
    return member_codes.read_private_key(path)


def _mint(ctx: TillContext, key: bytes, member_no: int, **kwargs: object) -> str:
    return member_codes.mint(key, member_codes.DEMO_KEY_ID, member_no, ctx.now(), **kwargs)  # type: ignore[arg-type]


def test_a_valid_code_finds_the_member_once(
    ctx: TillContext, member: members.MemberSummary, signing_key: bytes
) -> None:
    code = _mint(ctx, signing_key, member.member_no)
    hit = member_codes.find_by_dynamic_code(ctx, code)
    assert hit.id == member.id
    assert hit.masked_phone == "138****1234"
    with pytest.raises(ReplayedCode, match="already used"):
        member_codes.find_by_dynamic_code(ctx, code)


def test_a_forged_code_is_refused_and_leaves_no_trace(
    ctx: TillContext, member: members.MemberSummary, signing_key: bytes
) -> None:
    code = _mint(ctx, signing_key, member.member_no)
    raw = bytearray(base64.b32decode(code[2:] + "=" * (-len(code[2:]) % 8)))
    raw[40] ^= 0x10
    forged = "MD" + base64.b32encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(ForgedCode, match="forged"):
        member_codes.find_by_dynamic_code(ctx, forged)
    with ctx.db.read() as session:
        assert session.query(MemberCodeUse).count() == 0
    # The genuine code still works: the forgery did not burn its nonce.
    assert member_codes.find_by_dynamic_code(ctx, code).id == member.id


def test_a_code_signed_by_a_key_the_till_does_not_trust_is_refused(
    ctx: TillContext, member: members.MemberSummary, signing_key: bytes
) -> None:
    stranger = member_codes.generate_private_key()
    code = member_codes.mint(stranger, member_codes.DEMO_KEY_ID, member.member_no, ctx.now())
    with pytest.raises(ForgedCode):
        member_codes.find_by_dynamic_code(ctx, code)
    other_id = member_codes.mint(stranger, 2, member.member_no, ctx.now())
    with pytest.raises(InvalidCode, match="key 2"):
        member_codes.find_by_dynamic_code(ctx, other_id)


def test_an_expired_code_is_refused(
    ctx: TillContext, clock: Clock, member: members.MemberSummary, signing_key: bytes
) -> None:
    code = _mint(ctx, signing_key, member.member_no, lifetime=dt.timedelta(seconds=60))
    clock.advance(seconds=60 + CLOCK_SKEW.total_seconds() + 1)
    with pytest.raises(ExpiredCode, match="expired"):
        member_codes.find_by_dynamic_code(ctx, code)


def test_a_key_rotation_keeps_old_and_new_keys_working(
    ctx: TillContext, member: members.MemberSummary, signing_key: bytes
) -> None:
    new_key = member_codes.generate_private_key()
    member_codes.install_public_key(ctx, 2, public_key_of(new_key))
    assert set(member_codes.public_keys(ctx)) == {1, 2}
    assert member_codes.key_id_for(ctx, new_key) == 2
    for key, key_id in ((signing_key, 1), (new_key, 2)):
        code = member_codes.mint(key, key_id, member.member_no, ctx.now())
        assert member_codes.find_by_dynamic_code(ctx, code).id == member.id


def test_the_replay_cache_is_pruned_after_expiry(
    ctx: TillContext, clock: Clock, member: members.MemberSummary, signing_key: bytes
) -> None:
    first = _mint(ctx, signing_key, member.member_no, lifetime=dt.timedelta(seconds=60))
    member_codes.find_by_dynamic_code(ctx, first)
    clock.advance(minutes=5)
    second = _mint(ctx, signing_key, member.member_no)
    member_codes.find_by_dynamic_code(ctx, second)
    with ctx.db.read() as session:
        nonces = [row.nonce for row in session.query(MemberCodeUse)]
    assert len(nonces) == 1  # the first, long expired, was pruned
    # ... and the pruned code is still refused: as expired now.
    with pytest.raises(ExpiredCode):
        member_codes.find_by_dynamic_code(ctx, first)


def test_a_valid_code_of_an_unknown_member_is_refused(ctx: TillContext, signing_key: bytes) -> None:
    code = _mint(ctx, signing_key, 1_234_567)
    with pytest.raises(UnknownMember):
        member_codes.find_by_dynamic_code(ctx, code)


def test_the_till_database_holds_no_private_key_material(
    ctx: TillContext, member: members.MemberSummary, signing_key: bytes
) -> None:
    member_codes.find_by_dynamic_code(ctx, _mint(ctx, signing_key, member.member_no))
    key_file = member_codes.demo_key_path(ctx)
    assert key_file.parent == ctx.db.path.parent
    assert key_file.stat().st_mode & 0o077 == 0  # owner-only
    pem = key_file.read_bytes()
    ctx.db.close()  # checkpoints the WAL into the main file
    blobs = [p.read_bytes() for p in ctx.db.path.parent.glob(ctx.db.path.name + "*")]
    secrets = [
        signing_key,
        signing_key.hex().encode(),
        signing_key.hex().upper().encode(),
        base64.b64encode(signing_key),
        base64.b32encode(signing_key).rstrip(b"="),
        b"PRIVATE KEY",
        pem.splitlines()[1],
    ]
    for blob in blobs:
        for secret in secrets:
            assert secret not in blob
    conn = ctx.db.connect()
    try:
        rows = conn.execute("SELECT key, value FROM settings").fetchall()
    finally:
        conn.close()
    keys = {k: v for k, v in rows if k.startswith(member_codes.KEY_SETTING_PREFIX)}
    assert keys == {"member_code_key.1": public_key_of(signing_key).hex()}


def test_the_demo_key_survives_a_rebuilt_database(tmp_path: Path) -> None:
    ctx = open_till(tmp_path / "till.sqlite")
    path = member_codes.ensure_demo_signing_key(ctx)
    assert path is not None
    key = member_codes.read_private_key(path)
    assert member_codes.ensure_demo_signing_key(ctx) == path  # idempotent
    ctx.db.close()
    for leftover in tmp_path.glob("till.sqlite*"):
        leftover.unlink()
    again = open_till(tmp_path / "till.sqlite")
    try:
        member_codes.ensure_demo_signing_key(again)
        assert member_codes.key_id_for(again, key) == member_codes.DEMO_KEY_ID
    finally:
        again.db.close()


def test_the_cli_prints_a_code_the_till_accepts_once(
    tmp_path: Path, member: members.MemberSummary, ctx: TillContext, signing_key: bytes
) -> None:
    png = tmp_path / "code.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pos_app.cli.main",
            "--db",
            str(ctx.db.path),
            "member-code",
            "13812341234",
            "--png",
            str(png),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    code = done.stdout.splitlines()[0]
    assert code.startswith("MD")
    assert "█" in done.stdout  # the QR, in the terminal
    assert png.read_bytes().startswith(b"\x89PNG")
    # The CLI signs with the real clock; the till's test clock is fixed.
    real = open_till(ctx.db.path)
    try:
        assert member_codes.find_by_dynamic_code(real, code).id == member.id
        with pytest.raises(ReplayedCode):
            member_codes.find_by_dynamic_code(real, code)
    finally:
        real.db.close()


def test_the_cli_refuses_without_a_private_key(tmp_path: Path) -> None:
    ctx = open_till(tmp_path / "till.sqlite")
    ctx.db.close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pos_app.cli.main",
            "--db",
            str(tmp_path / "till.sqlite"),
            "member-code",
            "13812341234",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert "no private key" in done.stderr
