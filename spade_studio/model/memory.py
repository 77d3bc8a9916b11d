"""How much memory a render needs: the estimate from the architecture, and the refusal."""

from __future__ import annotations

from spade_studio.labels import LabelError


class CanvasTooLargeError(LabelError):
    """A canvas that would need more memory to render than is available; the message says
    the largest size that fits."""


# allocator and kernel scratch that does not grow with the canvas (measured: an ngf-64 model at
# 384x384 used 36 MB more than its per-pixel terms with MKL's GEMMs, 55 MB with oneDNN's, whose
# weight reorders and primitives take more: :mod:`.gemm`; the peak of a fresh process varies by
# about 90 MB from run to run: 325-419 MB on that render against 324 MB of per-pixel terms)
RENDER_OVERHEAD_BYTES = 128 << 20


def estimate_render_bytes(cfg, h: int, w: int, *, fast: bool = True, keep: bool = True) -> int:
    """Peak memory of rendering an ``h x w`` canvas (padded size) in one go, beyond the weights:
    a safe upper bound, from the architecture.

    The full-resolution level dominates. With the fast path (``fast``, CPU fp32): the last
    block's upsampled input and its modulation buffer (``2 * f_in`` floats per pixel), its
    shortcut and two conv outputs (``3 * f_out``), the block outputs the stroke renderer keeps
    (``keep``: ``f_out`` here plus ``f_in / 4`` from the level below, and so on: ``f_in / 3``),
    and about 22 floats of label indices, window ids and image planes; the modulation tables
    are per distinct label window, so neither the SPADE hidden width nor the one-hot map is
    per pixel. The plain network (``fast=False``: GPUs, bf16, ``--plain``) holds the one-hot
    map (and its resized copies), the SPADE hidden activations and gamma / beta per pixel.

    Measured peak RSS minus the RSS before the render, fresh process per size (the figures in
    the README, "Big canvases"): bundled model (ngf 16) fast 595 / 605 / 539 B/px at 512² /
    1024² / 2048², this gives 643 (1.08x / 1.06x / 1.19x); ngf 64, 2133 / 2037 B/px at 512² /
    1024², this gives 2307 (1.08x / 1.13x); plus :data:`RENDER_OVERHEAD_BYTES`. The plain
    network: bundled 916 B/px at 1024² (this: 1044, 1.14x), ngf 64 3388 B/px at 512² (3540,
    1.04x)."""
    if cfg.num_upsampling_layers == "most":
        f_in, f_out = cfg.ngf, cfg.ngf // 2
    else:
        f_in, f_out = 2 * cfg.ngf, cfg.ngf
    if fast:
        floats_per_px = 2 * f_in + 3 * f_out + 22 + ((f_out + f_in / 3) if keep else 0)
    else:
        floats_per_px = 2 * cfg.spade.hidden + 3 * f_in + 3 * f_out + 4 / 3 * cfg.semantic_nc + 32
    return int(4 * floats_per_px * h * w) + RENDER_OVERHEAD_BYTES


def region_stream_bytes(cfg, h: int, w: int, styles: int) -> int:
    """What region styles add to rendering an ``h x w`` tile (or canvas) in one go: the
    streams run one after the other up to the blend level (``up_1``: 1/16 of the pixels,
    ``4 ngf`` channels, so ``ngf / 4`` floats per px), where the mixed activation and one
    weighted copy are held beside the running stream, plus the ``styles`` weight planes at
    that level. 0 for one style."""
    if styles <= 1:
        return 0
    return int(4 * (2 * cfg.ngf / 4 + styles / 16) * h * w)


def region_canvas_bytes(cfg, h: int, w: int, styles: int) -> int:
    """What region styles add to a tiled render's whole-canvas memory (:func:`.tiling.fixed_bytes`):
    per extra style its low-resolution stage output (``16 ngf`` channels at 1/16 of the pixels:
    ``ngf / 16`` floats per px) and its float32 mask (and padded copy); per style a full-size
    float32 share plane while the feathered weights are made. 0 for one style."""
    if styles <= 1:
        return 0
    extra = styles - 1
    return int((4 * cfg.ngf / 16 * extra + 8 * extra + 4 * styles) * h * w)
