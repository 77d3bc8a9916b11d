"""The canvas tools: one class per tool, turning pointer events in map coordinates into document edits.

A tool gets ``press`` / ``move`` / ``release`` with continuous map coordinates (pixel ``(x, y)``
covers ``[x, x+1) x [y, y+1)``) and changes the map only through the :class:`Document`:

* :class:`Brush` / :class:`Eraser` paint a live stroke (press..release), recorded as one undo
  step; the eraser paints the background label.
* :class:`Fill` flood-fills the 4-connected region under the press (one step).
* :class:`Eyedropper` picks the label under the pointer (press and drag).
* :class:`Line` / :class:`Rect` show a preview while dragged and record one step on release.
* :class:`Polygon` fills a polygon (click the corners; double-click, Enter or a click on the
  first corner closes it, Backspace removes the last corner, Esc drops it) or, when the press
  is dragged, a free-hand lasso outline (the release fills it). One step either way.

Brush and eraser strokes can be smoothed (:attr:`Brush.smoothing`, 0..100): a pulled string
(the dab follows the pointer at the string's length, so jitter shorter than the string is
ignored); the release paints on to where the pointer let go. 0 is the raw pointer path.
The document's painting options (``only_over``, ``mirror``) apply to every tool.

What a tool needs from the widget (labels, brush size, feedback) is the :class:`ToolHost`
protocol, which the canvas implements; the tools know nothing of zoom, pan or widgets.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from spade_studio import labelmap as lm

from .document import Document
from .enums import Tool


def dab_centre(mx: float, my: float, brush: int) -> tuple[float, float]:
    """Brush centre for a map point, in labelmap coordinates (pixel centres are integers):
    odd diameters centre on the pixel under the pointer, even ones on the nearest pixel
    corner, so the footprint is always symmetric."""
    if brush % 2:
        return float(math.floor(mx)), float(math.floor(my))
    return math.floor(mx + 0.5) - 0.5, math.floor(my + 0.5) - 0.5


def pixel_of(mx: float, my: float) -> tuple[int, int]:
    """The map pixel holding a map point."""
    return math.floor(mx), math.floor(my)


class ToolHost(Protocol):
    """What the tools ask of the widget they serve (the canvas)."""

    @property
    def document(self) -> Document: ...

    def current_label(self) -> int: ...

    def background_label(self) -> int: ...

    def brush_size(self) -> int: ...

    def pick_label(self, label: int) -> None:
        """The eyedropper found ``label``: make it current and announce it."""

    def edit_finished(self) -> None:
        """An edit (stroke, fill, shape) was recorded."""

    def preview_changed(self) -> None:
        """The tool's preview (a shape being dragged) moved: repaint."""

    def zoom(self) -> float:
        """Widget pixels per map pixel (tools measure pointer distances on screen)."""


class ToolHandler:
    """Base: a tool that does nothing. ``active`` is True between a press that started a
    gesture and its release (or :meth:`finish`)."""

    tool: Tool
    cursor = Qt.CursorShape.CrossCursor
    shows_brush = False  # the canvas outlines the brush footprint under the pointer
    paints = True  # the canvas shows the label (and size) it paints next to the pointer
    alt_picks = True  # Alt+press picks the label under the pointer instead (every tool)

    def __init__(self, host: ToolHost) -> None:
        self.host = host

    @property
    def document(self) -> Document:
        return self.host.document

    @property
    def active(self) -> bool:
        return False

    def radius(self) -> float:
        return self.host.brush_size() / 2.0

    def press(self, mx: float, my: float) -> None:
        pass

    def move(self, mx: float, my: float) -> None:
        pass

    def release(self, mx: float, my: float) -> None:
        self.finish(commit=True)

    def hover(self, mx: float, my: float) -> None:
        """The pointer moved with no button down (tools with a gesture spanning several clicks)."""

    def smoothed_point(self) -> tuple[float, float] | None:
        """Where a smoothed stroke's brush is (map coordinates), else None."""
        return None

    def string_px(self) -> float:
        """How far (screen pixels) the brush may trail the pointer (stroke smoothing)."""
        return 0.0

    def double_click(self, mx: float, my: float) -> bool:
        """A double click (after its first press/release); True when the tool used it."""
        return False

    def key(self, key: Qt.Key) -> bool:
        """A key pressed on the canvas; True when the tool used it."""
        return False

    def finish(self, commit: bool) -> None:
        """End the gesture in progress, recording it (``commit``) or dropping it."""

    def cancelled(self) -> None:
        """The document rolled a live stroke back (undo/redo/reset with the button down)."""

    def paint_preview(self, painter: QPainter, color: QColor) -> None:
        """Draw the gesture's preview; ``painter`` is in map coordinates."""

    def _usable(self, label: int) -> bool:
        return label in self.document.label_set.ids


