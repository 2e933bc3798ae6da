"""The points mall at the counter (F11) and the coupon field of the checkout.

Browsing, the filters and the redemption run on the worker
(:mod:`pos_app.services.mall`); the dialog only shows what comes back.
"""

from __future__ import annotations

from pos_app.core.errors import RedeemPointsShort, RedeemTierTooLow
from pos_app.core.mall import POINTS_RANGES
from pos_app.services import mall
from pos_app.services.context import TillContext
from pos_app.services.mall import CouponInfo, FrontPage, MallOffer, MallQuery, RedemptionResult
from pos_app.services.members import MemberSummary
from pos_app.services.till_session import new_client_id
from pos_app.services.users import UserInfo
from pos_app.ui.mall_front import FrontPageView
from pos_app.ui.messages import error_text, money, tier_name
from pos_app.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QCoreApplication,
    QDialog,
    QEvent,
    QFont,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.widgets import MessageLabel, only_default, select_on_focus
from pos_app.ui.worker import TaskRunner

SEARCH_DELAY_MS = 250


def points_text(points: int) -> str:
    """Points with thousands separators."""
    return f"{points:,}"


class MallDialog(QDialog):
    """The points mall: its front page first (sections and the pyramid, keyboard-driven),
    the list of every item with search and filters (F11), and redemption for the
    identified member. Esc on the list goes back to the front page; on the front page
    it closes the mall.

    Attributes:
        offers: The offers shown (the last answer of the worker).
        last_result: The last redemption committed here.

    Signals:
        redeemed: A redemption was committed (carries the :class:`RedemptionResult`).
        offers_shown: A new list of offers is on screen (tests wait on it).
    """

    redeemed = Signal(object)
    offers_shown = Signal()
    front_shown = Signal()

    COLUMNS = 7

    def __init__(
        self,
        ctx: TillContext,
        runner: TaskRunner,
        cashier: UserInfo,
        member: MemberSummary | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mallDialog")
        self.setWindowTitle(self.tr("Points mall"))
        self.setModal(True)
        self.resize(1040, 660)
        self._ctx = ctx
        self._runner = runner
        self._cashier = cashier
        self.member = member
        self.balance = member.balance if member else 0
        self.offers: list[MallOffer] = []
        self.last_result: RedemptionResult | None = None
        self._generation = 0
        self._loading = False
        self._front_loading = False
        self._redeeming = False

        self._pending_pick: str | None = None
        self.front_page: FrontPage | None = None

        self._make_filters()
        self._make_table()
        self._make_actions()
        self.front = FrontPageView()
        self._lay_out()
        self.count.setVisible(False)  # the list's count: the front page shows first
        self._connect_signals()
        only_default(self)
        self._show_member()
        self._selection_changed()
        self._load_categories()
        self.load_front()
        self.refresh()

    def _make_filters(self) -> None:
        """The member line, the search box and the filters."""
        self.member_label = QLabel()
        self.member_label.setObjectName("mallMember")
        font = QFont(self.member_label.font())
        font.setPointSize(13)
        font.setBold(True)
        self.member_label.setFont(font)
        self.search = QLineEdit()
        self.search.setObjectName("mallSearch")
        self.search.setPlaceholderText(self.tr("Search by name, brand or keyword"))
        self.category = QComboBox()
        self.category.setObjectName("mallCategory")
        self.category.addItem(self.tr("All categories"), "")
        self.range = QComboBox()
        self.range.setObjectName("mallRange")
        self.range.addItem(self.tr("All points"), None)
        for code, _low, _high in POINTS_RANGES:
            label = {
                "0-1000": self.tr("Up to 1,000 points"),
                "1000-5000": self.tr("1,000-5,000 points"),
                "5000+": self.tr("Over 5,000 points"),
            }.get(code, code)
            self.range.addItem(label, code)
        self.theme = QComboBox()
        self.theme.setObjectName("mallTheme")
        self.theme.addItem(self.tr("All themes"), None)
        self.theme.addItem(self.tr("Limited time"), "limited")
        self.theme.addItem(self.tr("New"), "new")
        self.count = QLabel()
        self.count.setObjectName("mallCount")
        self.count.setStyleSheet("color:#666;")

    def _make_table(self) -> None:
        """The table of offers."""
        self.table = QTableWidget(0, self.COLUMNS)
        self.table.setObjectName("mallItems")
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Item"),
                self.tr("Category"),
                self.tr("Points"),
                self.tr("+ Cash"),
                self.tr("Stock"),
                self.tr("Limits"),
                self.tr("For this member"),
            ]
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(34)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(self.COLUMNS - 1, QHeaderView.ResizeMode.Stretch)

    def _make_actions(self) -> None:
        """The selected item's detail, quantity, cash method and buttons."""
        self.detail = QLabel()
        self.detail.setObjectName("mallDetail")
        self.detail.setWordWrap(True)
        self.quantity = QSpinBox()
        self.quantity.setObjectName("mallQuantity")
        self.quantity.setRange(1, 99)
        self.quantity.setPrefix(self.tr("Qty "))
        select_on_focus(self.quantity)
        self.cash_method = QComboBox()
        self.cash_method.setObjectName("mallCashMethod")
        for code, text in (
            ("cash", self.tr("Cash")),
            ("card", self.tr("Bank card")),
            ("wechat", self.tr("WeChat Pay")),
            ("alipay", self.tr("Alipay")),
        ):
            self.cash_method.addItem(text, code)
        self.cash_label = QLabel(self.tr("Cash part paid by"))
        self.redeem_button = QPushButton(self.tr("Redeem for the member"))
        self.redeem_button.setObjectName("mallRedeem")
        self.redeem_button.setMinimumHeight(40)
        self.close_button = QPushButton(self.tr("Close (Esc)"))
        self.close_button.setObjectName("mallClose")
        self.message = MessageLabel("mallMessage")
        self.outcome = MessageLabel("mallResult")

    def _lay_out(self) -> None:
        """The filters over the table, the detail and the actions under it."""
        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        filters.addWidget(self.category, 1)
        filters.addWidget(self.range, 1)
        filters.addWidget(self.theme, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.quantity)
        actions.addWidget(self.cash_label)
        actions.addWidget(self.cash_method)
        actions.addStretch(1)
        actions.addWidget(self.close_button)
        actions.addWidget(self.redeem_button)
        self.browser = QWidget()
        self.browser.setObjectName("mallBrowser")
        listing = QVBoxLayout(self.browser)
        listing.setContentsMargins(0, 0, 0, 0)
        listing.addLayout(filters)
        listing.addWidget(self.table, 1)
        listing.addWidget(self.detail)
        listing.addWidget(self.outcome)
        listing.addLayout(actions)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.front)
        self.stack.addWidget(self.browser)
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        head.addWidget(self.member_label, 1)
        head.addWidget(self.count)
        layout.addLayout(head)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)

    def _connect_signals(self) -> None:
        """Searches, filters, selection and buttons."""
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self.refresh)
        for combo in (self.category, self.range, self.theme):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.redeem())
        self.table.installEventFilter(self)
        self.front.picked.connect(self.pick)
        self.redeem_button.clicked.connect(self.redeem)
        self.close_button.clicked.connect(self.reject)

    # -- loading -----------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A search or a redemption is in flight."""
        return (
            self._loading or self._redeeming or self._front_loading or self._search_timer.isActive()
        )

    def query(self) -> MallQuery:
        """The filters as the services take them."""
        return MallQuery(
            text=self.search.text().strip(),
            category=self.category.currentData() or None,
            points_range=self.range.currentData(),
            theme=self.theme.currentData(),
        )

    def _load_categories(self) -> None:
        ctx = self._ctx
        self._runner.run(lambda: mall.categories(ctx), self._show_categories, guard=self)

    def _show_categories(self, categories: list[str]) -> None:
        current = self.category.currentData()
        self.category.blockSignals(True)
        while self.category.count() > 1:
            self.category.removeItem(1)
        for code in categories:
            self.category.addItem(category_name(code), code)
        index = self.category.findData(current)
        self.category.setCurrentIndex(max(index, 0))
        self.category.blockSignals(False)

    def refresh(self) -> None:
        """Ask the worker for the offers matching the filters."""
        self._search_timer.stop()
        self._generation += 1
        generation = self._generation
        self._loading = True
        ctx, query = self._ctx, self.query()
        member_id = self.member.id if self.member else None
        self._runner.run(
            lambda: mall.browse(ctx, query, member_id),
            lambda offers: self._show_offers(generation, offers),
            lambda error: self._failed(generation, error),
            guard=self,
        )

    def _failed(self, generation: int, error: Exception) -> None:
        if generation == self._generation:
            self._loading = False
            self.message.show_message(error_text(error))
            self.offers_shown.emit()

    def _show_offers(self, generation: int, offers: list[MallOffer]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        selected = self.selected()
        self.offers = offers
        self.table.setRowCount(len(offers))
        for row, offer in enumerate(offers):
            for col, text in enumerate(self._cells(offer)):
                cell = QTableWidgetItem(text)
                if col in (2, 3, 4):
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if col == 2 and offer.limited:
                    cell.setForeground(Qt.GlobalColor.darkRed)
                if col == self.COLUMNS - 1 and offer.refusal is not None:
                    cell.setToolTip(error_text(offer.refusal))
                if col == self.COLUMNS - 1:
                    cell.setForeground(
                        Qt.GlobalColor.darkGreen if offer.redeemable else Qt.GlobalColor.darkGray
                    )
                self.table.setItem(row, col, cell)
        self.table.resizeRowsToContents()  # a refusal's whole sentence, never clipped
        self.count.setText(self.tr("{count} items").format(count=len(offers)))
        keep = next(
            (
                i
                for i, o in enumerate(offers)
                if selected and o.item.item_id == selected.item.item_id
            ),
            0 if offers else -1,
        )
        if keep >= 0:
            self.table.selectRow(keep)
        if self._pending_pick is not None and self.select_item(self._pending_pick):
            self._pending_pick = None
            self.table.setFocus()
        self._selection_changed()
        self.offers_shown.emit()

    def _cells(self, offer: MallOffer) -> list[str]:
        item = offer.item
        name = item.name + (f"  ·  {item.brand}" if item.brand else "")
        tags = []
        if offer.limited:
            tags.append(self.tr("Limited -{percent}%").format(percent=item.discount_percent))
        if offer.new:
            tags.append(self.tr("New"))
        if tags:
            name += "  [" + " / ".join(tags) + "]"
        if offer.points_now != item.points_price:
            price = self.tr("{now} (was {was})").format(
                now=points_text(offer.points_now), was=points_text(item.points_price)
            )
        else:
            price = points_text(offer.points_now)
        cash = money(item.cash_price_fen) if item.cash_price_fen else "—"
        if item.kind == "goods":
            stock = "∞" if item.stock is None else str(item.stock)
        elif item.kind == "coupon":
            stock = self.tr("coupon")
        else:  # a lottery: entries left (if capped), and how many were bought so far
            stock = "∞" if item.stock is None else str(item.stock)
            if offer.entries:
                stock += " · " + self.tr("{count} entered").format(count=offer.entries)
        limits = []
        if item.min_tier:
            limits.append(self.tr("{tier}+").format(tier=tier_name(item.min_tier, item.min_tier)))
        if item.per_member_limit is not None:
            limits.append(self.tr("max {n} each").format(n=item.per_member_limit))
        state = ""
        if self.member is not None:
            short = offer.points_now - self.balance
            if offer.redeemable:
                state = self.tr("Can redeem")
            elif short > 0 and isinstance(offer.refusal, RedeemPointsShort):
                state = self.tr("{points} more points needed").format(points=points_text(short))
            elif isinstance(offer.refusal, RedeemTierTooLow):
                code = str(offer.refusal.params.get("tier_code", ""))
                state = self.tr("{tier} and above only").format(
                    tier=tier_name(code, str(offer.refusal.params.get("tier", code)))
                )
            elif offer.refusal is not None:
                state = error_text(offer.refusal)
        elif offer.drawn:
            state = self.tr("Drawn")
        return [
            name,
            category_name(item.category),
            price,
            cash,
            stock,
            ", ".join(limits) or "—",
            state,
        ]

    # -- the front page ------------------------------------------------------------------
    @property
    def on_front(self) -> bool:
        """The front page is showing (not the list)."""
        return self.stack.currentWidget() is self.front

    def load_front(self) -> None:
        """Ask the worker for the front page (sections, pyramid) for the member."""
        self._front_loading = True
        ctx = self._ctx
        member_id = self.member.id if self.member else None
        self._runner.run(
            lambda: mall.front(ctx, member_id),
            self._show_front,
            self._front_failed,
            guard=self,
        )

    def _show_front(self, page: FrontPage) -> None:
        self._front_loading = False
        self.front_page = page
        self.front.show_page(page)
        if self.on_front:
            self.front.focus_first()
        self.front_shown.emit()

    def _front_failed(self, error: Exception) -> None:
        self._front_loading = False
        self.message.show_message(error_text(error))
        self.front_shown.emit()

    def show_front(self) -> None:
        """Back to the front page (Esc on the list)."""
        self.stack.setCurrentWidget(self.front)
        self.count.setVisible(False)
        self.front.focus_first()

    def show_list(self) -> None:
        """The list of every item with the search and filters (F11 on the front page)."""
        self.stack.setCurrentWidget(self.browser)
        self.count.setVisible(True)
        self.table.setFocus()

    def pick(self, item_id: str) -> None:
        """An item chosen on the front page: the list with it selected, ready to redeem
        (Enter), the filters cleared if they hid it."""
        self.show_list()
        if self.select_item(item_id):
            return
        self._pending_pick = item_id
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        for combo in (self.category, self.range, self.theme):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.refresh()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """F11 switches front page and list; Esc on the list goes back to the front."""
        if event.key() == Qt.Key.Key_F11:
            if self.on_front:
                self.show_list()
            else:
                self.show_front()
            return
        if event.key() == Qt.Key.Key_Escape and not self.on_front:
            self.show_front()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter on the list redeems the selected item (the keyboard's way to redeem)."""
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            self.redeem()
            return True
        return super().eventFilter(watched, event)

    # -- selection and redemption -----------------------------------------------------
    def selected(self) -> MallOffer | None:
        """The offer of the selected row."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = rows[0].row()
        return self.offers[row] if 0 <= row < len(self.offers) else None

    def select_item(self, item_id: str) -> bool:
        """Select the row of ``item_id`` (tests, screenshots)."""
        for row, offer in enumerate(self.offers):
            if offer.item.item_id == item_id:
                self.table.selectRow(row)
                return True
        return False

    def _selection_changed(self) -> None:
        offer = self.selected()
        has_cash = offer is not None and offer.item.cash_price_fen > 0
        self.cash_method.setVisible(has_cash)
        self.cash_label.setVisible(has_cash)
        self.redeem_button.setEnabled(
            offer is not None and self.member is not None and not self._redeeming
        )
        if offer is None:
            self.detail.setText(self.tr("Choose an item."))
            return
        item = offer.item
        parts = [
            self.tr("{item}: {points} points").format(
                item=item.name, points=points_text(offer.points_now)
            )
        ]
        if item.cash_price_fen:
            parts.append(self.tr("+ {cash} cash").format(cash=money(item.cash_price_fen)))
        if offer.limited:
            parts.append(
                self.tr("(limited-time {percent}% off, regular {was} points)").format(
                    percent=item.discount_percent, was=points_text(item.points_price)
                )
            )
        if item.kind == "coupon":
            parts.append(self.tr("— a coupon for the member's next purchase."))
        elif item.kind == "lottery":
            parts.append(self.tr("— one lottery entry per unit; the draw is recorded."))
        if self.member is None:
            parts.append(self.tr("Identify the member on the checkout screen to redeem."))
        elif offer.refusal is not None:
            parts.append("— " + error_text(offer.refusal))
        self.detail.setText(" ".join(parts))

    def redeem(self) -> None:
        """Redeem the selected item for the member (on the worker, one transaction)."""
        offer = self.selected()
        if self.member is None:
            self.message.show_message(
                self.tr("Identify the member first: scan the member code or type the phone.")
            )
            return
        if offer is None or self._redeeming:
            return
        self.message.clear_message()
        self.outcome.clear_message()
        self._redeeming = True
        self.redeem_button.setEnabled(False)
        ctx = self._ctx
        redemption_id = new_client_id()
        member_id = self.member.id
        item_id = offer.item.item_id
        quantity = self.quantity.value()
        method = str(self.cash_method.currentData()) if offer.item.cash_price_fen else None
        actor = self._cashier.id
        shown = offer.points_now
        self._runner.run(
            lambda: mall.redeem(
                ctx,
                redemption_id=redemption_id,
                member_id=member_id,
                item_id=item_id,
                quantity=quantity,
                actor_id=actor,
                cash_method=method,
                shown_unit_points=shown,
            ),
            self._redeemed,
            self._redeem_failed,
            guard=self,
        )

    def _redeem_failed(self, error: Exception) -> None:
        self._redeeming = False
        self.message.show_message(error_text(error))
        self._selection_changed()

    def _redeemed(self, result: RedemptionResult) -> None:
        self._redeeming = False
        self.last_result = result
        self.balance = result.balance_after
        self._show_member()
        parts = [
            self.tr("Redeemed {item} x{qty} for {points} points.").format(
                item=result.item_name, qty=result.quantity, points=points_text(result.points)
            )
        ]
        if result.cash_fen:
            parts.append(self.tr("Take {cash} in cash part.").format(cash=money(result.cash_fen)))
        for coupon in result.coupons:
            parts.append(
                self.tr("Coupon {code} issued, valid until {date}.").format(
                    code=coupon.code, date=coupon.valid_to.astimezone(self._ctx.rules.zone).date()
                )
            )
        if result.lottery_entries:
            parts.append(
                self.tr("{count} lottery entries recorded.").format(
                    count=len(result.lottery_entries)
                )
            )
        parts.append(
            self.tr("Balance now {points} points.").format(points=points_text(result.balance_after))
        )
        self.outcome.show_message(" ".join(parts), "success")
        self.quantity.setValue(1)
        self.redeemed.emit(result)
        self.refresh()
        self.load_front()

    def _show_member(self) -> None:
        if self.member is None:
            self.member_label.setText(
                self.tr("No member: browse only. Identify the member to redeem.")
            )
            return
        m = self.member
        self.member_label.setText(
            self.tr("{name} · {phone} · {tier} · {points} points").format(
                name=m.name or self.tr("(no name)"),
                phone=m.masked_phone,
                tier=tier_name(m.tier, m.tier_name),
                points=points_text(self.balance),
            )
        )


def category_name(code: str) -> str:
    """A mall category's display name (known codes are translated)."""
    names = {
        "coupon": QCoreApplication.translate("Mall", "Coupons"),
        "home": QCoreApplication.translate("Mall", "Home"),
        "electronics": QCoreApplication.translate("Mall", "Electronics"),
        "travel": QCoreApplication.translate("Mall", "Travel"),
        "lottery": QCoreApplication.translate("Mall", "Lottery"),
        "food": QCoreApplication.translate("Mall", "Food"),
        "drinks": QCoreApplication.translate("Mall", "Drinks"),
        "snacks": QCoreApplication.translate("Mall", "Snacks"),
        "care": QCoreApplication.translate("Mall", "Personal care"),
        "household": QCoreApplication.translate("Mall", "Household"),
    }
    return str(names.get(code, code))


class CouponDialog(QDialog):
    """The coupon field of the checkout: type or scan a code, or pick the member's.

    Signals:
        submitted: The codes to apply (list of str; the checkout checks them by quoting).
    """

    submitted = Signal(list)

    def __init__(
        self,
        applied: list[str],
        coupons: list[CouponInfo],
        zone_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("couponDialog")
        self.setWindowTitle(self.tr("Coupons"))
        self.setModal(True)
        self.setMinimumWidth(480)
        del zone_name
        self.applied = list(applied)
        self.input = QLineEdit()
        self.input.setObjectName("couponInput")
        self.input.setPlaceholderText(self.tr("Scan or type the coupon code"))
        self.list = QListWidget()
        self.list.setObjectName("couponList")
        for c in coupons:
            value = money(c.amount_off_fen) if c.amount_off_fen else f"{c.percent_off}%"
            text = self.tr("{code}  {name}  -{value}").format(code=c.code, name=c.name, value=value)
            if c.min_order_fen:
                text += "  " + self.tr("(orders from {min})").format(min=money(c.min_order_fen))
            entry = QListWidgetItem(text)
            entry.setData(Qt.ItemDataRole.UserRole, c.code)
            self.list.addItem(entry)
        self.applied_label = QLabel()
        self.applied_label.setObjectName("couponApplied")
        self.applied_label.setWordWrap(True)
        self.error = MessageLabel("couponError")
        self.ok = QPushButton(self.tr("Apply (Enter)"))
        self.ok.setObjectName("couponApply")
        self.remove = QPushButton(self.tr("Remove all coupons"))
        self.remove.setObjectName("couponRemove")
        cancel = QPushButton(self.tr("Cancel (Esc)"))
        cancel.setObjectName("couponCancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.input)
        if coupons:
            layout.addWidget(QLabel(self.tr("The member's coupons (double-click to apply):")))
            layout.addWidget(self.list)
        else:
            self.list.hide()
        layout.addWidget(self.applied_label)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.input.returnPressed.connect(self.submit)
        self.ok.clicked.connect(self.submit)
        self.remove.clicked.connect(self._remove_all)
        cancel.clicked.connect(self.reject)
        self.list.itemDoubleClicked.connect(
            lambda entry: self.submit(str(entry.data(Qt.ItemDataRole.UserRole)))
        )
        only_default(self, self.ok)
        self._show_applied()

    def _show_applied(self) -> None:
        if self.applied:
            self.applied_label.setText(
                self.tr("Applied: {codes}").format(codes=", ".join(self.applied))
            )
        else:
            self.applied_label.setText(self.tr("No coupon applied."))

    def _remove_all(self) -> None:
        self.ok.setEnabled(False)
        self.submitted.emit([])

    def submit(self, code: str | None = None) -> None:
        """Add ``code`` (default: the typed one) to the applied codes and emit them."""
        if not self.ok.isEnabled():
            return
        value = (code if isinstance(code, str) else self.input.text()).strip().upper()
        if not value:
            current = self.list.currentItem()
            if current is None or self.list.isHidden():
                self.error.show_message(self.tr("Scan or type the coupon code."))
                return
            value = str(current.data(Qt.ItemDataRole.UserRole))
        if value in self.applied:
            self.error.show_message(self.tr("This coupon is already applied."))
            return
        self.ok.setEnabled(False)
        self.submitted.emit([*self.applied, value])

    def show_error(self, text: str) -> None:
        """Show why the coupon was refused (the basket keeps its previous coupons)."""
        self.ok.setEnabled(True)
        self.error.show_message(text)
