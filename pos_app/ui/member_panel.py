"""The member panel (tier, balance, expiring points, progress, badges) and the totals."""

from __future__ import annotations

from collections.abc import Sequence

from pos_app.core.mall import Suggestion
from pos_app.core.notes import Note
from pos_app.core.quote import Quote
from pos_app.services.mall import CouponInfo
from pos_app.services.members import MemberSummary
from pos_app.ui.messages import money, note_text, tier_name
from pos_app.ui.qt import (
    QFont,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)

PANEL_WIDTH = 380
TIER_COLOURS = {"regular": "#607d8b", "silver": "#8a94a6", "gold": "#c79100"}


def _bold(label: QLabel, size: int | None = None) -> QLabel:
    font = QFont(label.font())
    font.setBold(True)
    if size:
        font.setPointSize(size)
    label.setFont(font)
    return label


def _note(object_name: str, style: str) -> QLabel:
    """A hidden, word-wrapped line of the member panel."""
    label = QLabel()
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.hide()
    return label


def _badge(object_name: str, colour: str) -> QLabel:
    label = QLabel()
    label.setObjectName(object_name)
    label.setStyleSheet(
        f"QLabel {{ background:{colour}; color:white; border-radius:9px; padding:2px 8px; }}"
    )
    label.hide()
    return label


class MemberPanel(QFrame):
    """What the cashier sees about the identified member.

    Signals:
        clear_requested: The cashier removed the member from the sale.
    """

    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memberPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(PANEL_WIDTH)
        self.summary: MemberSummary | None = None

        self.heading = _bold(QLabel(self.tr("Member")), 12)
        self.clear_button = QPushButton(self.tr("Remove"))
        self.clear_button.setObjectName("clearMember")
        self.clear_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear_button.clicked.connect(self.clear_requested)
        self.empty = QLabel(
            self.tr(
                "No member yet. Scan the member code, or type the phone number "
                "or its last 4 digits, then Enter."
            )
        )
        self.empty.setObjectName("memberEmpty")
        self.empty.setWordWrap(True)
        self.name = _bold(QLabel(), 14)
        self.name.setObjectName("memberName")
        self.phone = QLabel()
        self.phone.setObjectName("memberPhone")
        self.tier = _badge("memberTier", TIER_COLOURS["regular"])
        self.member_day = _badge("memberDayBadge", "#d81b60")
        self.birthday = _badge("birthdayBadge", "#8e24aa")
        self.balance = _bold(QLabel(), 18)
        self.balance.setObjectName("memberBalance")
        self.expiring = QLabel()
        self.expiring.setObjectName("memberExpiring")
        self.expiring.setStyleSheet("color:#b23c17;")
        self.expiring.setWordWrap(True)
        self.progress = QLabel()
        self.progress.setObjectName("memberProgress")
        self.progress.setWordWrap(True)
        self.code = QLabel()
        self.code.setObjectName("memberCode")
        self.code.setStyleSheet("color:#666;")
        self.suggestions = _note(
            "memberSuggestions",
            "QLabel { background:#fff8e1; color:#6d4c00; border:1px solid #f0d58c;"
            " border-radius:4px; padding:4px 6px; }",
        )
        self.coupons = _note("memberCoupons", "color:#174a8b;")

        head = QHBoxLayout()
        head.addWidget(self.heading)
        head.addStretch(1)
        head.addWidget(self.clear_button)
        badges = QHBoxLayout()
        badges.addWidget(self.tier)
        badges.addWidget(self.member_day)
        badges.addWidget(self.birthday)
        badges.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.empty)
        layout.addWidget(self.name)
        layout.addWidget(self.phone)
        layout.addLayout(badges)
        layout.addWidget(self.balance)
        layout.addWidget(self.expiring)
        layout.addWidget(self.progress)
        layout.addWidget(self.code)
        layout.addWidget(self.coupons)
        layout.addWidget(self.suggestions)
        self.show_summary(None)

    def show_summary(self, summary: MemberSummary | None) -> None:
        """Show ``summary`` (None: no member)."""
        self.summary = summary
        has = summary is not None
        self.empty.setVisible(not has)
        self.clear_button.setVisible(has)
        for widget in (self.name, self.phone, self.balance, self.progress, self.code):
            widget.setVisible(has)
        self.tier.setVisible(has)
        if summary is None:
            self.member_day.hide()
            self.birthday.hide()
            self.expiring.hide()
            self.show_suggestions([])
            self.show_coupons([])
            return
        self.name.setText(summary.name or self.tr("(no name)"))
        self.phone.setText(summary.masked_phone)
        self.tier.setText(tier_name(summary.tier, summary.tier_name))
        colour = TIER_COLOURS.get(summary.tier, "#607d8b")
        self.tier.setStyleSheet(
            f"QLabel {{ background:{colour}; color:white; border-radius:9px; padding:2px 8px; }}"
        )
        self.balance.setText(self.tr("{points} points").format(points=f"{summary.balance:,}"))
        if summary.provisional:  # a code scanned while HQ was away: its balance is HQ's
            self.name.setText(self.tr("Member not on this till yet"))
            self.balance.setText(self.tr("Balance unknown: HQ is not reachable"))
            self.progress.setText(
                self.tr(
                    "This sale earns points as a regular member's; HQ adds them to the "
                    "member's balance. No points can be spent until HQ is back."
                )
            )
            self.expiring.hide()
            self.code.setText(self.tr("Member code {code}").format(code=summary.code))
            self.member_day.setVisible(summary.member_day)
            self.birthday.hide()
            return
        if summary.expiring.points:
            self.expiring.setText(
                self.tr("{points} points expire by {date}").format(
                    points=summary.expiring.points, date=summary.expiring.first_date
                )
            )
            self.expiring.show()
        else:
            self.expiring.hide()
        note = summary.progress.note()
        if summary.progress.next_tier is not None:
            name = tier_name(summary.progress.next_tier, summary.progress.next_name or "")
            note = Note(note.code, note.template, {**note.params, "tier": name})
        self.progress.setText(note_text(note))
        self.code.setText(self.tr("Member code {code}").format(code=summary.code))
        self.member_day.setText(self.tr("Member day"))
        self.member_day.setVisible(summary.member_day)
        self.birthday.setText(self.tr("Birthday"))
        self.birthday.setVisible(summary.birthday)

    def show_coupons(self, coupons: Sequence[CouponInfo]) -> None:
        """The member's unused coupons and prizes (a lottery prize HQ issued shows here
        on the member's next visit): applied with Ctrl+Q."""
        names = "、".join(c.name for c in coupons)
        self.coupons.setText(
            self.tr("Coupons and prizes (Ctrl+Q): {names}").format(names=names) if names else ""
        )
        self.coupons.setVisible(bool(coupons) and self.summary is not None)

    def show_suggestions(self, suggestions: Sequence[Suggestion]) -> None:
        """The points-mall suggestions for the member ("您的积分可兑换…")."""
        lines = [f"• {note_text(s.note)}" for s in suggestions]
        self.suggestions.setText(
            self.tr("Points mall (F11):") + "\n" + "\n".join(lines) if lines else ""
        )
        self.suggestions.setVisible(bool(lines) and self.summary is not None)


