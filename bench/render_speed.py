"""Render speed of a model on this machine: ms per image at several canvas sizes.

    python bench/render_speed.py [--model M] [--sizes 256 512] [--repeats 10] [--threads N]

Prints the median time per render (label map -> RGB uint8, style fixed), the ratio to the
first size, and the model's file size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from spade_studio.model import Synthesizer  # noqa: E402


def scene(h: int, w: int, n_classes: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    lab = np.zeros((h, w), np.uint8)
    lab[yy > h * 0.45 + 0.1 * h * np.sin(xx / w * 6)] = min(2, n_classes - 1)
    lab[yy > h * 0.65] = min(6, n_classes - 1)
    lab[(yy > h * 0.8) & (xx < w // 2)] = min(10, n_classes - 1)
    return lab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", nargs="+", default=["fp32", "auto"])
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    for prec in a.precision:
        run(a, prec)


def run(a: argparse.Namespace, precision: str) -> None:
    s = Synthesizer(a.model, device=a.device, precision=precision)
    path = Path(a.model) if a.model else None
    if path is None:
        from spade_studio.paths import default_model_path

        path = default_model_path()
    print(f"model {path} ({os.path.getsize(path) / 1e6:.1f} MB), {s.describe()}, torch threads {torch.get_num_threads()}")
    z = s.random_z(0)
    base = None
    for size in a.sizes:
        lab = scene(size, size, s.config.label_nc)
        for _ in range(2):
            s.render(lab, z=z)
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            s.render(lab, z=z)
            times.append(time.perf_counter() - t)
        med = statistics.median(times) * 1000
        base = base or med
        print(f"{size}x{size} {s.precision}: median {med:.1f} ms (min {min(times) * 1000:.1f}), "
              f"{med / base:.2f}x the first size")


if __name__ == "__main__":
    main()
