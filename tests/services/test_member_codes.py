"""Signed dynamic member codes at the till: HQ's keys only, checked offline, used once.

The till holds HQ's PUBLIC keys as a pull delivers them (``install_key``); these tests
sign codes with the matching private keys, as HQ does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from pos_app.core.errors import ExpiredCode, ForgedCode, InvalidCode, ReplayedCode
from pos_app.core.member_codes import (
    CLOCK_SKEW,
    DEMO_KEY_ID,
    DEMO_PRIVATE_KEY,
    public_key_of,
    sign_dynamic_code,
)
from pos_app.services import checkout, member_codes, members
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.sync import save_registration
from pos_app.store import repo
from pos_app.store.models import MemberCodeUse, OutboxEvent
from tests.services.conftest import Clock
from tests.services.support import item

REPO = Path(__file__).resolve().parents[2]
HQ_KEY = bytes(range(40, 72))  # HQ's private key in these tests (never on the till)
SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def hq_key_data(
    key_id: int = 1,
    private: bytes = HQ_KEY,
    *,
    not_before: dt.datetime = SINCE,
    not_after: dt.datetime | None = None,
    revoked_at: dt.datetime | None = None,
) -> dict[str, object]:
    """A ``member_code_key`` change as HQ's pull sends it."""
    return {
        "key_id": key_id,
        "public_key": public_key_of(private).hex(),
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat() if not_after else None,
        "revoked_at": revoked_at.isoformat() if revoked_at else None,
    }


def pull_key(ctx: TillContext, **kwargs: object) -> None:
    """What a pull of HQ's ``member_code_key`` topic does."""
    with ctx.db.write() as session:
        member_codes.install_key(session, hq_key_data(**kwargs))  # type: ignore[arg-type]


def mint(
    ctx: TillContext,
    member_no: int,
    *,
    key_id: int = 1,
    private: bytes = HQ_KEY,
    lifetime: dt.timedelta = dt.timedelta(seconds=120),
    at: dt.datetime | None = None,
) -> str:
    """A code as HQ signs it."""
    return sign_dynamic_code(
        private,
        key_id=key_id,
        member_no=member_no,
        issued_at=at or ctx.now(),
        nonce=secrets.token_bytes(8),
        lifetime=lifetime,
    )


@pytest.fixture
def hq_keys(ctx: TillContext) -> None:
    pull_key(ctx)


def test_a_valid_code_finds_the_member_once(
    ctx: TillContext, member: members.MemberSummary, hq_keys: None
) -> None:
    code = mint(ctx, member.member_no)
    hit = member_codes.find_by_dynamic_code(ctx, code)
    assert hit.id == member.id
    assert hit.masked_phone == "138****1234"
    with pytest.raises(ReplayedCode, match="already used"):
        member_codes.find_by_dynamic_code(ctx, code)


def test_a_till_without_hq_keys_refuses_codes_and_says_why(
    ctx: TillContext, member: members.MemberSummary
) -> None:
    with pytest.raises(InvalidCode, match="no member-code key from HQ yet"):
        member_codes.find_by_dynamic_code(ctx, mint(ctx, member.member_no))


def test_a_key_the_till_made_itself_is_not_trusted(
    ctx: TillContext, member: members.MemberSummary
) -> None:
    """Before HQ held the keys a till made its own pair and trusted it (a stolen till
    file then minted codes every till of that install accepted)."""
    own = bytes(range(100, 132))
    with ctx.db.write() as session:  # what the old till stored: the raw public key
        repo.put_setting(session, "member_code_key.1", public_key_of(own).hex())
    assert member_codes.public_keys(ctx) == {}
    with pytest.raises(InvalidCode, match="no member-code key from HQ yet"):
        member_codes.find_by_dynamic_code(ctx, mint(ctx, member.member_no, private=own))


def test_a_forged_code_is_refused_and_leaves_no_trace(
    ctx: TillContext, member: members.MemberSummary, hq_keys: None
) -> None:
    code = mint(ctx, member.member_no)
    raw = bytearray(base64.b32decode(code[2:] + "=" * (-len(code[2:]) % 8)))
    raw[40] ^= 0x10
    forged = "MD" + base64.b32encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(ForgedCode, match="forged"):
        member_codes.find_by_dynamic_code(ctx, forged)
    with ctx.db.read() as session:
        assert session.query(MemberCodeUse).count() == 0
    assert member_codes.find_by_dynamic_code(ctx, code).id == member.id


