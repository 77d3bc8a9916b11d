"""Big canvases in overlapping tiles, and 360° panoramas that wrap horizontally.

A canvas renders in tiles when it would not fit in memory in one go (or when asked). Every
tile shares the canvas's one latent (the low-resolution input of the generator): for VAE
models the learned grid resized to the whole canvas from one ``z``, for label-map models the
first conv over the whole canvas's downsampled labels; each tile reads its crop of it, so
tiles start from the same values a one-go render would. Tile borders sit on the latent
stride. Neighbouring tiles overlap by ``2 * half_overlap`` px and are blended with
raised-cosine weights (``sin²`` rising, ``cos²`` falling: they sum to exactly 1), one tile at
a time into a preallocated float32 canvas; the largest allocation besides it is one tile.

**Panorama** (``wrap=True``): the x axis is a circle. Tile columns are taken modulo the
width, the latent is made periodic (VAE: the learned grid interpolated around the circle;
label-map models: the first conv pads circularly) and the tiles around the circle blend like
any other neighbours, including the one that crosses the seam. The left and right edges of
the result continue each other, so it views as a 360° image. A panorama that fits in one
tile is one tile of ``width + 2 * half_overlap`` columns blended with itself across the seam.

**Overlap, by measurement** (``bench/tiling.py``, the bundled model, a painted 1024x512 map
in 256-px tiles against its one-go render): see :data:`DEFAULT_HALF_OVERLAP`.

**Region styles** (:mod:`.regional`): every style runs the low-resolution stage on the whole
canvas (one stored activation each, 1/16 of the canvas); in a tile each style's stream runs
from its crop to the blend level, the streams mix through the tile's crop of the masks
feathered on the whole canvas (circularly in x for a panorama), so overlapping tiles mix
alike, and the remaining blocks run once. Measured (``bench/tiling.py --regions``, 1024x512,
384-px tiles, a second style on the left 40 %): max 1 / mean 0.000 on 0..255 against the
one-go two-style render, as for one style.

Instance-norm SPADE models normalise with a tile's own statistics, so their tiles are not
the one-go render (a note says so).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spade_studio.labels import LabelError

from .generator import upsample2x
from .memory import CanvasTooLargeError, estimate_render_bytes, region_canvas_bytes, region_stream_bytes
from .regional import periodic_resize as _periodic_resize

# Measured (bench/tiling.py, bundled model, 1024x512 painted map, 256-px tiles, max / mean
# |tiled - one go| on 0..255): see the README's "Big canvases" section for the table.
DEFAULT_HALF_OVERLAP = 32
DEFAULT_MARGIN = 32
# a panorama's low-resolution stage runs on the canvas extended circularly by this many latent
# cells on each side (its convolutions see that far), then cropped: periodic in x
STAGE_A_PAD_CELLS = 8
# the blocks run once on the whole canvas (low resolution: 1/16 or 1/32 of the canvas)
STAGE_A = ("head_0", "G_middle_0", "G_middle_1")


class TileError(LabelError):
    """A tile size that cannot be used for this canvas and model."""


class RenderCancelled(RuntimeError):
    """A tiled render stopped by its ``cancel`` callback; nothing was produced."""


ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class AxisTile:
    """One tile along one axis: canvas coordinates ``[start, stop)`` (modulo the length when
    wrapping) and its blend weight per coordinate."""

    start: int
    stop: int
    weight: np.ndarray  # float32 [stop - start]

    @property
    def size(self) -> int:
        return self.stop - self.start


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine rise over ``n`` samples: ``sin²``; ``1 - ramp`` is the matching fall."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    return (np.sin(0.5 * np.pi * t) ** 2).astype(np.float32)


def axis_tiles(length: int, tile: int, half: int, stride: int, wrap: bool = False,
               margin: int = 0) -> list[AxisTile]:
    """Tiles covering ``[0, length)`` (a multiple of ``stride``), each at most ``tile`` long,
    neighbours blending over ``2 * half`` px, plus ``margin`` px of context on each side that
    is rendered but weighs 0 (where a tile's own border still shows). The weights of all tiles
    sum to 1 everywhere."""
    units = length // stride
    if not wrap and length <= tile:
        return [AxisTile(0, length, np.ones(length, np.float32))]
    n = max(1, math.ceil(length / (tile - 2 * half - 2 * margin)))
    n = min(n, units, max(1, length // (2 * half)))  # segments no shorter than one blend
    bounds = [round(k * units / n) * stride for k in range(n + 1)]
    rise = _ramp(2 * half)
    out = []
    for k in range(n):
        s0, s1 = bounds[k], bounds[k + 1]
        a, b = s0 - half - margin, s1 + half + margin
        if not wrap:
            a, b = max(0, a), min(length, b)
        w = np.ones(b - a, np.float32)
        if wrap or k > 0:
            lo = s0 - half - a  # where the rise starts in the tile
            w[:lo] = 0.0
            w[lo:lo + 2 * half] = rise
        if wrap or k < n - 1:
            hi = s1 - half - a  # where the fall starts
            w[hi:hi + 2 * half] *= 1.0 - rise
            w[hi + 2 * half:] = 0.0
        out.append(AxisTile(a, b, w))
    return out


@dataclass(frozen=True)
class TilePlan:
    """How one canvas renders: its padded size, the tile size and the tiles per axis."""

    height: int  # the padded canvas (multiples of the stride)
    width: int
    tile: int
    half_overlap: int
    margin: int
    wrap: bool
    rows: tuple[AxisTile, ...]
    cols: tuple[AxisTile, ...]

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def largest(self) -> tuple[int, int]:
        return max(r.size for r in self.rows), max(c.size for c in self.cols)

    def describe(self) -> str:
        th, tw = self.largest
        what = "panorama (wraps horizontally)" if self.wrap else "canvas"
        return (f"{what} rendered in {self.count} tile(s) of up to {tw}x{th} px "
                f"({len(self.cols)} x {len(self.rows)}, blended over {2 * self.half_overlap} px)")


def fixed_bytes(cfg, h: int, w: int, wrap: bool = False, styles: int = 1) -> int:
    """Memory a tiled render holds for the whole canvas besides its tile: the float32 blend
    canvas, the uint8 result, the int64 label indices and their padded copy, and the
    low-resolution stage run on the whole canvas (at 1/16 of the canvas, ``16 ngf`` channels:
    about five activations of ``ngf / 16`` floats per canvas pixel, and its window ids)."""
    per_px = 12 + 3 + 8 + 8 + 8 + 4 * 5 * cfg.ngf / 16 + 8
    ext = STAGE_A_PAD_CELLS * cfg.stride * 2 if wrap else 0
    return int(per_px * h * (w + ext)) + region_canvas_bytes(cfg, h, w + ext, styles)


def min_tile(stride: int, half: int, margin: int) -> int:
    """The smallest tile: its margins, and a middle at least as long as one blend (so that
    only two tiles ever blend at one place), on the stride."""
    return -(-(4 * half + 2 * margin) // stride) * stride


def plan_tiles(synth, h: int, w: int, tile: int | str | None, wrap: bool, where: str = "label map",
               half_overlap: int | None = None, margin: int | None = None, styles: int = 1) -> TilePlan | None:
    """The tiles for an ``h x w`` canvas, or None when it renders in one go.

    ``tile``: ``"auto"`` (one go when the canvas fits in memory and does not wrap, else the
    largest tile that fits, at most :data:`MAX_AUTO_TILE`), an int (tiles of that many px;
    a multiple of the model's stride), or None (one go unless ``wrap``, which then means auto).
    ``styles``: the global style plus the region styles (each runs its own stream up to the
    blend level: :func:`.memory.region_stream_bytes` per tile, :func:`.memory.region_canvas_bytes`
    for the whole canvas). Bad tile sizes raise :class:`TileError` before anything is allocated."""
    s = synth.stride
    half = DEFAULT_HALF_OVERLAP if half_overlap is None else int(half_overlap)
    half = max(s, -(-half // s) * s)  # on the stride: tiles start where latent cells start
    margin = DEFAULT_MARGIN if margin is None else int(margin)
    margin = -(-margin // s) * s
    ctx = 2 * half + 2 * margin  # what a tile spends on its neighbours
    if tile is None:
        tile = "auto" if wrap else None
    if tile is None:
        return None
    if wrap and w % s:
        raise TileError(f"{where}: a panorama's width must be a multiple of {s} (the model's latent stride), "
                        f"not {w}: use {w // s * s or s} or {(w // s + 1) * s}")
    ph, pw, _ = synth.plan_size(h, w)
    budget = synth.memory_available()
    if isinstance(tile, str):
        if tile != "auto":
            raise TileError(f"{where}: tile must be 'auto' or a number of pixels, not {tile!r}")
        if not wrap and synth.one_go_bytes(h, w, styles) <= budget:
            return None
        room = budget - fixed_bytes(synth.config, ph, pw, wrap, styles)
        longest = max(ph, pw + (ctx if wrap else 0))

        def need(size: int) -> int:
            th, tw = min(size, ph), min(size, pw + ctx if wrap else pw)
            return (estimate_render_bytes(synth.config, th, tw, fast=synth.one_go_fast, keep=False)
                    + region_stream_bytes(synth.config, th, tw, styles))

        size = max(longest // s * s, min_tile(s, half, margin))
        while size > min_tile(s, half, margin) and need(size) > room:
            size -= s
        if need(size) > room:
            gb = 1024**3
            raise CanvasTooLargeError(
                f"{where}: a {w}x{h} canvas does not fit in {budget / gb:.1f} GB even in the smallest tiles "
                f"({size} px): free memory or render a smaller canvas")
        tile_px = size
    else:
        tile_px = int(tile)
        # "larger than the canvas" first: a tile of 99999 px on 64x64 is wrong for that
        # reason, whatever its stride
        if tile_px > max(h, w) and not wrap:
            raise TileError(f"{where}: tile {tile_px} is larger than the {w}x{h} canvas: it renders in one go; "
                            "omit the tile size or use 'auto'")
        if wrap and tile_px > max(h, w + ctx):
            raise TileError(f"{where}: tile {tile_px} is larger than the {w}x{h} panorama needs "
                            f"(at most {max(h, w + ctx) // s * s}); use a smaller tile or 'auto'")
        if tile_px % s or tile_px <= 0:
            lo, hi = max(s, tile_px // s * s), max(s, (tile_px // s + 1) * s)
            hint = f"e.g. {lo}" if lo == hi else f"e.g. {lo} or {hi}"
            raise TileError(f"{where}: tile {tile_px}: must be a multiple of {s} (the model's latent stride), "
                            + hint)
        if tile_px < min_tile(s, half, margin):
            raise TileError(f"{where}: tile {tile_px}: too small: a tile spends {ctx} px on blending with its "
                            f"neighbours, give at least {min_tile(s, half, margin)}")
    rows = axis_tiles(ph, tile_px, half, s, wrap=False, margin=margin)
    cols = axis_tiles(pw, tile_px, half, s, wrap=wrap, margin=margin)
    return TilePlan(ph, pw, tile_px, half, margin, bool(wrap), tuple(rows), tuple(cols))


# ---------------------------------------------------------------------------------------------
# the latent of the whole canvas
# ---------------------------------------------------------------------------------------------
def canvas_latent(g, fast, idx: torch.Tensor, edge: torch.Tensor | None, z: torch.Tensor | None,
                  lhw: tuple[int, int], wrap: bool) -> torch.Tensor:
    """The generator's first activation for the whole canvas ``[1, 16 ngf, lh, lw]``."""
    from .fast import resize_nearest

    cfg = g.cfg
    if cfg.use_vae:
        sh, sw = cfg.latent_hw
        x = g.fc(z).view(-1, 16 * cfg.ngf, sh, sw)
        if wrap:
            return _periodic_resize(x, lhw)
        if (sh, sw) != tuple(lhw):
            x = F.interpolate(x, size=lhw, mode="bilinear", align_corners=False)
        return x
    small = fast.one_hot(resize_nearest(idx, lhw), None if edge is None else resize_nearest(edge, lhw))
    if not wrap:
        return g.fc(small)
    conv: nn.Conv2d = g.fc
    p = conv.kernel_size[1] // 2
    padded = F.pad(small, (p, p, 0, 0), mode="circular")
    return conv(padded)[..., p:p + lhw[1]]


# ---------------------------------------------------------------------------------------------
# running blocks: the whole canvas at low resolution, then tile by tile
# ---------------------------------------------------------------------------------------------
class _Blocks:
    """Runs a span of the generator's blocks from a given activation, on the fast path (CPU,
    fp32/preview tables) or the plain network (one-hot labels at each block's size)."""

    def __init__(self, synth, gen, fast_ok: bool) -> None:
        self.synth, self.gen, self.fast_ok = synth, gen, fast_ok
        self.g = synth.G
        self.entries = gen.layout()
        self.tables = gen.block_tables(synth.device, torch.float32) if fast_ok else [None] * len(self.entries)

    def run(self, x: torch.Tensor, idx: torch.Tensor, edge: torch.Tensor | None, stage_a: bool,
            origin_px: tuple[int, int] = (0, 0), period_px: int | None = None) -> torch.Tensor:
        """``origin_px``: where ``idx`` lies in the canvas; ``period_px``: the width of a
        wrapping canvas (the noise inputs of models that have them follow the canvas)."""
        gen, g = self.gen, self.g
        codes = gen.codes(idx, edge) if self.fast_ok else None
        x = x.contiguous(memory_format=torch.channels_last)
        pats: dict = {}
        bf16 = self.synth.precision == "bf16" and not self.fast_ok
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            for (name, up_before, up_after), tab in zip(self.entries, self.tables):
                if (name in STAGE_A) != stage_a:
                    continue
                if up_before:
                    x = upsample2x(x, g.cfg.upsampling)
                hw = (int(x.shape[-2]), int(x.shape[-1]))
                if self.fast_ok:
                    if hw not in pats:
                        pats[hw] = gen.patterns_at(codes, hw)
                    x = gen.block(getattr(g, name), tab, x, pats[hw], gen.block_lowp(name),
                                  *g.noise_place(name, origin_px, period_px))
                else:
                    from .fast import resize_nearest

                    seg = gen.one_hot(resize_nearest(idx, hw), None if edge is None else resize_nearest(edge, hw))
                    x = getattr(g, name)(x, seg.contiguous(memory_format=torch.channels_last))
                    x = g.add_noise(name, x, *g.noise_place(name, origin_px, period_px))
                if up_after:
                    x = upsample2x(x, g.cfg.upsampling)
            if stage_a:
                return x
            if self.fast_ok:
                return gen.to_image(x)
            return torch.tanh(g.conv_img(F.leaky_relu(x, 0.2))).float()


def _runs(start: int, stop: int, length: int) -> list[tuple[int, int, int]]:
    """``[start, stop)`` modulo ``length`` as contiguous pieces ``(canvas_from, canvas_to,
    offset in the tile)``."""
    out, pos = [], start
    while pos < stop:
        c0 = pos % length
        n = min(stop - pos, length - c0)
        out.append((c0, c0 + n, pos - start))
        pos += n
    return out


def _stage_a(blocks: _Blocks, latent: torch.Tensor, idx: torch.Tensor, edge: torch.Tensor | None,
             plan: TilePlan, s: int) -> torch.Tensor:
    """The whole canvas through the low-resolution blocks (a panorama: extended circularly,
    then cropped, so the result is periodic in x)."""
    if not plan.wrap:
        return blocks.run(latent, idx, edge, stage_a=True)
    dev = idx.device
    lw = latent.shape[-1]
    e = STAGE_A_PAD_CELLS
    cols = torch.arange(-e * s, plan.width + e * s, device=dev) % plan.width
    lat_cols = torch.arange(-e, lw + e, device=dev) % lw
    low = blocks.run(latent.index_select(3, lat_cols), idx.index_select(2, cols),
                     None if edge is None else edge.index_select(2, cols), stage_a=True,
                     origin_px=(0, -e * s), period_px=plan.width)
    f = low.shape[-1] // (lw + 2 * e)  # low-res cells per latent cell
    return low[..., e * f:(e + lw) * f]


def _level_hw(layout, lhw: tuple[int, int], stop: int) -> tuple[int, int]:
    """The size of the activation mixed at a blend level: the output of block ``stop - 1``
    (before its upsampling after), or the image when ``stop`` is past the last block."""
    h, w = lhw
    for i, (_, up_before, up_after) in enumerate(layout):
        if up_before:
            h, w = 2 * h, 2 * w
        if i == stop - 1:
            return h, w
        if up_after:
            h, w = 2 * h, 2 * w
    return h, w


def _crop(x: torch.Tensor, row: AxisTile, col: AxisTile, scale: int, width: int) -> torch.Tensor:
    """The cells of ``x`` (a whole-canvas map at ``1 / scale`` of the canvas) under one tile,
    its columns modulo the width (panoramas)."""
    cols = torch.arange(col.start // scale, col.stop // scale, device=x.device) % (width // scale)
    return x[:, :, row.start // scale:row.stop // scale].index_select(3, cols)


@torch.inference_mode()
def render_tiles(synth, plan: TilePlan, lab: np.ndarray, inst: np.ndarray | None, z: torch.Tensor | None,
                 quality: str = "exact", progress: ProgressFn | None = None,
                 cancel: CancelFn | None = None, regions: list | None = None,
                 level: str | None = None, feather: float | None = None) -> np.ndarray:
    """Render ``lab`` (int ids, already padded to ``plan``'s size) -> float32 ``[H, W, 3]``
    in [-1, 1]: the low-resolution blocks once on the whole canvas, then the rest tile by
    tile. ``cancel`` is asked before every tile (True: stop with :class:`RenderCancelled`);
    ``progress(done, total)`` follows every tile.

    ``regions``: region styles (:class:`.regional.RegionStyle`, checked and padded to the
    plan's size) over the global ``z``. Each style runs the low-resolution stage once on the
    whole canvas; in every tile each style's stream runs from its crop up to the blend
    ``level`` (a block after the low-resolution stage, or ``"image"``), the streams are mixed
    through the tile's crop of the masks feathered on the whole canvas (circularly in x for a
    panorama), so neighbouring tiles mix alike, and the remaining blocks run once."""
    from .semantics import label_indices

    s, dev, cfg = synth.stride, synth.device, synth.config
    total = plan.count
    if progress is not None:
        progress(0, total)
    lab_t = torch.from_numpy(lab)[None, None].to(dev)
    inst_t = None if inst is None else torch.from_numpy(inst)[None, None].to(dev)
    idx, edge = label_indices(lab_t, inst_t, cfg)
    del lab_t, inst_t
    fast_ok = synth.one_go_fast and synth.G_exact.fallback_reason is None
    gen = synth.G_preview if quality == "preview" else synth.G_exact
    blocks = _Blocks(synth, gen, fast_ok)
    zz = None if z is None else z.to(dev).reshape(1, -1)
    lhw = (plan.height // s, plan.width // s)
    zs = [zz] + [r.z.to(dev).reshape(1, -1) for r in (regions or [])]
    lows = []
    for zk in zs:  # the global style first, then one per region
        latent = canvas_latent(synth.G, gen, idx, edge, zk, lhw, plan.wrap)
        lows.append(_stage_a(blocks, latent, idx, edge, plan, s))
        del latent
    scale = plan.height // lows[0].shape[-2]  # canvas px per low-res cell
    wts = stop = None
    if len(lows) > 1:
        from . import regional

        layout = blocks.entries
        names = regional.levels(layout)
        level = regional.DEFAULT_LEVEL if level is None else level
        feather = regional.DEFAULT_FEATHER if feather is None else float(feather)
        first = len(STAGE_A)  # the blocks the tiles run start here
        if level not in names[first + 1:]:
            raise ValueError(f"blend level {level!r} in a tiled render: one of {', '.join(names[first + 1:])}")
        stop = names.index(level)
        lvl_hw = _level_hw(layout, lhw, stop) if stop <= len(layout) else (plan.height, plan.width)
        wts = regional.stream_weights([r.mask for r in regions], plan.height, plan.width, feather, lvl_hw,
                                      dev, wrap=plan.wrap).float()
        wscale = plan.height // lvl_hw[0]
    out = np.zeros((plan.height, plan.width, 3), np.float32)
    done = 0
    for row in plan.rows:
        for col in plan.cols:
            if cancel is not None and cancel():
                raise RenderCancelled("render cancelled")
            cols = torch.arange(col.start, col.stop, device=dev) % plan.width
            t_idx = idx[:, row.start:row.stop].index_select(2, cols)
            t_edge = None if edge is None else edge[:, row.start:row.stop].index_select(2, cols)
            if wts is None:
                img = blocks.run(_crop(lows[0], row, col, scale, plan.width), t_idx, t_edge, stage_a=False,
                                 origin_px=(row.start, col.start), period_px=plan.width if plan.wrap else None)
            else:
                img = _tile_regions(synth, gen, fast_ok, quality, lows, wts, stop, row, col, scale, wscale,
                                    plan.width, t_idx, t_edge, plan.wrap)
            tile = img.float()[0].permute(1, 2, 0).cpu().numpy()
            del img
            tile *= row.weight[:, None, None]
            tile *= col.weight[None, :, None]
            dst = out[row.start:row.stop]
            for c0, c1, off in _runs(col.start, col.stop, plan.width):
                dst[:, c0:c1] += tile[:, off:off + c1 - c0]
            del tile
            done += 1
            if progress is not None:
                progress(done, total)
    return out


def _tile_regions(synth, gen, fast_ok: bool, quality: str, lows: list[torch.Tensor], wts: torch.Tensor,
                  stop: int, row: AxisTile, col: AxisTile, scale: int, wscale: int, width: int,
                  t_idx: torch.Tensor, t_edge: torch.Tensor | None, wrap: bool = False) -> torch.Tensor:
    """One tile of a region-styled render: every style's stream from its low-resolution crop
    to block ``stop - 1``, mixed by the tile's crop of ``wts``, then the rest once (the
    modulation tables of the fast path are shared by the streams)."""
    from .regional import _Stages

    stages = _Stages(gen if fast_ok else synth.G_exact, t_idx, t_edge, fast_ok, quality == "preview" and fast_ok,
                     origin_px=(row.start, col.start), period_px=width if wrap else None)
    n_blocks, first = len(stages.layout), len(STAGE_A)
    w_tile = _crop(wts, row, col, wscale, width)  # [K, 1, h, w]
    bf16 = synth.precision == "bf16" and not fast_ok
    with torch.autocast(t_idx.device.type, dtype=torch.bfloat16, enabled=bf16):
        mixed = None
        for k, low in enumerate(lows):
            x = _crop(low, row, col, scale, width)
            if fast_ok:
                x = x.contiguous(memory_format=torch.channels_last)
            for i in range(first, min(stop, n_blocks)):
                x = stages.block(i, x)
                if i < stop - 1:
                    x = stages.after(i, x)
            if stop > n_blocks:
                x = stages.to_image(x)
            part = x * w_tile[k:k + 1].to(x.dtype)
            mixed = part if mixed is None else mixed.add_(part)
            del x, part
        x = mixed
        if stop > n_blocks:
            return x.float()
        x = stages.after(stop - 1, x)
        for i in range(stop, n_blocks):
            x = stages.block(i, x)
            x = stages.after(i, x)
        return stages.to_image(x).float()


def to_uint8_hwc(x: np.ndarray) -> np.ndarray:
    """float [-1, 1] ``[H, W, 3]`` -> uint8, the same truncation as :func:`.images.to_uint8`,
    in place and in row chunks (no second float canvas)."""
    res = np.empty(x.shape, np.uint8)
    step = max(1, (1 << 22) // max(1, x.shape[1] * 3))
    for y in range(0, x.shape[0], step):
        part = x[y:y + step]
        part += 1.0
        part *= 127.5
        np.clip(part, 0, 255, out=part)
        res[y:y + step] = part.astype(np.uint8)
    return res


def edge_mismatch(img: np.ndarray) -> float:
    """Mean |first column - last column| relative to the mean difference between
    neighbouring columns inside the image: about 1 for a seamless wrap, larger for a seam."""
    a = img.astype(np.float32)
    seam = float(np.abs(a[:, 0] - a[:, -1]).mean())
    inner = float(np.abs(np.diff(a, axis=1)).mean())
    return seam / max(inner, 1e-6)
