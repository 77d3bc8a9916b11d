"""The document: the label layers being painted, their label set, file and undo history.

A document is a stack of label layers (:class:`~spade_studio.labelmap.Layer`, bottom first).
The bottom layer ("Background") is filled everywhere and stays at the bottom (it cannot be
moved or deleted, like a paint program's background layer); the layers above it have a
mask (True where they have a label, elsewhere "empty"). :attr:`label_map` is the flattened
map the generator sees: the topmost visible label of each pixel (the bottom layer hidden:
the label set's first id). It is cached and updated only inside the rectangle a change
touches; a one-layer document's map *is* its bottom layer, so it behaves exactly as before
layers existed.

The map is changed only through the document: one-shot operations (:meth:`fill`,
:meth:`line`, :meth:`rect`, :meth:`clear`), live strokes (:meth:`begin_stroke`,
:meth:`stroke_to`, :meth:`end_stroke`) or :meth:`push_delta`, all on the *active* layer.
On an upper layer the brush sets pixels (and marks them filled), the eraser
(``begin_stroke(erase=True)``) makes them empty, and :meth:`fill` floods the region of the
*flattened* map under the click (what the user sees; the region is then painted on the
active layer). On the bottom layer the eraser paints the background label, as before. A
locked or hidden layer refuses painting and says why with :attr:`refused`.

Every change is one :class:`~spade_studio.app.commands.DeltaCommand` on :attr:`undo_stack`:
paint steps hold a delta of the layer they name (never a copy of it); layer operations
(add, delete, move, rename, duplicate, merge down, visibility, opacity, lock) hold what they
remove. Map changes are announced with :attr:`changed` (the map rectangle), display-only
changes (opacity) with :attr:`display_changed`, the stack with :attr:`layers_changed`.
Replacing the whole document (new, open, remap, :meth:`replace_map` -- used by
:mod:`~spade_studio.app.autosave` to recover) clears the history and emits :attr:`reset`.

``dirty`` is the undo stack's clean state: saving marks the current step clean, undoing
back to it makes the document clean again. ``.ora`` paths open and save layered projects
(:mod:`spade_studio.project`); a PNG holds the flattened map. The layer operations and the
project conversion live in :mod:`~spade_studio.app.document_layers` (mixins of the document).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QUndoStack

from spade_studio import labelmap as lm
from spade_studio.imageio import LABELSET_CHUNK, ImageReadError, read_label_map, write_label_map
from spade_studio.labelmap import Delta, Layer, MaskedDelta
from spade_studio.labels import LabelError, LabelSet, builtin_label_set_names, load_label_set

from .commands import DeltaCommand, history_bytes, trim_history
from .document_layers import (  # noqa: F401 - PROJECT_SUFFIX, is_project_path re-exported
    PROJECT_SUFFIX,
    LayerOps,
    ProjectConversion,
    _check_in_set,
    _dtype_for,
    is_project_path,
)
from .document_shapes import ShapeTools

BACKGROUND_NAME = "Background"


def _peek_label_set_name(path: Path) -> str | None:
    """The label-set text chunk of a PNG, without decoding the pixels (None if absent)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            name = img.info.get(LABELSET_CHUNK)
    except Exception:  # noqa: BLE001 - the real read reports the error properly
        return None
    return name if isinstance(name, str) and name.strip() else None


# -- undo payloads (each has nbytes(); DeltaCommand calls apply(payload, undo)) -------------------
class _PaintStep:
    """A paint step on the layer with ``key``: a Delta (filled layer) or MaskedDelta."""

    def __init__(self, key: int, change: Delta | MaskedDelta):
        self.key = key
        self.change = change

    def nbytes(self) -> int:
        return self.change.nbytes()


