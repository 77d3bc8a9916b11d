"""The document: the label map being painted, its label set, file and undo history.

The map is changed only through the document: one-shot operations (:meth:`fill`,
:meth:`line`, :meth:`rect`, :meth:`clear`), live strokes (:meth:`begin_stroke`,
:meth:`stroke_to`, :meth:`end_stroke`) or :meth:`push_delta`. Every change is one
:class:`~spade_studio.app.commands.DeltaCommand` on :attr:`undo_stack` and is announced with
:attr:`changed` (the map rectangle). Replacing the whole map (new, open, remap,
:meth:`replace_map` -- used by :mod:`~spade_studio.app.autosave` to recover) clears the
history and emits :attr:`reset`.

``dirty`` is the undo stack's clean state: saving marks the current step clean, undoing
back to it makes the document clean again.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QUndoStack

from spade_studio import labelmap as lm
from spade_studio.imageio import LABELSET_CHUNK, ImageReadError, read_label_map, write_label_map
from spade_studio.labelmap import Delta
from spade_studio.labels import LabelError, LabelSet, builtin_label_set_names, format_ids, ids_outside, load_label_set

from .commands import DeltaCommand, history_bytes, trim_history


def _dtype_for(label_set: LabelSet) -> type:
    return np.uint8 if max(label_set.ids, default=0) < 256 else np.uint16


def _check_in_set(ids: np.ndarray, label_set: LabelSet, where: str) -> None:
    bad = ids_outside(ids, label_set.ids)
    if bad:
        raise LabelError(
            f"{where}: label id(s) {format_ids(bad)} are not in the {label_set.name!r} label set "
            f"(ids {min(label_set.ids)}..{max(label_set.ids)})"
        )


def _peek_label_set_name(path: Path) -> str | None:
    """The label-set text chunk of a PNG, without decoding the pixels (None if absent)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            name = img.info.get(LABELSET_CHUNK)
    except Exception:  # noqa: BLE001 - the real read reports the error properly
        return None
    return name if isinstance(name, str) and name.strip() else None


