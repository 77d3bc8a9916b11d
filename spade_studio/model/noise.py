"""Per-pixel noise inputs ("grain") for our own generators (config field ``noise_inputs``).

A SPADE generator is a deterministic function of the label map and the style vector, and
inside a uniform region its only spatial input is the coarse latent grid (8x8 cells at
256 px): it cannot make fine stochastic texture (grain, grass blades, ripples) there. As in
StyleGAN (Karras et al., CVPR 2019, section 3.2), each block of a model with noise inputs
adds one single-channel noise image, scaled by a learned per-channel strength (zero at
initialisation, so a model fine-tuned with noise starts as exactly the model it came from).

While training the noise is fresh N(0, 1) per sample. At inference it is a fixed function of
the pixel's position *in the whole canvas* at that block's resolution (a 32-bit integer hash
turned into a standard normal value), so that:

* a render is reproducible, and the fast path, stroke updates, tiles and regional styles
  compute exactly what the plain network computes (each asks for the noise of its own box);
* while painting, the grain does not flicker;
* a horizontally wrapping panorama has wrapping grain (``period``).

Official checkpoints have no noise inputs; nothing changes for them.
"""

from __future__ import annotations

import math

import torch

_M32 = 0xFFFFFFFF
# odd multipliers below 2**31, so that a 32-bit value times one fits in int64
_C_Y, _C_X, _C_I = 0x2C1B3C6D, 0x297A2D39, 0x1B873593
_C_1, _C_2 = 0x7FEB352D, 0x46CA68B5


def _mix(k: torch.Tensor) -> torch.Tensor:
    """A 32-bit avalanche mix on int64 tensors holding values in [0, 2**32)."""
    k = k ^ (k >> 16)
    k = (k * _C_1) & _M32
    k = k ^ (k >> 15)
    k = (k * _C_2) & _M32
    return k ^ (k >> 16)


def position_noise(index: int, origin: tuple[int, int], hw: tuple[int, int], period: int | None = None,
                   device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard-normal noise ``[1, 1, h, w]`` for the box at ``origin`` (row, column) of stream
    ``index``; the same value for the same position whatever box asks. ``period``: columns
    repeat with this period (wrapping panoramas). Integer hashing and float32 Box-Muller only,
    on ``device`` itself (MPS has no float64; a CUDA graph can capture it)."""
    (y0, x0), (h, w) = origin, hw
    ys = torch.arange(y0, y0 + h, dtype=torch.int64, device=device)
    xs = torch.arange(x0, x0 + w, dtype=torch.int64, device=device)
    if period:
        xs = torch.remainder(xs, period)
    ky = _mix((ys * _C_Y + index * _C_I) & _M32)
    k = _mix(((ky[:, None] ^ ((xs[None, :] * _C_X) & _M32)) + index) & _M32)
    k = _mix(k ^ (ky[:, None] >> 7))
    k2 = _mix(k ^ 0x5BD1E995)
    # two uniforms in (0, 1) with 23 bits each: exact in float32, never 0
    u1 = ((k >> 9).to(torch.float32) + 0.5) * (1.0 / (1 << 23))
    u2 = ((k2 >> 9).to(torch.float32) + 0.5) * (1.0 / (1 << 23))
    n = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos((2.0 * math.pi) * u2)
    return n.to(dtype).view(1, 1, h, w)
