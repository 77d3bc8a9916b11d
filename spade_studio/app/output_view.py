"""The rendered image, scaled to fit with its aspect kept, sharp on high-DPI screens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from spade_studio.app.qimage import rgb_to_qimage
from spade_studio.imageio import write_image


class OutputView(QWidget):
    """Shows the latest render. ``set_image(None)`` shows the message instead.

    A message set while an image is shown appears as a banner along the bottom; a new image
    clears it. Right click: Copy image / Export image…. Export emits ``export_requested`` when
    something is connected to it (the main window), else asks for a file itself and writes it
    atomically with :func:`spade_studio.imageio.write_image`.
    """

    export_requested = Signal()
    exported = Signal(object)  # Path written by the built-in export
    cancel_requested = Signal()  # the Cancel button of a tiled render

    SPIN_STEPS = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self._rgb: np.ndarray | None = None
        self._image: QImage | None = None
        self._scaled: QPixmap | None = None  # cache for the current size and DPR
        self._scaled_key: tuple | None = None
        self._message = "No image yet"
        self._busy = False
        self._phase = 0
        self._spin = QTimer(self)
        self._spin.setInterval(80)
        self._spin.timeout.connect(self._tick)
        self.last_export_dir = ""
        # a tiled render's progress: a bar and Cancel along the bottom, shown while it runs
        self.progress_box = QWidget(self)
        row = QHBoxLayout(self.progress_box)
        row.setContentsMargins(6, 2, 6, 2)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this tiled render; the image shown stays")
        self.cancel_button.clicked.connect(self.cancel_requested)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        self.progress_box.hide()

    # -- API ---------------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self._rgb = self._image = None
        else:
            self._rgb = np.asarray(rgb)
            self._image = rgb_to_qimage(self._rgb)
            self._message = ""
        self._scaled = self._scaled_key = None
        self.update()

    def image(self) -> np.ndarray | None:
        """The RGB array shown (None when empty)."""
        return self._rgb

    def qimage(self) -> QImage | None:
        return self._image

    def set_message(self, text: str) -> None:
        self._message = text or ""
        self.update()

    def message(self) -> str:
        return self._message

    def set_busy(self, busy: bool) -> None:
        busy = bool(busy)
        if busy == self._busy:
            return
        self._busy = busy
        if busy:
            self._spin.start()
        else:
            self._spin.stop()
        self.update(self._spinner_rect().adjusted(-2, -2, 2, 2))

    def is_busy(self) -> bool:
        return self._busy

    def set_progress(self, done: int, total: int) -> None:
        """Tiles of a tiled render: the bar shows while ``done < total`` and hides at the end."""
        if total <= 1 or done >= total:
            self.progress_box.hide()
            return
        if self._rgb is None:
            self.set_message("Rendering in tiles…")
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat("Rendering in tiles: %v / %m")
        self._place_progress()
        self.progress_box.show()
        self.progress_box.raise_()

    def _place_progress(self) -> None:
        h = self.progress_box.sizeHint().height()
        self.progress_box.setGeometry(0, self.height() - h, self.width(), h)

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget (logical) coordinates."""
        if self._image is None:
            return QRectF()
        w, h = self._image.width(), self._image.height()
        avail = self.rect().adjusted(4, 4, -4, -4)
        s = min(avail.width() / w, avail.height() / h)
        dw, dh = w * s, h * s
        return QRectF(avail.x() + (avail.width() - dw) / 2, avail.y() + (avail.height() - dh) / 2, dw, dh)

    def copy_image(self) -> bool:
        if self._image is None:
            return False
        QGuiApplication.clipboard().setImage(self._image)
        return True

    def export_to(self, path: str | Path) -> Path:
        if self._rgb is None:
            raise ValueError("there is no image to export")
        return write_image(path, self._rgb)

    def export_dialog(self) -> Path | None:
        if self._rgb is None:
            return None
        path, _ = QFileDialog.getSaveFileName(self, "Export image", str(Path(self.last_export_dir) / "render.png"),
                                              "PNG image (*.png);;JPEG image (*.jpg *.jpeg);;WebP (*.webp)")
        if not path:
            return None
        if not Path(path).suffix:
            path += ".png"
        try:
            out = self.export_to(path)
        except (OSError, ValueError) as e:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}: {e}")
            return None
        self.last_export_dir = str(out.parent)
        self.exported.emit(out)
        return out

    def request_export(self) -> None:
        if self.isSignalConnected(self.metaObject().method(self.metaObject().indexOfSignal("export_requested()"))):
            self.export_requested.emit()
        else:
            self.export_dialog()

    def sizeHint(self) -> QSize:
        return QSize(512, 512)

    # -- painting ----------------------------------------------------------------------------
    def _tick(self) -> None:
        self._phase = (self._phase + 1) % self.SPIN_STEPS
        self.update(self._spinner_rect().adjusted(-2, -2, 2, 2))

    def _spinner_rect(self) -> QRect:
        d = 22
        return QRect(self.width() - d - 10, 10, d, d)

    def _pixmap_for(self, target: QRectF) -> QPixmap:
        dpr = self.devicePixelRatioF()
        pw, ph = max(1, round(target.width() * dpr)), max(1, round(target.height() * dpr))
        key = (pw, ph, dpr)
        if self._scaled is None or self._scaled_key != key:
            img = self._image
            if (pw, ph) != (img.width(), img.height()):
                # downscaling smooths; enlarging a small render also smooths (it is a photo)
                img = img.scaled(pw, ph, Qt.AspectRatioMode.IgnoreAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
            pm = QPixmap.fromImage(img)
            pm.setDevicePixelRatio(dpr)
            self._scaled, self._scaled_key = pm, key
        return self._scaled

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base).darker(115))
        if self._image is not None:
            target = self.image_rect()
            pm = self._pixmap_for(target)
            # snap to the device-pixel grid so one pixmap pixel lands on one screen pixel
            dpr = self.devicePixelRatioF()
            p.drawPixmap(QPointF(round(target.x() * dpr) / dpr, round(target.y() * dpr) / dpr), pm)
            if self._message:
                self._paint_banner(p, self._message)
        else:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            f = p.font()
            f.setPointSizeF(f.pointSizeF() * 1.1)
            p.setFont(f)
            p.drawText(self.rect().adjusted(16, 16, -16, -16),
                       int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), self._message)
        if self._busy:
            self._paint_spinner(p)
        p.end()

    def _paint_banner(self, p: QPainter, text: str) -> None:
        fm = p.fontMetrics()
        r = self.rect().adjusted(8, 0, -8, -8)
        flags = int(Qt.AlignmentFlag.AlignLeft) | int(Qt.TextFlag.TextWordWrap)
        br = fm.boundingRect(r.adjusted(8, 0, -8, 0), flags, text)
        box = QRect(r.left(), r.bottom() - br.height() - 10, r.width(), br.height() + 10)
        p.fillRect(box, QColor(0, 0, 0, 170))
        p.setPen(QColor(240, 240, 240))
        p.drawText(box.adjusted(8, 5, -8, -5), flags, text)

    def _paint_spinner(self, p: QPainter) -> None:
        r = self._spinner_rect()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 120))
        p.drawEllipse(r.adjusted(-3, -3, 3, 3))
        c = r.center()
        n = self.SPIN_STEPS
        for i in range(n):
            age = (self._phase - i) % n  # 0 = the head of the spinner
            col = QColor(255, 255, 255, max(40, 255 - age * 22))
            pen = QPen(col, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            p.setPen(pen)
            p.save()
            p.translate(c)
            p.rotate(360.0 * i / n)
            p.drawLine(0, -5, 0, -9)
            p.restore()

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._scaled = self._scaled_key = None
        self._place_progress()
        super().resizeEvent(event)

    # -- context menu ---------------------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:  # noqa: N802
        menu = self.build_menu()
        menu.exec(event.globalPos())

    def build_menu(self) -> QMenu:
        menu = QMenu(self)
        copy = menu.addAction("Copy image", self.copy_image)
        export = menu.addAction("Export image…", self.request_export)
        copy.setEnabled(self._image is not None)
        export.setEnabled(self._image is not None)
        return menu
