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