def test_another_spelling_of_a_valid_code_is_refused(
    ctx: TillContext, member: members.MemberSummary, hq_keys: None
) -> None:
    code = mint(ctx, member.member_no)
    while "S" not in code:
        code = mint(ctx, member.member_no)
    for variant in (code.lower(), code.replace("S", "\u017f", 1)):
        with pytest.raises(InvalidCode, match="damaged"):
            member_codes.find_by_dynamic_code(ctx, variant)
    assert member_codes.find_by_dynamic_code(ctx, code).id == member.id


def test_a_code_signed_by_a_key_hq_does_not_hold_is_refused(
    ctx: TillContext, member: members.MemberSummary, hq_keys: None
) -> None:
    stranger = bytes(range(7, 39))
    with pytest.raises(ForgedCode):
        member_codes.find_by_dynamic_code(ctx, mint(ctx, member.member_no, private=stranger))
    other_id = mint(ctx, member.member_no, key_id=2, private=stranger)
    with pytest.raises(InvalidCode, match="key 2"):
        member_codes.find_by_dynamic_code(ctx, other_id)


def test_an_expired_code_is_refused(
    ctx: TillContext, clock: Clock, member: members.MemberSummary, hq_keys: None
) -> None:
    code = mint(ctx, member.member_no, lifetime=dt.timedelta(seconds=60))
    clock.advance(seconds=60 + CLOCK_SKEW.total_seconds() + 1)
    with pytest.raises(ExpiredCode, match="expired"):
        member_codes.find_by_dynamic_code(ctx, code)


def test_a_rotation_keeps_codes_issued_before_it_and_refuses_later_ones(
    ctx: TillContext, clock: Clock, member: members.MemberSummary
) -> None:
    new = bytes(range(80, 112))
    rotated = ctx.now()
    pull_key(ctx, not_after=rotated)  # key 1 stops signing now
    pull_key(ctx, key_id=2, private=new, not_before=rotated)
    before = mint(ctx, member.member_no, at=rotated - dt.timedelta(seconds=40))
    assert member_codes.find_by_dynamic_code(ctx, before).id == member.id
    assert member_codes.find_by_dynamic_code(
        ctx, mint(ctx, member.member_no, key_id=2, private=new)
    )
    clock.advance(minutes=2)
    late = mint(ctx, member.member_no)  # key 1 after its window: a stolen old key
    with pytest.raises(InvalidCode, match="outside the validity"):
        member_codes.find_by_dynamic_code(ctx, late)


def test_a_key_hq_revoked_is_refused_after_the_pull(
    ctx: TillContext, member: members.MemberSummary, hq_keys: None
) -> None:
    code = mint(ctx, member.member_no)
    pull_key(ctx, revoked_at=ctx.now())
    with pytest.raises(InvalidCode, match="revoked"):
        member_codes.find_by_dynamic_code(ctx, code)


def test_a_pull_of_a_malformed_key_is_refused(ctx: TillContext) -> None:
    bad = hq_key_data() | {"public_key": "00" * 31}
    with pytest.raises(Exception, match="32-byte"), ctx.db.write() as session:
        member_codes.install_key(session, bad)
    assert member_codes.public_keys(ctx) == {}


def test_the_replay_cache_is_pruned_well_after_expiry(
    ctx: TillContext, clock: Clock, member: members.MemberSummary, hq_keys: None
) -> None:
    first = mint(ctx, member.member_no, lifetime=dt.timedelta(seconds=60))
    member_codes.find_by_dynamic_code(ctx, first)
    clock.advance(minutes=5)
    member_codes.find_by_dynamic_code(ctx, mint(ctx, member.member_no))
    with ctx.db.read() as session:
        assert session.query(MemberCodeUse).count() == 2  # kept: a sale may name it
    clock.advance(hours=2)
    member_codes.find_by_dynamic_code(ctx, mint(ctx, member.member_no))
    with ctx.db.read() as session:
        assert session.query(MemberCodeUse).count() == 1
    with pytest.raises(ExpiredCode):
        member_codes.find_by_dynamic_code(ctx, first)


