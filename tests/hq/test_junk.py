"""Junk at every endpoint: always a 4xx with a clear message, never a 5xx."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

from tests.hq.conftest import HQ
from tests.hq.support import basket

JUNK_VALUES: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    2**63,
    -(2**70),
    1.5,
    float("1e308"),
    "",
    "x" * 10_000,
    "\x00",
    "NaN",
    "2026-13-45T99:99",
    "'; DROP TABLE members; --",
    "会员积分",
    [],
    [None],
    {},
    {"a": {"b": {"c": [1, 2, {"d": None}]}}},
)

RAW_BODIES: tuple[bytes, ...] = (
    b"",
    b"{",
    b"null",
    b"[]",
    b"\xff\xfe\x00",
    b'{"events": "' + b"A" * 100_000 + b'"}',
    b"[" * 5000 + b"]" * 5000,
    b'{"events": [{"id": "e1", "kind": "sale", "payload": {"sale": '
    + b"[" * 3000
    + b"]" * 3000
    + b"}}]}",
)


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON document (containers and scalars)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))


def replaced(doc: Any, path: tuple[Any, ...], new: Any) -> Any | None:
    """``doc`` with the value at ``path`` replaced (None if ``doc`` has no such path)."""
    if not path:
        return new
    out = copy.deepcopy(doc)
    target = out
    try:
        for key in path[:-1]:
            target = target[key]
        target[path[-1]]
    except (KeyError, IndexError, TypeError):
        return None
    target[path[-1]] = new
    return out


def token_for(hq: HQ, path: str) -> str:
    if path.startswith("/v1/admin"):
        return hq.admin
    if path.startswith("/v1/channel"):
        return hq.mall
    return hq.till1


def concrete(path: str, value: str = "mall") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def check(response: Any, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert body.get("detail"), (what, body)


def test_junk_bodies_params_and_paths_at_every_endpoint(hq: HQ) -> None:
    spec = hq.client.get("/openapi.json").json()
    routes = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    assert len(routes) >= 20
    for method, path in routes:
        headers = hq.headers(token_for(hq, path))
        url = concrete(path)
        if method in ("POST", "PUT"):
            for raw in RAW_BODIES if path == "/v1/push" else RAW_BODIES[:4]:
                response = hq.client.request(
                    method, url, content=raw, headers=headers | {"content-type": "application/json"}
                )
                check(response, (method, path, raw[:40]))
            for junk in JUNK_VALUES:
                check(
                    hq.client.request(method, url, json=junk, headers=headers), (method, path, junk)
                )
                body = {
                    "events": [junk],
                    "id": junk,
                    "points": junk,
                    "document": junk,
                    "code": junk,
                }
                check(
                    hq.client.request(method, url, json=body, headers=headers), (method, path, body)
                )
        else:
            for junk in JUNK_VALUES[::3]:
                params = {"cursor": junk, "limit": junk, "kind": junk, "after": junk}
                params = {k: v for k, v in params.items() if isinstance(v, (str, int))}
                check(
                    hq.client.request(method, url, params=params, headers=headers), (path, params)
                )
        if "{" in path:
            for value in ("x" * 3000, "%00", "..%2F..", "é a", "0" * 49):
                check(
                    hq.client.request(method, concrete(path, value), json={}, headers=headers),
                    (path, value),
                )


def test_junk_in_every_field_of_every_event_kind(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    sale = till.sale(member_id, basket(100))
    hq.push_ok(hq.till1, registered, sale)
    sale_id = sale["payload"]["sale"]["id"]
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "member_registered": lambda: till.register("13912345678")[1],
        "sale": lambda: till.sale(member_id, basket(60), points=0),
        "refund": lambda: (till.sales[sale_id].update(done={}), till.refund(sale_id, {0: 1}))[1],
        "adjustment": lambda: till.adjustment(member_id, 10),
        "expiry": lambda: till.expiry(member_id, 1),
    }
    small_junk: tuple[Any, ...] = (None, 2**63, "\x00", "x" * 600, [])
    pushed = 0
    for kind, make in makers.items():
        template = make()
        for path in leaves(template):
            if path[:1] == ("created_at",):
                continue
            batch = [ev for junk in small_junk if (ev := replaced(make(), path, junk)) is not None]
            if not batch:
                continue
            response = hq.push(hq.till1, *batch)
            pushed += len(batch)
            check(response, (kind, path))
            if response.status_code == 200:
                for result in response.json()["results"]:
                    assert result["http_status"] < 500, (kind, path, result)
                    if result["status"] != "applied":
                        assert result["error"], result
    assert pushed > 500


def test_a_validation_error_names_the_field(hq: HQ) -> None:
    response = hq.client.post(
        "/v1/holds",
        json={"id": "h1", "member_id": "m1", "points": "lots"},
        headers=hq.headers(hq.till1),
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("body.points:")
    till = hq.till("001", "01")
    member_id, registered = till.register("13812341234")
    bad = till.sale(member_id, basket(10))
    bad["payload"]["lines"][0]["quantity"] = -3
    (result,) = hq.push(hq.till1, bad).json()["results"]
    assert result["status"] == "invalid"
    assert result["error"].startswith("payload.lines.0.quantity:")
    assert result["errors"][0]["loc"] == "payload.lines.0.quantity"
    for when in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "2026-11-17T10:00:00"):
        odd = till.sale(member_id, basket(10))
        odd["payload"]["sale"]["created_at"] = when
        (result,) = hq.push(hq.till1, registered, odd).json()["results"][1:]
        assert (result["status"], result["errors"][0]["loc"]) == (
            "invalid",
            "payload.sale.created_at",
        )
