"""Writes the hand-painted-style test maps: flat shapes as a person paints them in the editor.

    python bench/make_painted_maps.py [--out tests/data/painted] [--size 256]

Each map is a few flat regions of the ``landscape`` label set with crude, straight or elliptic
boundaries (a straight horizon, triangle mountains, ellipse trees and bushes, a band of sea,
a beach, a river as a polygon, clouds as ellipses), the way simple strokes and fills look,
nothing like the textured procedural training maps. The output is deterministic (the layouts
below are fixed), written as index PNGs tagged with the label set; the committed copies are
the test data of ``bench/model_quality.py`` and of the bundled model's tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.landscapes.raster import fill_polygon  # noqa: E402

SKY, CLOUD, MOUNTAIN, HILL, ROCK, SNOW, GRASS, TREE, BUSH, FLOWER, SEA, RIVER, SAND, DIRT, FOG = range(15)


def _poly(m, pts, label, s):
    fill_polygon(m, np.round(np.array(pts, np.float64) * s).astype(np.int64), int(label))


def _ellipse(m, cx, cy, rx, ry, label, s):
    """A filled axis-aligned ellipse: the pixels whose centres lie inside it."""
    cx, cy, rx, ry = round(cx * s), round(cy * s), max(1, round(rx * s)), max(1, round(ry * s))
    yy, xx = np.mgrid[: m.shape[0], : m.shape[1]]
    m[((xx - cx) / (rx + 0.5)) ** 2 + ((yy - cy) / (ry + 0.5)) ** 2 <= 1.0] = int(label)


def _ground(m, y, label, s):
    m[round(y * s):] = label


# Layouts on a 0..100 square (scaled to the output size). Each draws over the sky.
def lake_mountains(m, s):
    _poly(m, [(0, 55), (25, 20), (45, 55)], MOUNTAIN, s)
    _poly(m, [(30, 55), (60, 15), (90, 55)], MOUNTAIN, s)
    _poly(m, [(53, 25), (60, 15), (67, 25)], SNOW, s)
    _ground(m, 55, SEA, s)
    _ground(m, 80, GRASS, s)


def green_hills(m, s):
    _ellipse(m, 25, 70, 45, 22, HILL, s)
    _ellipse(m, 80, 75, 40, 25, HILL, s)
    _ground(m, 78, GRASS, s)
    _ellipse(m, 70, 20, 14, 5, CLOUD, s)


def beach(m, s):
    _ground(m, 50, SEA, s)
    _poly(m, [(0, 75), (100, 65), (100, 100), (0, 100)], SAND, s)
    _ellipse(m, 25, 18, 16, 6, CLOUD, s)


def forest(m, s):
    _ground(m, 60, GRASS, s)
    for cx in (10, 28, 46, 64, 82):
        _ellipse(m, cx, 52, 9, 16, TREE, s)


def snowy_peak(m, s):
    _poly(m, [(5, 80), (50, 10), (95, 80)], MOUNTAIN, s)
    _poly(m, [(35, 33), (50, 10), (65, 33)], SNOW, s)
    _ground(m, 80, SNOW, s)


def river_valley(m, s):
    _ground(m, 45, GRASS, s)
    _poly(m, [(45, 45), (55, 45), (75, 100), (30, 100)], RIVER, s)
    _ellipse(m, 15, 60, 10, 8, BUSH, s)
    _ellipse(m, 88, 70, 10, 9, TREE, s)


def desert_rocks(m, s):
    _ground(m, 60, SAND, s)
    _poly(m, [(15, 60), (25, 35), (40, 60)], ROCK, s)
    _poly(m, [(60, 62), (72, 45), (85, 62)], ROCK, s)


def flower_meadow(m, s):
    _ground(m, 55, GRASS, s)
    _ellipse(m, 30, 78, 22, 8, FLOWER, s)
    _ellipse(m, 75, 70, 15, 6, FLOWER, s)
    _ellipse(m, 60, 25, 20, 7, CLOUD, s)


def foggy_hills(m, s):
    _ellipse(m, 50, 75, 70, 30, HILL, s)
    m[round(40 * s):round(58 * s)] = np.where(m[round(40 * s):round(58 * s)] == SKY, FOG,
                                              m[round(40 * s):round(58 * s)])
    _ground(m, 85, GRASS, s)


def dirt_road(m, s):
    _ground(m, 50, GRASS, s)
    _poly(m, [(47, 50), (53, 50), (80, 100), (20, 100)], DIRT, s)
    _ellipse(m, 15, 45, 12, 14, TREE, s)


def island(m, s):
    _ground(m, 45, SEA, s)
    _ellipse(m, 50, 62, 30, 9, SAND, s)
    _ellipse(m, 50, 57, 18, 7, GRASS, s)
    _ellipse(m, 50, 47, 5, 9, TREE, s)


def cloudy_coast(m, s):
    for cx, cy in ((20, 15), (55, 22), (85, 12)):
        _ellipse(m, cx, cy, 15, 6, CLOUD, s)
    _poly(m, [(0, 45), (40, 35), (60, 60), (0, 60)], HILL, s)
    _poly(m, [(0, 60), (100, 55), (100, 100), (0, 100)], SEA, s)


def alpine_lake(m, s):
    _poly(m, [(0, 50), (20, 25), (40, 50)], MOUNTAIN, s)
    _poly(m, [(60, 50), (80, 22), (100, 50)], MOUNTAIN, s)
    _ground(m, 50, SEA, s)
    _poly(m, [(0, 70), (100, 75), (100, 100), (0, 100)], GRASS, s)
    _ellipse(m, 85, 80, 8, 10, TREE, s)
    _ellipse(m, 12, 78, 7, 6, BUSH, s)


def bushes_and_rocks(m, s):
    _ground(m, 58, GRASS, s)
    _ellipse(m, 30, 62, 14, 8, BUSH, s)
    _poly(m, [(55, 70), (65, 52), (78, 70)], ROCK, s)
    _ellipse(m, 85, 40, 10, 18, TREE, s)


LAYOUTS = [lake_mountains, green_hills, beach, forest, snowy_peak, river_valley, desert_rocks, flower_meadow,
           foggy_hills, dirt_road, island, cloudy_coast, alpine_lake, bushes_and_rocks]


def painted_map(index: int, size: int = 256) -> np.ndarray:
    """The ``index``-th painted map, ``[size, size]`` uint8 ids of the landscape label set."""
    m = np.full((size, size), SKY, np.uint8)
    LAYOUTS[index](m, size / 100.0)
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/painted")
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    from spade_studio.imageio import write_label_map
    from spade_studio.labels import load_label_set

    ls = load_label_set("landscape")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, fn in enumerate(LAYOUTS):
        write_label_map(out / f"painted_{i:02d}_{fn.__name__}.png", painted_map(i, a.size), ls)
    print(f"{out}: {len(LAYOUTS)} painted maps ({a.size}px)")


if __name__ == "__main__":
    main()
