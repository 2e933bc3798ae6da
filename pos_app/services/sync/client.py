"""HQ's HTTP API as the till calls it, the sync's errors, and where HQ is.

:class:`HQClient` maps HQ's answers to :class:`SyncError` subclasses. The till's HQ
address and token live in its ``settings`` table (``$POS_HQ_URL`` / ``$POS_HQ_TOKEN``
override them); :func:`save_registration` adopts a till credential HQ issued.

Transport security: with HQ's CA certificate (``pos-app register-till --ca FILE``, kept
in the settings as ``hq_ca_cert``) the till trusts that CA alone and refuses any other
server; plain ``http://`` goes only to a loopback address unless the till was
registered with ``--allow-insecure-http`` (:func:`check_hq_url`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from pos_app import __version__
from pos_app.services.context import TillContext
from pos_app.store import repo
from pos_app.store.models import Member, Sale

# -- settings keys (the till's ``settings`` table) ----------------------------------------

SETTING_URL = "hq_url"
SETTING_TOKEN = "hq_token"
SETTING_CURSOR = "sync_cursor"
SETTING_LAST_SYNC = "sync_last_at"
SETTING_HQ_TILL = "hq_till_id"
SETTING_CA = "hq_ca_cert"
SETTING_INSECURE = "hq_allow_insecure_http"
SETTING_REGION = "hq_region"

#: The longest a till waits because HQ said it is busy (a bound on ``Retry-After``).
MAX_RETRY_AFTER = 300.0

#: Environment variables that override the stored HQ address and token (support, tests).
ENV_URL = "POS_HQ_URL"
ENV_TOKEN = "POS_HQ_TOKEN"


# -- errors -------------------------------------------------------------------------------


class SyncError(Exception):
    """Base of everything the sync raises."""


class HQUnavailable(SyncError):
    """HQ cannot be reached, timed out, or answered with a server error (try again later)."""


class HQBusy(HQUnavailable):
    """HQ is up but asked the till to come back later (503 with ``Retry-After``, 429).

    Never a refusal: the request is sent again, as is, after the wait.

    Attributes:
        retry_after: Seconds HQ asked for (at most :data:`MAX_RETRY_AFTER`; 0: it did not
            say).
    """

    def __init__(self, status: int, retry_after: float) -> None:
        self.status = status
        self.retry_after = retry_after
        asked = f": it asks to come back in {retry_after:.0f} s" if retry_after else ""
        super().__init__(f"HQ is busy ({status}){asked}")


def retry_after_seconds(value: str | None) -> float:
    """``Retry-After`` as seconds, at most :data:`MAX_RETRY_AFTER`: whole seconds (HQ never
    sends a date); a missing or unreadable one counts as absent (0)."""
    text = (value or "").strip()
    return min(float(text), MAX_RETRY_AFTER) if text.isdigit() else 0.0


class HQResponseError(SyncError):
    """HQ refused a whole request.

    Attributes:
        status: HTTP status.
        code: HQ's stable error code (``conflict``, ``invalid``...).
        detail: HQ's message (or the list of bad fields of a 422).
        facts: Extra JSON facts HQ attached (ids, amounts).
    """

    def __init__(self, status: int, code: str, detail: Any, facts: Mapping[str, Any]) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.facts = dict(facts)
        super().__init__(f"HQ answered {status} {code}: {_short(detail)}")


class HQAuthError(HQResponseError):
    """HQ does not know (or no longer accepts) the till's token."""


class SyncConfigError(SyncError):
    """The till is not set up for HQ (no address or token, or another identity)."""


def _short(detail: Any, limit: int = 300) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncConfig:
    """Where HQ is and how the till proves who it is.

    Attributes:
        hq_url: HQ's base URL (``https://hq.example.com``).
        token: The till's bearer token (``ptt_…``), from ``pos-app register-till``.
        push_batch: Events per push request (HQ takes at most 500).
        pull_page: Changes per pull page (HQ gives at most 5000).
        timeout: Seconds to wait for HQ's answer.
        ca_pem: HQ's CA certificate (PEM): the only CA the till trusts for HQ.
        allow_insecure_http: Plain HTTP to a non-loopback HQ is allowed (explicitly).
    """

    hq_url: str
    token: str
    push_batch: int = 100
    pull_page: int = 500
    timeout: float = 30.0
    ca_pem: str | None = None
    allow_insecure_http: bool = False


