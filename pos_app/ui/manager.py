"""The manager's views (Ctrl+M, managers only): tiers, reminders, a member's ledger, the
day report with CSV export, the shift close and the lottery draw.

Every query runs on the worker (:mod:`pos_app.services.reports`, which refuses anyone but
a manager again); a busy bar shows while one is in flight, and the window never waits.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pos_app.core.codes import ScanKind, classify_scan
from pos_app.services import mall, member_codes, members, reports
from pos_app.services.context import TillContext
from pos_app.services.mall import DrawResult, LotteryStatus
from pos_app.services.members import MemberHit
from pos_app.services.reports import (
    DayReport,
    ExpiringList,
    MemberDetail,
    NearTier,
    ShiftCloseResult,
    ShiftFigures,
    TierCount,
)
from pos_app.services.users import UserInfo
from pos_app.ui.basket import parse_yuan
from pos_app.ui.member_panel import TIER_COLOURS
from pos_app.ui.messages import error_text, money, tier_name
from pos_app.ui.qt import (
    QAbstractItemView,
    QColor,
    QCoreApplication,
    QDate,
    QDateEdit,
    QDialog,
    QFileDialog,
    QFont,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPainter,
    QPaintEvent,
    QProgressBar,
    QPushButton,
    QRectF,
    QSize,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from pos_app.ui.widgets import MessageLabel, only_default
from pos_app.ui.worker import TaskRunner

log = logging.getLogger(__name__)


def kind_name(kind: str) -> str:
    """A ledger entry kind as the manager reads it."""
    names = {
        "earn": QCoreApplication.translate("Ledger", "Earned"),
        "spend": QCoreApplication.translate("Ledger", "Spent"),
        "expire": QCoreApplication.translate("Ledger", "Expired"),
        "refund_reversal": QCoreApplication.translate("Ledger", "Refund: taken back"),
        "refund_restore": QCoreApplication.translate("Ledger", "Refund: given back"),
        "bonus": QCoreApplication.translate("Ledger", "Bonus"),
        "adjust": QCoreApplication.translate("Ledger", "Adjustment"),
        "merge_in": QCoreApplication.translate("Ledger", "Merged in (duplicate member)"),
        "merge_out": QCoreApplication.translate("Ledger", "Merged out (duplicate member)"),
        "opening": QCoreApplication.translate("Ledger", "Opening balance (from HQ)"),
    }
    return str(names.get(kind, kind))


def _table(object_name: str, headers: Sequence[str], stretch: int = 0) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(object_name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]], data: Sequence[Any] = ()) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c > 0 and text and (text[0].isdigit() or text[0] in "-¥+"):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if c == 0 and r < len(data):
                item.setData(Qt.ItemDataRole.UserRole, data[r])
            table.setItem(r, c, item)


def big_money(fen: int) -> str:
    """Fen as yuan with thousands separators: ``¥191,424.25``."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{part:02d}"


def _bold(label: QLabel, size: int = 12) -> QLabel:
    font = QFont(label.font())
    font.setBold(True)
    font.setPointSize(size)
    label.setFont(font)
    return label


