"""The render history strip: thumbnails of the last final renders, each remembering the look
(style and seed) that made it; clicking one returns the style panel to that look, and the
render follows with the current map.

Only small thumbnails are kept (at most :attr:`HistoryStrip.MAX_ENTRIES`, each scaled to
:attr:`HistoryStrip.THUMB` pixels), never the renders themselves. A render made with a look
that is already in the strip replaces that entry and moves it to the front, so the strip is
a list of recent *looks*, each with its latest render; the entry of the look in use is
checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QToolButton, QWidget

from .qimage import rgb_to_qimage


@dataclass
class HistoryEntry:
    look: Any  # what made the render (the style panel's StyleLook): compared with ==
    thumb: QImage  # at most THUMB x THUMB
    tip: str
    stamp: float  # time.time() of the render


class HistoryStrip(QWidget):
    """A row of clickable render thumbnails, newest first. ``look_chosen(look)`` on a click."""

    look_chosen = Signal(object)

    MAX_ENTRIES = 12
    THUMB = 56

    def __init__(self, parent: QWidget | None = None, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__(parent)
        self.max_entries = max(1, int(max_entries))
        self._entries: list[HistoryEntry] = []
        self._buttons: list[QToolButton] = []
        self._current: Any = None
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._row = QWidget()
        self._row_layout = QHBoxLayout(self._row)
        self._row_layout.setContentsMargins(0, 0, 0, 0)
        self._row_layout.setSpacing(3)
        self._empty = QLabel("Recent renders appear here; click one to return to its style and seed.")
        self._empty.setEnabled(False)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self._row)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFixedHeight(self.THUMB + 22)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 0, 6, 0)
        title = QLabel("History")
        title.setToolTip("The last renders with the style and seed that made each: click one to go back to it")
        lay.addWidget(title)
        lay.addWidget(self.scroll, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._relayout()

    # -- API -----------------------------------------------------------------------------------
    def add(self, rgb: np.ndarray, look: Any, description: str) -> HistoryEntry:
        """Remember a final render (RGB uint8 ``[H, W, 3]``) made with ``look``; ``description``
        (the style's name, the seed, ...) becomes the tool tip."""
        img = rgb_to_qimage(np.ascontiguousarray(np.asarray(rgb)[..., :3]))
        thumb = img.scaled(self.THUMB, self.THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation).copy()  # owns its pixels
        stamp = time.time()
        tip = f"{description}\nrendered {time.strftime('%H:%M:%S', time.localtime(stamp))}\nclick: use this look again"
        entry = HistoryEntry(look, thumb, tip, stamp)
        self._entries = [entry] + [e for e in self._entries if e.look != look]
        del self._entries[self.max_entries:]
        self._current = look
        self._relayout()
        return entry

    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def buttons(self) -> list[QToolButton]:
        return list(self._buttons)

    def set_current(self, look: Any) -> None:
        """Check the entry of ``look`` (the look in use), if it is in the strip."""
        self._current = look
        for b, e in zip(self._buttons, self._entries):
            b.setChecked(e.look == look)

    def clear(self) -> None:
        self._entries = []
        self._relayout()

    def thumbnail_bytes(self) -> int:
        """Memory held by the thumbnails (the strip keeps nothing larger)."""
        return sum(e.thumb.sizeInBytes() for e in self._entries)

    # -- internals -----------------------------------------------------------------------------
    def _relayout(self) -> None:
        lay = self._row_layout
        while lay.count():
            item = lay.takeAt(0)
            w = item.widget()
            if w is not None and w is not self._empty:
                w.hide()
                w.deleteLater()
        self._buttons = []
        for e in self._entries:
            b = QToolButton()
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.setIcon(QIcon(QPixmap.fromImage(e.thumb)))
            b.setIconSize(QSize(self.THUMB, self.THUMB))
            b.setToolTip(e.tip)
            b.setChecked(e.look == self._current)
            b.clicked.connect(lambda _=False, look=e.look: self._chosen(look))
            lay.addWidget(b)
            self._buttons.append(b)
        self._empty.setVisible(not self._entries)
        lay.addWidget(self._empty)
        lay.addStretch(1)

    def _chosen(self, look: Any) -> None:
        self.set_current(look)
        self.look_chosen.emit(look)
