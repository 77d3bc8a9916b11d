"""A style per region: several style vectors in one render, joined without a seam.

A VAE SPADE model takes its style ``z`` once, through the ``fc`` layer at the lowest
resolution (4x4 cells for the bundled model); after that only the label map modulates the
activations. So a per-region style cannot be a per-pixel input. Here every style runs as its
own *stream* (the same label map, its own ``z``) up to one point of the network, the
*blend level*; there the streams are mixed through the region masks (resized to that level by
area averaging, after a Gaussian feather at full resolution) and one stream runs on:

* ``"latent"``: mix the fc outputs (option a: per-region z at the input; very coarse);
* a block name (``"head_0"`` ... ``"up_3"``): mix that block's output, the later blocks heal
  the boundary (option b);
* ``"image"``: composite the finished renders (option c: feathered masks on RGB).

Default: ``"up_1"`` (for a 256x256 render its 64x64 level, 1/4 of the output resolution) with
a feather of 8 px. ``python bench/regional_style.py`` on the bundled model (AMD EPYC,
avx512_bf16 yes, 2 threads; global style day, region style sunset; three cases: the sea of
sample 3, the sky of sample 4, a painted left half of sample 4; mean of the three, feather 8):

==========  =====  ======  ======
level       seam   own B   own A
==========  =====  ======  ======
latent      1.16   0.47    0.94
head_0      1.31   0.78    0.95
G_middle_1  1.76   0.93    0.99
up_0        1.28   0.95    0.98
up_1        1.23   0.96    0.98
up_2        1.13   0.97    0.98
up_3        0.99   0.96    0.98
image       0.78   0.97    0.97
==========  =====  ======  ======

(seam: gradient energy in a 3 px band along the region boundary over the same band of the two
single-style renders, 1.0 = no extra edge, below 1 = real edges blurred away; own B / own A:
share of the distance between the single-style renders' mean colours that the region / the
rest closes toward its own style, 1.0 = all.) Why ``up_1``: mixing at the input leaves the
region half-styled (0.47); compositing finished renders needs a wide feather to hide the seam
on a painted boundary (22.1 at feather 0, 1.77 at 4) and then blurs the real edges at label
boundaries (0.42 on the sky of sample 4: the mountains fade); at ``up_1`` the two remaining
blocks re-render the boundary, a region closes 96% of the colour distance and a painted
boundary through uniform grass and sky measures 1.61 (label boundaries 0.81-1.26). Feather at
``up_1``: 0 px 4.32 (a hard step), 4 px 1.70, 8 px 1.23, 16 px 1.02 with own colour down to
0.94. Cost: each style runs the blocks up to the blend level (the small maps; the modulation
tables, which depend on the labels only, are shared), the two full-size blocks run once; so
``up_1`` costs less than ``up_3`` / ``image`` (about two renders). The timings of the bench were
not reliable on the shared machine they ran on (load average 8 on 2 cores: the plain render's
own CPU time varied 2x between repeats); ratios measured there for ``up_1``: 1.2x-1.8x (min of
7-9 repeats), ``image`` 1.2x-2.8x.

While the user paints, a map with region styles renders whole at every preview: the stroke
renderer keeps one stream's activations and cannot keep several exactly (measured in the same
bench: a 256x256 brush dab 238 ms as a stroke update, 449 ms as a whole preview with one region
style, CPU time).

Tiled renders and panoramas (:mod:`.tiling`) apply region styles too: the masks are feathered
on the whole canvas (circularly in x for a panorama, ``stream_weights(..., wrap=True)``) and
each tile mixes its crop of them at the same level, so a tiled two-style render is the one-go
render (``bench/tiling.py --regions``: max 1, mean 0.000 on 0..255).

Models without a VAE (label-map input, e.g. the official ones) have no style vector at all:
region styles are refused with :class:`RegionStyleError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spade_studio.labels import LabelError, LabelSet

from .generator import upsample2x

DEFAULT_LEVEL = "up_1"
DEFAULT_FEATHER = 8.0  # px at full resolution (Gaussian sigma)
MAX_REGIONS = 16


class RegionStyleError(LabelError):
    """Region styles that cannot be used (model, target, mask): one line saying which."""


@dataclass(frozen=True)
class RegionStyle:
    """A style for part of the canvas: ``mask`` ``(H, W)`` bool or float in [0, 1] (the
    share of this style), ``z`` ``[1, z_dim]``; ``name`` is for messages only."""

    mask: np.ndarray
    z: torch.Tensor
    name: str = ""


def levels(layout: Sequence[tuple[str, bool, bool]]) -> list[str]:
    """The blend levels of a generator with this block ``layout``, input first."""
    return ["latent"] + [name for name, _, _ in layout] + ["image"]


# -- targets ---------------------------------------------------------------------------------
def resolve_label(label_set: LabelSet, target: str | int, where: str = "region") -> int:
    """A label name (case-insensitive, as the label set spells it) or id -> its id."""
    if isinstance(target, (int, np.integer)):
        lid = int(target)
    else:
        text = str(target).strip()
        lid = label_set.id_of(text)
        if lid is None:
            try:
                lid = int(text)
            except ValueError:
                names = ", ".join(lab.name for lab in list(label_set)[:20])
                raise RegionStyleError(f"{where}: no label named {text!r} in '{label_set.name}' ({names})") from None
    if lid not in label_set.ids:
        raise RegionStyleError(f"{where}: label id {lid} is not in '{label_set.name}' "
                               f"(ids {min(label_set.ids)}..{max(label_set.ids)})")
    return lid


def label_mask(label_map: np.ndarray, label_id: int) -> np.ndarray:
    """Where the (flattened) label map has ``label_id``: bool ``(H, W)``."""
    return np.asarray(label_map) == int(label_id)


def check_region_styles(regions: Sequence[RegionStyle] | Sequence[tuple], h: int, w: int, z_dim: int,
                        uses_style: bool, model_name: str = "model",
                        where: str = "label map") -> list[RegionStyle]:
    """The regions as :class:`RegionStyle` with float32 masks, checked against an ``h x w`` map
    and the model (before anything large is allocated)."""
    out: list[RegionStyle] = []
    regions = list(regions or [])
    if not regions:
        return out
    if not uses_style:
        raise RegionStyleError(f"{where}: region styles need a model with a style vector (VAE); "
                               f"{model_name} takes only the label map")
    if len(regions) > MAX_REGIONS:
        raise RegionStyleError(f"{where}: {len(regions)} region styles, at most {MAX_REGIONS}")
    for i, r in enumerate(regions):
        if not isinstance(r, RegionStyle):
            r = RegionStyle(*r)
        what = f"{where}: region style {i + 1}" + (f" ({r.name})" if r.name else "")
        m = np.asarray(r.mask)
        if m.shape != (h, w):
            raise RegionStyleError(f"{what}: mask is {m.shape[1] if m.ndim > 1 else '?'}x{m.shape[0] if m.ndim else '?'}, "
                                   f"the label map {w}x{h}")
        if m.dtype == bool:
            mf = m.astype(np.float32)
        elif np.issubdtype(m.dtype, np.number):
            mf = m.astype(np.float32)
            if not np.isfinite(mf).all() or mf.min() < 0 or mf.max() > 1:
                raise RegionStyleError(f"{what}: mask values must lie in 0..1")
        else:
            raise RegionStyleError(f"{what}: mask must be bool or numbers, not {m.dtype}")
        z = torch.as_tensor(r.z).detach().float().cpu()
        if z.numel() != z_dim or not bool(torch.isfinite(z).all()):
            raise RegionStyleError(f"{what}: style vector must be {z_dim} finite numbers, got shape {tuple(z.shape)}")
        out.append(RegionStyle(mf, z.reshape(1, z_dim), r.name))
    return out


def pad_regions(regions: list[RegionStyle], ph: int, pw: int) -> list[RegionStyle]:
    """Masks padded as the label map is (edge values repeated) to the rendered size."""
    out = []
    for r in regions:
        h, w = r.mask.shape
        m = r.mask if (h, w) == (ph, pw) else np.pad(r.mask, ((0, ph - h), (0, pw - w)), mode="edge")
        out.append(RegionStyle(m, r.z, r.name))
    return out



# -- styles named on a command line ------------------------------------------------------------
STYLE_KINDS = ("image", "preset", "seed")
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class StyleFor:
    """One ``LABEL=STYLE`` of ``--style-for``: ``kind`` image (a file), preset (a name in
    resources/styles) or seed; ``value`` the path, preset name or seed."""

    label: str
    kind: str
    value: str | int
    text: str


def preset_styles() -> dict[str, str]:
    """The shipped preset styles: name (lower case) -> image path."""
    from spade_studio.paths import resources_dir

    try:
        folder = resources_dir() / "styles"
    except FileNotFoundError:
        return {}
    suffixes = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
    return {p.stem.lower(): str(p) for p in sorted(folder.glob("*")) if p.suffix.lower() in suffixes}


def parse_style_for(text: str, option: str = "--style-for") -> StyleFor:
    """``LABEL=IMG``, ``LABEL=preset:NAME`` or ``LABEL=seed:N`` (syntax, preset names, seeds and
    that the image file exists are checked here; the label against the model later)."""
    label, sep, spec = str(text).partition("=")
    label, spec = label.strip(), spec.strip()
    if not sep or not label or not spec:
        raise RegionStyleError(f"{option} {text!r}: give LABEL=IMAGE, LABEL=preset:NAME or LABEL=seed:N")
    head, colon, rest = spec.partition(":")
    if colon and head.lower() == "seed":
        try:
            seed = int(rest)
        except ValueError:
            raise RegionStyleError(f"{option} {text!r}: seed {rest!r} is not a whole number") from None
        if not 0 <= seed <= MAX_SEED:
            raise RegionStyleError(f"{option} {text!r}: seed {seed}: give 0..{MAX_SEED}")
        return StyleFor(label, "seed", seed, text)
    if colon and head.lower() == "preset":
        presets = preset_styles()
        name = rest.strip().lower()
        if name not in presets:
            raise RegionStyleError(f"{option} {text!r}: no preset style {rest!r} "
                                   f"({', '.join(sorted(presets)) or 'none shipped'})")
        return StyleFor(label, "preset", presets[name], text)
    from pathlib import Path

    path = Path(spec)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file" if not path.exists() else "not a regular file"
        raise RegionStyleError(f"{option} {text!r}: {path}: {what}, not a style image")
    return StyleFor(label, "image", str(path), text)


def style_for_z(synth, spec: StyleFor, option: str = "--style-for") -> torch.Tensor:
    """The style vector of ``spec`` for ``synth`` (images need its encoder)."""
    if spec.kind == "seed":
        return synth.random_z(int(spec.value))
    if not synth.has_encoder:
        raise RegionStyleError(f"{option} {spec.text!r}: the model has no style encoder ({synth.label_set.name}): "
                               f"use LABEL=seed:N")
    from spade_studio.imageio import ImageReadError, read_rgb

    try:
        rgb = read_rgb(spec.value)
    except ImageReadError as e:
        raise RegionStyleError(f"{option} {spec.text!r}: {e}") from None
    return synth.encode_style(rgb)


def label_regions(label_map: np.ndarray, targets: Sequence[tuple[int, torch.Tensor, str]],
                  label_set: LabelSet | None = None) -> tuple[list[RegionStyle], list[str]]:
    """``(label id, z, name)`` targets -> the region styles of this map (masks where it has
    each label) and notes for the labels it does not have (those are left out)."""
    out, notes = [], []
    for lid, z, name in targets:
        mask = label_mask(label_map, lid)
        if not mask.any():
            shown = label_set.name_of(lid) if label_set is not None else f"id {lid}"
            notes.append(f"region style {name or shown}: label {shown} ({lid}) is not in the map; ignored")
            continue
        out.append(RegionStyle(mask, z, name))
    return out, notes

# -- weights ---------------------------------------------------------------------------------
def hard_weights(masks: Sequence[np.ndarray], h: int, w: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per stream shares ``[1 + len(masks), H, W]`` summing to 1 at every pixel: stream 0 is the
    global style; a later mask lies over the earlier ones (alpha compositing)."""
    wts = torch.zeros(1 + len(masks), h, w, device=device)
    wts[0] = 1.0
    for i, m in enumerate(masks, start=1):
        a = torch.as_tensor(np.asarray(m, dtype=np.float32), device=device)
        wts[:i] *= 1.0 - a
        wts[i] = a
    return wts


