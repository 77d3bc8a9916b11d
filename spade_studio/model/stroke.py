"""Live stroke updates: re-render only the part of the network a label change reaches.

While the user paints, only a small part of the map changes. :class:`StrokeRenderer` keeps
every block's output from the last render; :meth:`StrokeRenderer.update` finds the box of
changed labels and, block by block, recomputes only that box grown by ``margin`` pixels of
the block's own resolution (plus the halo the block's convolutions need to be exact inside
the box). Outside the box the old activations are kept.

This is exact inside the box but not outside it: in SPADE the low-resolution blocks see the
whole map, so a change does reach every pixel a little. ``bench/inference.py`` measures how
far, and the defaults keep the difference within the preview bounds (max 0.06, mean 0.01 on
the [-1, 1] scale). It is therefore a preview: the editor renders exactly once the stroke
ends. Blocks whose grown box covers most of their map are simply recomputed whole.

Instance-norm SPADE normalises with whole-map statistics, so nothing is local there: such
models always take the full (exact or preview) path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .fast import FastGenerator, resize_nearest, upsample2x
from .patterns import build_patterns


@dataclass
class _State:
    codes: torch.Tensor  # [N, H, W] full-resolution codes of the last render
    label: torch.Tensor
    edge: torch.Tensor | None
    z: torch.Tensor | None
    latent_hw: tuple[int, int]
    latent: torch.Tensor
    outputs: list[torch.Tensor]  # every block's output
    image: torch.Tensor  # [N, 3, H, W]
    exact: bool = False  # the outputs came from another (exact) generator than the renderer's


@dataclass
class UpdateInfo:
    """What the last :meth:`StrokeRenderer.update` did."""

    box: tuple[int, int, int, int] | None  # changed labels (y0, x0, y1, x1), full resolution
    full: bool  # a full render was needed (first call, new style or size)
    recomputed: float  # share of the network's pixels (weighted by block) that were recomputed


class StrokeRenderer:
    """Incremental renders over a :class:`FastGenerator` (see the module docstring)."""

    NOISE_SAMPLE = 96  # side of the central sample the noise floor is measured on

    def __init__(self, fast: FastGenerator, tolerance: float = 0.02, margin: int = 0,
                 whole_above: float = 0.5) -> None:
        if margin < 0 or tolerance < 0:
            raise ValueError("margin and tolerance must be >= 0")
        self.fast = fast
        self.tolerance = float(tolerance)  # input changes below this share of the spread are ignored
        self.margin = int(margin)
        self.whole_above = float(whole_above)  # recompute a block whole above this share of its map
        k = fast.kernel // 2
        self.halo = 2 * k + 2  # a block is exact this far inside a crop: two k x k SPADE convs + two 3x3 convs
        self.state: _State | None = None
        self.last: UpdateInfo | None = None
        self._noise: dict[tuple, list[float]] = {}  # (map shape, latent grid) -> per-block noise floor

    @property
    def available(self) -> bool:
        """False for models where nothing is local (instance-norm SPADE), unsupported ones, and
        on GPUs."""
        if self.fast.fallback_reason is not None or self.fast._device().type != "cpu":
            return False  # GPUs preview through half precision + CUDA graphs instead
        return not any(isinstance(m, nn.InstanceNorm2d) for m in self.fast.plain.modules())

    def reset(self) -> None:
        self.state = None

    # -- full render -------------------------------------------------------------------------
    def render(self, label: torch.Tensor, edge: torch.Tensor | None = None, z: torch.Tensor | None = None,
               latent_hw: tuple[int, int] | None = None, generator: FastGenerator | None = None) -> torch.Tensor:
        """A full render, remembered for later updates: through ``generator`` when given (the
        exact one of the same network, say), else through this renderer's own."""
        fast = self.fast
        gen = generator or fast
        label = label.long()
        if not self.available or gen._grad_reason() is not None:
            self.state = None
            return gen.forward_labels(label, edge, z, latent_hw)
        lhw = tuple(latent_hw) if latent_hw else fast.cfg.latent_hw
        if fast.cfg.use_vae and z is None:
            z = torch.randn(label.shape[0], fast.cfg.z_dim, device=label.device)
        keep: list[torch.Tensor] = []
        image = gen._run(label, edge, z, lhw, keep=keep)
        if self.available:
            latent = fast._latent(label, edge, z, lhw).contiguous(memory_format=torch.channels_last)
            self.state = _State(fast.codes(label, edge).clone(), label.clone(), None if edge is None else edge.clone(),
                                None if z is None else z.clone(), lhw, latent, keep, image, gen is not fast)
        self.last = UpdateInfo(None, True, 1.0)
        return image

    @torch.no_grad()
    def _noise_floor(self, latent: torch.Tensor, codes: torch.Tensor, keep: list[torch.Tensor]) -> list[float]:
        """Per block, how far this renderer's own arithmetic moves the block's output when its
        input has not changed (relative to the output's spread): 0 for fp32 blocks; for reduced
        precision blocks, the largest difference between the block run on the cached (exact)
        input and the cached output, on a central sample of at most NOISE_SAMPLE px a side. A
        change below that cannot be told from rounding: treating it as a change sent every
        recompute over the whole map (bf16 rounding of the official configs' 1024-channel blocks
        is 2-3 % of the spread, above the default tolerance). Measured once per canvas size, at
        the first update after an exact render (exact-only renders, as the CLI's, never pay it)."""
        fast = self.fast
        mode = fast.cfg.upsampling
        out: list[float] = []
        tables = fast.block_tables(latent.device, latent.dtype)
        x_prev, up_prev = latent, False
        for i, ((name, up_before, up_after), tab) in enumerate(zip(fast.layout(), tables)):
            up = up_before or up_prev
            lowp = fast.block_lowp(name)
            if lowp is None or i >= len(keep):
                out.append(0.0)
            else:
                ref = keep[i]
                h, w = ref.shape[-2:]
                side = self.NOISE_SAMPLE
                y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
                region = (y0, x0, min(h, y0 + side), min(w, x0 + side))  # a central sample: bounded cost
                crop = _grow(region, self.halo, h, w)
                x = _crop_input(x_prev, crop, up, mode).contiguous(memory_format=torch.channels_last)
                level = resize_nearest(codes, (h, w))[:, crop[0]:crop[2], crop[1]:crop[3]]
                y = fast.block(getattr(fast.plain, name), tab, x, build_patterns(level, fast.n_codes, fast.kernel), lowp,
                               origin=(crop[0], crop[1]))
                oy, ox = region[0] - crop[0], region[1] - crop[1]
                part = y[:, :, oy:oy + region[2] - region[0], ox:ox + region[3] - region[1]]
                want = ref[:, :, region[0]:region[2], region[1]:region[3]]
                out.append(float((part - want).abs().max()) / max(float(ref.std()), 1e-12))
            x_prev, up_prev = (keep[i] if i < len(keep) else x_prev), up_after
        return out

    def _threshold(self, st: _State, i: int) -> float:
        """The change of block ``i``'s output that counts as moved: the tolerance, or the
        block's noise floor when that is higher."""
        floor = self._noise.get((tuple(st.label.shape), st.latent_hw))
        return max(self.tolerance, floor[i]) if floor and i < len(floor) else self.tolerance

    # -- incremental update ------------------------------------------------------------------
    def update(self, label: torch.Tensor, edge: torch.Tensor | None = None, z: torch.Tensor | None = None,
               latent_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """The render of ``label``, recomputing only near the labels that changed since the
        last call (a full render when there is nothing to start from)."""
        fast, st = self.fast, self.state
        label = label.long()
        lhw = tuple(latent_hw) if latent_hw else fast.cfg.latent_hw
        if fast.cfg.use_vae and z is None and st is not None:
            z = st.z
        if (st is None or not self.available or st.label.shape != label.shape or st.latent_hw != lhw
                or not _same(st.z, z)):
            return self.render(label, edge, z, lhw)
        codes = fast.codes(label, edge)
        box = _changed_box(st.codes, codes)
        if box is None:
            self.last = UpdateInfo(None, False, 0.0)
            return st.image
        key = (tuple(label.shape), lhw)
        if key not in self._noise and st.exact:  # the first update after an exact render of this size
            self._noise[key] = self._noise_floor(st.latent, st.codes, st.outputs)
        with torch.no_grad():
            image, share = self._update(st, label, edge, codes, box)
        st.codes, st.label, st.edge, st.image = codes.clone(), label.clone(), None if edge is None else edge.clone(), image
        self.last = UpdateInfo(box, False, share)
        return image

    def _update(self, st: _State, label, edge, codes, box) -> tuple[torch.Tensor, float]:
        """Block by block: recompute the box where the labels changed at the block's own
        resolution or where the block's input changed by more than ``tolerance`` (relative to
        the activations' spread); keep the rest. The changed input region comes from comparing
        each recomputed output with the cached one, so the box follows the difference as far
        as it really reaches. A block whose labels and input did not change is skipped."""
        fast = self.fast
        g = fast.plain
        mode = fast.cfg.upsampling
        extra = 1 if mode == "bilinear" else 0  # bilinear doubling moves one more pixel
        tables = fast.block_tables(st.latent.device, st.latent.dtype)
        reach = 2 * (fast.kernel // 2) + 2  # how far a label change moves a block's output
        if fast.cfg.use_vae:
            x_prev, changed = st.latent, None  # the latent does not depend on the labels
        else:
            x_prev = fast._latent(label, edge, st.z, st.latent_hw).contiguous(memory_format=torch.channels_last)
            # the label map's latent: where it changed at all (a dab between its samples: nowhere)
            changed = _difference_box(st.latent, x_prev, (0, 0, x_prev.shape[-2], x_prev.shape[-1]), 0.0)
            st.latent = x_prev
        up_prev = False
        work = total = 0.0
        level_codes: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        for i, ((name, up_before, up_after), tab) in enumerate(zip(fast.layout(), tables)):
            up = up_before or up_prev
            h, w = (x_prev.shape[-2] * 2, x_prev.shape[-1] * 2) if up else (x_prev.shape[-2], x_prev.shape[-1])
            total += h * w
            if (h, w) not in level_codes:  # the labels this block sees (nearest resize)
                level_codes[(h, w)] = (resize_nearest(st.codes, (h, w)), resize_nearest(codes, (h, w)))
            old_codes, new_codes = level_codes[(h, w)]
            region = _changed_box(old_codes, new_codes)
            if region is not None:
                region = _grow(region, reach + self.margin, h, w)
            if changed is not None:
                # two 3x3 convs widen an input change by 2 (+ the doubling's extra)
                moved = _grow(_scale_up(changed, 2 if up else 1), 2 + (extra if up else 0) + self.margin, h, w)
                region = moved if region is None else _union(region, moved)
            old = st.outputs[i]
            if region is None:  # neither the labels nor the input changed here
                changed, x_prev, up_prev = None, old, up_after
                continue
            blk, lowp = getattr(g, name), fast.block_lowp(name)
            if _area(region) > self.whole_above * h * w:
                region = (0, 0, h, w)
                x = upsample2x(x_prev, mode) if up else x_prev
                new = fast.block(blk, tab, x, fast.patterns_at(codes, (h, w)), lowp)
                changed = _difference_box(old, new, region, self._threshold(st, i))
                st.outputs[i] = new
                work += h * w
            else:
                crop = _grow(region, self.halo, h, w)
                x = _crop_input(x_prev, crop, up, mode).contiguous(memory_format=torch.channels_last)
                pat = build_patterns(new_codes[:, crop[0]:crop[2], crop[1]:crop[3]], fast.n_codes, fast.kernel)
                y = fast.block(blk, tab, x, pat, lowp, origin=(crop[0], crop[1]))
                oy, ox = region[0] - crop[0], region[1] - crop[1]
                part = y[:, :, oy:oy + region[2] - region[0], ox:ox + region[3] - region[1]]
                changed = _difference_box(old, part, region, self._threshold(st, i), offset=False)
                old[:, :, region[0]:region[2], region[1]:region[3]] = part  # in place: the cache owns it
                new = old
                work += _area(crop)
            x_prev, up_prev = new, up_after
        x = upsample2x(x_prev, mode) if up_prev else x_prev
        h, w = x.shape[-2:]
        if changed is None:
            return st.image, work / max(total, 1.0)
        region = _grow(_scale_up(changed, 2 if up_prev else 1), 1 + (extra if up_prev else 0), h, w)
        crop = _grow(region, 1, h, w)
        img = fast.to_image(x[:, :, crop[0]:crop[2], crop[1]:crop[3]].contiguous(memory_format=torch.channels_last))
        image = st.image.clone()  # the caller may still hold the last image
        oy, ox = region[0] - crop[0], region[1] - crop[1]
        image[:, :, region[0]:region[2], region[1]:region[3]] = \
            img[:, :, oy:oy + region[2] - region[0], ox:ox + region[3] - region[1]]
        return image, work / max(total, 1.0)


def _difference_box(old: torch.Tensor, new: torch.Tensor, region, tolerance: float, offset: bool = True):
    """Box of the pixels of ``region`` where ``new`` moved by more than ``tolerance`` times
    the spread of ``old`` (None: nowhere). ``new`` is either the whole map (``offset``) or
    only the region."""
    y0, x0, y1, x1 = region
    a = old[:, :, y0:y1, x0:x1]
    b = new[:, :, y0:y1, x0:x1] if offset else new
    tau = tolerance * float(old.std())
    moved = ((a - b).abs().amax(dim=1) > tau).any(dim=0)
    if not bool(moved.any()):
        return None
    rows = torch.nonzero(moved.any(dim=1)).flatten()
    cols = torch.nonzero(moved.any(dim=0)).flatten()
    return y0 + int(rows[0]), x0 + int(cols[0]), y0 + int(rows[-1]) + 1, x0 + int(cols[-1]) + 1


def _scale_up(box, f: int):
    return tuple(v * f for v in box)


def _union(a, b):
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(torch.equal(a.to(b.device), b))


def _changed_box(old: torch.Tensor, new: torch.Tensor) -> tuple[int, int, int, int] | None:
    diff = (old != new).any(dim=0)
    if not bool(diff.any()):
        return None
    rows = torch.nonzero(diff.any(dim=1)).flatten()
    cols = torch.nonzero(diff.any(dim=0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _grow(box, m: int, h: int, w: int) -> tuple[int, int, int, int]:
    y0, x0, y1, x1 = box
    return max(0, y0 - m), max(0, x0 - m), min(h, y1 + m), min(w, x1 + m)


def _area(box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _crop_input(src: torch.Tensor, crop, up: bool, mode: str = "nearest") -> torch.Tensor:
    """The block input (``src``, upsampled 2x when ``up``) cut to ``crop``. Bilinear doubling
    reads one more source pixel on each side (kept where the map has one, so the crop's values
    are those of the whole map's upsampling; at the map's border both clamp alike)."""
    y0, x0, y1, x1 = crop
    if not up:
        return src[:, :, y0:y1, x0:x1]
    pad = 1 if mode == "bilinear" else 0
    sy0, sx0 = max(0, y0 // 2 - pad), max(0, x0 // 2 - pad)
    sy1, sx1 = min(src.shape[-2], -(-y1 // 2) + pad), min(src.shape[-1], -(-x1 // 2) + pad)
    big = upsample2x(src[:, :, sy0:sy1, sx0:sx1], mode)
    oy, ox = y0 - sy0 * 2, x0 - sx0 * 2
    return big[:, :, oy:oy + y1 - y0, ox:ox + x1 - x0]
