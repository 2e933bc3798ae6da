"""Signed dynamic member codes: format, signature, validity window (pure core)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_app.core.codes import ScanKind, classify_scan
from pos_app.core.errors import ExpiredCode, ForgedCode, InvalidCode
from pos_app.core.member_codes import (
    CLOCK_SKEW,
    CODE_LENGTH,
    DEMO_KEY_ID,
    DEMO_PRIVATE_KEY,
    MAX_LIFETIME,
    TrustedKey,
    parse_dynamic_code,
    public_key_of,
    sign_dynamic_code,
    verify_dynamic_code,
)

PRIVATE = bytes(range(32))
OTHER = bytes(range(1, 33))
PUBLIC = public_key_of(PRIVATE)
KEYS = {7: PUBLIC}
NOW = dt.datetime(2026, 11, 18, 2, 30, tzinfo=dt.UTC)
NONCE = bytes.fromhex("0102030405060708")
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def code(
    *,
    private: bytes = PRIVATE,
    key_id: int = 7,
    member_no: int = 9_000_010_001,
    issued_at: dt.datetime = NOW,
    lifetime: dt.timedelta = dt.timedelta(seconds=120),
    nonce: bytes = NONCE,
) -> str:
    return sign_dynamic_code(
        private,
        key_id=key_id,
        member_no=member_no,
        issued_at=issued_at,
        nonce=nonce,
        lifetime=lifetime,
    )


def test_a_code_is_compact_qr_alphanumeric_and_routed_as_dynamic() -> None:
    text = code()
    assert text.startswith("MD")
    assert len(text) == CODE_LENGTH == 140
    assert set(text) <= QR_ALPHANUMERIC
    assert classify_scan(text).kind == ScanKind.DYNAMIC_MEMBER_CODE


def test_a_valid_code_verifies_and_says_who_and_until_when() -> None:
    verified = verify_dynamic_code(code(), KEYS, NOW + dt.timedelta(seconds=60))
    assert verified.member_no == 9_000_010_001
    assert verified.key_id == 7
    assert verified.issued_at == NOW
    assert verified.expires_at == NOW + dt.timedelta(seconds=120)
    assert verified.nonce == "0102030405060708"


def test_a_scanner_s_surrounding_spaces_and_enter_are_fine() -> None:
    assert verify_dynamic_code(f"  {code()}\r\n", KEYS, NOW).member_no == 9_000_010_001


def _variants(text: str) -> list[str]:
    """Spellings of ``text`` that decode to the same bytes under a lenient parser."""
    body = text[2:]
    last = body[-1]
    spare = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    # 690 bits carry 688: the last character's two low bits are spare
    bumped = spare[spare.index(last) ^ 1]
    return [
        text.lower(),
        text[:2] + body.lower(),
        text.replace("S", "\u017f", 1),  # LATIN SMALL LETTER LONG S upper-cases to S
        text.replace("K", "\u212a", 1),  # KELVIN SIGN lower-cases to k
        text[:-1] + bumped,
        text[:2] + "\u3000" + body,  # an ideographic space inside
        "\u00a0" + text,  # a no-break space before
        "\uff2d\uff24" + body,  # full-width MD
        text + "\n\n" + "A",
    ]


def test_only_the_exact_canonical_spelling_is_accepted() -> None:
    text = code()
    assert "S" in text, "the fixed code must contain S"
    assert "K" in text, "the fixed code must contain K"
    for variant in _variants(text):
        assert variant != text
        with pytest.raises(InvalidCode, match="damaged"):
            verify_dynamic_code(variant, KEYS, NOW)
        with pytest.raises(InvalidCode, match="damaged"):
            parse_dynamic_code(variant)


def test_a_revoked_key_s_codes_are_refused() -> None:
    keys = {7: TrustedKey(PUBLIC, revoked=True)}
    with pytest.raises(InvalidCode, match="revoked"):
        verify_dynamic_code(code(), keys, NOW)


def test_a_code_is_accepted_only_inside_its_key_s_window() -> None:
    window = TrustedKey(PUBLIC, not_before=NOW - dt.timedelta(days=1), not_after=NOW)
    assert verify_dynamic_code(code(), {7: window}, NOW).key_id == 7
    late = code(issued_at=NOW + CLOCK_SKEW + dt.timedelta(seconds=1))
    with pytest.raises(InvalidCode, match="outside the validity"):
        verify_dynamic_code(late, {7: window}, NOW + dt.timedelta(minutes=1))
    early = TrustedKey(PUBLIC, not_before=NOW + dt.timedelta(minutes=1))
    with pytest.raises(InvalidCode, match="outside the validity"):
        verify_dynamic_code(code(), {7: early}, NOW)


def test_the_demo_key_is_fixed_and_has_its_own_id() -> None:
    demo = code(private=DEMO_PRIVATE_KEY, key_id=DEMO_KEY_ID)
    assert verify_dynamic_code(demo, {DEMO_KEY_ID: public_key_of(DEMO_PRIVATE_KEY)}, NOW)
    assert DEMO_KEY_ID == 0xFFFF


def test_every_single_bit_flip_is_refused() -> None:
    """Flip each bit of the signed bytes: never accepted, never another member."""
    text = code()
    raw = bytearray(base64.b32decode(text[2:] + "=" * (-len(text[2:]) % 8)))
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        forged = "MD" + base64.b32encode(bytes(flipped)).decode().rstrip("=")
        with pytest.raises(InvalidCode):
            verify_dynamic_code(forged, KEYS, NOW)


def test_a_flipped_signature_bit_reads_as_forged() -> None:
    text = code()
    raw = bytearray(base64.b32decode(text[2:] + "=" * (-len(text[2:]) % 8)))
    raw[-1] ^= 0x01
    forged = "MD" + base64.b32encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(ForgedCode, match="forged or damaged"):
        verify_dynamic_code(forged, KEYS, NOW)


def test_a_code_signed_with_another_key_is_forged() -> None:
    with pytest.raises(ForgedCode, match="signature does not match"):
        verify_dynamic_code(code(private=OTHER), KEYS, NOW)


def test_a_code_naming_an_unknown_key_id_is_refused_clearly() -> None:
    with pytest.raises(InvalidCode, match="key 9, which this till does not have"):
        verify_dynamic_code(code(key_id=9), KEYS, NOW)


@pytest.mark.parametrize(
    "text",
    ["MD", "MDAAAA", "M" + "D" * 139, "MD" + "1" * 138, "XX" + "A" * 138, "MD" + "A" * 139],
)
def test_malformed_codes_are_refused_as_damaged(text: str) -> None:
    with pytest.raises(InvalidCode, match=r"damaged|format version"):
        verify_dynamic_code(text, KEYS, NOW)


def test_expired_beyond_the_skew_is_refused() -> None:
    text = code()
    end = NOW + dt.timedelta(seconds=120)
    assert verify_dynamic_code(text, KEYS, end + CLOCK_SKEW).member_no  # the tolerance holds
    with pytest.raises(ExpiredCode, match="expired"):
        verify_dynamic_code(text, KEYS, end + CLOCK_SKEW + dt.timedelta(seconds=1))


def test_a_code_from_the_future_is_refused_beyond_the_skew() -> None:
    text = code()
    assert verify_dynamic_code(text, KEYS, NOW - CLOCK_SKEW).member_no
    with pytest.raises(ExpiredCode, match="not valid yet"):
        verify_dynamic_code(text, KEYS, NOW - CLOCK_SKEW - dt.timedelta(seconds=1))


def test_the_skew_tolerance_is_small_and_explicit() -> None:
    assert dt.timedelta(0) < CLOCK_SKEW <= dt.timedelta(minutes=1)
    assert dt.timedelta(minutes=10) >= MAX_LIFETIME


def test_a_lifetime_above_the_maximum_is_refused_even_when_signed() -> None:
    text = code(lifetime=MAX_LIFETIME + dt.timedelta(seconds=1))
    with pytest.raises(ExpiredCode, match="lifetime longer"):
        verify_dynamic_code(text, KEYS, NOW)


def test_naive_times_are_refused() -> None:
    from pos_app.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        verify_dynamic_code(code(), KEYS, NOW.replace(tzinfo=None))


def test_parse_reads_without_trusting() -> None:
    parsed = parse_dynamic_code(code(private=OTHER, key_id=3, member_no=42))
    assert (parsed.key_id, parsed.member_no) == (3, 42)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"key_id": 70_000}, "key_id"),
        ({"member_no": 0}, "member_no"),
        ({"member_no": 10**10}, "member_no"),
        ({"nonce": b"short"}, "nonce"),
        ({"lifetime": dt.timedelta(0)}, "lifetime"),
    ],
)
def test_signing_refuses_out_of_range_fields(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        code(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    member_no=st.integers(1, 10**10 - 1),
    key_id=st.integers(0, 0xFFFF),
    nonce=st.binary(min_size=8, max_size=8),
    seconds=st.integers(1, int(MAX_LIFETIME.total_seconds())),
)
def test_round_trip(member_no: int, key_id: int, nonce: bytes, seconds: int) -> None:
    text = code(
        key_id=key_id, member_no=member_no, nonce=nonce, lifetime=dt.timedelta(seconds=seconds)
    )
    verified = verify_dynamic_code(text, {key_id: PUBLIC}, NOW)
    assert (verified.member_no, verified.key_id, verified.nonce) == (
        member_no,
        key_id,
        nonce.hex(),
    )
