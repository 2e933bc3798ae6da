"""The receipt data model: immutability, privacy and integer-only money."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pos_app.devices.receipt import LABELS, MemberBlock, Receipt, ReceiptLine, Tender, labels
from pos_app.devices.samples import SAMPLE_TIME, sample_member, sample_receipt


def _sale(**changes: object) -> Receipt:
    return dataclasses.replace(sample_receipt(), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "phone", ["13812341234", "+86 138 1234 1234", "138-1234-1234", "+8613812341234"]
)
def test_member_block_refuses_a_full_phone_number(phone: str) -> None:
    with pytest.raises(ValueError, match="masked"):
        dataclasses.replace(sample_member(), masked_phone=phone)


def test_member_block_accepts_a_masked_phone() -> None:
    assert sample_member().masked_phone == "138****1234"


def test_sequences_are_stored_as_tuples() -> None:
    receipt = _sale(lines=[ReceiptLine("水", 1, 100, 100)], tenders=[Tender("现金", 100)])
    assert receipt.lines == (ReceiptLine("水", 1, 100, 100),)
    assert isinstance(receipt.tenders, tuple)
    assert isinstance(sample_member().suggestions, tuple)


def test_receipt_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample_receipt().reprint = True  # type: ignore[misc]


def test_printed_at_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        _sale(printed_at=dt.datetime(2024, 5, 18, 14, 3))


@pytest.mark.parametrize("amount", [12.5, True, "100"])
def test_money_must_be_integer_fen(amount: object) -> None:
    with pytest.raises(TypeError):
        ReceiptLine("水", 1, 100, amount)  # type: ignore[arg-type]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        _sale(total_paid_fen=-1)


def test_refund_names_the_original_receipt() -> None:
    with pytest.raises(ValueError, match="refund_of"):
        _sale(kind="refund")


def test_at_most_three_suggestions() -> None:
    with pytest.raises(ValueError, match="three"):
        dataclasses.replace(sample_member(), suggestions=["a", "b", "c", "d"])


def test_expiring_points_need_a_date() -> None:
    with pytest.raises(ValueError, match="expiring_date"):
        dataclasses.replace(sample_member(), expiring_points=10, expiring_date=None)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        _sale(language="fr")
    with pytest.raises(ValueError, match="language"):
        labels("fr")  # type: ignore[arg-type]


def test_every_language_has_every_label() -> None:
    keys = {language: set(table) for language, table in LABELS.items()}
    assert keys["en"] == keys["zh_CN"]


def test_sample_time_is_beijing_time() -> None:
    assert SAMPLE_TIME.utcoffset() == dt.timedelta(hours=8)


def test_member_block_defaults() -> None:
    block = MemberBlock("138****1234", "普通", 0, 0)
    assert block.suggestions == ()
    assert block.mall_url is None
