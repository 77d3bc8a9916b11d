"""What the project files (:mod:`spade_studio.project`) and the PSD export
(:mod:`spade_studio.project_psd`) share: the error, the layer names, a label layer's colours."""
from __future__ import annotations

from typing import Any

import numpy as np

RENDER_NAME = "render"
REFERENCE_NAME = "reference photo"


class ProjectError(ValueError):
    """A project file that cannot be read or written; the message names the file (and the
    entry inside it)."""


def _label_rgba(ly: Any, lut: np.ndarray) -> np.ndarray:  # ly: a project.ProjectLayer
    """The layer as RGBA uint8: palette colours, alpha 255 where it has a label, else 0."""
    h, w = ly.ids.shape
    out = np.zeros((h, w, 4), np.uint8)
    if ly.mask is None:
        out[..., :3] = lut[ly.ids]
        out[..., 3] = 255
    else:
        out[ly.mask, :3] = lut[ly.ids[ly.mask]]
        out[ly.mask, 3] = 255
    return out
