"""Member lookup and registration against a real till database file."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from pos_app.core.codes import member_code
from pos_app.core.errors import InvalidCode, InvalidInput
from pos_app.services import members, refunds
from pos_app.services.errors import ConflictError, UnknownMember
from pos_app.store.types import new_id
from tests.services.support import (
    BASKET,
    assert_ledger_consistent,
    balance,
    item,
    ledger,
    lots,
    nothing_written,
    rows,
    scalar,
    scan_file_for,
    sell,
)

PHONE = "13812341234"
E164 = "+8613812341234"


# -- lookup ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "13812341234",
        "138 1234 1234",
        "+86 138-1234-1234",
        " 138-1234-1234 ",
        "+8613812341234",
        "008613812341234",
    ],
)
def test_find_by_full_phone_in_any_format(ctx, member, typed):
    hit = members.find_by_phone(ctx, typed)
    assert hit.id == member.id
    assert hit.masked_phone == "138****1234"
    assert hit.balance == 100
    assert hit.tier == "regular"
    assert hit.tier_name == "普通会员"


def test_find_by_phone_of_nobody(ctx, member):
    with nothing_written(ctx), pytest.raises(UnknownMember, match="No member has this phone"):
        members.find_by_phone(ctx, "13912349999")


@pytest.mark.parametrize("typed", ["", "12345", "1381234123", "138123412345", "abc", "+1 555"])
def test_find_by_malformed_phone(ctx, member, typed):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="valid mobile phone"):
        members.find_by_phone(ctx, typed)


def test_find_by_last4_top20_most_recently_seen_first(ctx, clock):
    registered = []
    for i in range(25):
        # 139 0000 1234, 139 0001 1234, ...: all end in 1234, each seen a minute later.
        registered.append(members.register(ctx, phone=f"139{i:04d}1234", name=f"会员{i}"))
        clock.advance(minutes=1)
    members.register(ctx, phone="13900005678")  # another suffix: never listed

    hits = members.find_by_last4(ctx, "1234")

    assert len(hits) == 20
    # Newest first: members 24, 23, ..., 5.
    assert [h.id for h in hits] == [m.id for m in reversed(registered)][:20]
    assert all(h.masked_phone.endswith("1234") and "****" in h.masked_phone for h in hits)
    assert hits[0].masked_phone == "139****1234"
    # A hit carries nothing but the masked phone: no field holds the full number.
    for h in hits:
        assert not any("13900" in str(v) for v in vars(h).values())
    assert members.find_by_last4(ctx, "1234", limit=3) == hits[:3]
    assert members.find_by_last4(ctx, "0000") == []


def test_find_by_last4_follows_last_seen(ctx, clock, cashier):
    first = members.register(ctx, phone="13900011234")
    clock.advance(minutes=1)
    second = members.register(ctx, phone="13900021234")
    assert [h.id for h in members.find_by_last4(ctx, "1234")] == [second.id, first.id]
    clock.advance(minutes=1)
    sell(ctx, cashier.id, first.id, BASKET)  # a sale marks the member as seen now
    assert [h.id for h in members.find_by_last4(ctx, "1234")] == [first.id, second.id]


def test_find_by_first3_and_last4(ctx, clock):
    # 12 members end in 1234 under three prefixes; the first 3 digits narrow the list.
    by_prefix: dict[str, list[str]] = {"138": [], "139": [], "186": []}
    for i in range(12):
        prefix = ("138", "139", "186")[i % 3]
        by_prefix[prefix].append(members.register(ctx, phone=f"{prefix}{i:04d}1234").id)
        clock.advance(minutes=1)
    assert len(members.find_by_last4(ctx, "1234")) == 12
    for prefix, ids in by_prefix.items():
        hits = members.find_by_last4(ctx, "1234", prefix=prefix)
        assert [h.id for h in hits] == list(reversed(ids))  # newest first
        assert all(h.masked_phone == f"{prefix}****1234" for h in hits)
    assert members.find_by_last4(ctx, "1234", prefix="150") == []
    assert members.find_by_last4(ctx, "5678", prefix="138") == []


@pytest.mark.parametrize("prefix", ["38", "1388", "238", "1a8"])
def test_find_by_last4_refuses_a_bad_prefix(ctx, member, prefix):
    with pytest.raises(InvalidInput, match="starts with 1"):
        members.find_by_last4(ctx, "1234", prefix=prefix)


@pytest.mark.parametrize("typed", ["123", "12345", "12a4", ""])
def test_find_by_last4_needs_four_digits(ctx, member, typed):
    with pytest.raises(InvalidInput, match="last 4 digits"):
        members.find_by_last4(ctx, typed)


def test_find_by_member_code(ctx, member):
    code = member_code(member.member_no)
    assert member.code == code
    assert members.find_by_code(ctx, code).id == member.id
    assert members.find_by_code(ctx, code.lower()).id == member.id
    # This till's block of member numbers: 9 000 000 000 + (store 1 * 10 + till 1) * 100 000.
    assert member.member_no == 9_001_100_001


def test_find_by_member_code_forged_or_unknown(ctx, member):
    code = member_code(member.member_no)
    forged = code[:-1] + str((int(code[-1]) + 1) % 10)
    with pytest.raises(InvalidCode):
        members.find_by_code(ctx, forged)
    with pytest.raises(UnknownMember, match="member code"):
        members.find_by_code(ctx, member_code(member.member_no + 1))


def test_summary_of_unknown_member(ctx):
    with nothing_written(ctx), pytest.raises(UnknownMember):
        members.summary(ctx, "0" * 32)


# -- registration --------------------------------------------------------------------


def test_registration_bonus_is_a_ledger_entry_with_a_lot(ctx, member, clock):
    assert member.balance == 100
    assert member.tier == "regular"
    assert member.masked_phone == "138****1234"
    assert ledger(ctx, member.id) == [("bonus", 100)]
    assert scalar(ctx, "SELECT reason FROM ledger_entries WHERE member_id = :m", m=member.id) == (
        "registration"
    )
    # Rolling 24 months from 2026-11-17: last valid day 2028-11-17.
    assert lots(ctx, member.id) == [(100, 100, dt.date(2028, 11, 17))]
    (audit_id,) = rows(ctx, "SELECT id FROM audit_log")[0]
    assert rows(ctx, "SELECT kind, aggregate_id FROM outbox ORDER BY seq") == [
        ("audit", audit_id),
        ("member_registered", member.id),
    ]
    assert rows(ctx, "SELECT action, subject FROM audit_log") == [("register", member.id)]
    # The outbox keeps no personal field: push adds them from the member row.
    (payload,) = rows(ctx, "SELECT payload FROM outbox WHERE kind = 'member_registered'")[0]
    assert not {"name", "birthday", "phone_masked", "phone_last4"} & set(
        json.loads(payload)["member"]
    )
    assert_ledger_consistent(ctx)


def test_duplicate_phone_refused_in_any_format(ctx, member):
    with nothing_written(ctx), pytest.raises(ConflictError, match="already registered"):
        members.register(ctx, phone="+86 138-1234-1234", name="冒名")


def test_a_registration_retried_with_its_member_id_is_answered_like_the_first(ctx):
    """The till died between the commit and the answer: the retry is not "already
    registered" but the same member, and nothing is written twice."""
    member_id = new_id()
    first = members.register(ctx, phone=PHONE, name="张三", member_id=member_id)
    with nothing_written(ctx):
        again = members.register(ctx, phone=E164, name="张三", member_id=member_id)
    assert again == first
    assert scalar(ctx, "SELECT COUNT(*) FROM members") == 1
    assert scalar(ctx, "SELECT COUNT(*) FROM outbox WHERE kind = 'member_registered'") == 1
    assert_ledger_consistent(ctx)


