"""The style panel: style images (presets, recent, open, drop), random seed, blend, variations.

Styles are *sources*: an image (encoded to z by the model's encoder, in the preview worker) or a
seed (z drawn from it). Source A is the style in use; source B, picked with a right click on a
thumbnail (or shift+click), is what the blend slider mixes towards:
``z = (1 - t) * zA + t * zB``. ``style_changed`` is emitted only when the user changes the style
(and once after a model change when the style was an image, as its z must be re-encoded), never
while painting.

Region styles (the "Regions" section): a style for one label's area (or for an explicit mask,
e.g. a layer's: :meth:`StylePanel.add_region_style` takes either), from the same sources (a
preset, an image file, a seed). They travel in ``StyleSpec.regions``; the render blends them
in (:mod:`spade_studio.model.regional`). A row shows the label's colour, its name and the style.
A region may also target an upper layer (:class:`LayerTarget`, "layer: trees" in the target
box, or the Layers dock's "Style this layer…"): its mask is the layer's mask at render time
(:meth:`StylePanel.render_spec`), so it follows edits; a hidden or deleted layer's region is
left out of the render and its row says so.

Projects: :func:`look_to_project` / :func:`look_from_project` turn a :class:`StyleLook` into
the ``styles`` dict (+ ``style_images``) of a :class:`spade_studio.project.Project` and back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .enums import SourceKind
from .preview_service import ModelInfo, PreviewService, RegionSpec, StyleSpec
from .qimage import rgb_to_qimage
from .style_thumbs import IMAGE_SUFFIXES, StyleSource, StyleThumb, _read_style_rgb, preset_paths  # noqa: F401 - StyleSource is part of the panel's API

NO_ENCODER = "This model has no style encoder (official NVIDIA models are label-map only)."
SEEDS_ONLY = ("This model has no style encoder: style images cannot be used, "
              "but random styles (seeds) still work.")
NO_MODEL = "No model loaded."
SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class StyleLook:
    """Everything the panel needs to return to a look (the render history strip keeps one per
    render): style A, the blend target B and amount, the seed box, and the region styles
    (``regions``: the panel's region-style state, when it has any; empty otherwise)."""

    a: StyleSource
    b: StyleSource | None = None
    blend: int = 0  # 0..100, towards b
    seed: int = 0
    regions: tuple = ()

    def describe(self) -> str:
        """A few lines for a tool tip: the style (preset / image file / seed) and the seed."""
        def one(src: StyleSource) -> str:
            if src.kind == SourceKind.SEED:
                return f"random style, seed {src.key}"
            path = Path(str(src.key))
            return f"{'preset' if path.parent.name == 'styles' else 'image'} {path.name}"

        lines = [f"Style: {one(self.a)}"]
        if self.b is not None and self.blend > 0:
            lines.append(f"Blend: {self.blend}% towards {one(self.b)}")
        lines.append(f"Seed: {self.seed}")
        if self.regions:
            lines.append(f"Region styles: {len(self.regions)}")
        return "\n".join(lines)

@dataclass(frozen=True)
class LayerTarget:
    """A region target that is a document layer (by its key, :attr:`.document.Layer.key`):
    the region's mask is the layer's mask when the render is asked for."""

    key: int


@dataclass(frozen=True)
class LayerState:
    """What the panel needs of an upper layer (from :meth:`StylePanel.set_layer_source`)."""

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


# -- projects: a look as the project's ``styles`` dict and back ---------------------------------
PROJECT_STYLES_VERSION = 1


def _source_to_project(src: StyleSource, images: dict[str, np.ndarray], keys: dict[str, str]) -> dict | None:
    """``src`` as JSON; an image file's pixels go into ``images`` (once per file)."""
    if src.kind == SourceKind.SEED:
        return {"kind": "seed", "seed": int(src.key)}
    path = Path(str(src.key))
    if path.parent.name == "styles" and path in preset_paths():
        return {"kind": "preset", "name": path.stem}
    if str(path) not in keys:
        rgb = _read_style_rgb(str(path))
        if rgb is None:
            return None  # unreadable now: left out
        keys[str(path)] = key = f"style{len(keys)}"
        images[key] = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8)
    return {"kind": "image", "image": keys[str(path)], "name": src.name}


