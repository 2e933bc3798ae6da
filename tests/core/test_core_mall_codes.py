"""Points-mall suggestions, member codes and scan classification, phone privacy."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging

import pytest

from pos_app.core.codes import (
    Scan,
    ScanKind,
    classify_scan,
    ean_valid,
    luhn_digit,
    member_code,
    parse_member_code,
)
from pos_app.core.errors import InvalidCode, InvalidInput
from pos_app.core.mall import MallItem, eligible, price_at, suggest
from pos_app.core.privacy import last4, mask_phone, normalize_phone, phone_hash
from pos_app.core.rules import RuleSet
from tests.core.core_support import at

NOW = at(2026, 11, 18)

# A silver member with 1000 points.
ITEMS = [
    MallItem("cup", "保温杯", 300, level="low"),  # redeemable (300 <= 1000)
    MallItem("bag", "帆布袋", 800),  # redeemable, the most valuable
    MallItem("phones", "耳机", 1500),  # 500 short: within reach (exactly 500)
    MallItem("lamp", "台灯", 1200),  # 200 short: within reach, the nearest
    MallItem("tv", "电视", 20000, level="top"),  # 19000 short: out of reach
    MallItem("pen", "钢笔", 100, stock=0),  # out of stock: never
    MallItem("watch", "手表", 500, min_tier="gold"),  # above the member's tier: never
    MallItem("old", "旧款", 100, available_to=at(2026, 11, 1)),  # window over: never
    MallItem("new", "新款", 100, available_from=at(2026, 12, 1)),  # not yet: never
    MallItem(
        "speaker",
        "音箱",
        2400,
        discount_percent=50,
        discount_from=at(2026, 11, 11, 0, 0),
        discount_to=at(2026, 11, 19, 0, 0),
    ),  # 50% off this week: 1200 points, 200 short
]


def test_time_limited_discount_price() -> None:
    speaker = ITEMS[-1]
    # 2400 x 50% = 1200 inside [from, to); full price outside.
    assert price_at(speaker, NOW) == 1200
    assert price_at(speaker, at(2026, 11, 19, 0, 0)) == 2400  # the end is exclusive
    assert price_at(speaker, at(2026, 11, 11, 0, 0)) == 1200  # the start is inclusive
    odd = dataclasses.replace(speaker, points_price=999, discount_percent=30)
    assert price_at(odd, NOW) == 699  # 999 x 70% = 699.3 -> 699 (rounded down)


def test_eligibility(rules: RuleSet) -> None:
    by_id = {i.item_id: i for i in ITEMS}
    assert eligible(rules, by_id["cup"], "silver", NOW)
    assert not eligible(rules, by_id["pen"], "silver", NOW)
    assert not eligible(rules, by_id["watch"], "silver", NOW)
    assert eligible(rules, by_id["watch"], "gold", NOW)
    assert not eligible(rules, by_id["old"], "silver", NOW)
    assert not eligible(rules, by_id["new"], "silver", NOW)
    bad_tier = dataclasses.replace(by_id["watch"], min_tier="diamond")
    assert not eligible(rules, bad_tier, "gold", NOW)


def test_suggestions_now_and_within_reach(rules: RuleSet) -> None:
    # Everything eligible and within 500 points:
    #   now:   bag 800, cup 300 (most valuable first)
    #   reach: lamp 200 short, speaker 1200 - 1000 = 200 short, phones 500 short
    # Three slots, one kept for "within reach": bag, cup, lamp (ties broken by id).
    got = suggest(rules, balance=1000, tier="silver", items=ITEMS, at=NOW)
    assert [(s.item.item_id, s.points_price, s.points_short) for s in got] == [
        ("bag", 800, 0),
        ("cup", 300, 0),
        ("lamp", 1200, 200),
    ]
    assert got[0].redeemable
    assert not got[2].redeemable
    assert got[0].note.text() == "Your points can redeem 帆布袋"
    assert got[2].note.text() == "Save 200 more points to redeem 台灯"
    everything = suggest(rules, balance=1000, tier="silver", items=ITEMS, at=NOW, limit=10)
    ids = [s.item.item_id for s in everything]
    assert ids == ["bag", "cup", "lamp", "speaker", "phones"]
    for never in ("tv", "pen", "watch", "old", "new"):
        assert never not in ids


def test_save_500_more_for_headphones(rules: RuleSet) -> None:
    # "再攒 500 积分即可兑换耳机": balance 1000, phones at 1500 -> 500 short, the reach limit.
    got = suggest(rules, balance=1000, tier="silver", items=[ITEMS[2]], at=NOW)
    assert [(s.item.name, s.points_short) for s in got] == [("耳机", 500)]
    assert got[0].note.text() == "Save 500 more points to redeem 耳机"
    # 501 short is out of reach.
    assert suggest(rules, balance=999, tier="silver", items=[ITEMS[2]], at=NOW) == []


def test_suggestions_preferred_categories_and_limits(rules: RuleSet) -> None:
    items = [
        MallItem("a", "A", 900, category="kitchen"),
        MallItem("b", "B", 100, category="beauty"),
    ]
    got = suggest(
        rules,
        balance=1000,
        tier="regular",
        items=items,
        at=NOW,
        preferred_categories=["beauty"],
        limit=1,
    )
    assert [s.item.item_id for s in got] == ["b"]
    assert suggest(rules, balance=1000, tier="regular", items=items, at=NOW, limit=0) == []
    # A negative balance redeems nothing now.
    got = suggest(rules, balance=-50, tier="regular", items=items, at=NOW)
    assert [(s.item.item_id, s.points_short) for s in got] == [("b", 100)]


# --- member codes and scans --------------------------------------------------------------


def test_luhn_member_code() -> None:
    # Body 1234567890, from the right doubling every other digit starting with the last:
    # 0->0, 9, 8->16->7, 7, 6->12->3, 5, 4->8, 3, 2->4, 1: sum 47 -> check (10-7)%10 = 3.
    assert luhn_digit("1234567890") == 3
    assert member_code(1234567890) == "M12345678903"
    assert member_code(42) == "M0000000042" + str(luhn_digit("0000000042"))
    assert parse_member_code("M12345678903") == 1234567890
    assert parse_member_code(" m12345678903 ") == 1234567890  # scanners and lower case


@pytest.mark.parametrize(
    "forged",
    [
        "M12345678904",  # wrong check digit
        "M12345678930",  # two digits swapped
        "M00000000000",  # member 0 does not exist
        "M1234567890",  # too short
        "X12345678903",  # wrong prefix
        "",
    ],
)
def test_forged_member_code_refused(forged: str) -> None:
    with pytest.raises(InvalidCode, match="not a valid member code"):
        parse_member_code(forged)


def test_member_code_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        member_code(0)
    with pytest.raises(ValueError, match="out of range"):
        member_code(10**10)


def test_ean13() -> None:
    # 4006381333931: body 400638133393, weights 3,1,3,... from the right:
    # 3*3+9+3*3+3+3*3+1+3*8+3+3*6+0+3*0+4 = 9+9+9+3+9+1+24+3+18+0+0+4 = 89 -> (10-9)%10 = 1.
    assert ean_valid("4006381333931")
    assert not ean_valid("4006381333932")
    assert not ean_valid("400638133393")  # 12 digits: a UPC-A with a wrong check digit
    assert ean_valid("96385074")  # EAN-8


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("13812341234", ScanKind.PHONE, "13812341234"),
        ("138 1234 1234", ScanKind.PHONE, "13812341234"),
        ("+86 138-1234-1234", ScanKind.PHONE, "+8613812341234"),
        ("1234", ScanKind.PHONE_SUFFIX, "1234"),
        ("4006381333931", ScanKind.BARCODE, "4006381333931"),
        ("R20261118000123", ScanKind.RECEIPT, "R20261118000123"),
        ("r20261118000123", ScanKind.RECEIPT, "R20261118000123"),
        ("M12345678903", ScanKind.MEMBER_CODE, "M12345678903"),
        ("m12345678903\n", ScanKind.MEMBER_CODE, "M12345678903"),
        ("MD.eyJtIjoxfQ.sig", ScanKind.DYNAMIC_MEMBER_CODE, "MD.eyJtIjoxfQ.sig"),
        ("4006381333932", ScanKind.SKU, "4006381333932"),  # bad check digit: not a barcode
        ("SKU-001", ScanKind.SKU, "SKU-001"),
    ],
)
def test_classify_scan(text: str, kind: ScanKind, value: str) -> None:
    assert classify_scan(text) == Scan(kind, value)


@pytest.mark.parametrize("text", ["138*1234", "138****1234", " 138 **** 1234 ", "138-*-1234"])
def test_first_3_and_last_4_digits(text: str) -> None:
    # Typed as the masked phone reads on a receipt: narrows a last-4 lookup.
    assert classify_scan(text) == Scan(ScanKind.PHONE_SUFFIX, "1234", prefix="138")


@pytest.mark.parametrize("text", ["238*1234", "138*123", "138*****1234", "13*1234", "138*12345"])
def test_not_a_masked_phone(text: str) -> None:
    assert classify_scan(text).kind is ScanKind.SKU


def test_forged_member_code_is_classified_then_refused() -> None:
    scan = classify_scan("M12345678904")
    assert scan.kind is ScanKind.MEMBER_CODE
    with pytest.raises(InvalidCode):
        parse_member_code(scan.value)


# --- phone privacy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["13812341234", " 138 1234 1234 ", "138-1234-1234", "+86 13812341234", "+8613812341234"]
)
def test_normalize_phone(raw: str) -> None:
    assert normalize_phone(raw) == "+8613812341234"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "1381234123",  # 10 digits
        "138123412345",  # 12 digits
        "12345678901",  # no such mobile prefix
        "01012345678",  # Beijing landline: not a mobile
        "1" * 40,  # absurdly long
    ],
)
def test_malformed_phone_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="valid mobile phone number"):
        normalize_phone(raw)


def test_mask_last4_and_hash() -> None:
    e164 = normalize_phone("13812341234")
    assert mask_phone(e164) == "138****1234"
    assert last4(e164) == "1234"
    key = b"k" * 32
    digest = phone_hash(e164, key)
    assert digest == hmac.new(key, b"+8613812341234", hashlib.sha256).digest()
    assert len(digest) == 32
    # The same number typed differently hashes the same; another key gives another hash.
    assert phone_hash(normalize_phone("138 1234 1234"), key) == digest
    assert phone_hash(e164, b"x" * 32) != digest
    assert b"13812341234" not in digest


def test_phone_errors_do_not_carry_the_number(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidInput) as info:
        normalize_phone("1381234123")
    assert "1381234123" not in str(info.value)
    assert "1381234123" not in repr(info.value.params)
    assert "1381234123" not in caplog.text


def test_mall_refuses_naive_times(rules: RuleSet) -> None:
    naive = dt.datetime(2026, 11, 18, 12)
    with pytest.raises(InvalidInput, match="must carry a time zone"):
        eligible(rules, ITEMS[0], "silver", naive)
    with pytest.raises(InvalidInput, match="must carry a time zone"):
        suggest(rules, balance=1000, tier="silver", items=ITEMS, at=naive)
    with pytest.raises(InvalidInput, match="must carry a time zone"):
        price_at(ITEMS[-1], naive)
