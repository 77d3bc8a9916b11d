"""Procedural landscape scenes: paired RGB image + label map for the ``landscape`` label set.

The generator paints a scene back to front (sky, clouds, mountains, hills, fog, ground, water,
sprites such as trees / bushes / boulders, foreground fog) and keeps a label map in lock-step: a
pixel gets a layer's class when that layer covers at least half of it, so the label map always
names the class that is visible there (pure ids, never anti-aliased) while the image itself is
anti-aliased and textured.

Every scene draws its look (time of day, season, weather, colour grade) from its own seeded
``numpy.random.Generator(PCG64(seed))``.  Only element-wise float32 arithmetic, integer
rasterisation (``raster``: lines, polygons) and numpy gathers touch the pixels, so the output
is byte-identical across machines; transcendental functions are only ever applied to scalars or
to float64 1-D vectors.

Modules: ``noise`` (value noise, fBm), ``looks`` (palette, light, colour grade), ``classes``
(label ids), ``canvas`` (image + label map, compositing), ``sky`` / ``terrain`` / ``ground`` /
``water`` / ``vegetation`` (the layers), ``raster`` (the sprites' lines and polygons), ``scene`` (the
layer order, :func:`render_scene`), ``writer`` (:func:`make_landscapes`).

Public API: :data:`LANDSCAPE_CLASSES`, :func:`render_scene`, :func:`make_landscapes`, :func:`scene_seed`.
"""

from __future__ import annotations

from .classes import LANDSCAPE_CLASSES, NUM_CLASSES
from .scene import render_scene
from .writer import DATASET_FORMAT, GENERATOR_NAME, make_landscapes, scene_seed

__all__ = ["LANDSCAPE_CLASSES", "NUM_CLASSES", "render_scene", "make_landscapes", "scene_seed", "GENERATOR_NAME",
           "DATASET_FORMAT"]
