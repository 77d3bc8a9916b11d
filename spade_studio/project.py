"""Layered projects: OpenRaster ``.ora`` files (save and open) and layered PSD export.

A :class:`Project` is the work in the editor as plain data: the label set, the label layers
(bottom first, each ``ids`` + ``mask`` as in :func:`spade_studio.labelmap.flatten_layers`),
the last render, the reference photo, and the styles (a JSON-able dict as the app describes
them, with the photos they use in ``style_images``).

An ``.ora`` written here opens in Krita, GIMP and MyPaint: a zip whose first entry is the
uncompressed ``mimetype`` (``image/openraster``), then ``stack.xml``, one RGBA PNG per layer
under ``data/`` (label layers in their palette colours, alpha = mask; the render on top; the
reference photo hidden at the bottom), ``mergedimage.png`` and ``Thumbnails/thumbnail.png``.
For an exact round trip the zip also holds ``spade-studio/project.json`` (format version,
the label set, layers, styles) and each layer's ids and mask as lossless PNGs (8- or 16-bit)
in ``spade-studio/``. A file without that folder (made or re-saved by another program) opens
when its layers' colours map to a label set.

Files are untrusted: every size is checked before anything is decompressed or allocated
(the zip's declared entry sizes, the PNG headers' width x height, the number of layers), and
every problem is one :class:`ProjectError` line naming the file and the entry. Saving
builds the whole file first, then replaces the target atomically: a failed save leaves the
old file as it was.

The PSD export's encoder and memory estimate are in :mod:`spade_studio.project_psd`
(re-exported here); :func:`export_psd` writes the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image

from .labelmap import flatten_layers
from .labels import LabelError, LabelSet, format_ids, ids_outside
from .project_archive import (  # noqa: F401 - the archive limits stay importable from here
    MAX_DIRECTORY_BYTES,
    MAX_ENTRIES,
    MAX_ENTRY_BYTES,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    MAX_TOTAL_BYTES,
    _Archive,
    _unsafe_name,
)
from .project_common import REFERENCE_NAME, RENDER_NAME, ProjectError, _label_rgba
from .project_psd import (  # noqa: F401 - re-exported: the PSD export's names stay importable from here
    PSD_BYTES_PER_IMAGE_PX,
    PSD_BYTES_PER_LAYER_PX,
    PSD_BYTES_PER_PX,
    PSD_FIXED_BYTES,
    PSD_MAX_SIDE,
    check_psd_colors,
    encode_psd,
    psd_bytes,
)

__all__ = ["MAX_LAYERS", "MAX_PIXELS", "MAX_SIDE", "ORA_MIMETYPE", "PROJECT_FORMAT", "PROJECT_VERSION", "Project",
           "ProjectError", "ProjectLayer", "encode_psd", "export_psd", "load_ora", "project_from_map", "psd_bytes", "save_ora"]

ORA_MIMETYPE = "image/openraster"
PROJECT_FORMAT = "spade-studio-project"
PROJECT_VERSION = 1
OUR_DIR = "spade-studio/"

# Limits (checked before anything is decompressed; the zip's own in
# :mod:`spade_studio.project_archive`). The total over all layers bounds the memory a file can
# make us allocate (about 3 bytes per pixel and layer: ids + mask).
MAX_LAYERS = 256
MAX_TOTAL_LAYER_PIXELS = 1 << 30
MAX_XML_BYTES = 4 << 20
MAX_JSON_BYTES = 16 << 20
MAX_STACK_DEPTH = 32
MAX_NAME_CHARS = 256
MAX_STYLE_IMAGES = 64
MAX_STYLE_SIDE = 8192
_STYLE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DTYPES = {"uint8": np.uint8, "uint16": np.uint16}


# -- the data ------------------------------------------------------------------------------


@dataclass
class ProjectLayer:
    """One label layer: ``ids`` ``[H, W]`` uint8/uint16, ``mask`` ``[H, W]`` bool (True
    where the layer has a label) or None (filled everywhere). Opacity is for display only."""

    name: str
    ids: np.ndarray
    mask: np.ndarray | None = None
    visible: bool = True
    opacity: float = 1.0
    locked: bool = False


@dataclass
class Project:
    """A layered document. ``layers`` bottom first (the bottom one filled everywhere);
    ``render`` and ``reference`` RGB uint8 ``[H, W, 3]`` of the map's size, or None;
    ``styles`` any JSON-able dict (e.g. ``{"global": {"kind": "preset", "name": "day"},
    "regions": [...]}``) whose image styles refer to ``style_images`` by key (keys of
    letters, digits, ``_`` and ``-``)."""

    label_set: LabelSet
    layers: list[ProjectLayer]
    render: np.ndarray | None = None
    reference: np.ndarray | None = None
    styles: dict = field(default_factory=dict)
    style_images: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the map."""
        return tuple(self.layers[0].ids.shape)  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].ids.dtype

    def flattened(self) -> np.ndarray:
        """The label map the generator sees: the bottom layer (always, as the base: it is
        filled everywhere) under the visible layers above it; the top label wins."""
        stack = [self.layers[0]] + [ly for ly in self.layers[1:] if ly.visible]
        return flatten_layers([(ly.ids, ly.mask) for ly in stack])

    def used_ids(self) -> list[int]:
        """The distinct ids the layers show (under their masks), sorted."""
        found: set[int] = set()
        for ly in self.layers:
            vals = ly.ids if ly.mask is None else ly.ids[ly.mask]
            found.update(int(v) for v in np.unique(vals))
        return sorted(found)

    def validate(self, where: str = "project") -> None:
        """Raise :class:`ProjectError` (one line naming ``where`` and the part) when the
        project cannot be saved or used as it is."""
        if not isinstance(self.label_set, LabelSet):
            raise ProjectError(f"{where}: no label set")
        if not self.layers:
            raise ProjectError(f"{where}: a project needs at least one label layer")
        if len(self.layers) > MAX_LAYERS:
            raise ProjectError(f"{where}: {len(self.layers)} layers: at most {MAX_LAYERS}")
        for i, ly in enumerate(self.layers):
            if not isinstance(ly.name, str) or not ly.name.strip() or len(ly.name) > MAX_NAME_CHARS:
                raise ProjectError(f"{where}: layer {i} needs a name of 1..{MAX_NAME_CHARS} characters")
            if not isinstance(ly.opacity, (int, float)) or isinstance(ly.opacity, bool) \
                    or not math.isfinite(ly.opacity) or not 0.0 <= ly.opacity <= 1.0:
                raise ProjectError(f"{where}: layer {ly.name!r}: opacity {ly.opacity!r} is not in 0..1")
        try:
            flatten_layers([(ly.ids, ly.mask) for ly in self.layers])
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"{where}: {exc}") from None
        h, w = self.shape
        _check_size(w, h, where)
        if len(self.layers) * h * w > MAX_TOTAL_LAYER_PIXELS:
            raise ProjectError(f"{where}: {len(self.layers)} layers of {w}x{h}: more than "
                               f"{MAX_TOTAL_LAYER_PIXELS:,} layer pixels in all")
        for ly in self.layers:
            bad = ids_outside(ly.ids if ly.mask is None else ly.ids[ly.mask], self.label_set.ids)
            if bad:
                raise ProjectError(f"{where}: layer {ly.name!r} holds ids not in the label set "
                                   f"{self.label_set.name!r}: {format_ids(bad)}")
        for what, img in (("render", self.render), ("reference", self.reference)):
            if img is not None:
                _check_rgb(img, f"{where}: {what}")
                if img.shape[:2] != (h, w):
                    raise ProjectError(f"{where}: the {what} is {img.shape[1]}x{img.shape[0]}, the map {w}x{h}")
        if not isinstance(self.styles, dict):
            raise ProjectError(f"{where}: styles must be a dict, got {type(self.styles).__name__}")
        try:
            text = json.dumps(self.styles, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"{where}: styles are not plain JSON data ({exc})") from None
        if len(text) > MAX_JSON_BYTES // 2:
            raise ProjectError(f"{where}: styles take {len(text):,} bytes of JSON: too many")
        if len(self.style_images) > MAX_STYLE_IMAGES:
            raise ProjectError(f"{where}: {len(self.style_images)} style images: at most {MAX_STYLE_IMAGES}")
        for key, img in self.style_images.items():
            if not isinstance(key, str) or not _STYLE_KEY.fullmatch(key):
                raise ProjectError(f"{where}: style image key {key!r}: use 1..64 letters, digits, '_' or '-'")
            _check_rgb(img, f"{where}: style image {key!r}")
            if max(img.shape[:2]) > MAX_STYLE_SIDE:
                raise ProjectError(f"{where}: style image {key!r} is {img.shape[1]}x{img.shape[0]}: "
                                   f"at most {MAX_STYLE_SIDE} px a side")


