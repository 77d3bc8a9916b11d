"""Region styles: which blend level joins two styles best (spade_studio/model/regional.py).

    python bench/regional_style.py [--model M] [--repeat 3] [--feathers 0,2,4,8]

For three cases on the bundled samples (a label target: the sea of sample 3, the sky of
sample 4; a painted target: the left half of sample 4, a boundary through uniform texture),
the map is rendered with a global style A (day) and a region style B (sunset) at every blend
level, and with A and B alone. Per level it prints:

* seam: gradient energy in a 3 px band along the region boundary over the same band in the
  two single-style renders (1.0 = no extra edge; the composite of finished renders shows the
  seam where the boundary crosses uniform texture);
* own B / own A: the share of the distance between the single-style renders' mean colours
  that the region (B) and the rest (A) close toward their own style (1.0 = all of it);
* time: over one plain (exact, fast path) render of the same map.

The first line names the CPU and whether it has avx512_bf16.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def cpu_line() -> str:
    model = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return (f"CPU: {model}; avx512_bf16: {'yes' if 'avx512_bf16' in flags else 'no'}; "
            f"torch threads: {torch.get_num_threads()}")


def render_at(synth, lab: np.ndarray, z: torch.Tensor, regions, level: str, feather: float,
              quality: str = "exact") -> tuple[np.ndarray, float]:
    from spade_studio.model import regional
    from spade_studio.model.images import to_uint8
    from spade_studio.model.semantics import label_indices

    t0 = time.process_time()
    h, w = lab.shape
    regs = regional.check_region_styles(regions, h, w, synth.config.z_dim, synth.uses_style)
    with torch.inference_mode():
        lab_t = torch.from_numpy(lab.astype(np.int64))[None, None]
        idx, edge = label_indices(lab_t, None, synth.config)
        lhw = (h // synth.stride, w // synth.stride)
        out = regional.render_regions(synth, idx, edge, z, regs, lhw, quality, level=level, feather=feather)
        img = to_uint8(out.float())[0]
    return img, time.process_time() - t0


def plain_cpu(synth, lab, z, quality: str = "exact") -> float:
    t0 = time.process_time()
    synth.render(lab, z=z, quality=quality)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model file (default: the bundled one)")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (the fastest counts)")
    ap.add_argument("--feathers", default="0,4,16", help="feathers (px) tried at the default level and 'image'")
    args = ap.parse_args(argv)

    from spade_studio.imageio import read_label_map, read_rgb
    from spade_studio.model import regional
    from spade_studio.model.synthesize import Synthesizer
    from spade_studio.paths import resources_dir

    print(cpu_line())
    synth = Synthesizer(args.model)
    print(f"model: {synth.describe()}")
    res = resources_dir()
    za = synth.encode_style(read_rgb(res / "styles" / "day.jpg"))
    zb = synth.encode_style(read_rgb(res / "styles" / "sunset.jpg"))
    s3 = read_label_map(res / "samples" / "landscape_03.png", synth.label_set).ids
    s4 = read_label_map(res / "samples" / "landscape_04.png", synth.label_set).ids
    half = np.zeros(s4.shape, bool)
    half[:, : s4.shape[1] // 2] = True
    cases = [("sample 3, sea", s3, s3 == synth.label_set.id_of("sea")),
             ("sample 4, sky", s4, s4 == synth.label_set.id_of("sky")),
             ("sample 4, left half", s4, half)]

    def measure(level: str, feather: float) -> list[tuple[float, float, float, float]]:
        rows = []
        for _, lab, mask in cases:
            ia, ib = singles[id(lab)]
            ratios, img = [], None
            for _ in range(args.repeat):  # each region render next to a plain one: CPU seconds of this process
                tp = plain_cpu(synth, lab, za)
                img, t = render_at(synth, lab, za, [(mask, zb)], level, feather)
                ratios.append(t / max(tp, 1e-9))
            seam = regional.seam_index(img, [ia, ib], mask)
            own_b = regional.colour_shift(img, ib, ia, mask)
            own_a = regional.colour_shift(img, ia, ib, ~mask)
            rows.append((seam, own_b, own_a, float(np.median(ratios))))
        return rows

    singles = {id(lab): (synth.render(lab, z=za).image, synth.render(lab, z=zb).image) for _, lab, _ in cases}
    plain_s = {id(lab): min(plain_cpu(synth, lab, za) for _ in range(args.repeat)) for _, lab, _ in cases}
    print(f"plain render (CPU s of this process, fastest of {args.repeat}): "
          f"{', '.join(f'{n} {plain_s[id(lab)] * 1000:.0f} ms' for n, lab, _ in cases)} ({s3.shape[1]}x{s3.shape[0]}); "
          f"time = median over repeats of region / plain CPU seconds, measured side by side")
    head = f"{'level':<12} {'feather':>7}  " + "  ".join(f"{n:^27}" for n, _, _ in cases) + f"  {'mean':^27}"
    sub = f"{'':<12} {'':>7}  " + "  ".join(f"{'seam  ownB  ownA  time':^27}" for _ in range(len(cases) + 1))
    print(head)
    print(sub)

    def show(level: str, feather: float) -> None:
        rows = measure(level, feather)
        cells = [f"{s:5.2f} {b:5.2f} {a:5.2f} {t:5.2f}x" for s, b, a, t in rows]
        m = np.mean(np.array(rows), axis=0)
        cells.append(f"{m[0]:5.2f} {m[1]:5.2f} {m[2]:5.2f} {m[3]:5.2f}x")
        print(f"{level:<12} {feather:>7g}  " + "  ".join(f"{c:^27}" for c in cells), flush=True)

    for level in regional.levels(synth.G_exact.layout()):
        show(level, regional.DEFAULT_FEATHER)
    for f in (float(v) for v in args.feathers.split(",") if v.strip()):
        if f != regional.DEFAULT_FEATHER:
            show(regional.DEFAULT_LEVEL, f)
            show("image", f)
    print(f"default: level {regional.DEFAULT_LEVEL}, feather {regional.DEFAULT_FEATHER:g} px")
    # live strokes: with region styles every preview renders whole (no stroke update)
    lab = s4.copy()
    sky = s4 == synth.label_set.id_of("sky")
    upd, whole = [], []
    for i in range(args.repeat):
        synth.render(lab, z=za)  # the stroke renderer's starting point
        lab[180:190, 40 + 10 * i:60 + 10 * i] = synth.label_set.id_of("sea")  # a short brush dab
        upd.append(plain_cpu(synth, lab, za, "preview"))
        whole.append(render_at(synth, lab, za, [(sky, zb)], regional.DEFAULT_LEVEL, regional.DEFAULT_FEATHER,
                               "preview")[1])
    print(f"live stroke preview (256x256 dab): stroke update {np.median(upd) * 1000:.0f} ms, "
          f"with a region style (whole preview render) {np.median(whole) * 1000:.0f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
