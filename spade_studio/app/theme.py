"""Dark (default), light and system themes."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication


def apply_theme(app: QApplication, name: str) -> None:
    if name == "system":
        app.setStyleSheet("")
        return
    import qdarkstyle

    palette = qdarkstyle.LightPalette if name == "light" else qdarkstyle.DarkPalette
    app.setStyleSheet(qdarkstyle.load_stylesheet(qt_api="pyside6", palette=palette))
