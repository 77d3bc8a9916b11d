"""Training data: a folder's label set, reading one pair, and serving pairs to training.

:class:`PairedDataset` serves pre-processed tensors and returns ``None`` for a bad file, which
:func:`collate_skip_none` drops and counts, so one broken file never stops a training run.
Folder layouts and pairing are ``trainer.layouts`` (its names are re-exported here); the
data check (``check_data``) is ``trainer.datacheck``.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from spade_studio.imageio import (
    LABELSET_CHUNK,
    ImageReadError,
    check_image_pixels,
    read_instance_map,
    read_label_map,
)
from spade_studio.labels import (
    DATASET_LABEL_SETS,
    DONTCARE_VALUE,
    LabelError,
    LabelSet,
    builtin_label_set_names,
    format_ids,
    ids_outside,
    load_label_set,
)

from .augment import PreprocessConfig, label_to_tensor, preprocess
from .layouts import (  # noqa: F401 - re-exported: callers find the layout names here too
    BAD_FILE_KINDS,
    DATASET_JSON,
    DONTCARE_LAYOUTS,
    EXPECTED_LAYOUTS,
    IMAGE_EXTS,
    LABEL_EXTS,
    LAYOUTS,
    LOSSY_EXTS,
    PROBLEM_KINDS,
    DatasetError,
    Problem,
    Sample,
    SampleError,
    _layout,
    _read_dataset_json,
    _rel,
    detect_layout,
    find_samples,
)

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------
# Label sets
# ----------------------------------------------------------------------------------------


def _load_named(value: str | Path, root: Path) -> LabelSet:
    p = Path(value)
    if not p.is_absolute() and (root / p).is_file():
        return LabelSet.from_file(root / p)
    return load_label_set(value)


def _label_set_from_chunk(root: Path, layout: str) -> LabelSet | None:
    """The built-in label set named in the first label PNG's text chunk (paired folders)."""
    if layout != "paired" or not (root / "labels").is_dir():
        return None
    for p in sorted((root / "labels").rglob("*.png"))[:1]:
        try:  # the header only, of a regular file (a FIFO would block the open; a bomb is not decoded)
            if not stat.S_ISREG(os.stat(p).st_mode):
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(p) as img:
                    name = img.info.get(LABELSET_CHUNK)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
            return None
        if isinstance(name, str) and name in builtin_label_set_names():
            return load_label_set(name)
    return None


def _resolve_label_set(root: Path, label_set: LabelSet | str | Path | None, layout: str | None,
                       meta: dict[str, Any]) -> tuple[LabelSet | None, str]:
    if isinstance(label_set, LabelSet):
        return label_set, "given"
    if label_set is not None:
        return _load_named(label_set, root), "given"
    declared = meta.get("label_set")
    if isinstance(declared, dict):
        try:
            return LabelSet.from_dict(declared), DATASET_JSON
        except LabelError as exc:
            raise LabelError(f"{root / DATASET_JSON}: {exc}") from None
    if declared is not None:
        if not isinstance(declared, str):
            raise LabelError(f"{root / DATASET_JSON}: \"label_set\" must be a name, a file or an object")
        return _load_named(declared, root), DATASET_JSON
    if layout in DATASET_LABEL_SETS:
        return load_label_set(DATASET_LABEL_SETS[layout]), f"default for {layout}"
    if layout is not None:
        from_chunk = _label_set_from_chunk(root, layout)
        if from_chunk is not None:
            return from_chunk, "named in the label PNGs"
    return None, ""


def resolve_label_set(root: str | Path, label_set: LabelSet | str | Path | None = None,
                      dataset_mode: str | None = None) -> LabelSet | None:
    """The label set for the folder: ``label_set`` if given (object, built-in name or JSON file),
    else ``dataset.json``'s, else the layout's default (COCO -> coco_stuff, ADE20K -> ade20k,
    Cityscapes -> cityscapes), else the one named in paired label PNGs, else None.

    Raises :class:`LabelError` (or :class:`DatasetError` for a broken ``dataset.json``)."""
    root = Path(root)
    meta = _read_dataset_json(root)
    try:
        layout: str | None = _layout(root, dataset_mode, meta)
    except DatasetError:
        layout = None
    return _resolve_label_set(root, label_set, layout, meta)[0]


