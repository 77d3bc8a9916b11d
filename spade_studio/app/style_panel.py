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
The section's widget and state are :class:`spade_studio.app.region_styles.RegionStyles`
(the panel's ``regions_box``; its region methods delegate there).

Looks (:class:`StyleLook`) and their form in projects live in :mod:`spade_studio.app.style_look`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
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
from .region_styles import (  # noqa: F401 - LayerState, RegionRow, SEED_MAX: part of the panel's API
    SEED_MAX,
    LayerState,
    LayerTarget,
    RegionEntry,
    RegionRow,
    RegionStyles,
)
from .style_look import StyleLook, look_from_project, look_to_project  # noqa: F401 - part of the panel's API
from .style_thumbs import IMAGE_SUFFIXES, StyleSource, StyleThumb, _read_style_rgb, preset_paths  # noqa: F401 - StyleSource is part of the panel's API

NO_ENCODER = "This model has no style encoder (official NVIDIA models are label-map only)."
SEEDS_ONLY = ("This model has no style encoder: style images cannot be used, "
              "but random styles (seeds) still work.")
NO_MODEL = "No model loaded."


class StylePanel(QWidget):
    style_changed = Signal(object)  # StyleSpec
    recent_styles_changed = Signal(list)  # list[str] of image paths, most recent first

    RECENT_MAX = 8

    def __init__(self, service: PreviewService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._info: ModelInfo | None = None
        self._label_source: Callable[[], np.ndarray] | None = None
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
        self.regions_box = RegionStyles(
            label_set=lambda: self._info.label_set if self._info is not None else None,
            styles_enabled=self.styles_enabled, images_enabled=self.images_enabled,
            note=self.current_label.setText, changed=self._emit,
            thumbs=lambda: self._preset_thumbs + self._recent_thumbs,
            open_dir=lambda: self.last_open_dir, set_open_dir=lambda d: setattr(self, "last_open_dir", d))
        self.regions_hint = self.regions_box.regions_hint
        self.region_label_combo = self.regions_box.region_label_combo
        self.region_style_combo = self.regions_box.region_style_combo
        self.region_seed_spin = self.regions_box.region_seed_spin
        self.region_add_button = self.regions_box.region_add_button

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
        if self.regions_box.for_model() and controls:
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
        self.regions_box.set_layer_source(fn)

    def layers_changed(self, drop_missing: bool = False) -> None:
        """The layers changed (names, visibility, stack): refill the target box, update the
        rows' notes and emit the style when a layer region's state changed. ``drop_missing``
        (a new or opened document): forget regions whose layer is gone."""
        self.regions_box.layers_changed(drop_missing)

    def render_spec(self, spec: StyleSpec) -> StyleSpec:
        """``spec`` (the style last emitted) with the masks of layer regions as the layers are
        now (hidden, deleted or empty layers left out); ``spec`` itself without layer regions
        or while a style is still being encoded."""
        if not any(e.layer_key is not None for e in self.regions_box.region_styles()):
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
        return self.regions_box.look_regions()

    def _apply_look_regions(self, regions: tuple) -> None:
        """Restore the region styles of a look (counterpart of :meth:`_look_regions`); the
        caller emits the style."""
        self.regions_box.apply_look_regions(regions)

    # -- region styles (the Regions section: :class:`.region_styles.RegionStyles`) ---------------
    def region_styles(self) -> list[RegionEntry]:
        """The region styles, bottom first (a later one lies over an earlier one)."""
        return self.regions_box.region_styles()

    def add_region_style(self, target: int | np.ndarray, source: StyleSource, name: str | None = None) -> bool:
        """Give ``target`` (a label id, a mask ``(H, W)`` bool/float 0..1, or a
        :class:`LayerTarget`: the layer's mask at render time) the style ``source``. A label or
        layer that already has a style gets the new one. False (and a
        note in the panel) when the model takes no style, or no images and ``source`` is one."""
        return self.regions_box.add_region_style(target, source, name)

    def remove_region_style(self, entry: RegionEntry | int) -> None:
        self.regions_box.remove_region_style(entry)

    def clear_region_styles(self) -> None:
        self.regions_box.clear_region_styles()

    def region_rows(self) -> list[RegionRow]:
        return self.regions_box.region_rows()

    def chosen_region_source(self) -> StyleSource | None:
        """The style chosen in the Regions section's style box (a preset, image or seed)."""
        return self.regions_box.chosen_region_source()

    def style_layer(self, key: int) -> bool:
        """Give layer ``key`` a region style: the one chosen in the Regions section's style
        box; the target box then shows the layer (pick another style and Add to change it)."""
        return self.regions_box.style_layer(key)

    def set_palette_label(self, label_id: int) -> None:
        """The palette's current label: the label the next region style is for (unless the
        user is typing in the label box)."""
        self.regions_box.set_palette_label(label_id)

    def set_region_style_image(self, path: str | Path) -> bool:
        """Put an image file in the region style box (selected)."""
        return self.regions_box.set_region_style_image(path)

    def current_style(self) -> StyleSpec:
        """The style as last chosen (for a seed this is exact; image styles need their z)."""
        if self._a.kind == SourceKind.SEED and (self._b is None or self._t() == 0) and not self.regions_box.region_styles():
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
        self.regions_box.fill_region_styles()  # the region style box offers the same images

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
        entries = self.regions_box.region_styles()
        if spec is None or not entries:
            return spec
        regions = []
        states = None
        for e in entries:
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
                    states = self.regions_box.layer_states()
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
        keys.update(self._key(e.source) for e in self.regions_box.region_styles())
        return keys

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