class Brush(ToolHandler):
    """A round brush of ``host.brush_size()`` painting the current label, live."""

    tool = Tool.BRUSH
    shows_brush = True
    undo_text = "Brush stroke"
    erases = False  # on an upper layer the eraser makes pixels empty (document.begin_stroke)

    SMOOTH_PX = 0.6  # string length in screen pixels per unit of smoothing (100: 60 px)

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self._last: tuple[float, float] | None = None  # the last dab centre of the stroke
        self._label = 0
        self._pull: tuple[float, float] | None = None  # the smoothed pointer (map coordinates)
        self.smoothing = 0  # 0..100: the stabiliser's strength (0: the raw pointer path)

    def string_px(self) -> float:
        return max(0, self.smoothing) * self.SMOOTH_PX

    def string_length(self) -> float:
        """The stabiliser's string in map pixels (0 without smoothing)."""
        if self.smoothing <= 0:
            return 0.0
        return self.smoothing * self.SMOOTH_PX / max(1e-6, float(self.host.zoom()))

    def paint_label(self) -> int:
        return self.host.current_label()

    @property
    def active(self) -> bool:
        return self._last is not None

    def press(self, mx: float, my: float) -> None:
        label = self.paint_label()
        if not self._usable(label):
            return
        c = dab_centre(mx, my, self.host.brush_size())
        self._label, self._last = label, c
        self._pull = (mx, my) if self.smoothing > 0 else None
        self.document.begin_stroke(erase=self.erases)
        self.document.stroke_to([c], self.radius(), label)

    def move(self, mx: float, my: float) -> None:
        if self._last is None:
            return
        if self._pull is not None:  # pulled string: the dab moves only when the string is taut
            px, py = self._pull
            dx, dy = mx - px, my - py
            dist, reach = math.hypot(dx, dy), self.string_length()
            if dist <= reach:
                return
            k = (dist - reach) / dist
            self._pull = mx, my = px + dx * k, py + dy * k
        self._dab_to(mx, my)

    def _dab_to(self, mx: float, my: float) -> None:
        c = dab_centre(mx, my, self.host.brush_size())
        if c != self._last:
            self.document.stroke_to([self._last, c], self.radius(), self._label)
            self._last = c

    def release(self, mx: float, my: float) -> None:
        if self._last is not None and self._pull is not None:
            self._dab_to(mx, my)  # catch up: the stroke ends where the pointer let go
        self.finish(commit=True)

    def smoothed_point(self) -> tuple[float, float] | None:
        """Where the stabilised dab is (map coordinates) during a smoothed stroke."""
        return self._pull

    def finish(self, commit: bool) -> None:
        if self._last is None:
            return
        self._last = self._pull = None
        doc = self.document
        if commit:
            doc.end_stroke(f"{self.undo_text} ({doc.label_set.name_of(self._label)})")
            self.host.edit_finished()
        else:
            doc.cancel_stroke()

    def cancelled(self) -> None:
        self._last = self._pull = None


class Eraser(Brush):
    """The brush with the background label."""

    tool = Tool.ERASER
    undo_text = "Erase"
    erases = True

    def paint_label(self) -> int:
        return self.host.background_label()


class Fill(ToolHandler):
    """Flood-fill the 4-connected region under the press with the current label."""

    tool = Tool.FILL

    def press(self, mx: float, my: float) -> None:
        label = self.host.current_label()
        if not self._usable(label):
            return
        x, y = pixel_of(mx, my)
        if self.document.label_at(x, y) >= 0:
            self.document.fill(x, y, label)
            self.host.edit_finished()


class Eyedropper(ToolHandler):
    """Pick the label under the pointer, on press and while dragging (outside the map: nothing)."""

    tool = Tool.EYEDROPPER
    cursor = Qt.CursorShape.PointingHandCursor
    paints = False

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self._picking = False

    @property
    def active(self) -> bool:
        return self._picking

    def press(self, mx: float, my: float) -> None:
        self._picking = True
        self._pick(mx, my)

    def move(self, mx: float, my: float) -> None:
        if self._picking:
            self._pick(mx, my)

    def finish(self, commit: bool) -> None:
        self._picking = False

    def _pick(self, mx: float, my: float) -> None:
        label = self.document.label_at(*pixel_of(mx, my))
        if label >= 0:
            self.host.pick_label(label)


