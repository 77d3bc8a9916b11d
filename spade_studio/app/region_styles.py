"""The style panel's "Regions" section: a style for one label's area (or a mask, or an upper
layer's painted area), from the same sources as the panel's (a preset, an image file, a seed).

:class:`RegionStyles` is the section's widget and state: the target box (the model's labels,
then the document's upper layers, "layer: …"), the style box, the seed box, Add, and one
:class:`RegionRow` per region style (the label's colour, its name, the style, remove). A
:class:`LayerTarget` region's mask is the layer's mask at render time (:class:`LayerState`,
from the layer source), so it follows edits; a hidden, deleted or empty layer's row says so.
:class:`spade_studio.app.style_panel.StylePanel` composes it (its region methods delegate
here) and turns the entries into ``StyleSpec.regions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..labels import LabelSet
from .enums import SourceKind
from .style_thumbs import IMAGE_SUFFIXES, StyleSource, StyleThumb

SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class LayerTarget:
    """A region target that is a document layer (by its key, :attr:`.document.Layer.key`):
    the region's mask is the layer's mask when the render is asked for."""

    key: int


@dataclass(frozen=True)
class LayerState:
    """What the panel needs of an upper layer (from :meth:`RegionStyles.set_layer_source`)."""

    key: int
    name: str
    visible: bool
    mask: np.ndarray | None  # (H, W) bool, where the layer is painted


@dataclass(frozen=True, eq=False)
class RegionEntry:
    """One region style of the panel: ``target`` a label id, a mask ``(H, W)`` (bool or
    float 0..1) or a :class:`LayerTarget`; ``name`` what the row calls the target."""

    target: int | np.ndarray | LayerTarget
    source: StyleSource
    name: str

    @property
    def label(self) -> int | None:
        return None if isinstance(self.target, (np.ndarray, LayerTarget)) else int(self.target)

    @property
    def layer_key(self) -> int | None:
        return self.target.key if isinstance(self.target, LayerTarget) else None


def _swatch(color, size: int = 14) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor(*color) if color is not None else QColor(128, 128, 128))
    return pm


class RegionRow(QWidget):
    """One region style: the target's colour swatch and name, its style, a remove button."""

    removed = Signal(object)  # RegionEntry

    def __init__(self, entry: RegionEntry, color, icon: QImage | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.swatch = QLabel()
        self.swatch.setPixmap(_swatch(color))
        self.swatch.setToolTip("the label's colour" if entry.label is not None else
                               "a layer's painted area" if entry.layer_key is not None else "a painted region (mask)")
        self.target_label = QLabel(f"layer: {entry.name}" if entry.layer_key is not None else entry.name)
        self.note_label = QLabel("")  # e.g. "hidden: not rendered" for a layer target
        self.note_label.setStyleSheet("color: #e0b050;")
        self.note_label.setVisible(False)
        self.style_icon = QLabel()
        if icon is not None and not icon.isNull():
            self.style_icon.setPixmap(QPixmap.fromImage(icon.scaled(
                20, 20, Qt.AspectRatioMode.KeepAspectRatioByExpanding, Qt.TransformationMode.SmoothTransformation)))
        self.style_label = QLabel(f"→ {entry.source.name}")
        self.style_label.setMaximumWidth(200)
        self.remove_button = QToolButton()
        self.remove_button.setText("×")
        self.remove_button.setToolTip(f"Remove the style of {entry.name}")
        self.remove_button.clicked.connect(lambda: self.removed.emit(self.entry))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(5)
        lay.addWidget(self.swatch)
        lay.addWidget(self.target_label)
        lay.addWidget(self.style_label)
        lay.addWidget(self.style_icon)
        lay.addWidget(self.note_label)
        lay.addStretch(1)
        lay.addWidget(self.remove_button)
        self.setToolTip(f"{entry.name}: {entry.source.name}")

    def set_note(self, note: str) -> None:
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))


