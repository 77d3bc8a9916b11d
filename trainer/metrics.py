"""Image-quality metrics that need no pretrained network: Laplacian SWD, a streak index, colour statistics.

* :func:`laplacian_swd`: the sliced Wasserstein distance between the 7x7 neighbourhoods of
  Laplacian-pyramid levels of two image sets (the realism measure of Karras et al., ICLR 2018,
  "Progressive Growing of GANs", section 5): per level, random 7x7x3 descriptors of each set,
  each set normalised per colour channel, 512 random unit directions per repeat, the mean
  absolute difference of the sorted projections. Lower is closer. Reported x 1000.
* :func:`streak_index`: how much of an image's high-pass energy is coherent along columns or
  rows (vertical / horizontal streaks, banding). The high-pass image is averaged over segments
  of ``segment`` pixels down each column and along each row; the index is the energy of those
  averages over the total high-pass energy. Unstructured texture scores about ``1/segment``;
  perfect stripes score 1. Compare generated renders with real ones of the same scenes (real
  scenes have straight horizons too).
* :func:`mean_lab`: the mean CIE Lab colour (style checks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _float_rgb(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] < 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {a.shape}")
    a = a[..., :3]
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


# sRGB (D65) -> XYZ, and the D65 white point the XYZ values are divided by
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])
_WHITE = np.array([0.950456, 1.0, 1.088754])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* ``[H, W, 3]`` float32 of an sRGB image (uint8 or float in [0, 1]): the sRGB
    transfer curve undone, XYZ under D65, then the CIE 1976 formulas (L in 0..100)."""
    c = _float_rgb(rgb).astype(np.float64)
    lin = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = lin @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    y = xyz[..., 1]
    L = np.where(y > 0.008856, 116.0 * f[..., 1] - 16.0, 903.3 * y)
    return np.stack([L, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1).astype(np.float32)


def mean_lab(rgb: np.ndarray) -> np.ndarray:
    """Mean CIE Lab colour ``[L, a, b]`` of an RGB image (uint8 or float in [0, 1])."""
    return rgb_to_lab(rgb).reshape(-1, 3).mean(0)


# -- Laplacian sliced Wasserstein distance -------------------------------------------------------
_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32)


