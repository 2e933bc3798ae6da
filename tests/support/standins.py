"""Local stand-ins for the providers HQ's channels talk to, each speaking its protocol:

* an SMTP server (``aiosmtpd``) that keeps what it received and can answer a scripted
  SMTP error first;
* Tencent Cloud's SMS API (``POST /`` with ``X-TC-Action: SendSms``, the answer wrapped
  in ``Response``), pointed at by the SDK's ``HttpProfile(endpoint=..., protocol="http")``;
* WeChat's API (``GET token``, ``POST message/subscribe/bizsend``), pointed at by the
  client's API base URL.

Each stand-in records what it received and answers from a script of canned answers
(then success), so tests can make the provider busy, rate-limited or refuse a template.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Script:
    """Answers to give first (then the default), and what was received."""

    answers: list[Any] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> Any:
        with self.lock:
            return self.answers.pop(0) if self.answers else None


class _SmtpHandler:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        answer = self.script.next_answer()
        if answer is not None:
            return str(answer)  # e.g. "451 4.3.0 try again later"
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        self.script.received.append(
            (list(envelope.rcpt_tos), message_from_bytes(data, policy=default))
        )
        return "250 OK"


@dataclass
class SmtpStandIn:
    """A running SMTP server."""

    host: str
    port: int
    script: Script

    @property
    def messages(self) -> list[tuple[list[str], Message]]:
        """(recipients, message) of every e-mail accepted."""
        return list(self.script.received)


@contextmanager
def smtp_server() -> Iterator[SmtpStandIn]:
    """An ``aiosmtpd`` server on a free loopback port."""
    script = Script()
    with socket.socket() as probe:  # aiosmtpd checks its own port: name a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_SmtpHandler(script), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpStandIn("127.0.0.1", port, script)
    finally:
        controller.stop()


class _JsonHandler(BaseHTTPRequestHandler):
    script: Script
    kind: str

    def log_message(self, *_args: Any) -> None:  # quiet
        return

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if self.kind == "wechat" and url.path.endswith("/token"):
            query = parse_qs(url.query)
            if query.get("secret") != ["wx-secret"]:
                self._reply(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
                return
            self._reply(200, {"access_token": "ACCESS", "expires_in": 7200})
            return
        self._reply(404, {"error": "not here"})

    def do_POST(self) -> None:
        if self.kind == "sms":
            self._sms()
        else:
            self._wechat()

    def _sms(self) -> None:
        body = self._body()
        if self.headers.get("X-TC-Action") != "SendSms" or "TC3-HMAC-SHA256" not in (
            self.headers.get("Authorization") or ""
        ):
            self._reply(200, {"Response": {"Error": {"Code": "AuthFailure", "Message": "bad"}}})
            return
        request_id = str(uuid.uuid4())
        answer = self.script.next_answer()
        if isinstance(answer, str) and answer.startswith("http:"):  # the gateway failed
            self._reply(int(answer.removeprefix("http:")), {"message": "gateway error"})
            return
        if isinstance(answer, str) and answer.startswith("request:"):
            code = answer.removeprefix("request:")
            error = {"Code": code, "Message": f"stand-in says {code}"}
            self._reply(200, {"Response": {"Error": error, "RequestId": request_id}})
            return
        code = answer or "Ok"
        self.script.received.append(body)
        status = {
            "SerialNo": f"2640:{request_id[:8]}",
            "PhoneNumber": body["PhoneNumberSet"][0],
            "Fee": 1,
            "SessionContext": body.get("SessionContext", ""),
            "Code": code,
            "Message": "send success" if code == "Ok" else f"stand-in says {code}",
            "IsoCode": "CN",
        }
        self._reply(200, {"Response": {"SendStatusSet": [status], "RequestId": request_id}})

    def _wechat(self) -> None:
        url = urlparse(self.path)
        if parse_qs(url.query).get("access_token") != ["ACCESS"]:
            self._reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
            return
        if not url.path.endswith("/message/subscribe/bizsend"):
            self._reply(404, {"errcode": 404, "errmsg": "not here"})
            return
        answer = self.script.next_answer()
        if isinstance(answer, str) and answer.startswith("http:"):  # the gateway failed
            self._reply(int(answer.removeprefix("http:")), {"errmsg": "gateway error"})
            return
        if answer is not None:
            self._reply(200, {"errcode": answer, "errmsg": f"stand-in errcode {answer}"})
            return
        self.script.received.append(self._body())
        self._reply(200, {"errcode": 0, "errmsg": "ok", "msgid": len(self.script.received)})


@dataclass
class HttpStandIn:
    """A running HTTP stand-in."""

    host: str
    port: int
    script: Script

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


@contextmanager
def http_standin(kind: str) -> Iterator[HttpStandIn]:
    """The ``sms`` (Tencent Cloud) or ``wechat`` stand-in on a free loopback port."""
    script = Script()
    handler = type("Handler", (_JsonHandler,), {"script": script, "kind": kind})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpStandIn("127.0.0.1", server.server_address[1], script)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
