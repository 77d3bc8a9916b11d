"""Shared helpers of the GUI tests: a shown Canvas at a fixed view, and real mouse events.

Import them with ``from helpers import ...`` (pytest puts ``tests/gui`` on ``sys.path``
for the test modules in it, as it puts ``tests`` there for ``from conftest import ...``)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from spade_studio.app.canvas import Canvas


def shown_canvas(qtbot, doc, zoom: float, ox: float, oy: float) -> Canvas:
    """A 400x300 Canvas of ``doc``, shown and exposed, at zoom ``zoom`` with the map's
    origin at widget point (ox, oy)."""
    c = Canvas(doc)
    qtbot.addWidget(c)
    c.resize(400, 300)
    c.show()
    qtbot.waitExposed(c)
    c.set_view(zoom, QPointF(ox, oy))
    return c


def send(widget, kind, pos, button, buttons, mods=Qt.KeyboardModifier.NoModifier):
    """Send one mouse event of ``kind`` at widget position ``pos``."""
    pos = QPointF(pos)
    ev = QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos)), button, buttons, mods)
    QApplication.sendEvent(widget, ev)


def mouse(widget, kind, map_xy, buttons=Qt.MouseButton.LeftButton):
    """One mouse event on a canvas at map point ``map_xy`` (left button unless a move)."""
    pos = QPointF(widget.map_to_widget(*map_xy))
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    ev = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def stroke(canvas, points):
    """A left-button drag through the map points ``points``."""
    mouse(canvas, QEvent.Type.MouseButtonPress, points[0])
    for p in points[1:]:
        mouse(canvas, QEvent.Type.MouseMove, p)
    mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)
