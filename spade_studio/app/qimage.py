"""numpy <-> QImage: the one place where pixel arrays become Qt images and back."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """``[H, W, 3]`` (or more channels; the first three are used) uint8 -> a QImage that owns
    its pixels."""
    arr = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """A QImage -> ``[H, W, 3]`` uint8 (a copy)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h)
    return buf.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()
