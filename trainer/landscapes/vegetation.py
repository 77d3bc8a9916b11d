"""Sprites of a landscape scene: deciduous, conifer and bare trees, bushes, boulders, their shadows."""

from __future__ import annotations

import math

import numpy as np

from .canvas import Canvas
from .classes import BUSH, DIRT, FLOWER, GRASS, HILL, ROCK, SAND, SNOW, TREE
from .looks import color, jitter
from .noise import F32
from .raster import draw_line, fill_polygon


def _leaf(scene: Canvas, y0, x0, h, w, fine=False, coarse=False):
    """Slice of the per-scene foliage noise (wraps around)."""
    src = scene.leaf_coarse if coarse else (scene.leaf_fine if fine else scene.leaf_n)
    Hs, Ws = src.shape
    yi = (np.arange(y0, y0 + h) % Hs)[:, None]
    xi = (np.arange(x0, x0 + w) % Ws)[None, :]
    return src[yi, xi]


def shadow(scene: Canvas, cx, yb, rx):
    """Soft contact shadow on the ground (no label change)."""
    if scene.weather == "overcast" or rx < 1.0:
        return
    ry = max(0.8, rx * 0.25)
    ox = -scene.lx * rx * 0.8
    x0, x1 = int(cx + ox - rx * 1.6) - 1, int(cx + ox + rx * 1.6) + 2
    y0, y1 = int(yb - ry * 1.5) - 1, int(yb + ry * 1.5) + 2
    yy = (np.arange(y0, y1, dtype=F32) + 0.5)[:, None]
    xx = (np.arange(x0, x1, dtype=F32) + 0.5)[None, :]
    d = ((xx - cx - ox) / (rx * 1.5)) ** 2 + ((yy - yb) / (ry * 1.5)) ** 2
    a = np.clip(1.0 - d, 0.0, 1.0) * F32(0.45 * (0.4 + 0.6 * scene.elev))
    # multiply-darken (paint black with alpha, never reaching the label threshold)
    a = np.minimum(a, 0.45).astype(F32)
    scene.paint(y0, x0, a, color(0.0, 0.0, 0.0), 0, thresh=2.0)


def tree(scene: Canvas, cx, yb, hgt, haze=0.0, kind=None):
    rng = scene.srng
    if hgt < 2.5:
        return
    if kind is None:
        p_con = 0.35 if scene.season != "winter" else 0.55
        kind = "conifer" if rng.random() < p_con else "decid"
    if kind == "conifer":
        _conifer(scene, cx, yb, hgt, haze)
    elif scene.season == "winter" and rng.random() < 0.85:
        _bare(scene, cx, yb, hgt, haze)
    else:
        _decid(scene, cx, yb, hgt, haze)


def _box(scene: Canvas, cx, yb, wid, hgt):
    x0 = int(math.floor(cx - wid / 2)) - 2
    x1 = int(math.ceil(cx + wid / 2)) + 3
    y0 = int(math.floor(yb - hgt)) - 2
    y1 = int(math.ceil(yb)) + 2
    yy = (np.arange(y0, y1, dtype=F32) + 0.5)[:, None]
    xx = (np.arange(x0, x1, dtype=F32) + 0.5)[None, :]
    return x0, y0, yy, xx