def allowed_label_ids(label_set: LabelSet | None, label_nc: int | None = None,
                      contain_dontcare_label: bool | None = None, dataset_mode: str | None = None) -> set[int] | None:
    """The label ids training accepts, or None when neither a label set nor ``label_nc`` is known.

    With ``label_nc``: ``0..label_nc-1``, plus ``label_nc`` and 255 when there is a dontcare
    channel. Whether there is one: ``contain_dontcare_label`` if given, else True when the label
    set has a ``dontcare_id`` or the layout is COCO/ADE20K (their official models have it).
    Without ``label_nc``: the ids of the label set."""
    if label_nc is not None:
        dontcare = contain_dontcare_label
        if dontcare is None:
            dontcare = (label_set is not None and label_set.dontcare_id is not None) or dataset_mode in DONTCARE_LAYOUTS
        ids = set(range(int(label_nc)))
        if dontcare:
            ids |= {int(label_nc), DONTCARE_VALUE}
        return ids
    if label_set is not None:
        return set(label_set.ids)
    return None


# ----------------------------------------------------------------------------------------
# Reading one pair
# ----------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    rgb: np.ndarray | None = None
    ids: np.ndarray | None = None
    instance: np.ndarray | None = None


def _open_photo(path: Path) -> Image.Image:
    """A training photo, opened lazily: a regular file whose header's size is checked (as for
    every image read, :func:`spade_studio.imageio.check_image_pixels`) before it is decoded."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ImageReadError(f"{path}: not a regular file: not read")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
        try:
            check_image_pixels(img, path)
            img.load()
        except BaseException:
            img.close()  # the file Pillow opened
            raise
        return img
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"{path}: image too large ({exc})") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode the image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from None


def _msg(exc: Exception, path: Path) -> str:
    """The exception text without the leading ``<path>: `` (the problem names the file already)."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _load_sample(sample: Sample, label_set: LabelSet | None, root: Path | None, want_instance: bool,
                 want_rgb: bool = True) -> tuple[_Loaded, list[Problem]]:
    """Read a pair, collecting every problem instead of stopping at the first."""
    base = root if root is not None else sample.label.parent

    def rel(p: Path) -> str:
        return _rel(base, p) if root is not None else str(p)

    out = _Loaded()
    probs: list[Problem] = []
    try:
        out.ids = read_label_map(sample.label, label_set).ids
    except ImageReadError as exc:
        probs.append(Problem("unreadable", rel(sample.label), _msg(exc, sample.label)))
    except LabelError as exc:
        kind = "needs_label_set" if label_set is None else "unmappable_colors"
        probs.append(Problem(kind, rel(sample.label), _msg(exc, sample.label)))

    lh = lw = None
    if out.ids is not None:
        lh, lw = out.ids.shape
    else:  # still compare sizes when only the colours failed
        try:
            if not stat.S_ISREG(os.stat(sample.label).st_mode):  # never block on a FIFO
                raise ValueError("not a regular file")
            with Image.open(sample.label) as im:
                lw, lh = im.size
        except Exception:  # noqa: BLE001 - already reported as unreadable
            pass

    photo = None
    try:
        photo = _open_photo(sample.image)
    except ImageReadError as exc:
        probs.append(Problem("unreadable", rel(sample.image), _msg(exc, sample.image)))
    if photo is not None:
        if lw is not None and photo.size != (lw, lh):
            try:
                turned = ImageOps.exif_transpose(photo)
            except Exception:  # noqa: BLE001 - a broken EXIF block: keep the raw pixels
                turned = photo
            if turned.size == (lw, lh):
                photo = turned
                probs.append(Problem("exif_rotated", rel(sample.image),
                                     "stored pixels are rotated relative to the label map; used the image "
                                     "turned by its EXIF orientation"))
            else:
                iw, ih = photo.size
                probs.append(Problem("size_mismatch", rel(sample.image),
                                     f"image is {iw}x{ih} but its label map {rel(sample.label)} is {lw}x{lh}"))
        if want_rgb:
            out.rgb = np.asarray(photo.convert("RGB"))

    if want_instance and sample.instance is not None:
        try:
            inst = read_instance_map(sample.instance)
            out.instance = inst
            if lw is not None and inst.shape != (lh, lw):
                probs.append(Problem("size_mismatch", rel(sample.instance),
                                     f"instance map is {inst.shape[1]}x{inst.shape[0]} but its label map "
                                     f"{rel(sample.label)} is {lw}x{lh}"))
        except ImageReadError as exc:
            probs.append(Problem("unreadable", rel(sample.instance), _msg(exc, sample.instance)))
    return out, probs


# ----------------------------------------------------------------------------------------
# PairedDataset
# ----------------------------------------------------------------------------------------


