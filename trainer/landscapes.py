"""Procedural landscape scenes: paired RGB image + label map for the ``landscape`` label set.

The generator paints a scene back to front (sky, clouds, mountains, hills, fog, ground, water,
sprites such as trees / bushes / boulders, foreground fog) and keeps a label map in lock-step: a
pixel gets a layer's class when that layer covers at least half of it, so the label map always
names the class that is visible there (pure ids, never anti-aliased) while the image itself is
anti-aliased and textured.

Every scene draws its look (time of day, season, weather, colour grade) from its own seeded
``numpy.random.Generator(PCG64(seed))``.  Only element-wise float32 arithmetic, integer
rasterisation (``cv2.fillPoly`` / ``cv2.line``) and numpy gathers touch the pixels, so the output
is byte-identical across machines; transcendental functions are only ever applied to scalars or
to float64 1-D vectors.

Public API: :data:`LANDSCAPE_CLASSES`, :func:`render_scene`, :func:`make_landscapes`.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

__all__ = ["LANDSCAPE_CLASSES", "render_scene", "make_landscapes", "scene_seed"]

LANDSCAPE_CLASSES: tuple[str, ...] = (
    "sky", "cloud", "mountain", "hill", "rock", "snow", "grass", "tree", "bush", "flower",
    "sea", "river", "sand", "dirt", "fog",
)
(SKY, CLOUD, MOUNTAIN, HILL, ROCK, SNOW, GRASS, TREE, BUSH, FLOWER,
 SEA, RIVER, SAND, DIRT, FOG) = range(15)
NUM_CLASSES = len(LANDSCAPE_CLASSES)

GENERATOR_NAME = "spade_studio procedural landscapes v1"
DATASET_FORMAT = "spade-studio-dataset/1"

TIMES = ("day", "golden_hour", "sunset", "dusk", "night")
TIME_P = (0.40, 0.15, 0.15, 0.12, 0.18)
SEASONS = ("summer", "autumn", "winter", "spring")
SEASON_P = (0.32, 0.26, 0.20, 0.22)
WEATHERS = ("clear", "cloudy", "overcast", "hazy", "foggy")
WEATHER_P = (0.30, 0.30, 0.14, 0.12, 0.14)

_F32 = np.float32
# Standard deviation of one octave of B-spline value noise over U(-1, 1) lattice values:
# E_f[sum_k w_k(f)^2] = 151/315 per axis, lattice variance 1/3.
_BSPLINE_STD2 = math.sqrt((151.0 / 315.0) ** 2 / 3.0)
_BSPLINE_STD1 = math.sqrt((151.0 / 315.0) / 3.0)
# Same for smoothstep-bilinear value noise: E_f[(1-s)^2 + s^2] = 26/35.
_SMOOTH_STD2 = math.sqrt((26.0 / 35.0) ** 2 / 3.0)
_CAM = 1.6  # eye height of the virtual camera (world units) for ground-plane textures


def _c(*rgb: float) -> np.ndarray:
    return np.array(rgb, dtype=_F32)


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) * (1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------------------------
# noise
# --------------------------------------------------------------------------------------------

def _taps(n: int, cell: float, phase: float):
    """Cubic B-spline interpolation taps for ``n`` output samples over a lattice of ``cell`` px."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / cell + phase
    i = np.floor(t).astype(np.intp)
    f = t - i
    g = 1.0 - f
    f2 = f * f
    f3 = f2 * f
    w = (
        (g * g * g / 6.0).astype(_F32),
        ((3.0 * f3 - 6.0 * f2 + 4.0) / 6.0).astype(_F32),
        ((-3.0 * f3 + 3.0 * f2 + 3.0 * f + 1.0) / 6.0).astype(_F32),
        (f3 / 6.0).astype(_F32),
    )
    return (i, i + 1, i + 2, i + 3), w, int(i[-1]) + 4


def _noise1d(rng: np.random.Generator, n: int, cell: float) -> np.ndarray:
    """Smooth 1-D value noise with unit-ish std, float32 (n,)."""
    idx, w, m = _taps(n, max(cell, 0.75), rng.random())
    g = rng.uniform(-1.0, 1.0, m).astype(_F32)
    out = g[idx[0]] * w[0] + g[idx[1]] * w[1] + g[idx[2]] * w[2] + g[idx[3]] * w[3]
    return out * _F32(1.0 / _BSPLINE_STD1)


def _fbm1d(rng, n, cell, octaves=5, gain=0.5, ridged=False):
    acc = np.zeros(n, _F32)
    amp = 1.0
    tot = 0.0
    for _ in range(octaves):
        if cell < 0.75:
            break
        v = _noise1d(rng, n, cell)
        if ridged:
            v = 1.0 - np.abs(v) * 0.6
            v = np.clip(v, 0.0, 1.0)
            v = v * v
        acc += v * _F32(amp)
        tot += amp
        amp *= gain
        cell *= 0.5
    return acc / _F32(tot)


