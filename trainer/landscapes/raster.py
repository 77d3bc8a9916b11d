"""Integer rasterisation of the sprites' masks: thin and thick lines, filled polygons (no OpenCV).

The landscape scenes are pinned pixel for pixel (``tests/test_landscapes.py``), and they were
first drawn with OpenCV's ``cv2.line`` / ``cv2.fillPoly`` (8-connected, 3 fractional bits). These
functions follow the same pixel rules, so the scenes did not change when OpenCV was dropped:

* coordinates are fixed-point integers with ``shift`` fractional bits (widened to 16 inside);
* a 1-px line is an 8-connected Bresenham line between the two ends rounded to whole pixels,
  drawn from the left end (the minor step taken while the error term is negative);
* a thick line is a 4-corner convex polygon (the segment widened by half the thickness each
  side, the offset rounded half to even), filled scan line by scan line between its two chains
  of edges (each edge's x starting at its upper vertex, stepped by a rounded slope, both ends of
  a span rounded), its edges drawn as 16-bit fixed-point 1-px lines, plus a disc on each end
  (midpoint circle, radius ``(thickness + 1) // 2``);
* a filled polygon takes its vertex rows rounded to whole pixels; each row ``y`` fills between
  successive pairs of the edges that cover ``y0 <= y < y1`` (even-odd, sorted by x, the left x
  rounded up, the right one down), and its outline is drawn with the Bresenham lines between the
  rounded vertices.

Checked pixel for pixel against OpenCV 4 on every call the landscape scenes make and on random
shapes that stay inside the mask; where a shape leaves the mask, the clipping differs from
OpenCV's in a few edge pixels (the scenes never do that: each sprite's mask has a margin).
Everything writes ``value`` into a 2-D uint8 ``mask`` in place; pixels outside it are dropped.
"""

from __future__ import annotations

import math

import numpy as np

_S = 16  # internal fractional bits
_ONE = 1 << _S
_HALF = _ONE >> 1


