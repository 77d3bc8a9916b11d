"""Where a model's streaks are: the streak index's coherent energy by image band, generated vs real.

    python bench/streak_map.py --model runs/gen1.safetensors [--scenes 10] [--size 256] [--runs runs]

``trainer.metrics.streak_index`` is the share of high-pass energy that is coherent down columns
(32-px segments averaged) or along rows. This prints how that coherent energy spreads over the
image: by 32-px band (a uniform spread is 12.5 % per band at 256 px), by position modulo 8 (an
upsampling grid shows as a peak), and the worst 16-px band, for the model's renders of held-out
scenes (seed 0 style) and for the real renders. Held-out scenes are made under ``--runs`` on
first use (seed 9001, as bench/model_quality.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def coherent_profiles(img: np.ndarray, segment: int = 32) -> tuple[np.ndarray, np.ndarray, float]:
    """(column energy per x, row energy per y, total high-pass energy) of one image."""
    from trainer.metrics import _float_rgb, gaussian_blur

    rgb = _float_rgb(img)
    gray = (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float64)
    high = gray - gaussian_blur(gray, 1.5)
    h, w = high.shape
    hs, ws = h // segment * segment, w // segment * segment
    cols = high[:hs].reshape(hs // segment, segment, w).mean(axis=1)
    rows = high[:, :ws].reshape(h, ws // segment, segment).mean(axis=2)
    return (cols ** 2).mean(axis=0), (rows ** 2).mean(axis=1), float((high ** 2).mean())


def describe(name: str, profiles: list) -> None:
    c = np.mean([p[0] for p in profiles], axis=0)
    r = np.mean([p[1] for p in profiles], axis=0)
    t = float(np.mean([p[2] for p in profiles]))
    n = len(c)
    bands = [c[i:i + 32].sum() / c.sum() for i in range(0, n - n % 32, 32)]
    rbands = [r[i:i + 32].sum() / r.sum() for i in range(0, len(r) - len(r) % 32, 32)]
    worst = max(range(0, n - 15), key=lambda i: c[i:i + 16].sum())
    print(f"{name}: column-coherent share {c.mean() / t:.3f}, row-coherent share {r.mean() / t:.3f}")
    print("  columns by 32-px band: " + " ".join(f"{b:.0%}" for b in bands))
    print("  rows by 32-px band:    " + " ".join(f"{b:.0%}" for b in rbands))
    print("  columns by x mod 8:    " + " ".join(f"{c[k::8].sum() / c.sum():.0%}" for k in range(8)))
    print(f"  worst 16-px column band: x {worst}-{worst + 15}, {c[worst:worst + 16].sum() / c.sum():.0%} "
          f"of the column energy ({16 / n:.0%} if uniform)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="model file (default: the bundled model)")
    ap.add_argument("--scenes", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch
    from model_quality import ensure_heldout
    from PIL import Image

    from spade_studio.model import Synthesizer

    torch.set_num_threads(a.threads)
    folder = ensure_heldout(Path(a.runs), a.size, max(a.scenes, 50))
    synth = Synthesizer(a.model, device="cpu")
    gen, real = [], []
    for i in range(a.scenes):
        lab = np.array(Image.open(folder / "labels" / f"scene_{i:06d}.png")).astype(np.int64)
        gen.append(coherent_profiles(synth.render(lab, seed=0).image))
        real.append(coherent_profiles(np.array(Image.open(folder / "images" / f"scene_{i:06d}.png").convert("RGB"))))
    print(f"{a.scenes} held-out scenes at {a.size} px; model {a.model or 'bundled'}")
    describe("generated", gen)
    describe("real", real)


if __name__ == "__main__":
    main()
