"""The till's main window: login, checkout and lock screens, and the status bar."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pos_app.services.startup import LoginGlance, TillOpener
from pos_app.services.users import UserInfo
from pos_app.ui.login import LockScreen, LoginScreen
from pos_app.ui.qt import (
    QCloseEvent,
    QLabel,
    QMainWindow,
    QObject,
    QStackedWidget,
    QTimer,
    QWidget,
    Signal,
)
from pos_app.ui.worker import TaskRunner

if TYPE_CHECKING:  # imported when first used: the login screen needs none of them
    from pos_app.services.context import TillContext
    from pos_app.services.print_queue import PrinterState, PrintJobInfo, PrintWorker
    from pos_app.services.sync import HQClient, SyncState, SyncWorker
    from pos_app.services.till_session import SyncStatus
    from pos_app.ui.checkout import CheckoutScreen
    from pos_app.ui.customer_display import CustomerDisplay

log = logging.getLogger(__name__)

STATUS_REFRESH_MS = 15_000
REST_DELAY_MS = 150
"""After this, the checkout screen, HQ sync and printing are built: by then the login
screen has been painted and listed its users (cold start, benchmarks/bench_ui.py), and
the cashier is still typing her PIN."""


def _sync_status(ctx: TillContext) -> SyncStatus:
    from pos_app.services.till_session import sync_status  # the database layer

    return sync_status(ctx)


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
        runner: The single worker thread every service call runs on.
        user: The logged-in user, or None.
        login, checkout, lock_screen: The three screens.

    Args:
        till: The opened till context, or a :class:`TillOpener` that the worker calls
            first (the database layer is imported and the file opened there while the
            login screen shows ``glance``).
        glance: The login screen's figures read raw from the file (with a ``till``
            opener): the users are listed at once instead of after the opening.
        start_printing: Start the print queue's thread.
    """

    def __init__(
        self,
        till: TillContext | TillOpener,
        parent: QWidget | None = None,
        *,
        start_printing: bool = True,
        glance: LoginGlance | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self._ctx: TillContext | None = None
        self._opener: Callable[[], TillContext]
        if isinstance(till, TillOpener):
            self._opener = till
        else:
            self._ctx = till
            self._opener = lambda: till
        opener = self._opener
        self.runner = TaskRunner(self)
        self.user: UserInfo | None = None
        self._closed = False
        store_name = glance.store_name if glance is not None else self.ctx.store_name
        self.setWindowTitle(self.tr("Points Till — {store}").format(store=store_name))
        self.resize(1280, 800)

        self.stack = QStackedWidget()
        self.stack.setObjectName("screens")
        self.login = LoginScreen(opener, store_name, self.runner)
        self.lock_screen = LockScreen(opener, self.runner)
        for screen in (self.login, self.lock_screen):
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
        self.lock_screen.unlocked.connect(self._unlocked)
        self.lock_screen.switch_user.connect(self.log_out)

        self._timer = QTimer(self)
        self._timer.setInterval(STATUS_REFRESH_MS)
        self._timer.timeout.connect(self.refresh_status)
        self._timer.start()

        self._sync_bridge = SyncBridge(self)
        self._sync_bridge.state_changed.connect(self._show_sync_state)
        self._print_bridge = PrintBridge(self)
        self._print_bridge.state_changed.connect(self._show_printer_state)
        self._print_bridge.printed.connect(self._receipt_printed)
        self._start_printing = start_printing
        self._checkout: CheckoutScreen | None = None
        self.customer_display: CustomerDisplay | None = None
        self._sync_worker: SyncWorker | None = None
        self._print_worker: PrintWorker | None = None
        self._hq_client: HQClient | None = None

        self._show_cashier()
        if glance is not None:
            self.login.show_users(glance.users, glance.last_user_id)
        # The worker opens the till first (when given an opener), then lists the users.
        self.runner.run(opener, self._till_opened, self.login.show_error, guard=self)
        if glance is None:
            self.login.load_users()
        self.refresh_status()

    @property
    def ctx(self) -> TillContext:
        """The till context (services are called with it on the worker only).

        Raises:
            RuntimeError: the worker has not opened the till yet.
        """
        if self._ctx is None:
            raise RuntimeError("the till is still opening")
        return self._ctx

    def _till_opened(self, ctx: TillContext) -> None:
        # The checkout screen, HQ sync and printing come after the login screen is up
        # (or at first use): it is usable without them.
        self._ctx = ctx
        QTimer.singleShot(REST_DELAY_MS, self._start_rest)

    # -- what the login screen does not need ----------------------------------------
    @property
    def checkout(self) -> CheckoutScreen:
        """The checkout screen (built on first use)."""
        self._start_rest()
        assert self._checkout is not None
        return self._checkout

    @property
    def sync_worker(self) -> SyncWorker | None:
        """The HQ sync thread, or None when the till is not registered at HQ."""
        self._start_rest()
        return self._sync_worker

    @property
    def print_worker(self) -> PrintWorker | None:
        """The print queue's thread (None when built with ``start_printing=False``)."""
        self._start_rest()
        return self._print_worker

    def _start_rest(self) -> None:
        if self._checkout is not None or self._closed or self._ctx is None:
            return
        from pos_app.ui.checkout import CheckoutScreen

        checkout = self._checkout = CheckoutScreen(self.ctx, self.runner)
        self.stack.insertWidget(1, checkout)
        checkout.lock_requested.connect(self.lock)
        checkout.data_written.connect(self.refresh_status)
        self._start_sync(checkout)
        self._start_print_worker()
        # The customer display (second screen, pole display), fed off the GUI's path.
        from pos_app.ui.customer_display import CustomerDisplay

        self.customer_display = CustomerDisplay(
            self.ctx, checkout, self.runner, self.statusBar(), self
        )

    def _start_sync(self, checkout: CheckoutScreen) -> None:
        """HQ sync on its own thread (only when the till is registered at HQ)."""
        from pos_app.services.sync import (
            HQClient,
            complete_sale_online,
            load_sync_config,
            start_background_sync,
        )

        ctx = self.ctx
        try:
            self._sync_worker = start_background_sync(ctx, self._sync_bridge.state_changed.emit)
        except Exception:  # a broken HQ setting must not keep the till from opening
            log.exception("the HQ sync could not start")
        worker = self._sync_worker
        if worker is None:
            return
        checkout.data_written.connect(worker.poke)
        config = load_sync_config(ctx)
        if config is not None:
            # Online, a spend of points is held at HQ before the sale commits.
            client = self._hq_client = HQClient.from_config(config)
            flag = worker.flag
            checkout.commit_sale = lambda c, **kw: complete_sale_online(c, client, flag=flag, **kw)

    def _start_print_worker(self) -> None:
        """Receipts: the persistent print queue, printed (or previewed) on its own thread."""
        if not self._start_printing:
            return
        from pos_app.services.print_queue import PrintWorker

        self._print_worker = PrintWorker(
            self.ctx,
            on_status=self._print_bridge.state_changed.emit,
            on_printed=self._print_bridge.printed.emit,
        )
        self._print_worker.start()

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
        opener = self._opener
        self.runner.run(
            lambda: _sync_status(opener()), self._show_sync, self._sync_failed, guard=self
        )

    def _show_sync(self, status: SyncStatus) -> None:
        online = status.online
        if self._sync_worker is not None:  # reachability is the worker's to say
            online = self._sync_worker.state.online
        self._show_sync_text(online, status.pending)

    def _show_sync_text(self, online: bool, pending: int) -> None:
        if online:
            text = self.tr("HQ online, {count} to upload").format(count=pending)
        else:
            text = self.tr("Offline, {count} to upload").format(count=pending)
        self.sync_label.setText(text)

    def _sync_failed(self, _error: Exception) -> None:
        self.sync_label.setText(self.tr("Sync status unknown"))

    def _show_sync_state(self, state: SyncState) -> None:
        """The sync worker's latest state: the label, and the details in its tooltip."""
        self._show_sync_text(state.online, state.pending)
        if state.refused is not None:
            self.sync_label.setText(
                self.tr("HQ refused an event, {count} to upload").format(count=state.pending)
            )
        elif state.busy:
            self.sync_label.setText(
                self.tr("HQ busy, trying again soon, {count} to upload").format(count=state.pending)
            )
        lines = []
        if state.last_sync_at is not None:
            when = state.last_sync_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            lines.append(self.tr("Last sync: {time}").format(time=when))
        else:
            lines.append(self.tr("Not synced with HQ yet"))
        if state.progress is not None and state.progress.members_total:
            lines.append(
                self.tr("Loading the region's members from HQ: {done} of {total}").format(
                    done=state.progress.members, total=state.progress.members_total
                )
            )
        elif state.progress is not None:
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
        """Without a printer, the receipt is shown on screen, inside the checkout."""
        if not self._closed:
            self.checkout.receipt_printed(job)

    # -- shutdown -------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the timer and the worker, closing the worker's database connection."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        if self._sync_worker is not None:
            self._sync_worker.stop(timeout=5.0)
        if self._print_worker is not None:
            self._print_worker.stop(timeout=5.0)
        if self.customer_display is not None:
            self.customer_display.stop()
        if self._hq_client is not None:
            self._hq_client.close()
        ctx = self._ctx
        self.runner.shutdown(None if ctx is None else ctx.db.close)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Qt override: shut the worker down with the window."""
        self.shutdown()
        super().closeEvent(event)