class Document(QObject):
    changed = Signal(QRect)  # map region changed (map pixel coords)
    reset = Signal()  # whole map / size / label set replaced
    dirty_changed = Signal(bool)
    path_changed = Signal(object)  # Path | None
    label_set_changed = Signal(object)  # LabelSet
    reference_changed = Signal()  # reference photo set or removed
    stroke_cancelled = Signal()  # a live stroke was rolled back (undo/redo/reset mid-stroke)

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
        self._map = self._blank(width, height, fill_label, label_set)
        self._path: Path | None = None
        self._reference: np.ndarray | None = None
        self._live: list[Delta] | None = None  # deltas of the stroke in progress

    # -- state -------------------------------------------------------------------------------
    @property
    def label_map(self) -> np.ndarray:
        """The map, as a read-only view (change it through the document)."""
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
        """A copy of the map (for the renderer; safe to keep and to hand to a thread)."""
        return self._map.copy()

    def label_at(self, x: int, y: int) -> int:
        """The id at map pixel ``(x, y)``, or -1 outside the map."""
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

    # -- history -----------------------------------------------------------------------------
    @staticmethod
    def _rect(delta: Delta) -> QRect:
        return QRect(delta.x0, delta.y0, delta.width, delta.height)

    def _apply_history_delta(self, delta: Delta, undo: bool) -> None:
        """The undo commands' ``apply``: write the delta's old (undo) or new values."""
        self.cancel_stroke()
        lm.apply_delta(self._map, delta, undo=undo)
        self.changed.emit(self._rect(delta))

    def push_delta(self, delta: Delta | None, text: str, applied: bool = False) -> bool:
        """Record ``delta`` as one undo step; its redo applies it (skipped the first time when
        ``applied``: the map already holds the new values). False when ``delta`` is None."""
        if delta is None:
            return False
        if delta.old.dtype != self._map.dtype or delta.y0 < 0 or delta.x0 < 0 or (
            delta.y0 + delta.height > self.height or delta.x0 + delta.width > self.width
        ):
            raise ValueError("delta does not fit this document's map")
        self.undo_stack.push(DeltaCommand(self._apply_history_delta, delta, text, applied=applied))
        trim_history(self.undo_stack, self.undo_byte_limit)
        return True

    def history_bytes(self) -> int:
        """Memory held by the undo history (sum of its deltas)."""
        return history_bytes(self.undo_stack)

    def _reset_history(self, clean: bool) -> None:
        self.cancel_stroke()
        self.undo_stack.clear()  # leaves the stack clean
        if not clean:
            self.undo_stack.resetClean()

    # -- one-shot operations (each is one undo step) ------------------------------------------
    def _check_label(self, label: int) -> int:
        if label not in self._label_set.ids:
            raise LabelError(f"label {label} is not in the {self._label_set.name!r} label set")
        return int(label)

    def fill(self, x: int, y: int, label: int) -> bool:
        delta = lm.flood_fill(self._map, x, y, self._check_label(label), apply=False)
        return self.push_delta(delta, f"Fill with {self._label_set.name_of(label)}")

    def line(self, x0: float, y0: float, x1: float, y1: float, radius: float, label: int) -> bool:
        delta = lm.draw_line(self._map, x0, y0, x1, y1, radius, self._check_label(label), apply=False)
        return self.push_delta(delta, f"Line of {self._label_set.name_of(label)}")

    def rect(self, x0: int, y0: int, x1: int, y1: int, label: int) -> bool:
        delta = lm.fill_rect(self._map, x0, y0, x1, y1, self._check_label(label), apply=False)
        return self.push_delta(delta, f"Rectangle of {self._label_set.name_of(label)}")

    def clear(self, label: int) -> bool:
        delta = lm.fill_rect(self._map, 0, 0, self.width - 1, self.height - 1, self._check_label(label), apply=False)
        return self.push_delta(delta, f"Clear to {self._label_set.name_of(label)}")

    # -- live strokes: painted as the mouse moves, recorded as one step at the end ---------
    @property
    def stroke_active(self) -> bool:
        return self._live is not None

    def begin_stroke(self) -> None:
        self.cancel_stroke()
        self._live = []

    def stroke_to(self, points: list[tuple[float, float]], radius: float, label: int) -> None:
        """Paint the brush along ``points`` now (part of the stroke in progress)."""
        if self._live is None:
            self.begin_stroke()
        delta = lm.paint_stroke(self._map, points, radius, self._check_label(label))
        if delta is not None:
            self._live.append(delta)
            self.changed.emit(self._rect(delta))

    def end_stroke(self, text: str = "Brush stroke") -> bool:
        """Record the stroke in progress as ONE undo step (False if it changed nothing)."""
        if self._live is None:
            return False
        deltas, self._live = self._live, None
        merged = lm.merge_deltas(self._map.shape, deltas)
        return self.push_delta(merged, text, applied=True)

    def cancel_stroke(self) -> None:
        """Roll back the stroke in progress (nothing is recorded)."""
        if self._live is None:
            return
        deltas, self._live = self._live, None
        for delta in reversed(deltas):
            lm.apply_delta(self._map, delta, undo=True)
            self.changed.emit(self._rect(delta))
        self.stroke_cancelled.emit()

    # -- whole-document changes ---------------------------------------------------------------
    def _replace(self, ids: np.ndarray, label_set: LabelSet, path: Path | None, clean: bool) -> None:
        self.cancel_stroke()
        old_set, old_path, was_dirty = self._label_set, self._path, self.dirty
        self._map = np.ascontiguousarray(ids.astype(_dtype_for(label_set), copy=True))
        self._label_set = label_set
        self._path = path
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
        self.reset.emit()

    def new(self, width: int, height: int, label_set: LabelSet, fill_label: int = 0) -> None:
        ids = self._blank(width, height, fill_label, label_set)
        self._replace(ids, label_set, None, clean=True)

    def open(self, path: str | os.PathLike) -> list[str]:
        """Load a label map: an index PNG (8/16-bit or palette) or a colour-coded PNG.

        Colour PNGs are decoded through the label set named in the file's text chunk when it
        is a built-in one, else through the current label set. Returns notes for the user.
        Raises :class:`ImageReadError` (unreadable file) or :class:`LabelError` (colours or
        ids that do not fit the label set); the current document is then left untouched."""
        path = Path(path)
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
        """Write the map as an index PNG (palette + label-set chunk), atomically; marks the
        document clean. Without ``path``, saves to the current path."""
        if path is None:
            path = self._path
        if path is None:
            raise ValueError("the document has no file name yet: give a path")
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".png")
        self.end_stroke()  # a stroke in progress (Ctrl+S with the mouse down) is kept
        write_label_map(path, self._map, self._label_set)
        self.undo_stack.setClean()
        if path != self._path:
            self._path = path
            self.path_changed.emit(path)
        return path

    def replace_map(self, ids: np.ndarray, label_set: LabelSet, path: str | os.PathLike | None,
                    clean: bool, where: str = "label map") -> None:
        """Replace the whole map (and label set and file path) with ``ids``, e.g. a recovered
        autosave; clears the history. ``clean=False`` leaves the document dirty. Raises
        :class:`LabelError` (naming ``where``) and changes nothing when an id is not in the set."""
        _check_in_set(ids, label_set, where)
        self._replace(ids, label_set, None if path is None else Path(path), clean=clean)

    def remap(self, new_label_set: LabelSet, mapping: dict[int, int]) -> None:
        """Switch to ``new_label_set``, replacing ids by ``mapping`` (ids not in ``mapping``
        keep their value and must exist in the new set). Clears the undo history; the
        document becomes dirty. Raises :class:`LabelError` and changes nothing on failure."""
        self.cancel_stroke()
        size = 65536
        table = np.arange(size, dtype=np.int64)
        for a, b in mapping.items():
            if not (0 <= int(a) < size and 0 <= int(b) < size):
                raise LabelError(f"mapping {a} -> {b}: ids must be in 0..65535")
            table[int(a)] = int(b)
        ids = table[self._map.astype(np.int64)]
        _check_in_set(ids, new_label_set, "remapped map")
        self._replace(ids, new_label_set, self._path, clean=False)

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
