"""The numpy image operations that replaced OpenCV, against brute-force references."""

import math
from collections import deque

import numpy as np
import pytest

from spade_studio.labelmap import flood_fill
from spade_studio.raster import box_sum, connected_components, resize_rgb
from trainer.landscapes.raster import bresenham, draw_line, fill_polygon


def _bfs_components(mask, connectivity):
    """Regions by breadth-first search, numbered in raster order of their first pixel."""
    H, W = mask.shape
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if connectivity == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    lab = np.zeros((H, W), np.int32)
    n = 0
    for y in range(H):
        for x in range(W):
            if mask[y, x] and not lab[y, x]:
                n += 1
                lab[y, x] = n
                todo = deque([(y, x)])
                while todo:
                    cy, cx = todo.popleft()
                    for dy, dx in steps:
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < H and 0 <= nx < W and mask[ny, nx] and not lab[ny, nx]:
                            lab[ny, nx] = n
                            todo.append((ny, nx))
    return n, lab


@pytest.mark.parametrize("connectivity", [4, 8])
def test_connected_components_match_a_breadth_first_search(connectivity):
    rng = np.random.default_rng(connectivity)
    for _ in range(40):
        H, W = rng.integers(1, 25, 2)
        mask = rng.random((H, W)) < rng.uniform(0.2, 0.8)
        n, lab, areas = connected_components(mask, connectivity)
        n_ref, ref = _bfs_components(mask, connectivity)
        assert n == n_ref and np.array_equal(lab, ref)
        assert np.array_equal(areas, np.bincount(ref.ravel(), minlength=n + 1))


def test_connected_components_of_a_long_spiral_and_bad_input():
    # a one-pixel-wide spiral: one region whose path winds through the whole mask
    m = np.zeros((41, 41), bool)
    y, x, d, steps = 20, 20, 0, 1
    moves = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    while 0 <= y < 41 and 0 <= x < 41:
        for _ in range(2):
            for _ in range(steps * 2):
                if 0 <= y < 41 and 0 <= x < 41:
                    m[y, x] = True
                y, x = y + moves[d][0], x + moves[d][1]
            d = (d + 1) % 4
        steps += 1
    n, lab, areas = connected_components(m, 4)
    assert n == 1 and areas[1] == m.sum()
    assert connected_components(np.zeros((3, 4), bool))[0] == 0
    with pytest.raises(ValueError):
        connected_components(np.zeros((2, 2, 2), bool))
    with pytest.raises(ValueError):
        connected_components(m, 6)


def test_flood_fill_changes_exactly_the_4_connected_region():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 3, (30, 40)).astype(np.uint8)
    for _ in range(20):
        x, y = int(rng.integers(0, 40)), int(rng.integers(0, 30))
        new = (int(ids[y, x]) + 1) % 3
        got = ids.copy()
        flood_fill(got, x, y, new)
        _, ref = _bfs_components(ids == ids[y, x], 4)
        want = ids.copy()
        want[ref == ref[y, x]] = new
        assert np.array_equal(got, want)


@pytest.mark.parametrize("border", ["reflect", "reflect101"])
def test_box_sum_is_the_window_sum_with_a_mirrored_border(border):
    def mirror(i, n):
        while not 0 <= i < n:
            if border == "reflect":
                i = -i - 1 if i < 0 else 2 * n - 1 - i
            else:
                i = -i if i < 0 else 2 * (n - 1) - i
        return i

    rng = np.random.default_rng(len(border))
    a = rng.integers(0, 5, (9, 13))
    for size in (1, 3, 5, 7):
        got = box_sum(a, size, border)
        r = size // 2
        want = np.array([[sum(a[mirror(y + dy, 9), mirror(x + dx, 13)] for dy in range(-r, r + 1)
                              for dx in range(-r, r + 1)) for x in range(13)] for y in range(9)])
        assert np.array_equal(got, want)
    with pytest.raises(ValueError):
        box_sum(a, 4)


def test_resize_rgb_shrinks_by_averaging_and_grows_smoothly():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 12, 3)).astype(np.uint8)
    small = resize_rgb(img, 6, 4)
    want = img.astype(np.float64).reshape(4, 2, 6, 2, 3).mean(axis=(1, 3))
    assert small.shape == (4, 6, 3) and np.abs(small - want).max() <= 1
    big = resize_rgb(np.full((3, 3, 3), 77, np.uint8), 10, 7)
    assert big.shape == (7, 10, 3) and (big == 77).all()


# -- the landscapes' rasteriser -------------------------------------------------------------------
def test_bresenham_is_one_pixel_per_step_close_to_the_true_line():
    rng = np.random.default_rng(1)
    for _ in range(60):
        x1, y1, x2, y2 = (int(v) for v in rng.integers(0, 20, 4))
        m = np.zeros((20, 20), np.uint8)
        bresenham(m, x1, y1, x2, y2, 1)
        ys, xs = np.nonzero(m)
        assert m[y1, x1] and m[y2, x2]
        assert len(xs) == max(abs(x2 - x1), abs(y2 - y1)) + 1
        length = math.hypot(x2 - x1, y2 - y1)
        if length:
            dist = np.abs((x2 - x1) * (ys - y1) - (y2 - y1) * (xs - x1)) / length
            assert dist.max() <= 0.5 * max(abs(x2 - x1), abs(y2 - y1)) / length + 1e-9


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
    return np.hypot(px - ax - t * dx, py - ay - t * dy)


def test_thick_lines_cover_their_capsule():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:40, :40]
    for _ in range(40):
        p1 = tuple(int(v) for v in rng.integers(80, 240, 2))
        p2 = tuple(int(v) for v in rng.integers(80, 240, 2))
        th = int(rng.integers(1, 7))
        m = np.zeros((40, 40), np.uint8)
        draw_line(m, p1, p2, 255, th, 3)
        d = _segment_distance(xx, yy, p1[0] / 8, p1[1] / 8, p2[0] / 8, p2[1] / 8)
        assert (m[d <= th / 2 - 1] == 255).all()  # well inside: painted
        # well outside: not (an odd thickness is widened by half a pixel each side, as OpenCV did)
        assert (m[d > (th + 1) / 2 + 1] == 0).all()
    with pytest.raises(ValueError):
        draw_line(m, (0, 0), (1, 1), 1, 1, 20)


def _inside_polygon(px, py, poly):
    """Even-odd point-in-polygon test (crossings of a ray to the right)."""
    inside = np.zeros(px.shape, bool)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        crosses = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = ax + (py - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (px < xcross)
    return inside


def test_filled_polygons_cover_their_inside():
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:40, :40].astype(np.float64)
    for _ in range(30):
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(4, 15, n)
        poly = np.stack([20 + rad * np.cos(ang), 20 + rad * np.sin(ang)], 1)
        pts = np.round(poly * 8).astype(np.int64)
        m = np.zeros((40, 40), np.uint8)
        fill_polygon(m, pts, 9, 3)
        exact = pts / 8.0
        inside = _inside_polygon(xx, yy, exact)
        edge = np.min([_segment_distance(xx, yy, *a, *b) for a, b in zip(exact, np.roll(exact, -1, 0))], axis=0)
        assert (m[inside & (edge > 1)] == 9).all()
        assert (m[~inside & (edge > 1)] == 0).all()
        for x, y in (pts + 4) >> 3:
            assert m[y, x] == 9  # the outline passes through every vertex
