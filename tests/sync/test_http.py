"""HQClient's mapping of HTTP outcomes to sync errors (no HQ: a mock transport)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pos_app.services.sync import HQAuthError, HQClient, HQResponseError, HQUnavailable

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> HQClient:
    return HQClient("http://hq.test", "ptt_x", transport=httpx.MockTransport(handler))


def test_a_connection_closed_under_a_request_is_retried_once() -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return httpx.Response(200, json={"results": []})

    with client(flaky) as hq:
        assert hq.request("POST", "/v1/push", json_body={"events": []}) == {"results": []}
    assert calls == ["/v1/push", "/v1/push"]


def test_creating_a_till_is_never_retried() -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ReadError("reset", request=request)

    with client(flaky) as hq, pytest.raises(HQUnavailable):
        hq.register_till("pta_x", "001")
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(503, text="busy"), HQUnavailable, "503"),
        (httpx.Response(200, text="<html>"), HQUnavailable, "without JSON"),
        (
            httpx.Response(401, json={"detail": "unknown", "code": "unauthorized"}),
            HQAuthError,
            "401",
        ),
        (
            httpx.Response(
                403, json={"detail": "no", "code": "forbidden", "facts": {"event_id": "e1"}}
            ),
            HQResponseError,
            "forbidden",
        ),
    ],
)
def test_http_outcomes_map_to_sync_errors(
    response: httpx.Response, error: type[Exception], text: str
) -> None:
    with client(lambda _r: response) as hq, pytest.raises(error, match=text) as caught:
        hq.me()
    if isinstance(caught.value, HQResponseError) and caught.value.status == 403:
        assert caught.value.facts == {"event_id": "e1"}


def test_timeouts_and_refused_connections_are_unavailable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with client(down) as hq, pytest.raises(HQUnavailable, match="ConnectError"):
        hq.pull(0, 10)
