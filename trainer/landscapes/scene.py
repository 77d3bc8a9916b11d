"""One landscape scene, painted back to front: its description, the layer order, ``render_scene``."""

from __future__ import annotations

import numpy as np

from .canvas import Canvas
from .ground import ground, path
from .looks import SEASON_P, SEASONS, TIME_P, TIMES, WEATHER_P, WEATHERS, grade, make_palette
from .noise import PlaneNoise, fbm2d
from .sky import clouds, fog, sky
from .terrain import hills, mountains
from .vegetation import sprites
from .water import river, sea


def describe(scene: Canvas):
    """Draw the scene's description (time, season, weather, water, relief, light) from the
    decision stream; it does not depend on the size."""
    rng = scene.rng
    H, W = scene.H, scene.W
    time = TIMES[int(rng.choice(len(TIMES), p=TIME_P))]
    season = SEASONS[int(rng.choice(len(SEASONS), p=SEASON_P))]
    weather = WEATHERS[int(rng.choice(len(WEATHERS), p=WEATHER_P))]
    water = ("none", "sea", "river")[int(rng.choice(3, p=(0.36, 0.32, 0.32)))]
    n_mount = int(rng.choice(3, p=(0.36, 0.38, 0.26)))
    n_hills = int(rng.choice(4, p=(0.24, 0.36, 0.26, 0.14)))
    scene.time, scene.season, scene.weather, scene.water = time, season, weather, water
    scene.n_mount, scene.n_hills = n_mount, n_hills
    scene.P = make_palette(rng, time, season, weather)
    scene.yh = H * rng.uniform(0.36, 0.60)
    if n_mount and rng.random() < 0.5:
        scene.yh = H * rng.uniform(0.48, 0.64)
    # light direction: sun / moon position
    if time == "day":
        sx = W * rng.uniform(-0.3, 1.3)
        sy = scene.yh - H * rng.uniform(0.25, 0.9)
        elev = 0.85
    elif time in ("golden_hour", "sunset"):
        sx = W * rng.uniform(0.05, 0.95)
        sy = scene.yh - H * (rng.uniform(0.05, 0.22) if time == "golden_hour"
                            else rng.uniform(0.0, 0.08))
        elev = 0.3 if time == "golden_hour" else 0.15
    elif time == "dusk":
        sx = W * rng.uniform(0.0, 1.0)
        sy = scene.yh + H * 0.06
        elev = 0.05
    else:
        sx = W * rng.uniform(0.1, 0.9)
        sy = scene.yh * rng.uniform(0.12, 0.7)
        elev = 0.6
    scene.sun_xy = (float(sx), float(sy))
    scene.lx = float(np.clip((sx - W / 2) / (W / 2), -1.0, 1.0))
    scene.elev = elev
    scene.ground_light = 0.45 + 0.55 * elev
    scene.snow_ground = season == "winter" and rng.random() < 0.8
    scene.info.update(time=time, season=season, weather=weather, water=water,
                     mountains=n_mount, hills=n_hills, horizon=round(scene.yh / H, 4),
                     snow_ground=bool(scene.snow_ground))


def render(scene: Canvas):
    """Paint every layer back to front; returns (rgb, label, info)."""
    H, W = scene.H, scene.W
    describe(scene)
    scene.pn = PlaneNoise(scene.nrng)
    scene.leaf_n = fbm2d(scene.nrng, 64, 64, 2.0 * scene.k + 0.6, octaves=2)
    scene.leaf_fine = fbm2d(scene.nrng, 64, 64, 1.0 * scene.k + 0.4, octaves=2)
    scene.sand_grain = None
    scene.leaf_coarse = fbm2d(scene.nrng, 128, 128, 6.0 * scene.k + 1.0, octaves=2)
    sky(scene)
    clouds(scene)
    mountains(scene)
    fog(scene, "far")
    hills(scene)
    ground(scene)
    sea(scene)
    river(scene)
    path(scene)
    sprites(scene)
    fog(scene, "near")
    img = grade(scene)
    rgb = np.clip(img * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
    scene.info["seed"] = int(scene.seed)
    scene.info["size"] = [int(H), int(W)]
    return rgb, scene.lab, scene.info


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
    return render(Canvas(seed, size, W))
