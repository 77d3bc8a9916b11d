"""The painting canvas: the view of the document's label map (zoom, pan, overlays, cursor); edits go to the active tool.

View: the colourised map is kept as a cached RGB32 image (updated only inside the rectangle
the document reports changed; rebuilt on reset), drawn with nearest-neighbour scaling so
map pixels stay crisp. Under it an optional reference photo, over it an optional overlay
(the render) and the instance-edge overlay (computed lazily, only where the map changed).

Geometry: the view is a scale ``zoom`` (logical widget pixels per map pixel) and an
``offset`` (widget position of the map's top-left corner). Map pixel ``(x, y)`` covers the
widget square ``offset + [x, x+1) * zoom``; mouse positions are logical pixels, so
``floor((pos - offset) / zoom)`` is exact at any zoom and device pixel ratio. The offset is
snapped to device pixels so pixel borders fall on device pixel borders.

Tools: the canvas maps mouse positions to map coordinates and hands presses, moves and
releases to the active tool object (:mod:`spade_studio.app.tools`); Alt+press with the brush,
eraser or fill picks a label instead. The canvas is the tools' :class:`~.tools.ToolHost`.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from spade_studio import labelmap as lm
from spade_studio.app.qimage import rgb_to_qimage

from .canvas_cursor import CanvasCursor
from .document import Document
from .enums import Tool
from .tools import ToolHandler, dab_centre, make_tools

MIN_ZOOM = 1.0 / 32.0
MAX_ZOOM = 64.0
ZOOM_STEP = 1.25
MAX_BRUSH = 512

_EDGE_ARGB = np.uint32(0xC0101010)  # premultiplied dark grey, 75 % opaque


def _rgb32_lut(label_set, size: int) -> np.ndarray:
    rgb = label_set.lut(size).astype(np.uint32)
    return np.uint32(0xFF000000) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


class Canvas(CanvasCursor, QWidget):
    label_picked = Signal(int)  # eyedropper
    cursor_info = Signal(int, int, int)  # x, y, label id under the cursor (-1 outside)
    zoom_changed = Signal(float)
    stroke_finished = Signal()
    brush_size_changed = Signal(int)
    tool_changed = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(64, 64)
        self._doc = document
        ids = document.label_set.ids
        self._tools = make_tools(self)
        self._tool = Tool.BRUSH
        self._gesture: ToolHandler | None = None  # the tool handling the press in progress
        self._label = ids[0] if ids else 0
        self._background = 0 if 0 in ids or not ids else ids[0]
        self._brush = 9
        self._zoom = 1.0
        self._offset = QPointF(0.0, 0.0)  # snapped to device pixels: drawing and mouse mapping
        self._ideal_offset = QPointF(0.0, 0.0)  # unsnapped: zoom anchoring (no drift)
        self._snap_dpr = 1.0  # device pixel ratio the offset was snapped for
        self._auto_fit = True  # fit on resize until the user zooms or pans
        self._reference_opacity = 1.0
        self._map_opacity = 1.0
        self._overlay_rgb: np.ndarray | None = None
        self._overlay_img: QImage | None = None
        self._overlay_opacity = 0.5
        self._reference_img: QImage | None = None
        self._show_edges = False
        self._edges: np.ndarray | None = None  # uint32 premultiplied ARGB, [H, W]
        self._edges_dirty: QRect | None = None  # map rect still to recompute (None = clean)
        # interaction state
        self._hover: QPointF | None = None
        self._space = False
        self._pan_from: QPointF | None = None
        self._cursor_paths: dict[int, QPainterPath] = {}

        document.changed.connect(self._on_changed)
        document.display_changed.connect(self._on_changed)  # layer opacity: the look only
        document.reset.connect(self._on_reset)
        document.label_set_changed.connect(self._on_label_set_changed)
        document.reference_changed.connect(self._on_reference_changed)
        document.stroke_cancelled.connect(self._on_stroke_cancelled)
        document.paint_options_changed.connect(self.update)  # the mirror guide, the cursor tag
        self._size = (document.height, document.width)
        self._rebuild_cache()
        self._on_reference_changed()
        self._update_cursor()

    # -- public API --------------------------------------------------------------------------
    @property
    def document(self) -> Document:
        return self._doc

    def tool(self) -> Tool:
        return self._tool

    def tool_handler(self, tool: Tool | str | None = None) -> ToolHandler:
        """The object behind ``tool`` (default: the active tool)."""
        return self._tools[self._tool if tool is None else Tool(tool)]

    def set_tool(self, name: Tool | str) -> None:
        try:
            tool = Tool(name)
        except ValueError:
            raise ValueError(f"unknown tool {name!r} (tools: {', '.join(Tool)})") from None
        if tool == self._tool:
            return
        self._finish_interaction(commit=True)
        self._tools[self._tool].finish(commit=False)  # a polygon's corners between clicks
        self._tool = tool
        self._update_cursor()
        self.update()
        self.tool_changed.emit(tool)

    def current_label(self) -> int:
        return self._label

    def set_current_label(self, label_id: int) -> None:
        self._label = int(label_id)
        self.update()

    def background_label(self) -> int:
        return self._background

    def set_background_label(self, label_id: int) -> None:
        self._background = int(label_id)

    def brush_size(self) -> int:
        return self._brush

    def set_brush_size(self, diameter: int) -> None:
        d = max(1, min(MAX_BRUSH, int(diameter)))
        if d == self._brush:
            return
        self._brush = d
        self.update()
        self.brush_size_changed.emit(d)

    def zoom(self) -> float:
        return self._zoom

    def offset(self) -> QPointF:
        return QPointF(self._offset)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def zoom_actual(self) -> None:
        """One map pixel per logical pixel (100 %)."""
        self.set_zoom(1.0)

    def zoom_fit(self) -> None:
        """The whole map, centred, as large as fits."""
        W, H = self._doc.width, self._doc.height
        avail_w, avail_h = max(1, self.width() - 16), max(1, self.height() - 16)
        z = max(MIN_ZOOM, min(MAX_ZOOM, min(avail_w / W, avail_h / H)))
        self._apply_view(z, QPointF((self.width() - W * z) / 2, (self.height() - H * z) / 2))
        self._auto_fit = True

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the map point under ``anchor`` (widget coords; default: the centre) fixed."""
        z = max(MIN_ZOOM, min(MAX_ZOOM, float(zoom)))
        if anchor is None:
            anchor = QPointF(self.width() / 2, self.height() / 2)
        mx = (anchor.x() - self._ideal_offset.x()) / self._zoom
        my = (anchor.y() - self._ideal_offset.y()) / self._zoom
        self._auto_fit = False
        self._apply_view(z, QPointF(anchor.x() - mx * z, anchor.y() - my * z))

    def set_view(self, zoom: float, offset: QPointF) -> None:
        """Set the zoom and the widget position of the map's top-left corner directly."""
        self._auto_fit = False
        self._apply_view(max(MIN_ZOOM, min(MAX_ZOOM, float(zoom))), QPointF(offset))

    def widget_to_map(self, pos: QPointF) -> tuple[float, float]:
        """Continuous map coordinates of a widget point (pixel ``(x, y)`` covers ``[x, x+1)``)."""
        return ((pos.x() - self._offset.x()) / self._zoom, (pos.y() - self._offset.y()) / self._zoom)

    def map_to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(self._offset.x() + x * self._zoom, self._offset.y() + y * self._zoom)

    def pixel_at(self, pos: QPointF) -> tuple[int, int]:
        mx, my = self.widget_to_map(pos)
        return math.floor(mx), math.floor(my)

    def set_reference_opacity(self, opacity: float) -> None:
        self._reference_opacity = max(0.0, min(1.0, float(opacity)))
        self.update()

    def set_map_opacity(self, opacity: float) -> None:
        self._map_opacity = max(0.0, min(1.0, float(opacity)))
        self.update()

    def set_overlay(self, rgb: np.ndarray | None, opacity: float) -> None:
        """The render drawn over the map (resized to the map if needed); None removes it."""
        self._overlay_opacity = max(0.0, min(1.0, float(opacity)))
        if rgb is None:
            self._overlay_rgb = None
            self._overlay_img = None
        else:
            self._overlay_rgb = np.asarray(rgb)
            self._overlay_img = self._map_sized_image(self._overlay_rgb)
        self.update()

    def set_show_edges(self, on: bool) -> None:
        self._show_edges = bool(on)
        self.update()

    def show_edges(self) -> bool:
        return self._show_edges

    # -- ToolHost: what the tools ask of the canvas -------------------------------------------
    def pick_label(self, label: int) -> None:
        self._label = int(label)
        self.label_picked.emit(self._label)

    def edit_finished(self) -> None:
        self.stroke_finished.emit()

    def preview_changed(self) -> None:
        self.update()

    def edge_mask(self) -> np.ndarray:
        """The instance-edge overlay as a bool ``[H, W]`` array (brought up to date first)."""
        self._edge_image()
        return self._edges != 0

    # -- caches ------------------------------------------------------------------------------
    def _rebuild_cache(self) -> None:
        m = self._doc.label_map
        self._lut = _rgb32_lut(self._doc.label_set, 256 if m.dtype == np.uint8 else 65536)
        h, w = m.shape
        self._argb = np.empty((h, w), np.uint32)
        self._compose(0, 0, w, h)
        # premultiplied: the lut's colours are opaque; a see-through layer stack has alpha
        self._image = QImage(self._argb.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
        self._edges = None
        self._edges_dirty = None

    def _compose(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """The displayed colours of the map box ``[x0, x1) x [y0, y1)``: the flattened map when
        every visible layer is opaque, else the visible layers blended with their display
        opacity (premultiplied ARGB; pixels no visible layer covers are transparent)."""
        doc = self._doc
        box = (slice(y0, y1), slice(x0, x1))
        if doc.display_is_flat():
            self._argb[box] = self._lut[doc.label_map[box]]
            return
        h, w = y1 - y0, x1 - x0
        rgb = np.zeros((h, w, 3), np.float32)
        alpha = np.zeros((h, w), np.float32)
        for layer in doc.layers:
            if not layer.visible or layer.opacity <= 0:
                continue
            c = self._lut[layer.ids[box]]
            col = np.stack([(c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF], axis=-1).astype(np.float32)
            a = np.full((h, w), np.float32(layer.opacity)) if layer.mask is None else \
                layer.mask[box].astype(np.float32) * np.float32(layer.opacity)
            rgb = rgb * (1 - a)[..., None] + col * a[..., None]
            alpha = alpha * (1 - a) + a
        out = np.rint(np.concatenate([alpha[..., None] * 255, rgb], axis=-1)).astype(np.uint32)
        self._argb[box] = (out[..., 0] << 24) | (out[..., 1] << 16) | (out[..., 2] << 8) | out[..., 3]

    def _map_sized_image(self, rgb: np.ndarray) -> QImage:
        rgb = np.asarray(rgb)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[..., None], 3, axis=2)
        H, W = self._doc.height, self._doc.width
        if rgb.shape[:2] != (H, W):
            from ..raster import resize_rgb

            rgb = resize_rgb(rgb, W, H)
        return rgb_to_qimage(rgb)

    def _on_changed(self, rect: QRect) -> None:
        r = rect.intersected(QRect(0, 0, self._doc.width, self._doc.height))
        if r.isEmpty():
            return
        x0, y0, x1, y1 = r.x(), r.y(), r.x() + r.width(), r.y() + r.height()
        self._compose(x0, y0, x1, y1)
        if self._edges is not None:
            self._edges_dirty = r if self._edges_dirty is None else self._edges_dirty.united(r)
        self.update(self._widget_rect(r).adjusted(-2, -2, 2, 2))

    def _on_reset(self) -> None:
        size = (self._doc.height, self._doc.width)
        self._finish_interaction(commit=False)
        self._tools[self._tool].finish(commit=False)
        self._rebuild_cache()
        if self._overlay_rgb is not None:
            self._overlay_img = self._map_sized_image(self._overlay_rgb)
        self._on_reference_changed()
        if size != self._size:
            self._size = size
            self.zoom_fit()
        self.update()

    def _on_label_set_changed(self, label_set) -> None:
        ids = label_set.ids
        if ids and self._label not in ids:
            self._label = ids[0]
        if ids and self._background not in ids:
            self._background = 0 if 0 in ids else ids[0]
        self._rebuild_cache()
        self.update()

    def _on_reference_changed(self) -> None:
        ref = self._doc.reference
        self._reference_img = None if ref is None else self._map_sized_image(ref)
        self.update()

    def _on_stroke_cancelled(self) -> None:
        if self._gesture is not None:
            self._gesture.cancelled()

    def _edge_image(self) -> QImage:
        m = self._doc.label_map
        H, W = m.shape
        if self._edges is None:
            self._edges = np.where(lm.label_edges(m), _EDGE_ARGB, np.uint32(0)).astype(np.uint32)
            self._edges_dirty = None
        elif self._edges_dirty is not None:
            # A change at a pixel alters the edge flags of it and its 4 neighbours; their
            # flags depend on one more ring of pixels.
            r = self._edges_dirty.adjusted(-1, -1, 1, 1).intersected(QRect(0, 0, W, H))
            w = r.adjusted(-1, -1, 1, 1).intersected(QRect(0, 0, W, H))
            e = lm.label_edges(m[w.y() : w.y() + w.height(), w.x() : w.x() + w.width()])
            oy, ox = r.y() - w.y(), r.x() - w.x()
            e = e[oy : oy + r.height(), ox : ox + r.width()]
            self._edges[r.y() : r.y() + r.height(), r.x() : r.x() + r.width()] = np.where(
                e, _EDGE_ARGB, np.uint32(0)
            )
            self._edges_dirty = None
        return QImage(self._edges.data, W, H, 4 * W, QImage.Format.Format_ARGB32_Premultiplied)

    # -- geometry ----------------------------------------------------------------------------
    def _apply_view(self, zoom: float, offset: QPointF) -> None:
        dpr = self.devicePixelRatioF() or 1.0
        self._snap_dpr = dpr
        snapped = QPointF(round(offset.x() * dpr) / dpr, round(offset.y() * dpr) / dpr)
        changed = zoom != self._zoom
        self._zoom = zoom
        self._ideal_offset = QPointF(offset)
        self._offset = snapped
        self.update()
        if changed:
            self.zoom_changed.emit(zoom)

    def _widget_rect(self, r: QRect) -> QRect:
        """Widget rectangle covering map rectangle ``r`` (rounded outwards)."""
        z = self._zoom
        x0 = math.floor(self._offset.x() + r.x() * z)
        y0 = math.floor(self._offset.y() + r.y() * z)
        x1 = math.ceil(self._offset.x() + (r.x() + r.width()) * z)
        y1 = math.ceil(self._offset.y() + (r.y() + r.height()) * z)
        return QRect(x0, y0, x1 - x0, y1 - y0)

    def _dab_centre(self, pos: QPointF) -> tuple[float, float]:
        """Brush centre (labelmap coordinates) for a widget point: see :func:`.tools.dab_centre`."""
        return dab_centre(*self.widget_to_map(pos), self._brush)

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        if (self.devicePixelRatioF() or 1.0) != self._snap_dpr:  # moved to another screen
            self._apply_view(self._zoom, self._ideal_offset)
        p = QPainter(self)
        p.fillRect(event.rect(), self.palette().color(self.backgroundRole()).darker(150))
        W, H = self._doc.width, self._doc.height
        z, o = self._zoom, self._offset
        er = QRectF(event.rect())
        # Map pixels touched by the exposed area.
        x0 = max(0, math.floor((er.left() - o.x()) / z))
        y0 = max(0, math.floor((er.top() - o.y()) / z))
        x1 = min(W, math.ceil((er.right() + 1 - o.x()) / z))
        y1 = min(H, math.ceil((er.bottom() + 1 - o.y()) / z))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if x1 > x0 and y1 > y0:
            src = QRectF(x0, y0, x1 - x0, y1 - y0)
            dst = QRectF(o.x() + x0 * z, o.y() + y0 * z, (x1 - x0) * z, (y1 - y0) * z)
            if self._reference_img is not None and self._reference_opacity > 0:
                p.setOpacity(self._reference_opacity)
                p.drawImage(dst, self._reference_img, src)
            if self._map_opacity > 0:
                p.setOpacity(self._map_opacity)
                p.drawImage(dst, self._image, src)
            if self._overlay_img is not None and self._overlay_opacity > 0:
                p.setOpacity(self._overlay_opacity)
                p.drawImage(dst, self._overlay_img, src)
            p.setOpacity(1.0)
            if self._show_edges:
                p.drawImage(dst, self._edge_image(), src)
        p.setOpacity(1.0)
        # Map frame.
        p.setPen(QPen(QColor(0, 0, 0, 160), 0))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(o.x() - 0.5, o.y() - 0.5, W * z + 1, H * z + 1))
        # Everything below is in map coordinates.
        p.translate(o)
        p.scale(z, z)
        if self._doc.mirror:
            self._paint_mirror_guide(p)
        self._paint_shape_preview(p)
        self._paint_cursor(p)
        p.resetTransform()
        self._paint_cursor_tag(p)
        p.end()

    def _label_color(self, label: int) -> QColor:
        v = int(self._lut[label]) if 0 <= label < len(self._lut) else 0xFFFF00FF
        return QColor.fromRgba(v)

    def _paint_shape_preview(self, p: QPainter) -> None:
        handlers = [h for h in (self._gesture, self._tools[self._tool]) if h is not None and h.active]
        color = self._label_color(self._label)
        for h in dict.fromkeys(handlers):  # the gesture, and a polygon between its clicks
            h.paint_preview(p, color)
            if self._doc.mirror:  # what the mirrored half will paint
                p.save()
                p.translate(self._doc.width, 0)
                p.scale(-1, 1)
                h.paint_preview(p, color)
                p.restore()

    def _paint_mirror_guide(self, p: QPainter) -> None:
        """The line mirror painting reflects about (map coordinates)."""
        cx, H = self._doc.width / 2.0, float(self._doc.height)
        p.setPen(QPen(QColor(255, 255, 255, 200), 0))
        p.drawLine(QPointF(cx, 0), QPointF(cx, H))
        p.setPen(QPen(QColor(0, 140, 255, 230), 0, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(cx, 0), QPointF(cx, H))

    # -- input -------------------------------------------------------------------------------
    def _emit_cursor_info(self, pos: QPointF) -> None:
        x, y = self.pixel_at(pos)
        self.cursor_info.emit(x, y, self._doc.label_at(x, y))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        if self._gesture is not None:  # a release went missing
            self._finish_interaction(commit=True)
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._finish_interaction(commit=True)
            self._pan_from = pos
            self._update_cursor()
            return
        if button != Qt.MouseButton.LeftButton or self._pan_from is not None:
            return
        tool = self._tools[self._tool]
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.AltModifier and mods & Qt.KeyboardModifier.ShiftModifier:
            label = self._doc.label_at(*self.pixel_at(pos))  # "paint only over" the label here
            if label >= 0:
                self._doc.only_over = label
            return
        if tool.alt_picks and event.modifiers() & Qt.KeyboardModifier.AltModifier:
            tool = self._tools[Tool.EYEDROPPER]
        tool.press(*self.widget_to_map(pos))
        if tool.active:
            self._gesture = tool

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        old_hover, self._hover = self._hover, QPointF(pos)
        self._emit_cursor_info(pos)
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = QPointF(pos)
            self._auto_fit = False
            self._apply_view(self._zoom, self._ideal_offset + delta)
            return
        if self._gesture is not None:
            self._gesture.move(*self.widget_to_map(pos))
        else:
            self._tools[self._tool].hover(*self.widget_to_map(pos))
        self._update_cursor_area(old_hover, self._hover)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if (event.button() == Qt.MouseButton.LeftButton and self._gesture is None and self._pan_from is None
                and self._tools[self._tool].double_click(*self.widget_to_map(event.position()))):
            event.accept()
            return
        self.mousePressEvent(event)  # as QWidget does: a second press

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._pan_from is not None and (
            button == Qt.MouseButton.MiddleButton or button == Qt.MouseButton.LeftButton
        ):
            self._pan_from = None
            self._update_cursor()
            self.update()
            return
        if button == Qt.MouseButton.LeftButton:
            gesture, self._gesture = self._gesture, None
            if gesture is not None:
                gesture.release(*self.widget_to_map(event.position()))
                self._update_cursor_area(self._hover, None)  # a smoothed stroke's string goes

    def _finish_interaction(self, commit: bool) -> None:
        """End the gesture in progress (stroke, shape, pick), recording it (commit) or dropping it."""
        gesture, self._gesture = self._gesture, None
        if gesture is not None:
            gesture.finish(commit)

    def wheelEvent(self, event: QWheelEvent) -> None:
        dy = event.angleDelta().y() or event.angleDelta().x()
        if dy == 0:
            event.ignore()
            return
        self.set_zoom(self._zoom * ZOOM_STEP ** (dy / 120.0), event.position())
        event.accept()

    def brush_smaller(self) -> None:
        d = self._brush
        self.set_brush_size(d - 1 if d <= 10 else round(d / 1.2))

    def brush_larger(self) -> None:
        d = self._brush
        self.set_brush_size(d + 1 if d < 10 else round(d * 1.2))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()  # [ and ] are window actions (actions.py): they work whatever has focus
        if self._gesture is None and self._tools[self._tool].key(Qt.Key(key)):
            event.accept()  # the polygon's Enter, Backspace, Esc
            return
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self._update_cursor()
                self.update()
        elif key == Qt.Key.Key_Escape:
            self._finish_interaction(commit=False)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_cursor()
            self.update()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        old, self._hover = self._hover, None
        self._update_cursor_area(old, None)
        self.cursor_info.emit(-1, -1, -1)
        super().leaveEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space = False
        self._update_cursor()
        super().focusOutEvent(event)

    def resizeEvent(self, event) -> None:
        if self._auto_fit:
            self.zoom_fit()
        super().resizeEvent(event)
