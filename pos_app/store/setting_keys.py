"""Every setting the till keeps in its ``settings`` table: key, type, default, meaning.

The one list of them (no database code here: the login screen reads it before the
database layer is imported). :mod:`pos_app.store.settings` refuses to read or write a
key that is not declared here, so a typo fails at once instead of reading a default
forever. A :class:`SettingFamily` declares keys made of a prefix and an id (HQ's
member-code keys).

The keys keep the names they were first stored under (``hq_url``, ``receipt.footer``,
``printer.last_condition``...): renaming a stored key would need a data migration. New
settings use ``<area>.<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T", str, int, bool)


@dataclass(frozen=True)
class SettingSpec(Generic[T]):
    """One setting.

    Attributes:
        key: Its key in the ``settings`` table.
        type: ``str``, ``int`` or ``bool`` (stored as text; booleans as ``1``/``0``).
        default: The value while the setting is absent.
        description: What it means, who writes it.
        secret: Its value is hidden from support bundles.
    """

    key: str
    type: type[T]
    default: T
    description: str
    secret: bool = False

    def parse(self, text: str | None) -> T:
        """The stored ``text`` as the setting's type (the default when absent)."""
        if text is None:
            return self.default
        if self.type is bool:
            return self.type(text == "1")
        return self.type(text)

    def format(self, value: T) -> str:
        """``value`` as stored."""
        if self.type is bool:
            return "1" if value else "0"
        return str(value)


@dataclass(frozen=True)
class SettingFamily:
    """Settings whose keys are ``prefix`` followed by an id.

    Attributes:
        prefix: The keys' common beginning.
        description: What each one holds.
        secret: Their values are hidden from support bundles.
    """

    prefix: str
    description: str
    secret: bool = False

    def key(self, suffix: object) -> str:
        """The key of one member of the family."""
        return f"{self.prefix}{suffix}"


# -- the till's identity ----------------------------------------------------------------------
STORE_ID = SettingSpec("store_id", str, "", "The store this till belongs to (first start, HQ).")
TILL_ID = SettingSpec("till_id", str, "", "This till's id within its store.")
STORE_NAME = SettingSpec("store_name", str, "", "The store's name (login screen, receipts).")
DEMO = SettingSpec("demo", bool, False, "The database holds demo data (pos-app demo-data).")
LAST_LOGIN = SettingSpec(
    "last_login_user", str, "", "The user who logged in last (pre-selected at login)."
)

# -- receipts and the printer -----------------------------------------------------------------
MALL_BASE_URL = SettingSpec(
    "receipt.mall_base_url",
    str,
    "https://mall.example.cn",
    "Base of the points mall's URL printed as a QR code on member receipts.",
)
STORE_ADDRESS = SettingSpec("receipt.store_address", str, "", "Address printed on receipts.")
FOOTER = SettingSpec("receipt.footer", str, "", "Closing text of receipts (empty: thank-you).")
PRINTER_CONDITION = SettingSpec(
    "printer.last_condition",
    str,
    "ok",
    "The paper state the printer reported last (ok, paper_low, paper_out).",
)

# -- the customer displays (客显) ------------------------------------------------------------------
DISPLAY_POLE_PORT = SettingSpec(
    "display.pole_port", str, "", "Serial device of the pole display; empty: no pole display."
)
DISPLAY_BAUDRATE = SettingSpec("display.baudrate", int, 9600, "The pole display's speed.")
DISPLAY_ENCODING = SettingSpec(
    "display.encoding", str, "gb18030", "The pole display's encoding (gb18030, gbk, ascii)."
)
DISPLAY_CHINESE_MODE = SettingSpec(
    "display.chinese_mode", bool, False, "Send FS & after ESC @ (models that need it)."
)
DISPLAY_LANGUAGE = SettingSpec(
    "display.language", str, "zh_CN", "The pole display's words (zh_CN or en)."
)
DISPLAY_SCREEN = SettingSpec(
    "display.screen", str, "auto", "The second-screen window: auto, off or a screen number."
)

