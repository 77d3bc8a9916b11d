"""The document's layer stack: layer operations and their undo payloads, and the document
as a layered project (:mod:`spade_studio.project`).

:class:`LayerOps` and :class:`ProjectConversion` are mixins of
:class:`~spade_studio.app.document.Document` (which defines the signals and the state they
use: ``_layers``, ``_active_key``, ``_map``, ``undo_stack``...); each layer operation is one
undo step (a :class:`_LayerOp` payload that holds what it removes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spade_studio.imageio import ImageReadError
from spade_studio.labelmap import Layer
from spade_studio.labels import LabelError, LabelSet, format_ids, ids_outside

PROJECT_SUFFIX = ".ora"


def _dtype_for(label_set: LabelSet) -> type:
    return np.uint8 if max(label_set.ids, default=0) < 256 else np.uint16


def _check_in_set(ids: np.ndarray, label_set: LabelSet, where: str) -> None:
    bad = ids_outside(ids, label_set.ids)
    if bad:
        raise LabelError(
            f"{where}: label id(s) {format_ids(bad)} are not in the {label_set.name!r} label set "
            f"(ids {min(label_set.ids)}..{max(label_set.ids)})"
        )



def is_project_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == PROJECT_SUFFIX



# -- undo payloads of layer operations (DeltaCommand calls the document's apply) ---------------
class _LayerOp:
    """A layer operation; ``redo``/``undo`` change the stack of ``doc``."""

    def nbytes(self) -> int:
        return 0

    def redo(self, doc) -> None:
        raise NotImplementedError

    def undo(self, doc) -> None:
        raise NotImplementedError


class _Insert(_LayerOp):
    def __init__(self, index: int, layer: Layer):
        self.index, self.layer = index, layer

    def nbytes(self) -> int:
        return self.layer.nbytes()

    def redo(self, doc) -> None:
        doc._layers.insert(self.index, self.layer)
        doc._active_key = self.layer.key

    def undo(self, doc) -> None:
        doc._layers.pop(self.index)
        doc._active_key = doc._layers[max(0, self.index - 1)].key


class _Remove(_Insert):
    def redo(self, doc) -> None:
        _Insert.undo(self, doc)

    def undo(self, doc) -> None:
        _Insert.redo(self, doc)


class _Move(_LayerOp):
    def __init__(self, src: int, dst: int):
        self.src, self.dst = src, dst

    def redo(self, doc) -> None:
        doc._layers.insert(self.dst, doc._layers.pop(self.src))

    def undo(self, doc) -> None:
        doc._layers.insert(self.src, doc._layers.pop(self.dst))


class _SetAttr(_LayerOp):
    def __init__(self, key: int, attr: str, old, new):
        self.key, self.attr, self.old, self.new = key, attr, old, new

    def redo(self, doc) -> None:
        setattr(doc._layer_by_key(self.key), self.attr, self.new)

    def undo(self, doc) -> None:
        setattr(doc._layer_by_key(self.key), self.attr, self.old)


class _MergeDown(_LayerOp):
    """Merge the layer at ``index`` into the one below; keeps the upper layer and the lower
    layer's old arrays (what the merge removes)."""

    def __init__(self, index: int, upper: Layer, lower: Layer):
        self.index, self.upper, self.lower = index, upper, lower
        self.old_ids, self.old_mask = lower.ids, lower.mask

    def nbytes(self) -> int:
        return self.upper.nbytes() + int(self.old_ids.nbytes) + (0 if self.old_mask is None else int(self.old_mask.nbytes))

    def redo(self, doc) -> None:
        up, low = self.upper, self.lower
        if up.mask is None:
            ids, mask = up.ids.copy(), None
        else:
            ids = np.where(up.mask, up.ids, self.old_ids)
            mask = None if self.old_mask is None else (self.old_mask | up.mask)
        low.ids, low.mask = np.ascontiguousarray(ids), mask
        doc._layers.pop(self.index)
        doc._active_key = low.key

    def undo(self, doc) -> None:
        self.lower.ids, self.lower.mask = self.old_ids, self.old_mask
        doc._layers.insert(self.index, self.upper)
        doc._active_key = self.upper.key


