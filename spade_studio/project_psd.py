"""Layered PSD export of a :class:`spade_studio.project.Project` (with psd-tools): the
memory estimate checked before anything is built, the colour check (a PSD stores colours,
not ids) and the encoder. :func:`spade_studio.project.export_psd` writes the file."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from .project_common import REFERENCE_NAME, RENDER_NAME, ProjectError, _label_rgba

PSD_MAX_SIDE = 30000  # the PSD format's limit (PSB goes beyond; psd-tools writes PSD)
# Peak memory of writing a PSD with psd-tools, a safe bound (F3: 4096x4096 took 2.1 GB and
# nothing was checked). Measured: peak VmHWM of a fresh process that builds a project of random
# full-canvas layers and calls export_psd (the script is in the commit message): one label layer + render 160 B/px at 2048^2 (200 at 1024^2, where the fixed
# part weighs more), three layers + render + reference 197 (236), six 217 (265); these
# constants give 1.19x / 1.28x / 1.18x of the measured peaks.
PSD_BYTES_PER_PX = 130  # per canvas pixel: psd-tools' composite and channel buffers, the encoded output
PSD_BYTES_PER_LAYER_PX = 12  # per pixel of each label layer's stored box
PSD_BYTES_PER_IMAGE_PX = 24  # per pixel of the render and of the reference photo
PSD_FIXED_BYTES = 64 << 20  # psd-tools itself


def check_psd_colors(project: Any, where: str = "project") -> None:
    """A PSD stores colours, not ids: refuse (:class:`ProjectError`) when a label the
    project uses shares its colour with another label of the set."""
    by_color: dict[tuple[int, int, int], list[int]] = {}
    for lab in project.label_set:
        by_color.setdefault(lab.color, []).append(lab.id)
    clashes = []
    for i in project.used_ids():
        try:
            color = project.label_set.by_id(i).color
        except KeyError:
            continue
        others = by_color[color]
        if len(others) > 1:
            clashes.append((i, color, others))
    if clashes:
        i, color, others = clashes[0]
        names = ", ".join(f"{o} {project.label_set.name_of(o)}" for o in others[:4])
        raise ProjectError(f"{where}: a PSD stores colours only, and {len(clashes)} label(s) of the map share "
                           f"a colour with another label (e.g. {names}: {color}), so they could not be told apart: "
                           f"save an .ora project instead (it keeps the ids) or give the labels distinct colours")


def psd_bytes(project: Any) -> int:
    """About how many bytes writing ``project`` as a PSD takes at its peak (a safe bound: see
    :data:`PSD_BYTES_PER_PX`)."""
    h, w = project.shape
    layer_px = 0
    for ly in project.layers:
        if ly.mask is not None and ly.mask.any():
            rows, cols = np.flatnonzero(ly.mask.any(axis=1)), np.flatnonzero(ly.mask.any(axis=0))
            layer_px += (int(rows[-1]) - int(rows[0]) + 1) * (int(cols[-1]) - int(cols[0]) + 1)
        else:
            layer_px += h * w
    images = (project.render is not None) + (project.reference is not None)
    return (PSD_FIXED_BYTES + PSD_BYTES_PER_PX * h * w + PSD_BYTES_PER_LAYER_PX * layer_px
            + PSD_BYTES_PER_IMAGE_PX * images * h * w)


def _amount(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{max(1, round(n / (1 << 20)))} MB"


def encode_psd(project: Any, where: str = "project", memory_budget: int | None = None) -> bytes:
    """The bytes of a layered PSD of ``project``: one RGBA pixel layer per label layer (its
    name, visibility, opacity) in a group "label layers", the render above it, the reference photo
    (hidden) below it. Refused (:class:`ProjectError`) before anything is built when it would
    need more than ``memory_budget`` bytes (default: the memory available now)."""
    project.validate(where)
    h, w = project.shape
    if w > PSD_MAX_SIDE or h > PSD_MAX_SIDE:
        raise ProjectError(f"{where}: {w}x{h} is larger than a PSD allows ({PSD_MAX_SIDE} px a side)")
    if memory_budget is None:
        from .sysmemory import system_memory_available

        memory_budget = system_memory_available()
    need = psd_bytes(project)
    if need > memory_budget:
        raise ProjectError(f"{where}: writing this {w}x{h} PSD ({len(project.layers)} layer(s)) needs about "
                           f"{_amount(need)} of memory and {_amount(memory_budget)} is available: "
                           f"save an .ora project instead (it needs about a fifth of that), or free memory")
    check_psd_colors(project, where)
    from psd_tools import PSDImage
    from psd_tools.api.layers import PixelLayer

    lut = project.label_set.lut(256 if project.dtype == np.uint8 else 65536)
    psd = PSDImage.new("RGB", (w, h), color=(255, 255, 255))
    if project.reference is not None:
        ref = psd.create_pixel_layer(Image.fromarray(project.reference, "RGB"), name=REFERENCE_NAME)
        ref.visible = False
    labels = []
    for ly in project.layers:
        rgba = _label_rgba(ly, lut)
        top = left = 0
        if ly.mask is not None and ly.mask.any():  # store the layer's bounding box only
            rows, cols = np.flatnonzero(ly.mask.any(axis=1)), np.flatnonzero(ly.mask.any(axis=0))
            top, left = int(rows[0]), int(cols[0])
            rgba = rgba[top : int(rows[-1]) + 1, left : int(cols[-1]) + 1]
        layer = PixelLayer.frompil(Image.fromarray(np.ascontiguousarray(rgba), "RGBA"), psd, name="layer",
                                   top=top, left=left)
        layer.name = ly.name[:255]  # the setter stores names a Pascal (Mac Roman) string cannot hold
        layer.opacity = int(round(ly.opacity * 255))
        layer.visible = bool(ly.visible)
        labels.append(layer)
    psd.create_group(labels, name="label layers")
    if project.render is not None:
        psd.create_pixel_layer(Image.fromarray(project.render, "RGB"), name=RENDER_NAME)
    buf = io.BytesIO()
    psd.save(buf)
    return buf.getvalue()
