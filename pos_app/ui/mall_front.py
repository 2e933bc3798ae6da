"""The mall's front page at the counter (F11 opens the mall on it).

One row of cards per section of :func:`pos_app.services.mall.front` (hot campaigns, value
picks, new items, the lottery, the member-day zone on member days), in the order the
core gives (HQ's picks first), and the pyramid (low, middle, top items on offer) beside
them. Keyboard only: Left/Right move within a row, Up/Down between rows, Enter picks the
item into the mall's redemption flow. The page never loads anything itself: the dialog
loads it on the worker and calls :meth:`FrontPageView.show_page`.
"""

from __future__ import annotations

from pos_app.core.front import FrontItem
from pos_app.services.mall import FrontPage
from pos_app.ui.qt import (
    QAbstractItemView,
    QColor,
    QCoreApplication,
    QFont,
    QFrame,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPainter,
    QPaintEvent,
    QRectF,
    QScrollArea,
    QSize,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)

CARD = QSize(224, 80)
LEVEL_COLOURS = {"low": "#43a047", "middle": "#1e88e5", "top": "#8e24aa"}


def section_title(code: str) -> str:
    """A section's heading (translated)."""
    titles = {
        "hot": QCoreApplication.translate("FrontPage", "Hot campaigns"),
        "value": QCoreApplication.translate("FrontPage", "Value picks: most points saved"),
        "new": QCoreApplication.translate("FrontPage", "New items"),
        "lottery": QCoreApplication.translate("FrontPage", "Upcoming lottery"),
        "member_day": QCoreApplication.translate("FrontPage", "Member-day zone"),
    }
    return titles.get(code, code)


def level_name(level: str) -> str:
    """A pyramid level's name (translated)."""
    names = {
        "low": QCoreApplication.translate("FrontPage", "Everyday"),
        "middle": QCoreApplication.translate("FrontPage", "Popular"),
        "top": QCoreApplication.translate("FrontPage", "Premium"),
    }
    return names.get(level, level)


