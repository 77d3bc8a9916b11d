"""Tiled renders and panoramas: accuracy against a one-go render, the wrap seam, peak memory.

    python bench/tiling.py [--model M] [--skip-big] [--regions]

Prints the CPU, then (1) for a painted map at 1024x512 in 384-px tiles, per blend / margin
choice: max and mean |tiled - one go| (0..255) overall and in 8-px bands along the tile
borders, and the time relative to one go; (2) the panorama edge mismatch (mean |first column -
last column| over the mean neighbouring-column difference: 1 = no seam) with and without wrap;
(3) a 4096x2048 tiled render in a fresh process: its tiles, time and peak RSS, with the render
budget set so the whole process stays under 3 GB. ``--regions`` runs only (4): the same map
with a second style on a painted region (its left 40 %, feathered), in 384-px tiles against the
one-go two-style render, beside the single-style tiled case, with times.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_line() -> str:
    name, flags = platform.processor() or "unknown CPU", ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
            if line.startswith("Flags:"):
                flags = line
    except (OSError, subprocess.SubprocessError):
        pass
    import torch

    return (f"CPU: {name}; avx512_bf16: {'yes' if 'avx512_bf16' in flags else 'no'}; "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads")


def painted(synth, w: int, h: int) -> np.ndarray:
    from PIL import Image

    from spade_studio.imageio import read_label_map

    ids = read_label_map(ROOT / "tests" / "data" / "painted" / "painted_00_lake_mountains.png", synth.label_set).ids
    return np.asarray(Image.fromarray(ids.astype(np.uint8)).resize((w, h), Image.Resampling.NEAREST))


def accuracy(synth) -> None:
    from spade_studio.model import tiling

    h, w, tile = 512, 1024, 384
    lab = painted(synth, w, h)
    z = synth.random_z(1)
    synth.render(lab[:64, :64], z=z)
    t = time.perf_counter()
    one = synth.render(lab, z=z).image.astype(np.int16)
    t_one = time.perf_counter() - t
    print(f"\n(1) painted map {w}x{h}, {tile}-px tiles, against one go ({t_one:.1f} s)")
    print("| blend (2 x half) | margin | tiles | max | mean | mean in 8-px bands at tile borders | time / one go |")
    print("|---|---|---|---|---|---|---|")
    for half, margin in ((32, 0), (64, 0), (32, 32), (32, 64), (64, 32)):
        plan = tiling.plan_tiles(synth, h, w, tile, False, half_overlap=half, margin=margin)
        t = time.perf_counter()
        acc = tiling.render_tiles(synth, plan, lab.astype(np.int64), None, z)
        dt = time.perf_counter() - t
        img = tiling.to_uint8_hwc(acc).astype(np.int16)
        d = np.abs(img - one)
        band = np.zeros((h, w), bool)
        for r in plan.rows[1:]:
            band[max(0, r.start - 4 + half + margin):r.start + 4 + half + margin] = True
        for c in plan.cols[1:]:
            band[:, max(0, c.start - 4 + half + margin):c.start + 4 + half + margin] = True
        print(f"| {2 * half} | {margin} | {plan.count} | {d.max()} | {d.mean():.3f} | {d[band].mean():.3f} | "
              f"{dt / t_one:.2f} |")


def panorama(synth) -> None:
    from spade_studio.model.tiling import edge_mismatch

    half = painted(synth, 512, 512)
    lab = np.concatenate([half, half[:, ::-1]], axis=1)  # a map that continues across its seam
    z = synth.random_z(1)
    plain = synth.render(lab, z=z).image
    t = time.perf_counter()
    pano = synth.render(lab, z=z, wrap=True)
    dt = time.perf_counter() - t
    tiled = synth.render(lab, z=z, wrap=True, tile=384)
    print("\n(2) panorama 1024x512 (a painted map and its mirror image)")
    print(f"edge mismatch: no wrap {edge_mismatch(plain):.2f}; wrap {edge_mismatch(pano.image):.2f} "
          f"({pano.notes[-1]}, {dt:.1f} s); wrap in 384-px tiles {edge_mismatch(tiled.image):.2f}")


def regions(synth) -> None:
    h, w, tile = 512, 1024, 384
    lab = painted(synth, w, h)
    za, zb = synth.random_z(1), synth.random_z(2)
    mask = np.zeros((h, w), bool)
    mask[:, : int(w * 0.4)] = True
    styles = [(mask, zb)]
    synth.render(lab[:64, :64], z=za)
    rows = []
    for name, kw in (("one style", {}), ("two styles", {"region_styles": styles})):
        t = time.perf_counter()
        one = synth.render(lab, z=za, **kw).image.astype(np.int16)
        t_one = time.perf_counter() - t
        t = time.perf_counter()
        res = synth.render(lab, z=za, tile=tile, **kw)
        t_tiled = time.perf_counter() - t
        d = np.abs(res.image.astype(np.int16) - one)
        rows.append((name, d, t_one, t_tiled, res.notes[-1], one))
    print(f"\n(4) region styles: painted map {w}x{h}, {tile}-px tiles, a second style on the left 40 %")
    print("| styles | max | mean | one go s | tiled s | tiled / one go |")
    print("|---|---|---|---|---|---|")
    for name, d, t_one, t_tiled, _, _ in rows:
        print(f"| {name} | {d.max()} | {d.mean():.3f} | {t_one:.2f} | {t_tiled:.2f} | {t_tiled / t_one:.2f} |")
    shift = np.abs(rows[1][5] - rows[0][5])[mask].mean()
    print(f"{rows[1][4]}; the region's mean change from the one-style render: {shift:.1f} (0..255)")


BIG = r"""
import resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from spade_studio.model.synthesize import Synthesizer
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
s = Synthesizer(sys.argv[2] if len(sys.argv) > 2 else None, device="cpu")
yy, xx = np.mgrid[0:2048, 0:4096]
lab = np.zeros((2048, 4096), np.uint8)
lab[yy > 900 + 80 * np.sin(xx / 300)] = 3
lab[yy > 1400 + 60 * np.sin(xx / 170)] = 10
s.render(lab[:128, :128])
base = rss()
s.memory_budget = (3 << 30) - base - (lab.nbytes)
t = time.perf_counter()
res = s.render(lab, seed=1, tile="auto")
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"{res.notes[-1]}; {dt:.1f} s; RSS before {base / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB "
      f"(render budget {s.memory_budget / 2**20:.0f} MB)")
"""


def big(model: str | None) -> None:
    print("\n(3) 4096x2048, tile auto, the process held under 3 GB")
    args = [sys.executable, "-c", BIG, str(ROOT)] + ([model] if model else [])
    out = subprocess.run(args, capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="model file (default: the bundled one)")
    ap.add_argument("--skip-big", action="store_true", help="skip the 4096x2048 render")
    ap.add_argument("--regions", action="store_true", help="only the region-style comparison (4)")
    args = ap.parse_args()
    from spade_studio.model.synthesize import Synthesizer

    print(cpu_line())
    synth = Synthesizer(args.model, device="cpu")
    print(f"model: {synth.describe()}")
    if args.regions:
        regions(synth)
        return
    accuracy(synth)
    panorama(synth)
    if not args.skip_big:
        big(args.model)
    print(f"\nthis process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
