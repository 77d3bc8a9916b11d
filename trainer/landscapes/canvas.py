"""The canvas of a landscape scene: image, label map, random streams and the compositing helpers.

A pixel gets a layer's class when that layer covers at least half of it (``Canvas.paint``), so
the label map always names the visible class while the image stays anti-aliased.
"""

from __future__ import annotations

import numpy as np

from .noise import F32

CAM = 1.6  # eye height of the virtual camera (world units) for ground-plane textures


class Canvas:
    """One scene being painted: the image and label map, the random streams, the scene's look
    and the shared geometry that the layers (sky, terrain, ground, water, vegetation) leave for
    the ones painted after them."""

    # the scene's description and light (scene.describe)
    time: str
    season: str
    weather: str
    water: str
    n_mount: int
    n_hills: int
    P: dict  # palette and light (looks.make_palette)
    yh: float  # horizon row
    sun_xy: tuple[float, float]
    lx: float  # light direction across the image, -1 .. 1
    elev: float
    ground_light: float
    snow_ground: bool
    # per-scene noise fields (scene.render)
    pn: object  # noise.PlaneNoise
    leaf_n: np.ndarray
    leaf_fine: np.ndarray
    leaf_coarse: np.ndarray
    sand_grain: np.ndarray | None  # made by the first sand layer (water.sand)
    # left by a layer for the ones painted after it
    sky_col: np.ndarray  # sky.sky: the sky colour (water reflections, cloud fading)
    hill_bases: list  # terrain.hills: base rows of the hills (ground.ground's start line)
    g_v: np.ndarray  # ground.ground: ground-plane rows: screen depth v, world Z and X, first row
    g_Z: np.ndarray
    g_X: np.ndarray
    g_r0: int
    gl: np.ndarray  # ground.ground: the row where the ground starts, per column
    ground_tex: dict  # ground.ground: texture fields that water and paths reuse
    flower_kind: object
    shore: np.ndarray  # water.sea: shoreline row per column

    def __init__(self, seed: int, H: int, W: int):
        self.seed = seed
        # decisions (resolution independent) and pixel noise come from separate streams, so the
        # same seed gives the same kind of scene at every size
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.nrng = np.random.Generator(np.random.PCG64(int(self.rng.integers(1 << 62))))
        self.srng = self.rng  # per-sprite generator (set before drawing each sprite)
        self.H, self.W = H, W
        self.img = np.zeros((H, W, 3), F32)
        self.lab = np.zeros((H, W), np.uint8)
        self.ys = (np.arange(H, dtype=F32) + 0.5)[:, None]
        self.xs = (np.arange(W, dtype=F32) + 0.5)[None, :]
        self.info: dict = {}
        self.k = H / 256.0  # pixel scale relative to the 256 reference

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
        return alb * (P["amb"] + P["light"] * F32(shade))

    def hazed(self, col, amount):
        """Aerial perspective: blend to the haze colour."""
        P = self.P
        # capped: a labelled surface always stays visible (thick white-out is labelled fog)
        if isinstance(amount, np.ndarray):
            a = np.clip(amount, 0.0, 0.72)[..., None].astype(F32)
            return col + (P["haze"] - col) * a
        a = F32(min(max(amount, 0.0), 0.72))
        return col + (P["haze"] - col) * a