def _decid(scene: Canvas, cx, yb, hgt, haze):
    rng, P = scene.srng, scene.P
    cw = hgt * rng.uniform(0.5, 0.8)
    ch = hgt * rng.uniform(0.55, 0.75)
    ccy = yb - hgt + ch / 2
    x0, y0, yy, xx = _box(scene, cx, yb, cw * 1.3, hgt * 1.05)
    leaf = _leaf(scene, y0, x0, yy.shape[0], xx.shape[1])
    # trunk
    tw = max(0.9, hgt * 0.06)
    ta = (np.clip(tw / 2 - np.abs(xx - cx) + 0.5, 0, 1) * np.clip(yb - yy + 0.5, 0, 1)
          * (yy > ccy)).astype(F32)
    tcol = scene.lit(P["trunk"], 0.6 * scene.ground_light)
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
    ca = np.clip(F + leaf * edge + 0.5, 0, 1).astype(F32)
    # foliage colour
    leaves = P["leaves"]
    alb2 = None
    if scene.season == "autumn":
        alb = leaves[int(rng.integers(len(leaves)))]
        alb2 = leaves[int(rng.integers(len(leaves)))]
    elif scene.season == "spring":
        ci = int(rng.choice(len(leaves), p=(0.5, 0.2, 0.12, 0.18)))
        alb = leaves[ci]
        if ci in (1, 2):  # blossom with some fresh leaves showing
            alb2 = leaves[0]
    else:
        alb = leaves[int(rng.integers(len(leaves)))]
    alb = jitter(rng, alb, 0.06)
    nx = (xx - cx) / (cw * 0.5)
    ny = (yy - ccy) / (ch * 0.5)
    shade = 0.62 + 0.3 * nx * scene.lx - 0.3 * ny + 0.2 * leaf
    if rm > 6:
        clump = _leaf(scene, y0, x0, yy.shape[0], xx.shape[1], coarse=True)
        shade = shade + 0.22 * clump - 0.08
    shade = np.clip(shade, 0.1, 1.2)
    if alb2 is not None:
        mixw = np.clip(0.5 - leaf * 0.6 - 0.4 * _leaf(scene, y0 + 17, x0 + 29, yy.shape[0],
                                                          xx.shape[1], coarse=True), 0, 1)
        alb = alb + (alb2 - alb) * (mixw * 0.8)[..., None]
    ccol = scene.lit(alb, shade * scene.ground_light)
    if haze:
        ccol = scene.hazed(ccol, haze)
        tcol = scene.hazed(tcol, haze)
    scene.paint(y0, x0, ta, tcol, TREE)
    scene.paint(y0, x0, ca, ccol, TREE)


def _conifer(scene: Canvas, cx, yb, hgt, haze):
    rng, P = scene.srng, scene.P
    wmax = hgt * rng.uniform(0.3, 0.45)
    x0, y0, yy, xx = _box(scene, cx, yb, wmax * 1.2, hgt * 1.05)
    leaf = _leaf(scene, y0, x0, yy.shape[0], xx.shape[1])
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
    shade = 0.5 + 0.3 * nx * scene.lx + 0.3 * saw - 0.1 + 0.18 * leaf
    col = scene.lit(jitter(rng, P["conifer"], 0.06), np.clip(shade, 0.1, 1.2) * scene.ground_light)
    if scene.season == "winter" and rng.random() < 0.7:
        sn = np.clip((saw - 0.55) * 4.0 + leaf * 0.8, 0.0, 1.0)
        scol = scene.lit(P["snow"], 0.85 * scene.ground_light)
        col = col + (scol - col) * (sn * 0.85)[..., None]
    tcol = scene.lit(P["trunk"], 0.5 * scene.ground_light)
    if haze:
        col = scene.hazed(col, haze)
        tcol = scene.hazed(tcol, haze)
    scene.paint(y0, x0, ta.astype(F32), tcol, TREE)
    scene.paint(y0, x0, a.astype(F32), col, TREE)


def _bare(scene: Canvas, cx, yb, hgt, haze):
    rng, P = scene.srng, scene.P
    cw = hgt * rng.uniform(0.55, 0.8)
    x0, y0, yy, xx = _box(scene, cx, yb, cw * 1.7, hgt * 1.1)
    hh, ww = yy.shape[0], xx.shape[1]
    mask = np.zeros((hh, ww), np.uint8)
    sc = 8  # fixed-point shift 3

    def line(xa, ya, xb, yb_, th):
        p1 = (int(round((xa - x0) * sc)), int(round((ya - y0) * sc)))
        p2 = (int(round((xb - x0) * sc)), int(round((yb_ - y0) * sc)))
        draw_line(mask, p1, p2, 255, max(1, int(round(th))), 3)

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
    a = mask.astype(F32) * F32(1.0 / 255.0)
    # twig haze around the crown
    ccy = yb - hgt * 0.62
    d = ((xx - cx) / (cw * 0.5)) ** 2 + ((yy - ccy) / (hgt * 0.38)) ** 2
    leaf = _leaf(scene, y0, x0, hh, ww, fine=True)
    twig = (d < 1.0) & (leaf > 0.5 + 1.0 * d)
    a = np.maximum(a, twig.astype(F32) * F32(0.6))
    col = scene.lit(P["trunk"] * F32(0.8), 0.55 * scene.ground_light)
    if haze:
        col = scene.hazed(col, haze)
    scene.paint(y0, x0, a, col, TREE)


