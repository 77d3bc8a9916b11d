"""Label map operations (no Qt): exact pixels, deltas, undo/redo, merging."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest

from spade_studio import labelmap as lm


def disc_by_formula(shape, cx, cy, d):
    """Pixels whose centre is within d/2 of (cx, cy), in exact integer arithmetic
    (cx, cy are integers or halves): (2x - 2cx)^2 + (2y - 2cy)^2 <= d^2."""
    H, W = shape
    out = np.zeros(shape, bool)
    X2, Y2 = round(2 * cx), round(2 * cy)
    for y in range(H):
        for x in range(W):
            if (2 * x - X2) ** 2 + (2 * y - Y2) ** 2 <= d * d:
                out[y, x] = True
    return out


def near_segment(shape, p0, p1, r):
    """Brute force: pixel centres within r of the segment p0-p1 (pure Python)."""
    H, W = shape
    out = np.zeros(shape, bool)
    (ax, ay), (bx, by) = p0, p1
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    for y in range(H):
        for x in range(W):
            t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / L2))
            px, py = ax + t * dx, ay + t * dy
            if math.hypot(x - px, y - py) <= r + 1e-9:
                out[y, x] = True
    return out


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 7, 8, 13])
def test_disc_matches_formula(d):
    m = np.zeros((24, 24), np.uint8)
    # odd diameters centre on a pixel, even ones on a pixel corner
    c = 11.0 if d % 2 else 11.5
    delta = lm.paint_disc(m, c, c, d / 2, 5)
    expected = disc_by_formula(m.shape, c, c, d)
    assert np.array_equal(m == 5, expected)
    assert delta.changed_pixels() == expected.sum()
    assert np.array_equal(lm.disc_mask(d).sum(), expected.sum())


def test_small_discs_have_the_expected_shapes():
    for d, count, side in [(1, 1, 1), (2, 4, 2), (3, 9, 3), (4, 12, 4)]:
        m = np.zeros((10, 10), np.uint8)
        c = 4.0 if d % 2 else 4.5
        lm.paint_disc(m, c, c, d / 2, 1)
        ys, xs = np.nonzero(m)
        assert len(ys) == count, d
        assert xs.max() - xs.min() + 1 == side and ys.max() - ys.min() + 1 == side


def test_disc_is_clipped_at_the_border():
    m = np.zeros((8, 8), np.uint8)
    lm.paint_disc(m, 0, 0, 2.5, 3)
    assert np.array_equal(m == 3, disc_by_formula(m.shape, 0, 0, 5))
    assert lm.paint_disc(m, -20, -20, 2.5, 3) is None


def test_horizontal_stroke_equals_union_of_dabs():
    a = np.zeros((20, 40), np.uint8)
    lm.paint_stroke(a, [(5, 10), (30, 10)], 2.5, 4)
    b = np.zeros_like(a)
    for x in range(5, 31):
        lm.paint_disc(b, x, 10, 2.5, 4)
    assert np.array_equal(a, b)
    assert (a == 4).sum() > 0


def test_fast_diagonal_stroke_leaves_no_gaps():
    m = np.zeros((30, 40), np.uint8)
    pts = [(2, 3), (35, 20), (10, 27)]
    lm.paint_stroke(m, pts, 0.5, 1)
    expected = near_segment(m.shape, pts[0], pts[1], 0.5) | near_segment(m.shape, pts[1], pts[2], 0.5)
    assert np.array_equal(m == 1, expected)
    # 8-connected from the first point to the last
    seen = {(3, 2)}
    todo = deque([(3, 2)])
    while todo:
        y, x = todo.popleft()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                q = (y + dy, x + dx)
                if 0 <= q[0] < 30 and 0 <= q[1] < 40 and q not in seen and m[q] == 1:
                    seen.add(q)
                    todo.append(q)
    assert (27, 10) in seen and (20, 35) in seen


def test_thick_line_matches_brute_force():
    m = np.zeros((25, 25), np.uint8)
    delta = lm.draw_line(m, 3, 20, 21, 4, 2.0, 6)
    assert np.array_equal(m == 6, near_segment(m.shape, (3, 20), (21, 4), 2.0))
    assert delta.changed_pixels() == (m == 6).sum()


def test_delta_undo_redo_exact_and_apply_false():
    rng = np.random.default_rng(0)
    m = rng.integers(0, 5, (32, 32)).astype(np.uint8)
    original = m.copy()
    preview = lm.paint_disc(m, 10, 12, 4.5, 9, apply=False)
    assert np.array_equal(m, original)  # apply=False does not touch the map
    delta = lm.paint_disc(m, 10, 12, 4.5, 9)
    assert np.array_equal(preview.new, delta.new) and np.array_equal(preview.mask, delta.mask)
    painted = m.copy()
    assert not np.array_equal(painted, original)
    lm.apply_delta(m, delta, undo=True)
    assert np.array_equal(m, original)
    lm.apply_delta(m, delta, undo=False)
    assert np.array_equal(m, painted)
    # tight box: only changed pixels, nbytes counts the three arrays
    assert delta.mask.any(axis=0).all() and delta.mask.any(axis=1).all()
    assert delta.nbytes() == delta.old.nbytes + delta.new.nbytes + delta.mask.nbytes


def test_no_change_returns_none():
    m = np.full((10, 10), 2, np.uint8)
    assert lm.paint_disc(m, 5, 5, 3, 2) is None
    assert lm.fill_rect(m, 0, 0, 9, 9, 2) is None
    assert lm.flood_fill(m, 3, 3, 2) is None


def test_flood_fill_is_four_connected():
    m = np.zeros((12, 12), np.uint8)
    m[2:5, 2:5] = 3
    m[5:8, 5:8] = 3  # touches the first block only diagonally
    m[9, 0:12] = 3
    original = m.copy()
    delta = lm.flood_fill(m, 3, 3, 7)
    expected = original.copy()
    expected[2:5, 2:5] = 7
    assert np.array_equal(m, expected)
    assert (delta.y0, delta.x0, delta.height, delta.width) == (2, 2, 3, 3)
    # filling the background spreads around, not through, the blocks
    m2 = original.copy()
    lm.flood_fill(m2, 0, 0, 1)
    assert (m2 == 1).sum() == 9 * 12 - 2 * 9  # rows 0..8 minus the blocks; row 9 cuts off the rest
    assert (m2[10:] == 0).all()
    lm.apply_delta(m, delta, undo=True)
    assert np.array_equal(m, original)


def test_fill_rect_inclusive_any_order_clipped():
    m = np.zeros((10, 10), np.uint8)
    lm.fill_rect(m, 6, 7, 2, 3, 4)
    expected = np.zeros_like(m)
    expected[3:8, 2:7] = 4
    assert np.array_equal(m, expected)
    m = np.zeros((10, 10), np.uint8)
    lm.fill_rect(m, -5, 8, 3, 20, 1)
    assert (m == 1).sum() == 4 * 2 and (m[8:, :4] == 1).all()
    assert lm.fill_rect(m, 20, 20, 30, 30, 1) is None


def test_merge_deltas_oldest_old_newest_new():
    rng = np.random.default_rng(1)
    m = rng.integers(0, 3, (40, 40)).astype(np.uint8)
    original = m.copy()
    deltas = [
        lm.paint_disc(m, 10, 10, 4, 5),
        lm.paint_stroke(m, [(10, 10), (20, 18)], 3, 6),
        lm.paint_disc(m, 14, 12, 5, 7),
        lm.paint_disc(m, 14, 12, 5, 7),  # nothing new: None is skipped
    ]
    final = m.copy()
    merged = lm.merge_deltas(m.shape, deltas)
    lm.apply_delta(m, merged, undo=True)
    assert np.array_equal(m, original)
    lm.apply_delta(m, merged, undo=False)
    assert np.array_equal(m, final)
    assert merged.changed_pixels() == (final != original).sum()
    assert lm.merge_deltas(m.shape, [None]) is None


def test_uint16_maps_and_label_range():
    m = np.zeros((16, 16), np.uint16)
    delta = lm.paint_disc(m, 8, 8, 2.5, 1000)
    assert delta.new.dtype == np.uint16 and (m == 1000).sum() == disc_by_formula(m.shape, 8, 8, 5).sum()
    lm.flood_fill(m, 0, 0, 40000)
    assert set(np.unique(m)) == {1000, 40000}
    with pytest.raises(ValueError):
        lm.paint_disc(np.zeros((4, 4), np.uint8), 1, 1, 1, 256)
    with pytest.raises(TypeError):
        lm.paint_disc(np.zeros((4, 4), np.int32), 1, 1, 1, 1)


def test_new_label_map_dtype():
    assert lm.new_label_map(5, 4, 0, 255).dtype == np.uint8
    assert lm.new_label_map(5, 4, 0, 300).dtype == np.uint16
    assert lm.new_label_map(5, 4, 3).shape == (4, 5)


def test_label_edges_match_instance_edges_of_regions():
    torch = pytest.importorskip("torch")
    from spade_studio.model.semantics import instance_edges, regions_as_instances

    rng = np.random.default_rng(2)
    m = rng.integers(0, 3, (12, 16)).astype(np.uint8)
    m[4:9, 3:12] = 1
    inst = torch.from_numpy(regions_as_instances(m).astype(np.int64))[None, None]
    expected = instance_edges(inst)[0, 0].numpy() > 0
    assert np.array_equal(lm.label_edges(m), expected)


# -- polygon fill, "paint only over", mirror painting ------------------------------------------


def inside_by_ray_casting(shape, pts):
    """Brute force, pure Python: pixel centre (x, y) is inside when an odd number of edges
    cross the row at or left of it (an edge crosses row y when y is in [min, max) of its ends)."""
    H, W = shape
    out = np.zeros(shape, bool)
    n = len(pts)
    for y in range(H):
        for x in range(W):
            count = 0
            for i in range(n):
                (xa, ya), (xb, yb) = pts[i], pts[(i + 1) % n]
                if (ya <= y < yb) or (yb <= y < ya):
                    if xa + (y - ya) * (xb - xa) / (yb - ya) <= x:
                        count += 1
            out[y, x] = count % 2 == 1
    return out


def test_fill_polygon_matches_a_brute_force_point_in_polygon_test():
    rng = np.random.default_rng(14)
    shape = (23, 31)
    for n in (3, 4, 5, 7, 12):  # random (often self-intersecting) polygons, some beyond the map
        pts = [tuple(p) for p in rng.uniform(-6, 36, (n, 2))]
        m = np.zeros(shape, np.uint8)
        delta = lm.fill_polygon(m, pts, 5)
        expected = inside_by_ray_casting(shape, pts)
        assert np.array_equal(m == 5, expected), n
        if expected.any():
            assert delta.changed_pixels() == int(expected.sum())
            lm.apply_delta(m, delta, undo=True)
            assert (m == 0).all()
        else:
            assert delta is None


def test_fill_polygon_convex_shapes_by_half_planes():
    """An independent check for convex polygons: inside = on the inner side of every edge."""
    rng = np.random.default_rng(3)
    shape = (40, 40)
    yy, xx = np.mgrid[0:40, 0:40].astype(np.float64)
    for _ in range(5):
        tri = rng.uniform(0, 39, (3, 2))
        (ux, uy), (vx, vy) = tri[1] - tri[0], tri[2] - tri[0]
        if ux * vy - uy * vx < 0:
            tri = tri[::-1]
        inside = np.ones(shape, bool)
        for i in range(3):
            (ax, ay), (bx, by) = tri[i], tri[(i + 1) % 3]
            inside &= (bx - ax) * (yy - ay) - (by - ay) * (xx - ax) > 0
        m = np.zeros(shape, np.uint8)
        lm.fill_polygon(m, [tuple(p) for p in tri], 2)
        assert np.array_equal(m == 2, inside)


def test_fill_polygon_rectangle_and_degenerate_input():
    m = np.zeros((10, 12), np.uint8)
    # corners half a pixel outside pixels 2..6 x 1..3: exactly those pixel centres are inside
    lm.fill_polygon(m, [(1.5, 0.5), (6.5, 0.5), (6.5, 3.5), (1.5, 3.5)], 4)
    expected = np.zeros_like(m)
    lm.fill_rect(expected, 2, 1, 6, 3, 4)
    assert np.array_equal(m, expected)
    assert lm.fill_polygon(m, [(0, 0), (5, 5)], 4) is None  # fewer than 3 points
    assert lm.fill_polygon(m, [(20, 20), (30, 20), (30, 30)], 4) is None  # off the map
    with pytest.raises(ValueError, match="finite"):
        lm.fill_polygon(m, [(0, 0), (float("nan"), 5), (5, 0)], 4)


def _scene():
    rng = np.random.default_rng(7)
    m = rng.integers(0, 4, (24, 30)).astype(np.uint8)
    m[:, 20:] = 1  # a big region of label 1 on the right
    return m


OPS = {
    "stroke": lambda m, **kw: lm.paint_stroke(m, [(3.0, 4.0), (25.0, 15.0)], 2.5, 9, **kw),
    "disc": lambda m, **kw: lm.paint_disc(m, 22.5, 10.5, 3.0, 9, **kw),
    "line": lambda m, **kw: lm.draw_line(m, 2.0, 20.0, 28.0, 3.0, 1.5, 9, **kw),
    "rect": lambda m, **kw: lm.fill_rect(m, 4, 2, 26, 19, 9, **kw),
    "polygon": lambda m, **kw: lm.fill_polygon(m, [(1.2, 1.7), (28.3, 5.1), (14.6, 22.2)], 9, **kw),
    "fill": lambda m, **kw: lm.flood_fill(m, 25, 5, 9, **kw),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_only_over_changes_only_pixels_of_that_label(op):
    base = _scene()
    free = base.copy()
    OPS[op](free)
    for keep in (1, 2):
        m = base.copy()
        delta = OPS[op](m, only_over=keep)
        expected = np.where(base == keep, free, base)
        assert np.array_equal(m, expected), keep
        assert ((m != base) <= (base == keep)).all()
        if delta is not None:
            lm.apply_delta(m, delta, undo=True)
        assert np.array_equal(m, base)
    # the deciding map can be another array (an upper layer paints by the flattened map's labels)
    decide = np.zeros_like(base)
    decide[:, :15] = 3
    m = base.copy()
    OPS[op](m, only_over=3, over=decide)
    assert np.array_equal(m, np.where(decide == 3, free, base))


@pytest.mark.parametrize("op", ["stroke", "disc", "line", "rect", "polygon"])
@pytest.mark.parametrize("width", [30, 31])
def test_mirror_paints_the_shape_and_its_reflection_in_one_delta(op, width):
    blank = np.zeros((24, width), np.uint8)
    plain = blank.copy()
    OPS[op](plain)
    m = blank.copy()
    delta = OPS[op](m, mirror=True)
    painted = plain == 9
    assert np.array_equal(m == 9, painted | painted[:, ::-1])
    assert delta.changed_pixels() == int((m == 9).sum())
    lm.apply_delta(m, delta, undo=True)
    assert (m == 0).all()


def test_mirror_fill_fills_from_the_mirrored_pixel_too():
    m = np.zeros((6, 10), np.uint8)
    m[:, 4] = 1  # a wall: the left part is 0..3, the right part 5..9
    delta = lm.flood_fill(m, 1, 2, 7, mirror=True)  # the mirror of x=1 is x=8, right of the wall
    assert (m[:, :4] == 7).all() and (m[:, 5:] == 7).all() and (m[:, 4] == 1).all()
    lm.apply_delta(m, delta, undo=True)
    assert (m[:, 4] == 1).all() and (np.delete(m, 4, axis=1) == 0).all()
    # mirror and only_over together: only the label-0 pixels of both halves
    m = np.zeros((6, 10), np.uint8)
    m[0, :] = 2
    lm.fill_rect(m, 0, 0, 2, 5, 5, mirror=True, only_over=0)
    assert (m[0] == 2).all() and (m[1:, :3] == 5).all() and (m[1:, 7:] == 5).all() and (m[1:, 3:7] == 0).all()


def test_restrict_region_checks_the_deciding_map():
    with pytest.raises(ValueError, match="deciding map"):
        lm.restrict_region((4, 5), 0, 0, np.ones((2, 2), bool), only_over=1, over=np.zeros((4, 4), np.uint8))
    assert lm.restrict_region((4, 5), 0, 0, np.ones((2, 2), bool), only_over=1,
                              over=np.zeros((4, 5), np.uint8)) is None
