"""The tool options bar: stroke smoothing, "paint only over" a label, mirror painting.

The settings live where they act: the smoothing on the brush and eraser tool objects
(:attr:`.tools.Brush.smoothing`), "only over" and mirror on the document
(:attr:`.document.Document.only_over`, :attr:`.document.Document.mirror`), so the bar only
shows and sets them. The window is passed in (duck-typed: ``document``, ``canvas``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar

from .enums import Tool

ANY_LABEL = "any label"
ONLY_OVER_TIP = ("Paint only over pixels of this label: every tool (brush, eraser, line, rectangle, fill, "
                 "polygon) then leaves other labels alone. Pick the label here; Alt+Shift+click on the map "
                 "picks the label under the pointer")
SMOOTH_TIP = ("Stroke smoothing for the brush and eraser: the brush follows the pointer on a string "
              "(longer to the right), so a shaky hand draws a smooth line; 0 = off")


def swatch(rgb: tuple[int, int, int], size: int = 12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(*rgb))
    return QIcon(pm)


class OptionsBar(QToolBar):
    """Smoothing slider, "Paint only over" label combo and the mirror toggle (``mirror_action``)."""

    def __init__(self, win: Any, mirror_action: QAction) -> None:
        super().__init__("Tool options", win)
        self.setObjectName("tool_options")
        self.setIconSize(QSize(14, 14))
        self._win = win
        self.addWidget(QLabel(" Smoothing "))
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 100)
        self.smooth_slider.setFixedWidth(80)
        self.smooth_slider.setToolTip(SMOOTH_TIP)
        self.addWidget(self.smooth_slider)
        self.smooth_label = QLabel(" 0 ")
        self.smooth_label.setMinimumWidth(30)
        self.addWidget(self.smooth_label)
        self.smooth_slider.valueChanged.connect(self.set_smoothing)
        self.addSeparator()
        self.addWidget(QLabel(" Paint only over "))
        self.only_combo = QComboBox()
        self.only_combo.setToolTip(ONLY_OVER_TIP)
        self.only_combo.setMinimumContentsLength(10)
        self.only_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.only_combo.activated.connect(self._only_chosen)
        self.addWidget(self.only_combo)
        self.addSeparator()
        self.addAction(mirror_action)
        doc = win.document
        doc.label_set_changed.connect(lambda _ls: self.fill_labels())
        doc.paint_options_changed.connect(self._sync)
        self.fill_labels()

    # -- smoothing ---------------------------------------------------------------------------
    def set_smoothing(self, value: int) -> None:
        value = max(0, min(100, int(value)))
        for tool in (Tool.BRUSH, Tool.ERASER):
            self._win.canvas.tool_handler(tool).smoothing = value
        self.smooth_label.setText(f" {value} ")
        if self.smooth_slider.value() != value:
            self.smooth_slider.setValue(value)

    # -- paint only over ----------------------------------------------------------------------
    def fill_labels(self) -> None:
        """One entry per label of the document's label set (after 'any label')."""
        doc = self._win.document
        ls = doc.label_set
        combo = self.only_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(ANY_LABEL, None)
        for lab in ls:
            combo.addItem(swatch(tuple(int(c) for c in lab.color)), f"{lab.id}  {lab.name}", lab.id)
        combo.blockSignals(False)
        if doc.only_over is not None and doc.only_over not in ls.ids:
            doc.only_over = None  # the label is gone with the old label set
        self._sync()

    def _only_chosen(self, index: int) -> None:
        self._win.document.only_over = self.only_combo.itemData(index)

    def set_only_over(self, label: int | None) -> None:
        self._win.document.only_over = label

    def _sync(self) -> None:
        i = self.only_combo.findData(self._win.document.only_over)
        self.only_combo.setCurrentIndex(max(0, i))
