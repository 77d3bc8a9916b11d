"""Training-time augmentations that make a model follow hand-painted maps and real photos' colours.

People paint label maps with a brush and fills: flat regions, straight or round boundaries, no
texture; the procedural training maps are detailed. :func:`simplify_labels` turns a detailed
map into a painted-looking one (small specks dropped, boundaries smoothed, polygonised or
replaced by ellipses) while the real image stays the same, so the model learns to add detail
inside flat regions. :func:`jitter_colors` gives an image a random global colour change
(white balance, saturation, gamma, brightness); used on the real image that both the style
encoder and the discriminator see, it teaches the encoder to read colours the procedural
looks never had (a real photo's), and the generator to reproduce them.

Both are deterministic given their ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from spade_studio.raster import box_sum, connected_components

from .landscapes.raster import fill_polygon

# 8-neighbour steps, clockwise on screen (y down): E, SE, S, SW, W, NW, N, NE
_STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
# after a step in direction d, the next search starts one past the pixel examined just before it
_NEXT_START = (7, 7, 1, 1, 3, 3, 5, 5)


def mode_filter(label: np.ndarray, size: int) -> np.ndarray:
    """Each pixel becomes the most frequent label of its ``size x size`` window (mirrored at the
    borders; a tie goes to the smallest id)."""
    ids = np.unique(label)
    if len(ids) == 1:
        return label.copy()
    votes = np.stack([box_sum(label == i, size, "reflect") for i in ids])
    return ids[votes.argmax(0)].astype(label.dtype)


def drop_specks(label: np.ndarray, min_area: int) -> np.ndarray:
    """Connected regions smaller than ``min_area`` pixels take the label around them."""
    out = label.copy()
    small = np.zeros(label.shape, bool)
    for i in np.unique(label):
        n, comp, areas = connected_components(label == i, 4)
        tiny = np.nonzero(areas[1:] < min_area)[0] + 1
        if len(tiny):
            small |= np.isin(comp, tiny)
    if small.any():
        k = int(2 * np.sqrt(min_area)) | 1
        # the surroundings' label: a mode filter that does not count the specks themselves
        ids = np.unique(label[~small]) if (~small).any() else np.unique(label)
        votes = np.stack([box_sum((label == i) & ~small, k, "reflect101") for i in ids])
        fill = ids[votes.argmax(0)].astype(label.dtype)
        out[small] = fill[small]
    return out


def trace_outline(mask: np.ndarray, x: int, y: int) -> np.ndarray:
    """The outer boundary of the 8-connected region of ``mask`` whose first pixel in raster
    order is ``(x, y)``: its border pixels ``[n, 2]`` (x, y), in order, once round (Moore
    neighbour tracing, stopped when the first step repeats)."""
    H, W = mask.shape
    m = np.zeros((H + 2, W + 2), bool)
    m[1:-1, 1:-1] = mask
    flat = m.ravel()
    stride = W + 2
    offs = [dx + dy * stride for dx, dy in _STEPS]
    start = (y + 1) * stride + x + 1
    out = [start]
    p, search, first = start, 5, None
    for _ in range(4 * H * W + 8):
        for k in range(8):
            d = (search + k) & 7
            if flat[p + offs[d]]:
                break
        else:
            break  # a single pixel
        if p == start and first is not None and d == first:
            out.pop()  # back at the start, about to repeat the first step
            break
        if first is None:
            first = d
        p += offs[d]
        out.append(p)
        search = _NEXT_START[d]
    idx = np.array(out, np.int64)
    return np.stack([idx % stride - 1, idx // stride - 1], 1)


def simplify_closed(points: np.ndarray, epsilon: float) -> np.ndarray:
    """A closed outline's vertices kept by Douglas-Peucker: every dropped point lies within
    ``epsilon`` of the kept polygon's edge that replaces it. Anchored at the first point and
    the point farthest from it."""
    pts = np.asarray(points, np.float64)
    n = len(pts)
    if n < 3:
        return np.asarray(points)
    far = int(np.argmax(((pts - pts[0]) ** 2).sum(1)))
    if far == 0:
        return np.asarray(points)[:1]
    keep = np.zeros(n, bool)
    keep[0] = keep[far] = True
    ring = np.concatenate([pts, pts[:1]])
    stack = [(0, far), (far, n)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = ring[a + 1 : b]
        d = ring[b] - ring[a]
        rel = seg - ring[a]
        length = float(np.hypot(*d))
        dist = np.abs(d[0] * rel[:, 1] - d[1] * rel[:, 0]) / length if length > 0 else np.hypot(rel[:, 0], rel[:, 1])
        j = int(np.argmax(dist))
        if dist[j] > epsilon:
            keep[a + 1 + j] = True
            stack += [(a, a + 1 + j), (a + 1 + j, b)]
    return np.asarray(points)[keep]


def _outlines(mask: np.ndarray) -> list[np.ndarray]:
    """The outer boundary of every 8-connected region of ``mask``."""
    n, comp, _ = connected_components(mask, 8)
    if n == 0:
        return []
    flat = comp.ravel()
    order = np.nonzero(flat)[0]
    first = np.full(n + 1, -1, np.int64)
    first[flat[order[::-1]]] = order[::-1]  # the first pixel of each region, in raster order
    W = mask.shape[1]
    return [trace_outline(mask, int(f % W), int(f // W)) for f in first[1:]]


def polygonise(label: np.ndarray, epsilon: float) -> np.ndarray:
    """Every region redrawn as a polygon whose vertices stay within ``epsilon`` px of its outline
    (large regions first, so small ones stay on top)."""
    ids, counts = np.unique(label, return_counts=True)
    out = np.full(label.shape, ids[counts.argmax()], np.int64)
    for i in ids[np.argsort(-counts)]:
        for outline in _outlines(label == i):
            if len(outline) >= 3:
                fill_polygon(out, simplify_closed(outline, epsilon), int(i))
    return out.astype(label.dtype)


def _fill_ellipse(out: np.ndarray, cx: float, cy: float, cov: np.ndarray, value: int) -> None:
    """Pixels whose centres lie in the ellipse ``(p - c)^T (4 cov)^-1 (p - c) <= 1`` (the solid
    ellipse of covariance ``cov``) set to ``value``."""
    evals, evecs = np.linalg.eigh(cov)
    r = 2.0 * np.sqrt(evals.max())
    H, W = out.shape
    x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)) + 1, W)
    y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d = np.stack([xx - cx, yy - cy], -1) @ evecs
    inside = (d[..., 0] ** 2 / (4 * evals[0]) + d[..., 1] ** 2 / (4 * evals[1])) <= 1.0
    out[y0:y1, x0:x1][inside] = value


def polygon_moments(pts: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """Area, centroid and covariance ``[2, 2]`` of the region a closed polygon encloses
    (Green's theorem over its edges)."""
    x, y = np.asarray(pts, np.float64).T
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    c = x * yn - xn * y
    area = c.sum() / 2
    if abs(area) < 1e-9:
        return 0.0, 0.0, 0.0, np.zeros((2, 2))
    cx = ((x + xn) * c).sum() / (6 * area)
    cy = ((y + yn) * c).sum() / (6 * area)
    sxx = ((x * x + x * xn + xn * xn) * c).sum() / (12 * area) - cx * cx
    syy = ((y * y + y * yn + yn * yn) * c).sum() / (12 * area) - cy * cy
    sxy = ((x * yn + 2 * x * y + 2 * xn * yn + xn * y) * c).sum() / (24 * area) - cx * cy
    return abs(area), cx, cy, np.array([[sxx, sxy], [sxy, syy]])


def ellipse_blobs(label: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """Regions of ``classes`` (trees, bushes, clouds ...) replaced by ellipses with the same area
    moments as their outlines, the way people paint them."""
    out = label.astype(np.int64)
    for i in classes:
        mask = label == i
        if not mask.any():
            continue
        for outline in _outlines(mask):
            if len(outline) < 5:
                continue
            area, cx, cy, cov = polygon_moments(outline)
            if area <= 0:
                continue
            evals = np.linalg.eigvalsh(cov)
            w, h = 4 * np.sqrt(max(evals[0], 0.0)), 4 * np.sqrt(evals[1])  # full axes
            if 0 < w < 4 * label.shape[1] and 0 < h < 4 * label.shape[0]:
                _fill_ellipse(out, cx, cy, cov, int(i))
    return out.astype(label.dtype)


# landscape label ids painted as blobs (cloud, rock, tree, bush, flower)
BLOB_CLASSES = (1, 4, 7, 8, 9)


def simplify_labels(label: np.ndarray, rng: np.random.Generator, blob_classes: tuple[int, ...] = BLOB_CLASSES
                    ) -> np.ndarray:
    """A painted-looking version of ``label`` (same size and ids): specks dropped, then one of
    smoothing, polygonising, or ellipse blobs + smoothing, with random strength (scaled to the
    map's size)."""
    lab = np.asarray(label)
    scale = min(lab.shape) / 256.0
    out = drop_specks(lab, max(4, int(rng.uniform(30, 300) * scale * scale)))
    kind = rng.integers(3)
    if kind == 0:
        out = mode_filter(out, max(3, int(rng.uniform(5, 17) * scale)) | 1)
    elif kind == 1:
        out = polygonise(mode_filter(out, max(3, int(5 * scale)) | 1), rng.uniform(1.5, 6.0) * scale)
    else:
        out = mode_filter(ellipse_blobs(out, blob_classes), max(3, int(rng.uniform(3, 9) * scale)) | 1)
    return out.astype(lab.dtype)


def jitter_colors(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A random global colour change of an RGB uint8 image: white balance (per-channel gains),
    saturation, gamma and brightness. ``strength`` scales how far it goes (1: up to about
    +-35 % gain, saturation 0.4-1.6, gamma 0.65-1.5)."""
    x = np.asarray(rgb[..., :3], np.float32) / 255.0
    s = float(strength)
    gains = np.exp(rng.uniform(-0.3, 0.3, 3) * s).astype(np.float32)
    x = x * gains
    gray = x.mean(axis=2, keepdims=True)
    sat = float(np.exp(rng.uniform(-0.9, 0.45) * s))
    x = gray + (x - gray) * sat
    x = np.clip(x, 0, 1) ** float(np.exp(rng.uniform(-0.42, 0.4) * s))
    x = x * float(np.exp(rng.uniform(-0.25, 0.2) * s))
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
