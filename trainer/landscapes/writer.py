"""Dataset writing: ``make_landscapes`` renders scenes into a paired folder (images/, labels/, dataset.json)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable

import numpy as np
from PIL import Image

from .classes import LANDSCAPE_CLASSES, NUM_CLASSES
from .scene import render_scene

GENERATOR_NAME = "spade_studio procedural landscapes v1"
DATASET_FORMAT = "spade-studio-dataset/1"


def scene_seed(seed: int, index: int) -> int:
    """Seed of scene ``index`` of a dataset generated with ``seed``."""
    ss = np.random.SeedSequence([int(seed), int(index)])
    return int(ss.generate_state(2, np.uint32)[0]) | (int(ss.generate_state(2, np.uint32)[1]) << 32)


def _atomic_png(img: Image.Image, path: str) -> None:
    from spade_studio.imageio import atomic_write

    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    atomic_write(path, buf.getvalue(), fsync=False)


def _render_and_write(job):
    out_dir, i, seed, size, aspect = job
    s = scene_seed(seed, i)
    rgb, lab, info = render_scene(s, size, aspect)
    stem = f"scene_{i:06d}"
    _atomic_png(Image.fromarray(rgb, "RGB"), os.path.join(out_dir, "images", stem + ".png"))
    _atomic_png(Image.fromarray(lab, "L"), os.path.join(out_dir, "labels", stem + ".png"))
    counts = np.bincount(lab.ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES]
    return stem, info, counts.astype(np.int64)


def make_landscapes(out_dir, count: int, size: int = 256, seed: int = 0, aspect: float = 1.0,
                    on_progress: Callable[[int, int], None] | None = None,
                    workers: int = 1) -> dict:
    """Write ``count`` scenes as a paired dataset folder (images/, labels/, dataset.json).

    Scene ``i`` is rendered with :func:`scene_seed` ``(seed, i)``; output is identical for any
    number of ``workers``.  Returns a summary: count, per-class pixel fractions and the number of
    scenes each class appears in.
    """
    out_dir = os.fspath(out_dir)
    count = int(count)
    seed = int(seed)
    if count < 0:
        raise ValueError("count must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "labels"), exist_ok=True)
    jobs = [(out_dir, i, seed, int(size), float(aspect)) for i in range(count)]
    scenes: dict = {}
    pix = np.zeros(NUM_CLASSES, np.int64)
    present = np.zeros(NUM_CLASSES, np.int64)
    done = 0

    def consume(res):
        nonlocal done
        stem, info, counts = res
        scenes[stem] = info
        pix[:] += counts
        present[:] += counts > 0
        done += 1
        if on_progress is not None:
            on_progress(done, count)

    workers = max(1, int(workers))
    if workers > 1 and count > 1:
        import multiprocessing as mp
        with mp.get_context().Pool(min(workers, count)) as pool:
            for res in pool.imap(_render_and_write, jobs, chunksize=max(1, min(8, count // (
                    4 * workers)))):
                consume(res)
    else:
        for job in jobs:
            consume(_render_and_write(job))

    meta = {
        "format": DATASET_FORMAT,
        "label_set": "landscape",
        "count": count,
        "size": int(size),
        "aspect": float(aspect),
        "seed": seed,
        "generator": GENERATOR_NAME,
        "classes": list(LANDSCAPE_CLASSES),
        "scenes": scenes,
    }
    from spade_studio.imageio import atomic_write

    atomic_write(os.path.join(out_dir, "dataset.json"), json.dumps(meta, indent=1).encode("utf-8"))
    total = max(int(pix.sum()), 1)
    return {
        "count": count,
        "out_dir": out_dir,
        "class_pixel_fraction": {n: round(float(pix[i]) / total, 6)
                                 for i, n in enumerate(LANDSCAPE_CLASSES)},
        "class_scene_count": {n: int(present[i]) for i, n in enumerate(LANDSCAPE_CLASSES)},
    }
