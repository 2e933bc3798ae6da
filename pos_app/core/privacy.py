"""Phone numbers: validation, the keyed hash the till looks members up by, masking.

The till never stores a plaintext phone number. It keeps an HMAC-SHA256 of the
normalised E.164 number under a key HQ distributes (exact match), the last four
digits (suffix search) and a masked form for display (138****1234).
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput

DEFAULT_REGION = "CN"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of a valid mobile number.

    Raises:
        InvalidInput: not a valid phone number.
    """
    return normalize_phone_parts(raw, region)[0]


def normalize_phone_parts(raw: str, region: str = DEFAULT_REGION) -> tuple[str, str]:
    """(E.164 form, national significant number) of a valid mobile number, parsed once
    (bulk imports mask millions of numbers).

    Raises:
        InvalidInput: not a valid phone number.
    """
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Enter a valid mobile phone number."))
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "Enter a valid mobile phone number.")
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Enter a valid mobile phone number."))
    kind = phonenumbers.number_type(parsed)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Enter a valid mobile phone number."))
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, str(parsed.national_number)


def phone_hash(e164: str, key: bytes) -> bytes:
    """Keyed hash of a normalised number (what the till stores and searches by)."""
    return hmac.new(key, e164.encode("ascii"), hashlib.sha256).digest()


def national_digits(e164: str) -> str:
    """National significant number of an E.164 string."""
    return str(phonenumbers.parse(e164).national_number)


def last4(e164: str) -> str:
    """Last four digits."""
    return e164[-4:]


def mask_phone(e164: str) -> str:
    """Masked national form: 13812341234 -> 138****1234."""
    return mask_national(national_digits(e164))


def mask_national(national: str) -> str:
    """Masked national significant number: 13812341234 -> 138****1234."""
    if len(national) <= 7:
        return "*" * (len(national) - 4) + national[-4:]
    return national[:3] + "*" * (len(national) - 7) + national[-4:]
