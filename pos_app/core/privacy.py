"""Phone numbers: validation, the keyed hashes the till looks members up by, masking.

The till never stores a plaintext phone number, nor its first digits. It keeps:

* an HMAC-SHA256 of the normalised E.164 number under the key HQ distributes
  (:func:`phone_hash`, the exact look-up);
* the last four digits (the suffix search);
* a *hint*: a keyed hash of the first three and the last four digits under a key of the
  till's own (:func:`phone_hint`), so ``138*1234`` is one index hit and no plaintext
  first digits sit beside the full number's hash;
* the masked form the screens and receipts show (138****1234), sealed with AES-GCM under
  another key of the till's own (:class:`MaskCipher`).

See docs/security.md for what each key protects against.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput

DEFAULT_REGION = "CN"


def _mobile_pattern(region: str) -> re.Pattern[str]:
    """libphonenumber's own pattern of a mobile number's national digits in ``region``."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    if not pattern:
        raise RuntimeError(f"phonenumbers has no mobile pattern for {region}")
    return re.compile(pattern)


_CN_MOBILE = _mobile_pattern(DEFAULT_REGION)
"""libphonenumber's own pattern of a mainland mobile number (its national digits)."""

HINT_BYTES = 16
"""Length of a stored phone hint (a truncated HMAC-SHA256): 2^-128 collisions."""


def _mainland_mobile(text: str) -> str | None:
    """The E.164 form of 11 plain digits that libphonenumber would call a mainland mobile
    number, else None (the caller falls back to the full parser). The pattern is the
    library's own, so both paths agree (tests/core/test_privacy.py checks it)."""
    if len(text) == 11 and text.isascii() and text.isdigit() and _CN_MOBILE.fullmatch(text):
        return "+86" + text
    return None


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
    fast = _mainland_mobile(text) if region == DEFAULT_REGION else None
    if fast is not None:
        return fast, fast[3:]
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
    return hmac.digest(key, e164.encode("ascii"), "sha256")


def derive_key(root: bytes, label: str) -> bytes:
    """A 32-byte subkey of ``root`` for one purpose (HMAC-SHA256 of the label)."""
    return hmac.digest(root, b"points-till/" + label.encode("ascii"), "sha256")


def phone_hint(head: str, last4_digits: str, key: bytes) -> bytes | None:
    """Keyed hash of the first three and the last four digits of a national number: the
    narrowing look-up (``138*1234``). None when either part is missing."""
    if len(head) != 3 or len(last4_digits) != 4:
        return None
    message = f"{head}*{last4_digits}".encode("ascii")
    return hmac.digest(key, message, "sha256")[:HINT_BYTES]


class PhoneHinter:
    """:func:`phone_hint` under one key, keyed once: each hint copies a keyed HMAC
    (a first sync hints a million members; keying costs as much as the hash)."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod="sha256")

    def hint(self, head: str, last4_digits: str) -> bytes | None:
        """:func:`phone_hint` of ``head`` and ``last4_digits`` under this key."""
        if len(head) != 3 or len(last4_digits) != 4:
            return None
        mac = self._keyed.copy()
        mac.update(f"{head}*{last4_digits}".encode("ascii"))
        return mac.digest()[:HINT_BYTES]

    def of_mask(self, masked: str, last4_digits: str) -> bytes | None:
        """The hint of a member whose masked phone is ``masked`` and whose last four
        digits are ``last4_digits`` (None unless the mask shows the first three digits
        and the same last four)."""
        head, tail = mask_parts(masked)
        return self.hint(head, tail) if last4_digits == tail else None


def mask_parts(masked: str) -> tuple[str, str]:
    """The first three and the last four digits shown by a masked number
    (``138****1234`` -> ``("138", "1234")``); ``""`` for a part it does not show."""
    head = masked[:3] if len(masked) >= 7 and masked[:3].isdigit() else ""
    tail = masked[-4:] if masked[-4:].isdigit() else ""
    return head, tail


class MaskCipher:
    """Seals and opens the masked phone a member row keeps for display (AES-256-GCM,
    a random 96-bit nonce per value). Without the key the stored bytes show nothing;
    a value sealed under another key (or altered) opens as ``""``."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, masked: str) -> bytes | None:
        """The stored form of ``masked`` (None for an empty one)."""
        if not masked:
            return None
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, masked.encode("utf-8"), b"phone-mask")

    def open(self, sealed: bytes | None) -> str:
        """The masked phone of a stored value ("" for none or an unreadable one)."""
        if not sealed or len(sealed) < 28:
            return ""
        try:
            plain = self._aead.decrypt(bytes(sealed[:12]), bytes(sealed[12:]), b"phone-mask")
        except InvalidTag:
            return ""
        return plain.decode("utf-8")


def placeholder_phone_hash(member_id: str) -> bytes:
    """A phone hash no phone can have, for a member known only by its id (an alias, a
    member an entry names before its row arrives, a provisional member)."""
    return hashlib.sha256(f"points-till/no-phone:{member_id}".encode()).digest()


def national_digits(e164: str) -> str:
    """National significant number of an E.164 string."""
    if len(e164) == 14 and e164.startswith("+86"):  # a mainland mobile: no parsing
        return e164[3:]
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
