"""Sky layers of a landscape scene: gradient sky, sun / moon and stars, clouds, fog banks."""

from __future__ import annotations

import math

import numpy as np

from .canvas import Canvas
from .classes import CLOUD, FOG, SKY
from .looks import color
from .noise import F32, fbm1d, fbm2d, smoothstep


def sky(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    yh = scene.yh
    t = np.clip((yh - scene.ys) / max(yh, 1.0), 0.0, 1.0)  # (H,1) 1 = zenith
    if P["mid"] is None:
        e = 1.0 - (1.0 - t) * (1.0 - t)
        col = P["hor"] + (P["zen"] - P["hor"]) * e[..., None]
    else:
        a = smoothstep(0.0, 0.35, t)[..., None]
        b = smoothstep(0.2, 1.0, t)[..., None]
        col = P["hor"] + (P["mid"] - P["hor"]) * a
        col = col + (P["zen"] - col) * b
    sky = np.broadcast_to(col, (H, W, 3)).copy()
    sx, sy = scene.sun_xy
    dx = (scene.xs - sx) / H
    dy = (scene.ys - sy) / H
    d2 = dx * dx + dy * dy
    if scene.time != "night":
        wide = {"day": 0.10, "golden_hour": 0.35, "sunset": 0.45, "dusk": 0.5}[scene.time]
        wide *= 1.6 if scene.weather in ("hazy", "foggy") else 1.0
        g1 = 1.0 / (1.0 + d2 * (1.0 / (wide * wide)))
        g2 = 1.0 / (1.0 + d2 * (1.0 / (0.03 * 0.03)))
        amp1 = {"day": 0.35, "golden_hour": 0.5, "sunset": 0.55, "dusk": 0.4}[scene.time]
        if scene.weather == "overcast":
            amp1 *= 0.3
        sky += P["glow"] * (g1 * F32(amp1) + g2 * F32(0.45 if scene.weather != "overcast"
                                                         else 0.1))[..., None]
    else:
        g1 = 1.0 / (1.0 + d2 * (1.0 / (0.12 * 0.12)))
        sky += P["glow"] * (g1 * F32(0.18))[..., None]
    scene.sky_col = np.clip(sky, 0.0, 1.2).astype(F32)
    scene.img[:] = scene.sky_col
    scene.lab[:] = SKY
    scene.info["sun"] = [round(sx / W, 3), round(sy / H, 3)]

    # stars
    if scene.time in ("night", "dusk") and scene.weather not in ("overcast", "foggy"):
        n = int(H * W * (0.004 if scene.time == "night" else 0.0012))
        py = scene.nrng.integers(0, max(1, int(yh)), n)
        px = scene.nrng.integers(0, W, n)
        br = scene.nrng.random(n).astype(F32)
        br = br * br * br * F32(0.85) + F32(0.1)
        fade = np.clip((yh - py) / (0.3 * H), 0.0, 1.0).astype(F32)
        v = (br * fade)[:, None] * color(0.95, 0.95, 1.0)
        np.maximum.at(scene.img, (py, px), v)
    # sun / moon disc
    if scene.time in ("day", "golden_hour", "sunset", "night"):
        r = H * (0.03 if scene.time == "night" else (0.035 if scene.time == "day" else 0.05))
        r *= rng.uniform(0.8, 1.2)
        y0, y1 = max(0, int(sy - r) - 2), min(H, int(sy + r) + 3)
        x0, x1 = max(0, int(sx - r) - 2), min(W, int(sx + r) + 3)
        if y1 > y0 and x1 > x0:
            d = np.sqrt(d2[y0:y1, x0:x1]) * H
            alpha = np.clip(r - d + 0.5, 0.0, 1.0).astype(F32)
            if scene.weather == "overcast":
                alpha *= 0.25
            under = scene.img[y0:y1, x0:x1]
            if scene.time == "night":
                mar = fbm2d(scene.nrng, y1 - y0, x1 - x0, r * 0.8, octaves=3)
                col = P["sun"] * (0.86 + 0.07 * mar)[..., None]
            else:
                # the disc is always brighter than the glow around it
                col = np.minimum(under * 0.35 + P["sun"] * 1.1, 1.35)
            scene.paint(y0, x0, alpha, col, SKY)


def clouds(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    w = scene.weather
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
    scene.info["clouds"] = kind if cover > 0 else "none"
    if cover <= 0:
        return
    y1 = int(min(H, math.ceil(scene.yh) + 1))
    if y1 <= 1:
        return
    ys = scene.ys[:y1]
    v = np.maximum((scene.yh - ys) / H, F32(0.004))  # rows above the horizon
    Z = F32(1.0) / v  # cloud plane depth
    X = (scene.xs - W / 2) / H * Z
    pn = scene.pn
    # noise frequency across / along the cloud plane (q = along/across: >1 streaky)
    a_, q = {"cumulus": (1.5, 0.45), "strato": (0.9, 0.8), "wisp": (1.1, 1.8)}[kind]
    a_ *= rng.uniform(0.7, 1.4)
    fx = X * F32(a_)
    fz = (Z * F32(a_ * q)) + F32(rng.uniform(0, 50))
    fp = (Z / H) * F32(a_) * np.maximum(Z * F32(q), F32(1.0))
    dens = pn.fbm(fx, fz, octaves=5, gain=0.55, footprint=fp, seed_off=1)
    # coverage: cover ~ fraction of sky covered
    thr = 1.1 - 2.0 * cover
    soft = 0.55 if kind != "cumulus" else 0.35
    if kind == "wisp":
        thr = 0.9
        soft = 0.9
    a = smoothstep(thr, thr + soft, dens)
    # lighting: density a bit further toward the light (sun above / sideways)
    dens2 = pn.fbm(fx - F32(0.1 * scene.lx), fz + F32(0.12), octaves=5, gain=0.55,
                   footprint=fp, seed_off=1)
    shade = np.clip(0.55 + (dens2 - dens) * -1.4 + (1.0 - a) * 0.35, 0.0, 1.0)
    if kind == "strato":
        shade = shade * 0.7 + 0.15
    col = P["cl_dark"] + (P["cl_lit"] - P["cl_dark"]) * shade[..., None]
    # sun-side glow on thin edges
    sxs, sys_ = scene.sun_xy
    dd = ((scene.xs - sxs) / H) ** 2 + ((ys - sys_) / H) ** 2
    g = (1.0 / (1.0 + dd * 25.0)) * (1.0 - a) * 0.6
    col = col + P["glow"] * g[..., None] * F32(0.6 if scene.time != "night" else 0.3)
    # fade toward the horizon (clouds far away sink into haze)
    far = np.clip(1.0 - v / 0.18, 0.0, 1.0)
    col = col + (scene.sky_col[:y1] - col) * (far * far * 0.35)[..., None]
    maxa = 0.97 if kind != "wisp" else 0.8
    alpha = a * F32(maxa)
    alpha *= 1.0 - far * far * 0.6
    scene.paint(0, 0, alpha, col, CLOUD)


def fog(scene: Canvas, layer: str):
    """Translucent low fog banks; ``layer`` = 'far' (after mountains) / 'near' (over ground)."""
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    w = scene.weather
    if layer == "far":
        p = {"foggy": 0.9, "hazy": 0.25, "overcast": 0.15}.get(w, 0.06)
    else:
        p = {"foggy": 0.7, "hazy": 0.1}.get(w, 0.05)
    if scene.time in ("golden_hour", "dusk") and w != "foggy":
        p += 0.08
    if rng.random() >= p:
        return
    yh = scene.yh
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
    ys = scene.ys[top:bot]
    h = bot - top
    wav = fbm1d(scene.nrng, W, W * 0.4, octaves=3) * thick * 0.6
    n1 = fbm2d(scene.nrng, h, W, H * 0.05, octaves=4, stretch=(1.0, 5.0))
    n2 = fbm2d(scene.nrng, h, W, H * 0.02, octaves=3, stretch=(1.0, 3.0))
    rel = (ys - (yc + wav[None, :])) / thick  # 0 at the core, <0 above
    prof = np.where(rel < 0, 1.0 - rel * rel * 0.6, 1.0 - rel * rel * 0.25)
    dens = prof + 0.25 * n1 + 0.1 * n2
    strength = rng.uniform(0.85, 1.05)
    alpha = np.clip(dens * strength, 0.0, 0.97).astype(F32)
    col = P["fog"] * (0.95 + 0.05 * n1 + 0.02 * n2)[..., None]
    # sunlight scattering toward the sun side
    if scene.time != "night":
        sx = scene.sun_xy[0]
        col = col + P["glow"] * (0.12 / (1.0 + ((scene.xs - sx) / (0.3 * W)) ** 2))[..., None]
    scene.paint(top, 0, alpha, col, FOG, thresh=0.6)
    scene.info["fog"] = True