def stream_weights(masks: Sequence[np.ndarray], h: int, w: int, feather: float, hw: tuple[int, int],
                   device: torch.device | str = "cpu", wrap: bool = False) -> torch.Tensor:
    """The shares of :func:`hard_weights` feathered by a Gaussian of ``feather`` px (sigma, at
    full resolution) and resized to ``hw``: ``[K, 1, h, w]``, summing to 1.

    The blur runs at a reduced resolution (every op here is linear and keeps constants, so the
    shares still sum to 1): ``d = feather / 2`` px per cell, no coarser than ``hw``. ``wrap``:
    the x axis is a circle (a panorama): the blur and the resize cross the left/right seam."""
    wts = hard_weights(masks, h, w, device)[:, None]  # [K, 1, H, W]
    scale = max(1, min(h // max(hw[0], 1), w // max(hw[1], 1)))
    d = max(1, min(int(feather // 2), scale)) if feather > 0 else scale
    if d > 1:
        wts = F.adaptive_avg_pool2d(wts, (-(-h // d), -(-w // d)))
    if feather > 0:
        wts = gaussian_blur(wts.transpose(0, 1), feather / d, wrap=wrap).transpose(0, 1)
    if tuple(wts.shape[-2:]) == tuple(hw):
        return wts
    if wts.shape[-2] >= hw[0] and wts.shape[-1] >= hw[1]:
        return F.adaptive_avg_pool2d(wts, hw)
    if wrap:
        return periodic_resize(wts, hw)
    return F.interpolate(wts, size=hw, mode="bilinear", align_corners=False)


def periodic_resize(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (``align_corners=False``) whose x axis is a circle: the last column
    blends into the first, so the result is periodic in x (panoramas: the latent of
    :mod:`.tiling`, region weights)."""
    lh, lw = hw
    x = F.interpolate(x, size=(lh, x.shape[-1]), mode="bilinear", align_corners=False)
    sw = x.shape[-1]
    u = (torch.arange(lw, dtype=torch.float64) + 0.5) * sw / lw - 0.5
    i0 = torch.floor(u)
    f = (u - i0).to(x.dtype).to(x.device)
    i0 = i0.long() % sw
    i1 = (i0 + 1) % sw
    return x[..., i0] * (1 - f) + x[..., i1] * f


def gaussian_blur(x: torch.Tensor, sigma: float, wrap: bool = False) -> torch.Tensor:
    """Separable Gaussian blur of ``[N, C, H, W]`` (borders replicated; ``wrap``: x circular)."""
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t * t) / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    if wrap:  # the kernel may be wider than the panorama: take the columns modulo its width
        cols = torch.arange(-r, x.shape[-1] + r, device=x.device) % x.shape[-1]
        x = x.index_select(3, cols)
    else:
        x = F.pad(x, (r, r, 0, 0), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode="replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


# -- the network in stages -------------------------------------------------------------------
class _Stages:
    """A generator cut into its latent, blocks and output conv (fast path or plain network)."""

    def __init__(self, fast, idx: torch.Tensor, edge: torch.Tensor | None, use_fast: bool, lowp: bool,
                 sem: torch.Tensor | None = None, origin_px: tuple[int, int] = (0, 0),
                 period_px: int | None = None) -> None:
        self.fast = fast  # FastGenerator (its .plain is the network)
        # where these labels lie in the canvas (a tile of it), in output pixels: noise inputs
        self.origin_px, self.period_px = origin_px, period_px
        self.plain = fast.plain
        self.layout = fast.layout()
        self.idx, self.edge = idx, edge
        self.use_fast = use_fast
        self.lowp = lowp  # preview precision in the fast path
        if use_fast:
            self.codes = fast.codes(idx, edge)
            self.tables = None
            self.pats: dict = {}
            self.mods: dict = {}  # block index -> its modulation tables (shared by the streams)
            self.sem = None
        else:
            self.sem = sem if sem is not None else fast.one_hot(idx, edge).contiguous(memory_format=torch.channels_last)

    def latent(self, z: torch.Tensor, lhw: tuple[int, int]) -> torch.Tensor:
        if self.use_fast:
            return self.fast._latent(self.idx, self.edge, z, lhw).contiguous(memory_format=torch.channels_last)
        return self.plain.latent(self.sem, z, lhw)

    def block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        name, up_before, _ = self.layout[i]
        if up_before:
            x = upsample2x(x, self.plain.cfg.upsampling)
        if self.use_fast:
            if self.tables is None:
                self.tables = self.fast.block_tables(x.device, x.dtype)
            hw = (int(x.shape[-2]), int(x.shape[-1]))
            if hw not in self.pats:
                self.pats[hw] = self.fast.patterns_at(self.codes, hw)
            lowp = self.fast.block_lowp(name) if self.lowp else None
            x = self._fast_block(i, getattr(self.plain, name), x, self.pats[hw], lowp)
            return self.fast.add_noise(getattr(self.plain, name), x, *self._place(name))
        x = getattr(self.plain, name)(x, self.sem)
        return self.plain.add_noise(name, x, *self._place(name))

    def _place(self, name: str) -> tuple[tuple[int, int], int | None]:
        return self.plain.noise_place(name, self.origin_px, self.period_px)

    def _fast_block(self, i: int, blk, x: torch.Tensor, pat, lowp) -> torch.Tensor:
        """``FastGenerator.block`` with its modulation tables computed once for all streams:
        they depend on the labels only, not on the style (measured: a third of the time of
        the low-resolution blocks)."""
        fast = self.fast
        mods = self.mods.get(i)
        if mods is None:
            mods = self.mods[i] = fast._modulations(self.tables[i], pat, lowp)
        return fast._block(blk, x, mods, pat, lowp)

    def after(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """The upsampling that follows block ``i`` (head_0, and G_middle_0 in 'more' models)."""
        if self.layout[i][2]:
            x = upsample2x(x, self.plain.cfg.upsampling)
        return x

    def to_image(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_fast:
            return self.fast.to_image(x)
        return torch.tanh(self.plain.conv_img(F.leaky_relu(x, 0.2)))


def blend_render(stages: _Stages, zs: Sequence[torch.Tensor], masks: Sequence[np.ndarray], lhw: tuple[int, int],
                 level: str = DEFAULT_LEVEL, feather: float = DEFAULT_FEATHER) -> torch.Tensor:
    """Run each ``z`` of ``zs`` (the global style, then one per mask) to ``level``, mix them
    through the feathered ``masks`` (:func:`stream_weights`), run the rest once. Returns the
    image ``[1, 3, H, W]`` in [-1, 1]."""
    names = levels(stages.layout)
    if level not in names:
        raise ValueError(f"blend level {level!r}: one of {', '.join(names)}")
    if len(zs) != len(masks) + 1:
        raise ValueError(f"{len(zs)} styles for {len(masks)} masks: give the global style and one per mask")
    stop = names.index(level)  # blocks each stream runs (len(layout) + 1: the image too)
    n_blocks = len(stages.layout)
    h, w = stages.idx.shape[-2:]
    mixed = wts = None
    for k, z in enumerate(zs):
        x = stages.latent(z, lhw)
        for i in range(min(stop, n_blocks)):
            x = stages.block(i, x)
            if i < stop - 1:
                x = stages.after(i, x)
        if stop > n_blocks:
            x = stages.to_image(x)
        if wts is None:
            wts = stream_weights(masks, int(h), int(w), feather, (int(x.shape[-2]), int(x.shape[-1])),
                                 x.device).to(x.dtype)
        mixed = x * wts[k:k + 1] if mixed is None else mixed.add_(x * wts[k:k + 1])
    x = mixed
    if stop > n_blocks:
        return x
    if stop >= 1:
        x = stages.after(stop - 1, x)
    for i in range(stop, n_blocks):
        x = stages.block(i, x)
        x = stages.after(i, x)
    return stages.to_image(x)


def render_regions(synth, idx: torch.Tensor, edge: torch.Tensor | None, z: torch.Tensor,
                   regions: Sequence[RegionStyle], lhw: tuple[int, int], quality: str = "exact",
                   level: str = DEFAULT_LEVEL, feather: float = DEFAULT_FEATHER,
                   lab: torch.Tensor | None = None, inst: torch.Tensor | None = None) -> torch.Tensor:
    """The render of a :class:`~spade_studio.model.synthesize.Synthesizer` with region styles
    (checked and padded): ``idx``/``edge`` from :func:`label_indices`, ``z`` the global style.

    The fast path (fp32 CPU; preview adds its reduced precision) when the synthesizer uses
    it, else the plain network (``fast=False``, bf16 autocast, GPUs). Live stroke updates are
    not used: every call renders whole."""
    fast = synth.G_preview if quality == "preview" else synth.G_exact
    use_fast = (synth.fast and synth.precision != "bf16" and idx.device.type == "cpu"
                and fast.fallback_reason is None and fast._grad_reason() is None)
    masks = [r.mask for r in regions]
    zs = [z.reshape(1, -1)] + [r.z.to(idx.device).reshape(1, -1) for r in regions]
    if use_fast:
        stages = _Stages(fast, idx, edge, True, quality == "preview")
        return blend_render(stages, zs, masks, lhw, level, feather)
    from .semantics import make_semantics

    sem = make_semantics(lab, inst, synth.config).contiguous(memory_format=torch.channels_last) \
        if lab is not None else None
    stages = _Stages(synth.G_exact, idx, edge, False, False, sem=sem)
    with torch.autocast(idx.device.type, dtype=torch.bfloat16, enabled=synth.precision == "bf16"):
        return blend_render(stages, zs, masks, lhw, level, feather)


def label_indices_for(synth, label: np.ndarray, instance: np.ndarray | None = None):
    """``label_indices`` of a numpy map for ``synth`` (bench and tests call :func:`render_regions`
    directly with these)."""
    from .semantics import label_indices

    lab_t = torch.from_numpy(np.asarray(label).astype(np.int64))[None, None].to(synth.device)
    inst_t = None if instance is None else torch.from_numpy(np.asarray(instance).astype(np.int64))[None, None]
    return label_indices(lab_t, inst_t, synth.config)

# -- measures (bench/regional_style.py and the tests) ----------------------------------------
def boundary_band(mask: np.ndarray, width: int = 3) -> np.ndarray:
    """Pixels within ``width`` px of where the bool ``mask`` changes (4-neighbours)."""
    m = np.asarray(mask) > 0.5
    edge = np.zeros_like(m)
    edge[:, 1:] |= m[:, 1:] != m[:, :-1]
    edge[:, :-1] |= m[:, 1:] != m[:, :-1]
    edge[1:] |= m[1:] != m[:-1]
    edge[:-1] |= m[1:] != m[:-1]
    if width <= 0 or not edge.any():
        return edge
    t = torch.from_numpy(edge.astype(np.float32))[None, None]
    grown = F.max_pool2d(t, 2 * width + 1, stride=1, padding=width)[0, 0] > 0
    return grown.numpy()


def gradient_energy(rgb: np.ndarray, where: np.ndarray) -> float:
    """Mean squared colour gradient (forward differences, all channels) over ``where``."""
    x = np.asarray(rgb, dtype=np.float32)
    gx = np.zeros(x.shape[:2], np.float32)
    gy = np.zeros(x.shape[:2], np.float32)
    gx[:, :-1] = ((x[:, 1:] - x[:, :-1]) ** 2).sum(-1)
    gy[:-1] = ((x[1:] - x[:-1]) ** 2).sum(-1)
    sel = np.asarray(where, bool)
    return float((gx + gy)[sel].mean()) if sel.any() else 0.0


def seam_index(mixed: np.ndarray, singles: Sequence[np.ndarray], mask: np.ndarray, width: int = 3) -> float:
    """Gradient energy of ``mixed`` in the band along ``mask``'s boundary over the mean of the
    same band in the single-style renders ``singles``: 1.0 = no extra edge."""
    band = boundary_band(mask, width)
    ref = float(np.mean([gradient_energy(s, band) for s in singles]))
    return gradient_energy(mixed, band) / max(ref, 1e-6)


def colour_shift(mixed: np.ndarray, own: np.ndarray, other: np.ndarray, where: np.ndarray) -> float:
    """Share of the distance between the mean colours of ``other`` and ``own`` (single-style
    renders) over ``where`` that ``mixed`` closes: 0 = like ``other``, 1 = like ``own``."""
    sel = np.asarray(where) > 0.5
    m, a, b = (np.asarray(v, np.float64)[sel].mean(0) for v in (mixed, own, other))
    d = a - b
    return float(np.dot(m - b, d) / max(float(np.dot(d, d)), 1e-9))
