"""Terrain layers of a landscape scene: mountain ranges (with snow caps) and hills (with trees)."""

from __future__ import annotations

import math

import numpy as np

from .canvas import Canvas
from .classes import HILL, MOUNTAIN, SNOW
from .looks import color, jitter
from .noise import F32, box_blur_rows, fbm1d, fbm2d, noise1d, smoothstep
from .vegetation import tree


def _profile(scene: Canvas, cell, octaves, ridged):
    p = fbm1d(scene.nrng, scene.W, cell, octaves=octaves, ridged=ridged)
    env = noise1d(scene.nrng, scene.W, scene.W * scene.rng.uniform(0.5, 1.2)) * 0.35 + 1.0
    p = p * env
    lo, hi = float(p.min()), float(p.max())
    return ((p - lo) / max(hi - lo, 1e-6)).astype(F32)


def mountains(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    if scene.n_mount == 0:
        return
    yh = scene.yh
    for k in range(scene.n_mount):
        far = (scene.n_mount - 1 - k) / max(scene.n_mount, 1)  # 1 far ... 0 near
        A = H * (rng.uniform(0.14, 0.34) if k == 0 else rng.uniform(0.08, 0.2))
        A = min(A, yh * 0.85)
        base = yh + 1.0
        ridges = []
        nsub = int(rng.integers(2, 4))
        for j in range(nsub):
            prof = _profile(scene, W * rng.uniform(0.25, 0.6), 7, True)
            amp = A * (1.0 - 0.3 * j / max(nsub - 1, 1)) * rng.uniform(0.8, 1.0)
            ridges.append(base - amp * (0.12 + 0.88 * prof))
        top = max(0, int(math.floor(min(float(r.min()) for r in ridges))) - 1)
        bot = min(H, int(math.ceil(base)) + 1)
        if bot <= top + 1:
            continue
        ys = scene.ys[top:bot]
        h = bot - top
        haze_amt = scene.P["haze_k"] * (0.55 + 0.5 * far) + 0.1
        alb = jitter(rng, P["mountain"], 0.04)
        veg = P["hill"] * 0.8
        streak = fbm2d(scene.nrng, h, W, 3.0 * scene.k, octaves=3, stretch=(4.0, 1.0))
        tex = fbm2d(scene.nrng, h, W, 10.0 * scene.k, octaves=4)
        snowline = None
        if scene.season == "winter" or rng.random() < 0.65:
            snowline = rng.uniform(0.15, 0.45) if scene.season == "winter" else \
                rng.uniform(0.45, 0.8)
        scene.info.setdefault("snowcaps", False)
        for j, ridge in enumerate(ridges):
            alpha = np.clip(ys - ridge[None, :] + 0.5, 0.0, 1.0).astype(F32)
            slope = np.gradient(ridge.astype(np.float64)).astype(F32)
            slope = box_blur_rows(slope[None, :], max(1, int(2 * scene.k)))[0]
            face1 = np.clip(slope * scene.lx * 1.6, -1.0, 1.0)
            # faces continue down the slope as diagonal spurs / gullies
            spread = noise1d(scene.nrng, W, W * 0.1) * 0.8
            dpx = np.maximum(ys - ridge[None, :], 0.0)
            xi = np.clip(scene.xs - 0.5 + dpx * spread[None, :], 0, W - 1).astype(np.intp)
            face = face1[xi]
            depth = np.clip((ys - ridge[None, :]) / A, 0.0, 1.0)  # 0 at crest
            shade = (0.62 + 0.42 * face - 0.25 * depth + 0.12 * streak
                     + 0.08 * tex)
            shade = np.clip(shade, 0.05, 1.2)
            hgt = (base - ys) / A  # 0 at the base .. 1 at top
            green = smoothstep(0.45, 0.05, hgt + 0.1 * tex)
            if scene.season == "winter":
                green *= 0.3
            a_col = alb + (veg - alb) * (green * 0.7)[..., None]
            col = scene.lit(a_col, shade * scene.ground_light)
            labels = np.full(alpha.shape, MOUNTAIN, np.uint8)
            if snowline is not None:
                sv = hgt - snowline + 0.08 * tex + 0.06 * streak + 0.1 * face
                smask = np.clip(sv * 12.0 + 0.5, 0.0, 1.0)
                sshade = (0.78 + 0.4 * face - 0.12 * depth + 0.04 * streak
                          + 0.05 * tex)
                scol = scene.lit(P["snow"], np.clip(sshade, 0.2, 1.1) * scene.ground_light)
                col = col + (scol - col) * smask[..., None]
                labels[smask >= 0.5] = SNOW
                if (smask >= 0.5).any():
                    scene.info["snowcaps"] = True
            sub_haze = haze_amt * (1.0 + 0.25 * (nsub - 1 - j) / max(nsub, 1))
            col = scene.hazed(col, sub_haze + 0.25 * depth * scene.P["haze_k"])
            scene.paint(top, 0, alpha, col, labels)


def hills(scene: Canvas):
    P, H, W, rng = scene.P, scene.H, scene.W, scene.rng
    yh = scene.yh
    scene.hill_bases = []
    n = scene.n_hills
    if n == 0:
        return
    for k in range(n):
        far = (n - 1 - k) / max(n, 1)
        A = H * rng.uniform(0.04, 0.17) * (1.0 - 0.3 * far)
        if scene.water == "sea":
            base = yh + 1.0
        else:
            base = yh + H * 0.012 * (k + 1) * rng.uniform(0.5, 1.5)
        prof = _profile(scene, W * rng.uniform(0.35, 0.9), 3, False)
        # flatten some stretches so hills do not cover the full width
        prof = np.clip(prof * 1.25 - rng.uniform(0.0, 0.5), 0.0, None)
        ridge = (base - A * prof).astype(F32)
        top = max(0, int(math.floor(float(ridge.min()))) - 1)
        bot = min(H, int(math.ceil(base + 0.04 * H)) + 1)
        if bot <= top + 1:
            continue
        ys = scene.ys[top:bot]
        h = bot - top
        alpha = np.clip(ys - ridge[None, :] + 0.5, 0.0, 1.0).astype(F32)
        if scene.water == "sea":
            alpha *= (ys <= base + 0.5).astype(F32)
            # islands only where there is some height
            alpha *= (prof > 0.02)[None, :].astype(F32)
        slope = np.gradient(ridge.astype(np.float64)).astype(F32)
        slope = box_blur_rows(slope[None, :], max(1, int(3 * scene.k)))[0]
        face = np.clip(slope * scene.lx * 3.0, -1.0, 1.0)
        depth = np.clip((ys - ridge[None, :]) / max(A, 1.0), 0.0, 1.5)
        tex = fbm2d(scene.nrng, h, W, 6.0 * scene.k, octaves=3)
        speck = fbm2d(scene.nrng, h, W, 1.3 * scene.k + 0.4, octaves=2)
        dots = np.clip((speck - 0.9) * 2.0, 0.0, 1.0)
        shade = 0.7 + 0.3 * face[None, :] - 0.18 * depth + 0.08 * tex - 0.35 * dots
        alb = P["hill"]
        if scene.season == "autumn":
            mixc = color(0.70, 0.38, 0.12)
            alb = alb + (mixc - alb) * np.clip(0.5 + 0.5 * tex, 0, 1)[..., None] * 0.6
        elif scene.season == "spring":
            alb = alb + (color(0.45, 0.6, 0.25) - alb) * np.clip(tex * 0.5, 0, 1)[..., None]
        col = scene.lit(alb, np.clip(shade, 0.1, 1.2) * scene.ground_light)
        labels = np.full(alpha.shape, HILL, np.uint8)
        if scene.season == "winter" and (scene.snow_ground or rng.random() < 0.6):
            cover = rng.uniform(0.2, 0.9)
            sv = tex * 0.5 + 0.3 * face[None, :] - (1.0 - 2.0 * cover) - 0.3 * depth
            smask = np.clip(sv * 6.0 + 0.5, 0.0, 1.0)
            scol = scene.lit(P["snow"], np.clip(shade + 0.2, 0.2, 1.1) * scene.ground_light)
            col = col + (scol - col) * smask[..., None]
            labels[smask >= 0.5] = SNOW
        col = scene.hazed(col, P["haze_k"] * (0.25 + 0.55 * far) + 0.1 * depth * P["haze_k"])
        scene.paint(top, 0, alpha, col, labels)
        scene.hill_bases.append(base)
        # trees on the hill slope
        if rng.random() < 0.45 and scene.season != "winter" or rng.random() < 0.15:
            _hill_trees(scene, ridge, base, A, far)


def _hill_trees(scene: Canvas, ridge, base, A, far):
    rng = scene.rng
    W = scene.W
    n = int(rng.integers(3, 30) * W / scene.H)
    clustered = rng.random() < 0.5
    cx0 = rng.uniform(0, W)
    items = []
    for _ in range(n):
        x = rng.uniform(0, W) if not clustered else cx0 + rng.normal(0, W * 0.12)
        fy = rng.uniform(0.25, 1.0)
        hgt = scene.H * rng.uniform(0.025, 0.05) * (1.0 - 0.4 * far)
        sseed = int(rng.integers(1 << 62))
        xi = int(min(max(x, 0), W - 1))
        r = float(ridge[xi])
        if base - r < 3:
            continue
        items.append((r + fy * (base - r), x, hgt, sseed))
    items.sort()
    for yb, x, hgt, sseed in items:
        if scene.lab[min(int(yb), scene.H - 1), int(min(max(x, 0), W - 1))] != HILL:
            continue
        scene.srng = np.random.Generator(np.random.PCG64(sseed))
        tree(scene, x, yb, hgt, haze=scene.P["haze_k"] * (0.3 + 0.5 * far))
