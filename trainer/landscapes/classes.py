"""The ``landscape`` label set: class names and ids of the procedural landscapes."""

from __future__ import annotations

LANDSCAPE_CLASSES: tuple[str, ...] = (
    "sky", "cloud", "mountain", "hill", "rock", "snow", "grass", "tree", "bush", "flower",
    "sea", "river", "sand", "dirt", "fog",
)
(SKY, CLOUD, MOUNTAIN, HILL, ROCK, SNOW, GRASS, TREE, BUSH, FLOWER,
 SEA, RIVER, SAND, DIRT, FOG) = range(15)
NUM_CLASSES = len(LANDSCAPE_CLASSES)