def test_a_member_id_used_for_another_registration_is_refused(ctx):
    member_id = new_id()
    members.register(ctx, phone=PHONE, name="张三", member_id=member_id)
    with nothing_written(ctx), pytest.raises(ConflictError, match="another member"):
        members.register(ctx, phone="13912345678", name="张三", member_id=member_id)
    with nothing_written(ctx), pytest.raises(ConflictError, match="another member"):
        members.register(ctx, phone=PHONE, name="李四", member_id=member_id)
    with nothing_written(ctx), pytest.raises(ConflictError, match="already registered"):
        members.register(ctx, phone=PHONE, name="张三", member_id=new_id())


def test_member_numbers_follow_each_other(ctx, member, friend):
    assert friend.member_no == member.member_no + 1


@pytest.mark.parametrize("phone", ["", "1234", "23812341234", "1381234123x", "+44 20 7946 0958"])
def test_malformed_phone_refused(ctx, member, phone):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="valid mobile phone"):
        members.register(ctx, phone=phone)


def test_unknown_referral_code_refused(ctx, member):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="Unknown referral code NOPE2345"):
        members.register(ctx, phone="13912345678", referral_code="nope2345")


def test_future_birthday_refused(ctx, member):
    with (
        nothing_written(ctx),
        pytest.raises(InvalidInput, match="birthday cannot be in the future"),
    ):
        members.register(ctx, phone="13912345678", birthday=dt.date(2026, 11, 18))
    # Today is fine (a baby registered by a parent on the day it was born).
    members.register(ctx, phone="13912345678", birthday=dt.date(2026, 11, 17))


