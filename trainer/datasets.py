"""Training data: find image/label pairs in a folder, check them, and serve them to training.

Four folder layouts are understood (``dataset_mode``):

``paired``
    ``images/`` + ``labels/`` (+ optional ``instances/``), matched by file name without
    extension (sub-folders allowed: ``images/a/x.jpg`` pairs with ``labels/a/x.png``). Labels
    are index PNGs (the value is the id) or colour PNGs decoded through the label set.
``coco``
    COCO-Stuff as SPADE ships it: ``train_img/ train_label/ train_inst/`` (or ``val_*``).
``ade20k``
    ADEChallengeData2016: ``images/<split>/*.jpg`` + ``annotations/<split>/*.png``, paired by
    name. Raw values 0..150 are used unshifted (the official shift is a no-op, reference §3.1).
``cityscapes``
    ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` + ``gtFine/<split>/<city>/*_gtFine_labelIds.png``
    and ``*_gtFine_instanceIds.png``, paired by the name before ``_leftImg8bit`` / ``_gtFine``.

A folder may say which label set its ids belong to in ``dataset.json``:
``{"label_set": "landscape"}`` (a built-in name or a JSON file relative to the folder), or an
inline label-set object under ``"label_set"``; it may also name its ``"dataset_mode"``.
Explicit arguments override the file. Without either, COCO, ADE20K and Cityscapes folders
get their built-in label sets, and paired folders the set named in the label PNGs'
``spade-studio-labelset`` text chunk (written by the editor), if any.

:func:`check_data` reads every pair once and returns a :class:`DataReport`;
:class:`PairedDataset` serves pre-processed tensors and returns ``None`` for a bad file, which
:func:`collate_skip_none` drops and counts, so one broken file never stops a training run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from spade_studio.imageio import LABELSET_CHUNK, ImageReadError, read_instance_map, read_label_map
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

log = logging.getLogger(__name__)

LAYOUTS = ("paired", "coco", "ade20k", "cityscapes")
# Layouts whose official models have a dontcare channel (reference §2: contain_dontcare_label).
DONTCARE_LAYOUTS = frozenset({"coco", "ade20k"})
DATASET_JSON = "dataset.json"

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
LABEL_EXTS = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")  # preference order for duplicates
LOSSY_EXTS = frozenset({".jpg", ".jpeg"})
SPLIT_ALIASES = {
    "train": ("train", "training"),
    "val": ("val", "validation"),
    "test": ("test", "testing"),
}

CITYSCAPES_IMAGE = "_leftImg8bit"
CITYSCAPES_LABEL = "_gtFine_labelIds"
CITYSCAPES_INSTANCE = "_gtFine_instanceIds"

EXPECTED_LAYOUTS = (
    "paired: images/ + labels/ (+ instances/), files matched by name; "
    "coco: train_img/ + train_label/ (+ train_inst/) or val_*; "
    "ade20k: images/<split>/*.jpg + annotations/<split>/*.png; "
    "cityscapes: leftImg8bit/<split>/<city>/*_leftImg8bit.png + gtFine/<split>/<city>/*_gtFine_labelIds.png"
)


class DatasetError(ValueError):
    """A dataset folder that cannot be used at all; the message says what was expected."""


@dataclass
class Sample:
    stem: str
    image: Path
    label: Path
    instance: Path | None = None


@dataclass
class Problem:
    kind: str  # see PROBLEM_KINDS
    file: str  # path relative to the dataset root ("" for the folder itself)
    message: str


PROBLEM_KINDS = {
    "layout": "folder layout not recognised",
    "dataset_json": "dataset.json cannot be used",
    "label_set": "no usable label set",
    "no_pairs": "no image/label pairs",
    "no_usable_pairs": "no usable pairs",
    "duplicate": "two files with the same name",
    "unmatched_image": "image without label map",
    "unmatched_label": "label map without image",
    "unmatched_instance": "instance map without pair",
    "unreadable": "unreadable file",
    "size_mismatch": "size mismatch",
    "needs_label_set": "colour label map without label set",
    "unmappable_colors": "colours not in the label set",
    "unknown_ids": "label ids outside the label set",
    "lossy_label": "label map saved as JPEG",
    "exif_rotated": "image used rotated by its EXIF orientation",
}
# Problems that make the file of a pair unusable for training.
BAD_FILE_KINDS = frozenset({"unreadable", "size_mismatch", "needs_label_set", "unmappable_colors", "unknown_ids"})


class SampleError(ValueError):
    """A pair that cannot be used; ``problems`` says why (one entry per problem found)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.file}: {p.message}" for p in problems))


