"""The register dialog asks for consent with every box unticked."""

from __future__ import annotations

from pos_app.core.notify import Consent
from pos_app.ui.dialogs import RegisterDialog


def test_consent_boxes_start_unticked_and_give_the_choice(qtbot) -> None:
    dialog = RegisterDialog("13812341234")
    qtbot.addWidget(dialog)
    assert dialog.consent_choice() == Consent(False, frozenset(), False)
    dialog.channels["sms"].setChecked(True)
    dialog.channels["email"].setChecked(True)
    dialog.marketing.setChecked(True)
    assert dialog.consent_choice() == Consent(True, frozenset({"sms", "email"}), False)
    dialog.notify_earned.setChecked(True)
    assert dialog.consent_choice().notify_earned
