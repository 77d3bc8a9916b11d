"""Advice for a training run (no Qt): suggested settings, speed and duration estimates, and what
to do when a run fails.

Settings are dicts keyed by :class:`trainer.config.TrainConfig` field names (plus the app's
``low_priority``); values that are not suggested come from TrainConfig's defaults.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any

from .config import TrainConfig
from .runs import RunStatus


def config_defaults() -> dict[str, Any]:
    """TrainConfig's default values by field name (the required fields left out)."""
    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def _round_to(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def suggest_settings(pairs: int, cuda: bool = False, cpus: int | None = None) -> dict[str, Any]:
    """Settings suited to the dataset size and the machine: small networks at 128 px on a CPU
    (one core left for the editor), the official widths at 256 px with CUDA; about 100 epochs
    for small sets, fewer for large ones."""
    d = config_defaults()
    cpus = cpus or os.cpu_count() or 2
    pairs = max(1, int(pairs))
    batch = max(1, min(8 if cuda else 4, pairs))
    epochs = 100 if pairs < 200 else 50 if pairs < 2000 else 20
    iters = min(50000, max(500, _round_to(epochs * pairs / batch, 100)))
    return {
        "size": d["size"] if cuda else 128,
        "batch": batch,
        "iters": iters,
        "use_vae": d["use_vae"],
        "lr": d["lr"],
        "device": d["device"],
        "ngf": d["ngf"] if cuda else 16,
        "spade_hidden": d["spade_hidden"] if cuda else 32,
        "ndf": d["ndf"] if cuda else 32,
        "n_layers_D": d["n_layers_D"],
        "threads": 0 if cuda else max(1, cpus - 1),
        "sample_every": min(1000, max(10, _round_to(iters / 40, 10))),
        "save_every": min(5000, max(50, _round_to(iters / 10, 50))),
        "log_every": max(1, min(25, iters // 400)),
        "low_priority": True,
    }


# Calibration (bench/train_speed.py, 128 px, ngf 16, SPADE hidden 32, ndf 32, batch 4, fp32, on a
# 2-core AMD EPYC with AVX-512): 1.70 it/s on 1 thread, 2.9 on 2 (1.7x, not 2x); the same CPU
# limited to AVX2 kernels (ONEDNN_MAX_CPU_ISA=AVX2) 1.07 it/s on 1 thread (0.63x).
ONE_THREAD_IT_S = 1.7
AVX2_FACTOR = 0.63
THREAD_EXPONENT = 0.77  # 2 threads: 2 ** 0.77 = 1.7x
START_S = 8.0  # the trainer child: importing torch, scanning the data, building the networks
SAMPLE_S = 0.2  # one sample grid at 128 px
CHECKPOINT_S = 0.5  # one checkpoint and model export at 128 px, ngf 16


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return " avx512f" in f.read(200_000)
    except OSError:
        import platform

        return platform.machine().lower() in ("arm64", "aarch64")  # Apple silicon: fast enough here


def _work(s: Mapping[str, Any]) -> float:
    work = (s["size"] / 128) ** 2 * (s["batch"] / 4) * (
        0.55 * (s["ngf"] / 16) ** 2 + 0.25 * (s["spade_hidden"] / 32) * (s["ngf"] / 16) + 0.2 * (s["ndf"] / 32) ** 2)
    return work * (1.15 if s.get("use_vae") else 1.0)


def estimate_it_s(s: Mapping[str, Any], cuda: bool = False, cpus: int | None = None,
                  avx512: bool | None = None) -> float:
    """Rough iterations per second, calibrated on measured CPU runs (the constants above),
    scaled by pixels, batch and (roughly quadratically) network width; CPUs without AVX-512
    get the measured AVX2 factor."""
    cpus = cpus or os.cpu_count() or 2
    device = s.get("device", "auto")
    if device == "cuda" or (device == "auto" and cuda):
        base = 40.0
    elif device == "mps":
        base = 10.0
    else:
        threads = min(s.get("threads") or cpus, cpus)
        base = ONE_THREAD_IT_S * threads ** THREAD_EXPONENT
        if not (_has_avx512() if avx512 is None else avx512):
            base *= AVX2_FACTOR
    return base / max(_work(s), 1e-6)


def estimate_seconds(s: Mapping[str, Any], it_s: float) -> float:
    """Wall time of a whole run at ``it_s``: start-up, the iterations, sample grids and
    checkpoints (``sample_every`` / ``save_every`` of the settings)."""
    iters = int(s.get("iters") or 0)
    px = (s.get("size", 128) / 128) ** 2
    samples = iters // s["sample_every"] if s.get("sample_every") else 0
    ckpts = (iters // s["save_every"] if s.get("save_every") else 0) + 1  # + the final export
    return START_S + iters / max(it_s, 1e-9) + samples * SAMPLE_S * px + ckpts * CHECKPOINT_S * px * (s["ngf"] / 16) ** 2


def format_duration(seconds: float) -> str:
    """``42 s``, ``17 min``, ``3 h 05 min``, ``2.5 days``; ``unknown`` for NaN, inf or negative."""
    if not math.isfinite(seconds) or seconds < 0:
        return "unknown"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} min"
    h, m = divmod(round(minutes), 60)
    if h >= 48:
        return f"{h / 24:.1f} days"
    return f"{h} h {m:02d} min"


_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "cannot allocate memory", "outofmemoryerror",
                  "memoryerror")
_BAD_DATA = ("data folder", "pairs found", "label set", "check-data", "label id")


def advice_for(status: str, message: str, log: list[str], exit_code: int | None = None) -> tuple[str, str]:
    """(title, what to do) for a run that failed or crashed, from its message and last log lines."""
    text = (message + "\n" + "\n".join(log[-40:])).lower()
    crashed = status == RunStatus.CRASHED
    if any(k in text for k in _OUT_OF_MEMORY):
        return ("Out of memory",
                "The trainer ran out of memory. Lower the batch size, the image size or the network "
                "width (ngf), then start again; a paused or crashed run resumes from its last checkpoint.")
    if crashed and exit_code == -9:
        return ("The trainer was killed",
                "The process was killed (by you, or by the system when memory ran out). The run folder keeps "
                "its last checkpoint: Resume continues from it. If it happens again, lower the batch or image size.")
    if "nan/inf" in text:
        return ("Training diverged", "The losses became NaN. Lower the learning rate and start again.")
    if "already holds a run" in text:
        return ("The run folder is taken", "Choose another run folder, or resume that run from the Runs list.")
    if "fewer than one batch" in text:
        return ("Not enough pairs", "The dataset has fewer usable pairs than one batch: lower the batch size.")
    if any(k in text for k in _BAD_DATA):
        return ("The data cannot be used", "Fix the files named above (Check again shows the report), then start.")
    if "init-from" in text or "checkpoint does not fit" in text:
        return ("The starting model cannot be used", "Pick another starting point (or From scratch).")
    if crashed:
        return ("The trainer crashed",
                "The run folder keeps its last checkpoint: Resume continues from it. The log shows the "
                "trainer's last messages.")
    return ("Training failed", "See the log for details.")
