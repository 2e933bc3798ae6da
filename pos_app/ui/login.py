"""The login screen (pick a user, type the PIN) and the lock screen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from pos_app.services.users import UserInfo
from pos_app.ui.messages import error_text
from pos_app.ui.qt import (
    QEvent,
    QFont,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QObject,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.widgets import MessageLabel, PinPad, pin_field
from pos_app.ui.worker import TaskRunner

if TYPE_CHECKING:
    from pos_app.services.context import TillContext

#: Gives the till context on the worker thread (it may be opened there first).
TillOf: TypeAlias = Callable[[], "TillContext"]


def _login_users(ctx: TillContext) -> tuple[list[UserInfo], str | None]:
    from pos_app.services import auth  # the database layer, loaded on the worker

    return auth.login_users(ctx)


def _verify_pin(ctx: TillContext, user_id: str, pin: str) -> UserInfo:
    from pos_app.services import auth

    return auth.verify_pin(ctx, user_id, pin)


def _title(text: str, size: int = 22) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSize(size)
    font.setBold(True)
    label.setFont(font)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class LoginScreen(QWidget):
    """Pick a user and type their PIN (checked with argon2 on the worker).

    Signals:
        logged_in: A user typed their PIN; carries the :class:`UserInfo`.
    """

    logged_in = Signal(object)

    def __init__(
        self, till: TillOf, store_name: str, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loginScreen")
        self._till = till
        self._runner = runner
        self.users = QListWidget()
        self.users.setObjectName("userList")
        self.users.setMinimumWidth(280)
        self.users.setMinimumHeight(220)
        self.users.setStyleSheet(
            "QListWidget { font-size: 16pt; } QListWidget::item { padding: 10px; }"
        )
        self.pin = pin_field("pinInput")
        self.pin.setPlaceholderText(self.tr("PIN"))
        self.pad = PinPad(self.pin)
        self.login_button = QPushButton(self.tr("Log in (Enter)"))
        self.login_button.setObjectName("loginButton")
        self.login_button.setMinimumHeight(44)
        self.error = MessageLabel("loginError")

        left = QVBoxLayout()
        left.addWidget(QLabel(self.tr("Who is at the till?")))
        left.addWidget(self.users, 1)
        right = QVBoxLayout()
        right.addWidget(QLabel(self.tr("PIN")))
        right.addWidget(self.pin)
        right.addWidget(self.pad)
        right.addWidget(self.login_button)
        right.addWidget(self.error)
        right.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(left, 3)
        row.addSpacing(32)
        row.addLayout(right, 2)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(_title(self.tr("Points Till")))
        outer.addWidget(_title(store_name, 12))
        outer.addSpacing(24)
        outer.addLayout(row)
        outer.addStretch(2)

        self.pin.returnPressed.connect(self.submit)
        self.pad.submitted.connect(self.submit)
        self.login_button.clicked.connect(self.submit)
        # Picking a name (click, Enter) moves the keyboard to the PIN; digits typed
        # while the list has the keyboard go to the PIN too.
        self.users.itemClicked.connect(lambda _item: self.pin.setFocus())
        self.users.itemActivated.connect(lambda _item: self.pin.setFocus())
        self.users.currentRowChanged.connect(lambda _row: self.error.clear_message())
        self.users.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Qt override: a digit typed in the user list goes to the PIN field."""
        if watched is self.users and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.text().isdigit():
                self.pin.setFocus()
                self.pin.insert(event.text())
                return True
        return super().eventFilter(watched, event)

    def load_users(self) -> None:
        """(Re)load the user list on the worker."""
        till = self._till
        self._runner.run(
            lambda: _login_users(till()),
            lambda found: self.show_users(*found),
            self.show_error,
            guard=self,
        )

    def show_users(self, users: Sequence[UserInfo], last_id: str | None) -> None:
        """List ``users`` and pre-select whoever logged in last (``last_id``)."""
        self.users.clear()
        for user in users:
            role = self.tr("Manager") if user.is_manager else self.tr("Cashier")
            item = QListWidgetItem(f"{user.name}  ·  {role}")
            item.setData(Qt.ItemDataRole.UserRole, user)
            self.users.addItem(item)
        # The user who logged in last on this till; before any login, the first cashier
        # (a cashier typing her PIN must not try the manager's account).
        ids = [u.id for u in users]
        cashiers = [i for i, u in enumerate(users) if not u.is_manager]
        if last_id in ids:
            self.users.setCurrentRow(ids.index(last_id))
        elif users:
            self.users.setCurrentRow(cashiers[0] if cashiers else 0)
        self.pin.setFocus()

    def select_user(self, name: str) -> bool:
        """Select the user called ``name``. Returns False when there is none."""
        for row in range(self.users.count()):
            user = self.users.item(row).data(Qt.ItemDataRole.UserRole)
            if user.name == name:
                self.users.setCurrentRow(row)
                return True
        return False

    def submit(self) -> None:
        """Check the PIN of the selected user."""
        item = self.users.currentItem()
        if item is None:
            self.error.show_message(self.tr("Pick your name first."))
            return
        user: UserInfo = item.data(Qt.ItemDataRole.UserRole)
        pin = self.pin.text()
        if not pin:
            self.error.show_message(self.tr("Type your PIN."))
            return
        self.login_button.setEnabled(False)
        till = self._till
        self._runner.run(
            lambda: _verify_pin(till(), user.id, pin), self._done, self.show_error, guard=self
        )

    def _done(self, user: UserInfo) -> None:
        self.login_button.setEnabled(True)
        self.pin.clear()
        self.error.clear_message()
        self.logged_in.emit(user)

    def show_error(self, error: Exception) -> None:
        """Say what went wrong (a wrong PIN, a till that could not open) and clear the PIN."""
        self.login_button.setEnabled(True)
        self.pin.clear()
        self.pin.setFocus()
        self.error.show_message(error_text(error))


