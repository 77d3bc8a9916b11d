"""Label sets: which ids a label map may hold, their names and colours.

A :class:`LabelSet` is plain data (JSON in ``resources/palettes/*.json`` and inside model
files). Ids are the values stored in label-map PNGs; they need not be contiguous (COCO-Stuff
uses 0..181 plus 255 for "unlabeled").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELSET_FORMAT = "spade-studio-labelset/1"


class LabelError(ValueError):
    """A label map or colour image does not fit a label set."""


@dataclass(frozen=True)
class Label:
    id: int
    name: str
    color: tuple[int, int, int]


# The label value of "don't care" pixels in official label maps (COCO-Stuff, ADE20K).
DONTCARE_VALUE = 255

# The built-in label set of each official dataset layout (models and training data).
DATASET_LABEL_SETS = {"coco": "coco_stuff", "ade20k": "ade20k", "cityscapes": "cityscapes"}


def voc_color(index: int) -> tuple[int, int, int]:
    """Bit-interleaved PASCAL-VOC style colour for ``index`` (0 gives black)."""
    r = g = b = 0
    c = index
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return (r, g, b)


def _pack(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: tuple[Label, ...]
    dontcare_id: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        ids = [lab.id for lab in self.labels]
        if len(set(ids)) != len(ids):
            raise LabelError(f"label set {self.name!r}: duplicate ids")
        for lab in self.labels:
            if isinstance(lab.id, bool) or not isinstance(lab.id, int) or not 0 <= lab.id <= 65535:
                raise LabelError(f"label set {self.name!r}: id {lab.id!r} outside 0..65535")
            if not isinstance(lab.name, str) or not lab.name.strip():
                raise LabelError(f"label set {self.name!r}: label {lab.id} has no name")
            c = lab.color
            if (not isinstance(c, tuple) or len(c) != 3
                    or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255 for v in c)):
                raise LabelError(f"label set {self.name!r}: label {lab.id} ({lab.name}) has colour {c!r}: "
                                 f"expected three values 0..255 (R, G, B)")
        if self.dontcare_id is not None and self.dontcare_id not in ids:
            raise LabelError(f"label set {self.name!r}: dontcare id {self.dontcare_id} is not one of its labels")

    # -- lookup -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self):
        return iter(self.labels)

    @property
    def ids(self) -> list[int]:
        return [lab.id for lab in self.labels]

    def same_labels(self, other: LabelSet) -> bool:
        """The same ids with the same names (names compared without case): the one rule for
        "these two label sets are the same" (models, runs, the editor)."""
        return [(x.id, x.name.lower()) for x in self] == [(x.id, x.name.lower()) for x in other]

    def by_id(self, label_id: int) -> Label:
        for lab in self.labels:
            if lab.id == label_id:
                return lab
        raise KeyError(label_id)

    def name_of(self, label_id: int) -> str:
        try:
            return self.by_id(label_id).name
        except KeyError:
            return f"id {label_id}"

    def id_of(self, name: str) -> int | None:
        key = name.strip().lower()
        for lab in self.labels:
            if lab.name.lower() == key:
                return lab.id
        return None

    # -- colours ------------------------------------------------------------------------
    def lut(self, size: int = 65536) -> np.ndarray:
        """``[size, 3]`` uint8 colour table indexed by id (unknown ids: magenta)."""
        table = np.zeros((size, 3), np.uint8)
        table[:] = (255, 0, 255)
        for lab in self.labels:
            if lab.id < size:
                table[lab.id] = lab.color
        return table

    def colorize(self, label_map: np.ndarray) -> np.ndarray:
        """Label ids ``[H, W]`` -> RGB uint8 ``[H, W, 3]``."""
        size = 256 if label_map.dtype == np.uint8 else 65536
        return self.lut(size)[label_map.astype(np.int64)]

    def colors_to_ids(self, rgb: np.ndarray, where: str = "image") -> np.ndarray:
        """Colour-coded label image ``[H, W, 3]`` -> ids ``[H, W]`` (uint8 or uint16).

        Raises :class:`LabelError` naming every colour that matches no entry or several
        entries, with its pixel count and first position. The image is decoded in strips of
        about a million pixels, so the memory beyond the result stays small for any size."""
        if rgb.ndim != 3 or rgb.shape[2] < 3:
            raise LabelError(f"{where}: expected an RGB image, got shape {tuple(rgb.shape)}")
        h, w = rgb.shape[:2]
        by_color: dict[int, list[int]] = {}
        for lab in self.labels:
            by_color.setdefault(int(_pack(np.array(lab.color))), []).append(lab.id)
        pal_keys = np.array(sorted(by_color), np.int64)
        pal_ids = np.array([by_color[k][0] if len(by_color[k]) == 1 else -1 for k in pal_keys.tolist()], np.int64)
        dtype = np.uint8 if max(self.ids, default=0) < 256 else np.uint16
        out = np.zeros((h, w), dtype)
        bad: dict[int, list[int]] = {}  # colour key -> [pixel count, first flat position]
        more_bad = False  # distinct bad colours beyond what is kept for the message
        rows = max(1, (1 << 20) // max(w, 1))
        for y0 in range(0, h, rows):
            strip = rgb[y0 : y0 + rows, :, :3]
            keys = ((strip[..., 0].astype(np.uint32) << 16) | (strip[..., 1].astype(np.uint32) << 8)
                    | strip[..., 2].astype(np.uint32)).ravel()
            uniq, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True,
                                                     return_counts=True)
            uniq = uniq.astype(np.int64)
            pos = np.minimum(np.searchsorted(pal_keys, uniq), max(len(pal_keys) - 1, 0))
            found = (pal_keys[pos] == uniq) if len(pal_keys) else np.zeros(len(uniq), bool)
            strip_ids = np.where(found, pal_ids[pos] if len(pal_keys) else 0, -1)
            for i in np.flatnonzero(strip_ids < 0).tolist():
                key = int(uniq[i])
                if key in bad:
                    bad[key][0] += int(counts[i])
                elif len(bad) < 10000:
                    bad[key] = [int(counts[i]), y0 * w + int(first[i])]
                else:
                    more_bad = True
            if not bad:
                out[y0 : y0 + rows] = strip_ids[inverse].reshape(strip.shape[:2]).astype(dtype)
        if bad:
            problems = []
            for key in sorted(bad):
                count, flat = bad[key]
                color = ((key >> 16) & 255, (key >> 8) & 255, key & 255)
                y, x = divmod(flat, w)
                matches = by_color.get(key, [])
                if not matches:
                    problems.append(f"colour {color} matches no label ({count} px, first at x={x}, y={y})")
                else:
                    names = ", ".join(f"{m} {self.name_of(m)}" for m in matches)
                    problems.append(f"colour {color} matches several labels ({names}; {count} px, first at x={x}, "
                                    f"y={y})")
            shown = "; ".join(problems[:8])
            n = f"more than {len(problems):,}" if more_bad else str(len(problems))
            more = ("; and more" if more_bad else f"; and {len(problems) - 8} more") if len(problems) > 8 else ""
            raise LabelError(
                f"{where}: {n} colour(s) cannot be mapped through the "
                f"{self.name!r} palette: {shown}{more}"
            )
        return out

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": LABELSET_FORMAT,
            "name": self.name,
            "description": self.description,
            "dontcare_id": self.dontcare_id,
            "labels": [{"id": lab.id, "name": lab.name, "color": list(lab.color)} for lab in self.labels],
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelSet:
        def whole(v: object, what: str) -> int:
            if isinstance(v, bool) or not isinstance(v, (int, str)) and not (isinstance(v, float) and v.is_integer()):
                raise LabelError(f"{what} {v!r} is not a whole number")
            if isinstance(v, str) and (len(v) > 12 or not v.strip().lstrip("+-").isdigit()):
                raise LabelError(f"{what} {v!r} is not a whole number")
            return int(v)

        try:
            if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
                raise LabelError("a label set needs a 'labels' list")
            for e in data["labels"]:
                if not isinstance(e, dict) or not isinstance(e.get("color"), (list, tuple)):
                    raise LabelError(f"label entry {str(e)[:60]} needs an id, a name and a colour [R, G, B]")
            labels = tuple(
                Label(whole(e["id"], "label id"), str(e["name"]),
                      tuple(whole(c, "colour component") for c in e["color"]))  # type: ignore[arg-type]
                for e in data["labels"]
            )
            return cls(
                name=str(data.get("name", "unnamed")),
                labels=labels,
                dontcare_id=None if data.get("dontcare_id") is None else whole(data["dontcare_id"], "dontcare_id"),
                description=str(data.get("description", "")),
            )
        except LabelError as exc:
            raise LabelError(f"malformed label set: {exc}") from None
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise LabelError(f"malformed label set: {type(exc).__name__} {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> LabelSet:
        try:
            return cls.from_dict(json.loads(text))
        except RecursionError:
            raise LabelError("label set is nested too deeply to be a label set") from None
        except json.JSONDecodeError as exc:
            raise LabelError(f"label set is not valid JSON: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> LabelSet:
        from spade_studio.safefiles import read_regular_file

        path = Path(path)
        try:
            text = read_regular_file(path, 16 << 20, what="label set file").decode("utf-8")
        except OSError as exc:
            raise LabelError(f"cannot read label set {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise LabelError(f"{path}: not UTF-8 text: not a label set file") from None
        except ValueError as exc:  # not a regular file, or too large
            raise LabelError(str(exc)) from None
        try:
            return cls.from_json(text)
        except LabelError as exc:
            raise LabelError(f"{path}: {exc}") from exc


def numbered_label_set(n: int, name: str | None = None, dontcare: bool = False) -> LabelSet:
    """Label set for a model without names: ``class 0 .. class n-1`` with generated colours."""
    labels = [Label(i, f"class {i}", voc_color(i + 1)) for i in range(n)]
    dontcare_id = None
    if dontcare:
        dontcare_id = DONTCARE_VALUE if n < DONTCARE_VALUE else n
        labels.append(Label(dontcare_id, "unlabeled", (0, 0, 0)))
    return LabelSet(name or f"numbered-{n}", tuple(labels), dontcare_id, "generated: the model has no class names")


def builtin_label_set_names() -> list[str]:
    from spade_studio.paths import palettes_dir

    return sorted(p.stem for p in palettes_dir().glob("*.json"))


def load_label_set(name_or_path: str | Path) -> LabelSet:
    """A built-in label set by name (``landscape``, ``coco_stuff``, ``ade20k``, ``cityscapes``)
    or a label-set JSON file."""
    from spade_studio.paths import palettes_dir

    p = Path(name_or_path)
    text = str(name_or_path)
    if p.suffix.lower() == ".json" or "/" in text or os.sep in text:
        # a path: read it (a missing file, a FIFO or a folder is said so, not "unknown label set")
        return LabelSet.from_file(p)
    alias = {"coco": "coco_stuff", "cocostuff": "coco_stuff", "ade": "ade20k"}
    key = alias.get(str(name_or_path).lower(), str(name_or_path).lower())
    f = palettes_dir() / f"{key}.json"
    if key not in builtin_label_set_names() or not f.exists():  # a name never walks out of the palettes
        names = ", ".join(builtin_label_set_names())
        raise LabelError(f"unknown label set {str(name_or_path)!r} (built in: {names})")
    return LabelSet.from_file(f)


def ids_outside(ids: np.ndarray | Iterable[int], allowed: Iterable[int]) -> list[int]:
    """The distinct ids of ``ids`` (a label map or a list) that are not in ``allowed``, sorted.
    The one rule for "ids outside the label set" (editor, data check, training, models)."""
    present = np.unique(np.asarray(ids, dtype=np.int64))
    ok = np.asarray(sorted({int(a) for a in allowed}), dtype=np.int64)
    return [int(v) for v in present[~np.isin(present, ok)]]


def format_ids(ids: list[int], limit: int = 20) -> str:
    """``"3, 7, 9 (+12 more)"``: the ids an error message names."""
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" (+{len(ids) - limit} more)" if len(ids) > limit else "")