class TotalsPanel(QFrame):
    """Always-visible totals: subtotal, discounts, points, amount due, points to earn."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("totalsPanel")
        self.setFixedWidth(PANEL_WIDTH)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        self._values: dict[str, QLabel] = {}
        rows = (
            ("subtotal", self.tr("Subtotal")),
            ("discount", self.tr("Discounts")),
            ("points", self.tr("Points")),
            ("total", self.tr("Order total")),
        )
        for row, (key, text) in enumerate(rows):
            value = QLabel()
            value.setObjectName(f"{key}Value")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(QLabel(text), row, 0)
            grid.addWidget(value, row, 1)
            self._values[key] = value
        due_label = _bold(QLabel(self.tr("To pay")), 16)
        self.due = _bold(QLabel(), 26)
        self.due.setObjectName("totalDue")
        self.due.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.due.setStyleSheet("color:#b71c1c;")
        grid.addWidget(due_label, len(rows), 0)
        grid.addWidget(self.due, len(rows), 1)
        self.earn = QLabel()
        self.earn.setObjectName("earnPreview")
        self.earn.setWordWrap(True)
        self.earn.setStyleSheet("color:#1d6b34;")
        grid.addWidget(self.earn, len(rows) + 1, 0, 1, 2)
        self.coupons = QLabel()
        self.coupons.setObjectName("couponsApplied")
        self.coupons.setWordWrap(True)
        self.coupons.setStyleSheet("color:#174a8b;")
        grid.addWidget(self.coupons, len(rows) + 2, 0, 1, 2)
        self.show_quote(None)

    def value(self, key: str) -> str:
        """The text shown for ``key`` (subtotal, discount, points, total)."""
        return self._values[key].text()

    def show_quote(self, quote: Quote | None, member_saving_fen: int = 0) -> None:
        """Show ``quote`` (None: an empty basket); ``member_saving_fen`` (what member
        prices saved) counts in the subtotal at shelf prices and in the discounts."""
        if quote is None:
            for label in self._values.values():
                label.setText(money(0))
            self._values["points"].setText("—")
            self.due.setText(money(0))
            self.earn.setText("")
            self.coupons.hide()
            return
        if quote.coupon_codes:
            self.coupons.setText(
                self.tr("Coupons {codes}: {value}").format(
                    codes=", ".join(quote.coupon_codes), value=money(-quote.coupon_fen)
                )
            )
            self.coupons.show()
        else:
            self.coupons.hide()
        self._values["subtotal"].setText(money(quote.subtotal_fen + member_saving_fen))
        off = member_saving_fen + quote.line_discount_fen + quote.coupon_fen
        self._values["discount"].setText(money(-off))
        if quote.points_used:
            self._values["points"].setText(
                self.tr("{points} pts = {value}").format(
                    points=quote.points_used, value=money(-quote.points_value_fen)
                )
            )
        else:
            self._values["points"].setText("—")
        self._values["total"].setText(money(quote.total_fen))
        self.due.setText(money(quote.cash_due_fen))
        if quote.member_id is None:
            self.earn.setText(self.tr("No member: this sale earns no points."))
        else:
            earned = quote.points_earned + quote.bonus_points_for_member
            self.earn.setText(self.tr("This sale earns {points} points").format(points=earned))
