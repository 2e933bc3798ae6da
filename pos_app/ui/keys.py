"""The checkout's keys: ONE table drives the function-key buttons, the key bindings and
the F1 help, so a bound key can never be missing from the help."""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.ui.messages import translate

CONTEXT = "FunctionKeys"


@dataclass(frozen=True)
class FunctionKey:
    """One key of the checkout screen.

    Attributes:
        key: As printed on the button and in the help: ``"F4"``, ``"Ctrl+Q"``.
        label: The button's short label (English source, translated in ``CONTEXT``).
        help: What the key does, for the F1 help (translated in ``CONTEXT``).
        object_name: The button's object name.
        action: The :class:`~pos_app.ui.checkout.CheckoutScreen` method it calls.
        argument: An argument for ``action`` (the payment method), or None.
    """

    key: str
    label: str
    help: str
    object_name: str
    action: str
    argument: str | None = None

    @property
    def ctrl(self) -> bool:
        """Pressed with Ctrl."""
        return self.key.startswith("Ctrl+")

    @property
    def key_name(self) -> str:
        """The Qt key's name without the modifier (``"F4"``, ``"Q"``)."""
        return self.key.removeprefix("Ctrl+")

    def translated_label(self) -> str:
        """The button's label in the current language."""
        return translate(CONTEXT, self.label)

    def translated_help(self) -> str:
        """The help line in the current language."""
        return translate(CONTEXT, self.help)


_T = QT_TRANSLATE_NOOP  # an alias: scripts/i18n.py reads its literal (context, text) calls
FUNCTION_KEYS: tuple[FunctionKey, ...] = (
    FunctionKey(
        "F1", _T("FunctionKeys", "Help"), _T("FunctionKeys", "This help"), "helpButton", "show_help"
    ),
    FunctionKey(
        "F2",
        _T("FunctionKeys", "Member"),
        _T("FunctionKeys", "Register a member"),
        "memberButton",
        "open_register",
    ),
    FunctionKey(
        "F3",
        _T("FunctionKeys", "Points"),
        _T("FunctionKeys", "Pay part with points"),
        "pointsButton",
        "open_points",
    ),
    FunctionKey(
        "F4",
        _T("FunctionKeys", "Cash"),
        _T("FunctionKeys", "Pay cash"),
        "payCashButton",
        "open_payment",
        "cash",
    ),
    FunctionKey(
        "F5",
        _T("FunctionKeys", "Card/Mobile"),
        _T("FunctionKeys", "Pay by card, WeChat Pay or Alipay"),
        "payCardButton",
        "open_payment",
        "card",
    ),
    FunctionKey(
        "F6",
        _T("FunctionKeys", "Hold"),
        _T("FunctionKeys", "Hold the basket"),
        "holdButton",
        "hold",
    ),
    FunctionKey(
        "F7",
        _T("FunctionKeys", "Recall"),
        _T("FunctionKeys", "Recall a held basket"),
        "recallButton",
        "recall",
    ),
    FunctionKey(
        "F8",
        _T("FunctionKeys", "Void"),
        _T("FunctionKeys", "Void the basket (press twice)"),
        "voidButton",
        "void",
    ),
    FunctionKey(
        "F9",
        _T("FunctionKeys", "Return"),
        _T("FunctionKeys", "Return / refund a sale"),
        "returnButton",
        "open_refund",
        "",
    ),
    FunctionKey(
        "F10",
        _T("FunctionKeys", "Reprint"),
        _T("FunctionKeys", "Reprint the last receipt (marked 重印)"),
        "reprintButton",
        "reprint",
    ),
    FunctionKey(
        "F11",
        _T("FunctionKeys", "Mall"),
        _T(
            "FunctionKeys",
            "The points mall's front page (hot, value picks, new, lottery); "
            "in the mall: arrows and Enter choose, F11 lists every item, Esc goes back",
        ),
        "mallButton",
        "open_mall",
    ),
    FunctionKey(
        "F12", _T("FunctionKeys", "Lock"), _T("FunctionKeys", "Lock the till"), "lockButton", "lock"
    ),
    FunctionKey(
        "Ctrl+Q",
        _T("FunctionKeys", "Coupon"),
        _T("FunctionKeys", "Apply a coupon to the basket"),
        "couponButton",
        "open_coupons",
    ),
    FunctionKey(
        "Ctrl+M",
        _T("FunctionKeys", "Manager"),
        _T("FunctionKeys", "The manager's views (managers only)"),
        "managerButton",
        "open_manager",
    ),
    FunctionKey(
        "Ctrl+P",
        _T("FunctionKeys", "Receipt"),
        _T("FunctionKeys", "Show the last receipt on screen (Esc hides it)"),
        "receiptButton",
        "show_last_receipt",
    ),
)
"""Every key bound on the checkout screen, in button order."""

#: Keys the scan line and the basket handle themselves (help only, no button).
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    (
        "Enter",
        _T(
            "FunctionKeys",
            "Scan or type: barcode / SKU, member code, phone, last 4 digits, receipt no.",
        ),
    ),
    ("3*code", _T("FunctionKeys", "Ring up 3 units of a product")),
    ("138*1234", _T("FunctionKeys", "A member by the first 3 and last 4 digits of the phone")),
    ("Del", _T("FunctionKeys", "Remove the selected line")),
    ("Esc", _T("FunctionKeys", "Clear the input, hide the receipt / close a dialog")),
)


def help_rows() -> list[tuple[str, str]]:
    """(key, meaning) rows of the F1 help: what the scan line understands, then every
    key of :data:`FUNCTION_KEYS`, translated."""
    typed = [(key, translate(CONTEXT, text)) for key, text in OTHER_KEYS[:3]]
    bound = [(fk.key, fk.translated_help()) for fk in FUNCTION_KEYS]
    rest = [(key, translate(CONTEXT, text)) for key, text in OTHER_KEYS[3:]]
    return typed + bound + rest
