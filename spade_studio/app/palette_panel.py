"""The label palette: search, swatches with ids and number keys, and the recently used labels."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from spade_studio.labels import LabelSet

ID_ROLE = int(Qt.ItemDataRole.UserRole)
COLOR_ROLE = ID_ROLE + 1
KEY_ROLE = ID_ROLE + 2
NUMBER_KEYS = "1234567890"  # key for visible entry 0..9


def swatch_pixmap(color: tuple[int, int, int], size: int = 16) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor(*color))
    p = QPainter(pm)
    p.setPen(QPen(QColor(0, 0, 0, 110), 1))
    p.drawRect(0, 0, size - 1, size - 1)
    p.end()
    return pm


class _SwatchDelegate(QStyledItemDelegate):
    """One row: colour square, id (dim), name, and the number key in a small key cap."""

    ROW_H = 24

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        return QSize(160, self.ROW_H)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = QIcon()
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, p, opt.widget)
        r: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal: QPalette = option.palette
        text_col = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = QColor(text_col)
        dim.setAlpha(140)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        color = index.data(COLOR_ROLE) or (128, 128, 128)
        sw = QRect(r.left() + 6, r.center().y() - 7, 15, 15)
        p.fillRect(sw, QColor(*color))
        p.setPen(QPen(QColor(0, 0, 0, 120), 1))
        p.drawRect(sw.adjusted(0, 0, -1, -1))
        fm = option.fontMetrics
        id_w = fm.horizontalAdvance("000")
        id_rect = QRect(sw.right() + 6, r.top(), id_w, r.height())
        p.setPen(dim)
        p.drawText(id_rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), str(index.data(ID_ROLE)))
        key = index.data(KEY_ROLE) or ""
        key_w = fm.horizontalAdvance("0") + 10
        right = r.right() - 6
        if key:
            kr = QRect(right - key_w, r.center().y() - fm.height() // 2 - 1, key_w, fm.height() + 2)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setPen(QPen(dim, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(kr.adjusted(0, 0, -1, -1), 3, 3)
            p.drawText(kr, int(Qt.AlignmentFlag.AlignCenter), key)
        name_rect = QRect(id_rect.right() + 8, r.top(), right - key_w - 6 - (id_rect.right() + 8), r.height())
        p.setPen(text_col)
        name = fm.elidedText(index.data(Qt.ItemDataRole.DisplayRole) or "", Qt.TextElideMode.ElideRight,
                             name_rect.width())
        p.drawText(name_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), name)
        p.restore()


class _LabelList(QListWidget):
    """The swatch list; number keys pressed while it has focus pick visible entries."""

    number_key = Signal(int)
    activated_key = Signal()

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        t = e.text()
        if t and t in NUMBER_KEYS and not (e.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self.number_key.emit(NUMBER_KEYS.index(t))
            return
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activated_key.emit()
            return
        super().keyPressEvent(e)


class PalettePanel(QWidget):
    """``label_chosen(id)`` is emitted for user choices only (click, arrow keys, number keys,
    Enter in the search box, a recent swatch); ``set_current`` never emits."""

    label_chosen = Signal(int)
    recent_changed = Signal(list)
    search_finished = Signal()  # Enter or Esc in the search box: the window gives the keys back to the canvas

    RECENT_MAX = 8
    SETTLE_MS = 500  # arrow-key browsing records a label as recent once it stays picked this long

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._label_set: LabelSet | None = None
        self._current: int | None = None
        self._recent: list[int] = []
        self._quiet = False  # True while the list is changed from code
        self._pending_recent: int | None = None
        # paint the theme's background (a plain QWidget subclass would show its parent's, e.g. a splitter's)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

        self.title = QLabel("Labels")
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search labels (name or id)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_filter)
        self.search.returnPressed.connect(self._search_entered)
        self.search.installEventFilter(self)
        self.list = _LabelList()
        self.list.setItemDelegate(_SwatchDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.currentItemChanged.connect(self._current_item_changed)
        self.list.itemClicked.connect(self._item_clicked)
        self.list.number_key.connect(self.select_index)
        self.list.activated_key.connect(self._commit_current)
        self.empty_hint = QLabel("No label matches.")
        self.empty_hint.setEnabled(False)
        self.empty_hint.hide()

        self.recent_row = QWidget()
        self._recent_layout = QHBoxLayout(self.recent_row)
        self._recent_layout.setContentsMargins(0, 0, 0, 0)
        self._recent_layout.setSpacing(3)
        self._recent_layout.addWidget(QLabel("Recent:"))
        self._recent_buttons: list[QToolButton] = []
        self._recent_none = QLabel("none yet")
        self._recent_none.setEnabled(False)
        self._recent_layout.addWidget(self._recent_none)
        self._recent_layout.addStretch(1)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(5)
        lay.addWidget(self.title)
        lay.addWidget(self.search)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.empty_hint)
        lay.addWidget(self.recent_row)

        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(self.SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        self._rebuild_recent()

    # -- API ---------------------------------------------------------------------------------
    def set_label_set(self, ls: LabelSet) -> None:
        self._label_set = ls
        self.title.setText(f"Labels  ({ls.name}, {len(ls)})")
        self._quiet = True
        try:
            self.list.clear()
            for lab in ls:
                item = QListWidgetItem(lab.name)
                item.setData(ID_ROLE, lab.id)
                item.setData(COLOR_ROLE, tuple(int(c) for c in lab.color))
                r, g, b = lab.color
                item.setToolTip(f"{lab.name}\nid {lab.id} · colour #{r:02x}{g:02x}{b:02x} ({r}, {g}, {b})")
                self.list.addItem(item)
        finally:
            self._quiet = False
        self._recent = [i for i in self._recent if i in set(ls.ids)]
        if self._current not in set(ls.ids):
            self._current = None
        self.search.clear()
        self._apply_filter(self.search.text())
        self._rebuild_recent()

    def label_set(self) -> LabelSet | None:
        return self._label_set

    def set_current(self, label_id: int) -> None:
        """Highlight ``label_id`` without emitting ``label_chosen``."""
        self._current = int(label_id)
        self._highlight(self._current)
        self._touch(self._current)

    def current(self) -> int | None:
        return self._current

    def select_index(self, i: int) -> int | None:
        """Pick the ``i``-th visible entry (number keys 1..9, 0 are 0..9); returns its id."""
        items = self._visible_items()
        if not 0 <= i < len(items):
            return None
        label_id = int(items[i].data(ID_ROLE))
        self._choose(label_id)
        return label_id

    def visible_ids(self) -> list[int]:
        return [int(it.data(ID_ROLE)) for it in self._visible_items()]

    def recent(self) -> list[int]:
        """Recently used label ids, most recent first."""
        return list(self._recent)

    def set_filter(self, text: str) -> None:
        self.search.setText(text)

    # -- internals -------------------------------------------------------------------------------
    def _visible_items(self) -> list[QListWidgetItem]:
        return [self.list.item(r) for r in range(self.list.count()) if not self.list.item(r).isHidden()]

    def _matches(self, item: QListWidgetItem, text: str) -> bool:
        if not text:
            return True
        label_id = str(item.data(ID_ROLE))
        if text.startswith("#") and text[1:].isdigit():
            return label_id == text[1:]
        if text.isdigit() and label_id.startswith(text):
            return True
        return text in item.text().lower()

    def _apply_filter(self, text: str) -> None:
        text = text.strip().lower()
        shown = 0
        for r in range(self.list.count()):
            it = self.list.item(r)
            visible = self._matches(it, text)
            it.setHidden(not visible)
            it.setData(KEY_ROLE, NUMBER_KEYS[shown] if visible and shown < 10 else "")
            if visible:
                tip = it.toolTip().split("\nKey ")[0]
                it.setToolTip(tip + (f"\nKey {NUMBER_KEYS[shown]}" if shown < 10 else ""))
                shown += 1
        self.empty_hint.setVisible(shown == 0 and self.list.count() > 0)
        self._highlight(self._current)

    def _item_for(self, label_id: int | None) -> QListWidgetItem | None:
        if label_id is None:
            return None
        for r in range(self.list.count()):
            it = self.list.item(r)
            if it.data(ID_ROLE) == label_id:
                return it
        return None

    def _highlight(self, label_id: int | None) -> None:
        it = self._item_for(label_id)
        self._quiet = True
        try:
            if it is None or it.isHidden():
                self.list.clearSelection()
                self.list.setCurrentItem(None)
            else:
                self.list.setCurrentItem(it)
                self.list.scrollToItem(it)
        finally:
            self._quiet = False

    def _choose(self, label_id: int) -> None:
        """A user choice: highlight, record as recent at once, emit."""
        self._current = label_id
        self._highlight(label_id)
        self._settle.stop()
        self._add_recent(label_id)
        self.label_chosen.emit(label_id)

    def _current_item_changed(self, cur: QListWidgetItem | None, _prev) -> None:
        if self._quiet or cur is None:
            return
        label_id = int(cur.data(ID_ROLE))
        if label_id == self._current:
            return
        self._current = label_id
        self._touch(label_id)  # arrow-key browsing: recent only once it settles
        self.label_chosen.emit(label_id)

    def _item_clicked(self, item: QListWidgetItem) -> None:
        label_id = int(item.data(ID_ROLE))
        self._settle.stop()
        self._add_recent(label_id)
        if label_id != self._current:  # currentItemChanged already emitted otherwise
            self._choose(label_id)

    def _commit_current(self) -> None:
        if self._current is not None:
            self._settle.stop()
            self._add_recent(self._current)

    def _touch(self, label_id: int) -> None:
        self._pending_recent = label_id
        self._settle.start()

    def _settled(self) -> None:
        label_id = self._pending_recent
        if label_id is not None and label_id == self._current:
            self._add_recent(label_id)

    def _add_recent(self, label_id: int) -> None:
        if self._recent[:1] == [label_id]:
            return
        self._recent = [label_id] + [i for i in self._recent if i != label_id]
        del self._recent[self.RECENT_MAX:]
        self._rebuild_recent()
        self.recent_changed.emit(list(self._recent))

    def _rebuild_recent(self) -> None:
        for b in self._recent_buttons:
            self._recent_layout.removeWidget(b)
            b.hide()  # deleteLater runs only when control returns to the event loop
            b.deleteLater()
        self._recent_buttons = []
        ls = self._label_set
        for n, label_id in enumerate(self._recent):
            color = (128, 128, 128)
            name = f"id {label_id}"
            if ls is not None:
                try:
                    lab = ls.by_id(label_id)
                    color, name = lab.color, lab.name
                except KeyError:
                    pass
            b = QToolButton()
            b.setAutoRaise(True)
            b.setIcon(QIcon(swatch_pixmap(tuple(color), 18)))
            b.setIconSize(QSize(18, 18))
            b.setToolTip(f"{name} (id {label_id})")
            b.setProperty("label_id", label_id)
            b.clicked.connect(lambda _=False, i=label_id: self._choose(i))
            self._recent_layout.insertWidget(1 + n, b)
            self._recent_buttons.append(b)
        self._recent_none.setVisible(not self._recent)

    def _search_entered(self) -> None:
        self.select_index(0)
        self.search_finished.emit()

    def recent_buttons(self) -> list[QToolButton]:
        return list(self._recent_buttons)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
                self.list.setFocus()
                items = self._visible_items()
                if items and (self.list.currentItem() is None or self.list.currentItem().isHidden()):
                    self.list.setCurrentItem(items[0])
                return True
            if key == Qt.Key.Key_Escape:
                if self.search.text():
                    self.search.clear()
                else:
                    self.search_finished.emit()
                return True
        return super().eventFilter(obj, event)