def load_sync_config(ctx: TillContext, env: Mapping[str, str] | None = None) -> SyncConfig | None:
    """The till's HQ settings (``$POS_HQ_URL`` / ``$POS_HQ_TOKEN`` win), or None."""
    env = os.environ if env is None else env
    with ctx.db.read() as session:
        url = env.get(ENV_URL) or repo.get_setting(session, SETTING_URL)
        token = env.get(ENV_TOKEN) or repo.get_setting(session, SETTING_TOKEN)
        ca_pem = repo.get_setting(session, SETTING_CA)
        insecure = repo.get_setting(session, SETTING_INSECURE) == "1"
    if not url or not token:
        return None
    return SyncConfig(url, token, ca_pem=ca_pem or None, allow_insecure_http=insecure)


def check_hq_url(url: str, allow_insecure_http: bool = False) -> None:
    """Refuse an HQ address the till must not send its token to.

    Raises:
        SyncConfigError: not http(s), or plain HTTP to a host other than this machine
            without ``allow_insecure_http``.
    """
    parsed = httpx.URL(url)
    if parsed.scheme == "https":
        return
    if parsed.scheme != "http":
        raise SyncConfigError(f"HQ's address must be https:// (or http:// on loopback): {url}")
    host = parsed.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_insecure_http:
        raise SyncConfigError(
            f"refusing plain HTTP to {host}: the till's token would cross the network in "
            "clear. Use https:// with HQ's CA (pos-app register-till --ca FILE), or "
            "--allow-insecure-http"
        )


