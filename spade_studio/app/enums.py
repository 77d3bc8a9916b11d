"""The editor's named choices as ``str`` enums: tools, view layouts, themes, render quality.

Each member *is* its string (``Tool.BRUSH == "brush"``), so saved settings, signals and
callers that pass plain strings keep working; ``str()`` and f-strings give the value.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` are its value (as ``enum.StrEnum`` on 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def parse(cls, value: str, default: StrEnum | None = None):
        """The member for ``value``; ``default`` (or ValueError without one) when there is none."""
        try:
            return cls(value)
        except ValueError:
            if default is None:
                raise
            return default


class Tool(StrEnum):
    """The canvas tools (toolbar order)."""

    BRUSH = "brush"
    ERASER = "eraser"  # the brush with the background label
    FILL = "fill"
    EYEDROPPER = "eyedropper"
    LINE = "line"
    RECT = "rect"
    POLYGON = "polygon"  # click the corners, or drag a lasso outline; filled


class ViewMode(StrEnum):
    """How the label map and the render share the Paint tab (``Settings.view_mode``)."""

    SIDE = "side"  # map left, render right
    SWAP = "swap"  # render left, map right
    OVERLAY = "overlay"  # the render drawn over the map


class Theme(StrEnum):
    """``Settings.theme``."""

    DARK = "dark"
    LIGHT = "light"
    SYSTEM = "system"


class Quality(StrEnum):
    """What a render request asks the model for (``Synthesizer.render(quality=...)``)."""

    EXACT = "exact"  # the plain network's result
    PREVIEW = "preview"  # faster, within the preview bounds (while a stroke is in progress)


class SourceKind(StrEnum):
    """What a style comes from (``StyleSource.kind``)."""

    IMAGE = "image"  # a style photo, encoded by the model
    SEED = "seed"  # a random style vector drawn from a seed