class Document(ShapeTools, LayerOps, ProjectConversion, QObject):
    changed = Signal(QRect)  # flattened map region changed (map pixel coords)
    display_changed = Signal(QRect)  # only the look changed (layer opacity): the canvas repaints
    layers_changed = Signal()  # the stack, a layer's name/visibility/opacity/lock or the active layer
    refused = Signal(str)  # a paint operation was refused (locked or hidden layer): why
    reset = Signal()  # whole map / size / label set replaced
    dirty_changed = Signal(bool)
    path_changed = Signal(object)  # Path | None
    label_set_changed = Signal(object)  # LabelSet
    reference_changed = Signal()  # reference photo set or removed
    stroke_cancelled = Signal()  # a live stroke was rolled back (undo/redo/reset mid-stroke)
    paint_options_changed = Signal()  # only_over or mirror changed

    DEFAULT_UNDO_BYTES = 256 * 1024 * 1024

    def __init__(
        self,
        label_set: LabelSet,
        width: int = 256,
        height: int = 256,
        fill_label: int = 0,
        parent: QObject | None = None,
        undo_byte_limit: int = DEFAULT_UNDO_BYTES,
    ):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_byte_limit = int(undo_byte_limit)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._label_set = label_set
        self._next_key = 1
        self._layers: list[Layer] = [self._new_layer(BACKGROUND_NAME, self._blank(width, height, fill_label, label_set))]
        self._active_key = self._layers[0].key
        self._map = self._layers[0].ids
        self._path: Path | None = None
        self._reference: np.ndarray | None = None
        self._live: list[Delta | MaskedDelta] | None = None  # changes of the stroke in progress
        self._live_key: int | None = None  # the layer the stroke paints (None: refused)
        self._live_erase = False
        self._only_over: int | None = None  # paint only over this label (None: over anything)
        self._mirror = False  # also paint the mirror image about the vertical centre line
        # What a project (.ora) holds that the editor has no other place for: kept so that
        # saving the project again does not drop it.
        self.project_styles: dict = {}
        self.project_style_images: dict = {}
        self.project_render: np.ndarray | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def label_map(self) -> np.ndarray:
        """The flattened map, as a read-only view (change it through the document)."""
        view = self._map.view()
        view.flags.writeable = False
        return view

    @property
    def label_set(self) -> LabelSet:
        return self._label_set

    @property
    def path(self) -> Path | None:
        return self._path

    @path.setter
    def path(self, path: str | os.PathLike | None) -> None:
        path = None if path is None else Path(path)
        if path != self._path:
            self._path = path
            self.path_changed.emit(path)

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def reference(self) -> np.ndarray | None:
        return self._reference

    @property
    def width(self) -> int:
        return int(self._map.shape[1])

    @property
    def height(self) -> int:
        return int(self._map.shape[0])

    def snapshot(self) -> np.ndarray:
        """A copy of the flattened map (for the renderer; safe to keep and hand to a thread)."""
        return self._map.copy()

    def label_at(self, x: int, y: int) -> int:
        """The id at map pixel ``(x, y)`` of the flattened map, or -1 outside the map."""
        if 0 <= x < self.width and 0 <= y < self.height:
            return int(self._map[y, x])
        return -1

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    @staticmethod
    def _blank(width: int, height: int, fill_label: int, label_set: LabelSet) -> np.ndarray:
        if label_set.ids and fill_label not in label_set.ids:
            raise LabelError(f"fill label {fill_label} is not in the {label_set.name!r} label set")
        return lm.new_label_map(width, height, fill_label, max(label_set.ids, default=0))

    # -- layers: state -----------------------------------------------------------------------
    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers, bottom first (read them; change them through the document)."""
        return tuple(self._layers)

    @property
    def layer_count(self) -> int:
        return len(self._layers)

    @property
    def active_index(self) -> int:
        for i, layer in enumerate(self._layers):
            if layer.key == self._active_key:
                return i
        return 0

    @property
    def active_layer(self) -> Layer:
        return self._layers[self.active_index]

    def set_active_index(self, index: int) -> None:
        """Paint on layer ``index`` from now on (not an undo step)."""
        key = self._layers[self._index(index)].key
        if key != self._active_key:
            self.cancel_stroke()
            self._active_key = key
            self.layers_changed.emit()

    def display_is_flat(self) -> bool:
        """True when the canvas may show the flattened map as it is: the bottom layer and
        every visible layer fully opaque."""
        return self._layers[0].visible and all(ly.opacity >= 1.0 for ly in self._layers if ly.visible)

    def used_ids(self) -> list[int]:
        """The ids painted on any layer (hidden ones too; an upper layer's empty pixels not)."""
        found: set[int] = set()
        for ly in self._layers:
            found.update(int(i) for i in np.unique(ly.ids if ly.mask is None else ly.ids[ly.mask]))
        return sorted(found)

    def background_label(self) -> int:
        """The id of pixels no visible layer covers (the label set's first id)."""
        ids = self._label_set.ids
        return int(ids[0]) if ids else 0

    def _new_layer(self, name: str, ids: np.ndarray, mask: np.ndarray | None = None) -> Layer:
        layer = Layer(name, ids, mask, key=self._next_key)
        self._next_key += 1
        return layer

    def _layer_by_key(self, key: int) -> Layer:
        for layer in self._layers:
            if layer.key == key:
                return layer
        raise KeyError(f"no layer {key}")

    def _index(self, index: int | None) -> int:
        i = self.active_index if index is None else int(index)
        if not 0 <= i < len(self._layers):
            raise IndexError(f"layer {i} does not exist (the document has {len(self._layers)})")
        return i

    def _full_rect(self) -> QRect:
        return QRect(0, 0, self.width, self.height)

    def _rebuild_flat(self) -> None:
        """Recompute the whole flattened map (after a layer operation)."""
        if len(self._layers) == 1 and self._layers[0].visible:
            self._map = self._layers[0].ids
        else:
            H, W = self._layers[0].ids.shape
            self._map = lm.flatten_box(self._layers, 0, H, 0, W, self.background_label())

    def _refresh(self, y0: int, x0: int, h: int, w: int) -> None:
        """Bring the flattened map up to date inside a box (after a paint change)."""
        if self._map is self._layers[0].ids and len(self._layers) == 1:
            return
        self._map[y0 : y0 + h, x0 : x0 + w] = lm.flatten_box(self._layers, y0, y0 + h, x0, x0 + w,
                                                              self.background_label())

    # -- history -----------------------------------------------------------------------------
    @staticmethod
    def _rect(delta: Delta | MaskedDelta) -> QRect:
        return QRect(delta.x0, delta.y0, delta.width, delta.height)

    @staticmethod
    def _apply_change(layer: Layer, change: Delta | MaskedDelta, undo: bool) -> None:
        if isinstance(change, MaskedDelta):
            lm.apply_masked_delta(layer.ids, layer.mask, change, undo=undo)
        else:
            lm.apply_delta(layer.ids, change, undo=undo)

    def _apply_history(self, payload, undo: bool) -> None:
        """The undo commands' ``apply``: a paint step's old (undo) or new values, or a layer
        operation backwards (undo) or forwards."""
        self.cancel_stroke()
        if isinstance(payload, _PaintStep):
            change = payload.change
            self._apply_change(self._layer_by_key(payload.key), change, undo)
            self._refresh(change.y0, change.x0, change.height, change.width)
            self.changed.emit(self._rect(change))
            return
        was_flat = self._map.copy()
        payload.undo(self) if undo else payload.redo(self)
        self._rebuild_flat()
        self.layers_changed.emit()
        if was_flat.shape == self._map.shape and np.array_equal(was_flat, self._map):
            self.display_changed.emit(self._full_rect())  # visibility of an empty layer, opacity...
        else:
            self.changed.emit(self._full_rect())

    def _push(self, payload, text: str, applied: bool) -> None:
        self.undo_stack.push(DeltaCommand(self._apply_history, payload, text, applied=applied))
        trim_history(self.undo_stack, self.undo_byte_limit)

    def push_delta(self, delta: Delta | None, text: str, applied: bool = False) -> bool:
        """Record ``delta`` (of the active layer's ids) as one undo step; its redo applies it
        (skipped the first time when ``applied``: the layer already holds the new values).
        On an upper layer the changed pixels become filled. False when ``delta`` is None."""
        if delta is None:
            return False
        if delta.old.dtype != self._map.dtype or delta.y0 < 0 or delta.x0 < 0 or (
            delta.y0 + delta.height > self.height or delta.x0 + delta.width > self.width
        ):
            raise ValueError("delta does not fit this document's map")
        layer = self.active_layer
        change: Delta | MaskedDelta = delta
        if layer.mask is not None:
            box = layer.mask[delta.y0 : delta.y0 + delta.height, delta.x0 : delta.x0 + delta.width]
            change = MaskedDelta(delta, box.copy(), box | delta.mask)
        self._push(_PaintStep(layer.key, change), text, applied)
        return True

    def _push_paint(self, layer: Layer, change: Delta | MaskedDelta | None, text: str, applied: bool) -> bool:
        if change is None:
            return False
        self._push(_PaintStep(layer.key, change), self._step_text(text, layer), applied)
        return True

    def _step_text(self, text: str, layer: Layer) -> str:
        """Undo texts name the layer once there is more than one."""
        return text if len(self._layers) == 1 else f"{text} on {layer.name}"

    def history_bytes(self) -> int:
        """Memory held by the undo history (sum of its deltas and removed layers)."""
        return history_bytes(self.undo_stack)

    def _reset_history(self, clean: bool) -> None:
        self.cancel_stroke()
        self.undo_stack.clear()  # leaves the stack clean
        if not clean:
            self.undo_stack.resetClean()

    # -- painting on the active layer (each one-shot operation is one undo step) -------------
    def _check_label(self, label: int) -> int:
        if label not in self._label_set.ids:
            raise LabelError(f"label {label} is not in the {self._label_set.name!r} label set")
        return int(label)

    def _paint_target(self) -> Layer | None:
        """The active layer, or None (and :attr:`refused` says why) when it takes no paint."""
        layer = self.active_layer
        if layer.locked:
            self.refused.emit(f"Layer '{layer.name}' is locked: unlock it to paint on it")
            return None
        if not layer.visible:
            self.refused.emit(f"Layer '{layer.name}' is hidden: show it to paint on it")
            return None
        return layer

    # painting options: every paint operation and live stroke, not clear
    @property
    def only_over(self) -> int | None:
        """Paint only over pixels whose label in the flattened map (what the generator sees)
        is this one; None: over anything."""
        return self._only_over

    @only_over.setter
    def only_over(self, label: int | None) -> None:
        label = None if label is None else int(label)
        if label != self._only_over:
            self._only_over = label
            self.paint_options_changed.emit()

    @property
    def mirror(self) -> bool:
        """Every paint operation also paints its mirror image about the vertical centre line
        (both halves in one undo step)."""
        return self._mirror

    @mirror.setter
    def mirror(self, on: bool) -> None:
        if bool(on) != self._mirror:
            self._mirror = bool(on)
            self.paint_options_changed.emit()

    def _paint_options(self) -> dict:
        """The painting-option keywords of the labelmap paint functions."""
        return {"only_over": self._only_over, "over": self._map, "mirror": self._mirror}

    def _paint_masked(self, layer: Layer, found: tuple[int, int, np.ndarray] | None, label: int | None,
                      apply: bool, options: bool = True) -> MaskedDelta | None:
        if found is not None and options and (self._mirror or self._only_over is not None):
            found = lm.restrict_region(self._map.shape, *found, **self._paint_options())
        if found is None:
            return None
        only_over, mirror = getattr(self, "only_over", None), bool(getattr(self, "mirror", False))
        if only_over is not None or mirror:  # the painting options; only_over: the flattened map's label
            found = lm.restrict_region(self._map.shape, *found, only_over=only_over, over=self._map, mirror=mirror)
            if found is None:
                return None
        y0, x0, region = found
        return lm.paint_masked_region(layer.ids, layer.mask, y0, x0, region, label, apply=apply)

    def _announce(self, change: Delta | MaskedDelta) -> None:
        self._refresh(change.y0, change.x0, change.height, change.width)
        self.changed.emit(self._rect(change))

    def _one_shot(self, layer: Layer, change: Delta | MaskedDelta | None, text: str) -> bool:
        """Record a change computed with ``apply=False``: its first redo applies it."""
        return self._push_paint(layer, change, text, applied=False)

    # -- live strokes: painted as the mouse moves, recorded as one step at the end ---------
    @property
    def stroke_active(self) -> bool:
        return self._live is not None

    def begin_stroke(self, erase: bool = False) -> None:
        """Start a stroke on the active layer; ``erase`` makes an upper layer's pixels empty
        (on the bottom layer the eraser paints the label it is given)."""
        self.cancel_stroke()
        self._live = []
        layer = self._paint_target()
        self._live_key = None if layer is None else layer.key
        self._live_erase = bool(erase)

    def stroke_to(self, points: list[tuple[float, float]], radius: float, label: int) -> None:
        """Paint the brush along ``points`` now (part of the stroke in progress)."""
        if self._live is None:
            self.begin_stroke()
        label = self._check_label(label)
        if self._live_key is None:
            return  # refused at begin_stroke
        layer = self._layer_by_key(self._live_key)
        if layer.mask is None:
            change = lm.paint_stroke(layer.ids, points, radius, label, **self._paint_options())
        else:
            change = self._paint_masked(layer, lm.brush_region(self._map.shape, points, radius),
                                        None if self._live_erase else label, apply=True)
        if change is not None:
            self._live.append(change)
            self._announce(change)

    def end_stroke(self, text: str = "Brush stroke") -> bool:
        """Record the stroke in progress as ONE undo step (False if it changed nothing)."""
        if self._live is None:
            return False
        changes, self._live = self._live, None
        key, self._live_key = self._live_key, None
        if key is None or not changes:
            return False
        layer = self._layer_by_key(key)
        if layer.mask is None:
            merged = lm.merge_deltas(self._map.shape, changes)
        else:
            merged = lm.merge_masked_deltas(self._map.shape, changes)
        return self._push_paint(layer, merged, text, applied=True)

    def cancel_stroke(self) -> None:
        """Roll back the stroke in progress (nothing is recorded)."""
        if self._live is None:
            return
        changes, self._live = self._live, None
        key, self._live_key = self._live_key, None
        if key is not None:
            layer = self._layer_by_key(key)
            for change in reversed(changes):
                self._apply_change(layer, change, undo=True)
                self._announce(change)
        self.stroke_cancelled.emit()

    # -- whole-document changes ---------------------------------------------------------------
    def _replace_layers(self, layers: list[Layer], label_set: LabelSet, path: Path | None, clean: bool) -> None:
        self.cancel_stroke()
        old_set, old_path, was_dirty = self._label_set, self._path, self.dirty
        self._layers = layers
        self._active_key = layers[-1].key
        self._label_set = label_set
        self._path = path
        self._rebuild_flat()
        # Clear the history with the stack's signals blocked (clear() then resetClean() would
        # flash "clean"), then announce the final state once.
        stack = self.undo_stack
        blocked = stack.blockSignals(True)
        try:
            self._reset_history(clean)
        finally:
            stack.blockSignals(blocked)
        stack.indexChanged.emit(0)
        stack.canUndoChanged.emit(False)
        stack.canRedoChanged.emit(False)
        stack.undoTextChanged.emit("")
        stack.redoTextChanged.emit("")
        if was_dirty != (not clean):
            stack.cleanChanged.emit(clean)  # -> dirty_changed
        if self._reference is not None and self._reference.shape[:2] != self._map.shape:
            self._reference = None
            self.reference_changed.emit()
        if label_set != old_set:
            self.label_set_changed.emit(label_set)
        if path != old_path:
            self.path_changed.emit(path)
        self.layers_changed.emit()
        self.reset.emit()

    def _replace(self, ids: np.ndarray, label_set: LabelSet, path: Path | None, clean: bool) -> None:
        layer = self._new_layer(BACKGROUND_NAME, np.ascontiguousarray(ids.astype(_dtype_for(label_set), copy=True)))
        self.project_styles, self.project_style_images, self.project_render = {}, {}, None
        self._replace_layers([layer], label_set, path, clean)

    def new(self, width: int, height: int, label_set: LabelSet, fill_label: int = 0) -> None:
        ids = self._blank(width, height, fill_label, label_set)
        self._replace(ids, label_set, None, clean=True)

    def open(self, path: str | os.PathLike) -> list[str]:
        """Load a label map: an index PNG (8/16-bit or palette), a colour-coded PNG, or a
        layered ``.ora`` project (:meth:`open_project`).

        Colour PNGs are decoded through the label set named in the file's text chunk when it
        is a built-in one, else through the current label set. Returns notes for the user.
        Raises :class:`ImageReadError` (unreadable file) or :class:`LabelError` (colours or
        ids that do not fit the label set); the current document is then left untouched."""
        path = Path(path)
        if is_project_path(path):
            return self.open_project(path)
        notes: list[str] = []
        label_set = self._label_set
        named = _peek_label_set_name(path) if path.is_file() else None
        if named is not None:
            if named == label_set.name:
                pass
            elif named.lower() in builtin_label_set_names():
                label_set = load_label_set(named)
                notes.append(f"label set {label_set.name!r} (named in the file)")
            else:
                notes.append(
                    f"the file names label set {named!r}, which is not built in; "
                    f"read it with the current {label_set.name!r} label set"
                )
        got = read_label_map(path, label_set)
        if got.from_colors:
            notes.append(f"decoded colours through the {label_set.name} palette")
        ids = got.ids
        if ids.ndim != 2 or ids.size == 0:
            raise ImageReadError(f"{path}: not a 2-D label map")
        _check_in_set(ids, label_set, str(path))
        self._replace(ids, label_set, path, clean=True)
        return notes

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the document atomically: ``.ora`` as a layered project, anything else as an
        index PNG of the flattened map (palette + label-set chunk). Marks the document clean,
        except a layered document written as a flat PNG: its layers are not in that file, so
        closing still asks (Save Project As keeps them). Without ``path``, saves to the current path."""
        if path is None:
            path = self._path
        if path is None:
            raise ValueError("the document has no file name yet: give a path")
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".png")
        self.end_stroke()  # a stroke in progress (Ctrl+S with the mouse down) is kept
        if is_project_path(path):
            from spade_studio import project as pj

            pj.save_ora(path, self.to_project())
            self.undo_stack.setClean()
        else:
            write_label_map(path, self._map, self._label_set)
            if len(self._layers) == 1:
                self.undo_stack.setClean()
            else:
                self.undo_stack.resetClean()  # no state of the stack is saved in full
        if path != self._path:
            self._path = path
            self.path_changed.emit(path)
        return path

    def replace_map(self, ids: np.ndarray, label_set: LabelSet, path: str | os.PathLike | None,
                    clean: bool, where: str = "label map") -> None:
        """Replace the whole document with one layer ``ids`` (and label set and file path),
        e.g. a recovered autosave; clears the history. ``clean=False`` leaves the document
        dirty. Raises :class:`LabelError` (naming ``where``) and changes nothing when an id
        is not in the set."""
        _check_in_set(ids, label_set, where)
        self._replace(ids, label_set, None if path is None else Path(path), clean=clean)

    def replace_project(self, path: str | os.PathLike, original: str | os.PathLike | None, clean: bool) -> None:
        """Load a project file (e.g. a layered autosave) but keep ``original`` as the file path."""
        self.open_project(path)
        self._path = None if original is None else Path(original)
        self.path_changed.emit(self._path)
        if not clean:
            self.undo_stack.resetClean()  # -> dirty_changed(True)

    def remap(self, new_label_set: LabelSet, mapping: dict[int, int]) -> None:
        """Switch to ``new_label_set``, replacing ids by ``mapping`` in every layer (ids not
        in ``mapping`` keep their value and must exist in the new set). Clears the undo
        history; the document becomes dirty. Raises :class:`LabelError` and changes nothing
        on failure."""
        self.cancel_stroke()
        size = 65536
        table = np.arange(size, dtype=np.int64)
        for a, b in mapping.items():
            if not (0 <= int(a) < size and 0 <= int(b) < size):
                raise LabelError(f"mapping {a} -> {b}: ids must be in 0..65535")
            table[int(a)] = int(b)
        if len(self._layers) == 1:
            ids = table[self._map.astype(np.int64)]
            _check_in_set(ids, new_label_set, "remapped map")
            self._replace(ids, new_label_set, self._path, clean=False)
            return
        dtype = _dtype_for(new_label_set)
        layers = []
        for layer in self._layers:
            ids = table[layer.ids.astype(np.int64)]
            if layer.mask is not None:
                ids[~layer.mask] = new_label_set.ids[0]
            _check_in_set(ids, new_label_set, f"remapped layer {layer.name!r}")
            new = self._new_layer(layer.name, np.ascontiguousarray(ids.astype(dtype)),
                                  None if layer.mask is None else layer.mask.copy())
            new.visible, new.opacity, new.locked = layer.visible, layer.opacity, layer.locked
            layers.append(new)
        self._replace_layers(layers, new_label_set, self._path, clean=False)

    def set_reference(self, rgb: np.ndarray | None) -> None:
        """The photo shown under the map (RGB uint8 ``[h, w, 3]``; resized to the map if needed)."""
        if rgb is not None:
            rgb = np.asarray(rgb)
            if rgb.ndim == 2:
                rgb = np.repeat(rgb[..., None], 3, axis=2)
            if rgb.ndim != 3 or rgb.shape[2] < 3:
                raise ValueError(f"reference must be an RGB image, got shape {rgb.shape}")
            rgb = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8, copy=False)
            if rgb.shape[:2] != self._map.shape:
                from ..raster import resize_rgb

                rgb = resize_rgb(rgb, self.width, self.height)
        self._reference = rgb
        self.reference_changed.emit()
