"""The till's main window: login, checkout and lock screens, and the status bar."""

from __future__ import annotations

import logging

from pos_app.services.auth import UserInfo
from pos_app.services.context import TillContext
from pos_app.services.print_queue import PrinterState, PrintJobInfo, PrintWorker
from pos_app.services.sync import (
    HQClient,
    SyncState,
    SyncWorker,
    complete_sale_online,
    load_sync_config,
    start_background_sync,
)
from pos_app.services.till_session import SyncStatus, sync_status
from pos_app.ui.checkout import CheckoutScreen
from pos_app.ui.customer_display import CustomerDisplay
from pos_app.ui.dialogs import ReceiptPreviewWindow
from pos_app.ui.login import LockScreen, LoginScreen
from pos_app.ui.qt import (
    QApplication,
    QCloseEvent,
    QLabel,
    QMainWindow,
    QObject,
    QStackedWidget,
    QTimer,
    QWidget,
    Signal,
    isValid,
)
from pos_app.ui.worker import TaskRunner

log = logging.getLogger(__name__)

STATUS_REFRESH_MS = 15_000


class SyncBridge(QObject):
    """Carries the HQ sync worker's state from its thread to the GUI thread.

    Signals:
        state_changed: A :class:`~pos_app.services.sync.SyncState` (queued to the GUI).
    """

    state_changed = Signal(object)


class PrintBridge(QObject):
    """Carries the print worker's news from its thread to the GUI thread.

    Signals:
        state_changed: A :class:`~pos_app.services.print_queue.PrinterState`.
        printed: A :class:`~pos_app.services.print_queue.PrintJobInfo` just printed.
    """

    state_changed = Signal(object)
    printed = Signal(object)


