"""Plain vs fast SPADE inference, measured in one run.

    python bench/inference.py [--configs ade20k coco cityscapes bundled256 bundled512]
                              [--repeats 5] [--threads 2] [--no-memory]

For each config: milliseconds (median of ``--repeats`` after warm-up, the four variants
interleaved so that the machine's drift cancels) of

* ``plain``   the plain generator (``SPADEGenerator`` as built, fp32, as before this change),
* ``exact``   ``optimize_for_inference(g, "exact")`` (fp32, within 1e-4 of plain),
* ``preview`` ``FastGenerator(g, "preview")`` (native reduced precision where there is one),
* ``stroke``  one live stroke update (a 24-px brush dab moved along a short stroke, preview
  mode) after an exact render,

with their ratios to plain and to exact and the max / mean |difference| to plain (exact) and
to exact (preview, stroke). Then peak memory (a child process each: max RSS) at 512x512 for
plain and exact. The first line names the CPU and whether it has avx512_bf16.

Official configs use random weights (no official checkpoint ships here), scaled so that
tanh is not saturated; their timings are what matter. The bundled model has real weights,
so its differences are the meaningful preview/stroke errors. Inputs: a real ADE20K map, a
real COCO-Stuff map (+ its instance map), a synthetic Cityscapes-like street layout, and a
painted landscape sample.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from spade_studio.model import make_semantics  # noqa: E402
from spade_studio.model.config import GeneratorConfig  # noqa: E402
from spade_studio.model.fast import FastGenerator, native_low_precision, optimize_for_inference, resize_nearest  # noqa: E402
from spade_studio.model.generator import SPADEGenerator  # noqa: E402
from spade_studio.model.semantics import label_indices  # noqa: E402
from spade_studio.model.stroke import StrokeRenderer  # noqa: E402

MAPS = ROOT / "tests" / "data" / "maps"
TOLERANCE = StrokeRenderer.__init__.__defaults__[0]  # --tolerance


def cpu_line() -> str:
    model, flags = platform.processor() or "unknown CPU", ""
    family: list[str] = []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            if line.startswith(("CPU family:", "Model:")):  # "AMD EPYC" alone does not say which
                family.append(line.split(":", 1)[1].strip())
            if line.startswith("Flags:"):
                flags = line
    except (OSError, subprocess.CalledProcessError):
        pass
    bf16 = "avx512_bf16" in flags
    lowp = native_low_precision(torch.device("cpu"))
    limit = ""
    if os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("ATEN_CPU_CAPABILITY"):
        limit = (f"; instruction set limited to ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '-')}, "
                 f"ATen {torch.backends.cpu.get_cpu_capability()} (an AVX2-only CPU emulated)")
    if len(family) == 2:
        model += f" (family {family[0]}, model {family[1]})"
    return (f"CPU: {model}; avx512_bf16: {'yes' if bf16 else 'no'}; avx2: {'yes' if 'avx2' in flags else 'no'}"
            f"{limit}; preview precision here: {lowp or 'fp32'}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def resize(a: np.ndarray, hw) -> np.ndarray:
    return np.array(Image.fromarray(a).resize((hw[1], hw[0]), Image.NEAREST))


def street(h: int, w: int) -> np.ndarray:
    """A Cityscapes-like layout: sky, buildings, road, sidewalk, cars, poles (label ids)."""
    lab = np.full((h, w), 23, np.int64)  # sky
    yy, xx = np.mgrid[0:h, 0:w]
    lab[yy > h * 0.25 + 0.1 * h * np.sin(xx / w * 9)] = 11  # building
    lab[yy > h * 0.55] = 7  # road
    lab[(yy > h * 0.55) & (xx < w * 0.15)] = 8  # sidewalk
    for cx in (0.3, 0.55, 0.8):
        lab[(abs(yy - h * 0.65) < h * 0.06) & (abs(xx - w * cx) < w * 0.05)] = 26  # car
    for px in (0.2, 0.45, 0.7):
        lab[(yy < h * 0.6) & (yy > h * 0.2) & (abs(xx - w * px) < 2)] = 17  # pole
    return lab


def calm(g: SPADEGenerator, sem: torch.Tensor, z) -> None:
    """Scale the output conv of a random network so that tanh is not saturated."""
    seen = []
    hook = g.conv_img.register_forward_hook(lambda _m, _i, o: seen.append(o.detach()))
    with torch.inference_mode():
        g(sem, z)
    hook.remove()
    with torch.no_grad():
        g.conv_img.weight.mul_(0.5 / float(seen[0].std()))
        g.conv_img.bias.zero_()


def setup(name: str):
    """(generator, label [H,W] int64, instance or None, z or None, latent_hw, description)."""
    torch.manual_seed(0)
    if name.startswith("bundled"):
        from spade_studio.model.checkpoint import load_any
        from spade_studio.model.official import load_official_state_dict
        from spade_studio.paths import default_model_path

        size = int(name[len("bundled"):] or 256)
        b = load_any(default_model_path())
        g = load_official_state_dict(SPADEGenerator(b.generator), b.G_state_dict).eval()
        lab = resize(np.array(Image.open(ROOT / "resources/samples/landscape_01.png")), (size, size)).astype(np.int64)
        z = torch.randn(1, 256, generator=torch.Generator().manual_seed(0))
        return g, lab, None, z, (size // 32, size // 32), f"bundled landscape model, {size}x{size}, painted map"
    if name == "ade20k":
        cfg = GeneratorConfig(label_nc=150, contain_dontcare_label=True, ngf=64)
        raw = resize(np.array(Image.open(MAPS / "ade20k_val_00000001.png")), (256, 256)).astype(np.int64)
        lab, inst, desc = np.where(raw == 0, 255, raw - 1), None, "official ADE20K config, 256x256, real ADE20K map"
    elif name == "coco":
        cfg = GeneratorConfig(label_nc=182, contain_dontcare_label=True, use_instance=True, ngf=64)
        lab = resize(np.array(Image.open(MAPS / "coco_000000017914.png")), (256, 256)).astype(np.int64)
        inst = resize(np.array(Image.open(MAPS / "coco_000000017914_inst.png")), (256, 256)).astype(np.int64)
        desc = "official COCO-Stuff config, 256x256, real COCO-Stuff map + instances"
    elif name == "cityscapes":
        cfg = GeneratorConfig(label_nc=35, use_instance=True, ngf=64, crop_size=512, aspect_ratio=2.0,
                              num_upsampling_layers="more")
        lab, inst = street(256, 512), None
        desc = "official Cityscapes config, 512x256, synthetic street layout (instances from regions)"
    else:
        raise SystemExit(f"unknown config {name!r}")
    g = SPADEGenerator(cfg).eval()
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    sem = make_semantics(torch.from_numpy(lab)[None, None], None if inst is None else torch.from_numpy(inst)[None, None], cfg)
    calm(g, sem, None)
    return g, lab, inst, None, cfg.latent_hw, desc


def stroke_points(lab: np.ndarray):
    h, w = lab.shape
    cy, cx = h * 0.47, w * 0.4
    return [(cy + 3 * i, cx + 6 * i) for i in range(6)]  # dabs 6-7 px apart: a moving 24-px brush


def dab(lab, cy, cx, r, value):
    yy, xx = np.mgrid[: lab.shape[0], : lab.shape[1]]
    out = lab.copy()
    out[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = value
    return out


def run_config(name: str, repeats: int) -> dict:
    g, lab, inst, z, lhw, desc = setup(name)
    cfg = g.cfg
    plain = copy.deepcopy(g)  # as built: not folded, contiguous (what every render ran before)
    exact = optimize_for_inference(g)
    preview = FastGenerator(exact.plain, "preview")
    sr = StrokeRenderer(preview, tolerance=TOLERANCE)
    lab_t = torch.from_numpy(lab)[None, None]
    inst_t = None if inst is None else torch.from_numpy(inst)[None, None]
    sem = make_semantics(lab_t, inst_t, cfg)
    idx, edge = label_indices(lab_t, inst_t, cfg)
    paint = int(lab.flat[0])  # paint the top-left label (sky, say) into the middle
    frames = [lab]
    for cy, cx in stroke_points(lab):
        frames.append(dab(frames[-1], cy, cx, 12, paint if paint != 255 else 0))
    frame_t = []
    for f in frames:
        ft = torch.from_numpy(f)[None, None]
        frame_t.append(label_indices(ft, inst_t, cfg))
    times = {"plain": [], "exact": [], "preview": [], "stroke": []}
    with torch.inference_mode():
        ref = plain(sem, z, lhw)
        out_e = exact.forward_labels(idx, edge, z, lhw)
        out_p = preview.forward_labels(idx, edge, z, lhw)
        exact.forward_labels(idx, edge, z, lhw)

        def stroke_once():
            sr.render(*frame_t[0], z, lhw, generator=exact)
            ts = []
            for fi, fe in frame_t[1:]:
                t = time.perf_counter()
                got = sr.update(fi, fe, z, lhw)
                ts.append(time.perf_counter() - t)
            return statistics.median(ts), got

        stroke_once()
        runs = {
            "plain": lambda: plain(sem, z, lhw),
            "exact": lambda: exact.forward_labels(idx, edge, z, lhw),
            "preview": lambda: preview.forward_labels(idx, edge, z, lhw),
        }
        shares = []
        order = ["plain", "exact", "preview", "stroke"]
        for r in range(repeats):
            for key in order[r % 4:] + order[: r % 4]:  # rotate the order: drift cancels
                if key == "stroke":
                    dt, got = stroke_once()
                    times["stroke"].append(dt)
                    shares.append(sr.last.recomputed)
                else:
                    t = time.perf_counter()
                    runs[key]()
                    times[key].append(time.perf_counter() - t)
        final_exact = exact.forward_labels(*frame_t[-1], z, lhw)
        reach = stroke_reach(exact, frame_t, z, lhw)
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    res = {
        "config": name, "what": desc, "ms": ms,
        "exact_vs_plain": ms["plain"] / ms["exact"], "preview_vs_plain": ms["plain"] / ms["preview"],
        "stroke_vs_exact": ms["exact"] / ms["stroke"],
        "exact_diff": [(out_e - ref).abs().max().item(), (out_e - ref).abs().mean().item()],
        "preview_diff": [(out_p - out_e).abs().max().item(), (out_p - out_e).abs().mean().item()],
        "stroke_diff": [(got - final_exact).abs().max().item(), (got - final_exact).abs().mean().item()],
        "stroke_recomputed": statistics.median(shares) if shares else None,
        "saturated": float((ref.abs() > 0.95).float().mean()),
        "reach": reach,
    }
    return res


def stroke_reach(exact, frame_t, z, lhw) -> list[dict]:
    """How far each dab of the stroke really reaches, from exact renders before and after it:
    per block, the share of its output pixels that moved by more than the stroke tolerance (of
    that output's spread), the share of image pixels that moved by more than 0.01 and 0.03, the
    dab's own share of the image, and whether the coarsest block's labels changed."""
    outs = []
    for fi, fe in frame_t:
        keep: list[torch.Tensor] = []
        img = exact._run(fi, fe, z, tuple(lhw), keep=keep)
        outs.append((exact.codes(fi, fe), keep, img))
    rows = []
    for (la, ka, ia), (lb, kb, ib) in zip(outs, outs[1:]):
        moved = [float(((x - y).abs().amax(dim=1) > TOLERANCE * float(x.std())).float().mean()) for x, y in zip(ka, kb)]
        d = (ia - ib).abs().amax(dim=1)
        h0, w0 = ka[0].shape[-2:]
        coarse = bool((resize_nearest(la, (h0, w0)) != resize_nearest(lb, (h0, w0))).any())
        rows.append({"blocks": [[int(x.shape[-2]), m] for x, m in zip(ka, moved)], "image_over_0.01": float((d > 0.01).float().mean()),
                     "image_over_0.03": float((d > 0.03).float().mean()), "dab_share": float((la != lb).float().mean()),
                     "coarsest_labels_changed": coarse})
    return rows


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024  # kB -> MB
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(kind: str, name: str) -> None:
    """Peak resident memory of one 512x512 render (Linux: VmHWM, reset before the render)."""
    g, lab, inst, z, lhw, _ = setup(name)
    lab = resize(lab.astype(np.uint8), (512, 512)).astype(np.int64)
    lhw = (512 // g.cfg.stride, 512 // g.cfg.stride)
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    base = _vm("VmRSS")
    with torch.inference_mode():
        if kind == "plain":
            sem = make_semantics(torch.from_numpy(lab)[None, None], None, g.cfg)
            g(sem, z, lhw)
        else:
            f = optimize_for_inference(g)
            idx, edge = label_indices(torch.from_numpy(lab)[None, None], None, g.cfg)
            f.forward_labels(idx, edge, z, lhw)
    peak = _vm("VmHWM")
    print(json.dumps({"peak_mb": peak, "render_mb": peak - base}))


def memory(name: str) -> dict:
    out = {}
    for kind in ("plain", "exact"):
        r = subprocess.run([sys.executable, __file__, "--memory-child", kind, name], capture_output=True, text=True,
                           check=True, env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
        out[kind] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", nargs="+", default=["ade20k", "coco", "cityscapes", "bundled256", "bundled512"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE, help="stroke-update tolerance")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--system-allocator", action="store_true",
                    help="leave glibc's mmap threshold alone (the app raises it: spade_studio.model.allocator)")
    a = ap.parse_args()
    if not a.system_allocator:
        from spade_studio.model.allocator import keep_large_allocations

        keep_large_allocations()
    torch.set_num_threads(a.threads)
    globals()["TOLERANCE"] = a.tolerance
    if a.memory_child:
        memory_child(*a.memory_child)
        return
    from spade_studio.model import allocator, gemm

    print(cpu_line() + f"; large allocations kept mapped: {'yes' if allocator.kept() else 'no'}; "
          f"fast-path fp32 GEMMs: {gemm.backend()} (SPADE_STUDIO_GEMM=mkl|onednn forces one)", flush=True)
    results = []
    for name in a.configs:
        r = run_config(name, a.repeats)
        results.append(r)
        ms = r["ms"]
        print(f"\n{r['what']}")
        print(f"  plain {ms['plain']:.0f} ms | exact {ms['exact']:.0f} ms ({r['exact_vs_plain']:.2f}x) | "
              f"preview {ms['preview']:.0f} ms ({r['preview_vs_plain']:.2f}x) | "
              f"stroke update {ms['stroke']:.1f} ms ({r['stroke_vs_exact']:.2f}x faster than exact, "
              f"{ms['plain'] / ms['stroke']:.1f}x than plain, "
              f"{r['stroke_recomputed']:.0%} of the network recomputed)")
        print(f"  max/mean |diff|: exact-plain {r['exact_diff'][0]:.2e}/{r['exact_diff'][1]:.2e}, "
              f"preview-exact {r['preview_diff'][0]:.3f}/{r['preview_diff'][1]:.4f}, "
              f"stroke-exact {r['stroke_diff'][0]:.3f}/{r['stroke_diff'][1]:.4f}"
              + (f"  (random weights; {r['saturated']:.0%} of outputs saturated)" if not r["config"].startswith("bundled") else ""),
              flush=True)
        for tag, sel in (("dabs that change the coarsest block's labels", True), ("other dabs", False)):
            rows = [x for x in r["reach"] if x["coarsest_labels_changed"] == sel]
            if rows:
                per = " ".join(f"{hw}px {statistics.median(x['blocks'][i][1] for x in rows):.0%}"
                               for i, (hw, _) in enumerate(rows[0]["blocks"]))
                print(f"  reach, {tag} ({len(rows)} of {len(r['reach'])}; the dab itself "
                      f"{statistics.median(x['dab_share'] for x in rows):.1%} of the image): block outputs moved by "
                      f"more than {TOLERANCE:g} of their spread: {per}; image pixels moved > 0.01: "
                      f"{statistics.median(x['image_over_0.01'] for x in rows):.1%}, > 0.03: "
                      f"{statistics.median(x['image_over_0.03'] for x in rows):.1%}", flush=True)
    if not a.no_memory:
        for name in ("ade20k", "bundled512"):
            if name in a.configs:
                m = memory(name)
                ratio = m["exact"]["render_mb"] / max(m["plain"]["render_mb"], 1e-9)
                print(f"\npeak memory at 512x512, {name}: plain {m['plain']['peak_mb']:.0f} MB "
                      f"(+{m['plain']['render_mb']:.0f} MB for the render), exact {m['exact']['peak_mb']:.0f} MB "
                      f"(+{m['exact']['render_mb']:.0f} MB), exact/plain render memory {ratio:.2f}x, "
                      f"peak {m['exact']['peak_mb'] / m['plain']['peak_mb']:.2f}x")
                results.append({"memory": name, **m})
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
