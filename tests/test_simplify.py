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