class MainWindow(QMainWindow):
    """Login -> checkout <-> lock, with the sync, printer and cashier status.

    Attributes:
        ctx: The till context (services are called with it on the worker only).
        runner: The single worker thread every service call runs on.
        user: The logged-in user, or None.
        login, checkout, lock_screen: The three screens.
    """

    def __init__(
        self, ctx: TillContext, parent: QWidget | None = None, *, start_printing: bool = True
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.ctx = ctx
        self.runner = TaskRunner(self)
        self.user: UserInfo | None = None
        self._closed = False
        self.setWindowTitle(self.tr("Points Till — {store}").format(store=ctx.store_name))
        self.resize(1280, 800)

        self.stack = QStackedWidget()
        self.stack.setObjectName("screens")
        self.login = LoginScreen(ctx, self.runner)
        self.checkout = CheckoutScreen(ctx, self.runner)
        self.lock_screen = LockScreen(ctx, self.runner)
        for screen in (self.login, self.checkout, self.lock_screen):
            self.stack.addWidget(screen)
        self.setCentralWidget(self.stack)

        self.sync_label = QLabel()
        self.sync_label.setObjectName("syncStatus")
        self.printer_label = QLabel(self.tr("Printer: preview mode"))
        self.printer_label.setObjectName("printerStatus")
        self.cashier_label = QLabel()
        self.cashier_label.setObjectName("cashierStatus")
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        for label in (self.sync_label, self.printer_label, self.cashier_label):
            label.setStyleSheet("QLabel { padding: 0 10px; border-left: 1px solid #bbb; }")
            bar.addPermanentWidget(label)

        self.login.logged_in.connect(self._logged_in)
        self.checkout.lock_requested.connect(self.lock)
        self.checkout.data_written.connect(self.refresh_status)
        self.lock_screen.unlocked.connect(self._unlocked)
        self.lock_screen.switch_user.connect(self.log_out)

        self._timer = QTimer(self)
        self._timer.setInterval(STATUS_REFRESH_MS)
        self._timer.timeout.connect(self.refresh_status)
        self._timer.start()

        # HQ sync on its own thread (only when the till is registered at HQ).
        self._sync_bridge = SyncBridge(self)
        self._sync_bridge.state_changed.connect(self._show_sync_state)
        self.sync_worker: SyncWorker | None = None
        try:
            self.sync_worker = start_background_sync(ctx, self._sync_bridge.state_changed.emit)
        except Exception:  # a broken HQ setting must not keep the till from opening
            log.exception("the HQ sync could not start")
        self._hq_client: HQClient | None = None
        if self.sync_worker is not None:
            self.checkout.data_written.connect(self.sync_worker.poke)
            config = load_sync_config(ctx)
            if config is not None:
                # Online, a spend of points is held at HQ before the sale commits.
                client = self._hq_client = HQClient.from_config(config)
                flag = self.sync_worker.flag
                self.checkout.commit_sale = lambda c, **kw: complete_sale_online(
                    c, client, flag=flag, **kw
                )

        # Receipts: the persistent print queue, printed (or previewed) on its own thread.
        self.receipt_window = ReceiptPreviewWindow(self)
        self._print_bridge = PrintBridge(self)
        self._print_bridge.state_changed.connect(self._show_printer_state)
        self._print_bridge.printed.connect(self._receipt_printed)
        self.print_worker: PrintWorker | None = None
        if start_printing:
            self.print_worker = PrintWorker(
                ctx,
                on_status=self._print_bridge.state_changed.emit,
                on_printed=self._print_bridge.printed.emit,
            )
            self.print_worker.start()

        # The customer display (second screen, pole display), fed off the GUI's path.
        self.customer_display = CustomerDisplay(ctx, self.checkout, self.runner, bar, self)

        self._show_cashier()
        self.login.load_users()
        self.refresh_status()

    # -- screens --------------------------------------------------------------------
    def _logged_in(self, user: UserInfo) -> None:
        self.user = user
        self._show_cashier()
        self.checkout.start(user)
        self.stack.setCurrentWidget(self.checkout)
        self.checkout.focus_scan()

    def lock(self) -> None:
        """F12: lock the till for the logged-in user."""
        if self.user is None:
            return
        self.lock_screen.lock(self.user)
        self.stack.setCurrentWidget(self.lock_screen)
        self.lock_screen.pin.setFocus()

    def _unlocked(self) -> None:
        self.stack.setCurrentWidget(self.checkout)
        self.checkout.focus_scan()

    def log_out(self) -> None:
        """Back to the login screen (the basket is kept for the same cashier)."""
        self.user = None
        self._show_cashier()
        self.stack.setCurrentWidget(self.login)
        self.login.load_users()

    @property
    def locked(self) -> bool:
        """The lock screen is showing."""
        return self.stack.currentWidget() is self.lock_screen

    # -- status bar -----------------------------------------------------------------
    def _show_cashier(self) -> None:
        if self.user is None:
            self.cashier_label.setText(self.tr("Not logged in"))
        else:
            self.cashier_label.setText(self.tr("Cashier: {name}").format(name=self.user.name))

    def refresh_status(self) -> None:
        """Ask the worker for the HQ sync status."""
        ctx = self.ctx
        self.runner.run(lambda: sync_status(ctx), self._show_sync, self._sync_failed, guard=self)

    def _show_sync(self, status: SyncStatus) -> None:
        if self.sync_worker is not None:  # reachability is the worker's to say
            status = SyncStatus(online=self.sync_worker.state.online, pending=status.pending)
        if status.online:
            text = self.tr("HQ online, {count} to upload").format(count=status.pending)
        else:
            text = self.tr("Offline, {count} to upload").format(count=status.pending)
        self.sync_label.setText(text)

    def _sync_failed(self, _error: Exception) -> None:
        self.sync_label.setText(self.tr("Sync status unknown"))

    def _show_sync_state(self, state: SyncState) -> None:
        """The sync worker's latest state: the label, and the details in its tooltip."""
        self._show_sync(SyncStatus(online=state.online, pending=state.pending))
        if state.refused is not None:
            self.sync_label.setText(
                self.tr("HQ refused an event, {count} to upload").format(count=state.pending)
            )
        lines = []
        if state.last_sync_at is not None:
            when = state.last_sync_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            lines.append(self.tr("Last sync: {time}").format(time=when))
        else:
            lines.append(self.tr("Not synced with HQ yet"))
        if state.progress is not None:
            lines.append(
                self.tr("Receiving from HQ: {count} changes").format(count=state.progress.changes)
            )
        if state.last_error:
            lines.append(self.tr("Last error: {error}").format(error=state.last_error))
        self.sync_label.setToolTip("\n".join(lines))

    def _show_printer_state(self, state: PrinterState) -> None:
        texts = {
            "ok": self.tr("Printer ready"),
            "preview": self.tr("Printer: preview mode"),
            "paper_low": self.tr("Printer: paper low"),
            "offline": self.tr("Printer offline"),
            "paper_out": self.tr("Printer: out of paper"),
            "cover_open": self.tr("Printer: cover open"),
            "error": self.tr("Printer error"),
        }
        text = texts.get(state.condition, self.tr("Printer error"))
        if state.waiting:
            text += self.tr(", {count} receipts waiting").format(count=state.waiting)
        if state.failed:
            text += self.tr(", {count} failed").format(count=state.failed)
        self.printer_label.setText(text)
        self.printer_label.setToolTip(state.message)
        colour = "" if state.ok else "color:#b3261e; font-weight:bold;"
        self.printer_label.setStyleSheet(
            f"QLabel {{ padding: 0 10px; border-left: 1px solid #bbb; {colour} }}"
        )

    def _receipt_printed(self, job: PrintJobInfo) -> None:
        """Without a printer, the receipt is shown on screen."""
        if job.output is None or self._closed:
            return
        focus = QApplication.focusWidget()
        self.receipt_window.show_receipt(str(job.output), job.receipt_no)
        # The scanner keeps typing into the till, not into the receipt window.
        self.activateWindow()
        if focus is not None and isValid(focus):
            focus.setFocus()

    # -- shutdown -------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the timer and the worker, closing the worker's database connection."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        if self.sync_worker is not None:
            self.sync_worker.stop(timeout=5.0)
        if self.print_worker is not None:
            self.print_worker.stop(timeout=5.0)
        self.customer_display.stop()
        if self._hq_client is not None:
            self._hq_client.close()
        self.receipt_window.close()
        self.runner.shutdown(self.ctx.db.close)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Qt override: shut the worker down with the window."""
        self.shutdown()
        super().closeEvent(event)
