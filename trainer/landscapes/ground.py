"""The ground plane of a landscape scene: grass / snow with flower, dirt and rock patches, and paths."""

from __future__ import annotations

import math

import numpy as np

from .canvas import CAM, Canvas
from .classes import DIRT, FLOWER, GRASS, RIVER, ROCK, SEA, SNOW
from .looks import color
from .noise import F32, fbm2d, noise1d, smoothstep


def ground(scene: Canvas):
    """Base ground (grass / snow), patches (flowers, dirt, rock, sand), sea, river, paths."""
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    yh = scene.yh
    r0 = int(math.floor(yh))
    if r0 >= H:
        return
    ys = scene.ys[r0:]
    h = H - r0
    v = np.maximum((ys - yh) / H, F32(0.0015))  # (h,1)
    Z = F32(CAM) / v
    X = (scene.xs - W / 2) / H * Z
    fp_z = Z * Z / (CAM * H)  # world units per pixel along the view
    scene.g_v, scene.g_Z, scene.g_X, scene.g_r0 = v, Z, X, r0
    pn = scene.pn
    # where the ground starts (undulating line slightly below the horizon, in front of hills)
    gl = np.full(W, yh, F32)
    if scene.hill_bases and scene.water != "sea":
        gl = gl + (max(scene.hill_bases) - yh) * (0.6 + 0.4 * noise1d(scene.nrng, W, W * 0.3)
                                                 * 0.5)
    scene.gl = gl
    galpha = np.clip(ys - gl[None, :] + 0.5, 0.0, 1.0).astype(F32)

    # ---- world-space texture fields
    fade_far = np.clip(v / 0.06, 0.0, 1.0)  # 0 at the horizon
    patch = pn.fbm(X * 0.05, Z * 0.05, octaves=4, footprint=fp_z * 0.05, seed_off=2)
    patch2 = pn.fbm(X * 0.09 + 17.0, Z * 0.09, octaves=4, footprint=fp_z * 0.09,
                    seed_off=4)
    # screen-space grass blades: fine far, coarse near
    k = scene.k
    fine = fbm2d(scene.nrng, h, W, 1.6 * k + 0.3, octaves=2, stretch=(3.0, 0.7))
    coarse = fbm2d(scene.nrng, h, W, 3.5 * k + 0.5, octaves=3, stretch=(3.5, 0.8))
    wnear = np.clip((v - 0.08) / 0.3, 0.0, 1.0)
    blades = fine + (coarse - fine) * wnear
    light = scene.ground_light

    # ---- base: grass or snow
    labels = np.full((h, W), GRASS, np.uint8)
    tuft = 1.0 - 2.0 * np.abs(blades) * 0.7  # thin bright blades, dark gaps
    gshade = 0.8 + 0.12 * patch + 0.16 * tuft * (0.4 + 0.6 * fade_far)
    grass_col = scene.lit(P["grass"] * (1.0 + 0.12 * patch2)[..., None],
                         gshade * light)
    col = grass_col
    if scene.snow_ground:
        sshade = 0.9 + 0.06 * patch + 0.02 * blades
        snow_col = scene.lit(P["snow"], sshade * light)
        bare = smoothstep(0.6, 0.9, patch2 - 0.1 * patch) * fade_far
        col = snow_col + (grass_col - snow_col) * bare[..., None]
        labels[:] = SNOW
        labels[bare >= 0.5] = GRASS
    # ---- patches
    far_thr = (1.0 - fade_far) * 2.0  # makes patches vanish toward the horizon
    scene.flower_kind = None
    sp = scene.season
    p_flower = {"spring": 0.85, "summer": 0.55, "autumn": 0.08, "winter": 0.0}[sp]
    if scene.snow_ground:
        p_flower = 0.0
    if rng.random() < p_flower:
        fpat = pn.fbm(X * 0.12 + 5.0, Z * 0.12, octaves=3, footprint=fp_z * 0.12,
                      seed_off=5)
        thr = rng.uniform(0.5, 1.1)
        fm = np.clip((fpat - thr - far_thr) * 4.0 + 0.5, 0.0, 1.0)
        dots_f = fbm2d(scene.nrng, h, W, 0.9 * k + 0.35, octaves=1)
        dots_c = fbm2d(scene.nrng, h, W, 1.8 * k + 0.5, octaves=1)
        dots = dots_f + (dots_c - dots_f) * wnear
        dens = rng.uniform(-0.3, 0.5)
        dm = np.clip((dots - dens) * 3.0, 0.0, 1.0) * fm
        palettes = [color(0.95, 0.85, 0.15), color(0.92, 0.20, 0.18), color(0.97, 0.95, 0.95),
                    color(0.62, 0.35, 0.85), color(0.98, 0.55, 0.75), color(0.98, 0.6, 0.15),
                    color(0.35, 0.45, 0.95)]
        i1, i2 = rng.choice(len(palettes), 2, replace=False)
        sel = np.clip(pn.fbm(X * 0.3, Z * 0.3, octaves=2, footprint=fp_z * 0.3,
                             seed_off=6) * 2.0 + 0.5, 0, 1)
        fcol = palettes[i1] + (palettes[i2] - palettes[i1]) * sel[..., None]
        fcol = scene.lit(fcol, (0.95 + 0.1 * dots)[...] * light)
        under = scene.lit(P["grass"] * F32(1.05), (gshade + 0.05) * light)
        fl_col = under + (fcol - under) * dm[..., None]
        col = col + (fl_col - col) * fm[..., None]
        labels[fm >= 0.5] = FLOWER
        scene.info["flowers"] = True
    if rng.random() < (0.45 if not scene.snow_ground else 0.25):
        dpat = pn.fbm(X * 0.07 + 40.0, Z * 0.07, octaves=4, footprint=fp_z * 0.07,
                      seed_off=7)
        thr = rng.uniform(0.8, 1.5)
        dm = np.clip((dpat - thr - far_thr) * 5.0 + 0.5, 0.0, 1.0)
        peb = fbm2d(scene.nrng, h, W, 1.2 * k + 0.3, octaves=2)
        dcol = scene.lit(P["dirt"] * (1.0 + 0.1 * patch2)[..., None],
                        (0.8 + 0.1 * peb + 0.05 * patch) * light)
        col = col + (dcol - col) * dm[..., None]
        labels[dm >= 0.5] = DIRT
    if rng.random() < 0.3:
        rpat = pn.fbm(X * 0.06 + 80.0, Z * 0.06, octaves=5, gain=0.6,
                      footprint=fp_z * 0.06, seed_off=3)
        thr = rng.uniform(1.1, 1.7)
        rm = np.clip((rpat - thr - far_thr) * 6.0 + 0.5, 0.0, 1.0)
        crack = np.abs(fbm2d(scene.nrng, h, W, 3.0 * k + 0.5, octaves=3))
        rshade = 0.75 + 0.25 * np.clip(1.0 - crack * 2.0, -1, 1) + 0.1 * patch2
        rcol = scene.lit(P["rock"], np.clip(rshade, 0.2, 1.2) * light)
        col = col + (rcol - col) * rm[..., None]
        labels[rm >= 0.5] = ROCK
    col = scene.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.9)
    scene.paint(r0, 0, galpha, col, labels)
    scene.ground_tex = dict(patch=patch, patch2=patch2, blades=blades, wnear=wnear,
                           fp_z=fp_z)


