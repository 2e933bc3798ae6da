"""The customer display (客显) of the till: a second-screen window and the feed's wiring.

:class:`CustomerDisplay` listens to the checkout screen (an item scanned, the totals,
the payment, the sale done), turns what happens into views with
:mod:`pos_app.services.customer_display`, and publishes them on a
:class:`~pos_app.services.customer_display.DisplayFeed`. The feed drives the pole display
and :class:`CustomerDisplayWindow` (shown full screen on the second screen, or the
screen the settings name), each on its own worker thread: the till never waits for a
display, and a display that fails shows in the status bar (``displayStatus``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pos_app.core.quote import Quote
from pos_app.core.scale import format_weight
from pos_app.devices.customer_view import CustomerView
from pos_app.devices.escpos_render import qr_matrix
from pos_app.services import customer_display as feed_service
from pos_app.services.context import TillContext
from pos_app.services.customer_display import (
    DisplayContext,
    DisplayFeed,
    DisplaySink,
    DisplayStatus,
    PoleSink,
)
from pos_app.ui.checkout import CheckoutScreen, CompletedSale
from pos_app.ui.messages import money
from pos_app.ui.qt import (
    QColor,
    QFont,
    QGridLayout,
    QGuiApplication,
    QImage,
    QLabel,
    QObject,
    QPixmap,
    QStackedWidget,
    QStatusBar,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.worker import TaskRunner

#: How long the finished sale stays on the display before the idle screen (ms).
DONE_HOLD_MS = 12_000
QR_PIXELS = 280

QrMatrix = Sequence[Sequence[bool]]


def qr_image(matrix: QrMatrix, pixels: int = QR_PIXELS) -> QImage:
    """A QR code's modules as a black-on-white image with a quiet zone."""
    quiet = 4
    size = len(matrix) + 2 * quiet
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    black = QColor("black").rgb()
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.setPixel(x + quiet, y + quiet, black)
    scale = max(1, pixels // size)  # whole pixels per module: every module the same size
    return image.scaled(size * scale, size * scale, Qt.AspectRatioMode.KeepAspectRatio)


def _label(name: str, points: int, *, bold: bool = False, colour: str = "") -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    font = QFont(label.font())
    font.setPointSize(points)
    font.setBold(bold)
    label.setFont(font)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    if colour:
        label.setStyleSheet(f"color:{colour};")
    return label


class CustomerDisplayWindow(QWidget):
    """What the customer sees on the second screen: one page per kind of view.

    Attributes:
        view: The view shown last.
        pages: ``idle``, ``item`` and ``payment`` (payment and done share it).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("customerDisplay")
        self.setWindowTitle(self.tr("Customer display"))
        self.setStyleSheet("QWidget#customerDisplay { background:#fdf7ee; }")
        self.view: CustomerView | None = None
        self.stack = QStackedWidget(self)
        self.pages: dict[str, QWidget] = {}
        self._build_idle()
        self._build_item()
        self._build_payment()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 30, 40, 30)
        layout.addWidget(self.stack)
        self.resize(1024, 600)

    def _page(self, name: str) -> QVBoxLayout:
        page = QWidget()
        page.setObjectName(f"{name}Page")
        self.pages[name] = page
        self.stack.addWidget(page)
        layout = QVBoxLayout(page)
        layout.setSpacing(18)
        return layout

    def _build_idle(self) -> None:
        layout = self._page("idle")
        self.store = _label("cdStoreName", 44, bold=True, colour="#8a1c1c")
        self.welcome = _label("cdWelcome", 30, colour="#333")
        self.welcome.setText(self.tr("Welcome"))
        self.notice = _label("cdNotice", 26, bold=True, colour="#c2410c")
        layout.addStretch(1)
        for widget in (self.store, self.welcome, self.notice):
            layout.addWidget(widget)
        layout.addStretch(1)

    def _build_item(self) -> None:
        layout = self._page("item")
        self.item_name = _label("cdItemName", 40, bold=True)
        self.item_detail = _label("cdItemDetail", 26, colour="#444")
        self.item_amount = _label("cdItemAmount", 44, bold=True, colour="#8a1c1c")
        self.line_count = _label("cdLineCount", 20, colour="#666")
        self.total = _label("cdTotal", 48, bold=True)
        layout.addStretch(1)
        for widget in (self.item_name, self.item_detail, self.item_amount):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.line_count)
        layout.addWidget(self.total)

    def _build_payment(self) -> None:
        layout = self._page("payment")
        self.title = _label("cdTitle", 34, bold=True, colour="#8a1c1c")
        self.due = _label("cdDue", 48, bold=True)
        self.points_used = _label("cdPointsUsed", 24, colour="#444")
        self.earned = _label("cdEarned", 32, bold=True, colour="#c2410c")
        self.balance = _label("cdBalance", 26)
        self.change = _label("cdChange", 28, bold=True)
        self.member = _label("cdMember", 20, colour="#555")
        self.qr = QLabel()
        self.qr.setObjectName("cdQr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_hint = _label("cdQrHint", 18, colour="#555")
        self.qr_hint.setText(self.tr("Scan for your points mall"))
        figures = QVBoxLayout()
        for widget in (
            self.title,
            self.due,
            self.points_used,
            self.earned,
            self.balance,
            self.change,
            self.member,
        ):
            figures.addWidget(widget)
        code = QVBoxLayout()
        code.addStretch(1)
        code.addWidget(self.qr)
        code.addWidget(self.qr_hint)
        code.addStretch(1)
        grid = QGridLayout()
        grid.addLayout(figures, 0, 0)
        grid.addLayout(code, 0, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        layout.addLayout(grid)

    # -- showing --------------------------------------------------------------------
    def show_view(self, view: CustomerView, qr: QrMatrix | None = None) -> None:
        """Show ``view`` (``qr``: the member's mall QR code at payment, if any)."""
        self.view = view
        if view.kind == "idle":
            self._show_idle(view)
        elif view.kind == "item":
            self._show_item(view)
        else:
            self._show_payment(view, qr)

    def _show_idle(self, view: CustomerView) -> None:
        self.store.setText(view.store_name)
        day = view.member_day
        if day is None:
            self.notice.setText("")
        elif day.today:
            self.notice.setText(
                self.tr("Today is member day: x{multiplier} points").format(
                    multiplier=day.multiplier
                )
            )
        else:
            self.notice.setText(
                self.tr("Member day on the {day}th of every month: x{multiplier} points").format(
                    day=day.day, multiplier=day.multiplier
                )
            )
        self.stack.setCurrentWidget(self.pages["idle"])

    def _show_item(self, view: CustomerView) -> None:
        self.item_name.setText(view.item_name)
        if view.item_weight_g is not None:
            detail = self.tr("{weight} at {price}/kg").format(
                weight=format_weight(view.item_weight_g), price=money(view.item_unit_fen)
            )
        else:
            detail = f"{view.item_quantity} × {money(view.item_unit_fen)}"
        self.item_detail.setText(detail)
        self.item_amount.setText(money(view.item_amount_fen))
        self.line_count.setText(self.tr("{count} line(s)").format(count=view.line_count))
        self.total.setText(self.tr("Total {amount}").format(amount=money(view.total_fen)))
        self.stack.setCurrentWidget(self.pages["item"])

    def _show_payment(self, view: CustomerView, qr: QrMatrix | None) -> None:
        paying = view.kind == "payment"
        self.title.setText(self.tr("Please pay") if paying else self.tr("Thank you!"))
        due = self.tr("Amount due {amount}") if paying else self.tr("Paid {amount}")
        self.due.setText(due.format(amount=money(view.due_fen)))
        self.points_used.setVisible(bool(view.points_used))
        self.points_used.setText(
            self.tr("Points used: {points} ({value})").format(
                points=view.points_used, value=money(view.points_value_fen)
            )
        )
        member = view.has_member
        for widget in (self.earned, self.balance, self.member):
            widget.setVisible(member)
        self.earned.setText(
            self.tr("This sale earns {points} points").format(points=view.points_earned)
        )
        balance = view.balance_after if view.balance_after is not None else 0
        self.balance.setText(
            self.tr("Balance after payment: {points} points").format(points=balance)
            if paying
            else self.tr("Points balance: {points}").format(points=balance)
        )
        self.member.setText(f"{view.member} · {view.tier_name}" if member else "")
        self.change.setVisible(not paying and bool(view.change_fen))
        self.change.setText(self.tr("Change {amount}").format(amount=money(view.change_fen)))
        self.qr.setVisible(qr is not None)
        self.qr_hint.setVisible(qr is not None)
        self.qr.setPixmap(QPixmap.fromImage(qr_image(qr)) if qr is not None else QPixmap())
        self.stack.setCurrentWidget(self.pages["payment"])


class _Bridge(QObject):
    """Carries the feed's news from its worker threads to the GUI thread.

    Signals:
        view: A view and its QR matrix (or None) for the window.
        status: A :class:`~pos_app.services.customer_display.DisplayStatus`.
    """

    view = Signal(object, object)
    status = Signal(object)


class ScreenSink:
    """The second-screen window as a feed sink: the QR code is made on the feed's
    worker, the window is updated on the GUI thread."""

    name = "screen"

    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge

    def show(self, view: CustomerView) -> None:
        """Hand ``view`` (and its mall QR code at payment) to the window."""
        qr = qr_matrix(view.mall_url) if view.mall_url and view.kind != "item" else None
        self._bridge.view.emit(view, qr)

    def close(self) -> None:
        """Nothing to release (the window closes with the till)."""


class CustomerDisplay(QObject):
    """Wires the checkout screen to the customer displays, and shows their state.

    Attributes:
        window: The second-screen window (made once the settings are read).
        feed: The display feed (None until started, or with no display at all).
        status_label: ``displayStatus`` in the status bar (hidden with no display).
        context: The settings, idle view and mall base URL read at start.
    """

    def __init__(
        self,
        ctx: TillContext,
        checkout: CheckoutScreen,
        runner: TaskRunner,
        status_bar: QStatusBar,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._checkout = checkout
        self._runner = runner
        self._bridge = _Bridge(self)
        self._bridge.status.connect(self._show_status)
        self.window: CustomerDisplayWindow | None = None
        self.feed: DisplayFeed | None = None
        self.context: DisplayContext | None = None
        self._last_row = -1
        self._paying = False
        self._holding_done = False
        self._done_timer = QTimer(self)
        self._done_timer.setSingleShot(True)
        self._done_timer.setInterval(DONE_HOLD_MS)
        self._done_timer.timeout.connect(self.show_idle)
        self.status_label = QLabel()
        self.status_label.setObjectName("displayStatus")
        self.status_label.setStyleSheet("QLabel { padding: 0 10px; border-left: 1px solid #bbb; }")
        self.status_label.hide()
        status_bar.addPermanentWidget(self.status_label)
        checkout.item_added.connect(self._item_added)
        checkout.quote_ready.connect(self._basket_changed)
        checkout.payment_started.connect(self._payment_started)
        checkout.payment_cancelled.connect(self._payment_cancelled)
        checkout.sale_completed.connect(self._sale_completed)
        ctx_ = ctx
        runner.run(lambda: feed_service.load_display_context(ctx_), self.start, self._no_start)

    # -- start and stop --------------------------------------------------------------
    def start(self, context: DisplayContext) -> None:
        """Open the displays the settings name and show the idle screen."""
        self.context = context
        config = context.config
        sinks: list[DisplaySink] = []
        screens = QGuiApplication.screens()
        index = config.screen_index(len(screens))
        if index is not None:
            self.window = CustomerDisplayWindow()
            self._bridge.view.connect(self.window.show_view)
            self.window.setScreen(screens[index])
            self.window.setGeometry(screens[index].geometry())
            if len(screens) > 1:
                self.window.showFullScreen()
            else:
                self.window.show()
            sinks.append(ScreenSink(self._bridge))
        if config.pole_port:
            sinks.append(PoleSink(config))
        if not sinks:
            return
        self.feed = DisplayFeed(sinks, on_status=self._bridge.status.emit)
        self.status_label.setText(self.tr("Customer display ready"))
        self.status_label.show()
        self.feed.publish(context.idle)

    def _no_start(self, error: Exception) -> None:
        self.status_label.setText(self.tr("Customer display settings unreadable"))
        self.status_label.setToolTip(str(error))
        self.status_label.show()

    def stop(self) -> None:
        """Stop the feed's workers and close the window."""
        self._done_timer.stop()
        if self.feed is not None:
            self.feed.stop()
            self.feed = None
        if self.window is not None:
            self.window.close()

    # -- what the till does ----------------------------------------------------------
    def _publish(self, view: CustomerView) -> None:
        if self.feed is not None:
            self.feed.publish(view)

    def _item_added(self, row: int) -> None:
        self._last_row = row
        self._holding_done = False
        self._done_timer.stop()
        self._basket_changed()

    def _basket_changed(self) -> None:
        if self._paying:
            return
        lines = self._checkout.basket.priced_lines()
        if not lines:
            if not self._holding_done:
                self.show_idle()
            return
        self._holding_done = False
        row = self._last_row if 0 <= self._last_row < len(lines) else len(lines) - 1
        self._publish(feed_service.item_view(lines[row], self._checkout.quote, lines))

    def _payment_started(self, quote: Quote) -> None:
        self._paying = True
        base = self.context.mall_base_url if self.context else ""
        self._publish(feed_service.payment_view(quote, self._checkout.member, base))

    def _payment_cancelled(self) -> None:
        self._paying = False
        self._basket_changed()

    def _sale_completed(self, sale: CompletedSale) -> None:
        self._paying = False
        self._holding_done = True
        self._last_row = -1
        base = self.context.mall_base_url if self.context else ""
        self._publish(feed_service.done_view(sale.result, sale.member, base))
        self._done_timer.start()

    def show_idle(self) -> None:
        """The idle screen (its member-day notice read again on the worker)."""
        self._holding_done = False
        if self.feed is None:
            return
        ctx = self._ctx
        self._runner.run(
            lambda: feed_service.idle_view(ctx), self._publish, lambda _e: None, guard=self
        )

    def _show_status(self, status: DisplayStatus) -> None:
        names = {"pole": self.tr("pole display"), "screen": self.tr("customer screen")}
        feed = self.feed
        failing = [s for s in (feed.statuses.values() if feed else ()) if not s.ok]
        if not failing:
            self.status_label.setText(self.tr("Customer display ready"))
            self.status_label.setToolTip("")
            self.status_label.setStyleSheet(
                "QLabel { padding: 0 10px; border-left: 1px solid #bbb; }"
            )
            return
        which = ", ".join(names.get(s.display, s.display) for s in failing)
        self.status_label.setText(
            self.tr("Customer display offline ({which}); sales go on").format(which=which)
        )
        self.status_label.setToolTip("\n".join(s.message for s in failing))
        self.status_label.setStyleSheet(
            "QLabel { padding: 0 10px; border-left: 1px solid #bbb;"
            " color:#b3261e; font-weight:bold; }"
        )
        del status
