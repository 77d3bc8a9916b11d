"""Style sources and their thumbnails: :class:`StyleSource`, :class:`StyleThumb`, the shipped presets.

A source is an image (encoded to z by the model's encoder) or a seed (z drawn from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

from .enums import SourceKind

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class StyleSource:
    kind: SourceKind
    key: str | int  # path (str) or seed (int)
    name: str

    @staticmethod
    def seed(n: int) -> StyleSource:
        return StyleSource(SourceKind.SEED, int(n), f"seed {int(n)}")

    @staticmethod
    def image(path: str | Path) -> StyleSource:
        return StyleSource(SourceKind.IMAGE, str(path), Path(path).stem)


def preset_paths() -> list[Path]:
    from spade_studio.paths import resources_dir

    try:
        folder = resources_dir() / "styles"
    except FileNotFoundError:
        return []
    order = ["day", "sunset", "night", "winter", "autumn", "fog"]
    found = sorted((p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    return found


class StyleThumb(QWidget):
    """A clickable thumbnail; left click = use (A), right or shift click = blend target (B)."""

    picked = Signal(object)  # StyleSource
    picked_b = Signal(object)

    def __init__(self, source: StyleSource, image: QImage | None, caption: str = "", size: int = 56,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._image = image
        self.caption = caption
        self.role = ""  # "", "A", "B"
        self.setFixedSize(size, size)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"{source.name}\nclick: use this style · right click: blend towards it (B)")

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def set_role(self, role: str) -> None:
        if role != self.role:
            self.role = role
            self.update()

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        if not self.rect().contains(e.position().toPoint()):
            return
        if e.button() == Qt.MouseButton.RightButton or (
                e.button() == Qt.MouseButton.LeftButton and e.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.picked_b.emit(self.source)
        elif e.button() == Qt.MouseButton.LeftButton:
            self.picked.emit(self.source)

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if not self.isEnabled():
            p.setOpacity(0.35)
        r = self.rect().adjusted(2, 2, -2, -2)
        if self._image is not None and not self._image.isNull():
            img = self._image
            s = max(r.width() / img.width(), r.height() / img.height())  # cover the square, crop
            sw, sh = r.width() / s, r.height() / s
            src = QRectF((img.width() - sw) / 2, (img.height() - sh) / 2, sw, sh)
            p.drawImage(QRectF(r), img, src)
        else:
            p.fillRect(r, self.palette().color(QPalette.ColorRole.Base))
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(r, int(Qt.AlignmentFlag.AlignCenter), "…")
        if self.caption:
            band = QRect(r.left(), r.bottom() - 14, r.width(), 15)
            p.fillRect(band, QColor(0, 0, 0, 150))
            p.setPen(QColor(235, 235, 235))
            f = QFont(p.font())
            f.setPointSizeF(max(6.5, f.pointSizeF() * 0.75))
            p.setFont(f)
            p.drawText(band, int(Qt.AlignmentFlag.AlignCenter), self.caption)
        colour = {"A": QColor(70, 160, 255), "B": QColor(255, 160, 60)}.get(self.role)
        if colour is not None:
            p.setPen(QPen(colour, 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5))
            badge = QRect(r.left(), r.top(), 15, 15)
            p.fillRect(badge, colour)
            p.setPen(QColor(0, 0, 0))
            f = QFont(p.font())
            f.setBold(True)
            p.setFont(f)
            p.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), self.role)
        p.end()


def _read_style_rgb(path: str, side: int = 512) -> np.ndarray | None:
    """RGB for the encoder (which resizes to 256 itself). Big photos are decoded at a reduced
    scale (JPEG draft mode) and shrunk to ``side``, so opening a 24-megapixel photo stays quick."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img.draft("RGB", (side, side))
            img = ImageOps.exif_transpose(img) or img
            img = img.convert("RGB")
            img.thumbnail((side, side), Image.Resampling.BILINEAR)
            return np.asarray(img)
    except Exception:  # noqa: BLE001 - shown as a message by the caller
        return None