def _filter_axis(a: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """``a`` correlated with the odd-length ``taps`` along ``axis``, mirrored at the borders
    without repeating the edge pixel (``dcb|abcd``)."""
    r = len(taps) // 2
    width = [(0, 0)] * a.ndim
    width[axis] = (r, r)
    p = np.pad(a, width, mode="reflect")
    n = a.shape[axis]
    out = np.zeros_like(a)
    for k, t in enumerate(taps):
        out += t * np.take(p, np.arange(k, k + n), axis=axis)
    return out


def pyr_down(img: np.ndarray) -> np.ndarray:
    """One Gaussian-pyramid step down: the 5-tap binomial filter (1 4 6 4 1)/16 on both axes,
    then every second pixel; ``[H, W, C]`` -> ``[(H+1)//2, (W+1)//2, C]``."""
    g = _filter_axis(_filter_axis(img, _BINOMIAL / 16, 0), _BINOMIAL / 16, 1)
    return np.ascontiguousarray(g[::2, ::2])


def pyr_up(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """One step up to ``shape`` (``(H, W)``, each 2x the input or one less): zeros between the
    pixels, then the binomial filter x 4 (x 2 per axis), mirrored at the borders of the
    doubled grid, cropped to ``shape``."""
    h, w = shape
    if not (0 <= 2 * img.shape[0] - h <= 1 and 0 <= 2 * img.shape[1] - w <= 1):
        raise ValueError(f"pyr_up: {img.shape[:2]} cannot grow to {shape}")
    up = np.zeros((2 * img.shape[0], 2 * img.shape[1]) + img.shape[2:], img.dtype)
    up[::2, ::2] = img
    return _filter_axis(_filter_axis(up, _BINOMIAL / 8, 0), _BINOMIAL / 8, 1)[:h, :w]


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D (or ``[H, W, C]``) float image, the kernel cut at 4 sigma
    (``2 * round(4 sigma) + 1`` taps), borders mirrored without repeating the edge."""
    r = max(1, int(round(4 * sigma)))
    x = np.arange(-r, r + 1, dtype=np.float64)
    taps = np.exp(-x * x / (2 * sigma * sigma))
    taps /= taps.sum()
    a = np.asarray(img, np.float64)
    return _filter_axis(_filter_axis(a, taps, 0), taps, 1)


def laplacian_pyramid(img: np.ndarray, min_size: int = 16) -> list[np.ndarray]:
    """Band-pass levels, finest first, down to a ``min_size`` low-pass level."""
    g = _float_rgb(img)
    levels = []
    while min(g.shape[:2]) >= 2 * min_size:
        small = pyr_down(g)
        up = pyr_up(small, g.shape[:2])
        levels.append(g - up)
        g = small
    levels.append(g)
    return levels


def _descriptors(level: np.ndarray, n: int, rng: np.random.Generator, k: int = 7) -> np.ndarray:
    h, w = level.shape[:2]
    ys = rng.integers(0, h - k + 1, n)
    xs = rng.integers(0, w - k + 1, n)
    return np.stack([level[y:y + k, x:x + k] for y, x in zip(ys, xs)])  # [n, k, k, 3]


def _normalise(desc: np.ndarray) -> np.ndarray:
    mean = desc.mean(axis=(0, 1, 2), keepdims=True)
    std = desc.std(axis=(0, 1, 2), keepdims=True) + 1e-8
    return ((desc - mean) / std).reshape(desc.shape[0], -1)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, directions: int = 512,
                       repeats: int = 4) -> float:
    """SWD between two equal-sized sets of vectors ``[n, d]``."""
    if a.shape != b.shape:
        raise ValueError(f"descriptor sets differ in shape: {a.shape} vs {b.shape}")
    out = []
    for _ in range(repeats):
        d = rng.standard_normal((a.shape[1], directions)).astype(np.float32)
        d /= np.linalg.norm(d, axis=0, keepdims=True)
        pa, pb = np.sort(a @ d, axis=0), np.sort(b @ d, axis=0)
        out.append(float(np.abs(pa - pb).mean()))
    return float(np.mean(out))


@dataclass(frozen=True)
class SWDResult:
    per_level: list[float]  # finest first, x 1000
    mean: float  # x 1000


def laplacian_swd(real: list[np.ndarray], fake: list[np.ndarray], per_image: int = 128, seed: int = 0,
                  min_size: int = 16) -> SWDResult:
    """Laplacian SWD (x 1000) between two lists of same-sized RGB images."""
    if not real or len(real) != len(fake):
        raise ValueError(f"need two equal, non-empty image lists (got {len(real)} and {len(fake)})")
    rng = np.random.default_rng(seed)
    pyr_r = [laplacian_pyramid(x, min_size) for x in real]
    pyr_f = [laplacian_pyramid(x, min_size) for x in fake]
    n_levels = min(len(p) for p in pyr_r + pyr_f)
    per_level = []
    for lvl in range(n_levels):
        da = _normalise(np.concatenate([_descriptors(p[lvl], per_image, rng) for p in pyr_r]))
        db = _normalise(np.concatenate([_descriptors(p[lvl], per_image, rng) for p in pyr_f]))
        per_level.append(1000.0 * sliced_wasserstein(da, db, rng))
    return SWDResult(per_level, float(np.mean(per_level)))


# -- streaks -------------------------------------------------------------------------------------
def streak_index(img: np.ndarray, segment: int = 32, sigma: float = 1.5) -> float:
    """Share of the high-pass energy that is coherent down columns / along rows (see the module
    docstring): about ``1/segment`` for unstructured texture, 1 for perfect stripes."""
    rgb = _float_rgb(img)
    gray = (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float64)
    high = gray - gaussian_blur(gray, sigma)
    h, w = high.shape
    hs, ws = h // segment * segment, w // segment * segment
    if hs == 0 or ws == 0:
        raise ValueError(f"image {w}x{h} is smaller than one {segment}-px segment")
    total = float((high ** 2).mean()) + 1e-12
    cols = high[:hs].reshape(hs // segment, segment, w).mean(axis=1)  # averages down the columns
    rows = high[:, :ws].reshape(h, ws // segment, segment).mean(axis=2)  # averages along the rows
    return float(((cols ** 2).mean() + (rows ** 2).mean()) / (2 * total))


def mean_streak_index(images: list[np.ndarray], segment: int = 32) -> float:
    return float(np.mean([streak_index(x, segment) for x in images]))
