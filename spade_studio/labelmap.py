"""The label map as a numpy array, and the painting operations on it (no Qt).

A label map is a ``[H, W]`` ``uint8`` or ``uint16`` array of label ids. Every operation
writes pure ids (no anti-aliasing, no blending) and returns a :class:`Delta`: the bounding
box of the pixels it changed, their old and new values and a mask. A delta is one undo
step's worth of change; :func:`apply_delta` replays it forwards or backwards.

Coordinates are pixel indices: ``map[y, x]``. A brush centre ``(cx, cy)`` may be fractional;
the centre of pixel ``(x, y)`` is the point ``(x, y)``, so integer centres sit on pixel
centres (odd brush diameters) and half-integer centres on pixel corners (even diameters).
A round brush of diameter ``d`` covers the pixels whose centre lies within ``d / 2`` of the
dab centre: diameter 1 centred on a pixel is that one pixel, diameter 2 centred on a corner
the 2x2 block around it. Strokes and lines cover every pixel within ``radius`` of the
segments between their points (the area swept by the disc), so fast mouse moves leave no
gaps.

By default every operation applies itself to ``map`` in place; pass ``apply=False`` to get
the delta without touching the map (previews, or an undo command that applies it later).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# Distances are compared with a tiny tolerance so that pixels lying exactly on the brush
# edge are in, whatever the rounding of the projection onto a segment.
_EPS = 1e-7
# Rows x columns processed at once when measuring distances (bounds temporary memory).
_CHUNK_PIXELS = 1 << 20


@dataclass
class Delta:
    """One undo step: the values inside a box before and after a change."""

    y0: int
    x0: int
    old: np.ndarray  # [h, w], the map's dtype
    new: np.ndarray  # [h, w], the map's dtype
    mask: np.ndarray  # [h, w] bool: the pixels that changed

    @property
    def height(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, width, height)`` in map pixels."""
        return (self.x0, self.y0, self.width, self.height)

    def changed_pixels(self) -> int:
        return int(np.count_nonzero(self.mask))

    def nbytes(self) -> int:
        return int(self.old.nbytes + self.new.nbytes + self.mask.nbytes)


# -- helpers -------------------------------------------------------------------------------


def _check_map(label_map: np.ndarray) -> None:
    if label_map.ndim != 2 or label_map.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"a label map is a 2-D uint8/uint16 array, got {label_map.dtype} {label_map.shape}")


def _check_label(label_map: np.ndarray, label: int) -> int:
    label = int(label)
    top = np.iinfo(label_map.dtype).max
    if not 0 <= label <= top:
        raise ValueError(f"label {label} does not fit a {label_map.dtype} label map (0..{top})")
    return label


