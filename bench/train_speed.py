"""Training speed for a given config: iterations/s and images/s, measured in one run.

    python bench/train_speed.py --size 128 --ngf 16 --batch 4 --use-vae [--iters 20] [--rounds 2]
      [--compare]        # plain (official two-pass step, NCHW, loop Adam, dense SPADE) against each
                         # speed-up alone and the defaults, fp32 and bf16

Each variant is a short training run on freshly generated landscapes (no files needed); with
``--rounds`` > 1 the variants alternate so that the machine's drift cancels, and the median
it/s per variant is reported. The first line names the CPU (model, avx512_bf16 or not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def measure(data: Path, out: Path, a: argparse.Namespace, amp: str, channels_last: bool, shared: bool,
            fused: bool = True, pattern: bool = True) -> float:
    import torch

    from trainer import networks
    from trainer.config import TrainConfig
    from trainer.loop import train

    make_adam = networks.make_adam
    if not fused:  # the official optimiser: PyTorch's per-tensor loop
        networks.make_adam = lambda params, lr, betas, device: torch.optim.Adam(params, lr=lr, betas=betas)

    events = []
    cfg = TrainConfig(data=str(data), out=str(out), size=a.size, ngf=a.ngf, ndf=a.ndf, spade_hidden=a.spade_hidden,
                      batch=a.batch, iters=a.iters + a.warmup, use_vae=a.use_vae, amp=amp,
                      channels_last=channels_last, shared_d_forward=shared, pattern_spade=pattern, sample_every=0, save_every=0,
                      log_every=1, threads=a.threads)
    try:
        train(cfg, events.append)
    finally:
        networks.make_adam = make_adam
    steps = [e for e in events if e["event"] == "step"][a.warmup:]
    secs = steps[-1]["elapsed_s"] - steps[0]["elapsed_s"]
    return (len(steps) - 1) / secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--spade-hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--use-vae", action="store_true")
    ap.add_argument("--amp", default="off")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--pattern-spade", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--system-allocator", action="store_true",
                    help="leave glibc's mmap threshold alone (the CLI raises it: spade_studio.model.allocator)")
    a = ap.parse_args()
    from spade_studio.model import allocator

    if not a.system_allocator:
        allocator.keep_large_allocations()
    import torch
    from inference import cpu_line

    from trainer.landscapes import make_landscapes

    torch.set_num_threads(a.threads)
    print(cpu_line().replace("preview precision", "bf16 native") +
          f"; large allocations kept mapped: {'yes' if allocator.kept() else 'no'}")
    variants = {f"amp {a.amp}, channels_last {a.channels_last}, shared D forward, pattern SPADE {a.pattern_spade}":
                (a.amp, a.channels_last, True, True, a.pattern_spade)}
    if a.compare:
        variants = {
            "fp32 plain (two-pass step, NCHW, loop Adam, dense SPADE)": ("off", False, False, False, False),
            "fp32 channels-last only": ("off", True, False, False, False),
            "fp32 shared D forward only": ("off", False, True, False, False),
            "fp32 fused Adam only": ("off", False, False, True, False),
            "fp32 pattern SPADE only": ("off", False, False, False, True),
            "fp32 shared D forward + channels-last + fused Adam": ("off", True, True, True, False),
            "fp32 default (all four)": ("off", True, True, True, True),
            "bf16 autocast + defaults": ("bf16", True, True, True, True),
        }
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        make_landscapes(data, max(8, a.batch * 4), size=a.size, seed=0)
        runs: dict[str, list[float]] = {k: [] for k in variants}
        n = 0
        for r in range(a.rounds):
            keys = list(variants)
            keys = keys[r % len(keys):] + keys[: r % len(keys)]
            for k in keys:
                runs[k].append(measure(data, Path(tmp) / f"run{n}", a, *variants[k]))
                n += 1
        base = None
        print(f"size {a.size}, ngf {a.ngf}, ndf {a.ndf}, SPADE hidden {a.spade_hidden}, batch {a.batch}, "
              f"VAE {a.use_vae}; median of {a.rounds} alternating runs of {a.iters} iterations")
        for k, v in runs.items():
            it_s = statistics.median(v)
            base = base or it_s
            print(f"  {k}: {it_s:.2f} it/s, {it_s * a.batch:.1f} images/s, {it_s / base:.2f}x the first")


if __name__ == "__main__":
    main()