def look_to_project(look: StyleLook, layer_keys: list[int]) -> tuple[dict, dict[str, np.ndarray]]:
    """``look`` as a project's ``styles`` dict and ``style_images``. ``layer_keys``: the
    document's layer keys, bottom first (a layer target is saved as its index)."""
    images: dict[str, np.ndarray] = {}
    keys: dict[str, str] = {}
    regions = []
    for e in look.regions:
        src = _source_to_project(e.source, images, keys)
        if src is None:
            continue
        if e.layer_key is not None:
            if e.layer_key not in layer_keys:
                continue  # a deleted layer
            target = {"layer": layer_keys.index(e.layer_key), "name": e.name}
        elif e.label is not None:
            target = {"label": int(e.label)}
        else:
            continue  # an explicit mask (API only) is not saved
        regions.append({"target": target, "style": src})
    styles = {
        "version": PROJECT_STYLES_VERSION,
        "a": _source_to_project(look.a, images, keys) or {"kind": "seed", "seed": int(look.seed)},
        "b": None if look.b is None else _source_to_project(look.b, images, keys),
        "blend": int(look.blend),
        "seed": int(look.seed),
        "regions": regions,
    }
    return styles, images


def _source_from_project(d, images: dict, cache_dir: Path, notes: list[str], what: str) -> StyleSource | None:
    if not isinstance(d, dict):
        return None
    kind = d.get("kind")
    if kind == "seed" and isinstance(d.get("seed"), int) and 0 <= d["seed"] <= SEED_MAX:
        return StyleSource.seed(d["seed"])
    if kind == "preset":
        name = str(d.get("name", ""))
        found = [p for p in preset_paths() if p.stem == name]
        if found:
            return StyleSource.image(found[0])
        notes.append(f"{what}: the preset style {name[:40]!r} is not installed")
        return None
    if kind == "image":
        key, name = str(d.get("image", "")), str(d.get("name") or "style")
        rgb = images.get(key)
        if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] >= 3 and rgb.size > 0):
            notes.append(f"{what}: its style image {name[:40]!r} is missing or cannot be decoded")
            return None
        import hashlib

        from spade_studio.imageio import write_image

        rgb = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8)
        digest = hashlib.sha1(rgb.tobytes() + repr(rgb.shape).encode()).hexdigest()[:16]
        safe = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name)[:60] or "style"
        path = cache_dir / digest / f"{safe}.png"
        if not path.is_file():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_image(path, rgb)  # atomic
            except OSError as exc:
                notes.append(f"{what}: cannot write its style image to {path.parent} ({exc.strerror or exc})")
                return None
        return StyleSource.image(path)
    notes.append(f"{what}: not a style the editor knows ({str(kind)[:20]!r})")
    return None


def look_from_project(styles: dict, images: dict, layer_keys: list[int], layer_names: list[str],
                      cache_dir: Path) -> tuple[StyleLook | None, list[str]]:
    """The look a project's ``styles`` describe (None when it describes none), and notes for
    what could not be restored (a missing preset, an undecodable image, a layer that is
    gone): the rest is restored. Embedded images are written under ``cache_dir`` (the panel
    reads styles from files)."""
    notes: list[str] = []
    if not isinstance(styles, dict) or "a" not in styles:
        return None, notes
    seed = styles.get("seed")
    seed = seed if isinstance(seed, int) and 0 <= seed <= SEED_MAX else 0
    a = _source_from_project(styles.get("a"), images, cache_dir, notes, "style A") or StyleSource.seed(seed)
    b = _source_from_project(styles.get("b"), images, cache_dir, notes, "style B") if styles.get("b") else None
    blend = styles.get("blend")
    blend = max(0, min(100, blend)) if isinstance(blend, int) else 0
    regions = []
    for i, r in enumerate(styles.get("regions") or [] if isinstance(styles.get("regions"), list) else []):
        t = r.get("target") if isinstance(r, dict) else None
        if not isinstance(t, dict):
            notes.append(f"region style {i + 1}: no target")
            continue
        if isinstance(t.get("layer"), int):
            idx, name = t["layer"], str(t.get("name", ""))
            if 0 < idx < len(layer_keys) and (not name or layer_names[idx] == name):
                target, tname = LayerTarget(layer_keys[idx]), layer_names[idx]
            elif name in layer_names[1:]:
                j = layer_names.index(name, 1)
                target, tname = LayerTarget(layer_keys[j]), name
            else:
                notes.append(f"region style {i + 1}: its layer {name[:40]!r} is not in the project")
                continue
        elif isinstance(t.get("label"), int):
            target, tname = int(t["label"]), ""
        else:
            notes.append(f"region style {i + 1}: no target")
            continue
        src = _source_from_project(r.get("style"), images, cache_dir, notes, f"region style {i + 1}")
        if src is not None:
            regions.append(RegionEntry(target, src, tname))
    return StyleLook(a, b, blend if b is not None else 0, seed, tuple(regions)), notes


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