class SectionRow(QListWidget):
    """One section's cards, left to right.

    Signals:
        picked: Enter on a card (carries the item id).
        leave: Up (-1) or Down (+1) past this row.
    """

    picked = Signal(str)
    leave = Signal(int)

    def __init__(self, code: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.code = code
        self.setObjectName(f"front_{code}")
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setMovement(QListWidget.Movement.Static)
        self.setGridSize(CARD)
        self.setSpacing(4)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # The row scrolls to the chosen card (keyboard): no scroll bar eats the cards' room.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(CARD.height() + 8)
        self.itemActivated.connect(
            lambda item: self.picked.emit(item.data(Qt.ItemDataRole.UserRole))
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Up/Down leave the row, Enter picks, Left/Right as a list."""
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.leave.emit(-1 if key == Qt.Key.Key_Up else 1)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.currentItem()
            if item is not None:
                self.picked.emit(str(item.data(Qt.ItemDataRole.UserRole)))
            return
        super().keyPressEvent(event)


class PyramidView(QWidget):
    """The pyramid: how many items are on offer at each level, top narrowest."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frontPyramid")
        self.counts: dict[str, int] = {"low": 0, "middle": 0, "top": 0}
        self.setMinimumSize(200, 150)

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show ``counts`` (level -> items on offer)."""
        self.counts = dict(counts)
        self.update()

    def rows(self) -> list[str]:
        """The levels' lines as drawn, top first ("Premium 2")."""
        return [f"{level_name(lv)} {self.counts.get(lv, 0)}" for lv in ("top", "middle", "low")]

    def paintEvent(self, _event: QPaintEvent) -> None:
        """Three stacked bands, the top one narrowest, each with its level and count."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        band = h / 3
        for i, (level, text) in enumerate(zip(("top", "middle", "low"), self.rows(), strict=True)):
            width = w * (0.5 + 0.25 * i)
            rect = QRectF((w - width) / 2, i * band + 2, width, band - 4)
            painter.setBrush(QColor(LEVEL_COLOURS[level]))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(rect, 6, 6)
            painter.setPen(QColor("white"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class FrontPageView(QWidget):
    """The front page's sections and pyramid.

    Signals:
        picked: An item was picked with Enter (carries its id).
    """

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mallFront")
        self.page: FrontPage | None = None
        self.rows: list[SectionRow] = []
        self._titles: list[QLabel] = []
        self._sections = QVBoxLayout()
        self._sections.setSpacing(2)
        self.empty = QLabel(self.tr("Loading the front page..."))
        self.empty.setObjectName("frontEmpty")
        self.pyramid = PyramidView()
        self.pyramid_title = QLabel(self.tr("Points pyramid: items on offer"))
        self.pyramid_title.setWordWrap(True)
        self.hint = QLabel(
            self.tr(
                "Arrows: move · Enter: choose the item · F11: all items and search · Esc: close"
            )
        )
        self.hint.setObjectName("frontHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color:#666;")
        side_panel = QWidget()
        side_panel.setFixedWidth(210)
        side = QVBoxLayout(side_panel)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.pyramid_title)
        side.addWidget(self.pyramid)
        side.addStretch(1)
        side.addWidget(self.hint)
        inner = QWidget()
        body = QVBoxLayout(inner)
        body.setContentsMargins(0, 0, 4, 0)
        body.addWidget(self.empty)
        body.addLayout(self._sections)
        body.addStretch(1)
        self.scroller = QScrollArea()
        self.scroller.setObjectName("frontSections")
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller.setWidget(inner)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroller, 1)
        layout.addWidget(side_panel)

    def show_page(self, page: FrontPage) -> None:
        """Show ``page``: a row per section with items (the first card chosen)."""
        self.page = page
        self._clear()
        for code, items in page.sections:
            if items:
                self._add_row(code, items, page)
        self.pyramid.set_counts(dict(page.pyramid))
        self.empty.setVisible(not self.rows)
        self.empty.setText(self.tr("Nothing on offer in the mall right now."))
        if self.rows:
            self.rows[0].setCurrentRow(0)

    def focus_first(self) -> None:
        """Give the keyboard to the first row (or the page when empty)."""
        if self.rows:
            self._focus(self.rows[0])
        else:
            self.setFocus()

    def focus_row(self, index: int, column: int = 0) -> None:
        """The keyboard to row ``index`` at card ``column`` (clamped)."""
        if self.rows:
            row = self.rows[max(0, min(index, len(self.rows) - 1))]
            row.setCurrentRow(max(0, min(column, row.count() - 1)))
            self._focus(row)

    def _focus(self, row: SectionRow) -> None:
        """The keyboard to ``row`` (the only row showing a chosen card), its title and
        cards scrolled into view."""
        for other in self.rows:
            if other is not row:
                other.clearSelection()
        row.setCurrentRow(max(row.currentRow(), 0))
        row.setFocus()
        title = self._titles[self.rows.index(row)]
        self.scroller.ensureWidgetVisible(title, 0, 0)
        self.scroller.ensureWidgetVisible(row, 0, 4)

    def current_row(self) -> SectionRow | None:
        """The row with the keyboard, if any."""
        focused = self.window().focusWidget()
        return next((r for r in self.rows if r is focused), None)

    def row(self, code: str) -> SectionRow | None:
        """The row of section ``code`` (None when it has no item)."""
        return next((r for r in self.rows if r.code == code), None)

    def _clear(self) -> None:
        for widget in [*self._titles, *self.rows]:
            self._sections.removeWidget(widget)
            widget.deleteLater()
        self.rows, self._titles = [], []

    def _add_row(self, code: str, items: tuple[FrontItem, ...], page: FrontPage) -> None:
        title = QLabel(section_title(code))
        title.setObjectName(f"frontTitle_{code}")
        font = QFont(title.font())
        font.setBold(True)
        font.setPointSize(font.pointSize() + 1)
        title.setFont(font)
        row = SectionRow(code)
        for item in items:
            row.addItem(self._card(item, page))
        row.picked.connect(self.picked)
        row.leave.connect(lambda step, r=row: self._move(r, step))
        self._sections.addWidget(title)
        self._sections.addWidget(row)
        self._titles.append(title)
        self.rows.append(row)
        title.show()  # now, not on the next turn of the event loop: the row takes focus
        row.show()

    def _card(self, item: FrontItem, page: FrontPage) -> QListWidgetItem:
        """One card: name, price (and what it saves), level, HQ's pick."""
        price = self.tr("{points} pts").format(points=f"{item.points_price:,}")
        if item.points_saved:
            price += "  " + self.tr("save {points}").format(points=f"{item.points_saved:,}")
        if item.cash_price_fen:
            price += " + ¥" + f"{item.cash_price_fen / 100:.2f}"
        tags = [level_name(item.level)]
        if item.featured:
            tags.append(self.tr("HQ pick"))
        lines = [item.name, price, " · ".join(tags)]
        if page.tier is not None:
            short = item.points_price - page.balance
            lines.append(
                self.tr("Can redeem")
                if short <= 0
                else self.tr("{points} short").format(points=f"{short:,}")
            )
        card = QListWidgetItem("\n".join(lines))
        card.setData(Qt.ItemDataRole.UserRole, item.item_id)
        card.setSizeHint(CARD - QSize(8, 8))
        card.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        card.setForeground(QColor(LEVEL_COLOURS.get(item.level, "#333")).darker(130))
        card.setToolTip(item.name)
        return card

    def _move(self, row: SectionRow, step: int) -> None:
        """Up/Down: the next row in that direction, at the same card where it can."""
        i = self.rows.index(row) + step
        if not 0 <= i < len(self.rows):
            return
        target = self.rows[i]
        column = max(row.currentRow(), 0)
        target.setCurrentRow(min(column, target.count() - 1))
        self._focus(target)
