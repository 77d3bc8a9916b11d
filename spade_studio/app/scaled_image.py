"""ScaledImage: a QLabel that shows a pixmap scaled to fit its size, aspect ratio kept."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ScaledImage(QLabel):
    """A QLabel that shows a pixmap scaled to fit, aspect kept (nearest for small images)."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pix: QPixmap | None = None
        self._placeholder = placeholder
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setText(placeholder)
        self.setWordWrap(True)

    def set_pixmap(self, pix: QPixmap | None) -> None:
        self._pix = pix if pix is not None and not pix.isNull() else None
        # an image sits on its caption below; the placeholder text is centred
        self.setAlignment(Qt.AlignmentFlag.AlignCenter if self._pix is None
                          else Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        if self._pix is None:
            self.setPixmap(QPixmap())
            self.setText(self._placeholder)
        self._rescale()

    def has_image(self) -> bool:
        return self._pix is not None

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pix is None:
            return
        dpr = self.devicePixelRatioF()
        size = self.contentsRect().size() * dpr
        if size.width() < 2 or size.height() < 2:
            return
        mode = Qt.TransformationMode.SmoothTransformation
        if self._pix.width() * 2 <= size.width() and self._pix.height() * 2 <= size.height():
            mode = Qt.TransformationMode.FastTransformation
        scaled = self._pix.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, mode)
        scaled.setDevicePixelRatio(dpr)
        self.setPixmap(scaled)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 240)
