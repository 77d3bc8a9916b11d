"""Noise for the landscape painter: 1-D / 2-D B-spline value noise, fBm, ground-plane noise, row blur.

Only float32 element-wise arithmetic and gathers touch arrays, so the output is byte-identical
across machines; transcendental functions only ever see scalars or float64 1-D vectors.
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32
# Standard deviation of one octave of B-spline value noise over U(-1, 1) lattice values:
# E_f[sum_k w_k(f)^2] = 151/315 per axis, lattice variance 1/3.
_BSPLINE_STD2 = math.sqrt((151.0 / 315.0) ** 2 / 3.0)
_BSPLINE_STD1 = math.sqrt((151.0 / 315.0) / 3.0)
# Same for smoothstep-bilinear value noise: E_f[(1-s)^2 + s^2] = 26/35.
_SMOOTH_STD2 = math.sqrt((26.0 / 35.0) ** 2 / 3.0)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) * (1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _taps(n: int, cell: float, phase: float):
    """Cubic B-spline interpolation taps for ``n`` output samples over a lattice of ``cell`` px."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / cell + phase
    i = np.floor(t).astype(np.intp)
    f = t - i
    g = 1.0 - f
    f2 = f * f
    f3 = f2 * f
    w = (
        (g * g * g / 6.0).astype(F32),
        ((3.0 * f3 - 6.0 * f2 + 4.0) / 6.0).astype(F32),
        ((-3.0 * f3 + 3.0 * f2 + 3.0 * f + 1.0) / 6.0).astype(F32),
        (f3 / 6.0).astype(F32),
    )
    return (i, i + 1, i + 2, i + 3), w, int(i[-1]) + 4


def noise1d(rng: np.random.Generator, n: int, cell: float) -> np.ndarray:
    """Smooth 1-D value noise with unit-ish std, float32 (n,)."""
    idx, w, m = _taps(n, max(cell, 0.75), rng.random())
    g = rng.uniform(-1.0, 1.0, m).astype(F32)
    out = g[idx[0]] * w[0] + g[idx[1]] * w[1] + g[idx[2]] * w[2] + g[idx[3]] * w[3]
    return out * F32(1.0 / _BSPLINE_STD1)


def fbm1d(rng, n, cell, octaves=5, gain=0.5, ridged=False):
    acc = np.zeros(n, F32)
    amp = 1.0
    tot = 0.0
    for _ in range(octaves):
        if cell < 0.75:
            break
        v = noise1d(rng, n, cell)
        if ridged:
            v = 1.0 - np.abs(v) * 0.6
            v = np.clip(v, 0.0, 1.0)
            v = v * v
        acc += v * F32(amp)
        tot += amp
        amp *= gain
        cell *= 0.5
    return acc / F32(tot)


def noise2d(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """One octave of 2-D B-spline value noise (h, w), std ~1."""
    iy, wy, my = _taps(h, max(cy, 0.75), rng.random())
    ix, wx, mx = _taps(w, max(cx, 0.75), rng.random())
    g = rng.uniform(-1.0, 1.0, (my, mx)).astype(F32)
    a = g[:, ix[0]] * wx[0] + g[:, ix[1]] * wx[1] + g[:, ix[2]] * wx[2] + g[:, ix[3]] * wx[3]
    out = (a[iy[0]] * wy[0][:, None] + a[iy[1]] * wy[1][:, None]
           + a[iy[2]] * wy[2][:, None] + a[iy[3]] * wy[3][:, None])
    out *= F32(1.0 / _BSPLINE_STD2)
    return out


def fbm2d(rng, h, w, cell, octaves=5, gain=0.5, stretch=(1.0, 1.0), min_cell=0.9):
    """Screen-space fractal noise (h, w), std ~1.  ``stretch`` = (y, x) multipliers of the cell."""
    acc = None
    amp = 1.0
    tot2 = 0.0
    for _ in range(octaves):
        cy, cx = cell * stretch[0], cell * stretch[1]
        if min(cy, cx) < min_cell:
            break
        v = noise2d(rng, h, w, cy, cx)
        if acc is None:
            acc = v
        else:
            acc += v * F32(amp)
        tot2 += amp * amp
        amp *= gain
        cell *= 0.5
    if acc is None:
        return np.zeros((h, w), F32)
    acc *= F32(1.0 / math.sqrt(tot2))
    return acc


class PlaneNoise:
    """Periodic value noise evaluated at arbitrary (x, y) coordinates (for perspective textures)."""

    N = 128

    def __init__(self, rng: np.random.Generator):
        self.g = rng.uniform(-1.0, 1.0, self.N * self.N).astype(F32)
        self.offs = rng.uniform(0.0, self.N, (8, 2))

    def noise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        n = self.N
        xf = np.floor(x)
        yf = np.floor(y)
        fx = (x - xf).astype(F32)
        fy = (y - yf).astype(F32)
        xi = xf.astype(np.int64) & (n - 1)
        yi = yf.astype(np.int64) & (n - 1)
        x1 = (xi + 1) & (n - 1)
        y1 = (yi + 1) & (n - 1)
        yi *= n
        y1 *= n
        sx = fx * fx * (3.0 - 2.0 * fx)
        sy = fy * fy * (3.0 - 2.0 * fy)
        g = self.g
        a = g[yi + xi]
        b = g[yi + x1]
        c = g[y1 + xi]
        d = g[y1 + x1]
        top = a + (b - a) * sx
        bot = c + (d - c) * sx
        return (top + (bot - top) * sy) * F32(1.0 / _SMOOTH_STD2)

    def fbm(self, x, y, octaves=4, gain=0.5, footprint=None, seed_off=0):
        """fBm over octaves; ``footprint`` (noise units per pixel at octave 0) fades out octaves
        that would alias."""
        acc = None
        amp = 1.0
        tot = 0.0
        freq = 1.0
        for o in range(octaves):
            ox, oy = self.offs[(o + seed_off) % 8]
            v = self.noise(x * freq + ox, y * freq + oy)
            if footprint is not None:
                fade = np.clip(1.6 - footprint * (2.0 * freq), 0.0, 1.0).astype(F32)
                v *= fade
            v *= F32(amp)
            acc = v if acc is None else acc + v
            tot += amp * amp
            amp *= gain
            freq *= 2.03
        return acc * F32(1.0 / math.sqrt(tot))


def box_blur_rows(a: np.ndarray, r: int) -> np.ndarray:
    """Box blur along axis 1 with radius r (edge-clamped), float32, deterministic (float64 cumsum)."""
    if r <= 0:
        return a
    pad = np.concatenate([np.repeat(a[:, :1], r + 1, axis=1), a, np.repeat(a[:, -1:], r, axis=1)],
                         axis=1).astype(np.float64)
    cs = np.cumsum(pad, axis=1)
    out = (cs[:, 2 * r + 1:] - cs[:, :-2 * r - 1]) / (2 * r + 1)
    return out.astype(F32)
