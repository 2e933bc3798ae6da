"""Returns: find the sale by receipt number, choose lines, manager approval, refund."""

from __future__ import annotations

import datetime as dt

from pos_app.core.refunds import RefundQuote
from pos_app.core.scale import format_weight
from pos_app.services import auth, refunds
from pos_app.services.context import TillContext
from pos_app.services.refunds import RefundResult, SaleView
from pos_app.services.till_session import new_client_id
from pos_app.services.users import UserInfo
from pos_app.ui.messages import error_text, money
from pos_app.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QEvent,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QObject,
    QPushButton,
    QSpinBox,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.widgets import MessageLabel, only_default, pin_field, select_on_focus
from pos_app.ui.worker import TaskRunner


class RefundDialog(QDialog):
    """Refund some or all of a past sale, with a reason, approved by a manager: picked
    by name, then her PIN (the user making the refund is not offered unless the rule
    set allows self-approval).

    The refund (cash, points taken back and given back) is committed by
    :func:`pos_app.services.refunds.refund` in one transaction on the worker.

    Signals:
        refunded: The refund was committed; carries the :class:`RefundResult`.
    """

    refunded = Signal(object)

    def __init__(
        self,
        ctx: TillContext,
        runner: TaskRunner,
        cashier: UserInfo,
        receipt_no: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("refundDialog")
        self.setWindowTitle(self.tr("Return / refund"))
        self.setModal(True)
        self.setMinimumSize(760, 520)
        self._ctx = ctx
        self._runner = runner
        self._cashier = cashier
        self._refund_id = new_client_id()
        self.sale: SaleView | None = None
        self.refund_result: RefundResult | None = None
        self._preview_generation = 0

        self._make_widgets(receipt_no)
        self._lay_out()
        self._connect_signals()
        only_default(self)
        self._fill_managers()
        if receipt_no:
            self.find_sale()

    def _make_widgets(self, receipt_no: str) -> None:
        """The dialog's widgets."""
        self.receipt = QLineEdit(receipt_no)
        self.receipt.setObjectName("refundReceiptInput")
        self.receipt.setPlaceholderText(self.tr("Scan or type the receipt number"))
        self.find_button = QPushButton(self.tr("Find (Enter)"))
        self.find_button.setObjectName("refundFind")
        self.info = QLabel()
        self.info.setObjectName("refundSaleInfo")
        self.info.setWordWrap(True)
        self.table = QTableWidget(0, 6)
        self.table.setObjectName("refundLines")
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Item"),
                self.tr("Sold"),
                self.tr("Refunded"),
                self.tr("Price"),
                self.tr("Paid in cash"),
                self.tr("Return qty"),
            ]
        )
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.installEventFilter(self)
        self.keys_hint = QLabel(
            self.tr(
                "Keyboard: ↑↓ choose a line, type the units to return (Space: all or none "
                "of the line), F2 returns everything, Enter goes on to the reason."
            )
        )
        self.keys_hint.setObjectName("refundKeysHint")
        self.keys_hint.setWordWrap(True)
        self.keys_hint.setStyleSheet("color:#666;")
        self.all_button = QPushButton(self.tr("Return everything (F2)"))
        self.all_button.setObjectName("refundAll")
        self.all_button.setEnabled(False)
        self.spins: list[QSpinBox] = []
        self.preview = QLabel()
        self.preview.setObjectName("refundPreview")
        self.preview.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setObjectName("refundReason")
        self.reason.setPlaceholderText(self.tr("Required: why is it returned?"))
        self.manager = QComboBox()
        self.manager.setObjectName("approvingManager")
        self.manager_pin = pin_field("managerPin")
        self.manager_pin.setPlaceholderText(self.tr("Manager PIN"))
        self.error = MessageLabel("refundError")
        self.done_label = MessageLabel("refundDone")
        self.submit_button = QPushButton(self.tr("Refund"))
        self.submit_button.setObjectName("refundSubmit")
        self.submit_button.setEnabled(False)
        self.close_button = QPushButton(self.tr("Close (Esc)"))
        self.close_button.setObjectName("refundClose")

    def _lay_out(self) -> None:
        """The receipt line, the sale, the lines, the approval form and the buttons."""
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Receipt no.")))
        top.addWidget(self.receipt, 1)
        top.addWidget(self.find_button)
        form = QFormLayout()
        form.addRow(self.tr("Reason"), self.reason)
        form.addRow(self.tr("Approving manager"), self.manager)
        form.addRow(self.tr("Manager PIN"), self.manager_pin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.submit_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.keys_hint)
        layout.addWidget(self.preview)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.done_label)
        layout.addLayout(buttons)

    def _connect_signals(self) -> None:
        """Enter and the buttons."""
        self.receipt.returnPressed.connect(self.find_sale)
        self.find_button.clicked.connect(self.find_sale)
        self.submit_button.clicked.connect(self.submit)
        self.all_button.clicked.connect(self.return_everything)
        self.reason.returnPressed.connect(self.manager_pin.setFocus)
        self.manager_pin.returnPressed.connect(self.submit)
        self.close_button.clicked.connect(self.reject)

    def _fill_managers(self) -> None:
        """The managers who may approve (the refunding user only if the rules allow)."""
        own = self._ctx.rules.refunds.self_approval
        self.manager.addItem(self.tr("Choose the manager"), None)
        for user in auth.list_managers(self._ctx):
            if user.id != self._cashier.id or own:
                self.manager.addItem(user.name, user.id)
        if self.manager.count() == 2:
            self.manager.setCurrentIndex(1)

    # -- find the sale ----------------------------------------------------------------
    def find_sale(self) -> None:
        """Look the receipt number up on the worker."""
        receipt = self.receipt.text().strip()
        if not receipt:
            self.error.show_message(self.tr("Scan or type the receipt number."))
            return
        ctx = self._ctx
        self.error.clear_message()
        self._runner.run(
            lambda: (refunds.find_sale(ctx, receipt), ctx.rules.zone),
            self._show_sale,
            self._find_failed,
            guard=self,
        )

    def _find_failed(self, error: Exception) -> None:
        self.sale = None
        self.all_button.setEnabled(False)
        self.table.setRowCount(0)
        self.spins = []
        self.info.setText("")
        self.submit_button.setEnabled(False)
        self.error.show_message(error_text(error))

    def _show_sale(self, found: tuple[SaleView, dt.tzinfo]) -> None:
        sale, zone = found
        self.sale = sale
        self.info.setText(
            self.tr(
                "Sale {receipt} of {date}: total {total}, paid {cash}, "
                "points used {used}, points earned {earned}."
            ).format(
                receipt=sale.receipt_no,
                date=sale.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                total=money(sale.total_fen),
                cash=money(sale.cash_due_fen),
                used=sale.points_used,
                earned=sale.points_earned,
            )
        )
        self.table.setRowCount(len(sale.lines))
        self.spins = []
        for row, line in enumerate(sale.lines):
            cells = (
                # a weighed line shows its weight: it is returned whole, by its amount
                f"{line.name} {format_weight(line.weight_g)}" if line.weight_g else line.name,
                str(line.quantity),
                str(line.refunded_qty),
                money(line.unit_price_fen),
                money(line.cash_fen),
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
            spin = QSpinBox()
            spin.setObjectName(f"refundQty_{row}")
            spin.setRange(0, max(0, line.quantity - line.refunded_qty))
            spin.setEnabled(line.quantity > line.refunded_qty)
            spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # the keyboard works the table
            select_on_focus(spin)
            spin.valueChanged.connect(self._request_changed)
            self.table.setCellWidget(row, 5, spin)
            self.spins.append(spin)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        if sale.fully_refunded:
            self.error.show_message(self.tr("Every line of this sale has already been refunded."))
        else:
            first = next(i for i, spin in enumerate(self.spins) if spin.maximum() > 0)
            self.table.selectRow(first)
            self.table.setFocus()
        self.all_button.setEnabled(not sale.fully_refunded and self.refund_result is None)
        self._request_changed()

    # -- the request ----------------------------------------------------------------
    def request(self) -> dict[str, int]:
        """Sale line id -> units to refund (lines with zero left out)."""
        if self.sale is None:
            return {}
        return {
            line.id: spin.value()
            for line, spin in zip(self.sale.lines, self.spins, strict=True)
            if spin.value() > 0
        }

    def set_quantity(self, row: int, quantity: int) -> None:
        """Set the units to refund on ``row``."""
        self.spins[row].setValue(quantity)

    def return_everything(self) -> None:
        """F2: every unit not yet refunded, on every line."""
        if self.refund_result is not None:
            return
        for spin in self.spins:
            spin.setValue(spin.maximum())
        self.reason.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Qt override: F2 returns everything."""
        if event.key() == Qt.Key.Key_F2 and self.all_button.isEnabled():
            self.return_everything()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Qt override: the lines by keyboard. A digit sets the current line's units
        to return, Space returns all or none of it, +/- add or take one, Enter goes on
        to the reason."""
        if watched is self.table and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            return self._line_key(event)
        return super().eventFilter(watched, event)

    def _line_key(self, event: QKeyEvent) -> bool:
        row = self.table.currentRow()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.reason.setFocus()
            return True
        if not 0 <= row < len(self.spins) or not self.spins[row].isEnabled():
            return False
        spin, text = self.spins[row], event.text()
        if text.isdigit():
            spin.setValue(min(int(text), spin.maximum()))
        elif text == " ":
            spin.setValue(0 if spin.value() == spin.maximum() else spin.maximum())
        elif text in ("+", "="):
            spin.setValue(spin.value() + 1)
        elif text == "-":
            spin.setValue(spin.value() - 1)
        else:
            return False
        return True

    def _request_changed(self) -> None:
        request = self.request()
        self.submit_button.setEnabled(bool(request) and self.refund_result is None)
        self._preview_generation += 1
        generation = self._preview_generation
        if not request or self.sale is None:
            self.preview.setText(self.tr("Choose the units to return."))
            return
        ctx = self._ctx
        receipt = self.sale.receipt_no
        self._runner.run(
            lambda: refunds.preview_refund(ctx, receipt, request),
            lambda q: self._show_preview(generation, q),
            lambda e: self._preview_failed(generation, e),
            guard=self,
        )

    def _show_preview(self, generation: int, quote: RefundQuote) -> None:
        if generation != self._preview_generation:
            return
        self.error.clear_message()
        self.preview.setText(self._describe(quote))

    def _preview_failed(self, generation: int, error: Exception) -> None:
        if generation == self._preview_generation:
            self.error.show_message(error_text(error))

    def _describe(self, quote: RefundQuote) -> str:
        text = self.tr(
            "Cash back {cash} · points taken back {reversed} · points given back {restored}"
        ).format(
            cash=money(quote.cash_refund_fen),
            reversed=quote.points_reversed,
            restored=quote.points_restored,
        )
        if quote.cash_deducted_fen:
            text += " · " + self.tr("{cash} kept for points already spent").format(
                cash=money(quote.cash_deducted_fen)
            )
        if quote.expired_points:
            text += " · " + self.tr(
                "{points} of the points this sale earned had expired: not taken again"
            ).format(points=quote.expired_points)
        return text

    # -- commit ---------------------------------------------------------------------
    def submit(self) -> None:
        """Check the manager's PIN and commit the refund on the worker."""
        request = self.request()
        if self.sale is None or not request:
            self.error.show_message(self.tr("Choose at least one unit to return."))
            return
        reason = self.reason.text().strip()
        if not reason:
            self.error.show_message(self.tr("Give the reason for the refund."))
            self.reason.setFocus()
            return
        manager_id = self.manager.currentData()
        if not manager_id:
            self.error.show_message(self.tr("Choose the manager who approves."))
            self.manager.setFocus()
            return
        pin = self.manager_pin.text()
        if not pin:
            self.error.show_message(self.tr("A manager must approve: type the manager's PIN."))
            self.manager_pin.setFocus()
            return
        ctx = self._ctx
        receipt = self.sale.receipt_no
        cashier_id = self._cashier.id
        refund_id = self._refund_id

        def work() -> RefundResult:
            return refunds.refund(
                ctx,
                refund_id=refund_id,
                receipt_no=receipt,
                request=request,
                cashier_id=cashier_id,
                manager_id=str(manager_id),
                manager_pin=pin,
                reason=reason,
            )

        self.submit_button.setEnabled(False)
        self._runner.run(work, self._refunded, self._refund_failed, guard=self)

    def _refund_failed(self, error: Exception) -> None:
        self.manager_pin.clear()
        self.submit_button.setEnabled(bool(self.request()))
        self.error.show_message(error_text(error))

    def _refunded(self, result: RefundResult) -> None:
        self.refund_result = result
        self.manager_pin.clear()
        self.error.clear_message()
        text = self.tr("Refund {no} done. {detail}").format(
            no=result.refund_no, detail=self._describe(result.quote)
        )
        if result.balance_after is not None:
            text += " " + self.tr("Member balance now {points} points.").format(
                points=result.balance_after
            )
        self.done_label.show_message(text, "success")
        for spin in self.spins:
            spin.setEnabled(False)
        self.submit_button.setEnabled(False)
        self.all_button.setEnabled(False)
        self.close_button.setFocus()  # Enter/Esc now closes; the result stays readable
        self.refunded.emit(result)
