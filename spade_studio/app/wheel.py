"""Wheel guard: spin boxes, combo boxes and sliders inside a scrolled panel take the wheel only once focused.

Without it, scrolling a long settings panel with the wheel changes whatever spin box passes
under the pointer (300 iterations became 1). A guarded widget gets focus by a click or Tab
(``Qt.StrongFocus``); until then the wheel scrolls the panel around it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QWidget

GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class _WheelGuard(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            area = obj.parentWidget()
            while area is not None and not isinstance(area, QAbstractScrollArea):
                area = area.parentWidget()
            if area is not None:
                QApplication.sendEvent(area.viewport(), event)  # scroll the panel instead
            return True
        return False


def guard_wheel(root: QWidget) -> int:
    """Guard every spin box, combo box and slider under ``root``; returns how many."""
    guard = root.findChild(_WheelGuard, "wheel_guard")
    if guard is None:
        guard = _WheelGuard(root)
        guard.setObjectName("wheel_guard")
    n = 0
    for w in root.findChildren(QWidget):
        if isinstance(w, GUARDED) and not isinstance(w, QAbstractScrollArea):
            w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            w.installEventFilter(guard)
            n += 1
    return n
