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


def _true_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the smallest box holding the True pixels of ``mask`` (it has one)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def restrict_region(
    shape: tuple[int, int],
    y0: int,
    x0: int,
    region: np.ndarray,
    *,
    only_over: int | None = None,
    over: np.ndarray | None = None,
    mirror: bool = False,
) -> tuple[int, int, np.ndarray] | None:
    """The painting options applied to a region (a bool mask whose top-left is ``(y0, x0)``
    inside a map of ``shape``): ``mirror`` adds its reflection about the map's vertical centre
    line (pixel column ``x`` <-> ``W - 1 - x``); ``only_over`` keeps the pixels whose label in
    ``over`` (the ``[H, W]`` map that decides, e.g. the flattened map of a layer stack) is
    ``only_over``. Returns ``(y0, x0, region)`` (possibly a larger box), None when empty."""
    H, W = shape
    h, w = region.shape
    if mirror and h and w:
        mx0 = W - (x0 + w)  # the reflected box starts here
        nx0, nx1 = min(x0, mx0), max(x0, mx0) + w
        both = np.zeros((h, nx1 - nx0), bool)
        both[:, x0 - nx0 : x0 - nx0 + w] |= region
        both[:, mx0 - nx0 : mx0 - nx0 + w] |= region[:, ::-1]
        x0, region = nx0, both
        w = region.shape[1]
    if only_over is not None:
        if over is None:
            raise ValueError("only_over needs the map whose labels decide (over)")
        if over.shape != (H, W):
            raise ValueError(f"only_over: the deciding map is {over.shape}, the map {(H, W)}")
        region = region & (over[y0 : y0 + h, x0 : x0 + w] == int(only_over))
    if not region.any():
        return None
    return y0, x0, region


def _paint_region(
    label_map: np.ndarray,
    y0: int,
    x0: int,
    region: np.ndarray,
    label: int,
    apply: bool,
    only_over: int | None = None,
    over: np.ndarray | None = None,
    mirror: bool = False,
) -> Delta | None:
    """Set ``region`` (a bool mask whose top-left is ``(y0, x0)``) to ``label``, with the
    painting options of :func:`restrict_region` (``over`` defaults to ``label_map``)."""
    if mirror or only_over is not None:
        found = restrict_region(label_map.shape, y0, x0, region, only_over=only_over,
                                over=label_map if over is None else over, mirror=mirror)
        if found is None:
            return None
        y0, x0, region = found
    h, w = region.shape
    old_box = label_map[y0 : y0 + h, x0 : x0 + w]
    change = region & (old_box != label)
    if not change.any():
        return None
    rs, cs = _true_box(change)
    mask = np.ascontiguousarray(change[rs, cs])
    old = old_box[rs, cs].copy()
    new = old.copy()
    new[mask] = label
    delta = Delta(y0 + rs.start, x0 + cs.start, old, new, mask)
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
    label_map: np.ndarray, cx: float, cy: float, radius: float, label: int, *, apply: bool = True,
    only_over: int | None = None, over: np.ndarray | None = None, mirror: bool = False,
) -> Delta | None:
    """One dab of the round brush: pixels whose centre is within ``radius`` of ``(cx, cy)``."""
    return paint_stroke(label_map, [(cx, cy)], radius, label, apply=apply, only_over=only_over, over=over,
                        mirror=mirror)


def paint_stroke(
    label_map: np.ndarray,
    points: Iterable[tuple[float, float]],
    radius: float,
    label: int,
    *,
    apply: bool = True,
    only_over: int | None = None,
    over: np.ndarray | None = None,
    mirror: bool = False,
) -> Delta | None:
    """The brush dragged through ``points`` ``(x, y)``: every pixel within ``radius`` of the
    polyline (a dab at every point of every segment, so no gaps).

    Painting options (every paint function): ``only_over`` changes only pixels whose label
    in ``over`` (default: the map itself) is ``only_over``; ``mirror`` also paints the
    reflection about the map's vertical centre line (see :func:`restrict_region`)."""
    _check_map(label_map)
    label = _check_label(label_map, label)
    found = _swept_disc(label_map.shape, list(points), radius)
    if found is None:
        return None
    y0, x0, mask = found
    return _paint_region(label_map, y0, x0, mask, label, apply, only_over, over, mirror)


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
    only_over: int | None = None,
    over: np.ndarray | None = None,
    mirror: bool = False,
) -> Delta | None:
    """A straight line of width ``2 * radius`` with round caps from ``(x0, y0)`` to ``(x1, y1)``."""
    return paint_stroke(label_map, [(x0, y0), (x1, y1)], radius, label, apply=apply, only_over=only_over,
                        over=over, mirror=mirror)


