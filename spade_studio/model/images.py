"""Images <-> network tensors: the one conversion used by training, the style encoder and rendering."""

from __future__ import annotations

import numpy as np
import torch


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 ``[H, W, 3]`` (extra channels ignored) -> float32 ``[3, H, W]`` in [-1, 1]:
    ``(x / 255 - 0.5) / 0.5``, the official normalisation."""
    t = torch.from_numpy(np.array(rgb[..., :3], dtype=np.uint8)).permute(2, 0, 1).float()  # a copy: PIL arrays are read-only
    return (t / 255.0 - 0.5) / 0.5


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[N, 3, H, W]`` in [-1, 1] -> ``[N, H, W, 3]`` uint8 (truncation, as the official viewer)."""
    x = ((images.float().cpu() + 1) / 2 * 255).clamp(0, 255)
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
