"""Member codes between real tills and HQ: the tills pull HQ's keys, an online till
records each code's use at HQ (a second use at another till is refused), an offline
till goes on alone within a short timeout, and a replay across offline tills is
flagged at HQ when their sales are pushed."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos_app.core.errors import ReplayedCode
from pos_app.core.quote import BasketLine
from pos_app.hq import keys
from pos_app.services import auth, checkout, member_codes, members, sync
from pos_app.services.context import TillContext, open_till
from pos_app.services.sync import HQClient, SyncClient, save_registration
from tests.sync.harness import HQServer

PHONE = "13900000077"


@pytest.fixture
def master(tmp_path: Path, hq: HQServer) -> keys.MasterKey:
    key = keys.MasterKey.load_or_create(tmp_path / "hq-master.key")
    assert hq.db is not None
    keys.create_key(hq.db, key, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    return key


def _till(hq: HQServer, template: Path, folder: Path, code: str) -> TillContext:
    path = folder / f"till-{code}.sqlite"
    shutil.copyfile(template, path)
    ctx = open_till(path)
    save_registration(ctx, hq.base_url, hq.register_till("001", code))
    ctx.db.close()
    return open_till(path)


def _sync(ctx: TillContext) -> None:
    config = sync.load_sync_config(ctx, env={})
    assert config is not None
    with HQClient.from_config(config) as client:
        SyncClient(ctx, client).sync_once()


@pytest.fixture
def tills(
    hq: HQServer, master: keys.MasterKey, sync_till_template: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TillContext, TillContext]]:  # fmt: skip
    monkeypatch.delenv("POS_HQ_URL", raising=False)
    monkeypatch.delenv("POS_HQ_TOKEN", raising=False)
    a = _till(hq, sync_till_template, tmp_path, "01")
    b = _till(hq, sync_till_template, tmp_path, "02")
    try:
        members.register(a, phone=PHONE, name="会员")
        _sync(a)
        _sync(b)
        yield a, b
    finally:
        a.db.close()
        b.db.close()


def _code(hq: HQServer, master: keys.MasterKey, ctx: TillContext) -> str:
    member_no = members.find_by_phone(ctx, PHONE).member_no
    assert hq.db is not None
    with hq.db.read() as s:
        return keys.sign_member_code(s, master, member_no, dt.datetime.now(dt.UTC)).code


def test_tills_pull_hq_s_keys_and_a_code_is_used_once_anywhere(
    hq: HQServer, master: keys.MasterKey, tills: tuple[TillContext, TillContext]
) -> None:
    a, b = tills
    assert set(member_codes.public_keys(a)) == set(member_codes.public_keys(b)) == {1}
    code = _code(hq, master, a)
    assert member_codes.find_by_dynamic_code(a, code).member_no > 0
    with pytest.raises(ReplayedCode, match="another till"):
        member_codes.find_by_dynamic_code(b, code)
    keys.revoke_key(hq.db, 1, "drill", dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    fresh = _code_or_none(hq, master, a)
    assert fresh is None  # HQ signs nothing with a revoked key


def _code_or_none(hq: HQServer, master: keys.MasterKey, ctx: TillContext) -> str | None:
    try:
        return _code(hq, master, ctx)
    except keys.NoSigningKey:
        return None


OFFLINE = "http://127.0.0.1:9"  # nothing listens there: the till's network is down


def test_an_offline_till_accepts_a_code_within_a_short_timeout(
    hq: HQServer,
    master: keys.MasterKey,
    tills: tuple[TillContext, TillContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, _b = tills
    code = _code(hq, master, a)
    monkeypatch.setenv("POS_HQ_URL", OFFLINE)
    started = time.monotonic()
    assert member_codes.find_by_dynamic_code(a, code).member_no > 0
    assert time.monotonic() - started < member_codes.ONLINE_CHECK_SECONDS + 1
    with pytest.raises(ReplayedCode):  # its own replay cache still holds
        member_codes.find_by_dynamic_code(a, code)


def _sell(ctx: TillContext, sale_id: str) -> None:
    cashier = next(u for u in auth.list_users(ctx) if u.role == "cashier")
    checkout.complete_sale(
        ctx,
        sale_id=sale_id,
        lines=[BasketLine("TEA", "茶", "food", 1, 5_000)],
        member_id=members.find_by_phone(ctx, PHONE).id,
        tenders=[checkout.TenderInput("cash", 5_000)],
        cashier_id=cashier.id,
    )


def test_a_replay_across_offline_tills_is_flagged_when_the_sales_arrive(
    hq: HQServer,
    master: keys.MasterKey,
    tills: tuple[TillContext, TillContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = tills
    code = _code(hq, master, a)
    monkeypatch.setenv("POS_HQ_URL", OFFLINE)  # both tills offline: each accepts it once
    member_codes.find_by_dynamic_code(a, code)
    member_codes.find_by_dynamic_code(b, code)
    _sell(a, "a" * 32)
    _sell(b, "b" * 32)
    monkeypatch.delenv("POS_HQ_URL")
    _sync(a)
    _sync(b)
    with hq.admin_client() as client:
        flags = client.request("GET", "/v1/admin/flags", params={"kind": "member_code_replayed"})
    assert [(f["principal"], f["subject_id"]) for f in flags] == [("till:001-02", "b" * 32)]
    assert flags[0]["detail"]["first_used_by"] == "till:001-01"
