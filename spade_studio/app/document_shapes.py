"""The document's one-shot painting tools (fill, line, rectangle, polygon, clear) as a mixin of
:class:`spade_studio.app.document.Document`: each paints the active layer through
:mod:`spade_studio.labelmap` with ``apply=False`` and records the change as one undo step
(``_one_shot``). On the bottom layer the change is a plain delta; on an upper layer a masked one
(``_paint_masked``), and fill floods the region of the flattened map under the click (what the
user sees) onto the active layer. The Document defines the state and the helpers used here."""

from __future__ import annotations

import numpy as np

from spade_studio import labelmap as lm


class ShapeTools:
    """fill / line / rect / polygon / clear (see the module docstring)."""

    def fill(self, x: int, y: int, label: int) -> bool:
        label = self._check_label(label)
        layer = self._paint_target()
        if layer is None:
            return False
        text = f"Fill with {self._label_set.name_of(label)}"
        if layer.mask is None and self._map is layer.ids:
            return self._one_shot(layer, lm.flood_fill(layer.ids, x, y, label, apply=False,
                                                       **self._paint_options()), text)
        # The region of the flattened map under the click (what the user sees) ...
        seen = lm.flood_fill(self._map, x, y, label, apply=False, **self._paint_options())
        if seen is None:
            return False
        # ... painted on the active layer.
        if layer.mask is None:
            change = lm.paint_region(layer.ids, seen.y0, seen.x0, seen.mask, label, apply=False)
        else:
            change = self._paint_masked(layer, (seen.y0, seen.x0, seen.mask), label, apply=False, options=False)
        return self._one_shot(layer, change, text)

    def line(self, x0: float, y0: float, x1: float, y1: float, radius: float, label: int) -> bool:
        label = self._check_label(label)
        layer = self._paint_target()
        if layer is None:
            return False
        if layer.mask is None:
            change = lm.draw_line(layer.ids, x0, y0, x1, y1, radius, label, apply=False, **self._paint_options())
        else:
            change = self._paint_masked(layer, lm.brush_region(self._map.shape, [(x0, y0), (x1, y1)], radius),
                                        label, apply=False)
        return self._one_shot(layer, change, f"Line of {self._label_set.name_of(label)}")

    def rect(self, x0: int, y0: int, x1: int, y1: int, label: int) -> bool:
        label = self._check_label(label)
        layer = self._paint_target()
        if layer is None:
            return False
        if layer.mask is None:
            change = lm.fill_rect(layer.ids, x0, y0, x1, y1, label, apply=False, **self._paint_options())
        else:
            xa, xb = sorted((int(x0), int(x1)))
            ya, yb = sorted((int(y0), int(y1)))
            xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, self.width - 1), min(yb, self.height - 1)
            found = None if xb < xa or yb < ya else (ya, xa, np.ones((yb - ya + 1, xb - xa + 1), bool))
            change = self._paint_masked(layer, found, label, apply=False)
        return self._one_shot(layer, change, f"Rectangle of {self._label_set.name_of(label)}")

    def polygon(self, points: list[tuple[float, float]], label: int) -> bool:
        """Fill the closed polygon ``points`` (labelmap coordinates: pixel centres are integers)."""
        label = self._check_label(label)
        layer = self._paint_target()
        if layer is None:
            return False
        if layer.mask is None:
            change = lm.fill_polygon(layer.ids, points, label, apply=False, **self._paint_options())
        else:
            change = self._paint_masked(layer, lm.polygon_region(self._map.shape, points), label, apply=False)
        return self._one_shot(layer, change, f"Polygon of {self._label_set.name_of(label)}")

    def clear(self, label: int) -> bool:
        """The bottom layer: fill it with ``label``; an upper layer: make it empty."""
        label = self._check_label(label)
        layer = self._paint_target()
        if layer is None:
            return False
        if layer.mask is None:
            change = lm.fill_rect(layer.ids, 0, 0, self.width - 1, self.height - 1, label, apply=False)
            return self._one_shot(layer, change, f"Clear to {self._label_set.name_of(label)}")
        change = self._paint_masked(layer, (0, 0, np.ones(self._map.shape, bool)), None, apply=False, options=False)
        return self._one_shot(layer, change, "Clear")
