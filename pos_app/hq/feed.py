"""What the feed says: cursors, and rows as tills and channels receive them.

The cursor is opaque text, ``v1:<number>`` (HQ's change counter); a bare number from an
older till is read as the same cursor. Tills store it as text and never compute with it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.hq.errors import BadRequest
from pos_app.hq.models import CHANGE_COUNTER, Counter

CURSOR_PREFIX = "v1:"
MAX_CURSOR = 2**62


def parse_cursor(text: str | int | None) -> int:
    """The change number a cursor stands for (``v1:N``, or a bare ``N`` from an older
    till; empty is the start).

    Raises:
        BadRequest: not a cursor HQ gave.
    """
    value = str(text if text is not None else "").strip()
    if value == "":
        return 0
    digits = value.removeprefix(CURSOR_PREFIX)
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise BadRequest(f"cursor {value[:40]!r} is not a cursor HQ gave: start from ''")
    number = int(digits)
    if number > MAX_CURSOR:
        raise BadRequest(f"cursor {value[:40]!r} is out of range")
    return number


def format_cursor(value: int) -> str:
    """The cursor text for change number ``value``."""
    return f"{CURSOR_PREFIX}{value}"


def high_water(session: Session) -> int:
    """HQ's change counter as the session sees it."""
    return int(
        session.execute(select(Counter.value).where(Counter.name == CHANGE_COUNTER)).scalar_one()
    )


# -- what a change looks like -----------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def member_data(m: Any) -> dict[str, Any]:
    """A member as tills receive it (no plaintext phone)."""
    return {
        "id": m.id,
        "member_no": m.member_no,
        "phone_hash": m.phone_hash.hex(),
        "phone_last4": m.phone_last4,
        "phone_masked": m.phone_masked,
        "name": m.name,
        "birthday": m.birthday.isoformat() if m.birthday else None,
        "tier": m.tier,
        "tier_since": _iso(m.tier_since),
        "referral_code": m.referral_code,
        "referred_by": m.referred_by,
        "registered_at": _iso(m.registered_at),
        "registered_store": m.registered_store,
        "first_purchase_at": _iso(m.first_purchase_at),
        "birthday_gift_year": m.birthday_gift_year,
        "alias_of": m.alias_of,
        "balance": m.balance,
    }


def entry_data(e: Any) -> dict[str, Any]:
    """A ledger entry as tills receive it."""
    return {
        "id": e.id,
        "member_id": e.member_id,
        "member_ref": e.member_ref,
        "kind": e.kind,
        "points": e.points,
        "created_at": _iso(e.created_at),
        "received_at": _iso(e.received_at),
        "source_channel": e.source_channel,
        "store_id": e.store_code,
        "till_id": e.till_id,
        "sale_id": e.sale_id,
        "refund_id": e.refund_id,
        "rule_set_version": e.rule_set_version,
        "reason": e.reason,
    }


def _columns(row: Any, *names: str) -> dict[str, Any]:
    out = {}
    for name in names:
        value = getattr(row, name)
        out[name] = _iso(value) if isinstance(value, dt.datetime) else value
    return out


def rule_set_data(r: Any) -> dict[str, Any]:
    """A rule set version as tills receive it."""
    return {
        "version": r.version,
        "document": json.loads(r.document),
        "active": r.active,
        "published_at": _iso(r.published_at),
    }


def product_data(p: Any) -> dict[str, Any]:
    """A catalogue product as tills receive it."""
    return _columns(
        p, "sku", "barcode", "name", "category", "price_fen", "member_price_fen", "active"
    )


def mall_item_data(m: Any) -> dict[str, Any]:
    """A mall item as tills receive it."""
    return _columns(
        m,
        "id",
        "name",
        "points_price",
        "cash_price_fen",
        "stock",
        "min_tier",
        "level",
        "category",
        "brand",
        "keywords",
        "discount_percent",
        "discount_from",
        "discount_to",
        "available_from",
        "available_to",
        "active",
        "kind",
        "price_version",
    ) | {"featured": json.loads(m.featured or "{}")}


COUPON_FIELDS = (
    "id",
    "code",
    "member_id",
    "name",
    "amount_off_fen",
    "percent_off",
    "min_order_fen",
    "valid_from",
    "valid_to",
    "issued_at",
    "source",
    "used_at",
    "used_sale_id",
)


def coupon_data(c: Any) -> dict[str, Any]:
    """A coupon as tills receive it."""
    return _columns(c, *COUPON_FIELDS)
