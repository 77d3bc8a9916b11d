"""Pre-processing for training pairs: resize / crop / flip (reference section 3.4).

One set of random parameters (crop position, flip) is drawn per sample and applied
identically to the label map (PIL NEAREST), the instance map (NEAREST, values unscaled) and
the photo (PIL BICUBIC). The order is the official one: resize step, then crop, then flip.

Sizes per mode, for a source of ``w x h`` (``L`` = load_size, ``C`` = crop_size):

=========================== =================================================== ============
mode                        resize step                                         crop
=========================== =================================================== ============
``resize_and_crop``         ``L x L`` (aspect not kept)                         ``C x C``
``scale_width``             width ``L``, height ``int(L*h/w)``                  --
``scale_width_and_crop``    as ``scale_width``                                  ``C x C``
``scale_shortside``         short side ``L``, long side ``int(L*long/short)``   --
``scale_shortside_and_crop`` as ``scale_shortside``                             ``C x C``
``crop``                    --                                                  ``C x C``
``none``                    each side to the nearest multiple of 32             --
``fixed``                   ``C x round(C/aspect_ratio)``                       --
=========================== =================================================== ============

The crop's top-left corner is drawn uniformly from ``[0, max(0, W-C)] x [0, max(0, H-C)]``
of the resized image. Where the resized image is smaller than ``C`` the crop reaches past
its border and is padded with zeros (black image, label 0, instance 0), as PIL's crop does
in the official code. Flipping (p = 0.5, horizontal) happens only when training and
``flip`` is set.

Two deliberate deviations from the official *code* (not from the reference text): the
``scale_shortside`` modes really scale the short side to ``L`` (the official helper keeps the
original short side by mistake), and ``none`` never shrinks a side below 32 px (the official
one would produce an empty image for sides under 16 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from spade_studio.model.images import image_to_tensor

MODES = (
    "resize_and_crop",
    "scale_width",
    "scale_width_and_crop",
    "scale_shortside",
    "scale_shortside_and_crop",
    "crop",
    "none",
    "fixed",
)
CROP_MODES = frozenset(m for m in MODES if m.endswith("crop"))
POWER_BASE = 32


@dataclass(frozen=True)
class PreprocessConfig:
    mode: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    aspect_ratio: float = 1.0
    flip: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown pre-processing mode {self.mode!r} (one of: {', '.join(MODES)})")
        if self.load_size < 1 or self.crop_size < 1:
            raise ValueError("load_size and crop_size must be positive")
        if not self.aspect_ratio > 0:
            raise ValueError("aspect_ratio must be positive")


@dataclass(frozen=True)
class AugmentParams:
    """What happens to one sample: resize to ``size`` (w, h), crop at ``crop`` (x, y) with
    side ``crop_size`` (None: no crop), then flip horizontally if ``flip``."""

    size: tuple[int, int]
    crop: tuple[int, int] | None
    crop_size: int
    flip: bool


def resized_size(cfg: PreprocessConfig, w: int, h: int) -> tuple[int, int]:
    """Size ``(w, h)`` after the resize step of ``cfg.mode`` (before any crop)."""
    load = cfg.load_size
    mode = cfg.mode
    if mode == "resize_and_crop":
        return load, load
    if mode in ("scale_width", "scale_width_and_crop"):
        return load, load * h // w  # == int(load*h/w) for positive integers
    if mode in ("scale_shortside", "scale_shortside_and_crop"):
        if w <= h:
            return load, load * h // w
        return load * w // h, load
    if mode == "crop":
        return w, h
    if mode == "none":
        return (max(POWER_BASE, round(w / POWER_BASE) * POWER_BASE),
                max(POWER_BASE, round(h / POWER_BASE) * POWER_BASE))
    if mode == "fixed":
        return cfg.crop_size, round(cfg.crop_size / cfg.aspect_ratio)  # round: ties to even
    raise ValueError(f"unknown pre-processing mode {mode!r}")


def draw_params(cfg: PreprocessConfig, w: int, h: int, rng: np.random.Generator,
                train: bool) -> AugmentParams:
    """Random crop position and flip for a ``w x h`` source, drawn from ``rng``.

    Always draws x, then y, then the flip coin (also when a mode does not use them), so the
    stream is the same for every mode."""
    size = resized_size(cfg, w, h)
    x = int(rng.integers(0, max(0, size[0] - cfg.crop_size) + 1))
    y = int(rng.integers(0, max(0, size[1] - cfg.crop_size) + 1))
    coin = float(rng.random())
    flip = bool(train and cfg.flip and coin > 0.5)
    crop = (x, y) if cfg.mode in CROP_MODES else None
    return AugmentParams(size=size, crop=crop, crop_size=cfg.crop_size, flip=flip)


def _apply(img: Image.Image, params: AugmentParams, method: int) -> Image.Image:
    if img.size != params.size:
        img = img.resize(params.size, method)
    if params.crop is not None:
        x, y = params.crop
        c = params.crop_size
        img = img.crop((x, y, x + c, y + c))
    if params.flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img


def _int_image(arr: np.ndarray, what: str) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D integer array, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return Image.fromarray(np.ascontiguousarray(arr), mode="L")
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{what} values do not fit in 32 bits")
    return Image.fromarray(np.ascontiguousarray(arr.astype(np.int32)), mode="I")


def apply_to_label(label: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Integer map ``[H, W]`` (uint8/uint16/int32/int64) -> int64 ``[h, w]`` (NEAREST, exact values)."""
    out = _apply(_int_image(label, "label map"), params, Image.Resampling.NEAREST)
    return np.asarray(out).astype(np.int64)