def test_a_valid_code_of_an_unknown_member_is_refused(ctx: TillContext, hq_keys: None) -> None:
    with pytest.raises(UnknownMember):
        member_codes.find_by_dynamic_code(ctx, mint(ctx, 1_234_567))


def test_the_sale_names_the_code_that_identified_the_member(
    ctx: TillContext, member: members.MemberSummary, cashier: object, hq_keys: None
) -> None:
    code = mint(ctx, member.member_no)
    member_codes.find_by_dynamic_code(ctx, code)
    with ctx.db.read() as session:
        (use,) = session.query(MemberCodeUse).all()
        nonce, expires_at = use.nonce, use.expires_at
    checkout.complete_sale(
        ctx,
        sale_id="s" * 32,
        lines=[item(10000)],
        member_id=member.id,
        tenders=[checkout.TenderInput("cash", 10000)],
        cashier_id="cashier-1",
    )
    checkout.complete_sale(
        ctx,
        sale_id="t" * 32,
        lines=[item(10000)],
        member_id=None,
        tenders=[checkout.TenderInput("cash", 10000)],
        cashier_id="cashier-1",
    )
    with ctx.db.read() as session:
        payloads = {
            e.aggregate_id: json.loads(e.payload)["sale"]
            for e in session.query(OutboxEvent).filter(OutboxEvent.kind == "sale")
        }
    assert payloads["s" * 32]["member_code"] == {
        "key_id": 1,
        "nonce": nonce,
        "expires_at": expires_at.isoformat(),
    }
    assert "member_code" not in payloads["t" * 32]


def test_the_till_database_holds_no_private_key(
    ctx: TillContext, member: members.MemberSummary, hq_keys: None
) -> None:
    member_codes.find_by_dynamic_code(ctx, mint(ctx, member.member_no))
    ctx.db.close()  # checkpoints the WAL into the main file
    folder = ctx.db.path.parent
    assert not list(folder.glob("*.pem"))  # no key file beside it either
    blobs = [p.read_bytes() for p in folder.glob(ctx.db.path.name + "*")]
    for blob in blobs:
        for secret in (HQ_KEY, HQ_KEY.hex().encode(), base64.b64encode(HQ_KEY), b"PRIVATE KEY"):
            assert secret not in blob
    conn = ctx.db.connect()
    try:
        rows = conn.execute("SELECT key, value FROM settings").fetchall()
    finally:
        conn.close()
    keys = {k: json.loads(v) for k, v in rows if k.startswith(member_codes.KEY_SETTING_PREFIX)}
    assert keys == {"member_code_key.1": hq_key_data()}


def test_a_demo_till_trusts_the_embedded_demo_key_until_it_has_hq(
    ctx: TillContext, member: members.MemberSummary
) -> None:
    demo = mint(ctx, member.member_no, key_id=DEMO_KEY_ID, private=DEMO_PRIVATE_KEY)
    with pytest.raises(InvalidCode, match="no member-code key"):  # not a demo till
        member_codes.find_by_dynamic_code(ctx, demo)
    with ctx.db.write() as session:
        repo.put_setting(session, "demo", "1")  # what pos-app demo-data marks
    assert member_codes.find_by_dynamic_code(ctx, demo).id == member.id
    save_registration(
        ctx,
        "http://127.0.0.1:9",
        {
            "kind": "till",
            "token": "ptt_x",
            "store_code": ctx.store_id,
            "till_code": ctx.till_id,
            "phone_key": ctx.phone_key.hex(),
        },
    )
    assert DEMO_KEY_ID not in member_codes.public_keys(ctx)  # HQ's keys only from now on


def test_pos_app_no_longer_mints_codes(tmp_path: Path) -> None:
    assert not hasattr(member_codes, "mint")
    assert not hasattr(member_codes, "ensure_demo_signing_key")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pos_app.cli.main",
            "--db",
            str(tmp_path / "t.sqlite"),
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
    assert "invalid choice" in done.stderr
