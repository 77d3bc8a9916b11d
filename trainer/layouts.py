"""Dataset folders: the four layouts, their detection, and pairing images with label maps (``find_samples``).

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

The data check is ``trainer.datacheck``; label sets and the training dataset are
``trainer.datasets``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    "unreadable_folder": "folder that cannot be read (permissions)",
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


# make-landscapes writes ~500 bytes of scene description per scene: 64 MB holds 100,000+ scenes
MAX_DATASET_JSON_BYTES = 64 << 20


def _read_dataset_json(root: Path) -> dict[str, Any]:
    from spade_studio.safefiles import read_regular_file

    f = root / DATASET_JSON
    if not os.path.lexists(f):
        return {}
    try:
        data = json.loads(read_regular_file(f, MAX_DATASET_JSON_BYTES, what="dataset.json").decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DatasetError(f"{f}: not readable JSON ({exc})") from None
    except ValueError as exc:  # not a regular file, or too large
        raise DatasetError(str(exc)) from None
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


def _not_a_folder(root: Path) -> str:
    """Why ``root`` (not a folder) cannot be a dataset: missing, or a file (F6: a file was
    reported as "no such folder")."""
    if root.is_file():
        return f"{root}: a file, not a folder: give the dataset's folder"
    if root.exists() or root.is_symlink():
        return f"{root}: not a folder (a dangling link or a special file): give the dataset's folder"
    return f"{root}: no such folder"


def detect_layout(root: str | Path) -> str:
    """``"paired"``, ``"coco"``, ``"ade20k"`` or ``"cityscapes"`` from the folder names in ``root``.

    Raises :class:`DatasetError` naming the expected layouts (and a sub-folder that would
    work, if there is one) when none fits."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(_not_a_folder(root))
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
        raise DatasetError(_not_a_folder(root))
    return mode


@dataclass
class _Scan:
    samples: list[Sample]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # folders that could not be listed


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _index(folder: Path, exts: tuple[str, ...], root: Path, suffix: str = "",
           problems: list[Problem] | None = None, unreadable: list[str] | None = None) -> dict[str, Path]:
    """``{key: path}`` for the files under ``folder`` with one of ``exts``; the key is the path
    relative to ``folder`` without extension (and without ``suffix``, which the name must end with).

    A folder that cannot be listed (permissions) is reported as an ``unreadable_folder``
    problem (and appended to ``unreadable``), never silently taken as empty."""
    found: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return {}

    def on_error(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        why = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        if problems is not None:
            problems.append(Problem("unreadable_folder", _rel(root, where),
                                    f"cannot read this folder: {why} (check its permissions)"))
        if unreadable is not None:
            unreadable.append(_rel(root, where))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        for name in filenames:
            p = base / name
            if name.startswith(".") or p.suffix.lower() not in exts or not p.is_file():
                continue
            rel = p.relative_to(folder)
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
    if scan.unreadable:
        scan.notes.append("folder(s) that cannot be read (permission denied): " + ", ".join(scan.unreadable[:5]))

    def under(where: str) -> bool:
        d = where.split(" ")[0].rstrip("/")
        return any(u == d or u.startswith(d + "/") for u in scan.unreadable)

    unreadable_labels, unreadable_images = under(label_where), under(image_where)
    for key in sorted(set(images) | set(labels)):
        if key in images and key in labels:
            scan.samples.append(Sample(key, images[key], labels[key], instances.get(key)))
        elif key in images and unreadable_labels or key in labels and unreadable_images:
            continue  # the unreadable folder is the problem reported, not each file
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
        images = _index(root / "images", IMAGE_EXTS, root, problems=probs, unreadable=scan.unreadable)
        labels = _index(root / "labels", LABEL_EXTS, root, problems=probs, unreadable=scan.unreadable)
        instances = _index(root / "instances", LABEL_EXTS, root, problems=probs, unreadable=scan.unreadable)
        _pair(root, images, labels, instances, scan, "labels/", "images/")
    elif layout == "coco":
        prefix = next((s for s in _split_names(split) if (root / f"{s}_img").is_dir() or (root / f"{s}_label").is_dir()),
                      None)
        if prefix is None:
            found = ", ".join(d for d in _visible_dirs(root) if d.endswith(("_img", "_label"))) or "nothing"
            scan.notes.append(f"no {split}_img/ or {split}_label/ (found: {found})")
            return scan
        images = _index(root / f"{prefix}_img", IMAGE_EXTS, root, problems=probs, unreadable=scan.unreadable)
        labels = _index(root / f"{prefix}_label", LABEL_EXTS, root, problems=probs, unreadable=scan.unreadable)
        instances = _index(root / f"{prefix}_inst", LABEL_EXTS, root, problems=probs, unreadable=scan.unreadable)
        _pair(root, images, labels, instances, scan, f"{prefix}_label/", f"{prefix}_img/")
    elif layout == "ade20k":
        img_dir = _split_dir(root / "images", split, scan)
        ann_dir = _split_dir(root / "annotations", split, scan)
        images = _index(img_dir, IMAGE_EXTS, root, problems=probs, unreadable=scan.unreadable) if img_dir else {}
        labels = _index(ann_dir, LABEL_EXTS, root, problems=probs, unreadable=scan.unreadable) if ann_dir else {}
        _pair(root, images, labels, {}, scan,
              _rel(root, ann_dir) + "/" if ann_dir else "annotations/", _rel(root, img_dir) + "/" if img_dir else "images/")
    elif layout == "cityscapes":
        img_dir = _split_dir(root / "leftImg8bit", split, scan)
        gt_dir = _split_dir(root / "gtFine", split, scan)
        images = _index(img_dir, (".png",), root, CITYSCAPES_IMAGE, probs, scan.unreadable) if img_dir else {}
        labels = _index(gt_dir, (".png",), root, CITYSCAPES_LABEL, probs, scan.unreadable) if gt_dir else {}
        instances = _index(gt_dir, (".png",), root, CITYSCAPES_INSTANCE, probs, scan.unreadable) if gt_dir else {}
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
