"""The model-quality metrics: streak index, Laplacian SWD, colour statistics."""

import cv2
import numpy as np
import pytest

from trainer.metrics import laplacian_pyramid, laplacian_swd, mean_lab, sliced_wasserstein, streak_index


def _noise(seed, size=128):
    rng = np.random.default_rng(seed)
    return (rng.random((size, size, 3)) * 255).astype(np.uint8)


def test_streak_index_separates_texture_from_streaks():
    noise = streak_index(_noise(0))
    assert 0.015 < noise < 0.06  # about 1/32 for unstructured texture
    rng = np.random.default_rng(1)
    cols = np.repeat((rng.random((1, 128, 1)) * 255), 128, axis=0).repeat(3, axis=2).astype(np.uint8)
    assert streak_index(cols) > 0.45  # vertical stripes: coherent down every column
    rows = np.transpose(cols, (1, 0, 2)).copy()
    assert streak_index(rows) == pytest.approx(streak_index(cols), rel=1e-6)  # rows count the same
    mixed = (0.7 * _noise(2).astype(np.float32) + 0.3 * cols.astype(np.float32)).astype(np.uint8)
    assert noise < streak_index(mixed) < streak_index(cols)
    with pytest.raises(ValueError, match="smaller than one"):
        streak_index(_noise(0, 16))


def test_laplacian_pyramid_reconstructs_the_image():
    img = _noise(3, 64)
    levels = laplacian_pyramid(img, min_size=16)
    assert [lv.shape[0] for lv in levels] == [64, 32, 16]
    g = levels[-1]
    for band in reversed(levels[:-1]):
        g = cv2.pyrUp(g, dstsize=(band.shape[1], band.shape[0])) + band
    assert np.abs(g - img / 255.0).max() < 1e-5


def test_swd_is_small_for_the_same_distribution_and_grows_with_blur():
    a = [_noise(s) for s in range(12)]
    b = [_noise(s + 20) for s in range(12)]
    blurred = [cv2.GaussianBlur(x, (0, 0), 2) for x in b]
    same = laplacian_swd(a, b, per_image=256).per_level[0]
    diff = laplacian_swd(a, blurred, per_image=256).per_level[0]
    assert diff > 1.5 * same  # the finest band sees the lost detail
    assert len(laplacian_swd(a, b).per_level) == 4  # 128, 64, 32 band-pass + the 16-px low-pass
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 8)).astype(np.float32)
    assert sliced_wasserstein(x, x, rng) == 0.0
    assert sliced_wasserstein(x, x + 1.0, rng) > 0.1
    with pytest.raises(ValueError):
        laplacian_swd(a, b[:2])


def test_mean_lab_of_known_colours():
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    lab = mean_lab(red)
    assert lab[0] == pytest.approx(53.2, abs=0.5) and lab[1] == pytest.approx(80.1, abs=1) and lab[2] > 60
    assert mean_lab(np.full((4, 4, 3), 255, np.uint8))[0] == pytest.approx(100, abs=0.1)
