"""Errors raised by the use cases (translated by the UI like the core's)."""

from __future__ import annotations

from pos_app.core.errors import LoyaltyError


class UnknownMember(LoyaltyError):
    """No member matches."""


class UnknownSale(LoyaltyError):
    """No sale has that receipt number."""


class AuthError(LoyaltyError):
    """Wrong PIN, unknown user, or a role that may not do this."""


class PaymentError(LoyaltyError):
    """Tenders that do not pay the amount due."""


class ConflictError(LoyaltyError):
    """An id reused with a different payload, a coupon already used..."""