def _tdiv(a: int, b: int) -> int:
    """Integer division truncated toward zero (as C does)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _clip(width: int, height: int, x1: int, y1: int, x2: int, y2: int):
    """The segment cut to the rectangle ``0..width-1 x 0..height-1`` (Cohen-Sutherland style:
    first against the rows, then the columns, each end moved along the segment, the moved
    coordinate truncated): ``(inside, x1, y1, x2, y2)``."""
    right, bottom = width - 1, height - 1

    def code(x, y):
        return (x < 0) + (x > right) * 2 + (y < 0) * 4 + (y > bottom) * 8

    c1, c2 = code(x1, y1), code(x2, y2)
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1 += int((a - y1) * (x2 - x1) / (y2 - y1))
            y1 = a
            c1 = (x1 < 0) + (x1 > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2 += int((a - y2) * (x2 - x1) / (y2 - y1))
            y2 = a
            c2 = (x2 < 0) + (x2 > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1 += int((a - x1) * (y2 - y1) / (x2 - x1))
                x1 = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2 += int((a - x2) * (y2 - y1) / (x2 - x1))
                x2 = a
                c2 = 0
    return (c1 | c2) == 0, x1, y1, x2, y2


def _put(mask: np.ndarray, xs, ys, value: int) -> None:
    xs, ys = np.asarray(xs, np.int64), np.asarray(ys, np.int64)
    H, W = mask.shape
    ok = (xs >= 0) & (xs < W) & (ys >= 0) & (ys < H)
    mask[ys[ok], xs[ok]] = value


def _hline(mask: np.ndarray, y: int, xa: int, xb: int, value: int) -> None:
    H, W = mask.shape
    if 0 <= y < H and xa < W and xb >= 0:
        mask[y, max(xa, 0) : min(xb, W - 1) + 1] = value


def bresenham(mask: np.ndarray, x1: int, y1: int, x2: int, y2: int, value: int) -> None:
    """An 8-connected line between two whole-pixel points, drawn from the left end (the error
    term starts at ``major - 2 minor``; the minor step is taken while it is negative)."""
    H, W = mask.shape
    if not (0 <= x1 < W and 0 <= y1 < H and 0 <= x2 < W and 0 <= y2 < H):
        inside, x1, y1, x2, y2 = _clip(W, H, x1, y1, x2, y2)
        if not inside:
            return
    if x2 < x1:
        x1, y1, x2, y2 = x2, y2, x1, y1
    dx, dy = x2 - x1, abs(y2 - y1)
    sy = -1 if y2 < y1 else 1
    steep = dy > dx
    major, minor = (dy, dx) if steep else (dx, dy)
    n = major + 1
    # minor steps taken before each pixel: the error after k steps is
    # major - 2 minor (k) + 2 major (steps so far); a step happens when the error is negative
    xs, ys = np.empty(n, np.int64), np.empty(n, np.int64)
    err, a, b = major - 2 * minor, 0, 0
    for k in range(n):
        xs[k], ys[k] = (x1 + b, y1 + sy * a) if steep else (x1 + a, y1 + sy * b)
        step = err < 0
        err += -2 * minor + (2 * major if step else 0)
        a += 1
        b += 1 if step else 0
    _put(mask, xs, ys, value)


def _line16(mask: np.ndarray, x1: int, y1: int, x2: int, y2: int, value: int) -> None:
    """A 1-px line between two 16-bit fixed-point points (see the module docstring)."""
    H, W = mask.shape
    inside, x1, y1, x2, y2 = _clip(W << _S, H << _S, x1, y1, x2, y2)
    if not inside:
        return
    dx, dy = x2 - x1, y2 - y1
    if abs(dx) > abs(dy):
        if dx < 0:
            x1, y1, x2, y2 = x2, y2, x1, y1
        step = _tdiv((y2 - y1) << _S, abs(dx) | 1)
        count = (x2 - x1) >> _S
        k = np.arange(count + 1, dtype=np.int64)
        xs, ys = ((x1 + _HALF) >> _S) + k, (y1 + _HALF + k * step) >> _S
    else:
        if dy < 0:
            x1, y1, x2, y2 = x2, y2, x1, y1
        step = _tdiv((x2 - x1) << _S, abs(dy) | 1)
        count = (y2 - y1) >> _S
        k = np.arange(count + 1, dtype=np.int64)
        xs, ys = (x1 + _HALF + k * step) >> _S, ((y1 + _HALF) >> _S) + k
    _put(mask, [(x2 + _HALF) >> _S], [(y2 + _HALF) >> _S], value)
    _put(mask, xs, ys, value)


def _fill_convex16(mask: np.ndarray, pts: list[tuple[int, int]], value: int) -> None:
    """A convex polygon with 16-bit fixed-point corners: its edges as 1-px lines, then scan
    lines between the left and right chains walked down from the top corner."""
    n = len(pts)
    H, W = mask.shape
    for i in range(n):
        _line16(mask, *pts[i - 1], *pts[i], value)
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    top = ys.index(min(ys))
    xmin, xmax = (min(xs) + _HALF) >> _S, (max(xs) + _HALF) >> _S
    ymin, ymax = (min(ys) + _HALF) >> _S, (max(ys) + _HALF) >> _S
    if n < 3 or xmax < 0 or ymax < 0 or xmin >= W or ymin >= H:
        return
    ymax = min(ymax, H - 1)
    # two walkers going round the polygon in opposite directions from the top corner
    idx, step_dir = [top, top], [1, n - 1]
    end_y, x, dx = [ymin, ymin], [-_ONE, -_ONE], [0, 0]
    left_edges = n
    y = ymin
    while True:
        for i in (0, 1):
            if y >= end_y[i]:
                i0 = idx[i]
                j = (i0 + step_dir[i]) % n
                while True:
                    more = left_edges > 0
                    left_edges -= 1
                    if not more:
                        break
                    ty = (ys[j] + _HALF) >> _S
                    if ty > y:
                        end_y[i] = ty
                        dx[i] = _tdiv((xs[j] - xs[i0]) * 2 + (ty - y), 2 * (ty - y))
                        x[i] = xs[i0]
                        idx[i] = j
                        break
                    i0, j = j, (j + step_dir[i]) % n
        if left_edges < 0:
            break
        if y >= 0:
            lo, hi = (x[1], x[0]) if x[0] > x[1] else (x[0], x[1])
            _hline(mask, y, (lo + _HALF) >> _S, (hi + _HALF) >> _S, value)
        x[0] += dx[0]
        x[1] += dx[1]
        y += 1
        if y > ymax:
            break


def _disc(mask: np.ndarray, cx: int, cy: int, r: int, value: int) -> None:
    """A filled midpoint circle of radius ``r`` (whole pixels)."""
    err, dx, dy, plus, minus = 0, r, 0, 1, 2 * r - 1
    while dx >= dy:
        _hline(mask, cy - dy, cx - dx, cx + dx, value)
        _hline(mask, cy + dy, cx - dx, cx + dx, value)
        _hline(mask, cy - dx, cx - dy, cx + dy, value)
        _hline(mask, cy + dx, cx - dy, cx + dy, value)
        dy += 1
        err += plus
        plus += 2
        if err > 0:
            err -= minus
            dx -= 1
            minus -= 2


def draw_line(mask: np.ndarray, p1: tuple[int, int], p2: tuple[int, int], value: int, thickness: int = 1,
              shift: int = 0) -> None:
    """A line from ``p1`` to ``p2`` (fixed point, ``shift`` fractional bits) of ``thickness`` px,
    round-capped when thicker than 1."""
    if not 0 <= shift <= _S:
        raise ValueError(f"shift must be 0..{_S}, got {shift}")
    k = _S - shift
    x1, y1, x2, y2 = int(p1[0]) << k, int(p1[1]) << k, int(p2[0]) << k, int(p2[1]) << k
    if thickness <= 1:
        bresenham(mask, (x1 + _HALF) >> _S, (y1 + _HALF) >> _S, (x2 + _HALF) >> _S, (y2 + _HALF) >> _S, value)
        return
    fx, fy = (x1 - x2) / _ONE, (y2 - y1) / _ONE
    r2 = fx * fx + fy * fy
    half_width = int(thickness) << (_S - 1)
    if abs(r2) > 2.220446049250313e-16:
        s = (half_width + (int(thickness) & 1) * _ONE * 0.5) / math.sqrt(r2)
        ox, oy = round(fy * s), round(fx * s)  # round half to even
        _fill_convex16(mask, [(x1 + ox, y1 + oy), (x1 - ox, y1 - oy), (x2 - ox, y2 - oy), (x2 + ox, y2 + oy)],
                       value)
    radius = (half_width + _HALF) >> _S
    for x, y in ((x1, y1), (x2, y2)):
        _disc(mask, (x + _HALF) >> _S, (y + _HALF) >> _S, radius, value)


def fill_polygon(mask: np.ndarray, pts: np.ndarray, value: int, shift: int = 0) -> None:
    """The polygon ``pts`` (``[n, 2]`` integer x, y with ``shift`` fractional bits) filled
    (even-odd), its outline included."""
    if not 0 <= shift <= _S:
        raise ValueError(f"shift must be 0..{_S}, got {shift}")
    p = np.asarray(pts, np.int64).reshape(-1, 2)
    H, W = mask.shape
    half_in = (1 << shift) >> 1
    X = [int(v) << (_S - shift) for v in p[:, 0]]
    Y = [(int(v) + half_in) >> shift for v in p[:, 1]]
    edges = []  # [y0, y1, x at y0, dx per row]
    for i in range(len(p)):
        xa, ya, xb, yb = X[i - 1], Y[i - 1], X[i], Y[i]
        ta, tb = (xa + _HALF) >> _S, (xb + _HALF) >> _S
        bresenham(mask, ta, ya, tb, yb, value)
        xac, yac, xbc, ybc = xa, ya, xb, yb
        if not (0 <= ta < W and 0 <= tb < W and 0 <= ya < H and 0 <= yb < H):
            _, ca, cya, cb, cyb = _clip(W, H, ta, ya, tb, yb)
            if cya != cyb:
                xac, yac, xbc, ybc = ca << _S, cya, cb << _S, cyb
        if ya == yb:
            continue
        d = _tdiv(xbc - xac, ybc - yac)
        if ya < yb:
            edges.append([ya, yb, xac + (ya - yac) * d, d])
        else:
            edges.append([yb, ya, xbc + (yb - ybc) * d, d])
    if len(edges) < 2:
        return
    ends = [e[2] + (e[1] - e[0]) * e[3] for e in edges]
    y_min, y_max = min(e[0] for e in edges), max(e[1] for e in edges)
    x_min, x_max = min(min(e[2] for e in edges), min(ends)), max(max(e[2] for e in edges), max(ends))
    if y_max < 0 or y_min >= H or x_max < 0 or x_min >= (W << _S):
        return
    for y in range(y_min, min(y_max, H)):
        active = sorted((e for e in edges if e[0] <= y < e[1]), key=lambda e: e[2])
        if y >= 0:
            for a, b in zip(active[0::2], active[1::2]):
                _hline(mask, y, (a[2] + _ONE - 1) >> _S, b[2] >> _S, value)
        for e in active[: len(active) // 2 * 2]:
            e[2] += e[3]
