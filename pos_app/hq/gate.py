"""The door of HQ's API: body size limits and the bearer token, checked before the
application reads a single byte of the body.

FastAPI reads and parses a request's body before its dependencies run, so a check in a
dependency comes too late: an 80 MB body without a credential was read whole before
its 401. :class:`RequestGate` wraps the application (plain ASGI):

1. a declared ``Content-Length`` above the route's limit is answered ``413`` at once;
2. every path but the public ones (``/health``, the OpenAPI document and its pages)
   needs ``Authorization: Bearer <token>`` of a till, a channel or an admin HQ knows,
   else ``401`` at once (the principal is handed to the app in ``scope["state"]``);
3. a body sent without a length (chunked) is counted as it arrives and cut off with
   ``413`` once it passes the limit.

Limits (:class:`pos_app.hq.config.HQSettings`): ``max_batch_body_bytes`` for push,
channel events and the admin's bulk uploads, ``max_body_bytes`` for everything else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Busy, Unauthorized
from pos_app.hq.security import Principal, authenticate

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
BATCH_PATHS = ("/v1/push", "/v1/admin/products", "/v1/admin/mall-items", "/v1/admin/coupons")
PRINCIPAL_KEY = "principal"


def body_limit(settings: HQSettings, path: str) -> int:
    """The most bytes a request body to ``path`` may have."""
    batch = path in BATCH_PATHS or (path.startswith("/v1/channel/") and path.endswith("/events"))
    return settings.max_batch_body_bytes if batch else settings.max_body_bytes


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value)
    return None


def bearer_token(scope: Scope) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None."""
    raw = _header(scope, b"authorization")
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _answer(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


async def _unauthorized(send: Send, message: str) -> None:
    body = Unauthorized(message).as_dict()
    await _answer(send, 401, body, {"WWW-Authenticate": "Bearer"})


def _too_large(limit: int) -> dict[str, Any]:
    return {
        "detail": f"the request body is larger than HQ takes here ({limit} bytes): send "
        "fewer events per request",
        "code": "too_large",
        "facts": {"limit_bytes": limit},
    }


class RequestGate:
    """ASGI wrapper: size limits and authentication before the body is read."""

    def __init__(self, app: ASGIApp, db: HQDatabase, settings: HQSettings) -> None:
        self.app = app
        self.db = db
        self.settings = settings

    def _who(self, token: str) -> Principal | None:
        with self.db.read() as session:
            return authenticate(session, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = body_limit(self.settings, path)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _answer(send, 413, _too_large(limit))
            return
        if path not in PUBLIC_PATHS:
            who = await self._authenticate(scope, send)
            if who is None:
                return
            scope.setdefault("state", {})[PRINCIPAL_KEY] = who
        await self._limited(scope, receive, send, limit)

    async def _authenticate(self, scope: Scope, send: Send) -> Principal | None:
        """The caller, or None once a 401 (or a 503) went out."""
        token = bearer_token(scope)
        if token is None:
            await _unauthorized(send, "a Bearer token is required")
            return None
        try:
            who = await anyio.to_thread.run_sync(self._who, token)
        except (OperationalError, PoolTimeout) as exc:
            log.warning("credential check failed (%s): answered 503", type(exc).__name__)
            busy = Busy(
                "HQ is busy: its database did not answer", self.settings.retry_after_seconds
            )
            await _answer(send, busy.status, busy.as_dict(), {"Retry-After": str(busy.retry_after)})
            return None
        if who is None:
            await _unauthorized(send, "unknown or revoked credential")
        return who

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app; a body passing ``limit`` as it streams in is answered 413."""
        received = 0
        cut = False
        started = False

        async def counted() -> Message:
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    cut = True
                    await _answer(send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if cut:
                return  # the 413 went out: whatever the app says now goes nowhere
            started = True
            await send(message)

        await self.app(scope, counted, guarded)