def winding(scene: Canvas, z_near, z_far, width, amp, period, x0):
    """A band winding over the ground plane: returns (cx (h,1), halfwidth (h,1)) per row."""
    rng = scene.rng
    Z = scene.g_Z
    zz = np.clip(Z[:, 0].astype(np.float64), 0.0, z_far * 2)
    ph = rng.uniform(0, 2 * math.pi)
    ph2 = rng.uniform(0, 2 * math.pi)
    Xc = (x0 + amp * np.sin(zz / period + ph) + amp * 0.45 * np.sin(zz / (period * 0.43) + ph2)
          + (zz - z_near) * rng.uniform(-0.3, 0.3))
    cx = (scene.W / 2 + Xc / zz * scene.H).astype(F32)[:, None]
    hw = (width * 0.5 / zz * scene.H).astype(F32)[:, None]
    return cx, hw


def path(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    if rng.random() > (0.35 if scene.water != "river" else 0.15):
        return
    r0 = scene.g_r0
    h = H - r0
    v = scene.g_v
    width = rng.uniform(0.8, 2.2)
    z_far = CAM / rng.uniform(0.03, 0.2)
    side = rng.uniform(-2.5, 2.5)
    cx, hw = winding(scene, 2.0, z_far, width, rng.uniform(0.5, 2.5), rng.uniform(3, 9), side)
    d = np.abs(scene.xs - cx)
    vstart = CAM / z_far
    start = np.clip((v - vstart) * H + 0.5, 0.0, 1.0)
    taper = np.clip((v - vstart) / 0.03, 0.2, 1.0)
    edge_j = fbm2d(scene.nrng, h, W, 2.0 * scene.k + 0.4, octaves=2) * 0.25
    alpha = (np.clip(hw * taper * (1.0 + edge_j) - d + 0.5, 0.0, 1.0) * start).astype(F32)
    alpha *= (scene.lab[r0:] != SEA) & (scene.lab[r0:] != RIVER)
    peb = fbm2d(scene.nrng, h, W, 1.0 * scene.k + 0.3, octaves=2)
    rut = np.clip(1.0 - np.abs(np.abs(scene.xs - cx) / np.maximum(hw, 0.5) - 0.5) * 4, 0, 1)
    shade = 0.85 + 0.1 * peb - 0.12 * rut + 0.05 * scene.ground_tex["patch"]
    alb = P["dirt"] if not scene.snow_ground or rng.random() < 0.5 else P["dirt"] * 0.8
    col = scene.lit(alb, shade * scene.ground_light)
    col = scene.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.9)
    scene.paint(r0, 0, alpha, col, DIRT)
    scene.info["path"] = True