class _Shape(ToolHandler):
    """A shape dragged from ``start`` to ``end``, previewed, recorded on release."""

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.start: tuple[float, float] | None = None
        self.end: tuple[float, float] | None = None

    @property
    def active(self) -> bool:
        return self.start is not None

    def _point(self, mx: float, my: float) -> tuple[float, float]:
        raise NotImplementedError

    def _commit(self, start: tuple[float, float], end: tuple[float, float], label: int) -> None:
        raise NotImplementedError

    def press(self, mx: float, my: float) -> None:
        if not self._usable(self.host.current_label()):
            return
        self.start = self.end = self._point(mx, my)
        self.host.preview_changed()

    def move(self, mx: float, my: float) -> None:
        if self.start is None:
            return
        old, self.end = self.end, self._point(mx, my)
        if self.end != old:
            self.host.preview_changed()

    def finish(self, commit: bool) -> None:
        if self.start is None:
            return
        start, end = self.start, self.end or self.start
        self.start = self.end = None
        label = self.host.current_label()
        if commit and self._usable(label):
            self._commit(start, end, label)
            self.host.edit_finished()
        self.host.preview_changed()


class Line(_Shape):
    """A straight line as wide as the brush, between two dab centres."""

    tool = Tool.LINE
    shows_brush = True

    def _point(self, mx: float, my: float) -> tuple[float, float]:
        return dab_centre(mx, my, self.host.brush_size())

    def _commit(self, start, end, label) -> None:
        self.document.line(start[0], start[1], end[0], end[1], self.radius(), label)

    def paint_preview(self, painter: QPainter, color: QColor) -> None:
        if self.start is None or self.end is None:
            return
        region = lm.brush_region(self.document.label_map.shape, [self.start, self.end], self.radius())
        if region is None:
            return
        ry, rx, mask = region
        argb = np.where(mask, np.uint32(color.rgba()), np.uint32(0)).astype(np.uint32)
        h, w = mask.shape
        img = QImage(argb.data, w, h, 4 * w, QImage.Format.Format_ARGB32)
        painter.drawImage(QRectF(rx, ry, w, h), img, QRectF(0, 0, w, h))


class Rect(_Shape):
    """A filled rectangle between two pixels (both included)."""

    tool = Tool.RECT

    def _point(self, mx: float, my: float) -> tuple[float, float]:
        return pixel_of(mx, my)

    def _commit(self, start, end, label) -> None:
        self.document.rect(int(start[0]), int(start[1]), int(end[0]), int(end[1]), label)

    def paint_preview(self, painter: QPainter, color: QColor) -> None:
        if self.start is None or self.end is None:
            return
        (xa, ya), (xb, yb) = self.start, self.end
        r = QRectF(min(xa, xb), min(ya, yb), abs(xb - xa) + 1, abs(yb - ya) + 1)
        painter.fillRect(r.intersected(QRectF(0, 0, self.document.width, self.document.height)), color)


