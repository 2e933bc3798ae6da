"""Dialogs of the checkout: points, payment, member registration, pick lists, help."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pos_app.core.notify import Consent
from pos_app.core.quote import Quote
from pos_app.ui.basket import parse_yuan
from pos_app.ui.keys import help_rows
from pos_app.ui.messages import money, note_text
from pos_app.ui.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QEvent,
    QFont,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    QPixmap,
    QPushButton,
    QResizeEvent,
    QScrollArea,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.widgets import MessageLabel, only_default, select_on_focus


def _big(label: QLabel, size: int = 20) -> QLabel:
    font = QFont(label.font())
    font.setPointSize(size)
    font.setBold(True)
    label.setFont(font)
    return label


class PointsDialog(QDialog):
    """Choose how many points pay for the basket.

    The spin box is pre-filled with the largest allowed amount and steps in whole
    spending units; every limit of the quote is listed, the binding one highlighted.

    Signals:
        chosen: The cashier confirmed an allowed amount (int points).
    """

    chosen = Signal(int)

    def __init__(
        self, quote: Quote, balance: int, points_per_yuan: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pointsDialog")
        self.setWindowTitle(self.tr("Pay with points"))
        self.setModal(True)
        self.setMinimumWidth(520)
        self.quote = quote
        self.points_per_yuan = points_per_yuan
        self.unit = next(
            (
                int(n.params["unit"])
                for n in quote.limits
                if n.code == "unit" and "unit" in n.params
            ),
            100,
        )
        self.max_usable = quote.max_usable_points
        self.spin = QSpinBox()
        self.spin.setObjectName("pointsSpin")
        self.spin.setSingleStep(self.unit)
        self.spin.setMaximum(max(balance - balance % self.unit, self.max_usable, 0))
        self.spin.setValue(self.max_usable)
        self.spin.setSuffix(self.tr(" points"))
        self.spin.setMinimumHeight(40)
        _big_font = QFont(self.spin.font())
        _big_font.setPointSize(16)
        self.spin.setFont(_big_font)
        select_on_focus(self.spin)  # typing replaces the pre-filled amount
        self.value = QLabel()
        self.value.setObjectName("pointsValue")
        self.headline = _big(QLabel(), 13)
        self.headline.setObjectName("pointsMax")
        self.headline.setText(
            self.tr("Balance {balance} points · at most {max} points on this order").format(
                balance=balance, max=self.max_usable
            )
        )
        self.headline.setWordWrap(True)
        self.limit_labels: dict[str, QLabel] = {}
        limits_box = QVBoxLayout()
        binding = quote.binding_limit.code if quote.binding_limit else None
        for note in quote.limits:
            label = QLabel()
            label.setObjectName(f"limit_{note.code}")
            label.setWordWrap(True)
            is_binding = note.code == binding
            label.setProperty("binding", is_binding)
            if is_binding:
                label.setText("▶ " + note_text(note) + "  " + self.tr("(this limit applies)"))
                label.setStyleSheet(
                    "QLabel { background:#fff4d6; border:1px solid #e0b84c; font-weight:bold;"
                    " padding:4px; border-radius:3px; }"
                )
            else:
                label.setText("• " + note_text(note))
                label.setStyleSheet("QLabel { padding:4px; color:#444; }")
            limits_box.addWidget(label)
            self.limit_labels[note.code] = label
        self.error = MessageLabel("pointsError")
        self.ok = QPushButton(self.tr("Use these points (Enter)"))
        self.ok.setObjectName("pointsOk")
        self.none = QPushButton(self.tr("No points"))
        self.none.setObjectName("pointsNone")
        self.cancel = QPushButton(self.tr("Cancel (Esc)"))
        self.cancel.setObjectName("pointsCancel")

        form = QHBoxLayout()
        form.addWidget(self.spin, 1)
        form.addWidget(self.value)
        buttons = QHBoxLayout()
        buttons.addWidget(self.none)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("Limits:")))
        layout.addLayout(limits_box)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

        self.spin.valueChanged.connect(self._update_value)
        self.ok.clicked.connect(self.confirm)
        self.none.clicked.connect(self._no_points)
        self.cancel.clicked.connect(self.reject)
        only_default(self, self.ok)
        self._update_value(self.spin.value())

    def _no_points(self) -> None:
        self.spin.setValue(0)
        self.confirm()

    def _update_value(self, points: int) -> None:
        fen = points * 100 // self.points_per_yuan
        self.value.setText(self.tr("= {value}").format(value=money(fen)))
        self.error.clear_message()

    def confirm(self) -> None:
        """Check the amount against the quote's limits, then emit :attr:`chosen`."""
        points = self.spin.value()
        if points % self.unit:
            self.error.show_message(
                self.tr("Points are used in multiples of {unit}.").format(unit=self.unit)
            )
            return
        if points > self.max_usable:
            reason = note_text(self.quote.binding_limit) if self.quote.binding_limit else ""
            self.error.show_message(
                self.tr("At most {max} points can be used on this order. {reason}").format(
                    max=self.max_usable, reason=reason
                )
            )
            return
        self.chosen.emit(points)
        self.accept()