def _noise2d(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """One octave of 2-D B-spline value noise (h, w), std ~1."""
    iy, wy, my = _taps(h, max(cy, 0.75), rng.random())
    ix, wx, mx = _taps(w, max(cx, 0.75), rng.random())
    g = rng.uniform(-1.0, 1.0, (my, mx)).astype(_F32)
    a = g[:, ix[0]] * wx[0] + g[:, ix[1]] * wx[1] + g[:, ix[2]] * wx[2] + g[:, ix[3]] * wx[3]
    out = (a[iy[0]] * wy[0][:, None] + a[iy[1]] * wy[1][:, None]
           + a[iy[2]] * wy[2][:, None] + a[iy[3]] * wy[3][:, None])
    out *= _F32(1.0 / _BSPLINE_STD2)
    return out


def _fbm2d(rng, h, w, cell, octaves=5, gain=0.5, stretch=(1.0, 1.0), min_cell=0.9):
    """Screen-space fractal noise (h, w), std ~1.  ``stretch`` = (y, x) multipliers of the cell."""
    acc = None
    amp = 1.0
    tot2 = 0.0
    for _ in range(octaves):
        cy, cx = cell * stretch[0], cell * stretch[1]
        if min(cy, cx) < min_cell:
            break
        v = _noise2d(rng, h, w, cy, cx)
        if acc is None:
            acc = v
        else:
            acc += v * _F32(amp)
        tot2 += amp * amp
        amp *= gain
        cell *= 0.5
    if acc is None:
        return np.zeros((h, w), _F32)
    acc *= _F32(1.0 / math.sqrt(tot2))
    return acc


class _PlaneNoise:
    """Periodic value noise evaluated at arbitrary (x, y) coordinates (for perspective textures)."""

    N = 128

    def __init__(self, rng: np.random.Generator):
        self.g = rng.uniform(-1.0, 1.0, self.N * self.N).astype(_F32)
        self.offs = rng.uniform(0.0, self.N, (8, 2))

    def noise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        n = self.N
        xf = np.floor(x)
        yf = np.floor(y)
        fx = (x - xf).astype(_F32)
        fy = (y - yf).astype(_F32)
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
        return (top + (bot - top) * sy) * _F32(1.0 / _SMOOTH_STD2)

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
                fade = np.clip(1.6 - footprint * (2.0 * freq), 0.0, 1.0).astype(_F32)
                v *= fade
            v *= _F32(amp)
            acc = v if acc is None else acc + v
            tot += amp * amp
            amp *= gain
            freq *= 2.03
        return acc * _F32(1.0 / math.sqrt(tot))


def _box_blur_rows(a: np.ndarray, r: int) -> np.ndarray:
    """Box blur along axis 1 with radius r (edge-clamped), float32, deterministic (float64 cumsum)."""
    if r <= 0:
        return a
    pad = np.concatenate([np.repeat(a[:, :1], r + 1, axis=1), a, np.repeat(a[:, -1:], r, axis=1)],
                         axis=1).astype(np.float64)
    cs = np.cumsum(pad, axis=1)
    out = (cs[:, 2 * r + 1:] - cs[:, :-2 * r - 1]) / (2 * r + 1)
    return out.astype(_F32)


# --------------------------------------------------------------------------------------------
# looks
# --------------------------------------------------------------------------------------------

def _jit(rng, col, amount=0.06):
    return np.clip(col * (1.0 + rng.normal(0.0, amount, 3)).astype(_F32), 0.0, 1.5).astype(_F32)


def _mix(a, b, t):
    return (a + (b - a) * _F32(t)).astype(_F32)


def _make_palette(rng, time, season, weather):
    """Colours and light of one scene.  All colours float32 RGB in [0, 1]-ish sRGB."""
    P: dict = {}
    if time == "day":
        zen = _c(0.16, 0.36, 0.78)
        hor = _c(0.62, 0.78, 0.94)
        mid = None
        sun = _c(1.0, 0.98, 0.92)
        light = _c(1.0, 0.96, 0.88)
        amb = _c(0.40, 0.46, 0.56)
        cl_lit = _c(1.0, 1.0, 1.0)
        cl_dark = _c(0.60, 0.65, 0.74)
        glow = _c(1.0, 0.97, 0.88)
    elif time == "golden_hour":
        zen = _c(0.30, 0.44, 0.72)
        hor = _c(0.98, 0.76, 0.46)
        mid = _c(0.88, 0.78, 0.62)
        sun = _c(1.0, 0.90, 0.62)
        light = _c(1.0, 0.74, 0.44)
        amb = _c(0.34, 0.34, 0.44)
        cl_lit = _c(1.0, 0.84, 0.60)
        cl_dark = _c(0.55, 0.48, 0.56)
        glow = _c(1.0, 0.80, 0.50)
    elif time == "sunset":
        zen = _c(0.20, 0.20, 0.44)
        hor = _c(0.98, 0.48, 0.20)
        mid = _c(0.86, 0.44, 0.46)
        sun = _c(1.0, 0.66, 0.34)
        light = _c(0.92, 0.52, 0.32)
        amb = _c(0.26, 0.21, 0.34)
        cl_lit = _c(1.0, 0.56, 0.38)
        cl_dark = _c(0.42, 0.28, 0.40)
        glow = _c(1.0, 0.55, 0.25)
    elif time == "dusk":
        zen = _c(0.05, 0.07, 0.20)
        hor = _c(0.58, 0.36, 0.48)
        mid = _c(0.30, 0.24, 0.42)
        sun = _c(0.9, 0.5, 0.4)
        light = _c(0.46, 0.36, 0.52)
        amb = _c(0.20, 0.19, 0.30)
        cl_lit = _c(0.62, 0.42, 0.52)
        cl_dark = _c(0.20, 0.17, 0.28)
        glow = _c(0.85, 0.45, 0.45)
    else:  # night
        zen = _c(0.015, 0.025, 0.07)
        hor = _c(0.07, 0.11, 0.21)
        mid = None
        sun = _c(0.96, 0.95, 0.86)  # the moon
        light = _c(0.40, 0.48, 0.72)
        amb = _c(0.09, 0.11, 0.19)
        cl_lit = _c(0.26, 0.29, 0.38)
        cl_dark = _c(0.09, 0.10, 0.14)
        glow = _c(0.35, 0.38, 0.48)

    # per-scene variation of the sky hue / brightness (strong: the style encoder needs it)
    zen = _jit(rng, zen, 0.10)
    hor = _jit(rng, hor, 0.07)
    if mid is not None:
        mid = _jit(rng, mid, 0.07)
    light = _jit(rng, light, 0.05)
    amb = _jit(rng, amb, 0.06)
    haze = _mix(hor, zen, 0.15)

    haze_k = {"clear": 0.25, "cloudy": 0.3, "overcast": 0.45, "hazy": 0.75, "foggy": 0.6}[weather]
    haze_k *= rng.uniform(0.7, 1.3)
    if weather == "overcast":
        g = 0.62 if time == "day" else (0.45 if time in ("golden_hour", "sunset") else
                                       (0.22 if time == "dusk" else 0.13))
        grey = _c(g, g * 1.01, g * 1.05)
        zen = _mix(zen, grey * 0.85, 0.55)
        hor = _mix(hor, grey * 1.15, 0.6)
        haze = _mix(haze, grey * 1.1, 0.8)
        amb = amb * 0.7 + light * (0.55 if time != "night" else 0.8)
        light = light * 0.25
        cl_lit = _mix(cl_lit, grey * 1.2, 0.75)
        cl_dark = _mix(cl_dark, grey * 0.7, 0.75)
    elif weather in ("hazy", "foggy"):
        wash = 0.35 if weather == "hazy" else 0.5
        zen = _mix(zen, hor, wash)
        haze = _mix(haze, hor * 1.05, 0.5)
        light = light * (0.8 if weather == "hazy" else 0.6)
        amb = amb * 1.15
    P.update(zen=zen, hor=hor, mid=mid, sun=sun, light=light, amb=amb, cl_lit=cl_lit,
             cl_dark=cl_dark, glow=glow, haze=np.clip(haze, 0, 1).astype(_F32), haze_k=haze_k)

    # albedos
    if season == "summer":
        grass = _c(0.30, 0.50, 0.16)
        hill = _c(0.25, 0.40, 0.17)
        leaves = [_c(0.15, 0.33, 0.11), _c(0.20, 0.38, 0.12), _c(0.12, 0.28, 0.12)]
        bush = _c(0.17, 0.33, 0.12)
    elif season == "spring":
        grass = _c(0.42, 0.62, 0.20)
        hill = _c(0.34, 0.52, 0.20)
        leaves = [_c(0.32, 0.55, 0.18), _c(0.96, 0.74, 0.84), _c(0.96, 0.95, 0.90),
                  _c(0.40, 0.60, 0.20)]
        bush = _c(0.26, 0.47, 0.16)
    elif season == "autumn":
        grass = _c(0.58, 0.54, 0.26)
        hill = _c(0.52, 0.42, 0.20)
        leaves = [_c(0.85, 0.42, 0.10), _c(0.78, 0.20, 0.08), _c(0.88, 0.66, 0.14),
                  _c(0.60, 0.32, 0.10), _c(0.35, 0.38, 0.12)]
        bush = _c(0.55, 0.26, 0.10)
    else:  # winter
        grass = _c(0.44, 0.42, 0.30)
        hill = _c(0.36, 0.33, 0.29)
        leaves = [_c(0.30, 0.24, 0.20)]
        bush = _c(0.32, 0.26, 0.20)
    P.update(grass=_jit(rng, grass, 0.07), hill=_jit(rng, hill, 0.07),
             leaves=[_jit(rng, c, 0.05) for c in leaves], bush=_jit(rng, bush, 0.06))
    P["conifer"] = _jit(rng, _c(0.07, 0.20, 0.12), 0.08)
    P["trunk"] = _jit(rng, _c(0.24, 0.17, 0.12), 0.08)
    rock_choices = [_c(0.46, 0.44, 0.42), _c(0.50, 0.43, 0.36), _c(0.38, 0.39, 0.42),
                    _c(0.55, 0.50, 0.44)]
    P["rock"] = _jit(rng, rock_choices[int(rng.integers(len(rock_choices)))], 0.05)
    P["mountain"] = _jit(rng, rock_choices[int(rng.integers(len(rock_choices)))] * 0.95, 0.05)
    P["snow"] = _c(0.94, 0.95, 0.98)
    P["sand"] = _jit(rng, _c(0.86, 0.77, 0.56), 0.04)
    P["dirt"] = _jit(rng, _c(0.45, 0.32, 0.20), 0.07)
    P["sea"] = _jit(rng, [_c(0.03, 0.17, 0.32), _c(0.03, 0.26, 0.33), _c(0.05, 0.20, 0.28)]
                    [int(rng.integers(3))], 0.08)
    P["river"] = _jit(rng, _c(0.10, 0.26, 0.28), 0.08)
    fog_base = {"day": _c(0.86, 0.88, 0.90), "golden_hour": _c(0.95, 0.84, 0.70),
                "sunset": _c(0.86, 0.66, 0.62), "dusk": _c(0.46, 0.42, 0.52),
                "night": _c(0.14, 0.16, 0.22)}[time]
    if weather == "overcast":
        fog_base = _mix(fog_base, haze, 0.5)
    P["fog"] = _jit(rng, fog_base, 0.03)
    return P


# --------------------------------------------------------------------------------------------
# the scene
# --------------------------------------------------------------------------------------------

class _Scene:
    def __init__(self, seed: int, H: int, W: int):
        self.seed = seed
        # decisions (resolution independent) and pixel noise come from separate streams, so the
        # same seed gives the same kind of scene at every size
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.nrng = np.random.Generator(np.random.PCG64(int(self.rng.integers(1 << 62))))
        self.srng = self.rng  # per-sprite generator (set before drawing each sprite)
        self.H, self.W = H, W
        self.img = np.zeros((H, W, 3), _F32)
        self.lab = np.zeros((H, W), np.uint8)
        self.ys = (np.arange(H, dtype=_F32) + 0.5)[:, None]
        self.xs = (np.arange(W, dtype=_F32) + 0.5)[None, :]
        self.info: dict = {}
        self.k = H / 256.0  # pixel scale relative to the 256 reference

    # ---------------------------------------------------------------- compositing helpers
    def paint(self, y0: int, x0: int, alpha: np.ndarray, color, label, thresh: float = 0.5):
        """Alpha-blend ``color`` over the canvas at (y0, x0); label pixels with alpha >= thresh."""
        h, w = alpha.shape
        ya, xa = max(y0, 0), max(x0, 0)
        yb, xb = min(y0 + h, self.H), min(x0 + w, self.W)
        if ya >= yb or xa >= xb:
            return
        sy = slice(ya - y0, yb - y0)
        sx = slice(xa - x0, xb - x0)
        a = alpha[sy, sx]
        if isinstance(color, np.ndarray) and color.ndim == 3:
            col = color[sy, sx]
        else:
            col = color
        reg = self.img[ya:yb, xa:xb]
        reg += (col - reg) * a[..., None]
        m = a >= thresh
        if isinstance(label, np.ndarray):
            self.lab[ya:yb, xa:xb][m] = label[sy, sx][m]
        else:
            self.lab[ya:yb, xa:xb][m] = label

    def lit(self, alb, shade):
        """Surface colour: albedo * (ambient + key light * shade)."""
        P = self.P
        if isinstance(shade, np.ndarray):
            s = shade[..., None]
            return alb * (P["amb"] + P["light"] * s)
        return alb * (P["amb"] + P["light"] * _F32(shade))

    def hazed(self, col, amount):
        """Aerial perspective: blend to the haze colour."""
        P = self.P
        # capped: a labelled surface always stays visible (thick white-out is labelled fog)
        if isinstance(amount, np.ndarray):
            a = np.clip(amount, 0.0, 0.72)[..., None].astype(_F32)
            return col + (P["haze"] - col) * a
        a = _F32(min(max(amount, 0.0), 0.72))
        return col + (P["haze"] - col) * a

    # ---------------------------------------------------------------- scene description
    def choose(self):
        rng = self.rng
        H, W = self.H, self.W
        time = TIMES[int(rng.choice(len(TIMES), p=TIME_P))]
        season = SEASONS[int(rng.choice(len(SEASONS), p=SEASON_P))]
        weather = WEATHERS[int(rng.choice(len(WEATHERS), p=WEATHER_P))]
        water = ("none", "sea", "river")[int(rng.choice(3, p=(0.36, 0.32, 0.32)))]
        n_mount = int(rng.choice(3, p=(0.36, 0.38, 0.26)))
        n_hills = int(rng.choice(4, p=(0.24, 0.36, 0.26, 0.14)))
        self.time, self.season, self.weather, self.water = time, season, weather, water
        self.n_mount, self.n_hills = n_mount, n_hills
        self.P = _make_palette(rng, time, season, weather)
        self.yh = H * rng.uniform(0.36, 0.60)
        if n_mount and rng.random() < 0.5:
            self.yh = H * rng.uniform(0.48, 0.64)
        # light direction: sun / moon position
        if time == "day":
            sx = W * rng.uniform(-0.3, 1.3)
            sy = self.yh - H * rng.uniform(0.25, 0.9)
            elev = 0.85
        elif time in ("golden_hour", "sunset"):
            sx = W * rng.uniform(0.05, 0.95)
            sy = self.yh - H * (rng.uniform(0.05, 0.22) if time == "golden_hour"
                                else rng.uniform(0.0, 0.08))
            elev = 0.3 if time == "golden_hour" else 0.15
        elif time == "dusk":
            sx = W * rng.uniform(0.0, 1.0)
            sy = self.yh + H * 0.06
            elev = 0.05
        else:
            sx = W * rng.uniform(0.1, 0.9)
            sy = self.yh * rng.uniform(0.12, 0.7)
            elev = 0.6
        self.sun_xy = (float(sx), float(sy))
        self.lx = float(np.clip((sx - W / 2) / (W / 2), -1.0, 1.0))
        self.elev = elev
        self.ground_light = 0.45 + 0.55 * elev
        self.snow_ground = season == "winter" and rng.random() < 0.8
        self.info.update(time=time, season=season, weather=weather, water=water,
                         mountains=n_mount, hills=n_hills, horizon=round(self.yh / H, 4),
                         snow_ground=bool(self.snow_ground))

    # ---------------------------------------------------------------- sky
    def sky(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        yh = self.yh
        t = np.clip((yh - self.ys) / max(yh, 1.0), 0.0, 1.0)  # (H,1) 1 = zenith
        if P["mid"] is None:
            e = 1.0 - (1.0 - t) * (1.0 - t)
            col = P["hor"] + (P["zen"] - P["hor"]) * e[..., None]
        else:
            a = _smoothstep(0.0, 0.35, t)[..., None]
            b = _smoothstep(0.2, 1.0, t)[..., None]
            col = P["hor"] + (P["mid"] - P["hor"]) * a
            col = col + (P["zen"] - col) * b
        sky = np.broadcast_to(col, (H, W, 3)).copy()
        sx, sy = self.sun_xy
        dx = (self.xs - sx) / H
        dy = (self.ys - sy) / H
        d2 = dx * dx + dy * dy
        if self.time != "night":
            wide = {"day": 0.10, "golden_hour": 0.35, "sunset": 0.45, "dusk": 0.5}[self.time]
            wide *= 1.6 if self.weather in ("hazy", "foggy") else 1.0
            g1 = 1.0 / (1.0 + d2 * (1.0 / (wide * wide)))
            g2 = 1.0 / (1.0 + d2 * (1.0 / (0.03 * 0.03)))
            amp1 = {"day": 0.35, "golden_hour": 0.5, "sunset": 0.55, "dusk": 0.4}[self.time]
            if self.weather == "overcast":
                amp1 *= 0.3
            sky += P["glow"] * (g1 * _F32(amp1) + g2 * _F32(0.45 if self.weather != "overcast"
                                                             else 0.1))[..., None]
        else:
            g1 = 1.0 / (1.0 + d2 * (1.0 / (0.12 * 0.12)))
            sky += P["glow"] * (g1 * _F32(0.18))[..., None]
        self.sky_col = np.clip(sky, 0.0, 1.2).astype(_F32)
        self.img[:] = self.sky_col
        self.lab[:] = SKY
        self.info["sun"] = [round(sx / W, 3), round(sy / H, 3)]

        # stars
        if self.time in ("night", "dusk") and self.weather not in ("overcast", "foggy"):
            n = int(H * W * (0.004 if self.time == "night" else 0.0012))
            py = self.nrng.integers(0, max(1, int(yh)), n)
            px = self.nrng.integers(0, W, n)
            br = self.nrng.random(n).astype(_F32)
            br = br * br * br * _F32(0.85) + _F32(0.1)
            fade = np.clip((yh - py) / (0.3 * H), 0.0, 1.0).astype(_F32)
            v = (br * fade)[:, None] * _c(0.95, 0.95, 1.0)
            np.maximum.at(self.img, (py, px), v)
        # sun / moon disc
        if self.time in ("day", "golden_hour", "sunset", "night"):
            r = H * (0.03 if self.time == "night" else (0.035 if self.time == "day" else 0.05))
            r *= rng.uniform(0.8, 1.2)
            y0, y1 = max(0, int(sy - r) - 2), min(H, int(sy + r) + 3)
            x0, x1 = max(0, int(sx - r) - 2), min(W, int(sx + r) + 3)
            if y1 > y0 and x1 > x0:
                d = np.sqrt(d2[y0:y1, x0:x1]) * H
                alpha = np.clip(r - d + 0.5, 0.0, 1.0).astype(_F32)
                if self.weather == "overcast":
                    alpha *= 0.25
                under = self.img[y0:y1, x0:x1]
                if self.time == "night":
                    mar = _fbm2d(self.nrng, y1 - y0, x1 - x0, r * 0.8, octaves=3)
                    col = P["sun"] * (0.86 + 0.07 * mar)[..., None]
                else:
                    # the disc is always brighter than the glow around it
                    col = np.minimum(under * 0.35 + P["sun"] * 1.1, 1.35)
                self.paint(y0, x0, alpha, col, SKY)

    # ---------------------------------------------------------------- clouds
    def clouds(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        w = self.weather
        r = rng.random()
        if w == "clear":
            cover = -0.2 if r < 0.55 else 0.25
            kind = "wisp" if r < 0.8 else "cumulus"
        elif w == "cloudy":
            cover = rng.uniform(0.35, 0.7)
            kind = "cumulus" if r < 0.6 else "strato"
        elif w == "overcast":
            cover = rng.uniform(0.88, 1.0)
            kind = "strato"
        elif w == "hazy":
            cover = rng.uniform(0.0, 0.4)
            kind = "wisp" if r < 0.5 else "strato"
        else:
            cover = rng.uniform(0.2, 0.7)
            kind = "strato"
        self.info["clouds"] = kind if cover > 0 else "none"
        if cover <= 0:
            return
        y1 = int(min(H, math.ceil(self.yh) + 1))
        if y1 <= 1:
            return
        ys = self.ys[:y1]
        v = np.maximum((self.yh - ys) / H, _F32(0.004))  # rows above the horizon
        Z = _F32(1.0) / v  # cloud plane depth
        X = (self.xs - W / 2) / H * Z
        pn = self.pn
        # noise frequency across / along the cloud plane (q = along/across: >1 streaky)
        a_, q = {"cumulus": (1.5, 0.45), "strato": (0.9, 0.8), "wisp": (1.1, 1.8)}[kind]
        a_ *= rng.uniform(0.7, 1.4)
        fx = X * _F32(a_)
        fz = (Z * _F32(a_ * q)) + _F32(rng.uniform(0, 50))
        fp = (Z / H) * _F32(a_) * np.maximum(Z * _F32(q), _F32(1.0))
        dens = pn.fbm(fx, fz, octaves=5, gain=0.55, footprint=fp, seed_off=1)
        # coverage: cover ~ fraction of sky covered
        thr = 1.1 - 2.0 * cover
        soft = 0.55 if kind != "cumulus" else 0.35
        if kind == "wisp":
            thr = 0.9
            soft = 0.9
        a = _smoothstep(thr, thr + soft, dens)
        # lighting: density a bit further toward the light (sun above / sideways)
        dens2 = pn.fbm(fx - _F32(0.1 * self.lx), fz + _F32(0.12), octaves=5, gain=0.55,
                       footprint=fp, seed_off=1)
        shade = np.clip(0.55 + (dens2 - dens) * -1.4 + (1.0 - a) * 0.35, 0.0, 1.0)
        if kind == "strato":
            shade = shade * 0.7 + 0.15
        col = P["cl_dark"] + (P["cl_lit"] - P["cl_dark"]) * shade[..., None]
        # sun-side glow on thin edges
        sxs, sys_ = self.sun_xy
        dd = ((self.xs - sxs) / H) ** 2 + ((ys - sys_) / H) ** 2
        g = (1.0 / (1.0 + dd * 25.0)) * (1.0 - a) * 0.6
        col = col + P["glow"] * g[..., None] * _F32(0.6 if self.time != "night" else 0.3)
        # fade toward the horizon (clouds far away sink into haze)
        far = np.clip(1.0 - v / 0.18, 0.0, 1.0)
        col = col + (self.sky_col[:y1] - col) * (far * far * 0.35)[..., None]
        maxa = 0.97 if kind != "wisp" else 0.8
        alpha = a * _F32(maxa)
        alpha *= 1.0 - far * far * 0.6
        self.paint(0, 0, alpha, col, CLOUD)

    # ---------------------------------------------------------------- mountains & hills
    def _profile(self, cell, octaves, ridged):
        p = _fbm1d(self.nrng, self.W, cell, octaves=octaves, ridged=ridged)
        env = _noise1d(self.nrng, self.W, self.W * self.rng.uniform(0.5, 1.2)) * 0.35 + 1.0
        p = p * env
        lo, hi = float(p.min()), float(p.max())
        return ((p - lo) / max(hi - lo, 1e-6)).astype(_F32)

    def mountains(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        if self.n_mount == 0:
            return
        yh = self.yh
        for k in range(self.n_mount):
            far = (self.n_mount - 1 - k) / max(self.n_mount, 1)  # 1 far ... 0 near
            A = H * (rng.uniform(0.14, 0.34) if k == 0 else rng.uniform(0.08, 0.2))
            A = min(A, yh * 0.85)
            base = yh + 1.0
            ridges = []
            nsub = int(rng.integers(2, 4))
            for j in range(nsub):
                prof = self._profile(W * rng.uniform(0.25, 0.6), 7, True)
                amp = A * (1.0 - 0.3 * j / max(nsub - 1, 1)) * rng.uniform(0.8, 1.0)
                ridges.append(base - amp * (0.12 + 0.88 * prof))
            top = max(0, int(math.floor(min(float(r.min()) for r in ridges))) - 1)
            bot = min(H, int(math.ceil(base)) + 1)
            if bot <= top + 1:
                continue
            ys = self.ys[top:bot]
            h = bot - top
            haze_amt = self.P["haze_k"] * (0.55 + 0.5 * far) + 0.1
            alb = _jit(rng, P["mountain"], 0.04)
            veg = P["hill"] * 0.8
            streak = _fbm2d(self.nrng, h, W, 3.0 * self.k, octaves=3, stretch=(4.0, 1.0))
            tex = _fbm2d(self.nrng, h, W, 10.0 * self.k, octaves=4)
            snowline = None
            if self.season == "winter" or rng.random() < 0.65:
                snowline = rng.uniform(0.15, 0.45) if self.season == "winter" else \
                    rng.uniform(0.45, 0.8)
            self.info.setdefault("snowcaps", False)
            for j, ridge in enumerate(ridges):
                alpha = np.clip(ys - ridge[None, :] + 0.5, 0.0, 1.0).astype(_F32)
                slope = np.gradient(ridge.astype(np.float64)).astype(_F32)
                slope = _box_blur_rows(slope[None, :], max(1, int(2 * self.k)))[0]
                face1 = np.clip(slope * self.lx * 1.6, -1.0, 1.0)
                # faces continue down the slope as diagonal spurs / gullies
                spread = _noise1d(self.nrng, W, W * 0.1) * 0.8
                dpx = np.maximum(ys - ridge[None, :], 0.0)
                xi = np.clip(self.xs - 0.5 + dpx * spread[None, :], 0, W - 1).astype(np.intp)
                face = face1[xi]
                depth = np.clip((ys - ridge[None, :]) / A, 0.0, 1.0)  # 0 at crest
                shade = (0.62 + 0.42 * face - 0.25 * depth + 0.12 * streak
                         + 0.08 * tex)
                shade = np.clip(shade, 0.05, 1.2)
                hgt = (base - ys) / A  # 0 at the base .. 1 at top
                green = _smoothstep(0.45, 0.05, hgt + 0.1 * tex)
                if self.season == "winter":
                    green *= 0.3
                a_col = alb + (veg - alb) * (green * 0.7)[..., None]
                col = self.lit(a_col, shade * self.ground_light)
                labels = np.full(alpha.shape, MOUNTAIN, np.uint8)
                if snowline is not None:
                    sv = hgt - snowline + 0.08 * tex + 0.06 * streak + 0.1 * face
                    smask = np.clip(sv * 12.0 + 0.5, 0.0, 1.0)
                    sshade = (0.78 + 0.4 * face - 0.12 * depth + 0.04 * streak
                              + 0.05 * tex)
                    scol = self.lit(P["snow"], np.clip(sshade, 0.2, 1.1) * self.ground_light)
                    col = col + (scol - col) * smask[..., None]
                    labels[smask >= 0.5] = SNOW
                    if (smask >= 0.5).any():
                        self.info["snowcaps"] = True
                sub_haze = haze_amt * (1.0 + 0.25 * (nsub - 1 - j) / max(nsub, 1))
                col = self.hazed(col, sub_haze + 0.25 * depth * self.P["haze_k"])
                self.paint(top, 0, alpha, col, labels)

    def hills(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        yh = self.yh
        self.hill_bases = []
        n = self.n_hills
        if n == 0:
            return
        for k in range(n):
            far = (n - 1 - k) / max(n, 1)
            A = H * rng.uniform(0.04, 0.17) * (1.0 - 0.3 * far)
            if self.water == "sea":
                base = yh + 1.0
            else:
                base = yh + H * 0.012 * (k + 1) * rng.uniform(0.5, 1.5)
            prof = self._profile(W * rng.uniform(0.35, 0.9), 3, False)
            # flatten some stretches so hills do not cover the full width
            prof = np.clip(prof * 1.25 - rng.uniform(0.0, 0.5), 0.0, None)
            ridge = (base - A * prof).astype(_F32)
            top = max(0, int(math.floor(float(ridge.min()))) - 1)
            bot = min(H, int(math.ceil(base + 0.04 * H)) + 1)
            if bot <= top + 1:
                continue
            ys = self.ys[top:bot]
            h = bot - top
            alpha = np.clip(ys - ridge[None, :] + 0.5, 0.0, 1.0).astype(_F32)
            if self.water == "sea":
                alpha *= (ys <= base + 0.5).astype(_F32)
                # islands only where there is some height
                alpha *= (prof > 0.02)[None, :].astype(_F32)
            slope = np.gradient(ridge.astype(np.float64)).astype(_F32)
            slope = _box_blur_rows(slope[None, :], max(1, int(3 * self.k)))[0]
            face = np.clip(slope * self.lx * 3.0, -1.0, 1.0)
            depth = np.clip((ys - ridge[None, :]) / max(A, 1.0), 0.0, 1.5)
            tex = _fbm2d(self.nrng, h, W, 6.0 * self.k, octaves=3)
            speck = _fbm2d(self.nrng, h, W, 1.3 * self.k + 0.4, octaves=2)
            dots = np.clip((speck - 0.9) * 2.0, 0.0, 1.0)
            shade = 0.7 + 0.3 * face[None, :] - 0.18 * depth + 0.08 * tex - 0.35 * dots
            alb = P["hill"]
            if self.season == "autumn":
                mixc = _c(0.70, 0.38, 0.12)
                alb = alb + (mixc - alb) * np.clip(0.5 + 0.5 * tex, 0, 1)[..., None] * 0.6
            elif self.season == "spring":
                alb = alb + (_c(0.45, 0.6, 0.25) - alb) * np.clip(tex * 0.5, 0, 1)[..., None]
            col = self.lit(alb, np.clip(shade, 0.1, 1.2) * self.ground_light)
            labels = np.full(alpha.shape, HILL, np.uint8)
            if self.season == "winter" and (self.snow_ground or rng.random() < 0.6):
                cover = rng.uniform(0.2, 0.9)
                sv = tex * 0.5 + 0.3 * face[None, :] - (1.0 - 2.0 * cover) - 0.3 * depth
                smask = np.clip(sv * 6.0 + 0.5, 0.0, 1.0)
                scol = self.lit(P["snow"], np.clip(shade + 0.2, 0.2, 1.1) * self.ground_light)
                col = col + (scol - col) * smask[..., None]
                labels[smask >= 0.5] = SNOW
            col = self.hazed(col, P["haze_k"] * (0.25 + 0.55 * far) + 0.1 * depth * P["haze_k"])
            self.paint(top, 0, alpha, col, labels)
            self.hill_bases.append(base)
            # trees on the hill slope
            if rng.random() < 0.45 and self.season != "winter" or rng.random() < 0.15:
                self._hill_trees(ridge, base, A, far)

    def _hill_trees(self, ridge, base, A, far):
        rng = self.rng
        W = self.W
        n = int(rng.integers(3, 30) * W / self.H)
        clustered = rng.random() < 0.5
        cx0 = rng.uniform(0, W)
        items = []
        for _ in range(n):
            x = rng.uniform(0, W) if not clustered else cx0 + rng.normal(0, W * 0.12)
            fy = rng.uniform(0.25, 1.0)
            hgt = self.H * rng.uniform(0.025, 0.05) * (1.0 - 0.4 * far)
            sseed = int(rng.integers(1 << 62))
            xi = int(min(max(x, 0), W - 1))
            r = float(ridge[xi])
            if base - r < 3:
                continue
            items.append((r + fy * (base - r), x, hgt, sseed))
        items.sort()
        for yb, x, hgt, sseed in items:
            if self.lab[min(int(yb), self.H - 1), int(min(max(x, 0), W - 1))] != HILL:
                continue
            self.srng = np.random.Generator(np.random.PCG64(sseed))
            self.tree(x, yb, hgt, haze=self.P["haze_k"] * (0.3 + 0.5 * far))

    # ---------------------------------------------------------------- ground
    def ground(self):
        """Base ground (grass / snow), patches (flowers, dirt, rock, sand), sea, river, paths."""
        P, H, W, rng = self.P, self.H, self.W, self.rng
        yh = self.yh
        r0 = int(math.floor(yh))
        if r0 >= H:
            return
        ys = self.ys[r0:]
        h = H - r0
        v = np.maximum((ys - yh) / H, _F32(0.0015))  # (h,1)
        Z = _F32(_CAM) / v
        X = (self.xs - W / 2) / H * Z
        fp_z = Z * Z / (_CAM * H)  # world units per pixel along the view
        self.g_v, self.g_Z, self.g_X, self.g_r0 = v, Z, X, r0
        pn = self.pn
        # where the ground starts (undulating line slightly below the horizon, in front of hills)
        gl = np.full(W, yh, _F32)
        if self.hill_bases and self.water != "sea":
            gl = gl + (max(self.hill_bases) - yh) * (0.6 + 0.4 * _noise1d(self.nrng, W, W * 0.3)
                                                     * 0.5)
        self.gl = gl
        galpha = np.clip(ys - gl[None, :] + 0.5, 0.0, 1.0).astype(_F32)

        # ---- world-space texture fields
        fade_far = np.clip(v / 0.06, 0.0, 1.0)  # 0 at the horizon
        patch = pn.fbm(X * 0.05, Z * 0.05, octaves=4, footprint=fp_z * 0.05, seed_off=2)
        patch2 = pn.fbm(X * 0.09 + 17.0, Z * 0.09, octaves=4, footprint=fp_z * 0.09,
                        seed_off=4)
        # screen-space grass blades: fine far, coarse near
        k = self.k
        fine = _fbm2d(self.nrng, h, W, 1.6 * k + 0.3, octaves=2, stretch=(3.0, 0.7))
        coarse = _fbm2d(self.nrng, h, W, 3.5 * k + 0.5, octaves=3, stretch=(3.5, 0.8))
        wnear = np.clip((v - 0.08) / 0.3, 0.0, 1.0)
        blades = fine + (coarse - fine) * wnear
        light = self.ground_light

        # ---- base: grass or snow
        labels = np.full((h, W), GRASS, np.uint8)
        tuft = 1.0 - 2.0 * np.abs(blades) * 0.7  # thin bright blades, dark gaps
        gshade = 0.8 + 0.12 * patch + 0.16 * tuft * (0.4 + 0.6 * fade_far)
        grass_col = self.lit(P["grass"] * (1.0 + 0.12 * patch2)[..., None],
                             gshade * light)
        col = grass_col
        if self.snow_ground:
            sshade = 0.9 + 0.06 * patch + 0.02 * blades
            snow_col = self.lit(P["snow"], sshade * light)
            bare = _smoothstep(0.6, 0.9, patch2 - 0.1 * patch) * fade_far
            col = snow_col + (grass_col - snow_col) * bare[..., None]
            labels[:] = SNOW
            labels[bare >= 0.5] = GRASS
        # ---- patches
        far_thr = (1.0 - fade_far) * 2.0  # makes patches vanish toward the horizon
        self.flower_kind = None
        sp = self.season
        p_flower = {"spring": 0.85, "summer": 0.55, "autumn": 0.08, "winter": 0.0}[sp]
        if self.snow_ground:
            p_flower = 0.0
        if rng.random() < p_flower:
            fpat = pn.fbm(X * 0.12 + 5.0, Z * 0.12, octaves=3, footprint=fp_z * 0.12,
                          seed_off=5)
            thr = rng.uniform(0.5, 1.1)
            fm = np.clip((fpat - thr - far_thr) * 4.0 + 0.5, 0.0, 1.0)
            dots_f = _fbm2d(self.nrng, h, W, 0.9 * k + 0.35, octaves=1)
            dots_c = _fbm2d(self.nrng, h, W, 1.8 * k + 0.5, octaves=1)
            dots = dots_f + (dots_c - dots_f) * wnear
            dens = rng.uniform(-0.3, 0.5)
            dm = np.clip((dots - dens) * 3.0, 0.0, 1.0) * fm
            palettes = [_c(0.95, 0.85, 0.15), _c(0.92, 0.20, 0.18), _c(0.97, 0.95, 0.95),
                        _c(0.62, 0.35, 0.85), _c(0.98, 0.55, 0.75), _c(0.98, 0.6, 0.15),
                        _c(0.35, 0.45, 0.95)]
            i1, i2 = rng.choice(len(palettes), 2, replace=False)
            sel = np.clip(pn.fbm(X * 0.3, Z * 0.3, octaves=2, footprint=fp_z * 0.3,
                                 seed_off=6) * 2.0 + 0.5, 0, 1)
            fcol = palettes[i1] + (palettes[i2] - palettes[i1]) * sel[..., None]
            fcol = self.lit(fcol, (0.95 + 0.1 * dots)[...] * light)
            under = self.lit(P["grass"] * _F32(1.05), (gshade + 0.05) * light)
            fl_col = under + (fcol - under) * dm[..., None]
            col = col + (fl_col - col) * fm[..., None]
            labels[fm >= 0.5] = FLOWER
            self.info["flowers"] = True
        if rng.random() < (0.45 if not self.snow_ground else 0.25):
            dpat = pn.fbm(X * 0.07 + 40.0, Z * 0.07, octaves=4, footprint=fp_z * 0.07,
                          seed_off=7)
            thr = rng.uniform(0.8, 1.5)
            dm = np.clip((dpat - thr - far_thr) * 5.0 + 0.5, 0.0, 1.0)
            peb = _fbm2d(self.nrng, h, W, 1.2 * k + 0.3, octaves=2)
            dcol = self.lit(P["dirt"] * (1.0 + 0.1 * patch2)[..., None],
                            (0.8 + 0.1 * peb + 0.05 * patch) * light)
            col = col + (dcol - col) * dm[..., None]
            labels[dm >= 0.5] = DIRT
        if rng.random() < 0.3:
            rpat = pn.fbm(X * 0.06 + 80.0, Z * 0.06, octaves=5, gain=0.6,
                          footprint=fp_z * 0.06, seed_off=3)
            thr = rng.uniform(1.1, 1.7)
            rm = np.clip((rpat - thr - far_thr) * 6.0 + 0.5, 0.0, 1.0)
            crack = np.abs(_fbm2d(self.nrng, h, W, 3.0 * k + 0.5, octaves=3))
            rshade = 0.75 + 0.25 * np.clip(1.0 - crack * 2.0, -1, 1) + 0.1 * patch2
            rcol = self.lit(P["rock"], np.clip(rshade, 0.2, 1.2) * light)
            col = col + (rcol - col) * rm[..., None]
            labels[rm >= 0.5] = ROCK
        col = self.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.9)
        self.paint(r0, 0, galpha, col, labels)
        self.ground_tex = dict(patch=patch, patch2=patch2, blades=blades, wnear=wnear,
                               fp_z=fp_z)

    def _water_color(self, rows, reflectivity, alb, streak, lit_amt):
        """Water = mix of body colour and mirrored sky (Fresnel: more mirror toward the horizon)."""
        H = self.H
        yh = self.yh
        ys = self.ys[rows]
        mir = np.clip(yh - (ys - yh) * 1.8 - 1.0, 0, H - 1).astype(np.intp)[:, 0]
        # the sky colour along the mirrored row, x offset with waves
        refl = self.sky_col[mir]
        v = np.maximum((ys - yh) / H, _F32(0.0015))
        fres = np.clip(reflectivity * (1.0 - v * 1.6), 0.1, 0.95)
        body = self.lit(alb, lit_amt)
        col = body + (refl - body) * fres[..., None]
        col = col * (1.0 + 0.18 * streak)[..., None]
        return col

    def sea(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        if self.water != "sea":
            return
        yh = self.yh
        r0 = self.g_r0
        ys = self.ys[r0:]
        h = H - r0
        v, Z, X, fp_z = self.g_v, self.g_Z, self.g_X, self.ground_tex["fp_z"]
        # shoreline in screen rows; may climb to the horizon on one side (coast)
        depth = H - yh
        s0 = yh + depth * rng.uniform(0.2, 0.65)
        slope = rng.uniform(-1.0, 1.0) * depth * 1.2 / W if rng.random() < 0.6 else 0.0
        wob = _fbm1d(self.nrng, W, W * 0.25, octaves=4) * depth * 0.08
        shore = (s0 + slope * (self.xs[0] - W / 2) + wob).astype(_F32)
        if rng.random() < 0.15:
            shore = np.full(W, H + 5.0, _F32)  # open sea to the bottom
        self.shore = shore
        alpha = np.clip(shore[None, :] - ys + 0.5, 0.0, 1.0) * np.clip(ys - yh + 0.5, 0, 1)
        alpha = alpha.astype(_F32)
        pn = self.pn
        waves = pn.fbm(X * 0.35, Z * 1.4, octaves=4, footprint=fp_z * 1.4, seed_off=1)
        chop = _fbm2d(self.nrng, h, W, 1.0 * self.k + 0.3, octaves=2, stretch=(0.6, 3.0))
        streak = waves * 0.8 + chop * 0.25 * np.clip(v / 0.1, 0, 1)
        col = self._water_color(slice(r0, H), 0.85, P["sea"], streak,
                                0.35 * self.ground_light)
        # sun / moon glitter path
        sx, sy = self.sun_xy
        if sy < yh and self.weather not in ("overcast", "foggy"):
            wpath = (0.03 + v * 0.5) * H
            dxp = np.abs(self.xs - sx) / wpath
            path = np.clip(1.0 - dxp, 0.0, 1.0)
            spark = np.clip((chop + waves * 0.5 - 0.8 + 0.6 * (1.0 - path)) * 2.0, 0.0, 1.0) * path
            col = col + P["sun"] * (spark * 0.9)[..., None] * _F32(
                0.6 if self.time == "night" else 1.0)
        # foam along the shore
        dist = (shore[None, :] - ys) / (v * H * 0.08 + 0.7)
        foam = np.clip(1.0 - dist, 0.0, 1.0) * np.clip(0.6 + 0.6 * chop, 0, 1)
        foam_c = self.lit(_c(0.9, 0.93, 0.95), 0.9 * self.ground_light)
        col = col + (foam_c - col) * (foam * 0.8)[..., None]
        col = self.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.6)
        self.paint(r0, 0, alpha, col, SEA)
        # beach: sand band behind the shore
        bw = rng.uniform(0.04, 0.2) * H
        if rng.random() < 0.2:
            bw = H  # all-sand foreground
        sand_end = shore + bw * np.clip(0.75 + 0.25 * _noise1d(self.nrng, W, W * 0.2), 0.3, 1.3)
        band = (np.clip(ys - shore[None, :] + 0.5, 0.0, 1.0)
                * np.clip(sand_end[None, :] * (1.0 + 0 * ys) - ys + 0.5, 0.0, 1.0)
                * np.clip(ys - yh + 0.5, 0.0, 1.0)).astype(_F32)
        wet = np.clip(1.0 - (ys - shore[None, :]) / (v * H * 0.12 + 0.8), 0.0, 1.0)
        self._sand(r0, band, wet)

    def _sand(self, r0, alpha, wet=None):
        P, H, W = self.P, self.H, self.W
        v, Z, X, fp_z = self.g_v, self.g_Z, self.g_X, self.ground_tex["fp_z"]
        pn = self.pn
        warp = pn.fbm(X * 0.25, Z * 0.25, octaves=3, footprint=fp_z * 0.25, seed_off=6)
        t = Z * 2.2 + X * 0.5 + warp * 1.2
        t = t - np.floor(t)
        rip = np.minimum(t * 1.4, (1.0 - t) * 3.5)  # asymmetric ripple: gentle / steep side
        fadef = np.clip(1.0 - fp_z * 4.0, 0.0, 1.0)
        if self.sand_grain is None:
            self.sand_grain = _fbm2d(self.nrng, H - r0, W, 0.8 * self.k + 0.3, octaves=1)
        shade = (0.84 + 0.07 * self.ground_tex["patch"] + 0.22 * (rip - 0.45) * fadef
                 + 0.05 * self.sand_grain)
        if wet is not None:
            shade = shade * (1.0 - 0.3 * wet)
        col = self.lit(P["sand"], shade * self.ground_light)
        col = self.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.9)
        self.paint(r0, 0, alpha, col, SAND)

    def _winding(self, z_near, z_far, width, amp, period, x0):
        """A band winding over the ground plane: returns (cx (h,1), halfwidth (h,1)) per row."""
        rng = self.rng
        Z = self.g_Z
        zz = np.clip(Z[:, 0].astype(np.float64), 0.0, z_far * 2)
        ph = rng.uniform(0, 2 * math.pi)
        ph2 = rng.uniform(0, 2 * math.pi)
        Xc = (x0 + amp * np.sin(zz / period + ph) + amp * 0.45 * np.sin(zz / (period * 0.43) + ph2)
              + (zz - z_near) * rng.uniform(-0.3, 0.3))
        cx = (self.W / 2 + Xc / zz * self.H).astype(_F32)[:, None]
        hw = (width * 0.5 / zz * self.H).astype(_F32)[:, None]
        return cx, hw

    def river(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        if self.water != "river":
            return
        r0 = self.g_r0
        ys = self.ys[r0:]
        h = H - r0
        v, Z, X, fp_z = self.g_v, self.g_Z, self.g_X, self.ground_tex["fp_z"]
        width = rng.uniform(1.0, 3.2)
        z_far = _CAM / max(((max(self.gl.max(), self.yh) - self.yh) / H) + 0.002, 0.004)
        x0 = rng.uniform(-1.2, 1.2)
        cx, hw = self._winding(2.0, z_far, width, rng.uniform(1.5, 5.0), rng.uniform(4, 12), x0)
        d = np.abs(self.xs - cx)
        glv = self.gl[np.clip(cx[:, 0].astype(np.intp), 0, W - 1)][:, None]
        start = np.clip(ys - glv + 0.5, 0.0, 1.0)
        alpha = (np.clip(hw - d + 0.5, 0.0, 1.0) * start).astype(_F32)
        # banks (sand / dirt / rock strip)
        bank_kind = rng.choice(4, p=(0.35, 0.25, 0.15, 0.25))
        if bank_kind < 3:
            bw = hw * rng.uniform(0.25, 0.7) + 0.6
            balpha = (np.clip(hw + bw - d + 0.5, 0.0, 1.0) * start).astype(_F32)
            if bank_kind == 0:
                self._sand(r0, balpha)
            elif bank_kind == 1:
                peb = _fbm2d(self.nrng, h, W, 1.2 * self.k + 0.3, octaves=2)
                col = self.lit(P["dirt"], (0.75 + 0.12 * peb) * self.ground_light)
                self.paint(r0, 0, balpha, col, DIRT)
            else:
                crack = np.abs(_fbm2d(self.nrng, h, W, 2.0 * self.k + 0.5, octaves=3))
                col = self.lit(P["rock"], np.clip(0.9 - crack * 0.8, 0.2, 1) * self.ground_light)
                self.paint(r0, 0, balpha, col, ROCK)
        flow = self.pn.fbm(X * 1.5, Z * 0.25, octaves=3, footprint=fp_z * 0.25, seed_off=3)
        rip = _fbm2d(self.nrng, h, W, 1.2 * self.k + 0.3, octaves=2, stretch=(0.7, 1.5))
        streak = flow * 0.5 + rip * 0.3
        col = self._water_color(slice(r0, H), 0.7, P["river"], streak, 0.4 * self.ground_light)
        # darker near the banks (reflected vegetation), lighter mid-stream
        edge = np.clip(d / np.maximum(hw, 0.5), 0.0, 1.0)
        col = col * (1.0 - 0.28 * edge * edge)[..., None]
        col = self.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.8)
        self.paint(r0, 0, alpha, col, RIVER)
        self.info["river_width"] = round(width, 2)

    def path(self):
        P, H, W, rng = self.P, self.H, self.W, self.rng
        if rng.random() > (0.35 if self.water != "river" else 0.15):
            return
        r0 = self.g_r0
        h = H - r0
        v = self.g_v
        width = rng.uniform(0.8, 2.2)
        z_far = _CAM / rng.uniform(0.03, 0.2)
        side = rng.uniform(-2.5, 2.5)
        cx, hw = self._winding(2.0, z_far, width, rng.uniform(0.5, 2.5), rng.uniform(3, 9), side)
        d = np.abs(self.xs - cx)
        vstart = _CAM / z_far
        start = np.clip((v - vstart) * H + 0.5, 0.0, 1.0)
        taper = np.clip((v - vstart) / 0.03, 0.2, 1.0)
        edge_j = _fbm2d(self.nrng, h, W, 2.0 * self.k + 0.4, octaves=2) * 0.25
        alpha = (np.clip(hw * taper * (1.0 + edge_j) - d + 0.5, 0.0, 1.0) * start).astype(_F32)
        alpha *= (self.lab[r0:] != SEA) & (self.lab[r0:] != RIVER)
        peb = _fbm2d(self.nrng, h, W, 1.0 * self.k + 0.3, octaves=2)
        rut = np.clip(1.0 - np.abs(np.abs(self.xs - cx) / np.maximum(hw, 0.5) - 0.5) * 4, 0, 1)
        shade = 0.85 + 0.1 * peb - 0.12 * rut + 0.05 * self.ground_tex["patch"]
        alb = P["dirt"] if not self.snow_ground or rng.random() < 0.5 else P["dirt"] * 0.8
        col = self.lit(alb, shade * self.ground_light)
        col = self.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.9)
        self.paint(r0, 0, alpha, col, DIRT)
        self.info["path"] = True

    # ---------------------------------------------------------------- sprites
    def _leaf(self, y0, x0, h, w, fine=False, coarse=False):
        """Slice of the per-scene foliage noise (wraps around)."""
        src = self.leaf_coarse if coarse else (self.leaf_fine if fine else self.leaf_n)
        Hs, Ws = src.shape
        yi = (np.arange(y0, y0 + h) % Hs)[:, None]
        xi = (np.arange(x0, x0 + w) % Ws)[None, :]
        return src[yi, xi]

    def shadow(self, cx, yb, rx):
        """Soft contact shadow on the ground (no label change)."""
        if self.weather == "overcast" or rx < 1.0:
            return
        ry = max(0.8, rx * 0.25)
        ox = -self.lx * rx * 0.8
        x0, x1 = int(cx + ox - rx * 1.6) - 1, int(cx + ox + rx * 1.6) + 2
        y0, y1 = int(yb - ry * 1.5) - 1, int(yb + ry * 1.5) + 2
        yy = (np.arange(y0, y1, dtype=_F32) + 0.5)[:, None]
        xx = (np.arange(x0, x1, dtype=_F32) + 0.5)[None, :]
        d = ((xx - cx - ox) / (rx * 1.5)) ** 2 + ((yy - yb) / (ry * 1.5)) ** 2
        a = np.clip(1.0 - d, 0.0, 1.0) * _F32(0.45 * (0.4 + 0.6 * self.elev))
        # multiply-darken (paint black with alpha, never reaching the label threshold)
        a = np.minimum(a, 0.45).astype(_F32)
        self.paint(y0, x0, a, _c(0.0, 0.0, 0.0), 0, thresh=2.0)

    def tree(self, cx, yb, hgt, haze=0.0, kind=None):
        rng = self.srng
        if hgt < 2.5:
            return
        if kind is None:
            p_con = 0.35 if self.season != "winter" else 0.55
            kind = "conifer" if rng.random() < p_con else "decid"
        if kind == "conifer":
            self._conifer(cx, yb, hgt, haze)
        elif self.season == "winter" and rng.random() < 0.85:
            self._bare(cx, yb, hgt, haze)
        else:
            self._decid(cx, yb, hgt, haze)

    def _box(self, cx, yb, wid, hgt):
        x0 = int(math.floor(cx - wid / 2)) - 2
        x1 = int(math.ceil(cx + wid / 2)) + 3
        y0 = int(math.floor(yb - hgt)) - 2
        y1 = int(math.ceil(yb)) + 2
        yy = (np.arange(y0, y1, dtype=_F32) + 0.5)[:, None]
        xx = (np.arange(x0, x1, dtype=_F32) + 0.5)[None, :]
        return x0, y0, yy, xx

    def _decid(self, cx, yb, hgt, haze):
        rng, P = self.srng, self.P
        cw = hgt * rng.uniform(0.5, 0.8)
        ch = hgt * rng.uniform(0.55, 0.75)
        ccy = yb - hgt + ch / 2
        x0, y0, yy, xx = self._box(cx, yb, cw * 1.3, hgt * 1.05)
        leaf = self._leaf(y0, x0, yy.shape[0], xx.shape[1])
        # trunk
        tw = max(0.9, hgt * 0.06)
        ta = (np.clip(tw / 2 - np.abs(xx - cx) + 0.5, 0, 1) * np.clip(yb - yy + 0.5, 0, 1)
              * (yy > ccy)).astype(_F32)
        tcol = self.lit(P["trunk"], 0.6 * self.ground_light)
        # crown: union of lumps
        nl = int(rng.integers(4, 9))
        F = None
        rm = min(cw, ch) * 0.5
        for _ in range(nl):
            lx = cx + rng.normal(0, cw * 0.18)
            ly = ccy + rng.normal(0, ch * 0.15)
            rr = rm * rng.uniform(0.55, 0.85)
            dx = xx - lx
            dy = yy - ly
            f = rr - np.sqrt(dx * dx + dy * dy)
            F = f if F is None else np.maximum(F, f)
        edge = max(0.6, rm * 0.12)
        ca = np.clip(F + leaf * edge + 0.5, 0, 1).astype(_F32)
        # foliage colour
        leaves = P["leaves"]
        alb2 = None
        if self.season == "autumn":
            alb = leaves[int(rng.integers(len(leaves)))]
            alb2 = leaves[int(rng.integers(len(leaves)))]
        elif self.season == "spring":
            ci = int(rng.choice(len(leaves), p=(0.5, 0.2, 0.12, 0.18)))
            alb = leaves[ci]
            if ci in (1, 2):  # blossom with some fresh leaves showing
                alb2 = leaves[0]
        else:
            alb = leaves[int(rng.integers(len(leaves)))]
        alb = _jit(rng, alb, 0.06)
        nx = (xx - cx) / (cw * 0.5)
        ny = (yy - ccy) / (ch * 0.5)
        shade = 0.62 + 0.3 * nx * self.lx - 0.3 * ny + 0.2 * leaf
        if rm > 6:
            clump = self._leaf(y0, x0, yy.shape[0], xx.shape[1], coarse=True)
            shade = shade + 0.22 * clump - 0.08
        shade = np.clip(shade, 0.1, 1.2)
        if alb2 is not None:
            mixw = np.clip(0.5 - leaf * 0.6 - 0.4 * self._leaf(y0 + 17, x0 + 29, yy.shape[0],
                                                              xx.shape[1], coarse=True), 0, 1)
            alb = alb + (alb2 - alb) * (mixw * 0.8)[..., None]
        ccol = self.lit(alb, shade * self.ground_light)
        if haze:
            ccol = self.hazed(ccol, haze)
            tcol = self.hazed(tcol, haze)
        self.paint(y0, x0, ta, tcol, TREE)
        self.paint(y0, x0, ca, ccol, TREE)

    def _conifer(self, cx, yb, hgt, haze):
        rng, P = self.srng, self.P
        wmax = hgt * rng.uniform(0.3, 0.45)
        x0, y0, yy, xx = self._box(cx, yb, wmax * 1.2, hgt * 1.05)
        leaf = self._leaf(y0, x0, yy.shape[0], xx.shape[1])
        t = (yb - yy) / hgt  # 0 base, 1 top
        tiers = float(rng.integers(3, 7))
        tc = np.clip((t - 0.1) / 0.9, 0.0, 1.0)
        saw = tc * tiers
        saw = saw - np.floor(saw)
        wid = wmax * 0.5 * (1.0 - tc) * (0.6 + 0.4 * (1.0 - saw)) + 0.3
        inside = (t >= 0.08) & (t <= 1.0)
        a = np.clip(wid - np.abs(xx - cx) + leaf * 0.6 + 0.5, 0.0, 1.0) * inside
        tw = max(0.9, hgt * 0.05)
        ta = np.clip(tw / 2 - np.abs(xx - cx) + 0.5, 0, 1) * ((t >= 0.0) & (t < 0.15))
        nx = (xx - cx) / np.maximum(wid, 0.5)
        shade = 0.5 + 0.3 * nx * self.lx + 0.3 * saw - 0.1 + 0.18 * leaf
        col = self.lit(_jit(rng, P["conifer"], 0.06), np.clip(shade, 0.1, 1.2) * self.ground_light)
        if self.season == "winter" and rng.random() < 0.7:
            sn = np.clip((saw - 0.55) * 4.0 + leaf * 0.8, 0.0, 1.0)
            scol = self.lit(P["snow"], 0.85 * self.ground_light)
            col = col + (scol - col) * (sn * 0.85)[..., None]
        tcol = self.lit(P["trunk"], 0.5 * self.ground_light)
        if haze:
            col = self.hazed(col, haze)
            tcol = self.hazed(tcol, haze)
        self.paint(y0, x0, ta.astype(_F32), tcol, TREE)
        self.paint(y0, x0, a.astype(_F32), col, TREE)

    def _bare(self, cx, yb, hgt, haze):
        rng, P = self.srng, self.P
        cw = hgt * rng.uniform(0.55, 0.8)
        x0, y0, yy, xx = self._box(cx, yb, cw * 1.7, hgt * 1.1)
        hh, ww = yy.shape[0], xx.shape[1]
        mask = np.zeros((hh, ww), np.uint8)
        sc = 8  # fixed-point shift 3

        def line(xa, ya, xb, yb_, th):
            p1 = (int(round((xa - x0) * sc)), int(round((ya - y0) * sc)))
            p2 = (int(round((xb - x0) * sc)), int(round((yb_ - y0) * sc)))
            cv2.line(mask, p1, p2, 255, max(1, int(round(th))), cv2.LINE_8, 3)

        # trunk with a slight lean, main limbs alternating along its upper part, each limb
        # forking a few times
        th0 = max(1.0, hgt * 0.055)
        lean = rng.uniform(-0.08, 0.08)
        top_y = yb - hgt * 0.92
        segs = 6
        px_, py_ = cx, yb
        for k in range(segs):
            t1 = (k + 1) / segs
            nx_ = cx + lean * hgt * t1 + rng.uniform(-0.02, 0.02) * hgt
            ny_ = yb + (top_y - yb) * t1
            line(px_, py_, nx_, ny_, max(1.0, th0 * (1.0 - 0.7 * t1)))
            px_, py_ = nx_, ny_
        max_dep = int(min(4, max(1, math.log2(max(hgt, 1.0) / 8.0) + 1)))
        stack = []
        n_limbs = int(rng.integers(4, 8))
        side = 1 if rng.random() < 0.5 else -1
        for k in range(n_limbs):
            t = 0.32 + 0.6 * (k + rng.uniform(0.0, 0.8)) / n_limbs
            bx = cx + lean * hgt * t
            by = yb + (top_y - yb) * t
            ang = -math.pi / 2 + side * rng.uniform(0.35, 1.0)
            ln = hgt * (0.55 - 0.4 * t) * rng.uniform(0.8, 1.2)
            stack.append((bx, by, ang, ln, max(1.0, th0 * 0.6 * (1.0 - t)), 0))
            side = -side
        while stack:
            bx, by, ang, ln, th, dep = stack.pop()
            ex = bx + math.cos(ang) * ln
            ey = by + math.sin(ang) * ln
            line(bx, by, ex, ey, th)
            if dep < max_dep and ln > 2.0:
                for sgn in (-1, 1):
                    stack.append((ex, ey, ang + sgn * rng.uniform(0.25, 0.6) - 0.1 * math.cos(ang),
                                  ln * rng.uniform(0.5, 0.7), max(1.0, th * 0.7), dep + 1))
        a = mask.astype(_F32) * _F32(1.0 / 255.0)
        # twig haze around the crown
        ccy = yb - hgt * 0.62
        d = ((xx - cx) / (cw * 0.5)) ** 2 + ((yy - ccy) / (hgt * 0.38)) ** 2
        leaf = self._leaf(y0, x0, hh, ww, fine=True)
        twig = (d < 1.0) & (leaf > 0.5 + 1.0 * d)
        a = np.maximum(a, twig.astype(_F32) * _F32(0.6))
        col = self.lit(P["trunk"] * _F32(0.8), 0.55 * self.ground_light)
        if haze:
            col = self.hazed(col, haze)
        self.paint(y0, x0, a, col, TREE)

    def bush(self, cx, yb, hgt):
        rng, P = self.srng, self.P
        if hgt < 1.5:
            return
        bw = hgt * rng.uniform(1.3, 2.2)
        x0, y0, yy, xx = self._box(cx, yb, bw * 1.2, hgt * 1.3)
        leaf = self._leaf(y0, x0, yy.shape[0], xx.shape[1], fine=True)
        F = None
        for _ in range(int(rng.integers(2, 5))):
            lx = cx + rng.uniform(-0.3, 0.3) * bw
            rr = hgt * rng.uniform(0.5, 0.75)
            ly = yb - rr * 0.75
            dx = (xx - lx) / 1.25
            dy = yy - ly
            f = rr - np.sqrt(dx * dx + dy * dy)
            F = f if F is None else np.maximum(F, f)
        a = np.clip(F + leaf * max(0.5, hgt * 0.1) + 0.5, 0.0, 1.0) * (yy < yb + 0.5)
        ny = (yy - (yb - hgt * 0.5)) / (hgt * 0.5)
        nx = (xx - cx) / (bw * 0.5)
        shade = 0.58 + 0.25 * nx * self.lx - 0.3 * ny + 0.3 * leaf
        alb = _jit(rng, P["bush"], 0.06)
        col = self.lit(alb, np.clip(shade, 0.05, 1.2) * self.ground_light)
        if self.season == "winter" and rng.random() < 0.6:
            sn = np.clip(-ny * 1.5 - 0.2 + leaf * 0.5, 0.0, 1.0)
            col = col + (self.lit(P["snow"], 0.9 * self.ground_light) - col) * sn[..., None]
        self.paint(y0, x0, a.astype(_F32), col, BUSH)

    def boulder(self, cx, yb, size):
        rng, P = self.srng, self.P
        if size < 2:
            return
        n = 14
        angs = np.arange(n) * (2 * math.pi / n) + rng.uniform(0, 2 * math.pi / n)
        rad = 1.0 + 0.3 * rng.uniform(-1, 1, n)
        rad = (rad * 2.0 + np.roll(rad, 1) + np.roll(rad, -1)) / 4.0 * size
        sqx = rng.uniform(0.9, 1.5)
        sqy = rng.uniform(0.65, 1.0)
        cyc = yb - size * sqy * 0.8
        pts_x = cx + np.cos(angs) * rad * sqx
        pts_y = np.minimum(cyc + np.sin(angs) * rad * sqy, yb)
        x0 = int(math.floor(pts_x.min())) - 2
        y0 = int(math.floor(pts_y.min())) - 2
        x1 = int(math.ceil(pts_x.max())) + 3
        y1 = int(math.ceil(pts_y.max())) + 3
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        pts = np.stack([np.round((pts_x - x0) * 8), np.round((pts_y - y0) * 8)], 1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_8, 3)
        a = mask.astype(_F32) * _F32(1.0 / 255.0)
        yy = (np.arange(y0, y1, dtype=_F32) + 0.5)[:, None]
        xx = (np.arange(x0, x1, dtype=_F32) + 0.5)[None, :]
        ex = (xx - cx) / (size * sqx)
        ey = (yy - cyc) / (size * sqy)
        nz = np.sqrt(np.clip(1.0 - ex * ex - ey * ey, 0.0, 1.0))
        # dome lighting from the sun side and above, plus facets, cracks and contact darkening
        lx = self.lx * 0.7
        ndl = ex * lx - ey * 0.55 + nz * 0.45
        ang = np.floor(ex * 2.3 + 7.0) + np.floor(ey * 1.7 + 7.0) * 5.0
        fb = rng.uniform(-0.1, 0.1, 64).astype(_F32)
        facet = fb[ang.astype(np.intp) % 64]
        leaf = self._leaf(y0, x0, y1 - y0, x1 - x0, fine=True)
        clump = self._leaf(y0, x0, y1 - y0, x1 - x0, coarse=True)
        crack = np.clip(1.0 - np.abs(clump) * 6.0, 0.0, 1.0) * (0.5 if size > 6 else 0.0)
        shade = (0.3 + 0.6 * np.clip(ndl, 0.0, 1.2) + facet + 0.14 * leaf + 0.1 * clump
                 - 0.35 * crack)
        shade = shade * (0.55 + 0.45 * np.clip((yb - yy) / (size * 0.35), 0.0, 1.0))
        col = self.lit(_jit(rng, P["rock"], 0.05), np.clip(shade, 0.03, 1.2) * self.ground_light)
        if self.season == "winter" and rng.random() < 0.6:
            sn = np.clip(-ey * 3.0 - 1.2 + leaf * 0.5, 0.0, 1.0)
            col = col + (self.lit(P["snow"], 0.95 * self.ground_light) - col) * sn[..., None]
        self.paint(y0, x0, a, col, ROCK)

    def sprites(self):
        """Trees, bushes and boulders standing on the ground, drawn far to near."""
        rng, H, W = self.rng, self.H, self.W
        yh = self.yh
        depth = H - yh
        items = []
        veg = rng.uniform(0.2, 1.0)
        aspect = W / H
        n_trees = int(rng.integers(0, 14) * veg * aspect)
        n_bush = int(rng.integers(0, 16) * veg * aspect)
        n_rock = int(rng.integers(0, 7) * aspect) if rng.random() < 0.55 else 0
        tree_scale = rng.uniform(1.2, 2.6)

        def spot(vmin, vmax):
            # biased toward the distance (more, smaller items far away)
            u = rng.random()
            v = vmin + (vmax - vmin) * u * u
            return rng.uniform(-0.05, 1.05) * W, yh + v * H

        vmax = depth / H
        for _ in range(n_trees):
            x, yb = spot(0.015, vmax * rng.uniform(0.5, 1.2))
            items.append((yb, x, "tree", (yb - yh) * tree_scale * rng.uniform(0.7, 1.3), None))
        if rng.random() < 0.4:  # a forest edge / tree line along the far ground
            g = float(self.gl.mean(dtype=np.float64))
            v0 = (g - yh) / H + 0.004
            x_a = rng.uniform(-0.2, 0.8) * W
            x_b = x_a + rng.uniform(0.3, 1.0) * W
            nt = int((x_b - x_a) / (0.012 * H))
            kind = "conifer" if rng.random() < 0.5 else None
            for _ in range(nt):
                v = v0 + rng.uniform(0.0, 0.03)
                yb = yh + v * H
                items.append((yb, rng.uniform(x_a, x_b), "tree_line",
                              (H * rng.uniform(0.04, 0.08)) * (0.5 + v * 6), kind))
            self.info["tree_line"] = True
        for _ in range(n_bush):
            x, yb = spot(0.01, vmax)
            items.append((yb, x, "bush", (yb - yh) * rng.uniform(0.25, 0.5), None))
        for _ in range(n_rock):
            x, yb = spot(0.02, vmax)
            items.append((yb, x, "rock", (yb - yh) * rng.uniform(0.07, 0.22), None))
        items = [it + (int(rng.integers(1 << 62)),) for it in items]
        items.sort(key=lambda t: (t[0], t[1]))
        ok_base = {GRASS, SNOW, FLOWER, DIRT, HILL}
        counts = {"tree": 0, "bush": 0, "rock": 0}
        for it in items:
            yb, x, kind, s, tkind, sseed = it
            self.srng = np.random.Generator(np.random.PCG64(sseed))
            yi, xi = int(yb), int(x)
            if not (0 <= yi < H) or s < 1.5:
                continue
            base_lab = int(self.lab[yi, min(max(xi, 0), W - 1)])
            if base_lab not in ok_base and not (kind == "rock" and base_lab == SAND):
                continue
            if kind in ("tree", "tree_line"):
                s = min(s, H * 0.85)
                if kind == "tree":
                    self.shadow(x, yb, s * 0.3)
                self.tree(x, yb, s, kind=tkind,
                          haze=self.P["haze_k"] * max(0.0, 0.6 - (yb - yh) / H * 3.0))
                counts["tree"] += 1
            elif kind == "bush":
                self.shadow(x, yb, s * 0.9)
                self.bush(x, yb, s)
                counts["bush"] += 1
            else:
                self.shadow(x, yb, s * 1.1)
                self.boulder(x, yb, s)
                counts["rock"] += 1
        self.info.update(trees=counts["tree"], bushes=counts["bush"], boulders=counts["rock"])

    # ---------------------------------------------------------------- fog
    def fog(self, layer: str):
        """Translucent low fog banks; ``layer`` = 'far' (after mountains) / 'near' (over ground)."""
        P, H, W, rng = self.P, self.H, self.W, self.rng
        w = self.weather
        if layer == "far":
            p = {"foggy": 0.9, "hazy": 0.25, "overcast": 0.15}.get(w, 0.06)
        else:
            p = {"foggy": 0.7, "hazy": 0.1}.get(w, 0.05)
        if self.time in ("golden_hour", "dusk") and w != "foggy":
            p += 0.08
        if rng.random() >= p:
            return
        yh = self.yh
        if layer == "far":
            yc = yh - H * rng.uniform(-0.01, 0.06)
            thick = H * rng.uniform(0.025, 0.09)
        else:
            yc = yh + H * rng.uniform(0.02, 0.1)
            thick = H * rng.uniform(0.03, 0.08)
        top = max(0, int(yc - thick * 2.5))
        bot = min(H, int(yc + thick * 3.0) + 1)
        if bot <= top + 1:
            return
        ys = self.ys[top:bot]
        h = bot - top
        wav = _fbm1d(self.nrng, W, W * 0.4, octaves=3) * thick * 0.6
        n1 = _fbm2d(self.nrng, h, W, H * 0.05, octaves=4, stretch=(1.0, 5.0))
        n2 = _fbm2d(self.nrng, h, W, H * 0.02, octaves=3, stretch=(1.0, 3.0))
        rel = (ys - (yc + wav[None, :])) / thick  # 0 at the core, <0 above
        prof = np.where(rel < 0, 1.0 - rel * rel * 0.6, 1.0 - rel * rel * 0.25)
        dens = prof + 0.25 * n1 + 0.1 * n2
        strength = rng.uniform(0.85, 1.05)
        alpha = np.clip(dens * strength, 0.0, 0.97).astype(_F32)
        col = P["fog"] * (0.95 + 0.05 * n1 + 0.02 * n2)[..., None]
        # sunlight scattering toward the sun side
        if self.time != "night":
            sx = self.sun_xy[0]
            col = col + P["glow"] * (0.12 / (1.0 + ((self.xs - sx) / (0.3 * W)) ** 2))[..., None]
        self.paint(top, 0, alpha, col, FOG, thresh=0.6)
        self.info["fog"] = True

    # ---------------------------------------------------------------- finishing
    def grade(self):
        rng = self.rng
        img = self.img
        H, W = self.H, self.W
        # per-scene colour grade: exposure, contrast, saturation, tint (a strong "look" signal)
        expo = rng.uniform(0.88, 1.12)
        contrast = rng.uniform(0.88, 1.15)
        sat = rng.uniform(0.75, 1.25)
        if self.weather in ("overcast", "foggy"):
            sat *= 0.8
        tint = (1.0 + rng.normal(0, 0.04, 3)).astype(_F32)
        img *= tint * _F32(expo)
        lum = img[..., 0] * 0.3 + img[..., 1] * 0.59 + img[..., 2] * 0.11
        img += (img - lum[..., None]) * _F32(sat - 1.0)
        mean = float(lum.mean(dtype=np.float64)) * expo
        img -= _F32(mean)
        img *= _F32(contrast)
        img += _F32(mean)
        # vignette
        vk = rng.uniform(0.0, 0.3)
        ry = ((self.ys / H) - 0.5) * 2.0
        rx = ((self.xs / W) - 0.5) * 2.0
        vig = 1.0 - _F32(vk) * (rx * rx + ry * ry) * 0.5
        img *= vig[..., None]
        # light softening of hard pixel edges + grain
        soft = np.empty_like(img)
        soft[1:-1] = img[1:-1] * 0.6 + (img[:-2] + img[2:]) * 0.2
        soft[0], soft[-1] = img[0], img[-1]
        out = np.empty_like(img)
        out[:, 1:-1] = soft[:, 1:-1] * 0.6 + (soft[:, :-2] + soft[:, 2:]) * 0.2
        out[:, 0], out[:, -1] = soft[:, 0], soft[:, -1]
        grain = self.nrng.standard_normal((H, W), dtype=_F32) * _F32(0.008)
        out += grain[..., None]
        self.info["grade"] = {"exposure": round(expo, 3), "contrast": round(contrast, 3),
                              "saturation": round(sat, 3)}
        return out

    def render(self):
        H, W = self.H, self.W
        self.choose()
        self.pn = _PlaneNoise(self.nrng)
        self.leaf_n = _fbm2d(self.nrng, 64, 64, 2.0 * self.k + 0.6, octaves=2)
        self.leaf_fine = _fbm2d(self.nrng, 64, 64, 1.0 * self.k + 0.4, octaves=2)
        self.sand_grain = None
        self.leaf_coarse = _fbm2d(self.nrng, 128, 128, 6.0 * self.k + 1.0, octaves=2)
        self.sky()
        self.clouds()
        self.mountains()
        self.fog("far")
        self.hills()
        self.ground()
        self.sea()
        self.river()
        self.path()
        self.sprites()
        self.fog("near")
        img = self.grade()
        rgb = np.clip(img * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
        self.info["seed"] = int(self.seed)
        self.info["size"] = [int(H), int(W)]
        return rgb, self.lab, self.info


def render_scene(seed: int, size: int = 256, aspect: float = 1.0):
    """Render one procedural landscape.

    Returns ``(rgb uint8 [H, W, 3], label uint8 [H, W], info)`` with ``H = size`` and
    ``W = round(size * aspect)``.  ``info`` is a JSON-able description of the scene: ``time``
    (day / golden_hour / sunset / dusk / night), ``season`` (summer / autumn / winter / spring),
    ``weather`` (clear / cloudy / overcast / hazy / foggy), ``water`` (none / sea / river),
    ``mountains``, ``hills``, ``clouds``, ``horizon``, ``sun`` (x, y as image fractions), sprite
    counts, optional flags (``fog``, ``flowers``, ``path``, ``snowcaps``, ...), ``grade`` and
    ``seed``.  Deterministic in (seed, size, aspect); the scene description (time, season,
    weather, water, relief) does not depend on the size.
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError("seed must be >= 0")
    size = int(size)
    if size < 16:
        raise ValueError("size must be >= 16")
    if not (aspect > 0):
        raise ValueError("aspect must be > 0")
    W = max(16, int(round(size * float(aspect))))
    return _Scene(seed, size, W).render()


# --------------------------------------------------------------------------------------------
# dataset writer
# --------------------------------------------------------------------------------------------

def scene_seed(seed: int, index: int) -> int:
    """Seed of scene ``index`` of a dataset generated with ``seed``."""
    ss = np.random.SeedSequence([int(seed), int(index)])
    return int(ss.generate_state(2, np.uint32)[0]) | (int(ss.generate_state(2, np.uint32)[1]) << 32)


def _atomic_png(img: Image.Image, path: str) -> None:
    from spade_studio.imageio import atomic_write

    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    atomic_write(path, buf.getvalue(), fsync=False)


def _render_and_write(job):
    out_dir, i, seed, size, aspect = job
    s = scene_seed(seed, i)
    rgb, lab, info = render_scene(s, size, aspect)
    stem = f"scene_{i:06d}"
    _atomic_png(Image.fromarray(rgb, "RGB"), os.path.join(out_dir, "images", stem + ".png"))
    _atomic_png(Image.fromarray(lab, "L"), os.path.join(out_dir, "labels", stem + ".png"))
    counts = np.bincount(lab.ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES]
    return stem, info, counts.astype(np.int64)


def make_landscapes(out_dir, count: int, size: int = 256, seed: int = 0, aspect: float = 1.0,
                    on_progress: Callable[[int, int], None] | None = None,
                    workers: int = 1) -> dict:
    """Write ``count`` scenes as a paired dataset folder (images/, labels/, dataset.json).

    Scene ``i`` is rendered with :func:`scene_seed` ``(seed, i)``; output is identical for any
    number of ``workers``.  Returns a summary: count, per-class pixel fractions and the number of
    scenes each class appears in.
    """
    out_dir = os.fspath(out_dir)
    count = int(count)
    seed = int(seed)
    if count < 0:
        raise ValueError("count must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "labels"), exist_ok=True)
    jobs = [(out_dir, i, seed, int(size), float(aspect)) for i in range(count)]
    scenes: dict = {}
    pix = np.zeros(NUM_CLASSES, np.int64)
    present = np.zeros(NUM_CLASSES, np.int64)
    done = 0

    def consume(res):
        nonlocal done
        stem, info, counts = res
        scenes[stem] = info
        pix[:] += counts
        present[:] += counts > 0
        done += 1
        if on_progress is not None:
            on_progress(done, count)

    workers = max(1, int(workers))
    if workers > 1 and count > 1:
        import multiprocessing as mp
        with mp.get_context().Pool(min(workers, count)) as pool:
            for res in pool.imap(_render_and_write, jobs, chunksize=max(1, min(8, count // (
                    4 * workers)))):
                consume(res)
    else:
        for job in jobs:
            consume(_render_and_write(job))

    meta = {
        "format": DATASET_FORMAT,
        "label_set": "landscape",
        "count": count,
        "size": int(size),
        "aspect": float(aspect),
        "seed": seed,
        "generator": GENERATOR_NAME,
        "classes": list(LANDSCAPE_CLASSES),
        "scenes": scenes,
    }
    from spade_studio.imageio import atomic_write

    atomic_write(os.path.join(out_dir, "dataset.json"), json.dumps(meta, indent=1).encode("utf-8"))
    total = max(int(pix.sum()), 1)
    return {
        "count": count,
        "out_dir": out_dir,
        "class_pixel_fraction": {n: round(float(pix[i]) / total, 6)
                                 for i, n in enumerate(LANDSCAPE_CLASSES)},
        "class_scene_count": {n: int(present[i]) for i, n in enumerate(LANDSCAPE_CLASSES)},
    }
