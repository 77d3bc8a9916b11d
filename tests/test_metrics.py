"""The model-quality metrics: streak index, Laplacian SWD, colour statistics."""

import math

import numpy as np
import pytest

from trainer.metrics import (
    gaussian_blur,
    laplacian_pyramid,
    laplacian_swd,
    mean_lab,
    pyr_down,
    pyr_up,
    rgb_to_lab,
    sliced_wasserstein,
    streak_index,
)


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
        g = pyr_up(g, band.shape[:2]) + band
    assert np.abs(g - img / 255.0).max() < 1e-5


def test_swd_is_small_for_the_same_distribution_and_grows_with_blur():
    a = [_noise(s) for s in range(12)]
    b = [_noise(s + 20) for s in range(12)]
    blurred = [np.clip(gaussian_blur(x, 2) + 0.5, 0, 255).astype(np.uint8) for x in b]
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


# -- the numpy filters against brute-force references (they replaced OpenCV's) -------------------
def _mirror(i, n):
    """Index ``i`` mirrored into 0..n-1 without repeating the edge (dcb|abcd)."""
    while not 0 <= i < n:
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


def _brute_filter(img, taps, step_in=1):
    h, w = img.shape[:2]
    r = len(taps) // 2
    out = np.zeros(img.shape, np.float64)
    for y in range(h):
        for x in range(w):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    out[y, x] += taps[dy + r] * taps[dx + r] * img[_mirror(y + dy, h), _mirror(x + dx, w)]
    return out


@pytest.mark.parametrize("shape", [(9, 12), (10, 7), (5, 5)])
def test_pyr_down_is_the_binomial_filter_then_every_second_pixel(shape):
    img = np.random.default_rng(shape[0]).random(shape + (3,)).astype(np.float32)
    want = _brute_filter(img, np.array([1, 4, 6, 4, 1]) / 16.0)[::2, ::2]
    got = pyr_down(img)
    assert got.shape == ((shape[0] + 1) // 2, (shape[1] + 1) // 2, 3)
    assert np.abs(got - want).max() < 1e-6


@pytest.mark.parametrize("small, shape", [((5, 6), (10, 12)), ((5, 6), (9, 11)), ((3, 3), (6, 5))])
def test_pyr_up_interpolates_on_the_doubled_grid(small, shape):
    img = np.random.default_rng(small[1]).random(small + (2,)).astype(np.float32)
    up = np.zeros((2 * small[0], 2 * small[1], 2))
    up[::2, ::2] = img
    want = _brute_filter(up, np.array([1, 4, 6, 4, 1]) / 8.0)[: shape[0], : shape[1]]
    got = pyr_up(img, shape)
    assert got.shape == shape + (2,)
    assert np.abs(got - want).max() < 1e-6
    flat = pyr_up(np.full(small + (1,), 0.25, np.float32), shape)
    assert np.abs(flat - 0.25).max() < 1e-6  # a flat image stays flat, up to the borders
    with pytest.raises(ValueError):
        pyr_up(img, (shape[0] + 2, shape[1]))


def test_gaussian_blur_matches_a_direct_convolution():
    img = np.random.default_rng(4).random((14, 11))
    sigma = 1.5
    r = round(4 * sigma)
    taps = np.array([math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-r, r + 1)])
    want = _brute_filter(img, taps / taps.sum())
    assert np.abs(gaussian_blur(img, sigma) - want).max() < 1e-12
    assert np.abs(gaussian_blur(np.full((20, 20), 3.0), 2.0) - 3.0).max() < 1e-12


def _lab_one(r, g, b):
    """CIE L*a*b* (D65) of one sRGB colour in 0..1, straight from the definitions."""
    def lin(c):
        return c / 12.92 if c <= 0.04045 else math.pow((c + 0.055) / 1.055, 2.4)
    R, G, B = lin(r), lin(g), lin(b)
    X = (0.412453 * R + 0.357580 * G + 0.180423 * B) / 0.950456
    Y = 0.212671 * R + 0.715160 * G + 0.072169 * B
    Z = (0.019334 * R + 0.119193 * G + 0.950227 * B) / 1.088754

    def f(t):
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    L = 116 * f(Y) - 16 if Y > 0.008856 else 903.3 * Y
    return L, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))


def test_rgb_to_lab_per_pixel():
    img = (np.random.default_rng(5).random((6, 7, 3)) * 255).astype(np.uint8)
    img[0, 0] = (0, 0, 0)
    img[0, 1] = (3, 2, 1)  # on the linear parts of both curves
    lab = rgb_to_lab(img)
    for y in range(6):
        for x in range(7):
            assert lab[y, x] == pytest.approx(_lab_one(*(img[y, x] / 255.0)), abs=1e-3)
    grey = rgb_to_lab(np.full((2, 2, 3), 0.5, np.float32))
    assert np.abs(grey[..., 1:]).max() < 0.01  # a neutral grey has no chroma
