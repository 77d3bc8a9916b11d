"""Water layers of a landscape scene: the sea with its beach, rivers with their banks."""

from __future__ import annotations

import numpy as np

from .canvas import CAM, Canvas
from .classes import DIRT, RIVER, ROCK, SAND, SEA
from .ground import winding
from .looks import color
from .noise import F32, fbm1d, fbm2d, noise1d


def _water_color(scene: Canvas, rows, reflectivity, alb, streak, lit_amt):
    """Water = mix of body colour and mirrored sky (Fresnel: more mirror toward the horizon)."""
    H = scene.H
    yh = scene.yh
    ys = scene.ys[rows]
    mir = np.clip(yh - (ys - yh) * 1.8 - 1.0, 0, H - 1).astype(np.intp)[:, 0]
    # the sky colour along the mirrored row, x offset with waves
    refl = scene.sky_col[mir]
    v = np.maximum((ys - yh) / H, F32(0.0015))
    fres = np.clip(reflectivity * (1.0 - v * 1.6), 0.1, 0.95)
    body = scene.lit(alb, lit_amt)
    col = body + (refl - body) * fres[..., None]
    col = col * (1.0 + 0.18 * streak)[..., None]
    return col


def sea(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    if scene.water != "sea":
        return
    yh = scene.yh
    r0 = scene.g_r0
    ys = scene.ys[r0:]
    h = H - r0
    v, Z, X, fp_z = scene.g_v, scene.g_Z, scene.g_X, scene.ground_tex["fp_z"]
    # shoreline in screen rows; may climb to the horizon on one side (coast)
    depth = H - yh
    s0 = yh + depth * rng.uniform(0.2, 0.65)
    slope = rng.uniform(-1.0, 1.0) * depth * 1.2 / W if rng.random() < 0.6 else 0.0
    wob = fbm1d(scene.nrng, W, W * 0.25, octaves=4) * depth * 0.08
    shore = (s0 + slope * (scene.xs[0] - W / 2) + wob).astype(F32)
    if rng.random() < 0.15:
        shore = np.full(W, H + 5.0, F32)  # open sea to the bottom
    scene.shore = shore
    alpha = np.clip(shore[None, :] - ys + 0.5, 0.0, 1.0) * np.clip(ys - yh + 0.5, 0, 1)
    alpha = alpha.astype(F32)
    pn = scene.pn
    waves = pn.fbm(X * 0.35, Z * 1.4, octaves=4, footprint=fp_z * 1.4, seed_off=1)
    chop = fbm2d(scene.nrng, h, W, 1.0 * scene.k + 0.3, octaves=2, stretch=(0.6, 3.0))
    streak = waves * 0.8 + chop * 0.25 * np.clip(v / 0.1, 0, 1)
    col = _water_color(scene, slice(r0, H), 0.85, P["sea"], streak,
                            0.35 * scene.ground_light)
    # sun / moon glitter path
    sx, sy = scene.sun_xy
    if sy < yh and scene.weather not in ("overcast", "foggy"):
        wpath = (0.03 + v * 0.5) * H
        dxp = np.abs(scene.xs - sx) / wpath
        path = np.clip(1.0 - dxp, 0.0, 1.0)
        spark = np.clip((chop + waves * 0.5 - 0.8 + 0.6 * (1.0 - path)) * 2.0, 0.0, 1.0) * path
        col = col + P["sun"] * (spark * 0.9)[..., None] * F32(
            0.6 if scene.time == "night" else 1.0)
    # foam along the shore
    dist = (shore[None, :] - ys) / (v * H * 0.08 + 0.7)
    foam = np.clip(1.0 - dist, 0.0, 1.0) * np.clip(0.6 + 0.6 * chop, 0, 1)
    foam_c = scene.lit(color(0.9, 0.93, 0.95), 0.9 * scene.ground_light)
    col = col + (foam_c - col) * (foam * 0.8)[..., None]
    col = scene.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.6)
    scene.paint(r0, 0, alpha, col, SEA)
    # beach: sand band behind the shore
    bw = rng.uniform(0.04, 0.2) * H
    if rng.random() < 0.2:
        bw = H  # all-sand foreground
    sand_end = shore + bw * np.clip(0.75 + 0.25 * noise1d(scene.nrng, W, W * 0.2), 0.3, 1.3)
    band = (np.clip(ys - shore[None, :] + 0.5, 0.0, 1.0)
            * np.clip(sand_end[None, :] * (1.0 + 0 * ys) - ys + 0.5, 0.0, 1.0)
            * np.clip(ys - yh + 0.5, 0.0, 1.0)).astype(F32)
    wet = np.clip(1.0 - (ys - shore[None, :]) / (v * H * 0.12 + 0.8), 0.0, 1.0)
    sand(scene, r0, band, wet)


