"""Quality of a landscape model, in one command: layout, realism, streaks, style, painted maps, speed.

    python bench/model_quality.py [--model M] [--baseline B] [--size 256] [--scenes 50] [--runs runs]
                                  [--json OUT]

Every number compares generated renders with the real renders of held-out scenes (procedural
landscapes, seed 9001, never trained on; made on first use under ``--runs``):

* layout: the SPADE paper's protocol, a U-Net segmenter trained on real renders (seed 1 scenes;
  trained on first use, cached as ``RUNS/seg128.safetensors``) segments the generated and the
  real renders at 128 px; reported: mIoU and pixel accuracy, and generated / real mIoU;
* realism: Laplacian sliced Wasserstein distance (x1000, Karras et al. 2018, section 5;
  ``trainer.metrics``) between the real and generated renders, at 128 px and at ``--size``;
* artifacts: the streak index (``trainer.metrics.streak_index``) of generated and of real
  renders, and their ratio; also on the hand-painted maps (``tests/data/painted``, made by
  ``bench/make_painted_maps.py``) against the real held-out renders;
* style: ``bench/style_transfer.py``'s pass rate (renderer looks), and the photo case: for real
  photos (``tests/data/shared/data``: COCO-Stuff and ADE20K images) used as style images, the
  share of (map, photo) cases whose render's mean Lab colour is closer to the photo's than the
  render with the mean style (z = 0) is;
* painted-map layout: the segmenter's pixel accuracy on renders of the painted maps against the
  painted labels (crude shapes: a check that the regions keep their classes);
* speed: a ``--size`` render with the fast exact path, and the baseline's plain path, in one run.

``--baseline`` (another model file) runs the same measurements for it, so that a table "before /
after" comes from one run on one CPU. The first output line names the CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from spade_studio.raster import resize_rgb  # noqa: E402

PAINTED = ROOT / "tests" / "data" / "painted"
PHOTOS = ROOT / "tests" / "data" / "shared" / "data"
HELDOUT_SEED, TRAIN_SEED = 9001, 1


def ensure_heldout(runs: Path, size: int, count: int) -> Path:
    from trainer.landscapes import make_landscapes

    folder = runs / f"heldout{size}"
    meta = folder / "dataset.json"
    if not meta.exists() or len(json.loads(meta.read_text())["scenes"]) < count:
        make_landscapes(folder, count, size=size, seed=HELDOUT_SEED)
    return folder


def ensure_segmenter(runs: Path) -> Path:
    from trainer.evaluation import train_segmenter
    from trainer.landscapes import make_landscapes

    seg = runs / "seg128.safetensors"
    if not seg.exists():
        data = runs / "seg_train128"
        if not (data / "dataset.json").exists():
            make_landscapes(data, 1500, size=128, seed=TRAIN_SEED, workers=2)
        train_segmenter(data, seg, size=128, iters=1500, batch=8, width=16, limit=1500, seed=1)
    return seg


def _read_pairs(folder: Path, count: int):
    from spade_studio.imageio import read_label_map, read_rgb

    meta = json.loads((folder / "dataset.json").read_text())
    stems = sorted(meta["scenes"])[:count]
    return [(s, read_label_map(folder / "labels" / f"{s}.png").ids.astype(np.int64),
             read_rgb(folder / "images" / f"{s}.png")) for s in stems]


def _nearest(ids: np.ndarray, size: int) -> np.ndarray:
    """A uint8 label map resized to ``size x size`` (nearest neighbour)."""
    return np.asarray(Image.fromarray(ids.astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST))


def _small(img: np.ndarray, size: int = 128) -> np.ndarray:
    return resize_rgb(img, size, size)


def _seg_scores(seg, images: list[np.ndarray], labels: list[np.ndarray]) -> dict:
    from trainer.evaluation import class_index, confusion, predict, scores_from_confusion

    net, ls, _ = seg
    lut, n = class_index(ls)
    x = torch.stack([torch.from_numpy(_small(im)).permute(2, 0, 1).float() / 127.5 - 1 for im in images])
    pred = predict(net, x)
    tgt = np.stack([lut[_nearest(lb, 128)] for lb in labels])
    return scores_from_confusion(confusion(pred.ravel(), tgt.ravel(), n))


def measure(model: str | None, pairs, size: int, seg, photos: list[np.ndarray], heldout: Path,
            style_maps: int) -> dict:
    from style_transfer import style_pass_rate

    from spade_studio.imageio import read_label_map
    from spade_studio.model import Synthesizer
    from trainer.metrics import laplacian_swd, mean_lab, mean_streak_index

    synth = Synthesizer(model, device="cpu")
    real = [rgb for _, _, rgb in pairs]
    labels = [lab for _, lab, _ in pairs]
    fake = [synth.render(lab, style_image=rgb).image for _, lab, rgb in pairs]
    gen, ref = _seg_scores(seg, fake, labels), _seg_scores(seg, real, labels)
    out = {
        "model": str(model or "bundled"),
        "layout": {"generated_miou": gen["mIoU"], "real_miou": ref["mIoU"], "generated_acc": gen["pixel_accuracy"],
                   "real_acc": ref["pixel_accuracy"], "ratio": gen["mIoU"] / max(ref["mIoU"], 1e-9)},
    }
    swd = laplacian_swd(real, fake)
    out["swd"] = {f"{size}": swd.mean, "128": laplacian_swd([_small(x) for x in real], [_small(x) for x in fake]).mean}
    out["swd_levels"] = swd.per_level  # finest (the full-size Laplacian band) first
    s_real, s_fake = mean_streak_index(real), mean_streak_index(fake)
    out["streaks"] = {"generated": s_fake, "real": s_real, "ratio": s_fake / s_real}
    # hand-painted maps, three styles each (two presets and one held-out real render)
    presets = sorted((ROOT / "resources" / "styles").glob("*.jpg"))
    from spade_studio.imageio import read_rgb

    style_imgs = [read_rgb(presets[0]), read_rgb(presets[-1]), real[0]]
    painted = [_nearest(read_label_map(p).ids, size).astype(np.int64) for p in sorted(PAINTED.glob("*.png"))]
    p_imgs, p_labs = [], []
    for lab in painted:
        for st in style_imgs:
            p_imgs.append(synth.render(lab, style_image=st).image)
            p_labs.append(lab)
    p_seg = _seg_scores(seg, p_imgs, p_labs)
    s_painted = mean_streak_index(p_imgs)
    out["painted"] = {"maps": len(painted), "renders": len(p_imgs), "streak": s_painted,
                      "streak_ratio": s_painted / s_real, "pixel_acc": p_seg["pixel_accuracy"], "miou": p_seg["mIoU"]}
    # style: renderer looks, and real photos
    out["style_looks"] = style_pass_rate(synth, heldout, style_maps, size=size)["pass_rate"]
    moved = total = 0
    z0 = torch.zeros(1, synth.config.z_dim)
    for lab in labels[:8] + painted[:4]:
        base = mean_lab(synth.render(lab, z=z0).image)
        for ph in photos:
            target = mean_lab(ph)
            got = mean_lab(synth.render(lab, style_image=ph).image)
            moved += int(np.linalg.norm(got - target) < np.linalg.norm(base - target))
            total += 1
    out["style_photos"] = {"moved_toward": moved / total, "cases": total}
    # speed: the fast exact path, and the plain network (what every render ran before)
    out["render_ms_fast_exact"] = _median_render_ms(synth, labels[0])
    out["render_ms_plain"] = _median_render_ms(Synthesizer(model, device="cpu", fast=False), labels[0])
    return out


def _median_render_ms(synth, lab: np.ndarray, repeats: int = 5) -> float:
    synth.render(lab, seed=0)  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        synth.render(lab, seed=0)
        ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def _photos() -> list[np.ndarray]:
    from spade_studio.imageio import read_rgb

    files = sorted(PHOTOS.rglob("*.jpg"))
    if not files:
        raise SystemExit(f"no photos under {PHOTOS}")
    return [resize_rgb(read_rgb(f), 256, 256) for f in files]


def print_table(results: list[dict], size: int) -> None:
    rows = [
        ("layout: generated / real mIoU (128 px)", lambda r: f"{r['layout']['ratio'] * 100:.1f} % "
                                                              f"({r['layout']['generated_miou'] * 100:.1f} / "
                                                              f"{r['layout']['real_miou'] * 100:.1f})"),
        ("layout: generated pixel accuracy", lambda r: f"{r['layout']['generated_acc'] * 100:.1f} %"),
        (f"realism: Laplacian SWD x1e3 at {size} px (lower is better)", lambda r: f"{r['swd'][str(size)]:.1f}"),
        ("realism: Laplacian SWD x1e3 at 128 px", lambda r: f"{r['swd']['128']:.1f}"),
        ("realism: SWD per pyramid level, finest first", lambda r: " / ".join(f"{v:.0f}" for v in r["swd_levels"])),
        ("streaks: generated / real (held-out)", lambda r: f"{r['streaks']['ratio']:.2f}x "
                                                           f"({r['streaks']['generated']:.4f} / "
                                                           f"{r['streaks']['real']:.4f})"),
        ("streaks: painted maps / real", lambda r: f"{r['painted']['streak_ratio']:.2f}x"),
        ("painted maps: pixel accuracy / mIoU", lambda r: f"{r['painted']['pixel_acc'] * 100:.1f} % / "
                                                          f"{r['painted']['miou'] * 100:.1f} %"),
        ("style: renderer looks pass rate", lambda r: f"{r['style_looks'] * 100:.1f} %"),
        ("style: photo cases moving toward the photo", lambda r: f"{r['style_photos']['moved_toward'] * 100:.1f} %"
                                                                 f" of {r['style_photos']['cases']}"),
        (f"speed: {size}px render, fast exact / plain (ms)", lambda r: f"{r['render_ms_fast_exact']:.0f} / "
                                                                       f"{r['render_ms_plain']:.0f}"),
    ]
    names = [Path(r["model"]).name for r in results]
    print("\n| metric | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(results))
    for title, fmt in rows:
        print(f"| {title} | " + " | ".join(fmt(r) for r in results) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="model file (default: the bundled model)")
    ap.add_argument("--baseline", action="append", default=[],
                    help="another model measured in the same run (e.g. the previous one); may be repeated")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--scenes", type=int, default=50, help="held-out scenes")
    ap.add_argument("--style-maps", type=int, default=10, help="held-out maps of the renderer-looks style check")
    ap.add_argument("--runs", default="runs", help="cache folder (held-out scenes, segmenter)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    from inference import cpu_line

    from trainer.evaluation import load_segmenter

    torch.set_num_threads(a.threads)
    print(cpu_line(), flush=True)
    runs = Path(a.runs)
    heldout = ensure_heldout(runs, a.size, a.scenes)
    seg = load_segmenter(ensure_segmenter(runs))
    pairs = _read_pairs(heldout, a.scenes)
    photos = _photos()
    results = []
    for model in a.baseline + [a.model]:
        results.append(measure(model, pairs, a.size, seg, photos, heldout, a.style_maps))
        print(json.dumps(results[-1]), flush=True)
    print(f"\n{len(pairs)} held-out scenes (seed {HELDOUT_SEED}) at {a.size} px; {len(photos)} style photos; "
          f"{results[0]['painted']['maps']} painted maps")
    print_table(results, a.size)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
