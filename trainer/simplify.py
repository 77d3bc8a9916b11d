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

import cv2
import numpy as np


def mode_filter(label: np.ndarray, size: int) -> np.ndarray:
    """Each pixel becomes the most frequent label of its ``size x size`` window."""
    ids = np.unique(label)
    if len(ids) == 1:
        return label.copy()
    votes = np.stack([cv2.blur((label == i).astype(np.float32), (size, size), borderType=cv2.BORDER_REFLECT)
                      for i in ids])
    return ids[votes.argmax(0)].astype(label.dtype)


def drop_specks(label: np.ndarray, min_area: int) -> np.ndarray:
    """Connected regions smaller than ``min_area`` pixels take the label around them."""
    out = label.copy()
    small = np.zeros(label.shape, bool)
    for i in np.unique(label):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((label == i).astype(np.uint8), connectivity=4)
        tiny = np.nonzero(stats[1:, cv2.CC_STAT_AREA] < min_area)[0] + 1
        if len(tiny):
            small |= np.isin(comp, tiny)
    if small.any():
        k = int(2 * np.sqrt(min_area)) | 1
        # the surroundings' label: a mode filter that does not count the specks themselves
        ids = np.unique(label[~small]) if (~small).any() else np.unique(label)
        votes = np.stack([cv2.blur(((label == i) & ~small).astype(np.float32), (k, k)) for i in ids])
        fill = ids[votes.argmax(0)].astype(label.dtype)
        out[small] = fill[small]
    return out


def polygonise(label: np.ndarray, epsilon: float) -> np.ndarray:
    """Every region redrawn as a polygon whose vertices stay within ``epsilon`` px of its outline
    (large regions first, so small ones stay on top)."""
    ids, counts = np.unique(label, return_counts=True)
    out = np.full(label.shape, ids[counts.argmax()], np.int32)  # OpenCV draws into int32, not int64
    for i in ids[np.argsort(-counts)]:
        contours, _ = cv2.findContours((label == i).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        polys = [cv2.approxPolyDP(c, epsilon, True) for c in contours if len(c) >= 3]
        if polys:
            cv2.fillPoly(out, polys, int(i))
    return out.astype(label.dtype)


def ellipse_blobs(label: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """Regions of ``classes`` (trees, bushes, clouds ...) replaced by their fitted ellipses, the
    way people paint them."""
    out = label.astype(np.int32)
    for i in classes:
        mask = (label == i).astype(np.uint8)
        if not mask.any():
            continue
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for c in contours:
            if len(c) >= 5:
                (cx, cy), (w, h), ang = cv2.fitEllipse(c)
                if 0 < w < 4 * label.shape[1] and 0 < h < 4 * label.shape[0]:
                    cv2.ellipse(out, ((cx, cy), (w, h), ang), int(i), -1)
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
