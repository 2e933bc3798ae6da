"""The channels HQ reaches members on, behind one interface, each with its real library:
e-mail over SMTP (``smtplib``), SMS through Tencent Cloud's SMS SDK
(``tencentcloud-sdk-python-sms``, templates with numbered variables), WeChat
subscription messages through ``wechatpy``.

Each channel turns a provider's answer into a :class:`Delivery`: ``sent`` (with the
provider's reference), ``retry`` (busy, rate-limited, network: the job tries again
later with backoff), ``rejected`` (the provider refused the template or signature:
retrying cannot help) or ``failed`` (this message cannot go, e.g. an address refused).
The configuration is a JSON file (docs/notifications.md); secrets come from
environment variables named in it.
"""

from __future__ import annotations

import json
import os
import smtplib
import threading
import time
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pos_app.core.notify import KINDS

SENT, RETRY, REJECTED, FAILED = "sent", "retry", "rejected", "failed"


@dataclass(frozen=True)
class Message:
    """One rendered message.

    Attributes:
        id: The notification's id (the e-mail's Message-ID, the SMS session context).
        kind: Its kind (picks the provider template).
        title: Subject / title.
        text: The full Chinese text.
        params: The template variables in the kind's order.
    """

    id: str
    kind: str
    title: str
    text: str
    params: dict[str, str]


@dataclass(frozen=True)
class Delivery:
    """What a provider said about one message."""

    status: str
    provider_ref: str | None = None
    error: str | None = None


class Channel(Protocol):
    """A way to reach members (sms, wechat, email)."""

    name: str

    def send(self, address: str, message: Message) -> Delivery:
        """Hand ``message`` to the provider for ``address``; never raises for a
        provider's answer (it becomes the :class:`Delivery`)."""
        ...


class RateLimiter:
    """At most ``per_second`` sends per second on one channel (threads share it)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next send is allowed."""
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            time.sleep(delay)


# -- configuration ----------------------------------------------------------------------


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(env: str | None) -> str | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise ValueError(f"the environment variable {env} (a channel secret) is not set")
    return value


class EmailConfig(_Config):
    """SMTP: host, port, the sender, STARTTLS or SMTPS, login."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str
    sender_name: str = ""
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    timeout: float = 20.0
    per_second: float = 20.0


def known_kinds(templates: dict[str, Any]) -> None:
    """Refuse a template configured for a kind that does not exist (a typo would leave
    the real kind without one: every message of it rejected).

    Raises:
        ValueError: names the unknown kinds and the known ones.
    """
    unknown = sorted(set(templates) - set(KINDS))
    if unknown:
        raise ValueError(f"templates for unknown kinds {unknown} (kinds: {', '.join(KINDS)})")


class SmsConfig(_Config):
    """Tencent Cloud SMS (API 2021-01-11)."""

    endpoint: str = "sms.tencentcloudapi.com"
    protocol: Literal["https", "http"] = "https"
    region: str = "ap-guangzhou"
    secret_id: str
    secret_key_env: str
    sdk_app_id: str
    sign_name: str
    templates: dict[str, str]
    timeout: int = 20
    per_second: float = 10.0

    @field_validator("templates")
    @classmethod
    def _kinds(cls, templates: dict[str, str]) -> dict[str, str]:
        known_kinds(templates)
        return templates


class WechatTemplate(_Config):
    """A subscription-message template: its id and which variable fills each field."""

    id: str
    fields: dict[str, str]


class WechatConfig(_Config):
    """A WeChat official account's subscription messages."""

    appid: str
    secret_env: str
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    templates: dict[str, WechatTemplate]
    page: str | None = None
    timeout: float = 20.0
    per_second: float = 10.0

    @field_validator("templates")
    @classmethod
    def _kinds(cls, templates: dict[str, WechatTemplate]) -> dict[str, WechatTemplate]:
        known_kinds(templates)
        for kind, template in templates.items():
            unknown = sorted(set(template.fields.values()) - set(KINDS[kind].params))
            if unknown:
                raise ValueError(f"{kind}: fields name unknown variables {unknown}")
        return templates


