"""Phone privacy in the core: the mainland fast path agrees with libphonenumber, the
hint of first 3 + last 4, the sealed mask."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.core.errors import InvalidInput
from pos_app.core.privacy import (
    HINT_BYTES,
    MaskCipher,
    PhoneHinter,
    derive_key,
    mask_parts,
    mask_phone,
    normalize_phone,
    phone_hint,
)


def _slow(text: str) -> str | None:
    """What libphonenumber alone says (None: not a mobile number)."""
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if ok else None


def _fast_or_none(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except InvalidInput:
        return None


@pytest.mark.parametrize("head", [f"1{d:02d}" for d in range(100)])
def test_every_mainland_prefix_agrees_with_libphonenumber(head: str) -> None:
    for body in ("00000000", "12345678", "50000001", "99999999", "74001234", "61012345"):
        number = head + body
        assert _fast_or_none(number) == _slow(number), number


@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_eleven_digits_agree_with_libphonenumber(number: str) -> None:
    assert _fast_or_none(number) == _slow(number)


def test_other_forms_still_go_through_the_parser() -> None:
    assert normalize_phone("+86 138-1234-1234") == "+8613812341234"
    assert normalize_phone("138 1234 1234") == "+8613812341234"
    assert normalize_phone("+852 5123 4567") == "+85251234567"
    with pytest.raises(InvalidInput):
        normalize_phone("12012341234")  # 120 is no mobile range
    assert mask_phone("+8613812341234") == "138****1234"


def test_the_hint_needs_both_parts_and_a_key() -> None:
    key, other = derive_key(b"k" * 32, "phone-hint"), derive_key(b"j" * 32, "phone-hint")
    hint = phone_hint("138", "1234", key)
    assert hint is not None
    assert len(hint) == HINT_BYTES
    assert phone_hint("138", "1234", key) == hint
    assert phone_hint("139", "1234", key) != hint
    assert phone_hint("138", "1234", other) != hint
    assert phone_hint("", "1234", key) is None
    assert phone_hint("138", "", key) is None
    assert mask_parts("138****1234") == ("138", "1234")
    assert mask_parts("****1234") == ("", "1234")


def test_a_hinter_keyed_once_hints_as_phone_hint_does() -> None:
    key = derive_key(b"k" * 32, "phone-hint")
    hinter = PhoneHinter(key)
    for head, last4 in (("138", "1234"), ("139", "0001"), ("138", "1234"), ("", "1234")):
        assert hinter.hint(head, last4) == phone_hint(head, last4, key)
    assert hinter.of_mask("138****1234", "1234") == phone_hint("138", "1234", key)
    assert hinter.of_mask("138****1234", "9999") is None  # the last 4 disagree
    assert hinter.of_mask("****1234", "1234") is None  # no first three digits
    assert hinter.of_mask("", "") is None
    assert mask_parts("") == ("", "")


def test_a_sealed_mask_shows_nothing_and_opens_only_with_its_key() -> None:
    cipher = MaskCipher(derive_key(b"k" * 32, "phone-mask"))
    sealed = cipher.seal("138****1234")
    assert sealed is not None
    assert b"138" not in sealed
    assert b"1234" not in sealed
    assert cipher.seal("138****1234") != sealed  # a fresh nonce each time
    assert cipher.open(sealed) == "138****1234"
    assert MaskCipher(derive_key(b"j" * 32, "phone-mask")).open(sealed) == ""
    assert cipher.open(sealed[:-1] + bytes([sealed[-1] ^ 1])) == ""  # altered
    assert cipher.seal("") is None
    assert cipher.open(None) == ""