def _paint_region(
    label_map: np.ndarray, y0: int, x0: int, region: np.ndarray, label: int, apply: bool
) -> Delta | None:
    """Set ``region`` (a bool mask whose top-left is ``(y0, x0)``) to ``label``."""
    h, w = region.shape
    old_box = label_map[y0 : y0 + h, x0 : x0 + w]
    change = region & (old_box != label)
    if not change.any():
        return None
    rows = np.flatnonzero(change.any(axis=1))
    cols = np.flatnonzero(change.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    mask = np.ascontiguousarray(change[r0:r1, c0:c1])
    old = old_box[r0:r1, c0:c1].copy()
    new = old.copy()
    new[mask] = label
    delta = Delta(y0 + r0, x0 + c0, old, new, mask)
    if apply:
        apply_delta(label_map, delta, undo=False)
    return delta


def _segment_mask(
    ys: np.ndarray, xs: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], r: float
) -> np.ndarray:
    """Pixels (rows ``ys`` x columns ``xs``) whose centre is within ``r`` of segment p0-p1."""
    out = np.zeros((ys.size, xs.size), bool)
    if ys.size == 0 or xs.size == 0:
        return out
    ax, ay = p0
    dx, dy = p1[0] - ax, p1[1] - ay
    length2 = dx * dx + dy * dy
    r2 = r * r + _EPS
    X = xs[None, :].astype(np.float64) - ax
    step = max(1, _CHUNK_PIXELS // max(1, xs.size))
    for i in range(0, ys.size, step):
        Y = ys[i : i + step, None].astype(np.float64) - ay
        if length2 == 0.0:
            d2 = X * X + Y * Y
        else:
            t = np.clip((X * dx + Y * dy) / length2, 0.0, 1.0)
            ex = X - t * dx
            ey = Y - t * dy
            d2 = ex * ex + ey * ey
        out[i : i + step] = d2 <= r2
    return out


def _swept_disc(
    shape: tuple[int, int], points: Sequence[tuple[float, float]], radius: float
) -> tuple[int, int, np.ndarray] | None:
    """``(y0, x0, mask)``: the pixels within ``radius`` of the polyline ``points``, clipped."""
    H, W = shape
    pts = [(float(x), float(y)) for x, y in points]
    if not pts or radius < 0:
        return None
    r = float(radius)
    xs_all = [p[0] for p in pts]
    ys_all = [p[1] for p in pts]
    bx0 = max(0, int(np.ceil(min(xs_all) - r - 1e-9)))
    by0 = max(0, int(np.ceil(min(ys_all) - r - 1e-9)))
    bx1 = min(W - 1, int(np.floor(max(xs_all) + r + 1e-9)))
    by1 = min(H - 1, int(np.floor(max(ys_all) + r + 1e-9)))
    if bx1 < bx0 or by1 < by0:
        return None
    mask = np.zeros((by1 - by0 + 1, bx1 - bx0 + 1), bool)
    segments = list(zip(pts[:-1], pts[1:])) if len(pts) > 1 else [(pts[0], pts[0])]
    for p0, p1 in segments:
        sx0 = max(bx0, int(np.ceil(min(p0[0], p1[0]) - r - 1e-9)))
        sy0 = max(by0, int(np.ceil(min(p0[1], p1[1]) - r - 1e-9)))
        sx1 = min(bx1, int(np.floor(max(p0[0], p1[0]) + r + 1e-9)))
        sy1 = min(by1, int(np.floor(max(p0[1], p1[1]) + r + 1e-9)))
        if sx1 < sx0 or sy1 < sy0:
            continue
        sub = _segment_mask(np.arange(sy0, sy1 + 1), np.arange(sx0, sx1 + 1), p0, p1, r)
        mask[sy0 - by0 : sy1 - by0 + 1, sx0 - bx0 : sx1 - bx0 + 1] |= sub
    return by0, bx0, mask


# -- operations ----------------------------------------------------------------------------


def brush_region(
    shape: tuple[int, int], points: Sequence[tuple[float, float]], radius: float
) -> tuple[int, int, np.ndarray] | None:
    """``(y0, x0, mask)``: the pixels a stroke through ``points`` would cover (clipped to
    ``shape``), without looking at any map; None when it misses the map. For previews."""
    return _swept_disc(shape, points, radius)


def disc_mask(diameter: int) -> np.ndarray:
    """The footprint of a round brush of ``diameter`` pixels (``[d, d]`` bool), for cursors."""
    d = max(1, int(diameter))
    c = (d - 1) / 2.0
    yy, xx = np.mgrid[0:d, 0:d].astype(np.float64)
    return (xx - c) ** 2 + (yy - c) ** 2 <= (d / 2.0) ** 2 + _EPS


def paint_disc(
    label_map: np.ndarray, cx: float, cy: float, radius: float, label: int, *, apply: bool = True
) -> Delta | None:
    """One dab of the round brush: pixels whose centre is within ``radius`` of ``(cx, cy)``."""
    return paint_stroke(label_map, [(cx, cy)], radius, label, apply=apply)


def paint_stroke(
    label_map: np.ndarray,
    points: Iterable[tuple[float, float]],
    radius: float,
    label: int,
    *,
    apply: bool = True,
) -> Delta | None:
    """The brush dragged through ``points`` ``(x, y)``: every pixel within ``radius`` of the
    polyline (a dab at every point of every segment, so no gaps)."""
    _check_map(label_map)
    label = _check_label(label_map, label)
    found = _swept_disc(label_map.shape, list(points), radius)
    if found is None:
        return None
    y0, x0, mask = found
    return _paint_region(label_map, y0, x0, mask, label, apply)


def draw_line(
    label_map: np.ndarray,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    radius: float,
    label: int,
    *,
    apply: bool = True,
) -> Delta | None:
    """A straight line of width ``2 * radius`` with round caps from ``(x0, y0)`` to ``(x1, y1)``."""
    return paint_stroke(label_map, [(x0, y0), (x1, y1)], radius, label, apply=apply)


def fill_rect(
    label_map: np.ndarray, x0: int, y0: int, x1: int, y1: int, label: int, *, apply: bool = True
) -> Delta | None:
    """Filled rectangle between two corner pixels (inclusive, any order, clipped to the map)."""
    _check_map(label_map)
    label = _check_label(label_map, label)
    H, W = label_map.shape
    xa, xb = sorted((int(x0), int(x1)))
    ya, yb = sorted((int(y0), int(y1)))
    xa, ya = max(xa, 0), max(ya, 0)
    xb, yb = min(xb, W - 1), min(yb, H - 1)
    if xb < xa or yb < ya:
        return None
    region = np.ones((yb - ya + 1, xb - xa + 1), bool)
    return _paint_region(label_map, ya, xa, region, label, apply)


def flood_fill(label_map: np.ndarray, x: int, y: int, label: int, *, apply: bool = True) -> Delta | None:
    """Fill the 4-connected region of equal ids containing pixel ``(x, y)`` with ``label``."""
    from .raster import connected_components

    _check_map(label_map)
    label = _check_label(label_map, label)
    H, W = label_map.shape
    x, y = int(x), int(y)
    if not (0 <= x < W and 0 <= y < H):
        return None
    seed_value = label_map[y, x]
    if seed_value == label:
        return None
    _, comp, _ = connected_components(label_map == seed_value, 4)
    whole = comp == comp[y, x]
    rows, cols = np.nonzero(whole.any(axis=1))[0], np.nonzero(whole.any(axis=0))[0]
    ry, rx = int(rows[0]), int(cols[0])
    region = whole[ry : rows[-1] + 1, rx : cols[-1] + 1]
    return _paint_region(label_map, ry, rx, region, label, apply)


def apply_delta(label_map: np.ndarray, delta: Delta, undo: bool) -> None:
    """Write ``delta.new`` (redo) or ``delta.old`` (undo) into ``label_map`` in place."""
    view = label_map[delta.y0 : delta.y0 + delta.height, delta.x0 : delta.x0 + delta.width]
    src = delta.old if undo else delta.new
    view[delta.mask] = src[delta.mask]


def merge_deltas(map_shape: tuple[int, int], deltas: Iterable[Delta | None]) -> Delta | None:
    """One delta equivalent to ``deltas`` applied in order (a stroke's dabs): for each pixel
    the oldest old value and the newest new value. ``None`` when nothing changed overall."""
    ds = [d for d in deltas if d is not None]
    if not ds:
        return None
    if len(ds) == 1:
        return ds[0]
    y0 = min(d.y0 for d in ds)
    x0 = min(d.x0 for d in ds)
    y1 = max(d.y0 + d.height for d in ds)
    x1 = max(d.x0 + d.width for d in ds)
    H, W = map_shape
    if y0 < 0 or x0 < 0 or y1 > H or x1 > W:
        raise ValueError("delta outside the map")
    dtype = ds[0].old.dtype
    old = np.zeros((y1 - y0, x1 - x0), dtype)
    new = np.zeros_like(old)
    seen = np.zeros(old.shape, bool)
    for d in ds:
        sl = (slice(d.y0 - y0, d.y0 - y0 + d.height), slice(d.x0 - x0, d.x0 - x0 + d.width))
        first = d.mask & ~seen[sl]
        old[sl][first] = d.old[first]
        new[sl][d.mask] = d.new[d.mask]
        seen[sl] |= d.mask
    mask = seen & (old != new)
    if not mask.any():
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return Delta(
        y0 + r0,
        x0 + c0,
        old[r0:r1, c0:c1].copy(),
        new[r0:r1, c0:c1].copy(),
        np.ascontiguousarray(mask[r0:r1, c0:c1]),
    )


def label_edges(label_map: np.ndarray) -> np.ndarray:
    """Bool ``[H, W]``: pixels with a 4-neighbour of another id.

    These are the edges of the connected regions of the map (the same pixels as
    ``instance_edges(regions_as_instances(map))`` in ``model.semantics``, without torch)."""
    edge = np.zeros(label_map.shape, bool)
    dx = label_map[:, 1:] != label_map[:, :-1]
    dy = label_map[1:, :] != label_map[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    return edge


def new_label_map(width: int, height: int, fill_label: int = 0, max_id: int = 255) -> np.ndarray:
    """A map filled with ``fill_label``: uint8 when every id fits, else uint16."""
    if width < 1 or height < 1:
        raise ValueError(f"map size must be positive, got {width}x{height}")
    dtype = np.uint8 if max(max_id, fill_label) < 256 else np.uint16
    return np.full((int(height), int(width)), fill_label, dtype)


def flatten_layers(layers: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
    """The label map a stack of label layers shows: a new ``[H, W]`` array.

    ``layers`` is bottom first; each is ``(ids, mask)`` with ``ids`` a 2-D uint8/uint16 map
    and ``mask`` a bool array of the same shape, True where the layer has a label (``None``:
    the layer is filled everywhere). The bottom layer must be fully filled (``None`` or an
    all-True mask) so every pixel has an id; above it the topmost layer whose mask is set
    wins. Every layer must have the same shape and dtype (``ValueError`` / ``TypeError``
    naming the layer otherwise)."""
    if len(layers) == 0:
        raise ValueError("flatten_layers needs at least one layer")
    base_ids = layers[0][0]
    if not isinstance(base_ids, np.ndarray):
        raise TypeError(f"layer 0: ids must be a numpy array, got {type(base_ids).__name__}")
    shape, dtype = base_ids.shape, base_ids.dtype
    for i, (ids, mask) in enumerate(layers):
        if not isinstance(ids, np.ndarray):
            raise TypeError(f"layer {i}: ids must be a numpy array, got {type(ids).__name__}")
        if ids.ndim != 2 or ids.dtype not in (np.uint8, np.uint16):
            raise TypeError(f"layer {i}: ids must be a 2-D uint8/uint16 array, got {ids.dtype} {ids.shape}")
        if ids.shape != shape:
            raise ValueError(f"layer {i}: ids are {ids.shape[1]}x{ids.shape[0]}, layer 0 is {shape[1]}x{shape[0]}")
        if ids.dtype != dtype:
            raise TypeError(f"layer {i}: ids are {ids.dtype}, layer 0 is {dtype}")
        if mask is not None:
            if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
                got = mask.dtype if isinstance(mask, np.ndarray) else type(mask).__name__
                raise TypeError(f"layer {i}: mask must be a bool array or None, got {got}")
            if mask.shape != shape:
                raise ValueError(f"layer {i}: mask is {mask.shape}, ids are {shape}")
    base_mask = layers[0][1]
    if base_mask is not None and not base_mask.all():
        raise ValueError("layer 0 (the bottom layer) must be filled everywhere")
    out = base_ids.copy()
    for ids, mask in layers[1:]:
        if mask is None:
            out[...] = ids
        else:
            np.copyto(out, ids, where=mask)
    return out