def project_from_map(ids: np.ndarray, label_set: LabelSet, name: str = "labels", *,
                     render: np.ndarray | None = None, reference: np.ndarray | None = None) -> Project:
    """A one-layer project from a plain label map."""
    return Project(label_set, [ProjectLayer(name, ids, None)], render=render, reference=reference)


def _check_size(w: int, h: int, where: str) -> None:
    if w < 1 or h < 1 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise ProjectError(f"{where}: size {w}x{h} is outside 1..{MAX_SIDE} px a side")


def _check_rgb(img: Any, where: str) -> None:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ProjectError(f"{where}: expected an RGB uint8 [H, W, 3] image, got {got}")


# -- pixels ----------------------------------------------------------------------------------


def _png(img: Image.Image) -> bytes:
    # zlib level 4: measured on a 1024 x 1024 render, 0.19 s / 564 kB against 0.43 s / 531 kB
    # at Pillow's default 6 and 0.15 s / 683 kB at 1
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=4)
    return buf.getvalue()


def _composite(project: Project, lut: np.ndarray, rows: int = 256) -> np.ndarray:
    """RGBA uint8 of the visible layers (src-over with each layer's opacity), as stack.xml
    shows them: label layers, then the render on top. Computed in bands of ``rows`` rows."""
    h, w = project.shape
    out = np.zeros((h, w, 4), np.uint8)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        color = np.zeros((y1 - y0, w, 3), np.float32)
        alpha = np.zeros((y1 - y0, w, 1), np.float32)
        parts: list[tuple[np.ndarray, np.ndarray, float]] = []
        for ly in project.layers:
            if not ly.visible:
                continue
            a = np.ones((y1 - y0, w, 1), np.float32) if ly.mask is None else ly.mask[y0:y1, :, None].astype(np.float32)
            parts.append((lut[ly.ids[y0:y1]].astype(np.float32), a, float(ly.opacity)))
        if project.render is not None:
            parts.append((project.render[y0:y1].astype(np.float32), np.ones((y1 - y0, w, 1), np.float32), 1.0))
        for c, a, opacity in parts:  # premultiplied src-over
            a = a * opacity
            color = c * a + color * (1.0 - a)
            alpha = a + alpha * (1.0 - a)
        safe = np.where(alpha > 0, alpha, 1.0)
        out[y0:y1, :, :3] = np.clip(np.rint(color / safe), 0, 255).astype(np.uint8)
        out[y0:y1, :, 3] = np.clip(np.rint(alpha[..., 0] * 255), 0, 255).astype(np.uint8)
    return out


