"""The first-sync snapshot stream's format: what HQ writes and the till reads.

One JSON array per member, its values in :data:`MEMBER_FIELDS` order (the header line
repeats the order), each lot an array in :data:`LOT_FIELDS` order (see docs/sync.md).
"""

from __future__ import annotations

#: The snapshot stream format HQ writes and this till reads.
FORMAT = 1
#: A member's fields, in the order of its array.
MEMBER_FIELDS = (
    "id",
    "member_no",
    "phone_hash",
    "phone_last4",
    "phone_masked",
    "name",
    "birthday",
    "tier",
    "tier_since",
    "referral_code",
    "referred_by",
    "registered_at",
    "registered_store",
    "first_purchase_at",
    "birthday_gift_year",
    "alias_of",
    "balance",
    "lots",
    "coupons",
    "as_of",
)
#: A lot's fields, in the order of its array.
LOT_FIELDS = ("id", "points", "remaining", "earned_at", "expires_on")