class RegionStyles(QWidget):
    """The Regions section (the panel's ``regions_box``). What it needs of the panel comes as
    callables: ``label_set()`` (the model's, or None), ``styles_enabled()``, ``images_enabled()``,
    ``note(text)`` (the panel's status line), ``changed()`` (emit the style again),
    ``thumbs()`` (the panel's preset and recent thumbnails), ``open_dir()`` /
    ``set_open_dir(path)`` (the folder of the last file dialog)."""

    def __init__(self, *, label_set: Callable[[], LabelSet | None], styles_enabled: Callable[[], bool],
                 images_enabled: Callable[[], bool], note: Callable[[str], None], changed: Callable[[], None],
                 thumbs: Callable[[], list[StyleThumb]], open_dir: Callable[[], str],
                 set_open_dir: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._label_set = label_set
        self._styles_enabled = styles_enabled
        self._images_enabled = images_enabled
        self._note = note
        self._changed = changed
        self._thumbs = thumbs
        self._open_dir = open_dir
        self._set_open_dir = set_open_dir
        self._layer_source: Callable[[], list[LayerState]] | None = None
        self._layer_sig: tuple = ()  # the layer regions' states last emitted

        # region styles: a style for one label's area (rows), and the row that adds one
        self._regions: list[RegionEntry] = []
        self._region_rows: list[RegionRow] = []
        regions_title = QLabel("Regions")
        f2 = regions_title.font()
        f2.setBold(True)
        regions_title.setFont(f2)
        self.regions_hint = QLabel("a style for one label's area")
        self.regions_hint.setEnabled(False)
        self.region_label_combo = QComboBox()
        self.region_label_combo.setEditable(True)  # type to search; typing never reaches the editor's keys
        self.region_label_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.region_label_combo.setToolTip("The label (or upper layer: 'layer: …') whose area gets its own "
                                           "style (type to search; follows the palette's current label)")
        self.region_label_combo.setMinimumWidth(110)
        completer = self.region_label_combo.completer()
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.region_style_combo = QComboBox()
        self.region_style_combo.setToolTip("The region's style: a preset, an image file or a seed")
        self._region_style_choice = None  # the user's last pick in the style box (kept across refills)
        self._palette_label: int | None = None
        self.region_style_combo.activated.connect(self._region_style_activated)
        self.region_style_combo.currentIndexChanged.connect(self._region_style_changed)
        self.region_seed_spin = QSpinBox()
        self.region_seed_spin.setRange(0, SEED_MAX)
        self.region_seed_spin.setToolTip("The region's random style seed")
        self.region_seed_spin.setMinimumWidth(80)
        self.region_add_button = QPushButton("Add")
        self.region_add_button.setToolTip("Give the chosen label's area the chosen style")
        self.region_add_button.clicked.connect(self._add_region_clicked)
        rhead = QHBoxLayout()
        rhead.addWidget(regions_title)
        rhead.addWidget(self.regions_hint, 1)
        radd = QHBoxLayout()
        radd.addWidget(self.region_label_combo, 1)
        radd.addWidget(self.region_style_combo, 1)
        radd.addWidget(self.region_seed_spin)
        radd.addWidget(self.region_add_button)
        self._region_list = QWidget()
        self._region_list_layout = QVBoxLayout(self._region_list)
        self._region_list_layout.setContentsMargins(0, 0, 0, 0)
        self._region_list_layout.setSpacing(2)
        rb = QVBoxLayout(self)
        rb.setContentsMargins(0, 4, 0, 0)
        rb.setSpacing(3)
        rb.addLayout(rhead)
        rb.addLayout(radd)
        rb.addWidget(self._region_list)

    def set_layer_source(self, fn: Callable[[], list[LayerState]] | None) -> None:
        """``fn()`` lists the document's upper layers (bottom first): the layers a region style
        can target. Call :meth:`layers_changed` when they change."""
        self._layer_source = fn
        self.layers_changed()

    def layer_states(self) -> dict[int, LayerState]:
        return {s.key: s for s in (self._layer_source() if self._layer_source is not None else [])}

    def layers_changed(self, drop_missing: bool = False) -> None:
        """The layers changed (names, visibility, stack): refill the target box, update the
        rows' notes and emit the style when a layer region's state changed. ``drop_missing``
        (a new or opened document): forget regions whose layer is gone."""
        if drop_missing:
            keys = self.layer_states().keys()
            before = len(self._regions)
            self._regions = [e for e in self._regions if e.layer_key is None or e.layer_key in keys]
            if len(self._regions) != before:
                self._rebuild_region_rows()
        self._fill_region_targets()
        states = self.layer_states()
        changed = False
        for i, e in enumerate(self._regions):
            if e.layer_key is None:
                continue
            st = states.get(e.layer_key)
            if st is not None and st.name != e.name:
                self._regions[i] = e = RegionEntry(e.target, e.source, st.name)
                changed = True
        if changed:
            self._rebuild_region_rows()
        else:
            self._update_region_notes()
        sig = tuple((e.layer_key, self._layer_note(e, states)) for e in self._regions if e.layer_key is not None)
        if sig != self._layer_sig:  # a layer region came or went: the render changes
            self._layer_sig = sig
            self._changed()

    def _layer_note(self, e: RegionEntry, states: dict[int, LayerState]) -> str:
        st = states.get(e.layer_key)
        if st is None:
            return "layer deleted: not rendered"
        if not st.visible:
            return "hidden: not rendered"
        if st.mask is None or not st.mask.any():
            return "empty layer"
        return ""

    def _update_region_notes(self) -> None:
        states = self.layer_states()
        for row in self._region_rows:
            row.set_note(self._layer_note(row.entry, states) if row.entry.layer_key is not None else "")

    def look_regions(self) -> tuple:
        """The region styles as a hashable value for :class:`StyleLook`."""
        return tuple(self._regions)

    def apply_look_regions(self, regions: tuple) -> None:
        """Restore the region styles of a look (counterpart of :meth:`look_regions`); the
        caller emits the style."""
        ok = [e for e in regions if isinstance(e, RegionEntry) and self.region_allowed(e)]
        ls = self._label_set()
        states = self.layer_states()
        for i, e in enumerate(ok):  # a project's entries carry no names: the label's or layer's
            if e.label is not None and not e.name:
                ok[i] = RegionEntry(e.target, e.source, ls.name_of(e.label) if ls is not None else f"id {e.label}")
            elif e.layer_key is not None and e.layer_key in states and states[e.layer_key].name != e.name:
                ok[i] = RegionEntry(e.target, e.source, states[e.layer_key].name)
        self._regions = ok
        self._rebuild_region_rows()

    # -- region styles ---------------------------------------------------------------------------
    def region_styles(self) -> list[RegionEntry]:
        """The region styles, bottom first (a later one lies over an earlier one)."""
        return list(self._regions)

    def add_region_style(self, target: int | np.ndarray, source: StyleSource, name: str | None = None) -> bool:
        """Give ``target`` (a label id, a mask ``(H, W)`` bool/float 0..1, or a
        :class:`LayerTarget`: the layer's mask at render time) the style ``source``. A label or
        layer that already has a style gets the new one. False (and a
        note in the panel) when the model takes no style, or no images and ``source`` is one."""
        if not self._styles_enabled():
            return False
        if isinstance(target, LayerTarget):
            st = self.layer_states().get(target.key)
            if st is None:
                self._note("region style: that layer is not in the document (only upper layers)")
                return False
            entry = RegionEntry(target, source, st.name)
            self._regions = [e for e in self._regions if e.layer_key != target.key]
        elif isinstance(target, np.ndarray):
            if target.ndim != 2 or not target.any():
                self._note("region style: the mask is empty")
                return False
            entry = RegionEntry(target.copy(), source, name or "painted region")
        else:
            lid = int(target)
            ls = self._label_set()
            if ls is not None and lid not in ls.ids:
                self._note(f"region style: label {lid} is not in '{ls.name}'")
                return False
            entry = RegionEntry(lid, source, name or (ls.name_of(lid) if ls is not None else f"id {lid}"))
            self._regions = [e for e in self._regions if e.label != lid]
        if not self.region_allowed(entry):
            self._note("this model cannot use style images: pick a seed for the region")
            return False
        self._regions.append(entry)
        self._rebuild_region_rows()
        self._changed()
        return True

    def remove_region_style(self, entry: RegionEntry | int) -> None:
        if isinstance(entry, int):
            entry = self._regions[entry]
        if entry not in self._regions:
            return
        self._regions = [e for e in self._regions if e is not entry]
        self._rebuild_region_rows()
        self._changed()

    def clear_region_styles(self) -> None:
        if self._regions:
            self._regions = []
            self._rebuild_region_rows()
            self._changed()

    def region_rows(self) -> list[RegionRow]:
        return list(self._region_rows)

    def chosen_region_source(self) -> StyleSource | None:
        """The style chosen in the Regions section's style box (a preset, image or seed)."""
        return self._chosen_source()

    def style_layer(self, key: int) -> bool:
        """Give layer ``key`` a region style: the one chosen in the Regions section's style
        box; the target box then shows the layer (pick another style and Add to change it)."""
        src = self._chosen_source() or StyleSource.seed(self.region_seed_spin.value())
        if not self.add_region_style(LayerTarget(int(key)), src):
            return False
        i = self._find_target(LayerTarget(int(key)))
        if i >= 0:
            self.region_label_combo.setCurrentIndex(i)
        return True

    def _find_target(self, data) -> int:
        """The target box's index of ``data`` (a label id or a LayerTarget; by value), or -1."""
        combo = self.region_label_combo
        return next((i for i in range(combo.count()) if combo.itemData(i) == data), -1)

    def set_palette_label(self, label_id: int) -> None:
        """The palette's current label: the label the next region style is for (unless the
        user is typing in the label box)."""
        self._palette_label = int(label_id)
        if self.region_label_combo.hasFocus():
            return
        i = self.region_label_combo.findData(int(label_id))
        if i >= 0:
            self.region_label_combo.setCurrentIndex(i)

    # -- internals -------------------------------------------------------------------------------
    def region_allowed(self, e: RegionEntry) -> bool:
        if e.source.kind == SourceKind.IMAGE and not self._images_enabled():
            return False
        ls = self._label_set()
        return e.label is None or ls is None or e.label in ls.ids

    def for_model(self) -> bool:
        """Fill the label and style boxes for the model now; drop region styles it cannot use.
        True when region styles remain or were dropped (the style must be emitted again)."""
        self._fill_region_targets(palette=True)
        self.fill_region_styles()
        before = len(self._regions)
        self._regions = [e for e in self._regions if self.region_allowed(e)]
        self._rebuild_region_rows()
        return bool(self._regions) or len(self._regions) != before

    def _fill_region_targets(self, palette: bool = False) -> None:
        """The target box: the model's labels, then the document's upper layers ("layer: …").
        Keeps the current choice (or, with ``palette``, the palette's label)."""
        combo = self.region_label_combo
        keep = combo.currentData() if combo.currentIndex() >= 0 else None
        if palette or keep is None:
            keep = self._palette_label
        typed = combo.currentText() if combo.hasFocus() else None
        combo.blockSignals(True)
        combo.clear()
        ls = self._label_set()
        if ls is not None:
            for lab in ls:
                combo.addItem(QIcon(_swatch(lab.color)), lab.name, int(lab.id))
        for st in self.layer_states().values():
            combo.addItem(f"layer: {st.name}", LayerTarget(st.key))
        if keep is not None and self._find_target(keep) >= 0:
            combo.setCurrentIndex(self._find_target(keep))
        if typed is not None:
            combo.setEditText(typed)
        combo.blockSignals(False)

    def fill_region_styles(self) -> None:
        combo = self.region_style_combo
        keep = self._region_style_choice
        combo.blockSignals(True)
        combo.clear()
        if self._images_enabled():
            for t in self._thumbs():
                icon = QIcon(QPixmap.fromImage(t._image)) if t._image is not None else QIcon()
                combo.addItem(icon, t.source.name, t.source)
        combo.addItem("seed", "seed")
        if self._images_enabled():
            combo.addItem("Image file…", "open")
        i = combo.findData(keep) if keep is not None else -1
        combo.setCurrentIndex(max(0, i))
        combo.blockSignals(False)
        self._region_style_changed()

    def _region_style_changed(self, _i: int = 0) -> None:
        self.region_seed_spin.setVisible(self.region_style_combo.currentData() == "seed")

    def _region_style_activated(self, _i: int) -> None:
        if self.region_style_combo.currentData() != "open":
            self._region_style_choice = self.region_style_combo.currentData()
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Style image for a region", self._open_dir(),
            "Images (" + " ".join("*" + s for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)")
        if path:
            self._set_open_dir(str(Path(path).parent))
            self.set_region_style_image(path)
        else:
            self.region_style_combo.setCurrentIndex(0)

    def set_region_style_image(self, path: str | Path) -> bool:
        """Put an image file in the region style box (selected)."""
        path = str(Path(path))
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES or QImage(path).isNull():
            self._note(f"could not read {Path(path).name}")
            return False
        src = StyleSource.image(path)
        self._region_style_choice = src
        combo = self.region_style_combo
        i = combo.findData(src)
        if i < 0:
            img = QImage(path).scaled(48, 48, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                      Qt.TransformationMode.SmoothTransformation)
            i = max(0, combo.count() - 2)  # before "seed" and "Image file…"
            combo.insertItem(i, QIcon(QPixmap.fromImage(img)), src.name, src)
        combo.setCurrentIndex(i)
        return True

    def _chosen_source(self) -> StyleSource | None:
        data = self.region_style_combo.currentData()
        if data == "seed":
            return StyleSource.seed(self.region_seed_spin.value())
        return data if isinstance(data, StyleSource) else None

    def _chosen_region_label(self) -> int | LayerTarget | None:
        combo = self.region_label_combo
        text = combo.currentText().strip().lower()
        for i in range(combo.count()):  # what is typed wins over the last selected item
            if combo.itemText(i).lower() == text:
                data = combo.itemData(i)
                return data if isinstance(data, LayerTarget) else int(data)
        return None

    def _add_region_clicked(self) -> None:
        lid, src = self._chosen_region_label(), self._chosen_source()
        if lid is None:
            self._note(f"region style: no label named {self.region_label_combo.currentText()!r}")
            return
        if src is None:
            self._note("region style: pick a style (a preset, an image file or a seed)")
            return
        self.add_region_style(lid, src)

    def _rebuild_region_rows(self) -> None:
        for r in self._region_rows:
            self._region_list_layout.removeWidget(r)
            r.hide()
            r.deleteLater()
        ls = self._label_set()
        self._region_rows = []
        for e in self._regions:
            color = None
            if e.label is not None and ls is not None and e.label in ls.ids:
                color = ls.by_id(e.label).color
            icon = None
            if e.source.kind == SourceKind.IMAGE:
                icon = next((t._image for t in self._thumbs() if t.source == e.source), None)
                icon = icon if icon is not None else QImage(str(e.source.key))
            row = RegionRow(e, color, icon)
            row.removed.connect(self.remove_region_style)
            self._region_list_layout.addWidget(row)
            self._region_rows.append(row)
        self._update_region_notes()
        n = len(self._regions)
        self.regions_hint.setText("a style for one label's area" if not n else
                                  f"{n} region style{'s' if n > 1 else ''} over the style above")
