"""Small numpy image operations the app, the model code and the trainer share (no OpenCV).

* :func:`connected_components`: label the 4- or 8-connected regions of a boolean mask, numbered
  1..n in raster order of their first pixel, with their pixel counts. Works on horizontal runs
  (one row of the mask at a time, vectorised), joined across rows by a union-find over runs, so
  its cost follows the number of runs, not the length of the longest path through a region.
* :func:`box_sum`: the sum over a ``size x size`` window of every pixel (integer counts stay exact),
  with a mirrored border.
* :func:`resize_rgb`: an RGB uint8 image resized with Pillow (box filter when shrinking, bilinear
  when enlarging).
"""

from __future__ import annotations

import numpy as np


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True in raster order: rows, first columns, one-past-last columns."""
    H, W = mask.shape
    padded = np.zeros((H, W + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    ys, xs = np.nonzero(d == 1)
    _, xe = np.nonzero(d == -1)
    return ys.astype(np.int64), xs.astype(np.int64), xe.astype(np.int64)


def _root_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For ``n`` nodes joined by edges ``a[k] - b[k]``: each node's component root (its smallest
    node). Hooks every root onto the smallest root it touches, then compresses paths; a parent
    is never larger than its node, so this ends."""
    parent = np.arange(n, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        lo, hi = np.minimum(ra, rb)[differ], np.maximum(ra, rb)[differ]
        np.minimum.at(parent, hi, lo)
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt


def connected_components(mask: np.ndarray, connectivity: int = 4) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, labels, areas)`` for the regions of True in a 2-D ``mask``: ``labels`` int32 ``[H, W]``,
    0 outside the mask, 1..n inside, numbered in raster order of each region's first pixel;
    ``areas[k]`` the pixel count of region ``k`` (``areas[0]`` the count of background pixels)."""
    m = np.asarray(mask).astype(bool, copy=False)
    if m.ndim != 2:
        raise ValueError(f"connected_components needs a 2-D mask, got shape {m.shape}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    H, W = m.shape
    ys, xs, xe = _runs(m)
    labels = np.zeros((H, W), np.int32)
    if len(ys) == 0:
        return 0, labels, np.array([H * W], np.int64)
    # run i (row y) touches run j (row y + 1) when their column ranges overlap (4-connectivity)
    # or overlap once widened by one pixel (8-connectivity). Runs are sorted by (row, column)
    # and do not overlap within a row, so the runs j of row y + 1 touching run i form one range.
    grow = 1 if connectivity == 8 else 0
    stride = W + 2
    start_key = ys * stride + xs
    end_key = ys * stride + xe
    lo = np.searchsorted(end_key, (ys + 1) * stride + xs - grow, side="right")
    hi = np.searchsorted(start_key, (ys + 1) * stride + xe + grow, side="left")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(len(ys)), count)
    b = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.repeat(lo, count)
    root = _root_labels(len(ys), a, b)
    roots, first = np.unique(root, return_index=True)
    number = np.empty(len(ys), np.int64)
    number[roots[np.argsort(first)]] = np.arange(1, len(roots) + 1)
    run_label = number[root]
    lengths = xe - xs
    flat = np.repeat(ys * W + xs - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
    labels.reshape(-1)[flat] = np.repeat(run_label, lengths)
    areas = np.bincount(run_label, weights=lengths, minlength=len(roots) + 1).astype(np.int64)
    areas[0] = H * W - int(lengths.sum())
    return len(roots), labels, areas


def box_sum(a: np.ndarray, size: int, border: str = "reflect101") -> np.ndarray:
    """The sum of ``a`` (2-D) over the ``size x size`` window centred on each pixel (``size`` odd).
    ``border``: ``"reflect101"`` (mirror without repeating the edge pixel: ``dcb|abcd``) or
    ``"reflect"`` (mirror repeating it: ``cba|abc``)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"box size must be odd and positive, got {size}")
    x = np.asarray(a)
    r = size // 2
    mode = {"reflect101": "reflect", "reflect": "symmetric"}[border]
    acc = np.int64 if np.issubdtype(x.dtype, np.integer) or x.dtype == bool else np.float64
    p = x.astype(acc)
    for axis in (0, 1):
        width = [(0, 0), (0, 0)]
        width[axis] = (r, r)
        p = np.pad(p, width, mode=mode)
        c = np.cumsum(p, axis=axis)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        n = c.shape[axis]
        p = np.take(c, np.arange(size, n), axis=axis) - np.take(c, np.arange(0, n - size), axis=axis)
    return p


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """RGB uint8 ``[h, w, 3]`` resized to ``[height, width, 3]``: area-averaging (box filter) when
    either side shrinks, bilinear otherwise."""
    from PIL import Image

    a = np.ascontiguousarray(np.asarray(rgb)[..., :3]).astype(np.uint8, copy=False)
    shrink = a.shape[0] > height or a.shape[1] > width
    img = Image.fromarray(a, "RGB").resize((int(width), int(height)),
                                             Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    return np.asarray(img, np.uint8).copy()
