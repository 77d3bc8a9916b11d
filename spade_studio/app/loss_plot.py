"""A small loss-curve plot painted with QPainter (no QtCharts).

Series are named by the trainer's loss keys (GAN, GAN_Feat, KLD, VGG, D_real, D_Fake); each has
a fixed colour. The legend at the top shows the latest value of each series and toggles it when
clicked; the y axis fits the visible series (linear, or logarithmic with the "log" toggle at the
top right); hovering shows the values at the nearest logged step.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SERIES_COLORS = {
    "GAN": "#4fc3f7",
    "GAN_Feat": "#ffb74d",
    "KLD": "#ba68c8",
    "VGG": "#81c784",
    "D_real": "#e57373",
    "D_Fake": "#f48fb1",
}
SERIES_ORDER = list(SERIES_COLORS)
_EXTRA_COLORS = ["#aed581", "#90a4ae", "#fff176", "#4db6ac"]
SERIES_HELP = {
    "GAN": "generator adversarial loss (hinge)",
    "GAN_Feat": "discriminator feature matching (x lambda_feat)",
    "KLD": "style encoder KL divergence (x lambda_kld)",
    "VGG": "VGG perceptual loss",
    "D_real": "discriminator loss on real images",
    "D_Fake": "discriminator loss on generated images",
}


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``lo..hi`` (about ``count`` of them)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


def _fmt(v: float) -> str:
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e4 or a < 1e-3:
        return f"{v:.1e}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _fmt_step(v: float) -> str:
    if abs(v) >= 10000:
        return f"{v / 1000:.0f}k"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k".replace(".0k", "k")
    return f"{v:.0f}"


class LossPlot(QWidget):
    """Loss curves over training steps: ``add_point(step, losses)``, ``clear()``, ``load_metrics(path)``."""

    series_toggled = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, list[float]] = {}
        self._hidden: set[str] = set()
        self._colors: dict[str, QColor] = {}
        self._log = False
        self._hover_x: float | None = None
        self._legend_rects: list[tuple[QRectF, str]] = []
        self._log_rect = QRectF()
        self._plot_rect = QRectF()
        self._x_range = (0.0, 1.0)
        self.setMouseTracking(True)
        self.setMinimumSize(260, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Loss curves. Click a legend entry to hide or show it; \"log\" switches the y scale.")

    # -- data -------------------------------------------------------------------------------------------
    def series_names(self) -> list[str]:
        known = [n for n in SERIES_ORDER if n in self._steps]
        return known + sorted(n for n in self._steps if n not in SERIES_COLORS)

    def points(self, name: str) -> list[tuple[int, float]]:
        return list(zip(self._steps.get(name, []), self._values.get(name, [])))

    def point_count(self) -> int:
        return sum(len(v) for v in self._steps.values())

    def add_point(self, step: int, losses: dict[str, float], update: bool = True) -> None:
        """Append one logged step. A step at or before a series' last one replaces the history
        from that step on (a run resumed from an earlier checkpoint rewrites it)."""
        step = int(step)
        for name, value in losses.items():
            if value is None:
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(v):
                continue
            steps = self._steps.setdefault(name, [])
            vals = self._values.setdefault(name, [])
            if steps and step <= steps[-1]:
                cut = bisect.bisect_left(steps, step)
                del steps[cut:], vals[cut:]
            steps.append(step)
            vals.append(v)
            if name not in self._colors:
                extra = [n for n in self._colors if n not in SERIES_COLORS]
                self._colors[name] = QColor(SERIES_COLORS.get(name, _EXTRA_COLORS[len(extra) % len(_EXTRA_COLORS)]))
        if update:
            self.update()

    def clear(self) -> None:
        self._steps.clear()
        self._values.clear()
        self._hover_x = None
        self.update()

    def load_metrics(self, path: str | Path) -> int:
        """Read a run's ``metrics.jsonl`` (replacing what is shown); returns the points read."""
        self.clear()
        n = 0
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        d = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(d, dict) and "step" in d and isinstance(d.get("losses"), dict):
                        self.add_point(d["step"], d["losses"], update=False)
                        n += 1
        except OSError:
            pass
        self.update()
        return n

    def set_log_scale(self, on: bool) -> None:
        self._log = bool(on)
        self.update()

    def log_scale(self) -> bool:
        return self._log

    def set_series_visible(self, name: str, visible: bool) -> None:
        (self._hidden.discard if visible else self._hidden.add)(name)
        self.series_toggled.emit(name, visible)
        self.update()

    def is_series_visible(self, name: str) -> bool:
        return name not in self._hidden

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, 220)

    # -- geometry ----------------------------------------------------------------------------------------
    def _visible(self) -> list[str]:
        return [n for n in self.series_names() if n not in self._hidden and self._steps.get(n)]

    def _y_range(self, names: list[str]) -> tuple[float, float]:
        vals = [v for n in names for v in self._values[n] if (v > 0 or not self._log)]
        if not vals:
            return (0.1, 10.0) if self._log else (0.0, 1.0)
        lo, hi = min(vals), max(vals)
        if self._log:
            lo, hi = math.log10(lo), math.log10(hi)
            if hi - lo < 0.5:
                mid = (hi + lo) / 2
                lo, hi = mid - 0.25, mid + 0.25
            return lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        pad = 0.06 * (hi - lo)
        return lo - pad, hi + pad

    def _ty(self, v: float, y0: float, y1: float) -> float | None:
        if self._log:
            if v <= 0:
                return None
            v = math.log10(v)
        r = self._plot_rect
        return r.bottom() - (v - y0) / (y1 - y0) * r.height()

    def _tx(self, step: float) -> float:
        x0, x1 = self._x_range
        r = self._plot_rect
        return r.left() + (step - x0) / (x1 - x0) * r.width()

    # -- painting -----------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        bg = pal.color(self.backgroundRole())
        dark = bg.lightness() < 128
        fg = QColor("#c8ccd2") if dark else QColor("#303438")
        grid = QColor(255, 255, 255, 28) if dark else QColor(0, 0, 0, 30)
        p.fillRect(self.rect(), QColor("#19232d") if dark else QColor("#fafafa"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        fm = QFontMetrics(font)

        # legend (top row) and the log toggle (top right)
        names = self.series_names()
        self._legend_rects = []
        x, y = 8.0, 6.0
        log_text = "log"
        log_w = fm.horizontalAdvance(log_text) + 14
        self._log_rect = QRectF(self.width() - log_w - 6, y, log_w, fm.height() + 4)
        for name in names:
            last = self._values[name][-1] if self._values.get(name) else None
            text = f"{name} {_fmt(last)}" if last is not None else name
            w = 14 + fm.horizontalAdvance(text) + 10
            if x + w > self._log_rect.left() - 6 and x > 8:
                x, y = 8.0, y + fm.height() + 6
            rect = QRectF(x, y, w, fm.height() + 4)
            on = name not in self._hidden
            col = QColor(self._colors.get(name, QColor("#aaaaaa")))
            if not on:
                col.setAlpha(70)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(col)
            p.drawRoundedRect(QRectF(x + 2, y + rect.height() / 2 - 4, 9, 9), 2, 2)
            p.setPen(fg if on else QColor(fg.red(), fg.green(), fg.blue(), 90))
            p.drawText(QRectF(x + 14, y, w - 14, rect.height()), Qt.AlignmentFlag.AlignVCenter, text)
            self._legend_rects.append((rect, name))
            x += w + 4
        p.setPen(QPen(QColor("#4fc3f7") if self._log else grid.lighter(300), 1))
        p.setBrush(QColor(79, 195, 247, 50) if self._log else Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(self._log_rect, 3, 3)
        p.setPen(fg)
        p.drawText(self._log_rect, Qt.AlignmentFlag.AlignCenter, log_text)
        top = y + fm.height() + 12

        visible = self._visible()
        left = 8 + fm.horizontalAdvance("0.000e+0")
        self._plot_rect = QRectF(left, top, max(10.0, self.width() - left - 12),
                                 max(10.0, self.height() - top - fm.height() - 10))
        r = self._plot_rect
        p.setPen(QPen(grid, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(r)
        if not visible:
            p.setPen(fg)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter,
                       "Loss curves appear here while a run trains" if not names else "All series hidden")
            p.end()
            return

        all_steps = [s for n in visible for s in (self._steps[n][0], self._steps[n][-1])]
        x0, x1 = min(all_steps), max(all_steps)
        if x1 <= x0:
            x0, x1 = x0 - 1, x1 + 1
        self._x_range = (float(x0), float(x1))
        y0, y1 = self._y_range(visible)

        # grid and axis labels
        if self._log:
            yt = [t for t in range(math.floor(y0), math.ceil(y1) + 1) if y0 <= t <= y1]
            if len(yt) < 2:
                yt = nice_ticks(y0, y1, 3)
            ylabels = [(t, _fmt(10 ** t)) for t in yt]
        else:
            ylabels = [(t, _fmt(t)) for t in nice_ticks(y0, y1, max(2, int(r.height() // 40)))]
        for t, label in ylabels:
            yy = r.bottom() - (t - y0) / (y1 - y0) * r.height()
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(r.left(), yy), QPointF(r.right(), yy))
            p.setPen(fg)
            p.drawText(QRectF(0, yy - fm.height() / 2, r.left() - 4, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        for t in nice_ticks(x0, x1, max(2, int(r.width() // 90))):
            xx = self._tx(t)
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(xx, r.top()), QPointF(xx, r.bottom()))
            p.setPen(fg)
            p.drawText(QRectF(xx - 30, r.bottom() + 2, 60, fm.height()), Qt.AlignmentFlag.AlignHCenter,
                       _fmt_step(t))

        # curves (decimated to about two points per pixel)
        p.setClipRect(r.adjusted(-1, -1, 1, 1))
        for name in visible:
            steps, vals = self._steps[name], self._values[name]
            stride = max(1, len(steps) // max(1, int(r.width() * 2)))
            path = QPainterPath()
            pen_down = False
            for i in range(0, len(steps), stride):
                yy = self._ty(vals[i], y0, y1)
                if yy is None:
                    pen_down = False
                    continue
                pt = QPointF(self._tx(steps[i]), yy)
                path.lineTo(pt) if pen_down else path.moveTo(pt)
                pen_down = True
            p.setPen(QPen(self._colors[name], 1.6))
            p.drawPath(path)
            if len(steps) == 1:
                yy = self._ty(vals[0], y0, y1)
                if yy is not None:
                    p.setBrush(self._colors[name])
                    p.drawEllipse(QPointF(self._tx(steps[0]), yy), 2.5, 2.5)
                    p.setBrush(Qt.BrushStyle.NoBrush)
        p.setClipping(False)

        # hover readout
        if self._hover_x is not None and r.contains(QPointF(self._hover_x, r.center().y())):
            step = x0 + (self._hover_x - r.left()) / r.width() * (x1 - x0)
            rows = []
            snap = None
            for name in visible:
                steps = self._steps[name]
                i = bisect.bisect_left(steps, step)
                cands = [j for j in (i - 1, i) if 0 <= j < len(steps)]
                j = min(cands, key=lambda k: abs(steps[k] - step))
                snap = steps[j] if snap is None else snap
                rows.append((name, self._values[name][j]))
            sx = self._tx(snap)
            p.setPen(QPen(fg, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(sx, r.top()), QPointF(sx, r.bottom()))
            lines = [f"step {snap}"] + [f"{n}: {_fmt(v)}" for n, v in rows]
            bw = max(fm.horizontalAdvance(s) for s in lines) + 12
            bh = len(lines) * fm.height() + 8
            bx = sx + 8 if sx + 8 + bw < r.right() else sx - 8 - bw
            box = QRectF(bx, r.top() + 6, bw, bh)
            p.setPen(QPen(grid.lighter(250), 1))
            p.setBrush(QColor(25, 35, 45, 230) if dark else QColor(255, 255, 255, 235))
            p.drawRoundedRect(box, 4, 4)
            for k, s in enumerate(lines):
                p.setPen(fg if k == 0 else self._colors[rows[k - 1][0]])
                p.drawText(QRectF(bx + 6, box.top() + 4 + k * fm.height(), bw, fm.height()),
                           Qt.AlignmentFlag.AlignVCenter, s)
        p.end()

    # -- mouse ----------------------------------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._hover_x = pos.x() if self._plot_rect.contains(pos) else None
        self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover_x = None
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._log_rect.contains(pos):
            self.set_log_scale(not self._log)
            return
        for rect, name in self._legend_rects:
            if rect.contains(pos):
                self.set_series_visible(name, name in self._hidden)
                return
        super().mousePressEvent(event)