def fill_rect(
    label_map: np.ndarray, x0: int, y0: int, x1: int, y1: int, label: int, *, apply: bool = True,
    only_over: int | None = None, over: np.ndarray | None = None, mirror: bool = False,
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
    return _paint_region(label_map, ya, xa, region, label, apply, only_over, over, mirror)


def flood_fill(
    label_map: np.ndarray, x: int, y: int, label: int, *, apply: bool = True,
    only_over: int | None = None, over: np.ndarray | None = None, mirror: bool = False,
) -> Delta | None:
    """Fill the 4-connected region of equal ids containing pixel ``(x, y)`` with ``label``.
    ``mirror`` also fills from the mirrored pixel ``(W - 1 - x, y)`` (one delta for both)."""
    if mirror:
        W = label_map.shape[1]
        both = [flood_fill(label_map, x, y, label, apply=False, only_over=only_over, over=over),
                flood_fill(label_map, W - 1 - int(x), y, label, apply=False, only_over=only_over, over=over)]
        delta = merge_deltas(label_map.shape, both)
        if delta is not None and apply:
            apply_delta(label_map, delta, undo=False)
        return delta
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
    return _paint_region(label_map, ry, rx, region, label, apply, only_over, over)


def polygon_region(
    shape: tuple[int, int], points: Iterable[tuple[float, float]]
) -> tuple[int, int, np.ndarray] | None:
    """``(y0, x0, mask)``: the pixels whose centre lies inside the closed polygon ``points``
    ``(x, y)`` (labelmap coordinates: pixel centres are integers), by the even-odd rule,
    clipped to ``shape``; None when it covers no pixel or has fewer than 3 points.

    Scan lines through the pixel centres: an edge crosses row ``y`` when ``y`` lies in
    ``[min(ya, yb), max(ya, yb))`` (horizontal edges never), and a pixel is inside when an
    odd number of crossings lie at or left of its centre."""
    pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return None
    if not np.isfinite(pts).all():
        raise ValueError("polygon points must be finite numbers")
    H, W = shape
    ax, ay = pts[:, 0], pts[:, 1]
    bx0, bx1 = max(0, int(np.ceil(ax.min()))), min(W - 1, int(np.floor(ax.max())))
    by0, by1 = max(0, int(np.ceil(ay.min()))), min(H - 1, int(np.floor(ay.max())))
    if bx1 < bx0 or by1 < by0:
        return None
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    sloped = ay != by
    ax, ay, bx, by = ax[sloped], ay[sloped], bx[sloped], by[sloped]
    ncols = bx1 - bx0 + 1
    rows = np.arange(by0, by1 + 1, dtype=np.float64)
    out = np.empty((rows.size, ncols), bool)
    step = max(1, _CHUNK_PIXELS // max(1, ax.size + ncols))
    slope = (bx - ax) / (by - ay)
    for i in range(0, rows.size, step):
        Y = rows[i : i + step, None]
        crosses = ((ay <= Y) & (Y < by)) | ((by <= Y) & (Y < ay))
        r, e = np.nonzero(crosses)
        xc = ax[e] + (Y[r, 0] - ay[e]) * slope[e]
        # A crossing at xc toggles every pixel centre x >= xc, i.e. from column ceil(xc) on.
        col = np.clip(np.ceil(xc) - bx0, 0, ncols).astype(np.int64)
        n = Y.shape[0]
        toggles = np.bincount(r * (ncols + 1) + col, minlength=n * (ncols + 1)).reshape(n, ncols + 1)
        out[i : i + n] = (np.cumsum(toggles[:, :ncols], axis=1) & 1).astype(bool)
    if not out.any():
        return None
    return by0, bx0, out


def fill_polygon(
    label_map: np.ndarray,
    points: Iterable[tuple[float, float]],
    label: int,
    *,
    apply: bool = True,
    only_over: int | None = None,
    over: np.ndarray | None = None,
    mirror: bool = False,
) -> Delta | None:
    """Fill the closed polygon through ``points`` (see :func:`polygon_region`) with ``label``:
    the polygon and lasso tools."""
    _check_map(label_map)
    label = _check_label(label_map, label)
    found = polygon_region(label_map.shape, points)
    if found is None:
        return None
    y0, x0, mask = found
    return _paint_region(label_map, y0, x0, mask, label, apply, only_over, over, mirror)


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
    rs, cs = _true_box(mask)
    return Delta(
        y0 + rs.start,
        x0 + cs.start,
        old[rs, cs].copy(),
        new[rs, cs].copy(),
        np.ascontiguousarray(mask[rs, cs]),
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


# -- label layers (the editor's layer stack; Qt-free) ------------------------------------------
#
# A layer is ``ids`` ([H, W], the document's label dtype) plus ``mask`` (bool [H, W], True
# where the layer has a label) or ``mask=None`` for a layer filled everywhere (the bottom
# layer always is). Painting on a masked layer changes ids AND mask, so its undo step is a
# :class:`MaskedDelta`: the usual :class:`Delta` of the ids inside a box plus the mask
# before and after inside that box (still delta-sized, never a copy of the layer).


@dataclass
class Layer:
    """One label layer of a stack (bottom first). ``key`` is a number the owner gives each
    layer so that undo steps can name their layer whatever its position in the stack."""

    name: str
    ids: np.ndarray  # [H, W] uint8/uint16
    mask: np.ndarray | None = None  # [H, W] bool, True = has a label; None = filled everywhere
    visible: bool = True
    opacity: float = 1.0  # display only: the generator ignores it
    locked: bool = False
    key: int = 0

    def copy(self, name: str | None = None, key: int | None = None) -> Layer:
        return Layer(
            self.name if name is None else name,
            self.ids.copy(),
            None if self.mask is None else self.mask.copy(),
            self.visible,
            self.opacity,
            self.locked,
            self.key if key is None else key,
        )

    def nbytes(self) -> int:
        return int(self.ids.nbytes + (0 if self.mask is None else self.mask.nbytes))


@dataclass
class MaskedDelta:
    """One paint step on a masked layer: ``delta`` holds the ids (its ``mask``: the pixels
    that changed, in ids or in coverage), ``old_filled``/``new_filled`` the layer's mask in
    the delta's box before and after."""

    delta: Delta
    old_filled: np.ndarray  # [h, w] bool
    new_filled: np.ndarray  # [h, w] bool

    @property
    def y0(self) -> int:
        return self.delta.y0

    @property
    def x0(self) -> int:
        return self.delta.x0

    @property
    def height(self) -> int:
        return self.delta.height

    @property
    def width(self) -> int:
        return self.delta.width

    def changed_pixels(self) -> int:
        return self.delta.changed_pixels()

    def nbytes(self) -> int:
        return int(self.delta.nbytes() + self.old_filled.nbytes + self.new_filled.nbytes)


def paint_masked_region(
    ids: np.ndarray, mask: np.ndarray, y0: int, x0: int, region: np.ndarray, label: int | None,
    *, apply: bool = True,
) -> MaskedDelta | None:
    """Paint ``region`` (bool, top-left at ``(y0, x0)``) on a masked layer: ``label`` sets the
    ids and marks the pixels filled; ``label=None`` erases them (they become empty)."""
    _check_map(ids)
    h, w = region.shape
    box = (slice(y0, y0 + h), slice(x0, x0 + w))
    ids_box, filled_box = ids[box], mask[box]
    if label is None:
        change = region & filled_box
    else:
        label = _check_label(ids, label)
        change = region & (~filled_box | (ids_box != label))
    if not change.any():
        return None
    rs, cs = _true_box(change)
    cmask = np.ascontiguousarray(change[rs, cs])
    old = ids_box[rs, cs].copy()
    new = old.copy()
    old_filled = filled_box[rs, cs].copy()
    new_filled = old_filled.copy()
    if label is not None:
        new[cmask] = label
    new_filled[cmask] = label is not None
    out = MaskedDelta(Delta(y0 + rs.start, x0 + cs.start, old, new, cmask), old_filled, new_filled)
    if apply:
        apply_masked_delta(ids, mask, out, undo=False)
    return out


def apply_masked_delta(ids: np.ndarray, mask: np.ndarray, step: MaskedDelta, undo: bool) -> None:
    """Write ``step``'s old (undo) or new (redo) ids and coverage into a masked layer."""
    apply_delta(ids, step.delta, undo=undo)
    d = step.delta
    view = mask[d.y0 : d.y0 + d.height, d.x0 : d.x0 + d.width]
    src = step.old_filled if undo else step.new_filled
    view[d.mask] = src[d.mask]


def merge_masked_deltas(map_shape: tuple[int, int], steps: Iterable[MaskedDelta | None]) -> MaskedDelta | None:
    """:func:`merge_deltas` for masked-layer steps (a stroke's dabs): oldest old, newest new,
    coverage included. ``None`` when nothing changed overall."""
    ss = [s for s in steps if s is not None]
    if not ss:
        return None
    if len(ss) == 1:
        return ss[0]
    # Code "empty" as -1 in an int32 copy of each box, merge as plain deltas, decode.
    coded = []
    for s in ss:
        d = s.delta
        old = np.where(s.old_filled, d.old.astype(np.int32), -1)
        new = np.where(s.new_filled, d.new.astype(np.int32), -1)
        coded.append(Delta(d.y0, d.x0, old, new, d.mask))
    m = merge_deltas(map_shape, coded)
    if m is None:
        return None
    # Ids under pixels that were empty before the stroke are not kept (0): an empty pixel's
    # id is never shown nor saved.
    dtype = ss[0].delta.old.dtype
    old_filled, new_filled = m.old >= 0, m.new >= 0
    old = np.where(old_filled, m.old, 0).astype(dtype)
    new = np.where(new_filled, m.new, old).astype(dtype)
    return MaskedDelta(Delta(m.y0, m.x0, old, new, m.mask), old_filled, new_filled)


def flatten_box(layers: Sequence[Layer], y0: int, y1: int, x0: int, x1: int, background: int) -> np.ndarray:
    """The flattened ids of the visible ``layers`` (bottom first) inside rows ``y0:y1`` and
    columns ``x0:x1``. Hidden layers are left out; where no visible layer has a label (the
    bottom layer hidden) the pixel is ``background``."""
    shown = [ly for ly in layers if ly.visible]
    box = (slice(y0, y1), slice(x0, x1))
    dtype = layers[0].ids.dtype
    parts: list[tuple[np.ndarray, np.ndarray | None]] = [(ly.ids[box], None if ly.mask is None else ly.mask[box])
                                                        for ly in shown]
    if not parts or (parts[0][1] is not None and not parts[0][1].all()):
        parts.insert(0, (np.full((y1 - y0, x1 - x0), background, dtype), None))
    return flatten_layers(parts)


def paint_region(
    label_map: np.ndarray, y0: int, x0: int, region: np.ndarray, label: int, *, apply: bool = True
) -> Delta | None:
    """Set the pixels of ``region`` (bool, top-left at ``(y0, x0)``) to ``label`` (a fill of a
    region found elsewhere, e.g. on the flattened map of a layer stack)."""
    _check_map(label_map)
    return _paint_region(label_map, int(y0), int(x0), region, _check_label(label_map, label), apply)