def _thumbnail(pixels: np.ndarray, side: int = 256) -> Image.Image:
    img = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
    img.thumbnail((side, side), Image.Resampling.BILINEAR)
    return img


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters): stack.xml
    shows ``?`` there; project.json keeps the exact name."""
    return _XML_INVALID.sub("?", text)


def _ids_png(ids: np.ndarray) -> bytes:
    if ids.dtype == np.uint8:
        return _png(Image.fromarray(ids, "L"))
    return _png(Image.fromarray(ids.astype(np.uint16)))  # I;16


def _mask_png(mask: np.ndarray) -> bytes:
    return _png(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L").convert("1"))


# -- save ------------------------------------------------------------------------------------


def encode_ora(project: Project, where: str = "project") -> bytes:
    """The bytes of the ``.ora`` file of ``project`` (validated first)."""
    from . import __version__

    project.validate(where)
    h, w = project.shape
    lut = project.label_set.lut(256 if project.dtype == np.uint8 else 65536)
    buf = io.BytesIO()
    stack: list[str] = []  # top first, as stack.xml lists them

    def layer_xml(name: str, src: str, visible: bool = True, opacity: float = 1.0, locked: bool = False) -> str:
        return (f'  <layer name={quoteattr(_xml_text(name))} src={quoteattr(src)} x="0" y="0" '
                f'opacity="{opacity:.4f}" visibility="{"visible" if visible else "hidden"}" '
                f'edit-locked="{"true" if locked else "false"}" composite-op="svg:src-over"/>')

    meta: dict[str, Any] = {
        "format": PROJECT_FORMAT, "version": PROJECT_VERSION, "app_version": __version__,
        "width": w, "height": h, "dtype": str(project.dtype),
        "label_set": project.label_set.to_dict(), "layers": [], "render": None, "reference": None,
        "styles": project.styles, "style_images": {},
    }
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), ORA_MIMETYPE.encode("ascii"), compress_type=zipfile.ZIP_STORED)

        def put(name: str, data: bytes, deflate: bool = False) -> None:
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)

        if project.render is not None:
            render_png = _png(Image.fromarray(project.render, "RGB"))
            put("data/render.png", render_png)
            stack.append(layer_xml(RENDER_NAME, "data/render.png"))
            meta["render"] = "data/render.png"
        for i in reversed(range(len(project.layers))):
            ly = project.layers[i]
            src = f"data/layer{i:03d}.png"
            put(src, _png(Image.fromarray(_label_rgba(ly, lut), "RGBA")))
            stack.append(layer_xml(ly.name, src, ly.visible, float(ly.opacity), ly.locked))
        for i, ly in enumerate(project.layers):
            entry = {"name": ly.name, "visible": bool(ly.visible), "opacity": float(ly.opacity),
                     "locked": bool(ly.locked), "src": f"data/layer{i:03d}.png",
                     "ids": f"{OUR_DIR}ids/layer{i:03d}.png", "mask": None}
            put(entry["ids"], _ids_png(ly.ids))
            if ly.mask is not None:
                entry["mask"] = f"{OUR_DIR}masks/layer{i:03d}.png"
                put(entry["mask"], _mask_png(ly.mask))
            meta["layers"].append(entry)
        if project.reference is not None:
            put("data/reference.png", _png(Image.fromarray(project.reference, "RGB")))
            stack.append(layer_xml(REFERENCE_NAME, "data/reference.png", visible=False))
            meta["reference"] = "data/reference.png"
        for key, img in project.style_images.items():
            name = f"{OUR_DIR}styles/{key}.png"
            put(name, _png(Image.fromarray(np.ascontiguousarray(img), "RGB")))
            meta["style_images"][key] = name
        xml = ("<?xml version='1.0' encoding='UTF-8'?>\n"
               f'<image version="0.0.6" w="{w}" h="{h}" xres="72" yres="72">\n'
               '<stack name="root">\n' + "\n".join(stack) + "\n</stack>\n</image>\n")
        put("stack.xml", xml.encode("utf-8"), deflate=True)
        if project.render is not None:  # opaque and visible on top: the merged image is the render
            put("mergedimage.png", render_png)
            put("Thumbnails/thumbnail.png", _png(_thumbnail(project.render)))
        else:
            merged = _composite(project, lut)
            put("mergedimage.png", _png(Image.fromarray(merged, "RGBA")))
            put("Thumbnails/thumbnail.png", _png(_thumbnail(merged)))
        put(f"{OUR_DIR}project.json", json.dumps(meta, indent=1).encode("utf-8"), deflate=True)
    return buf.getvalue()


def save_ora(path: str | os.PathLike, project: Project) -> Path:
    """Write ``project`` to ``path`` (an ``.ora``), atomically: the file is complete before it
    replaces the old one, and a failure leaves the old file as it was."""
    from .imageio import atomic_write

    path = Path(path)
    data = encode_ora(project, where=str(path))
    return atomic_write(path, data)


# -- load ------------------------------------------------------------------------------------


def load_ora(path: str | os.PathLike, label_set: LabelSet | None = None) -> Project:
    """Open an ``.ora``. A file written by SPADE Studio carries its label set and exact ids;
    one from another program (Krita, GIMP ...) needs ``label_set``: its layers' colours are
    mapped to ids through it (alpha >= 128 = has a label). Layers named ``render`` and
    ``reference photo`` are taken as the render and the reference photo. Every problem is a
    :class:`ProjectError` naming the file and the entry."""
    path = Path(path)
    arc = _Archive(path)
    try:
        _check_mimetype(arc)
        if arc.has(f"{OUR_DIR}project.json"):
            return _load_ours(arc)
        return _load_foreign(arc, label_set)
    finally:
        arc.close()


def _check_mimetype(arc: _Archive) -> None:
    infos = arc.zip.infolist()
    if not infos or infos[0].filename != "mimetype":
        first = repr(infos[0].filename[:60]) if infos else "nothing"
        raise ProjectError(f"{arc.path}: not an OpenRaster file (the first entry is {first}, not 'mimetype')")
    mt = arc.read("mimetype", limit=256)
    if mt.strip() != ORA_MIMETYPE.encode("ascii"):
        raise ProjectError(f"{arc.path}: mimetype is {mt[:60]!r}, not {ORA_MIMETYPE!r}: not an OpenRaster file")


@dataclass
class _StackLayer:
    name: str
    src: str
    x: int
    y: int
    opacity: float
    visible: bool
    locked: bool


def _read_stack(arc: _Archive) -> tuple[int, int, list[_StackLayer]]:
    """``(w, h, layers bottom first)`` from stack.xml (nested stacks flattened; a hidden
    stack hides its layers)."""
    where = arc.where("stack.xml")
    data = arc.read("stack.xml", limit=MAX_XML_BYTES)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ProjectError(f"{where}: has a DOCTYPE/ENTITY declaration: refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProjectError(f"{where}: not valid XML ({exc})") from None
    if root.tag != "image":
        raise ProjectError(f"{where}: the root element is <{root.tag[:40]}>, not <image>")
    w = _int_attr(root, "w", where)
    h = _int_attr(root, "h", where)
    _check_size(w, h, where)
    top = root.find("stack")
    if top is None:
        raise ProjectError(f"{where}: no <stack> in <image>")
    out: list[_StackLayer] = []

    def walk(node: ET.Element, depth: int, visible: bool, ox: int, oy: int) -> None:
        if depth > MAX_STACK_DEPTH:
            raise ProjectError(f"{where}: stacks nested more than {MAX_STACK_DEPTH} deep")
        for child in node:
            if child.tag == "stack":
                walk(child, depth + 1, visible and child.get("visibility", "visible") != "hidden",
                     ox + _int_attr(child, "x", where, 0), oy + _int_attr(child, "y", where, 0))
            elif child.tag == "layer":
                src = child.get("src")
                if not src:
                    raise ProjectError(f"{where}: a <layer> without src")
                if _unsafe_name(src):
                    raise ProjectError(f"{where}: layer src {src[:100]!r} is an unsafe path: refused")
                name = (child.get("name") or Path(src).stem)[:MAX_NAME_CHARS]
                try:
                    opacity = float(child.get("opacity", "1"))
                except ValueError:
                    raise ProjectError(f"{where}: layer {name!r}: opacity {child.get('opacity')!r} "
                                       f"is not a number") from None
                if not math.isfinite(opacity):
                    raise ProjectError(f"{where}: layer {name!r}: opacity {opacity!r} is not a number")
                out.append(_StackLayer(name, src, ox + _int_attr(child, "x", where, 0),
                                       oy + _int_attr(child, "y", where, 0), min(1.0, max(0.0, opacity)),
                                       visible and child.get("visibility", "visible") != "hidden",
                                       child.get("edit-locked", "false").strip().lower() in ("true", "1")))
                if len(out) > MAX_LAYERS:
                    raise ProjectError(f"{where}: more than {MAX_LAYERS} layers")

    walk(top, 0, True, 0, 0)
    out.reverse()  # stack.xml lists the top first
    return w, h, out


def _int_attr(node: ET.Element, name: str, where: str, default: int | None = None) -> int:
    raw = node.get(name)
    if raw is None:
        if default is None:
            raise ProjectError(f"{where}: <{node.tag}> has no {name} attribute")
        return default
    t = raw.strip()
    if not re.fullmatch(r"[+-]?\d{1,9}", t):
        raise ProjectError(f"{where}: <{node.tag}> {name}={raw[:40]!r} is not a whole number")
    return int(t)


class _NotJSON(ValueError):
    """NaN / Infinity in project.json (Python's json reads them; JSON has no such numbers)."""


def _no_constant(name: str) -> None:
    raise _NotJSON(f"holds {name}, which is not JSON (numbers must be finite)")


def _load_ours(arc: _Archive) -> Project:
    jname = f"{OUR_DIR}project.json"
    where = arc.where(jname)
    try:
        meta = json.loads(arc.read(jname, limit=MAX_JSON_BYTES).decode("utf-8"), parse_constant=_no_constant)
    except _NotJSON as exc:  # NaN / Infinity opened, then no project could be saved from it (Q6)
        raise ProjectError(f"{where}: {exc}") from None
    except UnicodeDecodeError:
        raise ProjectError(f"{where}: not UTF-8 text") from None
    except RecursionError:
        raise ProjectError(f"{where}: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != PROJECT_FORMAT:
        raise ProjectError(f"{where}: not a SPADE Studio project description (format "
                           f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(f"{where}: format version {version!r} is not a whole number")
    if version > PROJECT_VERSION:
        raise ProjectError(f"{where}: made by a newer SPADE Studio ({meta.get('app_version', '?')}, project format "
                           f"version {version}; this one reads up to {PROJECT_VERSION}): update SPADE Studio")
    if version < 1:
        raise ProjectError(f"{where}: format version {version} is not valid")

    def need(key: str, kind: type | tuple[type, ...], ctx: dict = meta, what: str = "") -> Any:
        v = ctx.get(key)
        if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
            kind_name = "number" if isinstance(kind, tuple) else {"str": "string", "dict": "object", "list": "list",
                                                                    "bool": "true/false"}.get(kind.__name__, kind.__name__)
            raise ProjectError(f"{where}: {what}{key!r} is missing or not a {kind_name}")
        return v

    w, h = need("width", int), need("height", int)
    _check_size(w, h, where)
    dtype_name = need("dtype", str)
    if dtype_name not in _DTYPES:
        raise ProjectError(f"{where}: dtype {dtype_name[:20]!r} is not uint8 or uint16")
    dtype = _DTYPES[dtype_name]
    try:
        label_set = LabelSet.from_dict(need("label_set", dict))
    except LabelError as exc:
        raise ProjectError(f"{where}: label set: {exc}") from None
    entries = need("layers", list)
    if not entries:
        raise ProjectError(f"{where}: no layers")
    if len(entries) > MAX_LAYERS:
        raise ProjectError(f"{where}: {len(entries)} layers: at most {MAX_LAYERS}")
    if len(entries) * w * h > MAX_TOTAL_LAYER_PIXELS:
        raise ProjectError(f"{where}: {len(entries)} layers of {w}x{h}: more than "
                           f"{MAX_TOTAL_LAYER_PIXELS:,} layer pixels in all")
    styles = meta.get("styles", {})
    if not isinstance(styles, dict):
        raise ProjectError(f"{where}: 'styles' is not an object")
    layers: list[ProjectLayer] = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ProjectError(f"{where}: layer {i} is not an object")
        ctx = f"layer {i} "
        name = need("name", str, e, ctx)[:MAX_NAME_CHARS].strip() or f"layer {i}"
        visible = need("visible", bool, e, ctx)
        locked = bool(e.get("locked", False)) if isinstance(e.get("locked", False), bool) else False
        opacity = need("opacity", (int, float), e, ctx)
        if not math.isfinite(opacity) or not 0.0 <= opacity <= 1.0:
            raise ProjectError(f"{where}: layer {name!r}: opacity {opacity!r} is not in 0..1")
        ids_name = need("ids", str, e, ctx)
        ids = _decode_ids(arc, ids_name, dtype, (w, h))
        mask = None
        if e.get("mask") is not None:
            mask_name = need("mask", str, e, ctx)
            mask = _decode_mask(arc, mask_name, (w, h))
        where_ids = arc.where(ids_name)
        bad = ids_outside(ids if mask is None else ids[mask], label_set.ids)
        if bad:
            raise ProjectError(f"{where_ids}: layer {name!r} holds ids not in the label set "
                               f"{label_set.name!r}: {format_ids(bad)}")
        if i == 0 and mask is not None and not mask.all():
            raise ProjectError(f"{arc.where(e['mask'])}: the bottom layer {name!r} has "
                               f"{int((~mask).sum()):,} empty pixels: it must be filled everywhere")
        layers.append(ProjectLayer(name, ids, mask, visible, float(opacity), locked))
    render = _decode_rgb(arc, meta["render"], (w, h)) if isinstance(meta.get("render"), str) else None
    reference = _decode_rgb(arc, meta["reference"], (w, h)) if isinstance(meta.get("reference"), str) else None
    style_images: dict[str, np.ndarray] = {}
    si = meta.get("style_images") or {}
    if not isinstance(si, dict):
        raise ProjectError(f"{where}: 'style_images' is not an object")
    if len(si) > MAX_STYLE_IMAGES:
        raise ProjectError(f"{where}: {len(si)} style images: at most {MAX_STYLE_IMAGES}")
    for key, entry in si.items():
        if not _STYLE_KEY.fullmatch(key) or not isinstance(entry, str):
            raise ProjectError(f"{where}: style image {key[:70]!r} has a bad key or entry name")
        style_images[key] = _decode_rgb(arc, entry, None, max_pixels=MAX_STYLE_SIDE * MAX_STYLE_SIDE)
    return Project(label_set, layers, render, reference, styles, style_images)


def _decode_ids(arc: _Archive, name: str, dtype: type, size: tuple[int, int]) -> np.ndarray:
    img = arc.image(name, expect=size)
    if img.mode in ("L", "P"):
        arr = np.array(img, dtype=np.uint8)
        return arr if dtype == np.uint8 else arr.astype(np.uint16)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        if dtype != np.uint16:
            raise ProjectError(f"{arc.where(name)}: 16-bit ids in a project of {np.dtype(dtype).name} maps")
        arr = np.array(img)
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
            raise ProjectError(f"{arc.where(name)}: ids outside 0..65535")
        return arr.astype(np.uint16)
    raise ProjectError(f"{arc.where(name)}: image mode {img.mode} is not an id map (8- or 16-bit grey)")


def _decode_mask(arc: _Archive, name: str, size: tuple[int, int]) -> np.ndarray:
    img = arc.image(name, expect=size)
    if img.mode not in ("1", "L", "P"):
        raise ProjectError(f"{arc.where(name)}: image mode {img.mode} is not a layer mask (1-bit or grey)")
    return np.array(img.convert("L")) > 0


def _decode_rgb(arc: _Archive, name: str, size: tuple[int, int] | None, max_pixels: int | None = None) -> np.ndarray:
    img = arc.image(name, expect=size, max_pixels=max_pixels)
    try:
        return np.array(img.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - exotic modes of a damaged file
        raise ProjectError(f"{arc.where(name)}: cannot convert the image to RGB ({exc})") from None


# A file from another program holds RGBA layers that are decoded in full (about 17 bytes per
# canvas pixel while one is mapped to ids): its canvas is limited so that stays near 1 GB (Q4).
MAX_FOREIGN_PIXELS = 8192 * 8192


def _load_foreign(arc: _Archive, label_set: LabelSet | None) -> Project:
    w, h, stack = _read_stack(arc)
    if w * h > MAX_FOREIGN_PIXELS:
        raise ProjectError(f"{arc.where('stack.xml')}: a {w}x{h} canvas from another program: at most "
                           f"{MAX_FOREIGN_PIXELS:,} pixels open here (its layers are decoded in full)")
    if label_set is None:
        raise ProjectError(f"{arc.path}: has no SPADE Studio data (made or saved by another program?): "
                           f"choose the label set whose colours its layers use")
    labels = [s for s in stack if s.name.strip().lower() not in (RENDER_NAME, REFERENCE_NAME)]
    if not labels:
        raise ProjectError(f"{arc.path}: no label layers (only a render or a reference photo)")
    if len(labels) * w * h > MAX_TOTAL_LAYER_PIXELS:
        raise ProjectError(f"{arc.path}: {len(labels)} layers of {w}x{h}: more than "
                           f"{MAX_TOTAL_LAYER_PIXELS:,} layer pixels in all")
    render = reference = None
    layers: list[ProjectLayer] = []
    for s in stack:
        rgba = _place(arc, s, w, h)
        role = s.name.strip().lower()
        if role in (RENDER_NAME, REFERENCE_NAME):
            rgb = np.ascontiguousarray(rgba[..., :3])
            if role == RENDER_NAME:
                render = rgb
            else:
                reference = rgb
            continue
        mask = rgba[..., 3] >= 128
        where = f"{arc.where(s.src)} (layer {s.name!r})"
        if not layers and not mask.all():
            raise ProjectError(f"{where}: the bottom label layer has {int((~mask).sum()):,} transparent pixels: "
                               f"it must cover the whole map")
        rgb = rgba[..., :3].copy()
        if mask.any():
            ys, xs = np.nonzero(mask)
            rgb[~mask] = rgb[ys[0], xs[0]]  # stand-ins that map (positions in messages stay true)
            try:
                ids = label_set.colors_to_ids(rgb, where=where)
            except LabelError as exc:
                raise ProjectError(f"{exc} (a layer that is a photo can be named "
                                   f"{REFERENCE_NAME!r} to open as the reference photo)") from None
        else:
            ids = np.zeros((h, w), np.uint8 if max(label_set.ids, default=0) < 256 else np.uint16)
        layers.append(ProjectLayer(s.name, ids, None if mask.all() else mask, s.visible, s.opacity, s.locked))
    return Project(label_set, layers, render, reference, {}, {})


def _place(arc: _Archive, s: _StackLayer, w: int, h: int) -> np.ndarray:
    """The layer's PNG as RGBA ``[h, w, 4]`` on the canvas (offset by x, y; clipped)."""
    # a layer may overhang the canvas, but not hold many times its pixels: its header is checked
    # before it is decoded (a 1 MB PNG of 16384x16384 on a 64x64 canvas took 3.3 GB; Q4)
    img = arc.image(s.src, max_pixels=max(4 * w * h, 1 << 20))
    try:
        rgba = np.array(img.convert("RGBA"))
    except MemoryError:
        raise ProjectError(f"{arc.where(s.src)}: not enough memory to decode the layer") from None
    except Exception as exc:  # noqa: BLE001
        raise ProjectError(f"{arc.where(s.src)}: cannot convert the image to RGBA ({exc})") from None
    out = np.zeros((h, w, 4), np.uint8)
    lh, lw = rgba.shape[:2]
    x0, y0 = max(0, s.x), max(0, s.y)
    x1, y1 = min(w, s.x + lw), min(h, s.y + lh)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = rgba[y0 - s.y : y1 - s.y, x0 - s.x : x1 - s.x]
    return out


def export_psd(path: str | os.PathLike, project: Project, memory_budget: int | None = None) -> Path:
    """Write a layered PSD of ``project`` to ``path``, atomically (see :func:`encode_psd`;
    ``memory_budget``: the bytes it may use, default the memory available now)."""
    from .imageio import atomic_write

    path = Path(path)
    return atomic_write(path, encode_psd(project, where=str(path), memory_budget=memory_budget))
