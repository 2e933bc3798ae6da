"""Tills of different regions: members fetched at the counter, member codes scanned while
HQ is away, and the first sync of a till in a busy region, against a real HQ."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from pos_app.core.codes import member_code
from pos_app.core.quote import BasketLine
from pos_app.hq import keys
from pos_app.services import checkout, member_codes, members, receipts
from pos_app.services.errors import UnknownMember
from pos_app.store.database import PAGE_CACHE_KIB
from pos_app.store.models import LedgerEntry, Member
from tests.sync.harness import HQServer, SimTill, check_invariants, sync_until_quiet

BASKET = [BasketLine("TEA", "茶", "food", 1, 20_000)]  # 200 points, no first-purchase x5


@pytest.fixture
def regions(hq: HQServer, sync_till_template: Path, tmp_path: Path) -> Iterator[list[SimTill]]:
    """Till 01 of store 001 (region 001) and till 01 of store 002 (region 002)."""
    hq.create_store("002")
    tills = [
        SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(1)),
        SimTill(hq, sync_till_template, tmp_path, "002", "01", random.Random(2)),
    ]
    yield tills
    for till in tills:
        till.close()


def _member_with_points(a: SimTill) -> members.MemberSummary:
    member_id = a.register("13900000071")
    assert member_id is not None
    assert a.sell(member_id, spend="none") is not None
    assert a.sync()
    return members.summary(a.ctx, member_id)


def _number(till: SimTill, member_id: str) -> int:
    with till.ctx.db.read() as s:
        return int(s.scalars(select(Member.member_no).where(Member.id == member_id)).one())


def test_a_member_code_of_another_region_is_fetched_and_kept(regions: list[SimTill]) -> None:
    a, b = regions
    member = _member_with_points(a)
    assert b.sync()
    assert b.known_members() == []
    hit = members.find_by_code(b.ctx, member_code(_number(a, member.id)))
    assert (hit.id, hit.balance) == (member.id, member.balance)
    assert b.known_members() == [member.id]
    with pytest.raises(UnknownMember):  # a well-formed code of nobody: HQ says so
        members.find_by_code(b.ctx, member_code(1234567))
    with b.ctx.db.read() as s:  # nothing was made up for it
        assert s.scalar(select(func.count()).select_from(Member)) == 1
    assert b.sell(member.id, spend="max") is not None
    sync_until_quiet(regions)
    check_invariants(b.hq.url, regions)


def test_a_member_code_scanned_while_hq_is_away_still_earns(
    hq: HQServer, regions: list[SimTill]
) -> None:
    a, b = regions
    member = _member_with_points(a)
    number = _number(a, member.id)
    assert b.sync()
    b.transport.offline = True
    hit = members.find_by_code(b.ctx, member_code(number))
    assert hit.id == f"no-{number}"  # provisional: HQ could not be asked
    summary = members.summary(b.ctx, hit.id)
    assert summary.provisional
    quote = checkout.quote(b.ctx, BASKET, member_id=hit.id)
    assert quote.max_usable_points == 0  # spends nothing: its balance is unknown here
    assert quote.points_earned == 200  # earns as a regular member (no first purchase)
    sale = checkout.complete_sale(
        b.ctx,
        sale_id="p" * 32,
        lines=BASKET,
        member_id=hit.id,
        tenders=[checkout.TenderInput("cash", 20_000)],
        cashier_id=b.cashier.id,
    )
    block = receipts.build_receipt(b.ctx, sale.receipt_no).member
    assert block is not None
    assert block.balance_after is None  # the receipt does not make a balance up
    assert "HQ" in block.tier_progress or "总部" in block.tier_progress
    # the same code again, still offline: the same provisional member
    assert members.find_by_code(b.ctx, member_code(number)).id == hit.id
    b.transport.offline = False
    sync_until_quiet(regions)
    state = check_invariants(hq.url, regions)
    # HQ credited the member with the sale's points; b holds the member now, whole
    assert state.balances[member.id] == member.balance + 200
    assert state.balances[hit.id] == 0
    assert members.summary(b.ctx, member.id).balance == member.balance + 200
    assert members.find_by_code(b.ctx, member_code(number)).id == member.id
    assert a.sync()
    assert members.summary(a.ctx, member.id).balance == member.balance + 200


def test_a_signed_member_code_of_another_region_is_fetched(
    hq: HQServer, regions: list[SimTill], tmp_path: Path
) -> None:
    a, b = regions
    master = keys.MasterKey.load_or_create(tmp_path / "hq-master.key")
    assert hq.db is not None
    keys.create_key(hq.db, master, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    member = _member_with_points(a)
    assert b.sync()  # b has HQ's public key now, not the member
    with hq.db.read() as s:
        code = keys.sign_member_code(s, master, _number(a, member.id), dt.datetime.now(dt.UTC))
    hit = member_codes.find_by_dynamic_code(b.ctx, code.code)
    assert (hit.id, hit.balance) == (member.id, member.balance)


def test_a_new_till_of_a_busy_region_starts_from_its_snapshot(
    hq: HQServer, regions: list[SimTill], sync_till_template: Path, tmp_path: Path
) -> None:
    a, b = regions
    phones = [f"1390000{n:04d}" for n in range(100, 140)]
    for i, phone in enumerate(phones):
        member_id = a.register(phone, referrer=a.known_members()[0] if i else None)
        assert a.sell(member_id, spend="some") is not None
    assert a.sync()
    for phone in phones[:10]:  # some of them shop at store 002 too: fetched there
        member_id = b.register(phone)
        assert member_id == members.find_by_phone(a.ctx, phone).id
        assert b.sell(member_id, spend="some") is not None
    assert a.refund_something()
    sync_until_quiet(regions)
    c = SimTill(hq, sync_till_template, tmp_path, "001", "02", random.Random(3))
    try:
        assert c.sync()
        assert c.last_pull is not None
        assert c.last_pull.snapshot_members == 40
        with c.ctx.db.read() as s:  # one opening entry per member with points, no more
            kinds = dict(
                s.execute(select(LedgerEntry.kind, func.count()).group_by(LedgerEntry.kind)).all()
            )
        assert kinds == {"opening": 40}
        with c.ctx.db.write() as s:  # the load's page cache was given back
            assert s.execute(text("PRAGMA cache_size")).scalar() == -PAGE_CACHE_KIB
        # then everything moves on, at every till, and nothing is counted twice
        for member_id in c.known_members()[:5]:
            assert c.sell(member_id, spend="some") is not None
        assert b.sell(a.known_members()[0], spend="none") is not None
        sync_until_quiet([a, b, c])
        check_invariants(hq.url, [a, b, c])
    finally:
        c.close()