def sand(scene: Canvas, r0, alpha, wet=None):
    P, H, W = scene.P, scene.H, scene.W
    v, Z, X, fp_z = scene.g_v, scene.g_Z, scene.g_X, scene.ground_tex["fp_z"]
    pn = scene.pn
    warp = pn.fbm(X * 0.25, Z * 0.25, octaves=3, footprint=fp_z * 0.25, seed_off=6)
    t = Z * 2.2 + X * 0.5 + warp * 1.2
    t = t - np.floor(t)
    rip = np.minimum(t * 1.4, (1.0 - t) * 3.5)  # asymmetric ripple: gentle / steep side
    fadef = np.clip(1.0 - fp_z * 4.0, 0.0, 1.0)
    if scene.sand_grain is None:
        scene.sand_grain = fbm2d(scene.nrng, H - r0, W, 0.8 * scene.k + 0.3, octaves=1)
    shade = (0.84 + 0.07 * scene.ground_tex["patch"] + 0.22 * (rip - 0.45) * fadef
             + 0.05 * scene.sand_grain)
    if wet is not None:
        shade = shade * (1.0 - 0.3 * wet)
    col = scene.lit(P["sand"], shade * scene.ground_light)
    col = scene.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.9)
    scene.paint(r0, 0, alpha, col, SAND)


def river(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    if scene.water != "river":
        return
    r0 = scene.g_r0
    ys = scene.ys[r0:]
    h = H - r0
    v, Z, X, fp_z = scene.g_v, scene.g_Z, scene.g_X, scene.ground_tex["fp_z"]
    width = rng.uniform(1.0, 3.2)
    z_far = CAM / max(((max(scene.gl.max(), scene.yh) - scene.yh) / H) + 0.002, 0.004)
    x0 = rng.uniform(-1.2, 1.2)
    cx, hw = winding(scene, 2.0, z_far, width, rng.uniform(1.5, 5.0), rng.uniform(4, 12), x0)
    d = np.abs(scene.xs - cx)
    glv = scene.gl[np.clip(cx[:, 0].astype(np.intp), 0, W - 1)][:, None]
    start = np.clip(ys - glv + 0.5, 0.0, 1.0)
    alpha = (np.clip(hw - d + 0.5, 0.0, 1.0) * start).astype(F32)
    # banks (sand / dirt / rock strip)
    bank_kind = rng.choice(4, p=(0.35, 0.25, 0.15, 0.25))
    if bank_kind < 3:
        bw = hw * rng.uniform(0.25, 0.7) + 0.6
        balpha = (np.clip(hw + bw - d + 0.5, 0.0, 1.0) * start).astype(F32)
        if bank_kind == 0:
            sand(scene, r0, balpha)
        elif bank_kind == 1:
            peb = fbm2d(scene.nrng, h, W, 1.2 * scene.k + 0.3, octaves=2)
            col = scene.lit(P["dirt"], (0.75 + 0.12 * peb) * scene.ground_light)
            scene.paint(r0, 0, balpha, col, DIRT)
        else:
            crack = np.abs(fbm2d(scene.nrng, h, W, 2.0 * scene.k + 0.5, octaves=3))
            col = scene.lit(P["rock"], np.clip(0.9 - crack * 0.8, 0.2, 1) * scene.ground_light)
            scene.paint(r0, 0, balpha, col, ROCK)
    flow = scene.pn.fbm(X * 1.5, Z * 0.25, octaves=3, footprint=fp_z * 0.25, seed_off=3)
    rip = fbm2d(scene.nrng, h, W, 1.2 * scene.k + 0.3, octaves=2, stretch=(0.7, 1.5))
    streak = flow * 0.5 + rip * 0.3
    col = _water_color(scene, slice(r0, H), 0.7, P["river"], streak, 0.4 * scene.ground_light)
    # darker near the banks (reflected vegetation), lighter mid-stream
    edge = np.clip(d / np.maximum(hw, 0.5), 0.0, 1.0)
    col = col * (1.0 - 0.28 * edge * edge)[..., None]
    col = scene.hazed(col, P["haze_k"] * (1.0 - np.clip(v / 0.25, 0, 1)) ** 2 * 0.8)
    scene.paint(r0, 0, alpha, col, RIVER)
    scene.info["river_width"] = round(width, 2)
