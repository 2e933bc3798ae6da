"""Errors the loyalty core raises.

Every error carries an English message template and its parameters. The template is
marked with :func:`QT_TRANSLATE_NOOP` so ``pyside6-lupdate`` extracts it into the Qt
translation files; the UI translates the template (context ``"Errors"``) and then fills
in the parameters. The core itself never imports Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pos_app.core.notes import Note

ERRORS_CONTEXT = "Errors"


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Mark ``text`` for translation in ``context`` without translating it here."""
    del context
    return text


class LoyaltyError(Exception):
    """Base class of every business error.

    Attributes:
        template: English source text with ``{name}`` placeholders.
        params: Values for the placeholders.
    """

    template: str = QT_TRANSLATE_NOOP("Errors", "The operation was refused.")

    def __init__(self, template: str | None = None, **params: Any) -> None:
        if template is not None:
            self.template = template
        self.params = params
        super().__init__(self.message())

    def message(
        self,
        translate: Callable[[str], str] | None = None,
        note_translate: Callable[[str], str] | None = None,
    ) -> str:
        """The message, translated by ``translate`` when one is given.

        Parameters that are :class:`~pos_app.core.notes.Note` objects (a limit that
        explains a refusal) are rendered with ``note_translate`` (context ``"Rules"``).
        """
        params = {
            key: value.text(note_translate) if isinstance(value, Note) else value
            for key, value in self.params.items()
        }
        text = translate(self.template) if translate is not None else self.template
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return self.template.format(**params)


class InvalidInput(LoyaltyError):
    """Input that can never be valid (a negative quantity, a malformed phone...)."""


class RuleSetError(LoyaltyError):
    """A rule set document that cannot be loaded."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(
            QT_TRANSLATE_NOOP("Errors", "Rule set field '{field}': {problem}"),
            field=field,
            problem=problem,
        )


class SpendNotAllowed(LoyaltyError):
    """The member asked to use points the rules do not allow."""


class InsufficientPoints(LoyaltyError):
    """A movement would take more points than the member's lots hold."""


class RefundNotAllowed(LoyaltyError):
    """A refund that would exceed what was sold, or that the rules refuse."""


class InvalidCode(LoyaltyError):
    """A scanned member code or receipt code that is malformed or forged."""


class ForgedCode(InvalidCode):
    """A signed member code whose signature does not verify (forged or damaged)."""


class ExpiredCode(InvalidCode):
    """A signed member code used outside its validity window."""


class ReplayedCode(InvalidCode):
    """A signed member code that was already accepted once."""


class RedeemNotAllowed(LoyaltyError):
    """A points-mall redemption the rules refuse (tier, stock, limit, window...)."""


class RedeemPointsShort(RedeemNotAllowed):
    """A redemption refused only because the member has too few points."""


class RedeemTierTooLow(RedeemNotAllowed):
    """A tier-only mall item asked for by a member below that tier (``tier_code`` param)."""


class ScaleLabelError(InvalidCode):
    """A scale label (称重码) the till cannot ring up; nothing is added to the basket."""


class BadCheckDigit(ScaleLabelError):
    """A scale label whose EAN-13 check digit is wrong (a misread or a damaged label)."""


class UnknownScaleLayout(ScaleLabelError):
    """An in-store code (prefix 20-29) whose prefix no scale layout of the rule set names."""


class ImpossibleWeight(ScaleLabelError):
    """A weight label of 0 g or above the rule set's ``scale.max_weight_g``."""


class ImpossiblePrice(ScaleLabelError):
    """A price label of ¥0.00."""