def tls_context(ca_pem: str) -> ssl.SSLContext:
    """A TLS context trusting HQ's CA alone (host names checked).

    Raises:
        SyncConfigError: not a PEM certificate.
    """
    try:
        return ssl.create_default_context(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as exc:
        raise SyncConfigError(f"HQ's CA certificate is not usable: {exc}") from None


def save_sync_config(ctx: TillContext, hq_url: str, token: str) -> None:
    """Store HQ's address and the till's token."""
    with ctx.db.write() as session:
        repo.put_setting(session, SETTING_URL, hq_url.rstrip("/"))
        repo.put_setting(session, SETTING_TOKEN, token)


def holds_data(ctx: TillContext) -> bool:
    """True once the till holds members or sales (its identity can no longer change)."""
    with ctx.db.read() as session:
        return (
            session.scalars(select(Member.id).limit(1)).first() is not None
            or session.scalars(select(Sale.id).limit(1)).first() is not None
        )


def save_registration(
    ctx: TillContext,
    hq_url: str,
    credential: Mapping[str, Any],
    *,
    ca_pem: str | None = None,
    allow_insecure_http: bool = False,
) -> None:
    """Adopt a till credential from HQ: its token, store and till codes and the phone key,
    with HQ's CA certificate (``ca_pem``) and whether plain HTTP is allowed.

    The phone-hash key must be HQ's for phone lookups to work across stores, and the
    store and till codes must be the ones HQ registered (HQ refuses sales naming another
    store). Neither can change once the till holds members or sales, because the stored
    hashes and receipt numbers depend on them. Reopen the till afterwards.

    Raises:
        SyncConfigError: the credential is not a till's, or the till already holds data
            made under another identity.
    """
    if credential.get("kind") != "till" or not credential.get("token"):
        raise SyncConfigError("this is not a till credential")
    store, till = str(credential.get("store_code") or ""), str(credential.get("till_code") or "")
    key = str(credential.get("phone_key") or "").lower()
    if not store or not till or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise SyncConfigError("the credential lacks the store, the till or the phone key")
    with ctx.db.write() as session:
        same = (
            repo.get_setting(session, "store_id") == store
            and repo.get_setting(session, "till_id") == till
            and ctx.db.keys.phone_key == bytes.fromhex(key)
        )
        if not same:
            if (
                session.scalars(select(Member.id).limit(1)).first() is not None
                or session.scalars(select(Sale.id).limit(1)).first() is not None
            ):
                raise SyncConfigError(
                    "this till already holds members or sales made under another store, "
                    "till or phone key: register it with its current codes, or start a "
                    "new till database"
                )
            repo.put_setting(session, "store_id", store)
            repo.put_setting(session, "till_id", till)
            ctx.db.set_phone_key(bytes.fromhex(key))  # the key store, not the file
        repo.put_setting(session, SETTING_URL, hq_url.rstrip("/"))
        repo.put_setting(session, SETTING_TOKEN, str(credential["token"]))
        repo.put_setting(session, SETTING_HQ_TILL, str(credential.get("id") or f"{store}-{till}"))
        repo.put_setting(session, SETTING_CA, ca_pem or "")
        repo.put_setting(session, SETTING_INSECURE, "1" if allow_insecure_http else "0")


# -- HTTP ---------------------------------------------------------------------------------


class HQClient:
    """A thin client of HQ's API (``docs/api.md``): JSON in, JSON out, errors mapped.

    Network failures, timeouts and 5xx answers raise :class:`HQUnavailable`; 401
    raises :class:`HQAuthError`; other 4xx answers raise :class:`HQResponseError`.
    One client per thread (the worker has its own). Over the network (no ``transport``
    given) the address must pass :func:`check_hq_url`; with ``ca_pem`` only a server
    whose certificate that CA signed is accepted.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        ca_pem: str | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        if transport is None:
            check_hq_url(base_url, allow_insecure_http)
        headers = {"User-Agent": f"points-till/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            verify=tls_context(ca_pem) if ca_pem else True,
        )

    @classmethod
    def from_config(
        cls,
        config: SyncConfig,
        transport: httpx.BaseTransport | None = None,
        *,
        timeout: float | None = None,
    ) -> HQClient:
        """A client for ``config`` (``timeout`` overrides its timeout)."""
        return cls(
            config.hq_url,
            config.token,
            transport=transport,
            timeout=config.timeout if timeout is None else timeout,
            ca_pem=config.ca_pem,
            allow_insecure_http=config.allow_insecure_http,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HQClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        token: str | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one request; the decoded JSON answer, or an error (see the class).

        A connection HQ closed just as it was reused (its keep-alive ran out) is retried
        once on a fresh one when the request is idempotent, as every sync request is
        (events and holds carry their ids).
        """
        headers = {"Authorization": f"Bearer {token}"} if token else None
        for attempt in (1, 2):
            try:
                response = self._http.request(
                    method, path, json=json_body, params=params, headers=headers
                )
                break
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if attempt == 2 or not idempotent:
                    raise HQUnavailable(f"HQ unreachable: {type(exc).__name__}: {exc}") from exc
            except httpx.TransportError as exc:
                raise HQUnavailable(f"HQ unreachable: {type(exc).__name__}: {exc}") from exc
        _raise_unavailable(response)
        try:
            body = response.json() if response.content else None
        except ValueError:
            raise HQUnavailable(f"HQ answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            _raise_refusal(response, body)
        return body

    def stream_lines(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[bytes]:
        """GET ``path`` and yield the answer's lines (newline-ended) as they arrive (gzip
        is undone).

        Raises:
            HQUnavailable: HQ cannot be reached, or the stream was cut.
            HQResponseError: HQ refused the request (HQAuthError for 401).
        """
        try:
            with self._http.stream("GET", path, params=params) as response:
                _raise_unavailable(response)
                if response.status_code >= 400:
                    response.read()
                    _raise_refusal(response)
                pending = b""
                for chunk in response.iter_bytes():
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    yield from lines
                if pending:  # every line ends with a newline: the answer stopped mid-line
                    raise HQUnavailable("HQ's answer was cut in the middle of a line")
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise HQUnavailable(f"HQ's answer was cut: {type(exc).__name__}: {exc}") from exc

    # -- the till's calls ---------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """Who the token is, HQ's clock, the active rule set and the phone-hash key."""
        return dict(self.request("GET", "/v1/me"))

    def push(self, events: Sequence[Mapping[str, Any]], sent_at: dt.datetime) -> dict[str, Any]:
        """POST /v1/push: per-event results, in order."""
        body = {"events": list(events), "sent_at": sent_at.isoformat()}
        return dict(self.request("POST", "/v1/push", json_body=body))

    def pull(self, cursor: str, limit: int) -> dict[str, Any]:
        """GET /v1/pull: the changes after ``cursor`` (opaque text)."""
        return dict(self.request("GET", "/v1/pull", params={"cursor": cursor, "limit": limit}))

    def snapshot(self, after: str = "") -> Iterator[bytes]:
        """GET /v1/snapshot: the lines of the till's first-sync snapshot (NDJSON)."""
        return self.stream_lines("/v1/snapshot", {"after": after} if after else None)

    def lookup_member(self, **key: str | int) -> dict[str, Any] | None:
        """GET /v1/members/lookup by ``phone_hash``, ``member_no`` or ``member_id``: the
        member whole (HQ keeps it in the till's region from now on), or None."""
        try:
            return dict(self.request("GET", "/v1/members/lookup", params=key))
        except HQResponseError as exc:
            if exc.status == 404:
                return None
            raise

    def create_hold(
        self, hold_id: str, member_id: str, points: int, sale_id: str | None, ttl_seconds: int
    ) -> dict[str, Any]:
        """POST /v1/holds: reserve ``points`` of the member at HQ."""
        body = {
            "id": hold_id,
            "member_id": member_id,
            "points": points,
            "ttl_seconds": ttl_seconds,
            "sale_id": sale_id,
        }
        return dict(self.request("POST", "/v1/holds", json_body=body))

    def post_hold(self, hold_id: str, sale_id: str) -> dict[str, Any]:
        """POST /v1/holds/{id}/post: the sale took the points."""
        return dict(
            self.request("POST", f"/v1/holds/{hold_id}/post", json_body={"sale_id": sale_id})
        )

    def void_hold(self, hold_id: str) -> dict[str, Any]:
        """POST /v1/holds/{id}/void: release the points."""
        return dict(self.request("POST", f"/v1/holds/{hold_id}/void"))

    def record_code_use(self, code: str) -> dict[str, Any]:
        """POST /v1/member-codes/uses: the till accepts this scanned member code (409
        ``code_used`` when it was used anywhere before)."""
        return dict(self.request("POST", "/v1/member-codes/uses", json_body={"code": code}))

    def register_till(
        self, admin_token: str, store: str, till_code: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/admin/stores/{store}/tills with an admin token: a till credential."""
        return dict(
            self.request(
                "POST",
                f"/v1/admin/stores/{store}/tills",
                json_body={"till_code": till_code},
                token=admin_token,
                idempotent=False,  # a second till would be created
            )
        )


def _raise_unavailable(response: httpx.Response) -> None:
    """HQBusy for 503/429 with ``Retry-After``, HQUnavailable for other 5xx."""
    status = response.status_code
    if status in (429, 503) and (status == 429 or "retry-after" in response.headers):
        raise HQBusy(status, retry_after_seconds(response.headers.get("retry-after")))
    if status >= 500:
        raise HQUnavailable(f"HQ answered {status}")


def _raise_refusal(response: httpx.Response, body: Any = None) -> None:
    """The HQResponseError (HQAuthError for 401) of a 4xx answer."""
    if body is None:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
    detail: Any = body
    code, facts = "http", dict[str, Any]()
    if isinstance(body, dict):
        detail = body.get("detail", body)
        code = str(body.get("code") or "http")
        facts = body.get("facts") or {}
    cls = HQAuthError if response.status_code == 401 else HQResponseError
    raise cls(response.status_code, code, detail, facts)