class LayerOps:
    """Layer operations of the document (each is one undo step)."""

    def _layer_op(self, op: _LayerOp, text: str) -> bool:
        self.cancel_stroke()
        self._push(op, text, applied=False)  # push runs op.redo via _apply_history
        return True

    def _unique_name(self, base: str) -> str:
        names = {ly.name for ly in self._layers}
        if base not in names:
            return base
        n = 2
        while f"{base} {n}" in names:
            n += 1
        return f"{base} {n}"

    def add_layer(self, name: str | None = None) -> bool:
        """A new empty layer above the active one; it becomes the active layer."""
        H, W = self._map.shape
        if name is None:
            n = len(self._layers)
            while f"Layer {n}" in {ly.name for ly in self._layers}:
                n += 1
            name = f"Layer {n}"
        layer = self._new_layer(name, np.zeros((H, W), self._map.dtype), np.zeros((H, W), bool))
        return self._layer_op(_Insert(self.active_index + 1, layer), f"New layer {name}")

    def delete_layer(self, index: int | None = None) -> bool:
        """Delete a layer (not the bottom one); the layer below becomes active."""
        i = self._index(index)
        if i == 0:
            self.refused.emit(f"The bottom layer '{self._layers[0].name}' cannot be deleted (merge layers down into it)")
            return False
        layer = self._layers[i]
        return self._layer_op(_Remove(i, layer), f"Delete layer {layer.name}")

    def duplicate_layer(self, index: int | None = None) -> bool:
        """A copy of a layer right above it (a copy of the bottom layer is filled everywhere)."""
        i = self._index(index)
        src = self._layers[i]
        copy = src.copy(name=self._unique_name(f"{src.name} copy"), key=self._next_key)
        self._next_key += 1
        copy.locked = False
        if copy.mask is None:
            copy.mask = np.ones(copy.ids.shape, bool)
        return self._layer_op(_Insert(i + 1, copy), f"Duplicate layer {src.name}")

    def move_layer(self, index: int, to: int) -> bool:
        """Move a layer to position ``to`` (the bottom layer stays at the bottom)."""
        i, j = self._index(index), int(to)
        if i == 0 or j < 1 or j >= len(self._layers):
            if i == 0 or j == 0:
                self.refused.emit(f"The bottom layer '{self._layers[0].name}' stays at the bottom")
            return False
        if i == j:
            return False
        return self._layer_op(_Move(i, j), f"Move layer {self._layers[i].name}")

    def move_layer_up(self, index: int | None = None) -> bool:
        i = self._index(index)
        return self.move_layer(i, i + 1)

    def move_layer_down(self, index: int | None = None) -> bool:
        i = self._index(index)
        return self.move_layer(i, i - 1)

    def merge_down(self, index: int | None = None) -> bool:
        """Merge a layer into the one below it (the merged layer keeps the lower layer's name,
        visibility, opacity and lock; the upper layer's opacity is not applied: labels do
        not blend). Refused for the bottom layer, a hidden layer or a locked lower layer."""
        i = self._index(index)
        if i == 0:
            self.refused.emit("The bottom layer has no layer below it to merge into")
            return False
        upper, lower = self._layers[i], self._layers[i - 1]
        if not upper.visible:
            self.refused.emit(f"Layer '{upper.name}' is hidden: show it before merging it down")
            return False
        if lower.locked:
            self.refused.emit(f"Layer '{lower.name}' is locked: unlock it to merge into it")
            return False
        return self._layer_op(_MergeDown(i, upper, lower), f"Merge {upper.name} into {lower.name}")

    def _set_attr(self, index: int | None, attr: str, value, text: str) -> bool:
        layer = self._layers[self._index(index)]
        old = getattr(layer, attr)
        if old == value:
            return False
        return self._layer_op(_SetAttr(layer.key, attr, old, value), text)

    def rename_layer(self, index: int | None, name: str) -> bool:
        name = str(name).strip()
        if not name:
            return False
        return self._set_attr(index, "name", name, f"Rename layer to {name}")

    def set_layer_visible(self, index: int | None, visible: bool) -> bool:
        layer = self._layers[self._index(index)]
        return self._set_attr(index, "visible", bool(visible), f"{'Show' if visible else 'Hide'} layer {layer.name}")

    def set_layer_locked(self, index: int | None, locked: bool) -> bool:
        layer = self._layers[self._index(index)]
        return self._set_attr(index, "locked", bool(locked), f"{'Lock' if locked else 'Unlock'} layer {layer.name}")

    def set_layer_opacity(self, index: int | None, opacity: float) -> bool:
        """Display opacity (0..1) of a layer on the canvas (the generator ignores it). Changes
        of the same layer's opacity in a row (a slider drag) are one undo step."""
        i = self._index(index)
        layer = self._layers[i]
        value = max(0.0, min(1.0, float(opacity)))
        if value == layer.opacity:
            return False
        stack = self.undo_stack
        top = stack.command(stack.count() - 1) if stack.count() and stack.index() == stack.count() else None
        op = getattr(top, "delta", None)
        if (isinstance(op, _SetAttr) and op.attr == "opacity" and op.key == layer.key
                and stack.cleanIndex() != stack.index()):
            op.new = value  # extend the last step
            layer.opacity = value
            self.layers_changed.emit()
            self.display_changed.emit(self._full_rect())
            return True
        return self._set_attr(i, "opacity", value, f"Opacity of layer {layer.name}")