# ----------------------------------------------------------------------------------------
# Layout detection and pairing
# ----------------------------------------------------------------------------------------


def _read_dataset_json(root: Path) -> dict[str, Any]:
    f = root / DATASET_JSON
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{f}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{f}: expected a JSON object like {{\"label_set\": \"landscape\"}}")
    return data


def _visible_dirs(root: Path) -> list[str]:
    try:
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _split_names(split: str) -> tuple[str, ...]:
    for names in SPLIT_ALIASES.values():
        if split in names:
            return names
    return (split,)


def _detect(root: Path) -> str | None:
    def d(name: str) -> bool:
        return (root / name).is_dir()

    if d("leftImg8bit") or d("gtFine"):
        return "cityscapes"
    if d("annotations"):
        return "ade20k"
    coco_splits = [s for names in SPLIT_ALIASES.values() for s in names]
    if any(d(f"{s}_img") or d(f"{s}_label") for s in coco_splits):
        return "coco"
    if d("images") or d("labels"):
        return "paired"
    return None


def detect_layout(root: str | Path) -> str:
    """``"paired"``, ``"coco"``, ``"ade20k"`` or ``"cityscapes"`` from the folder names in ``root``.

    Raises :class:`DatasetError` naming the expected layouts (and a sub-folder that would
    work, if there is one) when none fits."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    layout = _detect(root)
    if layout is not None:
        return layout
    found = _visible_dirs(root)
    hint = ""
    for sub in found:
        sub_layout = _detect(root / sub)
        if sub_layout is not None:
            hint = f" Did you mean {root / sub} (looks like {sub_layout})?"
            break
    shown = ", ".join(n + "/" for n in found[:12]) or "no sub-folders"
    raise DatasetError(
        f"{root}: cannot tell the dataset layout (found {shown}). Expected one of — {EXPECTED_LAYOUTS}.{hint}"
    )


def _layout(root: Path, dataset_mode: str | None, meta: dict[str, Any] | None = None) -> str:
    mode = dataset_mode or (meta or {}).get("dataset_mode")
    if mode is None:
        return detect_layout(root)
    mode = str(mode).lower()
    mode = {"custom": "paired", "coco_stuff": "coco", "ade": "ade20k"}.get(mode, mode)
    if mode not in LAYOUTS:
        raise DatasetError(f"unknown dataset_mode {mode!r} (one of: {', '.join(LAYOUTS)})")
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    return mode


@dataclass
class _Scan:
    samples: list[Sample]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _index(folder: Path, exts: tuple[str, ...], root: Path, suffix: str = "",
           problems: list[Problem] | None = None) -> dict[str, Path]:
    """``{key: path}`` for the files under ``folder`` with one of ``exts``; the key is the path
    relative to ``folder`` without extension (and without ``suffix``, which the name must end with)."""
    found: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return {}
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or p.suffix.lower() not in exts or not p.is_file():
            continue
        key = rel.with_suffix("").as_posix()
        if suffix:
            if not key.endswith(suffix):
                continue
            key = key[: -len(suffix)]
        found.setdefault(key, []).append(p)
    out: dict[str, Path] = {}
    for key, paths in found.items():
        paths.sort(key=lambda q: (exts.index(q.suffix.lower()), q.name))
        out[key] = paths[0]
        if len(paths) > 1 and problems is not None:
            others = ", ".join(q.name for q in paths[1:])
            problems.append(Problem("duplicate", _rel(root, paths[0]), f"same name as {others}; using {paths[0].name}"))
    return out


def _pair(root: Path, images: dict[str, Path], labels: dict[str, Path], instances: dict[str, Path],
          scan: _Scan, label_where: str, image_where: str) -> None:
    for key in sorted(set(images) | set(labels)):
        if key in images and key in labels:
            scan.samples.append(Sample(key, images[key], labels[key], instances.get(key)))
        elif key in images:
            scan.problems.append(Problem("unmatched_image", _rel(root, images[key]),
                                         f"image has no label map (looked for {key} in {label_where})"))
        else:
            scan.problems.append(Problem("unmatched_label", _rel(root, labels[key]),
                                         f"label map has no image (looked for {key} in {image_where})"))
    for key in sorted(set(instances) - (set(images) & set(labels))):
        scan.problems.append(Problem("unmatched_instance", _rel(root, instances[key]),
                                     "instance map has no image/label pair with the same name"))


def _split_dir(parent: Path, split: str, scan: _Scan) -> Path | None:
    for name in _split_names(split):
        if (parent / name).is_dir():
            return parent / name
    if parent.is_dir():
        found = ", ".join(_visible_dirs(parent)) or "nothing"
        scan.notes.append(f"no {split!r} split in {parent.name}/ (found: {found})")
    else:
        scan.notes.append(f"{parent.name}/ is missing")
    return None


def _scan(root: Path, layout: str, split: str) -> _Scan:
    scan = _Scan([])
    probs = scan.problems
    if layout == "paired":
        for name in ("images", "labels"):
            if not (root / name).is_dir():
                scan.notes.append(f"{name}/ is missing")
        images = _index(root / "images", IMAGE_EXTS, root, problems=probs)
        labels = _index(root / "labels", LABEL_EXTS, root, problems=probs)
        instances = _index(root / "instances", LABEL_EXTS, root, problems=probs)
        _pair(root, images, labels, instances, scan, "labels/", "images/")
    elif layout == "coco":
        prefix = next((s for s in _split_names(split) if (root / f"{s}_img").is_dir() or (root / f"{s}_label").is_dir()),
                      None)
        if prefix is None:
            found = ", ".join(d for d in _visible_dirs(root) if d.endswith(("_img", "_label"))) or "nothing"
            scan.notes.append(f"no {split}_img/ or {split}_label/ (found: {found})")
            return scan
        images = _index(root / f"{prefix}_img", IMAGE_EXTS, root, problems=probs)
        labels = _index(root / f"{prefix}_label", LABEL_EXTS, root, problems=probs)
        instances = _index(root / f"{prefix}_inst", LABEL_EXTS, root, problems=probs)
        _pair(root, images, labels, instances, scan, f"{prefix}_label/", f"{prefix}_img/")
    elif layout == "ade20k":
        img_dir = _split_dir(root / "images", split, scan)
        ann_dir = _split_dir(root / "annotations", split, scan)
        images = _index(img_dir, IMAGE_EXTS, root, problems=probs) if img_dir else {}
        labels = _index(ann_dir, LABEL_EXTS, root, problems=probs) if ann_dir else {}
        _pair(root, images, labels, {}, scan,
              _rel(root, ann_dir) + "/" if ann_dir else "annotations/", _rel(root, img_dir) + "/" if img_dir else "images/")
    elif layout == "cityscapes":
        img_dir = _split_dir(root / "leftImg8bit", split, scan)
        gt_dir = _split_dir(root / "gtFine", split, scan)
        images = _index(img_dir, (".png",), root, CITYSCAPES_IMAGE, probs) if img_dir else {}
        labels = _index(gt_dir, (".png",), root, CITYSCAPES_LABEL, probs) if gt_dir else {}
        instances = _index(gt_dir, (".png",), root, CITYSCAPES_INSTANCE, probs) if gt_dir else {}
        _pair(root, images, labels, instances, scan,
              "gtFine/ (*_gtFine_labelIds.png)", "leftImg8bit/ (*_leftImg8bit.png)")
    else:
        raise DatasetError(f"unknown dataset_mode {layout!r} (one of: {', '.join(LAYOUTS)})")
    for s in scan.samples:
        if s.label.suffix.lower() in LOSSY_EXTS:
            probs.append(Problem("lossy_label", _rel(root, s.label),
                                 "label map is a JPEG: compression changes ids at region borders; save labels as PNG"))
    return scan


def find_samples(root: str | Path, dataset_mode: str | None = None, split: str = "train") -> list[Sample]:
    """Image/label(/instance) pairs under ``root``, sorted by stem (unmatched files are left out;
    :func:`check_data` lists them). ``split`` is ``train``/``val``/``test`` (``training``,
    ``validation`` also match); paired folders have no splits."""
    root = Path(root)
    layout = _layout(root, dataset_mode, _read_dataset_json(root) if dataset_mode is None else None)
    return _scan(root, layout, split).samples


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
        try:
            with Image.open(p) as img:
                name = img.info.get(LABELSET_CHUNK)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
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
    try:
        img = Image.open(path)
        img.load()
        return img
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: image too large ({exc})") from None
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
# check_data
# ----------------------------------------------------------------------------------------


@dataclass
class IdStat:
    id: int
    name: str
    pixels: int
    files: int
    allowed: bool | None  # None when no label set / label_nc is known


@dataclass
class DataReport:
    root: str
    layout: str | None = None
    split: str = "train"
    label_set: str | None = None
    label_set_source: str = ""
    label_nc: int | None = None
    allowed_ids: list[int] | None = None
    pairs: int = 0  # pairs found
    checked: int = 0  # pairs read (max_files may limit it)
    usable: int = 0  # checked pairs without problems that make them bad
    bad_files: list[str] = field(default_factory=list)  # stems of bad pairs
    instances: int = 0  # checked pairs with an instance map
    image_sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> pairs
    ids: list[IdStat] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fatal: bool = False
    fatal_reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.fatal

    def problems_of(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def _fail(self, kind: str, message: str, file: str = "") -> None:
        self.fatal = True
        self.fatal_reasons.append(message)
        self.problems.append(Problem(kind, file, message))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def to_text(self, max_per_kind: int = 20) -> str:
        lines = [f"Dataset check: {self.root}"]
        lines.append(f"  layout: {self.layout or 'unknown'}" + (f" (split {self.split})" if self.layout != "paired" else ""))
        if self.label_set:
            lines.append(f"  label set: {self.label_set}" + (f" ({self.label_set_source})" if self.label_set_source else ""))
        else:
            lines.append("  label set: none")
        if self.label_nc is not None:
            lines.append(f"  label_nc: {self.label_nc}")
        checked = f"{self.checked} checked" + (f" (of {self.pairs})" if self.checked < self.pairs else "")
        lines.append(f"  pairs: {self.pairs} found, {checked}, {self.usable} usable, {len(self.bad_files)} bad")
        lines.append(f"  instance maps: {self.instances} of {self.checked} checked pairs")
        if self.image_sizes:
            sizes = sorted(self.image_sizes.items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{s} ({n})" for s, n in sizes[:8]) + (f", +{len(sizes) - 8} more" if len(sizes) > 8 else "")
            lines.append(f"  image sizes: {shown}")
        if self.ids:
            lines.append(f"  label ids present ({len(self.ids)}):")
            for st in self.ids:
                flag = "" if st.allowed in (True, None) else "   <- not allowed"
                lines.append(f"    {st.id:>5} {st.name:<24} {st.pixels:>12,} px in {st.files} file(s){flag}")
        if self.problems:
            lines.append(f"Problems ({len(self.problems)}):")
            by_kind: dict[str, list[Problem]] = {}
            for p in self.problems:
                by_kind.setdefault(p.kind, []).append(p)
            for kind, probs in by_kind.items():
                lines.append(f"  {PROBLEM_KINDS.get(kind, kind)} ({len(probs)}):")
                for p in probs[:max_per_kind]:
                    lines.append(f"    {p.file or '.'}: {p.message}")
                if len(probs) > max_per_kind:
                    lines.append(f"    ... and {len(probs) - max_per_kind} more")
        else:
            lines.append("Problems: none")
        if self.fatal:
            titles = sorted({PROBLEM_KINDS.get(p.kind, p.kind) for p in self.problems if p.message in self.fatal_reasons})
            lines.append("Result: training cannot start (" + "; ".join(titles) + ")")
        else:
            extra = f" ({len(self.bad_files)} bad pair(s) will be skipped)" if self.bad_files else ""
            lines.append(f"Result: OK, {self.usable} usable pair(s){extra}")
        return "\n".join(lines)


MAX_EXAMPLES = 3


def check_data(root: str | Path, label_set: LabelSet | str | Path | None = None, label_nc: int | None = None,
               dataset_mode: str | None = None, split: str = "train", max_files: int | None = None, *,
               contain_dontcare_label: bool | None = None) -> DataReport:
    """Read every pair under ``root`` (at most ``max_files``) and report what training would meet.

    Reports pairs found, unmatched files, unreadable files, size mismatches, label ids present
    (pixels and files) against the label set or ``label_nc``, colour labels that cannot be
    decoded, and instance maps. ``fatal`` is True when training could not start: unknown
    layout, a broken ``dataset.json`` / label set, no pairs, neither a label set nor
    ``label_nc`` known, or no checked pair usable. Bad pairs alone are not fatal (training
    skips them)."""
    root = Path(root)
    report = DataReport(root=str(root), split=split, label_nc=label_nc)
    try:
        meta = _read_dataset_json(root) if root.is_dir() else {}
    except DatasetError as exc:
        report._fail("dataset_json", str(exc), DATASET_JSON)
        meta = {}
    try:
        layout = _layout(root, dataset_mode, meta)
    except DatasetError as exc:
        report._fail("layout", str(exc))
        return report
    report.layout = layout

    ls: LabelSet | None = None
    try:
        ls, source = _resolve_label_set(root, label_set, layout, meta)
        if ls is not None:
            report.label_set, report.label_set_source = ls.name, source
    except (LabelError, DatasetError) as exc:
        report._fail("label_set", str(exc), DATASET_JSON if label_set is None else "")
    allowed = allowed_label_ids(ls, label_nc, contain_dontcare_label, layout)
    if allowed is None and not report.fatal:
        report._fail("label_set", "no label set known: pass a label set or label_nc, or add dataset.json "
                                  "with {\"label_set\": \"<name>\"} to the folder")
    report.allowed_ids = sorted(allowed) if allowed is not None else None

    scan = _scan(root, layout, split)
    report.problems.extend(scan.problems)
    report.pairs = len(scan.samples)
    if not scan.samples:
        why = "; ".join(scan.notes) if scan.notes else "no file in the image folder has a label map with the same name"
        report._fail("no_pairs", f"no image/label pairs found ({why})")
        return report

    samples = scan.samples if max_files is None else scan.samples[: max(0, int(max_files))]
    pixels: dict[int, int] = {}
    files: dict[int, int] = {}
    unknown: dict[int, list[str]] = {}  # id -> label files where it occurs
    unknown_px: dict[int, int] = {}
    for s in samples:
        loaded, probs = _load_sample(s, ls, root, want_instance=True, want_rgb=False)
        report.checked += 1
        if s.instance is not None:
            report.instances += 1
        bad = any(p.kind in BAD_FILE_KINDS for p in probs)
        report.problems.extend(probs)
        if loaded.ids is not None:
            h, w = loaded.ids.shape
            key = f"{w}x{h}"
            report.image_sizes[key] = report.image_sizes.get(key, 0) + 1
            values, counts = np.unique(loaded.ids, return_counts=True)
            outside = set(ids_outside(values, allowed)) if allowed is not None else set()
            for v, c in zip(values.tolist(), counts.tolist()):
                pixels[v] = pixels.get(v, 0) + c
                files[v] = files.get(v, 0) + 1
                if v in outside:
                    unknown.setdefault(v, []).append(_rel(root, s.label))
                    unknown_px[v] = unknown_px.get(v, 0) + c
                    bad = True
        if bad:
            report.bad_files.append(s.stem)
        else:
            report.usable += 1

    against = (f"label_nc {label_nc}" if label_nc is not None else f"label set {ls.name!r}") if allowed is not None else ""
    for v in sorted(unknown):
        where = unknown[v]
        shown = ", ".join(where[:MAX_EXAMPLES]) + (f" and {len(where) - MAX_EXAMPLES} more" if len(where) > MAX_EXAMPLES else "")
        report.problems.append(Problem(
            "unknown_ids", where[0],
            f"label id {v} is not allowed by {against}: {unknown_px[v]:,} px in {len(where)} file(s): {shown}"))
    for v in sorted(pixels):
        name = ls.name_of(v) if ls is not None else ""
        if ls is not None and name == f"id {v}":
            name = "(not in label set)"
        report.ids.append(IdStat(v, name, pixels[v], files[v], None if allowed is None else v in allowed))

    if report.checked and report.usable == 0:
        report._fail("no_usable_pairs", f"none of the {report.checked} checked pairs is usable (see the problems above)")
    return report


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