# -- HQ and sync --------------------------------------------------------------------------------
HQ_URL = SettingSpec("hq_url", str, "", "HQ's base URL (pos-app register-till).")
HQ_TOKEN = SettingSpec("hq_token", str, "", "The till's credential at HQ.", secret=True)
HQ_TILL = SettingSpec("hq_till_id", str, "", "HQ's id of this till.")
HQ_CA = SettingSpec("hq_ca_cert", str, "", "PEM of the CA HQ's TLS certificate is checked with.")
HQ_INSECURE = SettingSpec(
    "hq_allow_insecure_http", bool, False, "Plain HTTP to HQ allowed (test setups only)."
)
HQ_REGION = SettingSpec("hq_region", str, "", "The region HQ's snapshot covers.")
SYNC_CURSOR = SettingSpec("sync_cursor", str, "", "Where the next pull of HQ's changes starts.")
SYNC_LAST_AT = SettingSpec("sync_last_at", str, "", "End of the last complete sync (ISO time).")
SYNC_RESTART_ROW = SettingSpec(
    "sync_restart_row",
    int,
    0,
    "The newest ledger rowid when HQ was found restored from a backup.",
)
SNAPSHOT_CURSOR = SettingSpec(
    "snapshot_cursor", str, "", "A first sync in progress: the cursor to pull from once done."
)
SNAPSHOT_AFTER = SettingSpec(
    "snapshot_after", str, "", "A first sync in progress: the last member committed."
)
SNAPSHOT_DONE = SettingSpec("snapshot_done", int, 0, "A first sync in progress: members so far.")
SNAPSHOT_TOTAL = SettingSpec("snapshot_total", int, 0, "A first sync in progress: of how many.")
SNAPSHOT_INDEXES = SettingSpec(
    "snapshot_indexes",
    str,
    "",
    "A fresh till's first sync in progress: the indexes it builds at its end (JSON list).",
)

# -- member codes ---------------------------------------------------------------------------------
MEMBER_CODE_KEYS = SettingFamily(
    "member_code_key.", "One of HQ's member-code public keys (JSON: key, window, revocation)."
)

SETTINGS: tuple[SettingSpec[str] | SettingSpec[int] | SettingSpec[bool], ...] = (
    STORE_ID,
    TILL_ID,
    STORE_NAME,
    DEMO,
    LAST_LOGIN,
    MALL_BASE_URL,
    STORE_ADDRESS,
    FOOTER,
    PRINTER_CONDITION,
    DISPLAY_POLE_PORT,
    DISPLAY_BAUDRATE,
    DISPLAY_ENCODING,
    DISPLAY_CHINESE_MODE,
    DISPLAY_LANGUAGE,
    DISPLAY_SCREEN,
    HQ_URL,
    HQ_TOKEN,
    HQ_TILL,
    HQ_CA,
    HQ_INSECURE,
    HQ_REGION,
    SYNC_CURSOR,
    SYNC_LAST_AT,
    SYNC_RESTART_ROW,
    SNAPSHOT_CURSOR,
    SNAPSHOT_AFTER,
    SNAPSHOT_DONE,
    SNAPSHOT_TOTAL,
    SNAPSHOT_INDEXES,
)
"""Every single setting."""

FAMILIES: tuple[SettingFamily, ...] = (MEMBER_CODE_KEYS,)
"""Every family of settings."""

_BY_KEY = {spec.key: spec for spec in SETTINGS}


def is_declared(key: str) -> bool:
    """True when ``key`` is a declared setting or belongs to a declared family."""
    return key in _BY_KEY or any(key.startswith(f.prefix) for f in FAMILIES)


def check_key(key: str) -> str:
    """``key`` when it is declared.

    Raises:
        KeyError: an undeclared setting (add it to this module).
    """
    if not is_declared(key):
        raise KeyError(f"setting {key!r} is not declared in pos_app.store.setting_keys")
    return key


def is_secret(key: str) -> bool:
    """True when the declared setting ``key`` holds a secret."""
    spec = _BY_KEY.get(key)
    if spec is not None:
        return spec.secret
    return any(key.startswith(f.prefix) and f.secret for f in FAMILIES)