def test_name_too_long_refused(ctx, member):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="too long"):
        members.register(ctx, phone="13912345678", name="名" * 33)


def test_referral_bonus_on_first_purchase_only(ctx, cashier, member, clock):
    friend = members.register(
        ctx, phone="13912345678", name="李四", referral_code=member.referral_code.lower()
    )
    assert scalar(ctx, "SELECT referred_by FROM members WHERE id = :m", m=friend.id) == member.id
    # Registering with a referral code grants nothing yet beyond the registration bonus.
    assert balance(ctx, member.id) == 100
    assert balance(ctx, friend.id) == 100

    # The friend's first purchase: 1 x 20.00 cash -> 20 points x5 (first purchase) = 100,
    # plus the referral bonus of 100 for each side.
    clock.advance(hours=1)
    first = sell(ctx, cashier.id, friend.id, [item(2000)])
    assert first.points_earned == 100
    assert first.bonus_points == 100
    assert first.balance_after == 100 + 100 + 100
    assert balance(ctx, member.id) == 100 + 100
    assert ledger(ctx, member.id) == [("bonus", 100), ("bonus", 100)]
    assert rows(
        ctx,
        "SELECT reason, sale_id FROM ledger_entries WHERE member_id = :m ORDER BY rowid",
        m=member.id,
    ) == [("registration", None), ("referral_referrer", first.sale_id)]
    assert ledger(ctx, friend.id) == [("bonus", 100), ("earn", 100), ("bonus", 100)]

    # The second purchase: no bonus for anybody, no first-purchase multiplier.
    second = sell(ctx, cashier.id, friend.id, [item(2000)])
    assert second.points_earned == 20
    assert second.bonus_points == 0
    assert balance(ctx, member.id) == 200
    assert balance(ctx, friend.id) == 320
    assert_ledger_consistent(ctx)


def test_referrer_own_purchase_grants_no_referral_bonus(ctx, cashier, member, friend):
    sell(ctx, cashier.id, member.id, [item(2000)])
    assert balance(ctx, friend.id) == 100
    assert ledger(ctx, member.id) == [("bonus", 100), ("earn", 100)]


def test_no_plaintext_phone_anywhere(ctx, cashier, manager, member, clock, caplog):
    caplog.set_level(logging.DEBUG)
    friend = members.register(
        ctx, phone="+86 139-1234-5678", name="李四", referral_code=member.referral_code
    )
    members.find_by_phone(ctx, "138 1234 1234")
    members.find_by_last4(ctx, "1234")
    sale = sell(ctx, cashier.id, member.id, BASKET, points=100)
    sell(ctx, cashier.id, friend.id, BASKET)
    view = refunds.find_sale(ctx, sale.receipt_no)
    refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=sale.receipt_no,
        request={view.lines[0].id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin="9999",
        reason="测试退货",
    )
    needles = [PHONE, E164, "13912345678", "+8613912345678"]
    path = ctx.db.path
    assert scan_file_for(ctx, needles) == []
    # Nor in the raw bytes of the file and its write-ahead log (free pages included).
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            data = file.read_bytes()
            assert not any(n.encode() in data for n in needles)
    assert not any(n in r.getMessage() for r in caplog.records for n in needles)
    # What the till does keep: the keyed hash, the last 4 digits, the keyed hint and the
    # mask sealed (no plaintext first digits: "138" and "139" appear nowhere).
    assert rows(
        ctx, "SELECT phone_last4, phone_mask(phone_mask_sealed) FROM members ORDER BY member_no"
    ) == [("1234", "138****1234"), ("5678", "139****5678")]
    assert scan_file_for(ctx, ["138*", "139*", "138****1234"]) == []
    assert rows(ctx, "SELECT length(phone_hint) FROM members") == [(16,), (16,)]
    assert scalar(ctx, "SELECT length(phone_hash) FROM members LIMIT 1") == 32