def apply_to_instance(instance: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Instance ids ``[H, W]`` (8/16/32-bit values) -> int64 ``[h, w]``, NEAREST, unscaled."""
    out = _apply(_int_image(instance, "instance map"), params, Image.Resampling.NEAREST)
    return np.asarray(out).astype(np.int64)


def apply_to_image(image: np.ndarray | Image.Image, params: AugmentParams) -> np.ndarray:
    """RGB ``[H, W, 3]`` uint8 (or a PIL image) -> RGB uint8 ``[h, w, 3]`` (BICUBIC)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image[..., :3]))
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(_apply(img, params, Image.Resampling.BICUBIC))



def label_to_tensor(label: np.ndarray) -> torch.Tensor:
    """Integer map ``[H, W]`` -> int64 ``[1, H, W]``."""
    return torch.from_numpy(np.ascontiguousarray(label).astype(np.int64)).unsqueeze(0)


def preprocess(cfg: PreprocessConfig, image: np.ndarray | Image.Image, label: np.ndarray,
               instance: np.ndarray | None, rng: np.random.Generator, train: bool
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, AugmentParams]:
    """One pair (+ instance map) -> ``(image [3,H,W] float, label [1,H,W] int64,
    instance [1,H,W] int64 | None, params)`` with the same crop/flip on all of them.

    The sizes must already agree (the dataset checks this); the label's size decides."""
    h, w = np.asarray(label).shape[:2]
    params = draw_params(cfg, w, h, rng, train)
    img = apply_to_image(image, params)
    lab = apply_to_label(label, params)
    inst = None if instance is None else label_to_tensor(apply_to_instance(instance, params))
    return image_to_tensor(img), label_to_tensor(lab), inst, params


def shuffle_tiles(images: torch.Tensor, share: float, grid: int = 4,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """The style encoder's input under ``--style-shuffle``: each image of the batch ``[N, C, H,
    W]``, with probability ``share``, cut into a ``grid x grid`` array of tiles put back in a
    random order (the same pixels, so the same colours and textures, anywhere). An encoder
    trained on such inputs learns the look from colours and textures rather than from where
    they are, which is what a style photo of another kind of scene needs. Rows and columns past
    the last whole tile stay in place. Returns ``images`` itself when nothing is shuffled."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in 0..1, not {share}")
    n, c, h, w = images.shape
    th, tw = h // grid, w // grid
    if share == 0.0 or grid < 2 or th == 0 or tw == 0:
        return images
    pick = torch.rand(n, generator=generator) < share
    if not bool(pick.any()):
        return images
    out = images.clone()
    k = grid * grid
    for i in torch.nonzero(pick).flatten().tolist():
        body = images[i, :, : th * grid, : tw * grid]
        tiles = body.reshape(c, grid, th, grid, tw).permute(1, 3, 0, 2, 4).reshape(k, c, th, tw)
        order = torch.randperm(k, generator=generator).to(images.device)
        mixed = tiles[order].reshape(grid, grid, c, th, tw).permute(2, 0, 3, 1, 4).reshape(c, th * grid, tw * grid)
        out[i, :, : th * grid, : tw * grid] = mixed
    return out
