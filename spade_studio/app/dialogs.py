"""Small dialogs: new document, about, label remapping report."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from spade_studio import __version__
from spade_studio.labels import LabelSet, builtin_label_set_names

# (text, width, height, wraps): New Canvas presets; the panoramas are 2:1 equirectangular
CANVAS_PRESETS = [
    ("Custom", 0, 0, False),
    ("Panorama 360° 2048 x 1024", 2048, 1024, True),
    ("Panorama 360° 1024 x 512", 1024, 512, True),
    ("Panorama 360° 4096 x 2048", 4096, 2048, True),
]


def one_go_hint(side: int) -> str:
    """The New Canvas / status bar hint: what renders in one go on this machine."""
    if side <= 0:
        return ""
    return (f"Renders in one go up to about {side} x {side} px on this machine; "
            "larger canvases render in tiles (with progress and Cancel).")


class NewDocumentDialog(QDialog):
    def __init__(self, width: int, height: int, label_set: LabelSet, stride: int = 32,
                 parent: QWidget | None = None, *, one_go_side: int = 0, wrap: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("New label map")
        self._current = label_set
        form = QFormLayout()
        self.width_box = QSpinBox()
        self.height_box = QSpinBox()
        for box, value in ((self.width_box, width), (self.height_box, height)):
            box.setRange(stride, 4096)
            box.setSingleStep(stride)
            box.setValue(value)
            box.setSuffix(" px")
            box.setToolTip(f"Sizes in steps of {stride} px render without padding")
        self.labels_box = QComboBox()
        names = [label_set.name] + [n for n in builtin_label_set_names() if n != label_set.name]
        self.labels_box.addItems(names)
        self.labels_box.setToolTip("The label set of the loaded model is listed first")
        self.fill_box = QComboBox()
        self._fill_labels(label_set)
        self.labels_box.currentTextChanged.connect(self._labels_changed)
        self.preset_box = QComboBox()
        for text, pw, ph, _wraps in CANVAS_PRESETS:
            self.preset_box.addItem(text, (pw, ph))
        self.preset_box.currentIndexChanged.connect(self._preset_chosen)
        self.wrap_box = QCheckBox("Wrap horizontally (360° panorama)")
        self.wrap_box.setToolTip("The render's left and right edges continue each other, "
                                 "so it views as a 360° image (2:1 is the equirectangular shape)")
        self.wrap_box.setChecked(bool(wrap))
        self.hint = QLabel(one_go_hint(one_go_side))
        self.hint.setWordWrap(True)
        self.hint.setVisible(bool(self.hint.text()))
        form.addRow("Preset", self.preset_box)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        form.addRow("Label set", self.labels_box)
        form.addRow("Fill with", self.fill_box)
        form.addRow("", self.wrap_box)
        form.addRow(self.hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def _preset_chosen(self, index: int) -> None:
        _text, pw, ph, wraps = CANVAS_PRESETS[index]
        if pw:
            self.width_box.setValue(pw)
            self.height_box.setValue(ph)
            self.wrap_box.setChecked(wraps)

    def wrap(self) -> bool:
        return self.wrap_box.isChecked()

    def _fill_labels(self, ls: LabelSet) -> None:
        self.fill_box.clear()
        for lab in ls:
            self.fill_box.addItem(f"{lab.id}  {lab.name}", lab.id)

    def _labels_changed(self, name: str) -> None:
        self._fill_labels(self.label_set())

    def label_set(self) -> LabelSet:
        from spade_studio.labels import load_label_set

        name = self.labels_box.currentText()
        return self._current if name == self._current.name else load_label_set(name)

    def values(self) -> tuple[int, int, LabelSet, int]:
        return self.width_box.value(), self.height_box.value(), self.label_set(), int(self.fill_box.currentData())


def about_text(official_model: bool) -> str:
    text = (
        f"<h3>SPADE Studio {__version__}</h3>"
        "<p>Paint a scene as a label map; a SPADE generator (Park et al., CVPR 2019) renders it on your "
        "own machine.</p>"
        "<p><b>Licence:</b> MIT, for the application and for the bundled landscape model, which this "
        "project trained on its own procedural scenes.</p>"
    )
    if official_model:
        text += (
            "<p><b>The loaded model holds NVIDIA's released SPADE weights.</b> They are licensed by NVIDIA "
            "under Creative Commons Attribution-NonCommercial-ShareAlike 4.0 (CC BY-NC-SA 4.0): "
            "non-commercial use only, with attribution, and derivatives under the same terms. "
            "See https://github.com/NVlabs/SPADE.</p>"
        )
    return text


def show_about(parent: QWidget, official_model: bool) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About SPADE Studio")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text(official_model))
    box.exec()


# keys that are not actions: the canvas and the palette handle them
EXTRA_SHORTCUTS = [
    ("Pan the map", "Space + drag, or middle-button drag"),
    ("Zoom at the pointer", "Mouse wheel"),
    ("Pick the label under the pointer", "Alt + click (any tool)"),
    ("Paint only over the label under the pointer", "Alt + Shift + click"),
    ("Pick the first ten labels of the palette", "1 2 3 4 5 6 7 8 9 0"),
    ("Cancel the current line, rectangle or polygon", "Esc"),
    ("Polygon tool: fill the polygon / remove its last corner", "Double-click or Enter / Backspace"),
    ("Polygon tool: free-hand lasso (filled on release)", "drag"),
    ("Search labels, then use the first match", "type in the search box, Enter"),
]


def shortcut_rows(acts: Any) -> list[tuple[str, str]]:
    """(what, keys) for every action of ``acts`` (an ``actions.Actions``) that has a shortcut,
    then the pointer and palette keys."""
    from PySide6.QtGui import QAction, QKeySequence

    rows, seen = [], set()
    for value in vars(acts).values():
        items = value.values() if isinstance(value, dict) else [value]
        for a in items:
            if isinstance(a, QAction) and not a.shortcut().isEmpty() and id(a) not in seen:
                seen.add(id(a))
                what = a.text().replace("&", "").rstrip(".…")
                rows.append((what, a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)))
    return rows + EXTRA_SHORTCUTS


def show_shortcuts(parent: QWidget, acts: Any) -> QDialog:
    """A non-modal list of the editor's keys (Help > Keyboard Shortcuts)."""
    from PySide6.QtWidgets import QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

    dlg = QDialog(parent)
    dlg.setWindowTitle("Keyboard Shortcuts")
    rows = shortcut_rows(acts)
    table = QTableWidget(len(rows), 2, dlg)
    table.setHorizontalHeaderLabels(["Action", "Keys"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, (what, keys) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(what))
        table.setItem(r, 1, QTableWidgetItem(keys))
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dlg)
    buttons.rejected.connect(dlg.close)
    lay = QVBoxLayout(dlg)
    lay.addWidget(table)
    lay.addWidget(buttons)
    dlg.resize(520, 560)
    dlg.setObjectName("shortcuts_dialog")
    dlg.show()
    return dlg


def remap_by_name(old: LabelSet, new: LabelSet, used: list[int]) -> tuple[dict[int, int], list[str]]:
    """Map used ids of ``old`` to ``new`` by (case-insensitive) name; returns (mapping, unmapped names)."""
    mapping: dict[int, int] = {}
    unmapped: list[str] = []
    for i in used:
        name = old.name_of(i)
        j = new.id_of(name)
        if j is None:
            unmapped.append(f"{i} {name}")
        else:
            mapping[i] = j
    return mapping, unmapped


class InfoDialog(QDialog):
    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        lay = QVBoxLayout(self)
        lab = QLabel(text)
        lab.setWordWrap(True)
        lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(lab)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)
