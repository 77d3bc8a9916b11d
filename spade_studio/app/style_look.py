"""A style panel *look* (style A, blend target B and amount, seed, region styles) and its form in
projects: :func:`look_to_project` / :func:`look_from_project` turn a :class:`StyleLook` into the
``styles`` dict (+ ``style_images``) of a :class:`spade_studio.project.Project` and back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .enums import SourceKind
from .region_styles import SEED_MAX, LayerTarget, RegionEntry
from .style_thumbs import StyleSource, _read_style_rgb, preset_paths


@dataclass(frozen=True)
class StyleLook:
    """Everything the panel needs to return to a look (the render history strip keeps one per
    render): style A, the blend target B and amount, the seed box, and the region styles
    (``regions``: the panel's region-style state, when it has any; empty otherwise)."""

    a: StyleSource
    b: StyleSource | None = None
    blend: int = 0  # 0..100, towards b
    seed: int = 0
    regions: tuple = ()

    def describe(self) -> str:
        """A few lines for a tool tip: the style (preset / image file / seed) and the seed."""
        def one(src: StyleSource) -> str:
            if src.kind == SourceKind.SEED:
                return f"random style, seed {src.key}"
            path = Path(str(src.key))
            return f"{'preset' if path.parent.name == 'styles' else 'image'} {path.name}"

        lines = [f"Style: {one(self.a)}"]
        if self.b is not None and self.blend > 0:
            lines.append(f"Blend: {self.blend}% towards {one(self.b)}")
        lines.append(f"Seed: {self.seed}")
        if self.regions:
            lines.append(f"Region styles: {len(self.regions)}")
        return "\n".join(lines)

# -- projects: a look as the project's ``styles`` dict and back ---------------------------------
PROJECT_STYLES_VERSION = 1


def _source_to_project(src: StyleSource, images: dict[str, np.ndarray], keys: dict[str, str]) -> dict | None:
    """``src`` as JSON; an image file's pixels go into ``images`` (once per file)."""
    if src.kind == SourceKind.SEED:
        return {"kind": "seed", "seed": int(src.key)}
    path = Path(str(src.key))
    if path.parent.name == "styles" and path in preset_paths():
        return {"kind": "preset", "name": path.stem}
    if str(path) not in keys:
        rgb = _read_style_rgb(str(path))
        if rgb is None:
            return None  # unreadable now: left out
        keys[str(path)] = key = f"style{len(keys)}"
        images[key] = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8)
    return {"kind": "image", "image": keys[str(path)], "name": src.name}


def look_to_project(look: StyleLook, layer_keys: list[int]) -> tuple[dict, dict[str, np.ndarray]]:
    """``look`` as a project's ``styles`` dict and ``style_images``. ``layer_keys``: the
    document's layer keys, bottom first (a layer target is saved as its index)."""
    images: dict[str, np.ndarray] = {}
    keys: dict[str, str] = {}
    regions = []
    for e in look.regions:
        src = _source_to_project(e.source, images, keys)
        if src is None:
            continue
        if e.layer_key is not None:
            if e.layer_key not in layer_keys:
                continue  # a deleted layer
            target = {"layer": layer_keys.index(e.layer_key), "name": e.name}
        elif e.label is not None:
            target = {"label": int(e.label)}
        else:
            continue  # an explicit mask (API only) is not saved
        regions.append({"target": target, "style": src})
    styles = {
        "version": PROJECT_STYLES_VERSION,
        "a": _source_to_project(look.a, images, keys) or {"kind": "seed", "seed": int(look.seed)},
        "b": None if look.b is None else _source_to_project(look.b, images, keys),
        "blend": int(look.blend),
        "seed": int(look.seed),
        "regions": regions,
    }
    return styles, images


def _source_from_project(d, images: dict, cache_dir: Path, notes: list[str], what: str) -> StyleSource | None:
    if not isinstance(d, dict):
        return None
    kind = d.get("kind")
    if kind == "seed" and isinstance(d.get("seed"), int) and 0 <= d["seed"] <= SEED_MAX:
        return StyleSource.seed(d["seed"])
    if kind == "preset":
        name = str(d.get("name", ""))
        found = [p for p in preset_paths() if p.stem == name]
        if found:
            return StyleSource.image(found[0])
        notes.append(f"{what}: the preset style {name[:40]!r} is not installed")
        return None
    if kind == "image":
        key, name = str(d.get("image", "")), str(d.get("name") or "style")
        rgb = images.get(key)
        if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] >= 3 and rgb.size > 0):
            notes.append(f"{what}: its style image {name[:40]!r} is missing or cannot be decoded")
            return None
        import hashlib

        from spade_studio.imageio import write_image

        rgb = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8)
        digest = hashlib.sha1(rgb.tobytes() + repr(rgb.shape).encode()).hexdigest()[:16]
        safe = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name)[:60] or "style"
        path = cache_dir / digest / f"{safe}.png"
        if not path.is_file():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_image(path, rgb)  # atomic
            except OSError as exc:
                notes.append(f"{what}: cannot write its style image to {path.parent} ({exc.strerror or exc})")
                return None
        return StyleSource.image(path)
    notes.append(f"{what}: not a style the editor knows ({str(kind)[:20]!r})")
    return None


def look_from_project(styles: dict, images: dict, layer_keys: list[int], layer_names: list[str],
                      cache_dir: Path) -> tuple[StyleLook | None, list[str]]:
    """The look a project's ``styles`` describe (None when it describes none), and notes for
    what could not be restored (a missing preset, an undecodable image, a layer that is
    gone): the rest is restored. Embedded images are written under ``cache_dir`` (the panel
    reads styles from files)."""
    notes: list[str] = []
    if not isinstance(styles, dict) or "a" not in styles:
        return None, notes
    seed = styles.get("seed")
    seed = seed if isinstance(seed, int) and 0 <= seed <= SEED_MAX else 0
    a = _source_from_project(styles.get("a"), images, cache_dir, notes, "style A") or StyleSource.seed(seed)
    b = _source_from_project(styles.get("b"), images, cache_dir, notes, "style B") if styles.get("b") else None
    blend = styles.get("blend")
    blend = max(0, min(100, blend)) if isinstance(blend, int) else 0
    regions = []
    for i, r in enumerate(styles.get("regions") or [] if isinstance(styles.get("regions"), list) else []):
        t = r.get("target") if isinstance(r, dict) else None
        if not isinstance(t, dict):
            notes.append(f"region style {i + 1}: no target")
            continue
        if isinstance(t.get("layer"), int):
            idx, name = t["layer"], str(t.get("name", ""))
            if 0 < idx < len(layer_keys) and (not name or layer_names[idx] == name):
                target, tname = LayerTarget(layer_keys[idx]), layer_names[idx]
            elif name in layer_names[1:]:
                j = layer_names.index(name, 1)
                target, tname = LayerTarget(layer_keys[j]), name
            else:
                notes.append(f"region style {i + 1}: its layer {name[:40]!r} is not in the project")
                continue
        elif isinstance(t.get("label"), int):
            target, tname = int(t["label"]), ""
        else:
            notes.append(f"region style {i + 1}: no target")
            continue
        src = _source_from_project(r.get("style"), images, cache_dir, notes, f"region style {i + 1}")
        if src is not None:
            regions.append(RegionEntry(target, src, tname))
    return StyleLook(a, b, blend if b is not None else 0, seed, tuple(regions)), notes