class StylePanel(QWidget):
    style_changed = Signal(object)  # StyleSpec
    recent_styles_changed = Signal(list)  # list[str] of image paths, most recent first

    RECENT_MAX = 8

    def __init__(self, service: PreviewService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._info: ModelInfo | None = None
        self._label_source: Callable[[], np.ndarray] | None = None
        self._layer_source: Callable[[], list[LayerState]] | None = None
        self._layer_sig: tuple = ()  # the layer regions' states last emitted
        self._rng = random.Random()
        self._recent: list[str] = []
        self._a = StyleSource.seed(0)
        self._b: StyleSource | None = None
        self._z: dict[tuple, object] = {}  # (kind, key) -> z tensor for the current model
        self._asked: set[tuple] = set()
        self._token_tag = f"style-panel-{id(self)}"
        self._var_id: int | None = None
        self._var_seeds: list[int] = []
        self.last_open_dir = ""
        self.setAcceptDrops(True)
        # paint the theme's background (a plain QWidget subclass would show its parent's, e.g. a splitter's)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

        title = QLabel("Style")
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        self.current_label = QLabel("")
        self.current_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(self.current_label, 1)
        self.reason_label = QLabel(NO_MODEL)
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: #e0b050;")

        # thumbnails: presets + recent images
        self._thumb_row = QWidget()
        self._thumb_layout = QHBoxLayout(self._thumb_row)
        self._thumb_layout.setContentsMargins(0, 0, 0, 0)
        self._thumb_layout.setSpacing(4)
        self._thumb_layout.addStretch(1)
        self.thumb_scroll = QScrollArea()
        self.thumb_scroll.setWidget(self._thumb_row)
        self.thumb_scroll.setWidgetResizable(True)
        self.thumb_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.thumb_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thumb_scroll.setFixedHeight(56 + 16)
        self._preset_thumbs: list[StyleThumb] = []
        self._recent_sep = QLabel("recent:")
        self._recent_sep.setEnabled(False)
        self._recent_thumbs: list[StyleThumb] = []

        self.open_button = QPushButton("Open style image…")
        self.open_button.setToolTip("Use the look of a photo (you can also drop image files on this panel)")
        self.open_button.clicked.connect(self.open_dialog)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("A new random style (a new seed)")
        self.random_button.clicked.connect(self.random_style)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, SEED_MAX)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("The random style's seed: the same seed gives the same style")
        self.seed_spin.setMinimumWidth(90)
        self.seed_spin.valueChanged.connect(self._seed_edited)
        row1 = QHBoxLayout()
        row1.addWidget(self.open_button)
        row1.addStretch(1)
        row1.addWidget(self.random_button)
        row1.addWidget(QLabel("seed"))
        row1.addWidget(self.seed_spin)

        self.a_label = QLabel("A")
        self.b_label = QLabel("B: right-click a style")
        self.blend_slider = QSlider(Qt.Orientation.Horizontal)
        self.blend_slider.setRange(0, 100)
        self.blend_slider.setValue(0)
        self.blend_slider.setToolTip("Blend from style A (left) to style B (right)")
        self.blend_slider.valueChanged.connect(self._blend_moved)
        self.blend_slider.setMinimumWidth(100)  # a narrow window squeezes the captions, not the slider
        for lab in (self.a_label, self.b_label):  # long style names are cut, the full name is the tool tip
            lab.setMaximumWidth(170)
        self.clear_b_button = QToolButton()
        self.clear_b_button.setText("×")
        self.clear_b_button.setToolTip("Stop blending (forget style B)")
        self.clear_b_button.clicked.connect(self.clear_b)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("blend"))
        row2.addWidget(self.a_label)
        row2.addWidget(self.blend_slider, 1)
        row2.addWidget(self.b_label)
        row2.addWidget(self.clear_b_button)

        self.variations_button = QPushButton("Variations")
        self.variations_button.setToolTip("Render the current map with several random styles; click one to use it")
        self.variations_button.clicked.connect(self.request_variations)
        self.variation_count = QSpinBox()
        self.variation_count.setRange(2, 12)
        self.variation_count.setValue(6)
        self.variation_count.setToolTip("How many variations")
        self.variations_status = QLabel("")
        row3 = QHBoxLayout()
        row3.addWidget(self.variations_button)
        row3.addWidget(self.variation_count)
        row3.addWidget(self.variations_status, 1)
        self._var_grid_widget = QWidget()
        self._var_grid = QGridLayout(self._var_grid_widget)
        self._var_grid.setContentsMargins(0, 0, 0, 0)
        self._var_grid.setSpacing(4)
        self._var_grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._var_thumbs: list[StyleThumb] = []

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
        self.regions_box = QWidget()
        rb = QVBoxLayout(self.regions_box)
        rb.setContentsMargins(0, 4, 0, 0)
        rb.setSpacing(3)
        rb.addLayout(rhead)
        rb.addLayout(radd)
        rb.addWidget(self._region_list)

        self.controls = QWidget()
        c = QVBoxLayout(self.controls)
        c.setContentsMargins(0, 0, 0, 0)
        c.setSpacing(5)
        c.addWidget(self.thumb_scroll)
        c.addLayout(row1)
        c.addLayout(row2)
        c.addLayout(row3)
        c.addWidget(self._var_grid_widget)
        c.addWidget(self.regions_box)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(5)
        lay.addLayout(head)
        lay.addWidget(self.reason_label)
        lay.addWidget(self.controls)
        lay.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        for path in preset_paths():
            self._preset_thumbs.append(self._make_thumb(StyleSource.image(path)))
        self._relayout_thumbs()

        service.style_encoded.connect(self._on_encoded)
        service.style_failed.connect(self._on_style_failed)
        service.variations_ready.connect(self._on_variations)
        service.render_failed.connect(self._on_render_failed)
        self.set_model_info(None)

    # == API ====================================================================================
    def set_model_info(self, info: ModelInfo | None) -> None:
        self._info = info
        self._z.clear()
        self._asked.clear()
        self._var_id = None
        self._clear_variations()
        if info is None:
            reason, controls, images = NO_MODEL, False, False
        elif not info.uses_style:
            reason, controls, images = NO_ENCODER, False, False
        elif not info.has_encoder:
            reason, controls, images = SEEDS_ONLY, True, False
        else:
            reason, controls, images = "", True, True
        self.reason_label.setText(reason)
        self.reason_label.setVisible(bool(reason))
        self.controls.setEnabled(controls)
        self.thumb_scroll.setEnabled(images)
        for t in self._all_thumbs():
            t.setEnabled(images)
        self.open_button.setEnabled(images)
        self.current_label.setText(self._a.name if controls else "")
        images_ok = images
        if not images_ok:
            if self._a.kind == SourceKind.IMAGE:
                self._a = StyleSource.seed(self.seed_spin.value())
                if controls:
                    self._emit()
            if self._b is not None and self._b.kind == SourceKind.IMAGE:
                self._b = None
        elif self._a.kind == SourceKind.IMAGE or (self._b is not None and self._b.kind == SourceKind.IMAGE):
            self._emit()  # the z of an image belongs to one encoder: encode it again
        self._update_roles()
        if self._regions_for_model(info, images) and controls:
            self._emit()  # region styles were dropped or must be encoded again

    def styles_enabled(self) -> bool:
        """True when the model takes a style at all (the controls are usable)."""
        return self.controls.isEnabled()

    def images_enabled(self) -> bool:
        return self.open_button.isEnabled()

    def set_label_source(self, fn: Callable[[], np.ndarray]) -> None:
        self._label_source = fn

    def set_layer_source(self, fn: Callable[[], list[LayerState]] | None) -> None:
        """``fn()`` lists the document's upper layers (bottom first): the layers a region style
        can target. Call :meth:`layers_changed` when they change."""
        self._layer_source = fn
        self.layers_changed()

    def _layer_states(self) -> dict[int, LayerState]:
        return {s.key: s for s in (self._layer_source() if self._layer_source is not None else [])}

    def layers_changed(self, drop_missing: bool = False) -> None:
        """The layers changed (names, visibility, stack): refill the target box, update the
        rows' notes and emit the style when a layer region's state changed. ``drop_missing``
        (a new or opened document): forget regions whose layer is gone."""
        if drop_missing:
            keys = self._layer_states().keys()
            before = len(self._regions)
            self._regions = [e for e in self._regions if e.layer_key is None or e.layer_key in keys]
            if len(self._regions) != before:
                self._rebuild_region_rows()
        self._fill_region_targets()
        states = self._layer_states()
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
            self._emit()

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
        states = self._layer_states()
        for row in self._region_rows:
            row.set_note(self._layer_note(row.entry, states) if row.entry.layer_key is not None else "")

    def render_spec(self, spec: StyleSpec) -> StyleSpec:
        """``spec`` (the style last emitted) with the masks of layer regions as the layers are
        now (hidden, deleted or empty layers left out); ``spec`` itself without layer regions
        or while a style is still being encoded."""
        if not any(e.layer_key is not None for e in self._regions):
            return spec
        now = self._spec_now()
        return spec if now is None else now

    def recent_styles(self) -> list[str]:
        return list(self._recent)

    def set_recent_styles(self, paths: list[str] | None) -> None:
        seen: list[str] = []
        for p in paths or []:
            p = str(p)
            if p not in seen and Path(p).is_file():
                seen.append(p)
        self._recent = seen[: self.RECENT_MAX]
        for t in self._recent_thumbs:
            t.hide()
            t.deleteLater()
        self._recent_thumbs = [self._make_thumb(StyleSource.image(p)) for p in self._recent]
        self._relayout_thumbs()

    def current_source(self) -> StyleSource:
        return self._a

    def blend_source(self) -> StyleSource | None:
        return self._b

    def current_look(self) -> StyleLook:
        """The look in use, to come back to with :meth:`apply_look`."""
        return StyleLook(self._a, self._b, self.blend_slider.value() if self._b is not None else 0,
                         self.seed_spin.value(), self._look_regions())

    def apply_look(self, look: StyleLook) -> bool:
        """Return to ``look`` (style A, B and the blend, the seed box, region styles); the
        style is emitted once, so the render follows. False (and a note in the panel) when
        it needs style images and the model has no encoder, or an image file is gone."""
        if not self.styles_enabled():
            return False
        for src in (look.a, look.b):
            if src is not None and src.kind == SourceKind.IMAGE:
                if not self.images_enabled():
                    self.current_label.setText("this model cannot use style images")
                    return False
                if not Path(str(src.key)).is_file():
                    self.current_label.setText(f"style image not found: {Path(str(src.key)).name}")
                    return False
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(int(look.seed))
        self.seed_spin.blockSignals(False)
        self._b = look.b if look.b != look.a else None
        self.blend_slider.blockSignals(True)
        self.blend_slider.setValue(int(look.blend) if self._b is not None else 0)
        self.blend_slider.blockSignals(False)
        self._apply_look_regions(look.regions)
        self.pick(look.a)  # updates the thumbnails' roles and emits the style
        return True

    def _look_regions(self) -> tuple:
        """The region styles as a hashable value for :class:`StyleLook`."""
        return tuple(self._regions)

    def _apply_look_regions(self, regions: tuple) -> None:
        """Restore the region styles of a look (counterpart of :meth:`_look_regions`); the
        caller emits the style."""
        ok = [e for e in regions if isinstance(e, RegionEntry) and self._region_allowed(e)]
        ls = self._info.label_set if self._info is not None else None
        states = self._layer_states()
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
        if not self.styles_enabled():
            return False
        if isinstance(target, LayerTarget):
            st = self._layer_states().get(target.key)
            if st is None:
                self.current_label.setText("region style: that layer is not in the document (only upper layers)")
                return False
            entry = RegionEntry(target, source, st.name)
            self._regions = [e for e in self._regions if e.layer_key != target.key]
        elif isinstance(target, np.ndarray):
            if target.ndim != 2 or not target.any():
                self.current_label.setText("region style: the mask is empty")
                return False
            entry = RegionEntry(target.copy(), source, name or "painted region")
        else:
            lid = int(target)
            ls = self._info.label_set if self._info is not None else None
            if ls is not None and lid not in ls.ids:
                self.current_label.setText(f"region style: label {lid} is not in '{ls.name}'")
                return False
            entry = RegionEntry(lid, source, name or (ls.name_of(lid) if ls is not None else f"id {lid}"))
            self._regions = [e for e in self._regions if e.label != lid]
        if not self._region_allowed(entry):
            self.current_label.setText("this model cannot use style images: pick a seed for the region")
            return False
        self._regions.append(entry)
        self._rebuild_region_rows()
        self._emit()
        return True

    def remove_region_style(self, entry: RegionEntry | int) -> None:
        if isinstance(entry, int):
            entry = self._regions[entry]
        if entry not in self._regions:
            return
        self._regions = [e for e in self._regions if e is not entry]
        self._rebuild_region_rows()
        self._emit()

    def clear_region_styles(self) -> None:
        if self._regions:
            self._regions = []
            self._rebuild_region_rows()
            self._emit()

    def region_rows(self) -> list[RegionRow]:
        return list(self._region_rows)

    def chosen_region_source(self) -> StyleSource | None:
        """The style chosen in the Regions section's style box (a preset, image or seed)."""
        return self._chosen_region_source()

    def style_layer(self, key: int) -> bool:
        """Give layer ``key`` a region style: the one chosen in the Regions section's style
        box; the target box then shows the layer (pick another style and Add to change it)."""
        src = self._chosen_region_source() or StyleSource.seed(self.region_seed_spin.value())
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

    def current_style(self) -> StyleSpec:
        """The style as last chosen (for a seed this is exact; image styles need their z)."""
        if self._a.kind == SourceKind.SEED and (self._b is None or self._t() == 0) and not self._regions:
            return StyleSpec(seed=int(self._a.key), name=self._a.name)
        spec = self._spec_now()
        return spec if spec is not None else StyleSpec(seed=self.seed_spin.value())

    def thumbs(self) -> list[StyleThumb]:
        return self._all_thumbs()

    def variation_thumbs(self) -> list[StyleThumb]:
        return list(self._var_thumbs)

    def pick(self, source: StyleSource) -> None:
        """Use ``source`` as the style (A)."""
        self._a = source
        if source.kind == SourceKind.SEED:
            self.seed_spin.blockSignals(True)
            self.seed_spin.setValue(int(source.key))
            self.seed_spin.blockSignals(False)
        if self._b == source:
            self._b = None
        self._update_roles()
        self._emit()

    def pick_b(self, source: StyleSource) -> None:
        """Blend towards ``source`` (B)."""
        if source == self._a:
            return
        self._b = source
        self._update_roles()
        if self._t() > 0:
            self._emit()

    def clear_b(self) -> None:
        if self._b is None:
            return
        self._b = None
        blended = self._t() > 0
        self.blend_slider.blockSignals(True)
        self.blend_slider.setValue(0)  # nothing to blend towards: the slider goes back to A
        self.blend_slider.blockSignals(False)
        self._update_roles()
        if blended:
            self._emit()

    def random_style(self) -> int:
        seed = self._rng.randrange(100000)
        self.pick(StyleSource.seed(seed))
        return seed

    def open_image(self, path: str | Path) -> bool:
        """Add an image file as a recent style and use it."""
        path = str(Path(path))
        if not self.images_enabled():
            return False
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES or not Path(path).is_file():
            self.current_label.setText(f"not an image file: {Path(path).name}")
            return False
        if QImage(path).isNull():
            self.current_label.setText(f"could not read {Path(path).name}")
            return False
        self.set_recent_styles([path] + [p for p in self._recent if p != path])
        self.recent_styles_changed.emit(self.recent_styles())
        self.pick(StyleSource.image(path))
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open style image", self.last_open_dir,
            "Images (" + " ".join("*" + s for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)")
        if path:
            self.last_open_dir = str(Path(path).parent)
            self.open_image(path)

    def request_variations(self) -> int | None:
        if not self.styles_enabled():
            return None
        label = self._label_source() if self._label_source is not None else None
        if label is None:
            self.variations_status.setText("no label map to render")
            return None
        k = self.variation_count.value()
        seeds = [self._rng.randrange(100000) for _ in range(k)]
        self._clear_variations()
        self._var_seeds = seeds
        for i, s in enumerate(seeds):
            t = self._make_thumb(StyleSource.seed(s), caption=str(s), image=None, size=64)
            self._var_grid.addWidget(t, i // 6, i % 6)
            self._var_thumbs.append(t)
        self.variations_status.setText(f"rendering {k} variations…")
        self._var_id = self.service.request_variations(label, seeds)
        return self._var_id

    # == internals ==============================================================================
    def _t(self) -> float:
        return self.blend_slider.value() / 100.0

    def _all_thumbs(self) -> list[StyleThumb]:
        return self._preset_thumbs + self._recent_thumbs + self._var_thumbs

    def _make_thumb(self, source: StyleSource, caption: str = "", image: QImage | None = None,
                    size: int = 56) -> StyleThumb:
        if image is None and source.kind == SourceKind.IMAGE:
            img = QImage(str(source.key))
            image = img.scaled(128, 128, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                               Qt.TransformationMode.SmoothTransformation) if not img.isNull() else None
        t = StyleThumb(source, image, caption, size)
        t.picked.connect(self.pick)
        t.picked_b.connect(self.pick_b)
        t.setEnabled(source.kind == SourceKind.SEED or self.images_enabled())
        return t

    def _relayout_thumbs(self) -> None:
        lay = self._thumb_layout
        while lay.count():
            lay.takeAt(0)
        for t in self._preset_thumbs:
            lay.addWidget(t)
        self._recent_sep.setVisible(bool(self._recent_thumbs))
        lay.addWidget(self._recent_sep)
        if self._recent_thumbs:
            for t in self._recent_thumbs:
                lay.addWidget(t)
        lay.addStretch(1)
        self._update_roles()
        self._fill_region_styles()  # the region style box offers the same images

    def clear_variations(self) -> None:
        """Forget the variation thumbnails (they show another map: File > New, Open)."""
        self._clear_variations()

    def _clear_variations(self) -> None:
        for t in self._var_thumbs:
            self._var_grid.removeWidget(t)
            t.hide()
            t.deleteLater()
        self._var_thumbs = []
        self._var_seeds = []
        self.variations_status.setText("")

    def _update_roles(self) -> None:
        for t in self._all_thumbs():
            t.set_role("A" if t.source == self._a else "B" if t.source == self._b else "")
        self.a_label.setText(f"A: {self._a.name}")
        self.b_label.setText(f"B: {self._b.name}" if self._b is not None else "B: right-click a style")
        self.a_label.setToolTip(self.a_label.text())
        self.b_label.setToolTip(self.b_label.text())
        self.blend_slider.setEnabled(self._b is not None)
        self.clear_b_button.setEnabled(self._b is not None)

    def _key(self, s: StyleSource) -> tuple:
        return (s.kind, s.key)

    def _need_z(self, s: StyleSource) -> object | None:
        """The cached z of ``s``, or None after asking the service for it."""
        k = self._key(s)
        if k in self._z:
            return self._z[k]
        if k not in self._asked:
            self._asked.add(k)
            token = (self._token_tag, k)
            if s.kind == SourceKind.SEED:
                self.service.seed_to_z(int(s.key), token)
            else:
                rgb = _read_style_rgb(str(s.key))
                if rgb is None:
                    self._asked.discard(k)
                    self.current_label.setText(f"could not read {Path(str(s.key)).name}")
                    return None
                self.service.encode_style(rgb, token)
        return None

    def _spec_now(self) -> StyleSpec | None:
        """The spec for the current A/B/t and the region styles, or None while a z is still
        being computed."""
        spec = self._global_spec()
        if spec is None or not self._regions:
            return spec
        regions = []
        states = None
        for e in self._regions:
            if e.source.kind == SourceKind.SEED:
                z, seed = None, int(e.source.key)
            else:
                z, seed = self._need_z(e.source), None
                if z is None:
                    if self._key(e.source) in self._asked:
                        return None  # still encoding
                    continue  # unreadable image: said in the panel, left out
            if e.layer_key is not None:
                if states is None:
                    states = self._layer_states()
                st = states.get(e.layer_key)
                if st is None or not st.visible or st.mask is None or not st.mask.any():
                    continue  # hidden, deleted or empty: left out (the row says so)
                mask = st.mask.copy()  # as the layer is now; the worker keeps it
            else:
                mask = e.target if isinstance(e.target, np.ndarray) else None
            regions.append(RegionSpec(label=e.label, mask=mask, z=z, seed=seed, name=f"{e.name}: {e.source.name}"))
        return replace(spec, regions=tuple(regions))

    def _global_spec(self) -> StyleSpec | None:
        """The spec for the current A/B/t, or None while a z is still being computed."""
        a, b, t = self._a, self._b, self._t()
        if b is None or t <= 0:
            one, t_one = a, None
        elif t >= 1:
            one, t_one = b, None
        else:
            one, t_one = None, t
        if one is not None:
            if one.kind == SourceKind.SEED:
                return StyleSpec(seed=int(one.key), name=one.name)
            z = self._need_z(one)
            return None if z is None else StyleSpec(z=z, name=one.name)
        za, zb = self._need_z(a), self._need_z(b)
        if za is None or zb is None:
            return None
        z = za * (1.0 - t_one) + zb * t_one
        return StyleSpec(z=z, name=f"{a.name} → {b.name} {round(t_one * 100)}%")

    def _emit(self) -> None:
        if not self.styles_enabled():
            return
        spec = self._spec_now()
        if spec is None:
            self.current_label.setText("encoding style…")
            return  # emitted when the z arrives (_on_encoded)
        self.current_label.setText(spec.describe())
        self.style_changed.emit(spec)

    def _seed_edited(self, value: int) -> None:
        self.pick(StyleSource.seed(value))

    def _blend_moved(self, _v: int) -> None:
        if self._b is not None:
            self._emit()

    def _needed_keys(self) -> set[tuple]:
        keys = {self._key(self._a)}
        if self._b is not None:
            keys.add(self._key(self._b))
        keys.update(self._key(e.source) for e in self._regions)
        return keys

    # -- region styles (internals) ---------------------------------------------------------------
    def _region_allowed(self, e: RegionEntry) -> bool:
        if e.source.kind == SourceKind.IMAGE and not self.images_enabled():
            return False
        ls = self._info.label_set if self._info is not None else None
        return e.label is None or ls is None or e.label in ls.ids

    def _regions_for_model(self, info: ModelInfo | None, images: bool) -> bool:
        """Fill the label and style boxes for ``info``; drop region styles it cannot use.
        True when region styles remain or were dropped (the style must be emitted again)."""
        self._fill_region_targets(palette=True)
        self._fill_region_styles()
        before = len(self._regions)
        self._regions = [e for e in self._regions if self._region_allowed(e)]
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
        if self._info is not None:
            for lab in self._info.label_set:
                combo.addItem(QIcon(_swatch(lab.color)), lab.name, int(lab.id))
        for st in self._layer_states().values():
            combo.addItem(f"layer: {st.name}", LayerTarget(st.key))
        if keep is not None and self._find_target(keep) >= 0:
            combo.setCurrentIndex(self._find_target(keep))
        if typed is not None:
            combo.setEditText(typed)
        combo.blockSignals(False)

    def _fill_region_styles(self) -> None:
        combo = self.region_style_combo
        keep = self._region_style_choice
        combo.blockSignals(True)
        combo.clear()
        if self.images_enabled():
            for t in self._preset_thumbs + self._recent_thumbs:
                icon = QIcon(QPixmap.fromImage(t._image)) if t._image is not None else QIcon()
                combo.addItem(icon, t.source.name, t.source)
        combo.addItem("seed", "seed")
        if self.images_enabled():
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
            self, "Style image for a region", self.last_open_dir,
            "Images (" + " ".join("*" + s for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)")
        if path:
            self.last_open_dir = str(Path(path).parent)
            self.set_region_style_image(path)
        else:
            self.region_style_combo.setCurrentIndex(0)

    def set_region_style_image(self, path: str | Path) -> bool:
        """Put an image file in the region style box (selected)."""
        path = str(Path(path))
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES or QImage(path).isNull():
            self.current_label.setText(f"could not read {Path(path).name}")
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

    def _chosen_region_source(self) -> StyleSource | None:
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
        lid, src = self._chosen_region_label(), self._chosen_region_source()
        if lid is None:
            self.current_label.setText(f"region style: no label named {self.region_label_combo.currentText()!r}")
            return
        if src is None:
            self.current_label.setText("region style: pick a style (a preset, an image file or a seed)")
            return
        self.add_region_style(lid, src)

    def _rebuild_region_rows(self) -> None:
        for r in self._region_rows:
            self._region_list_layout.removeWidget(r)
            r.hide()
            r.deleteLater()
        ls = self._info.label_set if self._info is not None else None
        self._region_rows = []
        for e in self._regions:
            color = None
            if e.label is not None and ls is not None and e.label in ls.ids:
                color = ls.by_id(e.label).color
            icon = None
            if e.source.kind == SourceKind.IMAGE:
                icon = next((t._image for t in self._preset_thumbs + self._recent_thumbs if t.source == e.source), None)
                icon = icon if icon is not None else QImage(str(e.source.key))
            row = RegionRow(e, color, icon)
            row.removed.connect(self.remove_region_style)
            self._region_list_layout.addWidget(row)
            self._region_rows.append(row)
        self._update_region_notes()
        n = len(self._regions)
        self.regions_hint.setText("a style for one label's area" if not n else
                                  f"{n} region style{'s' if n > 1 else ''} over the style above")

    def _on_encoded(self, token, z) -> None:
        if not (isinstance(token, tuple) and len(token) == 2 and token[0] == self._token_tag):
            return
        k = token[1]
        if k not in self._asked:
            return  # asked for under an earlier model
        self._z[k] = z
        if k in self._needed_keys():
            self._emit()

    def _on_style_failed(self, token, message: str) -> None:
        if isinstance(token, tuple) and len(token) == 2 and token[0] == self._token_tag:
            self._asked.discard(token[1])
            self.current_label.setText(f"style failed: {message}")

    def _on_variations(self, request_id: int, results) -> None:
        if request_id != self._var_id:
            return
        by_seed = {int(s): img for s, img in results}
        for t in self._var_thumbs:
            img = by_seed.get(int(t.source.key))
            if img is not None:
                t.set_image(rgb_to_qimage(img))
        self.variations_status.setText("click one to use its style · right click: blend towards it")

    def _on_render_failed(self, request_id: int, message: str) -> None:
        if request_id == self._var_id:
            self.variations_status.setText(message)

    # drag and drop of image files
    def _dropped_images(self, mime) -> list[str]:
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls()
                if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES]

    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if self.images_enabled() and self._dropped_images(e.mimeData()):
            e.acceptProposedAction()
        else:
            e.ignore()

    def dropEvent(self, e) -> None:  # noqa: N802
        paths = self._dropped_images(e.mimeData())
        if not paths or not self.images_enabled():
            e.ignore()
            return
        for p in reversed(paths[1:]):
            if Path(p).is_file():
                self.set_recent_styles([p] + [q for q in self._recent if q != p])
        self.open_image(paths[0])
        e.acceptProposedAction()

    def sizeHint(self) -> QSize:
        return QSize(420, 260)
