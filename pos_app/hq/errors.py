"""Errors HQ answers with: each carries its HTTP status and a stable code."""

from __future__ import annotations

from typing import Any


class HQError(Exception):
    """A request HQ refuses, with a message a person can act on.

    Attributes:
        status: HTTP status of the answer.
        code: Stable machine-readable code.
        detail: Extra JSON-friendly facts (ids, amounts).
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        body: dict[str, Any] = {"detail": self.message, "code": self.code}
        if self.detail:
            body["facts"] = self.detail
        return body


class BadRequest(HQError):
    """A payload that is well-formed JSON but says something impossible."""


class Unauthorized(HQError):
    """No credential, or one HQ does not know."""

    status = 401
    code = "unauthorized"


class Forbidden(HQError):
    """A known caller asking for something it may not do (another store's data...)."""

    status = 403
    code = "forbidden"


class NotFound(HQError):
    """No such store, till, member or hold."""

    status = 404
    code = "not_found"


class Conflict(HQError):
    """An id already used for something else, or a state that forbids the change."""

    status = 409
    code = "conflict"


class InsufficientPoints(Conflict):
    """A hold or an online spend larger than the points available at HQ."""

    code = "insufficient_points"


class RetryLater(HQError):
    """The event depends on something HQ has not received yet (its member, its sale).

    The caller keeps the event and sends it again after the ones before it.
    """

    status = 424
    code = "retry_later"


class Busy(HQError):
    """HQ cannot take the request now: its admission queue is full, or a database
    connection or lock did not come in time. The transaction in flight was rolled back;
    the caller sends the same request again (same event ids: what an earlier transaction
    of it applied answers as a replay) after ``retry_after`` seconds, the ``Retry-After``
    header.
    """

    status = 503
    code = "busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