class PairedDataset(torch.utils.data.Dataset):
    """Pre-processed pairs for training; ``None`` for a pair that cannot be used.

    Item ``i`` of epoch ``e`` draws its crop and flip from ``np.random.default_rng([seed, e, i])``,
    so a resumed run sees the same augmentation. Call :meth:`set_epoch` before each epoch's
    DataLoader iterator is created (with ``persistent_workers=False``, the default, workers
    get a fresh copy of the dataset, epoch included, every epoch).

    Training augmentations (``trainer.simplify``), each on a share of the items, from their own
    random stream ``[seed, e, i, 11]``: ``simplify`` replaces the label map by a painted-looking
    version of itself (the image stays), ``color_jitter`` gives the image a random global colour
    change."""

    def __init__(self, samples: list[Sample], preprocess: PreprocessConfig, label_set: LabelSet | None, train: bool,
                 seed: int = 0, use_instance: bool = False, allowed_ids: set[int] | None = None,
                 simplify: float = 0.0, color_jitter: float = 0.0):
        self.samples = list(samples)
        self.preprocess = preprocess
        self.label_set = label_set
        self.train = train
        self.seed = int(seed)
        self.use_instance = use_instance
        self.allowed_ids = None if allowed_ids is None else set(allowed_ids)
        if not (0.0 <= simplify <= 1.0 and 0.0 <= color_jitter <= 1.0):
            raise ValueError(f"simplify ({simplify}) and color_jitter ({color_jitter}) are shares in 0..1")
        self.simplify = float(simplify) if train else 0.0
        self.color_jitter = float(color_jitter) if train else 0.0
        self.epoch = 0
        self.skipped = 0  # in this process only; use collate_skip_none's count across workers
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(i)])

    def load(self, i: int) -> dict[str, Any]:
        """Item ``i``; raises :class:`SampleError` saying why when the pair cannot be used."""
        s = self.samples[i]
        loaded, probs = _load_sample(s, self.label_set, None, want_instance=self.use_instance)
        probs = [p for p in probs if p.kind in BAD_FILE_KINDS]
        if not probs and self.allowed_ids is not None:
            bad = ids_outside(loaded.ids, self.allowed_ids)
            if bad:
                probs.append(Problem("unknown_ids", str(s.label), f"label id(s) {format_ids(bad)} are not allowed"))
        if probs:
            raise SampleError(probs)
        inst_in = loaded.instance if self.use_instance else None
        rgb, aug = loaded.rgb, np.random.default_rng([self.seed, self.epoch, int(i), 11])
        if self.color_jitter and aug.random() < self.color_jitter:
            from .simplify import jitter_colors

            rgb = jitter_colors(rgb, aug)
        image, label, inst, _ = preprocess(self.preprocess, rgb, loaded.ids, inst_in, self.rng(i), self.train)
        if self.simplify and aug.random() < self.simplify:
            from .simplify import simplify_labels

            label = label_to_tensor(simplify_labels(label[0].numpy(), aug))
        item: dict[str, Any] = {"label": label, "image": image}
        if self.use_instance:
            if inst is None:  # no instance map: every connected region of one label is an instance
                from spade_studio.model.semantics import regions_as_instances

                inst = label_to_tensor(regions_as_instances(label[0].numpy()))
            item["instance"] = inst
        item["index"] = int(i)
        item["stem"] = s.stem
        return item

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        try:
            return self.load(i)
        except SampleError as exc:
            self.skipped += 1
            stem = self.samples[i].stem
            if stem not in self._warned:
                self._warned.add(stem)
                log.warning("skipping %s: %s", stem, exc)
            return None


def collate_skip_none(batch: list[dict[str, Any] | None]) -> tuple[dict[str, Any] | None, int]:
    """Drop ``None`` items; stack the rest. Returns ``(batch dict or None if all were bad, n_skipped)``.

    The dict has ``label`` [N,1,H,W] int64, ``image`` [N,3,H,W] float32, ``instance`` (when
    present), ``index`` [N] int64 and ``stem`` (list of str)."""
    items = [b for b in batch if b is not None]
    n_skipped = len(batch) - len(items)
    if not items:
        return None, n_skipped
    out: dict[str, Any] = {}
    for key in ("label", "image", "instance"):
        if key not in items[0]:
            continue
        shapes = {tuple(it[key].shape) for it in items}
        if len(shapes) > 1:
            raise ValueError(
                f"cannot batch {key} tensors of different sizes {sorted(shapes)}: use a cropping or 'fixed' "
                "pre-processing mode, or batch size 1"
            )
        out[key] = torch.stack([it[key] for it in items])
    out["index"] = torch.tensor([it["index"] for it in items], dtype=torch.int64)
    out["stem"] = [it["stem"] for it in items]
    return out, n_skipped
