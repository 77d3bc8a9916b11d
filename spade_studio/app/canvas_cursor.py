"""The canvas's pointer decorations, as a mixin of :class:`spade_studio.app.canvas.Canvas`: the
brush footprint outline (and its mirror image, the smoothing string, a cross when it is tiny),
the label tag next to the pointer (swatch, name, brush size, "only over"), the mouse cursor
shape, and the repaint of only the area they cover when the pointer moves."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from spade_studio import labelmap as lm

from .enums import Tool


class CanvasCursor:
    """Uses the canvas's ``_tools``, ``_tool``, ``_label``, ``_background``, ``_brush``,
    ``_doc``, ``_hover``, ``_pan_from``, ``_space``, ``_gesture``, ``_zoom``, ``_offset``,
    ``_cursor_paths`` and its geometry helpers."""

    def _tag_label(self) -> int | None:
        """The label the active tool paints (None: it paints nothing)."""
        tool = self._tools[self._tool]
        if not tool.paints:
            return None
        return self._background if self._tool == Tool.ERASER else self._label

    def _tag_text(self) -> str:
        label = self._tag_label()
        if label is None:
            return ""
        ls = self._doc.label_set
        text = ls.name_of(label)
        if self._tools[self._tool].shows_brush:
            text += f" · {self._brush} px"
        if self._doc.only_over is not None:
            text += f" · only over {ls.name_of(self._doc.only_over)}"
        return text

    def _tag_rect(self, pos: QPointF) -> QRect:
        """Where the label tag next to the pointer goes (widget coordinates)."""
        text = self._tag_text()
        if not text:
            return QRect()
        fm = self.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 28, fm.height() + 6
        x, y = round(pos.x()) + 16, round(pos.y()) + 14
        if x + w > self.width():  # near the right or bottom edge: on the other side of the pointer
            x = max(0, round(pos.x()) - 16 - w)
        if y + h > self.height():
            y = max(0, round(pos.y()) - 14 - h)
        return QRect(x, y, w, h)

    def _paint_cursor_tag(self, p: QPainter) -> None:
        """The painted label's swatch and name (and the brush size) next to the pointer."""
        if self._hover is None or self._pan_from is not None or self._space:
            return
        if self._doc.label_at(*self.pixel_at(self._hover)) < 0:
            return  # off the map
        r = self._tag_rect(self._hover)
        if r.isEmpty():
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(20, 20, 20, 200))
        p.drawRoundedRect(QRectF(r), 4, 4)
        sw = r.height() - 10
        p.setBrush(self._label_color(self._tag_label()))
        p.setPen(QPen(QColor(255, 255, 255, 200), 1))
        p.drawRect(QRectF(r.x() + 5.5, r.y() + 5.5, sw - 1, sw - 1))
        p.setPen(QColor(240, 240, 240))
        p.drawText(r.adjusted(sw + 10, 0, -4, 0), int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                   self._tag_text())

    def _cursor_path(self, d: int) -> QPainterPath:
        path = self._cursor_paths.get(d)
        if path is None:
            path = QPainterPath()
            for row, line in enumerate(lm.disc_mask(d)):
                cols = np.flatnonzero(line)
                if cols.size:
                    path.addRect(QRectF(int(cols[0]), row, int(cols[-1]) - int(cols[0]) + 1, 1))
            path = path.simplified()
            if len(self._cursor_paths) > 64:
                self._cursor_paths.clear()
            self._cursor_paths[d] = path
        return path

    def _paint_cursor(self, p: QPainter) -> None:
        if self._hover is None or self._pan_from is not None or self._space:
            return
        if not self._tools[self._tool].shows_brush:
            return
        pulled = None if self._gesture is None else self._gesture.smoothed_point()
        if pulled is not None:  # a smoothed stroke: the string from the pointer to the brush
            hx, hy = self.widget_to_map(self._hover)
            p.setPen(QPen(QColor(255, 255, 255, 200), 0, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(*pulled), QPointF(hx, hy))
        cx, cy = self._dab_centre(self._hover)
        d = self._brush
        left, top = round(cx - (d - 1) / 2), round(cy - (d - 1) / 2)
        path = self._cursor_path(d).translated(left, top)
        light = QPen(QColor(255, 255, 255, 220), 0)
        dark = QPen(QColor(0, 0, 0, 220), 0, Qt.PenStyle.DashLine)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(light)
        p.drawPath(path)
        p.setPen(dark)
        p.drawPath(path)
        if self._doc.mirror:  # the footprint's reflection (the disc is symmetric)
            p.setPen(QPen(QColor(0, 140, 255, 230), 0, Qt.PenStyle.DashLine))
            p.drawPath(self._cursor_path(d).translated(self._doc.width - left - d, top))
        if d * self._zoom < 6:  # too small to see: add a cross
            c = QPointF(cx + 0.5, cy + 0.5)
            arm = 6.0 / self._zoom
            p.setPen(light)
            p.drawLine(QPointF(c.x() - arm, c.y()), QPointF(c.x() + arm, c.y()))
            p.drawLine(QPointF(c.x(), c.y() - arm), QPointF(c.x(), c.y() + arm))

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self._space:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.setCursor(self._tools[self._tool].cursor)

    def _update_cursor_area(self, old: QPointF | None, new: QPointF | None) -> None:
        """Repaint only where the cursor was and is: the brush outline (and its mirror image)
        and the label tag."""
        reach = self._brush * self._zoom / 2 + 12
        reach += self._tools[self._tool].string_px()  # a smoothed stroke's string
        for pt in (old, new):
            if pt is not None:
                spots = [pt]
                if self._doc.mirror:
                    spots.append(QPointF(2 * self._offset.x() + self._doc.width * self._zoom - pt.x(), pt.y()))
                for q in spots:
                    self.update(QRectF(q.x() - reach - 2, q.y() - reach - 2, 2 * reach + 4, 2 * reach + 4).toAlignedRect())
                tag = self._tag_rect(pt)
                if not tag.isEmpty():
                    self.update(tag.adjusted(-2, -2, 2, 2))
