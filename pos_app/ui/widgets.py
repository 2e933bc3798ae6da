"""Small widgets shared by the till's screens."""

from __future__ import annotations

from pos_app.ui.qt import (
    QAbstractSpinBox,
    QEvent,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMargins,
    QObject,
    QPushButton,
    QRegularExpression,
    QRegularExpressionValidator,
    QResizeEvent,
    QSize,
    QSizePolicy,
    Qt,
    QTimer,
    QWidget,
    Signal,
)

STYLES = {
    "error": "background:#fdecea; color:#a61b1b; border:1px solid #f3b5b0;",
    "info": "background:#eaf2fd; color:#174a8b; border:1px solid #b7cff3;",
    "success": "background:#e8f6ec; color:#1d6b34; border:1px solid #a9dbb8;",
}


class MessageLabel(QLabel):
    """An inline message: an error, a hint or a success, hidden when empty.

    Attributes:
        kind: ``"error"``, ``"info"`` or ``"success"`` (the last one shown).
    """

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        """Show ``text`` styled as ``kind``."""
        self.kind = kind
        self.setText(text)
        self.setStyleSheet(f"QLabel {{ {STYLES[kind]} border-radius:4px; padding:6px 8px; }}")
        self.setVisible(bool(text))

    def clear_message(self) -> None:
        """Hide the message."""
        self.kind = ""
        self.setText("")
        self.hide()


def only_default(dialog: QWidget, default: QPushButton | None = None) -> None:
    """Stop Enter from pressing a button that merely has focus (QDialog autoDefault).

    Enter in a field is handled by the field itself; only ``default`` (if given) is
    pressed by Enter elsewhere in the dialog.
    """
    for button in dialog.findChildren(QPushButton):
        button.setAutoDefault(False)
        button.setDefault(button is default)


def fkey_button(key: str, text: str, object_name: str) -> QPushButton:
    """A function-key button that shows its key above its label ("F4" / "Cash")."""
    button = QPushButton(f"{key}\n{text}")
    button.setObjectName(object_name)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setMinimumHeight(52)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


def pin_field(object_name: str) -> QLineEdit:
    """A masked field that accepts 4 to 8 digits."""
    field = QLineEdit()
    field.setObjectName(object_name)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setMaxLength(8)
    field.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,8}"), field))
    field.setAlignment(Qt.AlignmentFlag.AlignCenter)
    font = field.font()
    font.setPointSize(18)
    field.setFont(font)
    return field


class PinPad(QWidget):
    """A touch PIN pad writing into a PIN field.

    Signals:
        submitted: The OK key was pressed.
    """

    submitted = Signal()

    def __init__(self, target: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._target = target
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", "OK"]
        for i, key in enumerate(keys):
            label = self.tr("Clear") if key == "C" else key
            button = QPushButton(label)
            button.setObjectName(f"pinKey_{key}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setMinimumSize(64, 48)
            button.clicked.connect(lambda _=False, k=key: self._press(k))
            grid.addWidget(button, i // 3, i % 3)

    def _press(self, key: str) -> None:
        if key == "C":
            self._target.clear()
        elif key == "OK":
            self.submitted.emit()
        elif len(self._target.text()) < self._target.maxLength():
            self._target.setText(self._target.text() + key)
        self._target.setFocus()


class _SelectOnFocus(QObject):
    """Selects a spin box's number whenever it gets the keyboard (see
    :func:`select_on_focus`)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Qt override: on focus in, select the number once Qt has placed the cursor."""
        if event.type() == QEvent.Type.FocusIn and isinstance(watched, QAbstractSpinBox):
            QTimer.singleShot(0, watched.selectAll)
        return False


def select_on_focus(spin: QAbstractSpinBox) -> None:
    """Select the number whenever ``spin`` gets the keyboard, however it got it (Qt
    selects only on Tab), so typing replaces the pre-filled amount."""
    spin.installEventFilter(_SelectOnFocus(spin))


#: Room left around a dialog inside the till's window.
DIALOG_MARGIN = 16


def fit_within(dialog: QWidget, window: QWidget) -> None:
    """Shrink ``dialog`` (before it is shown) so it stays inside the till's ``window``:
    a dialog sized for 1280x800 must not reach past a 1024x768 till's screen."""
    wanted = dialog.size() if dialog.testAttribute(Qt.WidgetAttribute.WA_Resized) else None
    if wanted is None:
        wanted = dialog.sizeHint()
    room = window.size().shrunkBy(
        QMargins(DIALOG_MARGIN, DIALOG_MARGIN, DIALOG_MARGIN, DIALOG_MARGIN)
    )
    if wanted.width() > room.width() or wanted.height() > room.height():
        dialog.resize(wanted.boundedTo(room))


class KeyBar(QWidget):
    """The function-key buttons: one row when the till's screen is wide enough, two rows
    when it is not (a 1024x768 till), never wider than the window."""

    SPACING = 6

    def __init__(self, buttons: list[QPushButton], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("functionKeys")
        self.buttons = buttons
        self.rows = 0
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(self.SPACING)
        self._arrange(1)

    def _row_width(self, count: int) -> int:
        widest = max(b.minimumSizeHint().width() for b in self.buttons)
        return count * widest + (count - 1) * self.SPACING

    def _arrange(self, rows: int) -> None:
        if rows == self.rows:
            return
        self.rows = rows
        for button in self.buttons:
            self._grid.removeWidget(button)
        per_row = -(-len(self.buttons) // rows)
        for column in range(len(self.buttons) + 1):
            self._grid.setColumnStretch(column, 0)
        for i, button in enumerate(self.buttons):
            self._grid.addWidget(button, i // per_row, i % per_row)
        for column in range(per_row):
            self._grid.setColumnStretch(column, 1)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        """Qt override: two rows' width, so the window may be narrower than one row."""
        height = self._grid.minimumSize().height()
        return QSize(self._row_width(-(-len(self.buttons) // 2)), height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Qt override: one row if it fits, else two."""
        self._arrange(1 if event.size().width() >= self._row_width(len(self.buttons)) else 2)
        super().resizeEvent(event)
