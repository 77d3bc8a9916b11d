"""Training speed for a given config: iterations/s and images/s, measured in one run.

    python bench/train_speed.py --size 128 --ngf 16 --batch 4 [--iters 20] [--amp bf16] [--channels-last]
      [--compare]        # also run fp32 / bf16 / bf16+channels-last and print their ratios

Uses freshly generated landscapes (no files needed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(data: Path, out: Path, a: argparse.Namespace, amp: str, channels_last: bool) -> tuple[float, float]:
    from trainer.config import TrainConfig
    from trainer.loop import train

    events = []
    cfg = TrainConfig(data=str(data), out=str(out), size=a.size, ngf=a.ngf, ndf=a.ndf, spade_hidden=a.spade_hidden,
                      batch=a.batch, iters=a.iters + a.warmup, use_vae=a.use_vae, amp=amp,
                      channels_last=channels_last, sample_every=0, save_every=0, log_every=1, threads=a.threads)
    train(cfg, events.append)
    steps = [e for e in events if e["event"] == "step"][a.warmup:]
    secs = steps[-1]["elapsed_s"] - steps[0]["elapsed_s"]
    it_s = (len(steps) - 1) / secs
    return it_s, it_s * a.batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--spade-hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--use-vae", action="store_true")
    ap.add_argument("--amp", default="off")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--compare", action="store_true")
    a = ap.parse_args()
    from trainer.landscapes import make_landscapes

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        make_landscapes(data, max(8, a.batch * 4), size=a.size, seed=0)
        variants = [(a.amp, a.channels_last)]
        if a.compare:
            variants = [("off", False), ("off", True), ("bf16", False), ("bf16", True)]
        base = None
        for i, (amp, cl) in enumerate(variants):
            it_s, img_s = measure(data, Path(tmp) / f"run{i}", a, amp, cl)
            base = base or it_s
            print(f"size {a.size} ngf {a.ngf} batch {a.batch} amp {amp} channels_last {cl}: "
                  f"{it_s:.2f} it/s, {img_s:.1f} images/s, {it_s / base:.2f}x the first")


if __name__ == "__main__":
    main()
