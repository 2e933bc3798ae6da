"""The checkout screen: one scan line, the basket, the member, totals and function keys."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pos_app.core.codes import ScanKind, classify_scan
from pos_app.core.mall import Suggestion
from pos_app.core.quote import BasketLine, Quote
from pos_app.services import checkout, mall, member_codes, members
from pos_app.services.checkout import SaleResult, TenderInput
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownMember
from pos_app.services.mall import CouponInfo, RedemptionResult
from pos_app.services.members import MemberHit, MemberSummary
from pos_app.services.print_queue import PrintJobInfo, preview_receipt, reprint_last
from pos_app.services.refunds import RefundResult
from pos_app.services.scanning import WeighedItem, find_item
from pos_app.services.till_session import ProductInfo, new_client_id
from pos_app.services.users import UserInfo
from pos_app.ui.basket import BasketItem, BasketModel
from pos_app.ui.dialogs import (
    HelpDialog,
    PaymentDialog,
    PickDialog,
    PointsDialog,
    ReceiptPane,
    RegisterDialog,
)
from pos_app.ui.keys import FUNCTION_KEYS, FunctionKey
from pos_app.ui.mall import CouponDialog, MallDialog
from pos_app.ui.manager import ManagerDialog
from pos_app.ui.member_panel import MemberPanel, TotalsPanel
from pos_app.ui.messages import error_text, money, note_text, tier_name
from pos_app.ui.qt import (
    QAbstractItemView,
    QDialog,
    QFont,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.refund import RefundDialog
from pos_app.ui.widgets import KeyBar, MessageLabel, fit_within, fkey_button
from pos_app.ui.worker import TaskRunner

_QUANTITY_PREFIX = re.compile(r"^\s*([+-]?\d+)\s*[*xX×]\s*(\S.*)$")


@dataclass(frozen=True)
class HeldBasket:
    """A basket put aside (in memory, for this session).

    Attributes:
        items: The lines.
        member_id: The identified member, if any.
        member_label: How the member is shown in the recall list.
        points: Points the cashier had chosen.
        held_at: When it was held (local time of the till).
    """

    items: tuple[BasketItem, ...]
    member_id: str | None
    member_label: str
    points: int
    held_at: dt.datetime
    coupons: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompletedSale:
    """The last sale, kept for the reprint preview."""

    result: SaleResult
    lines: tuple[BasketLine, ...]
    cashier: str
    method: str
    member: MemberSummary | None


class CheckoutScreen(QWidget):
    """Ring up a basket for a member and take payment, keyboard- and scanner-first.

    Attributes:
        basket: The basket model.
        member: The identified member's summary, or None.
        quote: The latest quote of the basket, or None while empty.
        held: Baskets put aside with F6.
        dialog: The dialog currently open, if any (tests drive it).

    Signals:
        lock_requested: F12 / the lock button.
        data_written: A sale, refund or registration was committed (status bar refresh).
        quote_ready: A new quote is shown.
        item_added: A scan added to basket row ``int`` (the customer display shows it).
        payment_started: The payment dialog opened for a :class:`Quote`.
        payment_cancelled: The payment dialog closed without a sale.
        sale_completed: A :class:`CompletedSale` was committed.
    """

    lock_requested = Signal()
    data_written = Signal()
    quote_ready = Signal()
    item_added = Signal(int)
    payment_started = Signal(object)
    payment_cancelled = Signal()
    sale_completed = Signal(object)

    def __init__(self, ctx: TillContext, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("checkoutScreen")
        self._ctx = ctx
        self._runner = runner
        self.cashier: UserInfo | None = None
        # How a sale is committed: locally (offline allowance applies), or with the spend
        # authorised by an HQ hold when the till is connected (set by the main window).
        self.commit_sale: Callable[..., SaleResult] = checkout.complete_sale
        self.member: MemberSummary | None = None
        self.quote: Quote | None = None
        self.points_requested = 0
        self.coupon_codes: list[str] = []
        self.points_per_yuan = 100
        self.zone: dt.tzinfo = dt.UTC
        self.held: list[HeldBasket] = []
        self.last_sale: CompletedSale | None = None
        #: The receipt handed over last (a sale's or a refund's), for Ctrl+P.
        self.last_receipt_no: str | None = None
        self.dialog: QDialog | None = None
        self._quote_generation = 0
        self._quoting = False
        self._void_armed = False
        self._unknown_phone = ""

        self.basket = BasketModel()
        self._build()
        self.basket.changed.connect(self.requote)
        self.basket.changed.connect(self._basket_changed)
        self.basket.edit_refused.connect(self.message.show_message)

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> None:  # noqa: PLR0915 - one statement per widget of the screen, in reading order
        self.scan = QLineEdit()
        self.scan.setObjectName("scanInput")
        self.scan.setPlaceholderText(
            self.tr("Scan or type: barcode / SKU, member code, phone, last 4 digits, receipt no.")
        )
        font = QFont(self.scan.font())
        font.setPointSize(16)
        self.scan.setFont(font)
        self.scan.setMinimumHeight(44)
        self.scan.returnPressed.connect(self.submit_scan)
        enter = QPushButton(self.tr("Enter"))
        enter.setObjectName("scanEnter")
        enter.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        enter.setMinimumHeight(44)
        enter.clicked.connect(self.submit_scan)
        self.message = MessageLabel("messageBar")
        self.banner = MessageLabel("saleResult")

        self.table = QTableView()
        self.table.setObjectName("basketTable")
        self.table.setModel(self.basket)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.SelectedClicked
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(BasketModel.COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(90)
        self.table.verticalHeader().setDefaultSectionSize(34)
        remove = QPushButton(self.tr("Del  Remove line"))
        remove.setObjectName("removeLine")
        remove.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        remove.clicked.connect(self.remove_selected)
        hint = QLabel(self.tr("Double-click a quantity or discount to change it."))
        hint.setStyleSheet("color:#666;")

        self.member_panel = MemberPanel()
        self.member_panel.clear_requested.connect(lambda: self.set_member(None))
        self.totals = TotalsPanel()

        self.buttons: dict[str, QPushButton] = {}
        self._actions: dict[int, Callable[[], None]] = {}
        self._ctrl_actions: dict[int, Callable[[], None]] = {}
        key_buttons: list[QPushButton] = []
        for fk in FUNCTION_KEYS:  # one table: buttons, key bindings and the F1 help
            action = self._action_of(fk)
            button = fkey_button(fk.key, fk.translated_label(), fk.object_name)
            button.clicked.connect(lambda _=False, a=action: self._run_action(a))
            key_buttons.append(button)
            self.buttons[fk.key] = button
            bindings = self._ctrl_actions if fk.ctrl else self._actions
            bindings[int(getattr(Qt.Key, f"Key_{fk.key_name}"))] = action

        scan_row = QHBoxLayout()
        scan_row.addWidget(self.scan, 1)
        scan_row.addWidget(enter)
        basket_page = QWidget()
        left = QVBoxLayout(basket_page)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.table, 1)
        table_row = QHBoxLayout()
        table_row.addWidget(hint, 1)
        table_row.addWidget(remove)
        left.addLayout(table_row)
        # The receipt on screen takes the (empty) basket's place after a sale; the next
        # scan brings the basket back.
        self.receipt_pane = ReceiptPane()
        self.receipt_pane.close_requested.connect(self.hide_receipt)
        self.basket_stack = QStackedWidget()
        self.basket_stack.setObjectName("basketStack")
        self.basket_stack.addWidget(basket_page)
        self.basket_stack.addWidget(self.receipt_pane)
        right = QVBoxLayout()
        right.addWidget(self.member_panel)
        right.addStretch(1)
        right.addWidget(self.totals)
        middle = QHBoxLayout()
        middle.addWidget(self.basket_stack, 3)
        middle.addLayout(right, 0)
        layout = QVBoxLayout(self)
        layout.addLayout(scan_row)
        layout.addWidget(self.message)
        layout.addWidget(self.banner)
        layout.addLayout(middle, 1)
        self.key_bar = KeyBar(key_buttons)
        layout.addWidget(self.key_bar)

    # -- session --------------------------------------------------------------------
    def start(self, cashier: UserInfo) -> None:
        """Begin working for ``cashier`` (after login)."""
        if self.cashier is not None and self.cashier.id != cashier.id:
            self.reset()
        self.cashier = cashier
        self.focus_scan()

    def reset(self) -> None:
        """Forget the basket, the member and the held baskets (another cashier)."""
        self.held.clear()
        self._clear_sale()
        self.banner.clear_message()
        self.message.clear_message()
        self.last_receipt_no = None
        self.receipt_pane.clear()
        self.hide_receipt()

    def focus_scan(self) -> None:
        """Put the cursor in the scan line."""
        self.scan.setFocus()

    @property
    def busy(self) -> bool:
        """A quote or a service call is in flight."""
        return self._quoting or self._runner.busy

    # -- keyboard -------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Qt override: function keys, Del and Esc (keys the scan line does not use)."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            action = self._ctrl_actions.get(int(event.key()))
        else:
            action = self._actions.get(int(event.key()))
        if action is not None:
            self._run_action(action)
            return
        if event.key() == Qt.Key.Key_Delete:
            self.remove_selected()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.hide_receipt()
            self.scan.clear()
            self.message.clear_message()
            self._void_armed = False
            return
        super().keyPressEvent(event)

    def _action_of(self, fk: FunctionKey) -> Callable[[], None]:
        """The method a function key calls (with its argument, if any)."""
        method: Callable[..., None] = getattr(self, fk.action)
        return method if fk.argument is None else functools.partial(method, fk.argument)

    def lock(self) -> None:
        """F12: ask the main window to lock the till."""
        self.lock_requested.emit()

    def _run_action(self, action: Callable[[], None]) -> None:
        if action != self.void:
            self._void_armed = False
        action()

    def _run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._runner.run(fn, on_done, on_error or self._show_error, guard=self)

    def _show_error(self, error: Exception) -> None:
        self.message.show_message(error_text(error))
        self.scan.selectAll()
        self.focus_scan()

    # -- the scan line --------------------------------------------------------------
    def submit_scan(self) -> None:
        """Do what the scanned or typed text means (product, member, receipt)."""
        raw = self.scan.text().strip()
        self._void_armed = False
        if not raw:
            return
        self.message.clear_message()
        self.banner.clear_message()
        quantity = 1
        # 138*1234 is a phone's first 3 and last 4 digits, not 138 units of "1234" (four
        # digits alone are always a phone ending, never a product).
        scan = classify_scan(raw)
        match = None if scan.prefix else _QUANTITY_PREFIX.match(raw)
        if match:
            quantity = int(match.group(1))
            if quantity <= 0 or quantity > 9999:
                self.message.show_message(
                    self.tr(
                        "The quantity must be a whole number from 1 to 9999 (got {qty})."
                    ).format(qty=match.group(1))
                )
                self.scan.selectAll()
                return
            scan = classify_scan(match.group(2).strip())
        ctx = self._ctx
        if scan.kind in (ScanKind.BARCODE, ScanKind.SKU):
            self._run(lambda: find_item(ctx, scan.value), lambda p: self._add(p, quantity))
        elif match:
            self.message.show_message(self.tr("A quantity can only go before a product code."))
        elif scan.kind == ScanKind.MEMBER_CODE:
            self._run(lambda: self._summary_of(members.find_by_code(ctx, scan.value)), self._found)
        elif scan.kind == ScanKind.PHONE:
            self._unknown_phone = scan.value
            self._run(
                lambda: self._summary_of(members.find_by_phone(ctx, scan.value)),
                self._found,
                self._phone_failed,
            )
        elif scan.kind == ScanKind.PHONE_SUFFIX:
            self._run(
                lambda: members.find_by_last4(ctx, scan.value, prefix=scan.prefix),
                lambda hits: self._pick_member(hits, scan.prefix),
            )
        elif scan.kind == ScanKind.RECEIPT:
            self.scan.clear()
            self.open_refund(scan.value)
        elif scan.kind == ScanKind.DYNAMIC_MEMBER_CODE:
            self._run(
                lambda: self._summary_of(member_codes.find_by_dynamic_code(ctx, scan.value)),
                self._found,
            )

    def _summary_of(self, hit: MemberHit) -> MemberSummary:
        """Runs on the worker: the full panel figures of a lookup hit."""
        return members.summary(self._ctx, hit.id)

    def _add(self, product: ProductInfo | WeighedItem, quantity: int) -> None:
        if isinstance(product, WeighedItem):
            if quantity != 1:
                self.message.show_message(self.tr("A weighed item cannot take a quantity."))
                self.scan.selectAll()
                return
            row = self.basket.add_weighed(product)
        else:
            row = self.basket.add_product(product, quantity)
        self.item_added.emit(row)
        self.table.selectRow(row)
        self.scan.clear()
        self.focus_scan()

    def _found(self, summary: MemberSummary) -> None:
        self.scan.clear()
        self.set_member(summary)

    def _phone_failed(self, error: Exception) -> None:
        text = error_text(error)
        if isinstance(error, UnknownMember):
            text += " " + self.tr("Press F2 to register this number.")
        self.message.show_message(text)
        self.scan.selectAll()

    def _pick_member(self, hits: list[MemberHit], prefix: str = "") -> None:
        if not hits:
            if prefix:
                self.message.show_message(
                    self.tr("No member's phone number starts and ends with these digits.")
                )
            else:
                self.message.show_message(
                    self.tr("No member's phone number ends in these 4 digits.")
                )
            self.scan.selectAll()
            return
        self.scan.clear()
        prompt = (
            self.tr("Members whose phone starts and ends with these digits (press 1-9 or Enter):")
            if prefix
            else self.tr("Members whose phone ends in these digits (press 1-9 or Enter):")
        )
        if len(hits) > 9 and not prefix:
            # Only the 9 most recently seen fit; at a big store ~100 members share an
            # ending. The first 3 digits (as on the receipt: 138****1234) narrow it.
            prompt += "\n" + self.tr(
                "More members match: the 9 seen most recently are shown. Not here? "
                "Esc, then type the first 3 digits too, e.g. 138*{last4}, or scan the "
                "member code."
            ).format(last4=hits[0].masked_phone[-4:])
        entries = [
            (
                f"{i + 1}.  {hit.masked_phone}   {hit.name or '—'}   "
                f"{tier_name(hit.tier, hit.tier_name)}   "
                + self.tr("{points} points").format(points=hit.balance),
                hit,
            )
            for i, hit in enumerate(hits[:9])
        ]
        dialog = PickDialog(
            self.tr("Choose the member"),
            prompt,
            entries,
            "memberPickDialog",
            self,
        )
        ctx = self._ctx
        dialog.picked.connect(
            lambda hit: self._run(lambda: members.summary(ctx, hit.id), self._found)
        )
        self._open(dialog)

    def _open(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        fit_within(dialog, self.window())
        dialog.open()

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
        # Without a window manager nothing reactivates the till's window: do it here so
        # the scanner's next keys reach the scan line.
        self.window().activateWindow()
        self.focus_scan()

    # -- member ---------------------------------------------------------------------
    def set_member(self, summary: MemberSummary | None) -> None:
        """Attach ``summary``'s member to the sale (None: no member)."""
        changed = (self.member.id if self.member else None) != (summary.id if summary else None)
        self.member = summary
        self.member_panel.show_summary(summary)
        if summary is not None:
            self._load_suggestions(summary.id)
        if changed:
            self.points_requested = 0
        pricing = (self._ctx.rules, summary.tier) if summary is not None else None
        if self.basket.pricing != pricing:
            self.basket.set_pricing(pricing)  # re-quotes
        elif changed:
            self.requote()
        self.focus_scan()

    def refresh_member(self) -> None:
        """Reload the member panel's figures."""
        if self.member is None:
            return
        ctx, member_id = self._ctx, self.member.id
        self._run(lambda: members.summary(ctx, member_id), self._refreshed)

    def _refreshed(self, summary: MemberSummary) -> None:
        if self.member is not None and self.member.id == summary.id:
            self.member = summary
            self.member_panel.show_summary(summary)
            self._load_suggestions(summary.id)

    def _load_suggestions(self, member_id: str) -> None:
        """Points-mall suggestions for the member panel (on the worker)."""
        ctx = self._ctx

        def show(found: list[Suggestion]) -> None:
            if self.member is not None and self.member.id == member_id:
                self.member_panel.show_suggestions(found)

        self._run(lambda: mall.suggestions(ctx, member_id), show, lambda _e: None)

        def show_coupons(found: list[mall.CouponInfo]) -> None:
            if self.member is not None and self.member.id == member_id:
                self.member_panel.show_coupons(found)

        self._run(lambda: mall.member_coupons(ctx, member_id), show_coupons, lambda _e: None)

    def open_register(self) -> None:
        """F2: register a new member (the phone typed last is pre-filled)."""
        dialog = RegisterDialog(self._unknown_phone if self.member is None else "", self)
        ctx = self._ctx
        actor = self.cashier.id if self.cashier else ""
        member_id = new_client_id()  # a retry from this dialog is the same registration

        def submitted(phone: str, name: str, birthday: dt.date | None, referral: str) -> None:
            self._runner.run(
                lambda: members.register(
                    ctx,
                    phone=phone,
                    consent=dialog.consent_choice(),
                    name=name,
                    birthday=birthday,
                    referral_code=referral.strip() or None,
                    actor_id=actor,
                    member_id=member_id,
                ),
                lambda summary: self._registered(dialog, summary),
                lambda error: dialog.show_error(error_text(error)),
                guard=dialog,
            )

        dialog.submitted.connect(submitted)
        self._open(dialog)

    def _registered(self, dialog: QDialog, summary: MemberSummary) -> None:
        dialog.accept()
        self._unknown_phone = ""
        self.set_member(summary)
        self.message.show_message(
            self.tr("Member registered: {phone}, {points} points welcome bonus.").format(
                phone=summary.masked_phone, points=summary.balance
            ),
            "success",
        )
        self.data_written.emit()

    # -- quoting --------------------------------------------------------------------
    def requote(self) -> None:
        """Quote the basket again on the worker (stale answers are dropped)."""
        self._quote_generation += 1
        generation = self._quote_generation
        lines = self.basket.lines()
        if not lines:
            self._quoting = False
            self.quote = None
            self.totals.show_quote(None)
            self.quote_ready.emit()
            return
        self._quoting = True
        ctx = self._ctx
        member_id = self.member.id if self.member else None
        requested = self.points_requested
        coupons = tuple(self.coupon_codes)

        def work() -> tuple[Quote, int, dt.tzinfo]:
            base = checkout.quote(ctx, lines, member_id=member_id, coupon_codes=coupons)
            points = min(requested, base.max_usable_points)
            if points:
                base = checkout.quote(
                    ctx, lines, member_id=member_id, coupon_codes=coupons, points_to_use=points
                )
            return base, ctx.rules.spending.points_per_yuan, ctx.rules.zone

        self._runner.run(
            work,
            lambda result: self._quoted(generation, requested, *result),
            lambda error: self._quote_failed(generation, error),
            guard=self,
        )

    def _quoted(
        self, generation: int, requested: int, quote: Quote, per_yuan: int, zone: dt.tzinfo
    ) -> None:
        if generation != self._quote_generation:
            return
        self._quoting = False
        self.quote = quote
        self.points_per_yuan = per_yuan
        self.zone = zone
        if requested > quote.points_used:
            self.points_requested = quote.points_used
            reason = note_text(quote.binding_limit) if quote.binding_limit else ""
            self.message.show_message(
                self.tr("Points reduced to {points}. {reason}").format(
                    points=quote.points_used, reason=reason
                ),
                "info",
            )
        self.totals.show_quote(quote, self.basket.member_saving_fen())
        self.quote_ready.emit()

    def _quote_failed(self, generation: int, error: Exception) -> None:
        if generation != self._quote_generation:
            return
        self._quoting = False
        self.quote = None
        self.totals.show_quote(None)
        self.message.show_message(error_text(error))
        self.quote_ready.emit()

    def _ready_to_pay(self) -> Quote | None:
        if self.basket.rowCount() == 0:
            self.message.show_message(self.tr("The basket is empty: scan a product first."))
            return None
        if self._quoting or self.quote is None:
            self.message.show_message(self.tr("Still working out the totals, a moment please."))
            return None
        return self.quote

    # -- points and payment ----------------------------------------------------------
    def open_points(self) -> None:
        """F3: choose the points that pay part of the basket."""
        if self.member is None:
            self.message.show_message(
                self.tr("Identify the member first: scan the member code or type the phone.")
            )
            return
        quote = self._ready_to_pay()
        if quote is None:
            return
        dialog = PointsDialog(quote, self.member.balance, self.points_per_yuan, self)
        dialog.chosen.connect(self._points_chosen)
        self._open(dialog)

    def _points_chosen(self, points: int) -> None:
        self.points_requested = points
        self.message.clear_message()
        self.requote()

    def open_payment(self, method: str) -> None:
        """F4 / F5: take the amount due and commit the sale."""
        quote = self._ready_to_pay()
        if quote is None or self.cashier is None:
            return
        dialog = PaymentDialog(quote.cash_due_fen, method, self)
        sale_id = new_client_id()
        lines = tuple(self.basket.lines())
        member = self.member
        member_id = member.id if member else None
        points = quote.points_used
        coupons = quote.coupon_codes
        due = quote.cash_due_fen
        cashier = self.cashier
        ctx = self._ctx
        commit = self.commit_sale

        def confirmed(method_code: str, received: int | None) -> None:
            tenders = [TenderInput(method_code, due, received)] if due > 0 else []

            def work() -> SaleResult:
                return commit(
                    ctx,
                    sale_id=sale_id,
                    lines=lines,
                    member_id=member_id,
                    tenders=tenders,
                    cashier_id=cashier.id,
                    coupon_codes=coupons,
                    points_to_use=points,
                )

            self._runner.run(
                work,
                lambda result: self._sold(
                    dialog, CompletedSale(result, lines, cashier.name, method_code, member)
                ),
                lambda error: dialog.show_error(error_text(error)),
                guard=dialog,
            )

        dialog.confirmed.connect(confirmed)
        dialog.rejected.connect(self.payment_cancelled.emit)
        self._open(dialog)
        self.payment_started.emit(quote)

    def _sold(self, dialog: QDialog, sale: CompletedSale) -> None:
        dialog.accept()
        self.last_sale = sale
        self.sale_completed.emit(sale)
        result = sale.result
        parts = [self.tr("Sale {receipt} complete.").format(receipt=result.receipt_no)]
        if result.member_id is not None and members.is_provisional(result.member_id):
            earned = result.points_earned + result.bonus_points
            parts.append(
                self.tr("This sale earned {points} points; HQ adds them to the balance.").format(
                    points=earned
                )
            )
        elif result.member_id is not None:
            earned = result.points_earned + result.bonus_points
            parts.append(
                self.tr("This sale earned {points} points; balance now {balance} points.").format(
                    points=earned, balance=result.balance_after
                )
            )
        if result.change_fen:
            parts.append(self.tr("Change due: {change}.").format(change=money(result.change_fen)))
        self._clear_sale()
        self.last_receipt_no = result.receipt_no
        self.banner.show_message(" ".join(parts), "success")
        self.data_written.emit()

    def _clear_sale(self) -> None:
        self.points_requested = 0
        self.coupon_codes = []
        self.member = None
        self.member_panel.show_summary(None)
        self.basket.set_pricing(None)
        self.basket.clear()
        self._unknown_phone = ""

    # -- basket actions -------------------------------------------------------------
    def remove_selected(self) -> None:
        """Del: remove the selected line."""
        index = self.table.currentIndex()
        row = index.row() if index.isValid() else self.basket.rowCount() - 1
        if row < 0:
            return
        self.basket.remove_row(row)
        self.focus_scan()

    def hold(self) -> None:
        """F6: put the basket aside."""
        if self.basket.rowCount() == 0:
            self.message.show_message(self.tr("There is nothing to hold."))
            return
        member = self.member
        label = f"{member.masked_phone} {member.name}".strip() if member else ""
        self.held.append(
            HeldBasket(
                tuple(self.basket.items),
                member.id if member else None,
                label,
                self.points_requested,
                self._ctx.now().astimezone(self.zone),
                tuple(self.coupon_codes),
            )
        )
        self._clear_sale()
        self.message.show_message(
            self.tr("Basket held. {count} held basket(s); F7 recalls.").format(
                count=len(self.held)
            ),
            "info",
        )

    def recall(self) -> None:
        """F7: bring a held basket back."""
        if not self.held:
            self.message.show_message(self.tr("No basket is on hold."))
            return
        if self.basket.rowCount():
            self.message.show_message(
                self.tr("Finish, hold or void the current basket before recalling another.")
            )
            return
        if len(self.held) == 1:
            self._restore(self.held[0])
            return
        entries = [
            (
                f"{i + 1}.  {held.held_at:%H:%M}   "
                + self.tr("{lines} line(s)").format(lines=len(held.items))
                + f"   {money(sum(it.gross_fen(None) - it.discount_fen for it in held.items))}"
                + (f"   {held.member_label}" if held.member_label else ""),
                held,
            )
            for i, held in enumerate(self.held[:9])
        ]
        dialog = PickDialog(
            self.tr("Recall a basket"),
            self.tr("Held baskets (press 1-9 or Enter):"),
            entries,
            "recallDialog",
            self,
        )
        dialog.picked.connect(self._restore)
        self._open(dialog)

    def _restore(self, held: HeldBasket) -> None:
        self.held.remove(held)
        self.coupon_codes = list(held.coupons)
        self.basket.set_items(list(held.items))
        self.message.show_message(self.tr("Basket recalled."), "info")
        if held.member_id is not None:
            ctx, member_id = self._ctx, held.member_id

            def restored(summary: MemberSummary) -> None:
                self.set_member(summary)
                self.points_requested = held.points
                self.requote()

            self._run(lambda: members.summary(ctx, member_id), restored)

    def void(self) -> None:
        """F8 twice: void the basket (nothing is written)."""
        if self.basket.rowCount() == 0 and self.member is None:
            self.message.show_message(self.tr("The basket is already empty."))
            return
        if not self._void_armed:
            self._void_armed = True
            self.message.show_message(self.tr("Press F8 again to void this basket."), "info")
            return
        self._void_armed = False
        self._clear_sale()
        self.message.show_message(self.tr("Basket voided."), "info")

    # -- the points mall and coupons ----------------------------------------------------
    def open_mall(self) -> None:
        """F11: the points mall, redeeming for the identified member."""
        if self.cashier is None:
            return
        dialog = MallDialog(self._ctx, self._runner, self.cashier, self.member, self)
        dialog.redeemed.connect(self._mall_redeemed)
        self._open(dialog)

    def _mall_redeemed(self, _result: RedemptionResult) -> None:
        self.data_written.emit()
        self.refresh_member()
        if self.basket.rowCount():
            self.requote()  # the balance (and the offline allowance) changed

    def open_coupons(self) -> None:
        """Ctrl+Q: apply a coupon to the basket (typed, scanned or the member's own)."""
        if self.basket.rowCount() == 0:
            self.message.show_message(self.tr("Scan the products first, then the coupon."))
            return
        ctx = self._ctx
        member_id = self.member.id if self.member else None

        def load() -> list[CouponInfo]:
            return mall.member_coupons(ctx, member_id) if member_id else []

        self._run(load, self._show_coupons)

    def _show_coupons(self, coupons: list[CouponInfo]) -> None:
        dialog = CouponDialog(self.coupon_codes, coupons, parent=self)
        ctx = self._ctx
        lines = self.basket.lines()
        member_id = self.member.id if self.member else None

        def submitted(codes: list[str]) -> None:
            self._runner.run(
                lambda: checkout.quote(ctx, lines, member_id=member_id, coupon_codes=codes),
                lambda quote: self._coupons_applied(dialog, list(codes), quote),
                lambda error: dialog.show_error(error_text(error)),
                guard=dialog,
            )

        dialog.submitted.connect(submitted)
        self._open(dialog)

    def _coupons_applied(self, dialog: QDialog, codes: list[str], quote: Quote) -> None:
        dialog.accept()
        self.coupon_codes = codes
        if codes:
            self.message.show_message(
                self.tr("Coupon applied: {value} off.").format(value=money(quote.coupon_fen)),
                "success",
            )
        else:
            self.message.show_message(self.tr("Coupons removed."), "info")
        self.requote()

    def open_manager(self) -> None:
        """Ctrl+M: the manager's views; a cashier gets a clear refusal."""
        if self.cashier is None:
            return
        if not self.cashier.is_manager:
            self.message.show_message(
                self.tr(
                    "Only a manager can open the manager views: lock the till (F12), "
                    "switch user and log in as the manager."
                )
            )
            return
        self._open(ManagerDialog(self._ctx, self._runner, self.cashier, self))

    # -- other dialogs ----------------------------------------------------------------
    def open_refund(self, receipt_no: str) -> None:
        """F9 or a scanned receipt: the return dialog."""
        if self.cashier is None:
            return
        dialog = RefundDialog(self._ctx, self._runner, self.cashier, receipt_no, self)
        dialog.refunded.connect(self._refunded)
        self._open(dialog)

    def _refunded(self, result: RefundResult) -> None:
        self.last_receipt_no = result.refund_no
        self.data_written.emit()
        self.refresh_member()

    def show_help(self) -> None:
        """F1: keys and what the scan line understands."""
        self._open(HelpDialog(self))

    def reprint(self) -> None:
        """F10: print the last receipt again, marked 重印 (on screen without a printer)."""
        if self.cashier is None:
            return
        ctx, cashier_id = self._ctx, self.cashier.id
        self._run(lambda: reprint_last(ctx, cashier_id=cashier_id), self._reprint_queued)

    def _reprint_queued(self, _job: PrintJobInfo) -> None:
        self.message.show_message(self.tr("Reprint sent to the printer."), kind="success")
        self.data_written.emit()

    # -- the receipt on screen ----------------------------------------------------------
    @property
    def receipt_showing(self) -> bool:
        """The receipt is on screen (in the basket's place)."""
        return self.basket_stack.currentWidget() is self.receipt_pane

    def receipt_printed(self, job: PrintJobInfo) -> None:
        """A receipt was drawn in preview mode (no printer): show it where the basket
        is, unless the cashier is already ringing up the next basket (then Ctrl+P shows
        it). The keyboard stays where it is."""
        if job.output is None or not self.receipt_pane.load(str(job.output), job.receipt_no):
            return
        if job.receipt_no:
            self.last_receipt_no = job.receipt_no
        if self.basket.rowCount() == 0:
            self.basket_stack.setCurrentWidget(self.receipt_pane)

    def show_last_receipt(self) -> None:
        """Ctrl+P: the last receipt on screen (drawn as the printer prints it)."""
        receipt_no = self.last_receipt_no
        if receipt_no is None:
            self.message.show_message(self.tr("No receipt yet on this till."), "info")
            return
        if self.receipt_pane.receipt_no == receipt_no and self.receipt_pane.has_receipt:
            self.basket_stack.setCurrentWidget(self.receipt_pane)
            return
        ctx = self._ctx

        def shown(path: Any) -> None:
            if self.receipt_pane.load(str(path), receipt_no):
                self.basket_stack.setCurrentWidget(self.receipt_pane)

        self._run(lambda: preview_receipt(ctx, receipt_no), shown)

    def hide_receipt(self) -> None:
        """Esc: the basket again in the receipt's place."""
        self.basket_stack.setCurrentIndex(0)

    def _basket_changed(self) -> None:
        if self.basket.rowCount():
            self.hide_receipt()