class NotifyConfig(_Config):
    """What the notification job needs beyond the rule set."""

    mall_url: str = ""
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    backoff_seconds: Annotated[int, Field(ge=1, le=86_400)] = 60
    email: EmailConfig | None = None
    sms: SmsConfig | None = None
    wechat: WechatConfig | None = None

    @classmethod
    def load(cls, path: Path | None) -> NotifyConfig:
        """The configuration in ``path`` (JSON); none: no channel, nothing sent.

        Raises:
            ValueError: unreadable, or a field wrong (named).
        """
        if path is None:
            return cls()
        try:
            return cls.model_validate(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            raise ValueError(f"notification config {path}: {exc}") from None

    def channels(self) -> dict[str, Channel]:
        """A channel for each configured provider."""
        found: dict[str, Channel] = {}
        if self.email is not None:
            found["email"] = EmailChannel(self.email)
        if self.sms is not None:
            found["sms"] = TencentSmsChannel(self.sms)
        if self.wechat is not None:
            found["wechat"] = WechatChannel(self.wechat)
        return found


# -- e-mail -----------------------------------------------------------------------------


class EmailChannel:
    """E-mail over SMTP with :mod:`smtplib`."""

    name = "email"

    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        self.limiter = RateLimiter(config.per_second)
        self._password = _secret(config.password_env)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.security == "starttls":
                smtp.starttls()
        if cfg.username:
            smtp.login(cfg.username, self._password or "")
        return smtp

    def compose(self, address: str, message: Message) -> EmailMessage:
        """The e-mail of ``message`` (UTF-8, its Message-ID made of the notification id)."""
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = str(Address(self.config.sender_name, addr_spec=self.config.sender))
        mail["To"] = address
        domain = self.config.sender.rpartition("@")[2] or None
        mail["Message-ID"] = make_msgid(idstring=message.id, domain=domain)
        mail.set_content(message.text)
        return mail

    def send(self, address: str, message: Message) -> Delivery:
        """Deliver over SMTP: 4xx and network errors retry, 5xx fail."""
        self.limiter.wait()
        mail = self.compose(address, message)
        try:
            with self._connect() as smtp:
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            return _smtp_answer(next(iter(exc.recipients.values())))
        except smtplib.SMTPResponseException as exc:
            return _smtp_answer((exc.smtp_code, exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(RETRY, error=f"smtp: {type(exc).__name__}: {exc}")
        if refused:
            return _smtp_answer(next(iter(refused.values())))
        return Delivery(SENT, provider_ref=str(mail["Message-ID"]))


def _smtp_answer(answer: tuple[int, bytes | str]) -> Delivery:
    code, text = answer
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    status = RETRY if 400 <= code < 500 else FAILED
    return Delivery(status, error=f"smtp {code}: {words}")


# -- SMS (Tencent Cloud) ----------------------------------------------------------------

_SMS_RETRY = ("RequestLimitExceeded", "InternalError", "ServerNetworkError", "ClientNetworkError")
_SMS_REJECTED = (
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "FailedOperation.MissingTemplateToModify",
    "InvalidParameterValue.TemplateParameterFormatError",
    "InvalidParameterValue.TemplateParameterLengthLimit",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
)
_SMS_LIMITS = (
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
)


def _sms_outcome(code: str, message: str, ref: str | None = None) -> Delivery:
    if code in ("Ok", "OK"):
        return Delivery(SENT, provider_ref=ref)
    error = f"sms {code}: {message}"
    if code.startswith(_SMS_RETRY) or code in _SMS_LIMITS:
        return Delivery(RETRY, error=error)
    if code in _SMS_REJECTED:
        return Delivery(REJECTED, error=error)
    return Delivery(FAILED, error=error)


class TencentSmsChannel:
    """SMS through Tencent Cloud's SDK: a template per kind, its variables in order."""

    name = "sms"

    def __init__(self, config: SmsConfig) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        self.config = config
        self.limiter = RateLimiter(config.per_second)
        http = HttpProfile(
            protocol=config.protocol, endpoint=config.endpoint, reqTimeout=config.timeout
        )
        profile = ClientProfile(httpProfile=http)
        profile.disable_region_breaker = True
        secret = _secret(config.secret_key_env) or ""
        self.client = sms_client.SmsClient(
            credential.Credential(config.secret_id, secret), config.region, profile
        )

    def send(self, address: str, message: Message) -> Delivery:
        """One ``SendSms`` call for one number."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        template = self.config.templates.get(message.kind)
        if template is None:
            return Delivery(REJECTED, error=f"sms: no template configured for {message.kind}")
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [address]
        request.SmsSdkAppId = self.config.sdk_app_id
        request.SignName = self.config.sign_name
        request.TemplateId = template
        request.TemplateParamSet = [message.params[p] for p in KINDS[message.kind].params]
        request.SessionContext = message.id
        self.limiter.wait()
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            return _sms_outcome(str(exc.get_code()), str(exc.get_message()))
        statuses = response.SendStatusSet or []
        if not statuses:
            return Delivery(RETRY, error=f"sms: no status in answer {response.RequestId}")
        status = statuses[0]
        return _sms_outcome(str(status.Code), str(status.Message), status.SerialNo)


# -- WeChat subscription messages -------------------------------------------------------

_WECHAT_RETRY = frozenset({-1, 45009, 45011, 40001, 42001})
_WECHAT_REJECTED = frozenset({40037, 47003, 47001, 41030})


class WechatChannel:
    """Subscription messages (``message/subscribe/bizsend``) through ``wechatpy``."""

    name = "wechat"

    def __init__(self, config: WechatConfig) -> None:
        from wechatpy import WeChatClient

        base = config.api_base_url

        class Client(WeChatClient):  # type: ignore[misc]
            API_BASE_URL = base

            def fetch_access_token(self) -> Any:
                return self._fetch_access_token(
                    url=f"{base}token",
                    params={
                        "grant_type": "client_credential",
                        "appid": self.appid,
                        "secret": self.secret,
                    },
                )

        self.config = config
        self.limiter = RateLimiter(config.per_second)
        self.client = Client(config.appid, _secret(config.secret_env), timeout=config.timeout)

    def send(self, address: str, message: Message) -> Delivery:
        """One subscription message to the openid ``address``."""
        from wechatpy.exceptions import WeChatClientException

        template = self.config.templates.get(message.kind)
        if template is None:
            return Delivery(REJECTED, error=f"wechat: no template configured for {message.kind}")
        data = {field: {"value": message.params[name]} for field, name in template.fields.items()}
        self.limiter.wait()
        try:
            answer = self.client.message.send_subscribe_message(
                address, template.id, data, page=self.config.page
            )
        except WeChatClientException as exc:
            code = exc.errcode
            error = f"wechat {code}: {exc.errmsg}"
            if code is None or code in _WECHAT_RETRY:
                return Delivery(RETRY, error=error)
            if code in _WECHAT_REJECTED:
                return Delivery(REJECTED, error=error)
            return Delivery(FAILED, error=error)
        except OSError as exc:
            return Delivery(RETRY, error=f"wechat: {type(exc).__name__}: {exc}")
        ref = answer.get("msgid") if isinstance(answer, dict) else None
        return Delivery(SENT, provider_ref=str(ref) if ref is not None else None)
