"""The Layers dock: the document's label layers, top first, with visibility, lock, opacity and rename.

One row per layer (eye toggle, lock toggle, name); clicking a row makes it the active layer
(the one painted on), dragging an upper layer's row up or down moves the layer (a line shows
where it goes; the bottom layer stays at the bottom), double-clicking its name renames it in place (a line edit: it takes the
keys, so typing "b" or "1" does not switch tool or label); an upper layer's context menu has
"Style this layer…" (:attr:`LayersPanel.style_layer_requested`: the window gives the layer a
region style in the style panel). Under the list: the selected
layer's display opacity (a drag is one undo step) and the Layer menu's actions as buttons.
Every change goes through the :class:`~.document.Document`, so each is an undo step; the
panel rebuilds itself from :attr:`Document.layers_changed`.

:func:`make_layer_actions` creates the Layer menu's actions (used by :mod:`.actions`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .document import Document

# key, menu text, shortcut, tip (menu order); shortcuts checked against actions.py
LAYER_ACTIONS = [
    ("new", "&New Layer", "Ctrl+Shift+N", "A new empty layer above the selected one"),
    ("duplicate", "&Duplicate Layer", "Ctrl+J", "A copy of the selected layer above it"),
    ("delete", "De&lete Layer", None, "Delete the selected layer (not the bottom one)"),
    ("up", "Move Layer &Up", "Ctrl+]", "Move the selected layer one step up"),
    ("down", "Move Layer Do&wn", "Ctrl+[", "Move the selected layer one step down"),
    ("merge", "&Merge Down", "Ctrl+Shift+J", "Merge the selected layer into the layer below"),
    ("visible", "&Show/Hide Layer", "Ctrl+Shift+H", "Show or hide the selected layer (a hidden layer is not rendered)"),
    ("lock", "Loc&k/Unlock Layer", "Ctrl+/", "Lock the selected layer against painting"),
    ("above", "Select Layer &Above", "Alt+]", "Paint on the layer above"),
    ("below", "Select Layer &Below", "Alt+[", "Paint on the layer below"),
]


def make_layer_actions(win: Any, make_action: Callable[..., QAction]) -> dict[str, QAction]:
    """The Layer menu's actions for ``win`` (which has ``document``); ``make_action`` is
    :func:`.actions.make_action`."""

    def doc() -> Document:
        return win.document

    def select(step: int) -> None:
        d = doc()
        d.set_active_index(max(0, min(d.layer_count - 1, d.active_index + step)))

    slots = {
        "new": lambda: doc().add_layer(),
        "duplicate": lambda: doc().duplicate_layer(),
        "delete": lambda: doc().delete_layer(),
        "up": lambda: doc().move_layer_up(),
        "down": lambda: doc().move_layer_down(),
        "merge": lambda: doc().merge_down(),
        "visible": lambda: doc().set_layer_visible(None, not doc().active_layer.visible),
        "lock": lambda: doc().set_layer_locked(None, not doc().active_layer.locked),
        "above": lambda: select(1),
        "below": lambda: select(-1),
    }
    return {key: make_action(win, text, slots[key], shortcut, tip) for key, text, shortcut, tip in LAYER_ACTIONS}


def _icon(kind: str, on: bool, color: QColor) -> QIcon:
    """A small drawn eye / padlock (no icon files, no emoji fonts needed)."""
    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    c = QColor(color)
    if not on:
        c.setAlpha(70)
    p.setPen(QPen(c, 2.5))
    p.setBrush(Qt.BrushStyle.NoBrush)
    if kind == "eye":
        path = QPainterPath()
        path.moveTo(3, 16)
        path.quadTo(16, 3, 29, 16)
        path.quadTo(16, 29, 3, 16)
        p.drawPath(path)
        p.setBrush(c)
        p.drawEllipse(QPointF(16, 16), 4.5, 4.5)
        if not on:
            p.drawLine(5, 27, 27, 5)
    else:
        p.drawRoundedRect(QRectF(7, 14, 18, 14), 2, 2)
        if on:
            p.drawArc(QRectF(10, 4, 12, 16), 0, 180 * 16)
        else:
            p.drawArc(QRectF(15, 2, 12, 16), 0, 180 * 16)
    p.end()
    return QIcon(pm)


class LayerRow(QFrame):
    """One layer: eye, lock, name (double-click renames; drag to move the layer)."""

    clicked = Signal(int)  # layer index

    def __init__(self, panel: LayersPanel, index: int, active: bool) -> None:
        super().__init__()
        doc = panel.document
        layer = doc.layers[index]
        self.index = index
        self.panel = panel
        self.setObjectName("layer_row")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        if active:  # a style sheet: the theme's style sheet would override a palette
            hl = pal.color(QPalette.ColorRole.Highlight)
            text = pal.color(QPalette.ColorRole.HighlightedText)
            self.setStyleSheet(f"#layer_row {{ background-color: {hl.name()}; border-radius: 3px; }}"
                               f"#layer_row QLabel {{ color: {text.name()}; font-weight: bold; }}")
            fg = text
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(4)
        def toggle(icon: str, on: bool, tip: str, act) -> QToolButton:
            button = QToolButton()
            button.setCheckable(True)
            button.setChecked(on)
            button.setAutoRaise(True)
            button.setIcon(_icon(icon, on, fg))
            button.setIconSize(QSize(18, 18))
            button.setToolTip(tip)
            button.toggled.connect(act)
            return button

        self.eye = toggle("eye", layer.visible, "Hide this layer" if layer.visible else "Show this layer",
                          lambda on: doc.set_layer_visible(index, on))
        self.lock = toggle("lock", layer.locked,
                           "Unlock this layer" if layer.locked else "Lock this layer against painting",
                           lambda on: doc.set_layer_locked(index, on))
        text = layer.name
        if layer.opacity < 1:
            text += f"  ({layer.opacity * 100:.0f}%)"
        self.name = QLabel(text)
        self.name.setToolTip("Double-click to rename")
        self.edit: QLineEdit | None = None
        lay.addWidget(self.eye)
        lay.addWidget(self.lock)
        lay.addWidget(self.name, 1)

    # A click selects the layer (on release); dragging an upper layer's row up or down the list
    # moves the layer there (one undo step). The row is rebuilt when the stack changes, so
    # nothing changes before the button is released.
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            self._dragging = False
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        press = getattr(self, "_press", None)
        if press is None or not event.buttons() & Qt.MouseButton.LeftButton or self.index == 0:
            return super().mouseMoveEvent(event)
        if not self._dragging and (event.position().toPoint() - press).manhattanLength() < \
                QApplication.startDragDistance():
            return None
        if not self._dragging:
            self._dragging = True
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self.panel.show_drop(self.index, self.panel.drop_index(event.globalPosition().toPoint()))
        return None

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        press, self._press = getattr(self, "_press", None), None
        if event.button() != Qt.MouseButton.LeftButton or press is None:
            return super().mouseReleaseEvent(event)
        if getattr(self, "_dragging", False):
            self._dragging = False
            self.unsetCursor()
            self.panel.show_drop(self.index, None)
            to = self.panel.drop_index(event.globalPosition().toPoint())
            if to != self.index:
                self.panel.document.move_layer(self.index, to)  # rebuilds the rows
                return None
        self.clicked.emit(self.index)
        return None

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.start_rename()
        super().mouseDoubleClickEvent(event)

    def context_menu(self) -> QMenu:
        """The row's menu: "Style this layer…" (upper layers only: the bottom one is the
        map itself; style a label there) and Rename."""
        menu = QMenu(self)
        menu.setObjectName("layer_context_menu")
        style = menu.addAction("Style this layer…")
        style.setObjectName("style_layer_action")
        style.setToolTip("Give this layer's painted area its own style (the style panel's Regions section)")
        style.setEnabled(self.index > 0)
        key = self.panel.document.layers[self.index].key
        style.triggered.connect(lambda: self.panel.style_layer_requested.emit(key))
        menu.addAction("Rename…", self.start_rename)
        return menu

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        self.context_menu().exec(event.globalPos())

    def start_rename(self) -> QLineEdit:
        """Replace the name by a line edit: Enter or leaving it renames, Escape cancels."""
        if self.edit is not None:
            return self.edit
        doc = self.panel.document
        edit = QLineEdit(doc.layers[self.index].name)
        edit.setObjectName("layer_name_edit")
        edit.selectAll()
        self.layout().replaceWidget(self.name, edit)
        self.name.hide()
        self.edit = edit
        done = {"yes": False}

        def commit() -> None:
            if done["yes"]:
                return
            done["yes"] = True
            new = edit.text().strip()
            if new and new != doc.layers[self.index].name:
                doc.rename_layer(self.index, new)  # rebuilds the rows
            else:
                self.panel.refresh()
            self.panel.focus_canvas()

        def cancel() -> None:
            done["yes"] = True
            self.panel.refresh()
            self.panel.focus_canvas()

        edit.editingFinished.connect(commit)
        edit.installEventFilter(self)
        self._cancel = cancel
        edit.show()
        edit.setFocus(Qt.FocusReason.MouseFocusReason)
        return edit

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.edit and event.type() == event.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self._cancel()
            return True
        return super().eventFilter(obj, event)


class LayersPanel(QWidget):
    """The dock's contents for ``document``; :meth:`set_actions` adds the Layer menu's buttons."""

    style_layer_requested = Signal(int)  # a layer's key: "Style this layer…" was chosen

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.rows: list[LayerRow] = []
        self._focus_canvas: Callable[[], Any] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        self._list = QWidget()
        self._list_lay = QVBoxLayout(self._list)
        self._list_lay.setContentsMargins(0, 0, 0, 0)
        self._list_lay.setSpacing(2)
        self._list_lay.addStretch(1)
        self._drop_line = QFrame(self._list)  # where a dragged layer would go
        self._drop_line.setObjectName("layer_drop_line")
        self._drop_line.setFixedHeight(3)
        self._drop_line.hide()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        scroll.setMinimumHeight(90)
        lay.addWidget(scroll, 1)
        op = QHBoxLayout()
        op.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Display opacity of the selected layer on the canvas (the render ignores it)")
        self.opacity.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.opacity.valueChanged.connect(lambda v: self.document.set_layer_opacity(None, v / 100))
        op.addWidget(self.opacity, 1)
        self.opacity_label = QLabel("100%")
        self.opacity_label.setMinimumWidth(36)
        op.addWidget(self.opacity_label)
        lay.addLayout(op)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(2)
        lay.addLayout(self._buttons)
        document.layers_changed.connect(self.refresh)
        document.reset.connect(self.refresh)
        self.refresh()

    def set_actions(self, actions: dict[str, QAction]) -> None:
        """Buttons for the Layer menu's main actions (short texts, the menu's tips)."""
        short = {"new": "New", "duplicate": "Dup", "delete": "Del", "up": "Up", "down": "Down", "merge": "Merge"}
        for key, text in short.items():
            b = QToolButton()
            b.setDefaultAction(actions[key])
            b.setText(text)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setObjectName(f"layer_{key}_button")
            self._buttons.addWidget(b)
        self._buttons.addStretch(1)

    def set_canvas_focus(self, focus: Callable[[], Any]) -> None:
        """Called after a rename so the single-key shortcuts reach the canvas again."""
        self._focus_canvas = focus

    def focus_canvas(self) -> None:
        if self._focus_canvas is not None:
            self._focus_canvas()

    def row_for(self, index: int) -> LayerRow:
        """The row of layer ``index`` (bottom = 0)."""
        return self.rows[len(self.rows) - 1 - index]

    def drop_index(self, global_pos: QPoint) -> int:
        """The stack position a layer dragged to ``global_pos`` goes to: the row under the
        pointer's (above the list: the top; below it or on the bottom layer: just above it)."""
        y = self._list.mapFromGlobal(global_pos).y()
        top = self.document.layer_count - 1
        for row in self.rows:  # top first
            if y < row.geometry().bottom() + 1:
                return max(1, row.index)
        return 1 if self.rows else top

    def show_drop(self, moving: int, to: int | None) -> None:
        """Show (or, with ``to`` None, hide) the line where layer ``moving`` would be dropped:
        above the target row when it moves up, below it when it moves down."""
        if to is None or to == moving or not self.rows:
            self._drop_line.hide()
            return
        g = self.row_for(to).geometry()
        y = g.top() - 2 if to > moving else g.bottom() - 1
        color = self.palette().color(QPalette.ColorRole.Highlight).name()
        self._drop_line.setStyleSheet(f"#layer_drop_line {{ background-color: {color}; }}")
        self._drop_line.setGeometry(0, max(0, y), self._list.width(), 3)
        self._drop_line.raise_()
        self._drop_line.show()

    def refresh(self) -> None:
        self._drop_line.hide()
        doc = self.document
        for row in self.rows:
            self._list_lay.removeWidget(row)
            row.hide()
            row.deleteLater()
        self.rows = []
        active = doc.active_index
        for i in reversed(range(doc.layer_count)):  # top first
            row = LayerRow(self, i, i == active)
            row.clicked.connect(doc.set_active_index)
            self._list_lay.insertWidget(self._list_lay.count() - 1, row)
            self.rows.append(row)
        value = round(doc.active_layer.opacity * 100)
        blocked = self.opacity.blockSignals(True)
        self.opacity.setValue(value)
        self.opacity.blockSignals(blocked)
        self.opacity_label.setText(f"{value}%")
