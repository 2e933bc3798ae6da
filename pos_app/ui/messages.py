"""Turning business errors and rule notes into translated text."""

from __future__ import annotations

from pos_app.core.errors import LoyaltyError
from pos_app.core.money import format_fen
from pos_app.core.notes import Note
from pos_app.ui.qt import QCoreApplication


def translate(context: str, text: str) -> str:
    """``QCoreApplication.translate`` with a plain ``str`` result."""
    return str(QCoreApplication.translate(context, text))


def error_text(error: BaseException) -> str:
    """The message the cashier sees for ``error`` (translated, context "Errors")."""
    if isinstance(error, LoyaltyError):
        return error.message(
            lambda template: translate("Errors", template),
            lambda template: translate("Rules", template),
        )
    template = QCoreApplication.translate("Errors", "Something went wrong: {error}")
    return str(template).format(error=error)


def note_text(note: Note) -> str:
    """A rule note translated in context "Rules"."""
    return note.text(lambda template: translate("Rules", template))


def money(fen: int) -> str:
    """Fen as ``¥12.50``."""
    return format_fen(fen)


def tier_name(code: str, fallback: str) -> str:
    """Display name of a tier: the standard tiers are translated, others use the rules."""
    names = {
        "regular": QCoreApplication.translate("Tiers", "Regular"),
        "silver": QCoreApplication.translate("Tiers", "Silver"),
        "gold": QCoreApplication.translate("Tiers", "Gold"),
    }
    return str(names.get(code, fallback))