class Polygon(ToolHandler):
    """A filled polygon: click the corners (a rubber band follows the pointer); double-click,
    Enter or a click on the first corner closes and fills it; Backspace removes the last
    corner; Esc (or another tool) drops it. A press dragged before the first corner draws a
    free-hand lasso outline instead, filled on release. One undo step either way."""

    tool = Tool.POLYGON
    NEAR_PX = 6.0  # screen pixels: closing on the first corner, and the drag that starts a lasso

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.vertices: list[tuple[float, float]] = []  # map coordinates
        self.trail: list[tuple[float, float]] | None = None  # the lasso outline being dragged
        self.pointer: tuple[float, float] | None = None
        self._down: tuple[float, float] | None = None
        self._lasso = False

    @property
    def active(self) -> bool:
        return self._down is not None or bool(self.vertices)

    @property
    def lasso(self) -> bool:
        return self._lasso

    def _near(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        return math.hypot(a[0] - b[0], a[1] - b[1]) * float(self.host.zoom()) <= self.NEAR_PX

    def press(self, mx: float, my: float) -> None:
        if not self._usable(self.host.current_label()):
            return
        self._down = self.pointer = (mx, my)
        self._lasso = False
        self.trail = None if self.vertices else [(mx, my)]
        self.host.preview_changed()

    def move(self, mx: float, my: float) -> None:
        self.pointer = (mx, my)
        if self._down is not None and self.trail is not None:
            if not self._lasso and not self._near(self._down, (mx, my)):
                self._lasso = True
            if self._lasso and (mx, my) != self.trail[-1]:
                self.trail.append((mx, my))
        self.host.preview_changed()

    def hover(self, mx: float, my: float) -> None:
        self.pointer = (mx, my)
        if self.vertices:
            self.host.preview_changed()

    def release(self, mx: float, my: float) -> None:
        if self._down is None:
            return
        self._down = None
        if self._lasso:
            trail = self.trail or []
            if (mx, my) != trail[-1]:
                trail.append((mx, my))
            self._reset()
            self._commit(trail)
            return
        self.trail = None
        p = (mx, my)
        if len(self.vertices) >= 3 and self._near(p, self.vertices[0]):
            self.close()
            return
        if not self.vertices or not self._near(p, self.vertices[-1]):
            self.vertices.append(p)
        self.host.preview_changed()

    def double_click(self, mx: float, my: float) -> bool:
        if not self.vertices:
            return False
        self.close()
        return True

    def key(self, key: Qt.Key) -> bool:
        if not self.vertices or self._down is not None:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close()
        elif key == Qt.Key.Key_Backspace:
            self.vertices.pop()
            self.host.preview_changed()
        elif key == Qt.Key.Key_Escape:
            self.finish(commit=False)
        else:
            return False
        return True

    def close(self) -> None:
        """Fill the polygon drawn so far (3 corners or more) and start afresh."""
        points = self.vertices
        self._reset()
        self._commit(points)

    def finish(self, commit: bool) -> None:
        points = self.trail if self._lasso else self.vertices
        had = self.active
        self._reset()
        if commit:
            self._commit(points or [])
        elif had:
            self.host.preview_changed()

    def cancelled(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.vertices, self.trail, self._down, self._lasso = [], None, None, False

    def _commit(self, points: list[tuple[float, float]]) -> None:
        label = self.host.current_label()
        if len(points) >= 3 and self._usable(label):
            # map coordinates -> labelmap coordinates (pixel centres are integers)
            if self.document.polygon([(x - 0.5, y - 0.5) for x, y in points], label):
                self.host.edit_finished()
        self.host.preview_changed()

    def outline(self) -> list[tuple[float, float]]:
        """The outline the preview shows (map coordinates): the lasso trail, or the corners
        and the rubber band to the pointer."""
        if self._lasso and self.trail:
            return list(self.trail)
        pts = list(self.vertices)
        if pts and self.pointer is not None and self.pointer != pts[-1]:
            pts.append(self.pointer)
        return pts

    def paint_preview(self, painter: QPainter, color: QColor) -> None:
        pts = self.outline()
        if not pts:
            return
        poly = QPolygonF([QPointF(x, y) for x, y in pts])
        fill = QColor(color)
        fill.setAlpha(110)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        if len(pts) >= 3:
            painter.drawPolygon(poly, Qt.FillRule.OddEvenFill)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for pen in (QPen(QColor(255, 255, 255, 230), 0), QPen(QColor(0, 0, 0, 230), 0, Qt.PenStyle.DashLine)):
            painter.setPen(pen)
            painter.drawPolyline(poly)
            if len(pts) >= 3:
                painter.drawLine(poly.last(), poly.first())
        if self.vertices and not self._lasso:
            z = max(1e-6, float(self.host.zoom()))
            painter.setPen(QPen(QColor(0, 0, 0, 230), 0))
            painter.setBrush(QColor(255, 255, 255, 230))
            for i, (x, y) in enumerate(self.vertices):
                r = (5.0 if i == 0 else 3.0) / z  # the first corner (click it to close) is larger
                painter.drawRect(QRectF(x - r, y - r, 2 * r, 2 * r))


TOOL_CLASSES: dict[Tool, type[ToolHandler]] = {
    cls.tool: cls for cls in (Brush, Eraser, Fill, Eyedropper, Line, Rect, Polygon)
}


def make_tools(host: ToolHost) -> dict[Tool, ToolHandler]:
    """One handler per tool, all serving ``host``."""
    return {tool: TOOL_CLASSES[tool](host) for tool in Tool}