class ProjectConversion:
    """The document as a layered ``.ora``/``.psd`` project."""

    def open_project(self, path: str | os.PathLike) -> list[str]:
        """Load a layered ``.ora`` project: its layers, reference photo, and the render and
        styles (kept in :attr:`project_render` / :attr:`project_styles` /
        :attr:`project_style_images`). Raises (the project module's error, naming the file)
        and leaves the document untouched when the file is unusable."""
        from spade_studio import project as pj

        path = Path(path)
        # a file from Krita/GIMP has no label set of its own: its colours are read through ours
        proj = pj.load_ora(path, label_set=self._label_set)
        if not proj.layers:
            raise ImageReadError(f"{path}: the project has no label layers")
        label_set = proj.label_set
        dtype = _dtype_for(label_set)
        layers = []
        for i, pl in enumerate(proj.layers):
            ids = np.ascontiguousarray(np.asarray(pl.ids).astype(dtype, copy=True))
            mask = None if (i == 0 or pl.mask is None) else np.ascontiguousarray(np.asarray(pl.mask, bool))
            if i > 0 and mask is None:
                mask = np.ones(ids.shape, bool)
            if i > 0:
                ids[~mask] = 0
            _check_in_set(ids if mask is None else ids[mask], label_set, f"{path}: layer {pl.name!r}")
            layer = self._new_layer(pl.name, ids, mask)
            layer.visible, layer.opacity, layer.locked = bool(pl.visible), float(pl.opacity), bool(pl.locked)
            layers.append(layer)
        reference = proj.reference
        self._replace_layers(layers, label_set, path, clean=True)
        self.project_styles = dict(proj.styles or {})
        self.project_style_images = dict(proj.style_images or {})
        self.project_render = proj.render
        self.set_reference(reference)
        return []

    def to_project(self, render: np.ndarray | None = None, styles: dict | None = None,
                   style_images: dict | None = None):
        """The document as a :class:`spade_studio.project.Project` (copies of the layers)."""
        from spade_studio import project as pj

        layers = [pj.ProjectLayer(ly.name, ly.ids.copy(), None if ly.mask is None else ly.mask.copy(),
                                  visible=ly.visible, opacity=ly.opacity, locked=ly.locked)
                  for ly in self._layers]
        return pj.Project(
            label_set=self._label_set,
            layers=layers,
            render=render if render is not None else self.project_render,
            reference=self._reference,
            styles=dict(styles if styles is not None else self.project_styles),
            style_images=dict(style_images if style_images is not None else self.project_style_images),
        )

    def export_layers(self, path: str | os.PathLike, render: np.ndarray | None = None) -> Path:
        """Write the layers to ``.ora`` or ``.psd`` without changing the document's file."""
        from spade_studio import project as pj

        path = Path(path)
        self.end_stroke()
        project = self.to_project(render=render)
        if path.suffix.lower() == ".psd":
            pj.export_psd(path, project)
        elif is_project_path(path):
            pj.save_ora(path, project)
        else:
            raise ValueError(f"{path}: export layers as .ora or .psd")
        return path
