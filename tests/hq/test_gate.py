"""The door of HQ's API: the credential and the body's size are checked before the body
is read, and the OpenAPI document lists every status HQ answers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.routing import APIRoute

from pos_app.hq.gate import PUBLIC_PATHS
from tests.hq.conftest import HQ, open_hq
from tests.hq.support import Clock, nothing_written
from tests.support.appserver import AppServer

EIGHTY_MB = 80 * 1024 * 1024


def _asgi_call(app: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Call the app as a server would, with a body that never ends; returns (status,
    how many times the app asked for the body)."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8700),
        "state": {},
    }

    async def call() -> None:
        with anyio.fail_after(10):
            await app(scope, receive, send)

    anyio.run(call)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), asked


def test_an_unauthenticated_body_is_never_read(hq: HQ) -> None:
    app = hq.client.app
    length = str(500_000)  # within the push limit: only the credential stops it
    for headers in ({}, {"Authorization": "Bearer ptt_" + "x" * 43}, {"Authorization": "Basic x"}):
        status, asked = _asgi_call(app, "POST", "/v1/push", headers | {"Content-Length": length})
        assert (status, asked) == (401, 0), headers


def test_an_oversized_body_is_answered_413_unread(hq: HQ) -> None:
    app = hq.client.app
    for headers in ({}, {"Authorization": f"Bearer {hq.till1}"}):
        status, asked = _asgi_call(
            app, "POST", "/v1/push", headers | {"Content-Length": str(EIGHTY_MB)}
        )
        assert (status, asked) == (413, 0)
    status, asked = _asgi_call(
        app,
        "POST",
        "/v1/holds",
        {"Authorization": f"Bearer {hq.till1}", "Content-Length": "2000000"},
    )
    assert (status, asked) == (413, 0)  # 1 MiB for everything but batches


def test_a_chunked_body_is_cut_off_at_the_limit(hq_db: Any, clock: Clock) -> None:
    with open_hq(hq_db, clock, max_batch_body_bytes=100_000) as hq:
        chunks = (b'{"events": [' + b" " * 10_000 for _ in range(50))
        with nothing_written(hq.db):
            response = hq.client.post(
                "/v1/push",
                content=chunks,
                headers=hq.headers(hq.till1) | {"Content-Type": "application/json"},
            )
        assert response.status_code == 413
        assert response.json()["code"] == "too_large"
        assert response.json()["facts"] == {"limit_bytes": 100_000}


@pytest.fixture
def served(hq: HQ) -> Iterator[AppServer]:
    server = AppServer(hq.client.app).start()
    try:
        yield server
    finally:
        server.stop()


def _raw_answer(port: int, head: str, timeout: float = 5.0) -> tuple[int, float]:
    """Send only a request's head over a socket; (status, seconds until the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(head.encode())
        data = sock.recv(4096)
        return int(data.split(b" ", 2)[1]), time.monotonic() - started


def test_a_real_server_answers_before_any_body_arrives(served: AppServer, hq: HQ) -> None:
    assert served.port is not None
    status, took = _raw_answer(
        served.port,
        f"POST /v1/push HTTP/1.1\r\nHost: hq\r\nContent-Length: {EIGHTY_MB}\r\n"
        "Content-Type: application/json\r\nAuthorization: Bearer ptt_forged\r\n\r\n",
    )
    assert status == 413
    assert took < 2
    status, took = _raw_answer(
        served.port,
        "POST /v1/push HTTP/1.1\r\nHost: hq\r\nContent-Length: 900000\r\n"
        "Content-Type: application/json\r\nAuthorization: Bearer ptt_forged\r\n\r\n",
    )
    assert status == 401
    assert took < 2


# -- the OpenAPI document ------------------------------------------------------------------

COMMON = {"400", "401", "403", "404", "409", "413", "422", "503"}


def _routes(hq: HQ) -> list[tuple[str, str, APIRoute]]:
    return [
        (method, route.path, route)
        for route in hq.client.app.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def test_every_operation_documents_every_status_hq_answers_with(hq: HQ) -> None:
    document = hq.client.get("/openapi.json").json()
    routes = _routes(hq)
    assert len(routes) > 25
    for method, path, route in routes:
        responses = set(document["paths"][path][method.lower()]["responses"])
        assert str(route.status_code or 200) in responses, (method, path)
        if path in PUBLIC_PATHS:
            continue
        assert responses >= COMMON, (method, path, COMMON - responses)


def _probe_requests(hq: HQ, method: str, path: str) -> Iterator[tuple[dict[str, str], Any]]:
    """Requests a caller might send to ``path``: anonymous, oversized, each kind of
    credential with an empty and a malformed body."""
    yield {}, None
    yield {"Content-Length": str(EIGHTY_MB)}, None
    for token in (hq.till1, hq.mall, hq.admin):
        yield hq.headers(token), None
        if method in ("POST", "PUT"):
            yield hq.headers(token), {"junk": [1, 2, 3]}
            yield hq.headers(token), "not json"


def test_a_walk_over_every_route_meets_only_documented_statuses(hq: HQ) -> None:
    document = hq.client.get("/openapi.json").json()
    samples = {"{store}": "001", "{channel}": "mall", "{member_id}": "nobody", "{hold_id}": "h1"}
    samples |= {"{key_id}": "77", "{review_id}": "r1", "{decision}": "approve"}
    samples |= {"{manager_id}": "nobody"}
    seen = 0
    for method, template, _route in _routes(hq):
        path = template
        for name, value in samples.items():
            path = path.replace(name, value)
        documented = set(document["paths"][template][method.lower()]["responses"])
        for headers, body in _probe_requests(hq, method, path):
            content = body if isinstance(body, str) else json.dumps(body) if body else None
            if "Content-Length" in headers:
                content = None
            response = hq.client.request(
                method,
                path,
                content=content,
                headers=headers | {"Content-Type": "application/json"},
                params={"reason": "probe"} if "revoke" in path else None,
            )
            assert str(response.status_code) in documented, (
                method,
                template,
                headers,
                response.status_code,
                response.text[:200],
            )
            seen += 1
    assert seen > 100
