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

import cv2
import numpy as np


def _float_rgb(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] < 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {a.shape}")
    a = a[..., :3]
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def mean_lab(rgb: np.ndarray) -> np.ndarray:
    """Mean CIE Lab colour ``[L, a, b]`` of an RGB image (uint8 or float in [0, 1])."""
    return cv2.cvtColor(_float_rgb(rgb), cv2.COLOR_RGB2Lab).reshape(-1, 3).mean(0)


# -- Laplacian sliced Wasserstein distance -------------------------------------------------------
def laplacian_pyramid(img: np.ndarray, min_size: int = 16) -> list[np.ndarray]:
    """Band-pass levels, finest first, down to a ``min_size`` low-pass level."""
    g = _float_rgb(img)
    levels = []
    while min(g.shape[:2]) >= 2 * min_size:
        small = cv2.pyrDown(g)
        up = cv2.pyrUp(small, dstsize=(g.shape[1], g.shape[0]))
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
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    high = gray - cv2.GaussianBlur(gray, (0, 0), sigma)
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