def bush(scene: Canvas, cx, yb, hgt):
    rng, P = scene.srng, scene.P
    if hgt < 1.5:
        return
    bw = hgt * rng.uniform(1.3, 2.2)
    x0, y0, yy, xx = _box(scene, cx, yb, bw * 1.2, hgt * 1.3)
    leaf = _leaf(scene, y0, x0, yy.shape[0], xx.shape[1], fine=True)
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
    shade = 0.58 + 0.25 * nx * scene.lx - 0.3 * ny + 0.3 * leaf
    alb = jitter(rng, P["bush"], 0.06)
    col = scene.lit(alb, np.clip(shade, 0.05, 1.2) * scene.ground_light)
    if scene.season == "winter" and rng.random() < 0.6:
        sn = np.clip(-ny * 1.5 - 0.2 + leaf * 0.5, 0.0, 1.0)
        col = col + (scene.lit(P["snow"], 0.9 * scene.ground_light) - col) * sn[..., None]
    scene.paint(y0, x0, a.astype(F32), col, BUSH)


def boulder(scene: Canvas, cx, yb, size):
    rng, P = scene.srng, scene.P
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
    fill_polygon(mask, pts, 255, 3)
    a = mask.astype(F32) * F32(1.0 / 255.0)
    yy = (np.arange(y0, y1, dtype=F32) + 0.5)[:, None]
    xx = (np.arange(x0, x1, dtype=F32) + 0.5)[None, :]
    ex = (xx - cx) / (size * sqx)
    ey = (yy - cyc) / (size * sqy)
    nz = np.sqrt(np.clip(1.0 - ex * ex - ey * ey, 0.0, 1.0))
    # dome lighting from the sun side and above, plus facets, cracks and contact darkening
    lx = scene.lx * 0.7
    ndl = ex * lx - ey * 0.55 + nz * 0.45
    ang = np.floor(ex * 2.3 + 7.0) + np.floor(ey * 1.7 + 7.0) * 5.0
    fb = rng.uniform(-0.1, 0.1, 64).astype(F32)
    facet = fb[ang.astype(np.intp) % 64]
    leaf = _leaf(scene, y0, x0, y1 - y0, x1 - x0, fine=True)
    clump = _leaf(scene, y0, x0, y1 - y0, x1 - x0, coarse=True)
    crack = np.clip(1.0 - np.abs(clump) * 6.0, 0.0, 1.0) * (0.5 if size > 6 else 0.0)
    shade = (0.3 + 0.6 * np.clip(ndl, 0.0, 1.2) + facet + 0.14 * leaf + 0.1 * clump
             - 0.35 * crack)
    shade = shade * (0.55 + 0.45 * np.clip((yb - yy) / (size * 0.35), 0.0, 1.0))
    col = scene.lit(jitter(rng, P["rock"], 0.05), np.clip(shade, 0.03, 1.2) * scene.ground_light)
    if scene.season == "winter" and rng.random() < 0.6:
        sn = np.clip(-ey * 3.0 - 1.2 + leaf * 0.5, 0.0, 1.0)
        col = col + (scene.lit(P["snow"], 0.95 * scene.ground_light) - col) * sn[..., None]
    scene.paint(y0, x0, a, col, ROCK)


def sprites(scene: Canvas):
    """Trees, bushes and boulders standing on the ground, drawn far to near."""
    rng, H, W = scene.rng, scene.H, scene.W
    yh = scene.yh
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
        g = float(scene.gl.mean(dtype=np.float64))
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
        scene.info["tree_line"] = True
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
        scene.srng = np.random.Generator(np.random.PCG64(sseed))
        yi, xi = int(yb), int(x)
        if not (0 <= yi < H) or s < 1.5:
            continue
        base_lab = int(scene.lab[yi, min(max(xi, 0), W - 1)])
        if base_lab not in ok_base and not (kind == "rock" and base_lab == SAND):
            continue
        if kind in ("tree", "tree_line"):
            s = min(s, H * 0.85)
            if kind == "tree":
                shadow(scene, x, yb, s * 0.3)
            tree(scene, x, yb, s, kind=tkind,
                      haze=scene.P["haze_k"] * max(0.0, 0.6 - (yb - yh) / H * 3.0))
            counts["tree"] += 1
        elif kind == "bush":
            shadow(scene, x, yb, s * 0.9)
            bush(scene, x, yb, s)
            counts["bush"] += 1
        else:
            shadow(scene, x, yb, s * 1.1)
            boulder(scene, x, yb, s)
            counts["rock"] += 1
    scene.info.update(trees=counts["tree"], bushes=counts["bush"], boulders=counts["rock"])