class LockScreen(QWidget):
    """The till is locked: only the same user's PIN unlocks it.

    Signals:
        unlocked: The right PIN was typed.
        switch_user: Someone else wants to log in (back to the login screen).
    """

    unlocked = Signal()
    switch_user = Signal()

    def __init__(self, till: TillOf, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self._till = till
        self._runner = runner
        self._user: UserInfo | None = None
        self.title = _title(self.tr("Till locked"))
        self.who = QLabel()
        self.who.setObjectName("lockedUser")
        self.who.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin = pin_field("unlockPin")
        self.pin.setPlaceholderText(self.tr("PIN"))
        self.pad = PinPad(self.pin)
        self.unlock_button = QPushButton(self.tr("Unlock (Enter)"))
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.setMinimumHeight(44)
        self.switch_button = QPushButton(self.tr("Log out / switch user"))
        self.switch_button.setObjectName("switchUserButton")
        self.error = MessageLabel("unlockError")

        box = QVBoxLayout()
        box.addWidget(self.title)
        box.addWidget(self.who)
        box.addSpacing(16)
        box.addWidget(self.pin)
        box.addWidget(self.pad)
        box.addWidget(self.unlock_button)
        box.addWidget(self.switch_button)
        box.addWidget(self.error)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(box)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

        self.pin.returnPressed.connect(self.submit)
        self.pad.submitted.connect(self.submit)
        self.unlock_button.clicked.connect(self.submit)
        self.switch_button.clicked.connect(self.switch_user)

    def lock(self, user: UserInfo) -> None:
        """Lock the till for ``user``."""
        self._user = user
        self.who.setText(
            self.tr("Locked by {name}. Type the PIN to unlock.").format(name=user.name)
        )
        self.pin.clear()
        self.error.clear_message()
        self.pin.setFocus()

    def submit(self) -> None:
        """Check the PIN against the user who locked the till."""
        user = self._user
        if user is None:
            return
        pin = self.pin.text()
        if not pin:
            self.error.show_message(self.tr("Type your PIN."))
            return
        till = self._till
        self._runner.run(
            lambda: _verify_pin(till(), user.id, pin), self._done, self._failed, guard=self
        )

    def _done(self, _user: UserInfo) -> None:
        self.pin.clear()
        self.error.clear_message()
        self.unlocked.emit()

    def _failed(self, error: Exception) -> None:
        self.pin.clear()
        self.pin.setFocus()
        self.error.show_message(error_text(error))
