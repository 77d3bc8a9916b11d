"""The data check: read every pair of a folder once and report what training would meet (``check_data``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spade_studio.labels import (
    LabelError,
    LabelSet,
    ids_outside,
)

from .datasets import _load_sample, _resolve_label_set, allowed_label_ids
from .layouts import (
    BAD_FILE_KINDS,
    DATASET_JSON,
    PROBLEM_KINDS,
    DatasetError,
    Problem,
    _layout,
    _read_dataset_json,
    _rel,
    _scan,
)

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
               contain_dontcare_label: bool | None = None,
               on_progress: Callable[[int, int], None] | None = None) -> DataReport:
    """Read every pair under ``root`` (at most ``max_files``) and report what training would meet.

    Reports pairs found, unmatched files, unreadable files, size mismatches, label ids present
    (pixels and files) against the label set or ``label_nc``, colour labels that cannot be
    decoded, and instance maps. ``fatal`` is True when training could not start: unknown
    layout, a broken ``dataset.json`` / label set, no pairs, neither a label set nor
    ``label_nc`` known, or no checked pair usable. Bad pairs alone are not fatal (training
    skips them). ``on_progress(done, total)`` is called after each pair read."""
    from spade_studio.model.config import LIMITS

    root = Path(root)
    report = DataReport(root=str(root), split=split, label_nc=label_nc)
    lo, hi = LIMITS["label_nc"]
    if label_nc is not None and (isinstance(label_nc, bool) or not isinstance(label_nc, int)
                                 or not lo <= label_nc <= hi):
        report._fail("label_set", f"label_nc {label_nc!r}: the number of classes must be {int(lo)}..{int(hi)}")
        return report
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
        if on_progress is not None:
            on_progress(report.checked, len(samples))
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