PAYMENT_METHODS = ("cash", "card", "wechat", "alipay")


class PaymentDialog(QDialog):
    """Take the amount due: cash with change, or card / WeChat Pay / Alipay recorded.

    The dialog stays open while the sale is committed; the checkout screen closes it
    on success or shows the error in it.

    Signals:
        confirmed: (method, received_fen or None) the cashier confirmed the payment.
    """

    confirmed = Signal(str, object)

    def __init__(self, due_fen: int, method: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paymentDialog")
        self.setWindowTitle(self.tr("Payment"))
        self.setModal(True)
        self.setMinimumWidth(440)
        self.due_fen = due_fen
        self.due = _big(QLabel(money(due_fen)), 26)
        self.due.setObjectName("paymentDue")
        self.due.setStyleSheet("color:#b71c1c;")
        self.method = QComboBox()
        self.method.setObjectName("paymentMethod")
        names = {
            "cash": self.tr("Cash"),
            "card": self.tr("Bank card"),
            "wechat": self.tr("WeChat Pay"),
            "alipay": self.tr("Alipay"),
        }
        for code in PAYMENT_METHODS:
            self.method.addItem(names[code], code)
        self.method.setCurrentIndex(PAYMENT_METHODS.index(method))
        self.received = QLineEdit(f"{due_fen / 100:.2f}")
        self.received.setObjectName("receivedInput")
        self.received_label = QLabel(self.tr("Received"))
        self.change = _big(QLabel(), 16)
        self.change.setObjectName("changeLabel")
        self.quick: list[QPushButton] = []
        quick_row = QHBoxLayout()
        for yuan in (50, 100, 200):
            button = QPushButton(money(yuan * 100))
            button.setObjectName(f"quickCash_{yuan}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, y=yuan: self.received.setText(f"{y}.00"))
            quick_row.addWidget(button)
            self.quick.append(button)
        self.error = MessageLabel("paymentError")
        self.ok = QPushButton(self.tr("Complete sale (Enter)"))
        self.ok.setObjectName("confirmPayment")
        self.ok.setMinimumHeight(44)
        self.cancel = QPushButton(self.tr("Cancel (Esc)"))
        self.cancel.setObjectName("cancelPayment")

        form = QFormLayout()
        form.addRow(self.tr("To pay"), self.due)
        form.addRow(self.tr("Method"), self.method)
        form.addRow(self.received_label, self.received)
        form.addRow("", quick_row)
        form.addRow(self.tr("Change"), self.change)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.ok)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

        self.method.currentIndexChanged.connect(self._method_changed)
        self.received.textChanged.connect(self._update_change)
        self.received.returnPressed.connect(self.submit)
        self.ok.clicked.connect(self.submit)
        self.cancel.clicked.connect(self.reject)
        only_default(self, self.ok)
        self._method_changed()

    @property
    def method_code(self) -> str:
        """The selected payment method."""
        return str(self.method.currentData())

    def _method_changed(self) -> None:
        cash = self.method_code == "cash"
        for widget in (self.received, self.received_label, self.change, *self.quick):
            widget.setVisible(cash)
        self._update_change()
        if cash:
            self.received.setFocus()
            self.received.selectAll()

    def _update_change(self) -> None:
        self.error.clear_message()
        received = parse_yuan(self.received.text())
        if self.method_code != "cash":
            self.change.setText("")
        elif received is None:
            self.change.setText("—")
        else:
            self.change.setText(money(max(0, received - self.due_fen)))

    def submit(self) -> None:
        """Validate the amount received and emit :attr:`confirmed`."""
        if not self.ok.isEnabled():
            return
        received: int | None = None
        if self.method_code == "cash":
            received = parse_yuan(self.received.text())
            if received is None:
                self.error.show_message(self.tr("Type the cash received, e.g. 100 or 88.50."))
                return
            if received < self.due_fen:
                self.error.show_message(
                    self.tr("The cash received ({received}) is less than {due}.").format(
                        received=money(received), due=money(self.due_fen)
                    )
                )
                return
        self.set_busy(True)
        self.confirmed.emit(self.method_code, received)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while the sale is being committed."""
        self.ok.setEnabled(not busy)
        self.cancel.setEnabled(not busy)

    def show_error(self, text: str) -> None:
        """Show why the sale was refused (nothing was written)."""
        self.set_busy(False)
        self.error.show_message(text)


class RegisterDialog(QDialog):
    """Register a member at the counter: phone, name, birthday, referral code.

    Signals:
        submitted: (phone, name, birthday or None, referral code) to register.
    """

    submitted = Signal(str, str, object, str)

    def __init__(self, phone: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("registerDialog")
        self.setWindowTitle(self.tr("Register a member"))
        self.setModal(True)
        self.setMinimumWidth(460)
        self.phone = QLineEdit(phone)
        self.phone.setObjectName("regPhone")
        self.phone.setPlaceholderText(self.tr("Mobile number, e.g. 13812341234"))
        self.name = QLineEdit()
        self.name.setObjectName("regName")
        self.name.setMaxLength(32)
        self.name.setPlaceholderText(self.tr("Optional"))
        self.birthday = QLineEdit()
        self.birthday.setObjectName("regBirthday")
        self.birthday.setPlaceholderText(self.tr("Optional, YYYY-MM-DD"))
        self.referral = QLineEdit()
        self.referral.setObjectName("regReferral")
        self.referral.setPlaceholderText(self.tr("Optional, a friend's referral code"))
        self.consent = QLabel(
            self.tr(
                "Only the phone number is required. The till keeps a masked number, "
                "never the full one."
            )
        )
        self.consent.setWordWrap(True)
        self.consent.setStyleSheet("color:#666;")
        self.marketing = QCheckBox(self.tr("Agrees to offers and member news"))
        self.marketing.setObjectName("regMarketing")
        self.channels = {
            "sms": QCheckBox(self.tr("SMS")),
            "wechat": QCheckBox(self.tr("WeChat")),
            "email": QCheckBox(self.tr("E-mail")),
        }
        for code, box in self.channels.items():
            box.setObjectName(f"regChannel_{code}")
        self.notify_earned = QCheckBox(self.tr("Tell me the points of each purchase"))
        self.notify_earned.setObjectName("regNotifyEarned")
        self.error = MessageLabel("regError")
        self.ok = QPushButton(self.tr("Register (Enter)"))
        self.ok.setObjectName("regSubmit")
        self.cancel = QPushButton(self.tr("Cancel (Esc)"))
        self.cancel.setObjectName("regCancel")
        form = QFormLayout()
        form.addRow(self.tr("Phone"), self.phone)
        form.addRow(self.tr("Name"), self.name)
        form.addRow(self.tr("Birthday"), self.birthday)
        form.addRow(self.tr("Referral code"), self.referral)
        reach = QHBoxLayout()
        for box in self.channels.values():
            reach.addWidget(box)
        reach.addStretch(1)
        form.addRow(self.tr("Contact by"), reach)
        form.addRow("", self.marketing)
        form.addRow("", self.notify_earned)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.ok)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.consent)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.ok.clicked.connect(self.submit)
        self.cancel.clicked.connect(self.reject)
        for field in (self.phone, self.name, self.birthday, self.referral):
            field.returnPressed.connect(self.submit)
        only_default(self, self.ok)

    def consent_choice(self) -> Consent:
        """What the member agreed to (every box starts unticked: no consent assumed)."""
        return Consent(
            marketing=self.marketing.isChecked(),
            channels=frozenset(c for c, box in self.channels.items() if box.isChecked()),
            notify_earned=self.notify_earned.isChecked(),
        )

    def submit(self) -> None:
        """Check the birthday's format and emit :attr:`submitted`."""
        if not self.ok.isEnabled():
            return
        birthday: dt.date | None = None
        text = self.birthday.text().strip()
        if text:
            try:
                birthday = dt.date.fromisoformat(text)
            except ValueError:
                self.error.show_message(
                    self.tr("Type the birthday as YYYY-MM-DD, e.g. 1990-03-05.")
                )
                return
        self.ok.setEnabled(False)
        self.submitted.emit(
            self.phone.text().strip(), self.name.text().strip(), birthday, self.referral.text()
        )

    def show_error(self, text: str) -> None:
        """Show why registration was refused (nothing was written)."""
        self.ok.setEnabled(True)
        self.error.show_message(text)


class PickDialog(QDialog):
    """A short list to pick one entry from (members by last 4 digits, held baskets).

    Signals:
        picked: The data of the chosen entry.
    """

    picked = Signal(object)

    def __init__(
        self,
        title: str,
        prompt: str,
        entries: list[tuple[str, Any]],
        object_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setWindowTitle(title)
        self.setModal(True)
        self.setMinimumWidth(460)
        self.list = QListWidget()
        self.list.setObjectName("pickList")
        for text, data in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, data)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.ok = QPushButton(self.tr("Choose (Enter)"))
        self.ok.setObjectName("pickOk")
        cancel = QPushButton(self.tr("Cancel (Esc)"))
        cancel.setObjectName("pickCancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.ok)
        self.prompt = QLabel(prompt)
        self.prompt.setObjectName("pickPrompt")
        self.prompt.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.ok.clicked.connect(self.choose)
        cancel.clicked.connect(self.reject)
        self.list.itemActivated.connect(lambda _item: self.choose())
        self.list.installEventFilter(self)
        only_default(self)

    def choose(self, row: int | None = None) -> None:
        """Pick ``row`` (default: the current row)."""
        if row is not None:
            self.list.setCurrentRow(row)
        item = self.list.currentItem()
        if item is None:
            return
        self.picked.emit(item.data(Qt.ItemDataRole.UserRole))
        self.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Qt override: digits 1-9 typed in the list pick that row at once."""
        if watched is self.list and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            text = event.text()
            if text.isdigit() and 1 <= int(text) <= self.list.count():
                self.choose(int(text) - 1)
                return True
        return super().eventFilter(watched, event)


class HelpDialog(QDialog):
    """Keyboard shortcuts and what the input line understands (from the one key table,
    :mod:`pos_app.ui.keys`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle(self.tr("Help"))
        layout = QFormLayout(self)
        self.rows = help_rows()
        for key, meaning in self.rows:
            key_label = QLabel(key)
            key_label.setStyleSheet("font-weight:bold;")
            layout.addRow(key_label, QLabel(meaning))  # one line each: wrapped, the
            # dialog's first size cut the longest row's second line off
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.accept)
        layout.addRow("", close)


class ReceiptPane(QFrame):
    """A receipt on screen, inside the checkout screen where the basket is (never a
    window of its own): it cannot cover the till, the lock screen or a dialog, never
    takes the keyboard, and scales to the room it has. Esc on the checkout hides it.

    Attributes:
        image: The label holding the receipt picture.
        receipt_no: The receipt shown last, or None.

    Signals:
        close_requested: The close button was clicked.
    """

    close_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("receiptPreviewPane")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.receipt_no: str | None = None
        self._pixmap: QPixmap | None = None
        self.title = QLabel()
        self.title.setObjectName("receiptPreviewTitle")
        self.image = QLabel()
        self.image.setObjectName("receiptPreview")
        self.image.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.image.setStyleSheet("QLabel { background: white; }")
        self.scroller = QScrollArea()
        self.scroller.setWidget(self.image)
        self.scroller.setWidgetResizable(True)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button = QPushButton(self.tr("Hide receipt (Esc)"))
        self.close_button.setObjectName("receiptPreviewClose")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.clicked.connect(self.close_requested)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(head)
        layout.addWidget(self.scroller, 1)

    def load(self, png: str, receipt_no: str | None) -> bool:
        """Load the receipt picture at ``png`` (replacing the previous one).

        Returns:
            False when the file is not a picture (nothing changes).
        """
        pixmap = QPixmap(png)
        if pixmap.isNull():
            return False
        self.receipt_no = receipt_no
        self._pixmap = pixmap
        self.title.setText(self.tr("Receipt {no}").format(no=receipt_no or ""))
        self._fit()
        return True

    def clear(self) -> None:
        """Forget the receipt (another cashier, a new session)."""
        self.receipt_no = None
        self._pixmap = None
        self.image.clear()
        self.title.clear()

    @property
    def has_receipt(self) -> bool:
        """A receipt is loaded."""
        return self._pixmap is not None

    def _fit(self) -> None:
        """The paper as wide as it is, or narrowed to the room (never wider)."""
        if self._pixmap is None:
            return
        room = max(120, self.scroller.viewport().width() - 4)
        pixmap = self._pixmap
        if pixmap.width() > room:
            pixmap = pixmap.scaledToWidth(room, Qt.TransformationMode.SmoothTransformation)
        self.image.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Qt override: rescale the receipt to the new width."""
        super().resizeEvent(event)
        self._fit()
