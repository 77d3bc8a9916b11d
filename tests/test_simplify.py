"""Painted-style label simplification and colour jitter (training augmentations)."""

import numpy as np
import torch

from trainer.augment import PreprocessConfig
from trainer.datasets import PairedDataset, find_samples, resolve_label_set
from trainer.landscapes import make_landscapes
from trainer.simplify import drop_specks, jitter_colors, mode_filter, polygonise, simplify_labels


def _boundary(lab):
    return int((lab[1:] != lab[:-1]).sum() + (lab[:, 1:] != lab[:, :-1]).sum())


def _textured(seed=0, n=128):
    rng = np.random.default_rng(seed)
    lab = np.zeros((n, n), np.uint8)
    lab[n // 2:] = 6  # grass below a horizon
    yy, xx = np.mgrid[:n, :n]
    lab[(yy - 80) ** 2 + (xx - 40) ** 2 < 20 ** 2] = 7  # a tree
    speck = rng.random((n, n)) < 0.03
    lab[speck] = 9  # flowers as single-pixel specks
    return lab


def test_specks_are_dropped_and_large_regions_kept():
    lab = _textured()
    out = drop_specks(lab, 20)
    assert (out == 9).sum() == 0 and (out == 7).sum() > 0.9 * (lab == 7).sum()
    assert set(np.unique(out)) <= set(np.unique(lab))
    assert (mode_filter(lab, 5) == 9).sum() < 0.1 * (lab == 9).sum()


def test_polygonise_keeps_the_area_with_few_vertices():
    n = 128
    yy, xx = np.mgrid[:n, :n]
    rng = np.random.default_rng(1)
    r = 40 + rng.normal(0, 2, (n, n))
    lab = np.where((yy - 64) ** 2 + (xx - 64) ** 2 < r ** 2, 3, 0).astype(np.uint8)
    out = polygonise(lab, 3.0)
    assert abs(int((out == 3).sum()) - int((lab == 3).sum())) < 0.08 * (lab == 3).sum()
    assert _boundary(out) < _boundary(lab)


def test_simplified_maps_are_flatter_deterministic_and_use_the_same_ids():
    lab = _textured(2)
    a = simplify_labels(lab, np.random.default_rng(5))
    b = simplify_labels(lab, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == lab.shape and a.dtype == lab.dtype
    assert set(np.unique(a)) <= set(np.unique(lab))
    assert _boundary(a) < 0.5 * _boundary(lab)
    outs = [simplify_labels(lab, np.random.default_rng(s)) for s in range(6)]
    assert len({o.tobytes() for o in outs}) > 1


def test_jitter_colors_changes_the_colours_not_the_picture():
    rng = np.random.default_rng(0)
    img = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    outs = [jitter_colors(img, np.random.default_rng(s)) for s in range(8)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    means = np.array([o.reshape(-1, 3).mean(0) for o in outs])
    assert means.std(0).max() > 5  # the colour moves
    for o in outs:  # the structure stays: pixel order of the brightness is kept
        assert np.corrcoef(o.mean(2).ravel(), img.mean(2).ravel())[0, 1] > 0.8
    assert np.array_equal(jitter_colors(img, np.random.default_rng(3)), outs[3])


def test_dataset_applies_them_to_training_items_only(tmp_path):
    make_landscapes(tmp_path, 3, size=64, seed=4)
    samples, ls = find_samples(tmp_path), resolve_label_set(tmp_path)
    pre = PreprocessConfig(mode="fixed", load_size=64, crop_size=64, flip=False)
    plain = PairedDataset(samples, pre, ls, train=True, seed=1)[0]
    aug = PairedDataset(samples, pre, ls, train=True, seed=1, simplify=1.0, color_jitter=1.0)[0]
    assert not torch.equal(plain["label"], aug["label"]) and not torch.equal(plain["image"], aug["image"])
    again = PairedDataset(samples, pre, ls, train=True, seed=1, simplify=1.0, color_jitter=1.0)[0]
    assert torch.equal(aug["label"], again["label"]) and torch.equal(aug["image"], again["image"])
    val = PairedDataset(samples, pre, ls, train=False, seed=1, simplify=1.0, color_jitter=1.0)[0]
    val_plain = PairedDataset(samples, pre, ls, train=False, seed=1)[0]
    assert torch.equal(val["label"], val_plain["label"]) and torch.equal(val["image"], val_plain["image"])


# -- the numpy outline tools that replaced OpenCV's contours -------------------------------------
def test_trace_outline_visits_exactly_the_border_pixels():
    from trainer.simplify import trace_outline

    rng = np.random.default_rng(7)
    for _ in range(20):
        m = np.zeros((24, 24), bool)
        m[4:20, 5:18] = True
        m[rng.integers(4, 20, 30), rng.integers(5, 18, 30)] = False  # notches and holes
        m[10:13, 18:21] = True
        from spade_studio.raster import connected_components

        n, comp, _ = connected_components(m, 8)
        big = comp == np.bincount(comp.ravel())[1:].argmax() + 1
        ys, xs = np.nonzero(big)
        pts = trace_outline(big, int(xs[0]), int(ys[0]))
        # brute force: the outer border = region pixels with a 4-neighbour in the background
        # connected to the outside (holes' borders are not part of the outer outline)
        outside = ~big
        _, bg, _ = connected_components(np.pad(outside, 1, constant_values=True), 4)
        outer_bg = (bg == bg[0, 0])[1:-1, 1:-1]
        pad = np.pad(outer_bg, 1, constant_values=True)
        near = np.zeros_like(big)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            near |= pad[1 + dy : 25 + dy, 1 + dx : 25 + dx]
        want = {(int(x), int(y)) for y, x in zip(*np.nonzero(big & near))}
        assert set(map(tuple, pts.tolist())) == want
        steps = np.abs(np.diff(np.concatenate([pts, pts[:1]]), axis=0)).max(axis=1)
        assert (steps == 1).all()  # consecutive points are 8-neighbours, the ring closes


def test_simplify_closed_keeps_every_point_within_epsilon():
    from trainer.simplify import simplify_closed

    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    ring = np.round(np.stack([50 + 30 * np.cos(t), 50 + 20 * np.sin(3 * t) * 0.3 + 20 * np.sin(t)], 1))
    for eps in (0.5, 2.0, 5.0):
        kept = simplify_closed(ring, eps)
        assert 3 <= len(kept) < len(ring)
        poly = np.concatenate([kept, kept[:1]]).astype(np.float64)
        d = np.full(len(ring), np.inf)
        for a, b in zip(poly[:-1], poly[1:]):
            ab = b - a
            s = np.clip(((ring - a) @ ab) / max(ab @ ab, 1e-12), 0, 1)
            d = np.minimum(d, np.hypot(*(ring - a - s[:, None] * ab).T))
        assert d.max() <= eps + 1e-9
    assert len(simplify_closed(ring, 5.0)) < len(simplify_closed(ring, 0.5))


def test_ellipse_blobs_turn_a_region_into_the_ellipse_of_its_moments():
    import pytest

    from trainer.simplify import ellipse_blobs, polygon_moments

    n = 96
    yy, xx = np.mgrid[:n, :n]
    lab = np.zeros((n, n), np.uint8)
    lab[20:60, 30:50] = 7  # a 20 x 40 rectangle
    out = ellipse_blobs(lab, (7,))
    area, cx, cy, cov = polygon_moments(np.array([[30, 20], [49, 20], [49, 59], [30, 59]]))
    assert area == pytest.approx(19 * 39) and (cx, cy) == pytest.approx((39.5, 39.5))
    assert cov[0, 0] == pytest.approx(19 ** 2 / 12) and cov[1, 1] == pytest.approx(39 ** 2 / 12)
    # the ellipse with that covariance: semi-axes 2 sigma
    a, b = 2 * np.sqrt(cov[0, 0]), 2 * np.sqrt(cov[1, 1])
    want = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1
    assert want.sum() > 0.9 * np.pi * a * b
    assert np.array_equal(out == 7, want | (lab == 7))  # the ellipse painted over the map