class TierChart(QWidget):
    """Members per tier as horizontal bars (QPainter; no chart add-on needed).

    Attributes:
        counts: The tiers drawn, lowest first.
    """

    BAR_HEIGHT = 34
    GAP = 14

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tierChart")
        self.counts: list[TierCount] = []
        self.setMinimumHeight(3 * (self.BAR_HEIGHT + self.GAP) + self.GAP)

    def sizeHint(self) -> QSize:
        """Qt override: room for the bars."""
        rows = max(3, len(self.counts))
        return QSize(520, rows * (self.BAR_HEIGHT + self.GAP) + self.GAP)

    def set_counts(self, counts: Sequence[TierCount]) -> None:
        """Draw ``counts``."""
        self.counts = list(counts)
        self.setMinimumHeight(self.sizeHint().height())
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Qt override: one bar per tier, its count and share at its end."""
        del event
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            total = sum(c.members for c in self.counts) or 1
            largest = max((c.members for c in self.counts), default=0) or 1
            label_w = 110.0
            value_w = 150.0
            width = max(10.0, self.width() - label_w - value_w - 20)
            y = float(self.GAP)
            for count in self.counts:
                name = tier_name(count.tier, count.name)
                painter.setPen(QColor("#333333"))
                painter.drawText(
                    QRectF(0, y, label_w - 8, self.BAR_HEIGHT),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    name,
                )
                bar = max(2.0, width * count.members / largest) if count.members else 0.0
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(TIER_COLOURS.get(count.tier, "#607d8b")))
                painter.drawRoundedRect(QRectF(label_w, y, bar, self.BAR_HEIGHT), 4, 4)
                painter.setPen(QColor("#333333"))
                painter.drawText(
                    QRectF(label_w + bar + 8, y, value_w, self.BAR_HEIGHT),
                    int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                    f"{count.members:,}  ({count.members * 100 / total:.1f}%)",
                )
                y += self.BAR_HEIGHT + self.GAP
        finally:
            painter.end()


class ManagerDialog(QDialog):
    """The manager's views, one tab each; every query on the worker with a busy bar.

    Attributes:
        tier_counts, near, expiring, detail, report, figures, lotteries: What the tabs
            show (None until loaded).
        last_export: The CSV file written last.

    Signals:
        loaded: A tab's data is on screen (carries the tab key; tests wait on it).
    """

    loaded = Signal(str)

    def __init__(
        self,
        ctx: TillContext,
        runner: TaskRunner,
        manager: UserInfo,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("managerDialog")
        self.setWindowTitle(self.tr("Manager — {name}").format(name=manager.name))
        self.setModal(True)
        self.resize(1100, 720)
        self._ctx = ctx
        self._runner = runner
        self._manager = manager
        self._in_flight = 0
        self._started: dict[str, float] = {}
        self.tier_counts: list[TierCount] | None = None
        self.near: list[NearTier] | None = None
        self.expiring: ExpiringList | None = None
        self.hits: list[MemberHit] = []
        self.detail: MemberDetail | None = None
        self.report: DayReport | None = None
        self.figures: ShiftFigures | None = None
        self.shift_result: ShiftCloseResult | None = None
        self.lotteries: list[LotteryStatus] | None = None
        self.last_export: Path | None = None
        self._loaded_tabs: set[str] = set()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("managerTabs")
        self.progress = QProgressBar()
        self.progress.setObjectName("managerProgress")
        self.progress.setRange(0, 0)  # busy: the queries report no steps
        self.progress.setMaximumHeight(10)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("managerStatus")
        self.status.setStyleSheet("color:#666;")
        self.error = MessageLabel("managerError")
        close = QPushButton(self.tr("Close (Esc)"))
        close.setObjectName("managerClose")
        close.clicked.connect(self.reject)

        self._keys: list[str] = []
        for key, title, page in (
            ("tiers", self.tr("Tiers"), self._tiers_page()),
            ("expiring", self.tr("Expiring points"), self._expiring_page()),
            ("member", self.tr("Member"), self._member_page()),
            ("report", self.tr("Day report"), self._report_page()),
            ("shift", self.tr("Shift close"), self._shift_page()),
            ("lottery", self.tr("Lottery"), self._lottery_page()),
        ):
            page.setObjectName(f"{key}Tab")
            self.tabs.addTab(page, title)
            self._keys.append(key)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        only_default(self)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._tab_changed(0)

    # -- plumbing -------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A query is in flight."""
        return self._in_flight > 0

    def show_tab(self, key: str) -> None:
        """Switch to the tab ``key`` (loading it the first time)."""
        self.tabs.setCurrentIndex(self._keys.index(key))

    def _tab_changed(self, index: int) -> None:
        key = self._keys[index]
        if key in self._loaded_tabs:
            return
        self._loaded_tabs.add(key)
        loader = {
            "tiers": self.load_tiers,
            "expiring": self.load_expiring,
            "report": self.load_report,
            "shift": self.load_shift,
            "lottery": self.load_lotteries,
        }.get(key)
        if loader is not None:
            loader()

    def _task(
        self,
        key: str,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._in_flight += 1
        self._started[key] = time.perf_counter()
        self.progress.show()
        self.status.setText(self.tr("Loading…"))
        self.error.clear_message()

        def done(result: Any) -> None:
            self._finish(key)
            on_done(result)
            self.loaded.emit(key)

        def failed(error: Exception) -> None:
            self._finish(key)
            (on_error or (lambda e: self.error.show_message(error_text(e))))(error)
            self.loaded.emit(key)

        self._runner.run(fn, done, failed, guard=self)

    def _finish(self, key: str) -> None:
        self._in_flight -= 1
        seconds = time.perf_counter() - self._started.pop(key, time.perf_counter())
        if self._in_flight == 0:
            self.progress.hide()
            self.status.clear()  # the timing is for support (the log), not the manager
        log.debug("manager view %s loaded in %.3f s", key, seconds)

    # -- tiers ----------------------------------------------------------------------
    def _tiers_page(self) -> QWidget:
        page = QWidget()
        self.chart = TierChart()
        self.tier_table = _table(
            "tierTable", [self.tr("Tier"), self.tr("Members"), self.tr("Points held")]
        )
        self.tier_table.setMaximumHeight(150)
        self.near_table = _table(
            "nearTierTable",
            [
                self.tr("Phone"),
                self.tr("Name"),
                self.tr("Tier"),
                self.tr("Next tier"),
                self.tr("Spend to go"),
                self.tr("Points to go"),
                self.tr("Reached"),
            ],
            stretch=1,
        )
        self.near_table.itemDoubleClicked.connect(self._open_row_member)
        refresh = QPushButton(self.tr("Refresh"))
        refresh.setObjectName("tiersRefresh")
        refresh.clicked.connect(self.load_tiers)
        top = QHBoxLayout()
        top.addWidget(self.chart, 3)
        top.addWidget(self.tier_table, 2)
        layout = QVBoxLayout(page)
        head = QHBoxLayout()
        head.addWidget(_bold(QLabel(self.tr("Members by tier"))), 1)
        head.addWidget(refresh)
        layout.addLayout(head)
        layout.addLayout(top)
        self.near_label = _bold(QLabel(self.tr("Close to the next tier (within 20%)")))
        self.near_label.setObjectName("nearTierLabel")
        layout.addWidget(self.near_label)
        layout.addWidget(self.near_table, 1)
        return page

    def load_tiers(self) -> None:
        """Members per tier and the members close to the next tier."""
        ctx, actor = self._ctx, self._manager.id

        def work() -> tuple[list[TierCount], list[NearTier]]:
            return reports.tier_counts(ctx, actor), reports.near_next_tier(ctx, actor)

        self._task("tiers", work, lambda r: self._show_tiers(*r))

    def _show_tiers(self, counts: list[TierCount], near: list[NearTier]) -> None:
        self.tier_counts, self.near = counts, near
        self.chart.set_counts(counts)
        _fill(
            self.tier_table,
            [(tier_name(c.tier, c.name), f"{c.members:,}", f"{c.points:,}") for c in counts],
        )
        _fill(
            self.near_table,
            [
                (
                    n.masked_phone,
                    n.name or "—",
                    tier_name(n.tier, n.tier),
                    tier_name(n.next_tier, n.next_name),
                    money(n.spend_needed_fen),
                    f"{n.points_needed:,}",
                    f"{n.reached_permille / 10:.1f}%",
                )
                for n in near
            ],
            [n.member_id for n in near],
        )
        self.near_label.setText(
            self.tr("Close to the next tier (within 20%), nearest first: {count}").format(
                count=len(near)
            )
        )

    # -- expiring ---------------------------------------------------------------------
    def _expiring_page(self) -> QWidget:
        page = QWidget()
        self.expiring_summary = _bold(QLabel())
        self.expiring_summary.setObjectName("expiringSummary")
        self.expiring_table = _table(
            "expiringTable",
            [
                self.tr("Phone"),
                self.tr("Name"),
                self.tr("Tier"),
                self.tr("Points expiring"),
                self.tr("First expiry"),
                self.tr("Balance"),
            ],
            stretch=1,
        )
        self.expiring_table.itemDoubleClicked.connect(self._open_row_member)
        layout = QVBoxLayout(page)
        layout.addWidget(self.expiring_summary)
        layout.addWidget(self.expiring_table, 1)
        return page

    def load_expiring(self) -> None:
        """The reminder list."""
        ctx, actor = self._ctx, self._manager.id
        self._task("expiring", lambda: reports.expiring_soon(ctx, actor), self._show_expiring)

    def _show_expiring(self, listing: ExpiringList) -> None:
        self.expiring = listing
        self.expiring_summary.setText(
            self.tr(
                "{members} members have {points} points expiring by {date} (showing {shown})."
            ).format(
                members=f"{listing.members:,}",
                points=f"{listing.points:,}",
                date=listing.until.isoformat(),
                shown=len(listing.rows),
            )
        )
        _fill(
            self.expiring_table,
            [
                (
                    r.masked_phone,
                    r.name or "—",
                    tier_name(r.tier, r.tier),
                    f"{r.points:,}",
                    r.first_date.isoformat(),
                    f"{r.balance:,}",
                )
                for r in listing.rows
            ],
            [r.member_id for r in listing.rows],
        )

    # -- a member ---------------------------------------------------------------------
    def _member_page(self) -> QWidget:
        page = QWidget()
        self.member_search = QLineEdit()
        self.member_search.setObjectName("managerMemberSearch")
        self.member_search.setPlaceholderText(
            self.tr("Phone, last 4 digits or member code, then Enter")
        )
        self.member_search.returnPressed.connect(self.find_member)
        self.member_hits = QListWidget()
        self.member_hits.setObjectName("memberHits")
        self.member_hits.setMaximumHeight(110)
        self.member_hits.hide()
        self.member_hits.itemActivated.connect(
            lambda item: self.show_member(str(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.member_info = QLabel()
        self.member_info.setObjectName("memberDetail")
        self.member_info.setWordWrap(True)
        self.ledger_table = _table(
            "ledgerTable",
            [
                self.tr("Time"),
                self.tr("Entry"),
                self.tr("Points"),
                self.tr("Balance after"),
                self.tr("Receipt"),
                self.tr("Reason"),
                self.tr("By"),
            ],
            stretch=5,
        )
        layout = QVBoxLayout(page)
        layout.addWidget(self.member_search)
        layout.addWidget(self.member_hits)
        layout.addWidget(self.member_info)
        layout.addWidget(self.ledger_table, 1)
        return page

    def find_member(self) -> None:
        """Look the typed member up (several hits for 4 digits: pick one)."""
        text = self.member_search.text().strip()
        if not text:
            return
        scan = classify_scan(text)
        ctx = self._ctx

        def work() -> list[MemberHit]:
            if scan.kind == ScanKind.PHONE_SUFFIX:
                return members.find_by_last4(ctx, scan.value, prefix=scan.prefix)
            if scan.kind == ScanKind.MEMBER_CODE:
                return [members.find_by_code(ctx, scan.value)]
            if scan.kind == ScanKind.DYNAMIC_MEMBER_CODE:
                return [member_codes.find_by_dynamic_code(ctx, scan.value)]
            return [members.find_by_phone(ctx, scan.value)]

        self._task("member_search", work, self._show_hits)

    def _show_hits(self, hits: list[MemberHit]) -> None:
        self.hits = hits
        self.member_hits.clear()
        for hit in hits:
            item = QListWidgetItem(
                f"{hit.masked_phone}   {hit.name or '—'}   {tier_name(hit.tier, hit.tier_name)}"
                f"   {hit.balance:,}"
            )
            item.setData(Qt.ItemDataRole.UserRole, hit.id)
            self.member_hits.addItem(item)
        self.member_hits.setVisible(len(hits) > 1)
        if len(hits) == 1:
            self.show_member(hits[0].id)
        elif not hits:
            self.member_info.setText(self.tr("No member found."))

    def _open_row_member(self, item: QTableWidgetItem) -> None:
        table = item.tableWidget()
        first = table.item(item.row(), 0) if table is not None else None
        member_id = first.data(Qt.ItemDataRole.UserRole) if first is not None else None
        if member_id:
            self.show_member(str(member_id))

    def show_member(self, member_id: str) -> None:
        """Open the member tab on ``member_id``'s detail and full ledger history."""
        self._loaded_tabs.add("member")
        self.show_tab("member")
        ctx, actor = self._ctx, self._manager.id
        self._task(
            "member", lambda: reports.member_detail(ctx, actor, member_id), self._show_detail
        )

    def _show_detail(self, detail: MemberDetail) -> None:
        self.detail = detail
        s = detail.summary
        expiring = (
            self.tr("{points} points expire by {date}.").format(
                points=s.expiring.points, date=s.expiring.first_date
            )
            if s.expiring.points
            else self.tr("No points expire soon.")
        )
        self.member_info.setText(
            self.tr(
                "{name} · {phone} · {code} · {tier} · {points} points · "
                "12 months: {spend} spent, {earned} points earned. {expiring}"
            ).format(
                name=s.name or self.tr("(no name)"),
                phone=s.masked_phone,
                code=s.code,
                tier=tier_name(s.tier, s.tier_name),
                points=f"{s.balance:,}",
                spend=money(s.spend_12m_fen),
                earned=f"{s.points_12m:,}",
                expiring=expiring,
            )
        )
        zone = self._ctx.rules.zone
        _fill(
            self.ledger_table,
            [
                (
                    e.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    kind_name(e.kind),
                    f"{e.points:+,}",
                    f"{e.balance_after:,}",
                    e.receipt_no or "",
                    self.tr("Mall: {item}").format(item=e.mall_item) if e.mall_item else e.reason,
                    e.actor,
                )
                for e in detail.entries
            ],
        )

    # -- the day report ----------------------------------------------------------------
    REPORT_FIELDS = (
        "sales",
        "sales_fen",
        "cash_due_fen",
        "refunds",
        "refunds_fen",
        "redemptions",
        "points_issued",
        "points_spent",
        "points_expired",
        "liability_points",
        "liability_fen",
    )

    def _report_page(self) -> QWidget:
        page = QWidget()
        today = self._ctx.now().astimezone(self._ctx.rules.zone).date()
        self.report_date = QDateEdit(QDate(today.year, today.month, today.day))
        self.report_date.setObjectName("reportDate")
        self.report_date.setCalendarPopup(True)
        self.report_date.setDisplayFormat("yyyy-MM-dd")
        show = QPushButton(self.tr("Show"))
        show.setObjectName("reportRefresh")
        show.clicked.connect(self.load_report)
        self.export_button = QPushButton(self.tr("Export CSV…"))
        self.export_button.setObjectName("exportCsv")
        self.export_button.clicked.connect(self._choose_export)
        self.export_result = MessageLabel("exportResult")
        labels = {
            "sales": self.tr("Sales"),
            "sales_fen": self.tr("Sales amount"),
            "cash_due_fen": self.tr("Money taken"),
            "refunds": self.tr("Refunds"),
            "refunds_fen": self.tr("Cash refunded"),
            "redemptions": self.tr("Mall redemptions"),
            "points_issued": self.tr("Points issued"),
            "points_spent": self.tr("Points spent"),
            "points_expired": self.tr("Points expired"),
            "liability_points": self.tr("Points outstanding"),
            "liability_fen": self.tr("Points liability"),
        }
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        self.report_values: dict[str, QLabel] = {}
        for i, key in enumerate(self.REPORT_FIELDS):
            value = _bold(QLabel("—"), 14)
            value.setObjectName(f"report_{key}")
            grid.addWidget(QLabel(labels[key]), (i // 4) * 2, i % 4)
            grid.addWidget(value, (i // 4) * 2 + 1, i % 4)
            self.report_values[key] = value
        self.cashier_table = _table(
            "cashierTable",
            [
                self.tr("Cashier"),
                self.tr("Sales"),
                self.tr("Amount"),
                self.tr("Money taken"),
                self.tr("Points issued"),
                self.tr("Points spent"),
                self.tr("Mall"),
            ],
        )
        head = QHBoxLayout()
        head.addWidget(QLabel(self.tr("Day")))
        head.addWidget(self.report_date)
        head.addWidget(show)
        head.addStretch(1)
        head.addWidget(self.export_button)
        layout = QVBoxLayout(page)
        layout.addLayout(head)
        layout.addLayout(grid)
        layout.addWidget(_bold(QLabel(self.tr("Per cashier"))))
        layout.addWidget(self.cashier_table, 1)
        layout.addWidget(self.export_result)
        return page

    def report_day(self) -> dt.date:
        """The day chosen."""
        q = self.report_date.date()
        return dt.date(q.year(), q.month(), q.day())

    def load_report(self) -> None:
        """The day report of the chosen day."""
        ctx, actor, day = self._ctx, self._manager.id, self.report_day()
        self._task("report", lambda: reports.day_report(ctx, actor, day), self._show_report)

    def _show_report(self, report: DayReport) -> None:
        self.report = report
        values = {
            "sales": f"{report.sales:,}",
            "sales_fen": big_money(report.sales_fen),
            "cash_due_fen": big_money(report.cash_due_fen),
            "refunds": f"{report.refunds:,}",
            "refunds_fen": money(report.refunds_fen),
            "redemptions": self.tr("{count} ({points} pts)").format(
                count=report.redemptions, points=f"{report.redemption_points:,}"
            ),
            "points_issued": f"{report.points_issued:,}",
            "points_spent": f"{report.points_spent:,}",
            "points_expired": f"{report.points_expired:,}",
            "liability_points": f"{report.liability_points:,}",
            "liability_fen": big_money(report.liability_fen),
        }
        for key, text in values.items():
            self.report_values[key].setText(text)
        _fill(
            self.cashier_table,
            [
                (
                    c.name,
                    f"{c.sales:,}",
                    money(c.amount_fen),
                    money(c.cash_fen),
                    f"{c.points_issued:,}",
                    f"{c.points_spent:,}",
                    f"{c.redemptions:,}",
                )
                for c in report.cashiers
            ],
        )

    def _choose_export(self) -> None:
        default = str(
            Path.home() / f"day-report-{self.report_day().isoformat()}.csv"
        )  # a suggestion only
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Export the day report"), default, self.tr("CSV files (*.csv)")
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> None:
        """Write the chosen day's report as CSV (on the worker)."""
        ctx, actor, day = self._ctx, self._manager.id, self.report_day()
        self._task(
            "export",
            lambda: reports.export_day_report(ctx, actor, day, path),
            self._exported,
            lambda error: self.export_result.show_message(error_text(error)),
        )

    def _exported(self, path: Path) -> None:
        self.last_export = path
        self.export_result.show_message(
            self.tr("Saved to {path}").format(path=str(path)), "success"
        )

    # -- shift close -------------------------------------------------------------------
    def _shift_page(self) -> QWidget:
        page = QWidget()
        self.shift_figures_label = QLabel()
        self.shift_figures_label.setObjectName("shiftFigures")
        self.shift_figures_label.setWordWrap(True)
        self.shift_float = QLineEdit("0.00")
        self.shift_float.setObjectName("shiftFloat")
        self.shift_counted = QLineEdit()
        self.shift_counted.setObjectName("shiftCounted")
        self.shift_counted.setPlaceholderText(self.tr("Cash counted in the drawer, e.g. 1288.50"))
        self.shift_note = QLineEdit()
        self.shift_note.setObjectName("shiftNote")
        self.shift_note.setPlaceholderText(self.tr("Optional note"))
        self.shift_expected = _bold(QLabel("—"), 14)
        self.shift_expected.setObjectName("shiftExpected")
        self.shift_float.textChanged.connect(lambda _t: self._update_expected())
        self.shift_button = QPushButton(self.tr("Close the shift"))
        self.shift_button.setObjectName("shiftClose")
        self.shift_button.clicked.connect(self.close_shift)
        self.shift_message = MessageLabel("shiftResult")
        for field in (self.shift_float, self.shift_counted, self.shift_note):
            field.setMaximumWidth(420)
        form = QFormLayout()
        form.addRow(self.tr("Opening float"), self.shift_float)
        form.addRow(self.tr("Expected in the drawer"), self.shift_expected)
        form.addRow(self.tr("Counted"), self.shift_counted)
        form.addRow(self.tr("Note"), self.shift_note)
        layout = QVBoxLayout(page)
        layout.addWidget(self.shift_figures_label)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.shift_button)
        layout.addLayout(row)
        layout.addWidget(self.shift_message)
        layout.addStretch(1)
        return page

    def load_shift(self) -> None:
        """The cash figures since the last shift close."""
        ctx, actor = self._ctx, self._manager.id
        self._task("shift", lambda: reports.shift_figures(ctx, actor), self._show_shift)

    def _show_shift(self, figures: ShiftFigures) -> None:
        self.figures = figures
        zone = self._ctx.rules.zone
        self.shift_figures_label.setText(
            self.tr(
                "Since {start}: {sales} sales, cash taken {cash}, cash refunded {refunds}, "
                "mall cash {mall}."
            ).format(
                start=figures.opened_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                sales=figures.sales,
                cash=money(figures.cash_sales_fen),
                refunds=money(-figures.cash_refunds_fen),
                mall=money(figures.cash_mall_fen),
            )
        )
        self._update_expected()

    def _update_expected(self) -> None:
        float_fen = parse_yuan(self.shift_float.text())
        if self.figures is None or float_fen is None:
            self.shift_expected.setText("—")
            return
        self.shift_expected.setText(money(self.figures.expected_fen(float_fen)))

    def close_shift(self) -> None:
        """Record the cash count against what the drawer should hold."""
        float_fen = parse_yuan(self.shift_float.text())
        counted = parse_yuan(self.shift_counted.text())
        if float_fen is None or counted is None:
            self.shift_message.show_message(
                self.tr("Type the opening float and the cash counted, e.g. 200 and 1288.50.")
            )
            return
        ctx, actor, note = self._ctx, self._manager.id, self.shift_note.text()
        self.shift_button.setEnabled(False)

        def failed(error: Exception) -> None:
            self.shift_button.setEnabled(True)
            self.shift_message.show_message(error_text(error))

        self._task(
            "shift_close",
            lambda: reports.close_shift(
                ctx, actor, float_fen=float_fen, counted_fen=counted, note=note
            ),
            self._shift_closed,
            failed,
        )

    def _shift_closed(self, result: ShiftCloseResult) -> None:
        self.shift_result = result
        self.shift_button.setEnabled(True)
        diff = result.difference_fen
        if diff == 0:
            text = self.tr("Shift closed: expected {expected}, counted {counted}. The cash agrees.")
            kind = "success"
        elif diff > 0:
            text = self.tr("Shift closed: expected {expected}, counted {counted}: {diff} over.")
            kind = "info"
        else:
            text = self.tr("Shift closed: expected {expected}, counted {counted}: {diff} short.")
            kind = "error"
        self.shift_message.show_message(
            text.format(
                expected=money(result.expected_fen),
                counted=money(result.counted_fen),
                diff=money(abs(diff)),
            ),
            kind,
        )
        self.shift_counted.clear()
        self.load_shift()

    # -- the lottery ---------------------------------------------------------------------
    def _lottery_page(self) -> QWidget:
        page = QWidget()
        self.lottery_table = _table(
            "lotteryTable",
            [self.tr("Lottery"), self.tr("Entries"), self.tr("Winners"), self.tr("Draw")],
            stretch=3,
        )
        self.lottery_button = QPushButton(self.tr("Draw the selected lottery"))
        self.lottery_button.setObjectName("lotteryDraw")
        self.lottery_button.clicked.connect(self.draw_selected)
        self.lottery_result = MessageLabel("lotteryResult")
        hint = QLabel(
            self.tr(
                "The draw uses a fresh random seed, recorded with the list of entries, "
                "so anyone can repeat it and get the same winners."
            )
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color:#666;")
        layout = QVBoxLayout(page)
        layout.addWidget(self.lottery_table, 1)
        layout.addWidget(hint)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.lottery_button)
        layout.addLayout(row)
        layout.addWidget(self.lottery_result)
        return page

    def load_lotteries(self) -> None:
        """Lottery items, their entries and draws."""
        ctx = self._ctx
        self._task("lottery", lambda: mall.lotteries(ctx), self._show_lotteries)

    def _show_lotteries(self, items: list[LotteryStatus]) -> None:
        self.lotteries = items
        rows = []
        for status in items:
            if status.draw is None:
                drawn = self.tr("not drawn")
            else:
                drawn = self.tr("drawn {date}: {winners}").format(
                    date=status.draw.drawn_at.astimezone(self._ctx.rules.zone).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                    winners=", ".join(f"{w.masked_phone} {w.name}" for w in status.draw.winners),
                )
            rows.append((status.name, f"{status.entries:,}", str(status.winners), drawn))
        _fill(self.lottery_table, rows, [s.item_id for s in items])
        if items and not self.lottery_table.selectionModel().selectedRows():
            self.lottery_table.selectRow(0)

    def draw_selected(self) -> None:
        """Draw the selected lottery (recorded; entries close)."""
        rows = self.lottery_table.selectionModel().selectedRows()
        if not rows or self.lotteries is None:
            self.lottery_result.show_message(self.tr("Choose a lottery first."))
            return
        item_id = self.lotteries[rows[0].row()].item_id
        ctx, actor = self._ctx, self._manager.id
        self._task(
            "draw",
            lambda: mall.draw(ctx, item_id=item_id, actor_id=actor),
            self._drawn,
            lambda error: self.lottery_result.show_message(error_text(error)),
        )

    def _drawn(self, result: DrawResult) -> None:
        self.lottery_result.show_message(
            self.tr("{item}: {winners} won (seed {seed}…, {entries} entries).").format(
                item=result.item_name,
                winners=", ".join(f"{w.masked_phone} {w.name}" for w in result.winners),
                seed=result.seed_hex[:16],
                entries=result.entries_count,
            ),
            "success",
        )
        self.load_lotteries()
