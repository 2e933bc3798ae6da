"""Member card codes, receipt codes and what a scanned string is.

A scanner types like a keyboard and ends with Enter; :func:`classify_scan` decides what
one such input means. The static member card code is ``M`` + 10 digits (the member
number, zero-padded) + a Luhn check digit, so a mistyped or made-up code is refused
offline. Signed dynamic codes (short-lived, for the member app) start with ``MD``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidCode

MEMBER_PREFIX = "M"
DYNAMIC_PREFIX = "MD"
RECEIPT_PREFIX = "R"
_MEMBER_RE = re.compile(r"^M(\d{10})(\d)$")
_RECEIPT_RE = re.compile(r"^R\d{6,20}$")
_DIGITS = re.compile(r"^\d+$")
_MASKED_RE = re.compile(r"^(1\d{2})\*{1,4}(\d{4})$")


class ScanKind(Enum):
    """What a scanned or typed string is."""

    MEMBER_CODE = "member_code"
    DYNAMIC_MEMBER_CODE = "dynamic_member_code"
    RECEIPT = "receipt"
    PHONE = "phone"
    PHONE_SUFFIX = "phone_suffix"
    BARCODE = "barcode"
    SKU = "sku"


@dataclass(frozen=True)
class Scan:
    """A classified input."""

    kind: ScanKind
    value: str
    prefix: str = ""
    """For a phone suffix typed as ``138*1234``: the first 3 digits (else empty)."""


def luhn_digit(digits: str) -> int:
    """Luhn check digit for a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def member_code(member_no: int) -> str:
    """The static member card code of ``member_no``."""
    if member_no <= 0 or member_no >= 10**10:
        raise ValueError("member_no out of range")
    body = f"{member_no:010d}"
    return f"{MEMBER_PREFIX}{body}{luhn_digit(body)}"


def parse_member_code(code: str) -> int:
    """Member number from a static member card code.

    Raises:
        InvalidCode: malformed, or the check digit is wrong.
    """
    match = _MEMBER_RE.match(code.strip().upper())
    if not match or luhn_digit(match.group(1)) != int(match.group(2)) or int(match.group(1)) == 0:
        raise InvalidCode(QT_TRANSLATE_NOOP("Errors", "This is not a valid member code."))
    return int(match.group(1))


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit of ``body`` (EAN-8/13, UPC-A, GTIN-14 without their last digit).

    Weights 3 and 1 alternate from the rightmost digit of the body; the check digit
    brings the weighted sum up to a multiple of 10.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def ean_valid(digits: str) -> bool:
    """True for an EAN-8, UPC-A, EAN-13 or GTIN-14 with a correct check digit."""
    if not _DIGITS.match(digits) or len(digits) not in (8, 12, 13, 14):
        return False
    return gtin_check_digit(digits[:-1]) == int(digits[-1])


def classify_scan(text: str) -> Scan:
    """Classify one line typed or scanned into the till's single input."""
    value = text.strip()
    upper = value.upper()
    if upper.startswith(DYNAMIC_PREFIX):
        return Scan(ScanKind.DYNAMIC_MEMBER_CODE, value)
    if _MEMBER_RE.match(upper):
        return Scan(ScanKind.MEMBER_CODE, upper)
    if _RECEIPT_RE.match(upper):
        return Scan(ScanKind.RECEIPT, upper)
    compact = value.replace(" ", "").replace("-", "")
    masked = _MASKED_RE.match(compact)
    if masked:  # 138*1234 or 138****1234: first 3 and last 4 digits, as on a receipt
        return Scan(ScanKind.PHONE_SUFFIX, masked.group(2), prefix=masked.group(1))
    if compact.startswith("+") and _DIGITS.match(compact[1:]):
        return Scan(ScanKind.PHONE, compact)
    if _DIGITS.match(compact):
        if len(compact) == 4:
            return Scan(ScanKind.PHONE_SUFFIX, compact)
        if len(compact) == 11 and compact.startswith("1"):
            return Scan(ScanKind.PHONE, compact)
        if ean_valid(compact):
            return Scan(ScanKind.BARCODE, compact)
    return Scan(ScanKind.SKU, value)
