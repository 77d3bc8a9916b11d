"""Advice for a training run (trainer.suggest, no Qt): suggested settings, estimates, failure advice."""

import math
from dataclasses import fields

import pytest

from trainer.config import TrainConfig
from trainer.runs import RunStatus
from trainer.suggest import (
    advice_for,
    config_defaults,
    estimate_it_s,
    estimate_seconds,
    format_duration,
    suggest_settings,
)

REF = dict(size=128, ngf=16, spade_hidden=32, ndf=32, batch=4, use_vae=False, device="cpu", threads=2)


def test_config_defaults_are_the_dataclass_defaults():
    d = config_defaults()
    assert "data" not in d and "out" not in d  # required: no default
    cfg = TrainConfig(data="d", out="o")
    assert all(getattr(cfg, k) == v for k, v in d.items())
    assert set(d) == {f.name for f in fields(TrainConfig)} - {"data", "out"}


def test_suggestions_are_train_config_options():
    names = {f.name for f in fields(TrainConfig)}
    for cuda in (False, True):
        s = suggest_settings(300, cuda=cuda, cpus=4)
        assert set(s) - names == {"low_priority"}
        TrainConfig(data="d", out="o", **{k: v for k, v in s.items() if k in names})  # every value fits


def test_cpu_suggestions_are_small_and_leave_a_core_free():
    s = suggest_settings(8, cuda=False, cpus=4)
    assert s["size"] == 128 and s["ngf"] == 16 and s["spade_hidden"] == 32 and s["ndf"] == 32
    assert s["batch"] == 4 and s["threads"] == 3 and s["low_priority"] is True
    assert suggest_settings(8, cuda=False, cpus=1)["threads"] == 1
    assert suggest_settings(2, cuda=False, cpus=2)["batch"] == 2  # never more than the pairs


def test_cuda_suggestions_use_the_official_widths_from_train_config():
    d = config_defaults()
    s = suggest_settings(5000, cuda=True, cpus=8)
    assert (s["size"], s["ngf"], s["spade_hidden"], s["ndf"]) == (d["size"], d["ngf"], d["spade_hidden"], d["ndf"])
    assert s["batch"] == 8 and s["threads"] == 0
    for k in ("lr", "device", "n_layers_D", "use_vae"):
        assert s[k] == d[k], k


@pytest.mark.parametrize("pairs, epochs", [(50, 100), (1000, 50), (3000, 20)])
def test_iterations_follow_the_epochs_for_the_dataset_size(pairs, epochs):
    s = suggest_settings(pairs, cuda=False, cpus=2)
    want = epochs * pairs / s["batch"]
    assert 500 <= s["iters"] <= 50000 and s["iters"] % 100 == 0
    if 500 < want < 50000:
        assert abs(s["iters"] - want) <= 50
    assert 10 <= s["sample_every"] <= 1000 and s["sample_every"] % 10 == 0
    assert 50 <= s["save_every"] <= 5000 and s["save_every"] % 50 == 0
    assert 1 <= s["log_every"] <= 25
    assert s["sample_every"] <= s["iters"] and s["save_every"] <= s["iters"]


def test_iterations_are_bounded():
    assert suggest_settings(1, cpus=2)["iters"] == 500
    assert suggest_settings(10**6, cuda=True, cpus=2)["iters"] == 50000


def test_estimate_scales_with_pixels_batch_width_and_device():
    base = estimate_it_s(REF, cpus=2, avx512=True)
    assert base == pytest.approx(2.9, rel=0.02)  # the calibration point: measured 2.9 it/s on 2 cores
    assert estimate_it_s({**REF, "threads": 1}, cpus=2, avx512=True) == pytest.approx(1.7)  # measured
    assert estimate_it_s({**REF, "threads": 1}, cpus=2, avx512=False) == pytest.approx(1.07, rel=0.02)  # AVX2
    assert estimate_it_s({**REF, "size": 256}, cpus=2, avx512=True) == pytest.approx(base / 4)
    assert estimate_it_s({**REF, "batch": 8}, cpus=2, avx512=True) == pytest.approx(base / 2)
    assert estimate_it_s({**REF, "use_vae": True}, cpus=2, avx512=True) == pytest.approx(base / 1.15)
    assert estimate_it_s({**REF, "ngf": 32}, cpus=2, avx512=True) < base / 2  # roughly quadratic in the width
    assert estimate_it_s({**REF, "threads": 64}, cpus=2, avx512=True) == pytest.approx(base)  # no more than the cores
    assert estimate_it_s({**REF, "threads": 8}, cpus=8, avx512=True) < 4 * base  # threads scale sub-linearly
    assert estimate_it_s({**REF, "device": "cuda"}, cpus=2) == pytest.approx(40.0)
    assert estimate_it_s({**REF, "device": "auto"}, cuda=True, cpus=2) == pytest.approx(40.0)
    assert estimate_it_s({**REF, "device": "mps"}, cpus=2) == pytest.approx(10.0)


def test_estimated_run_time_counts_start_up_samples_and_checkpoints():
    s = {**REF, "iters": 500, "sample_every": 10, "save_every": 50}
    plain = {**s, "sample_every": 0, "save_every": 0}
    assert estimate_seconds(plain, 2.0) == pytest.approx(8 + 250 + 0.5)  # start-up, iterations, final export
    assert estimate_seconds(s, 2.0) == pytest.approx(8 + 250 + 50 * 0.2 + 11 * 0.5)
    assert estimate_seconds({**s, "size": 256}, 2.0) > estimate_seconds(s, 2.0)


@pytest.mark.parametrize("seconds, text", [
    (0, "1 s"), (42.4, "42 s"), (89, "89 s"), (90, "2 min"), (17 * 60, "17 min"),
    (90 * 60, "1 h 30 min"), (3 * 3600 + 5 * 60, "3 h 05 min"), (60 * 3600, "2.5 days"),
    (math.nan, "unknown"), (math.inf, "unknown"), (-1, "unknown"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_advice_reads_the_message_and_the_log():
    title, text = advice_for("error", "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB", [])
    assert title == "Out of memory" and "batch" in text
    assert advice_for("crashed", "", ["...", "MemoryError"], -9)[0] == "Out of memory"  # before "killed"
    assert advice_for("error", "losses became NaN/inf at step 40", [])[0] == "Training diverged"
    assert advice_for("error", "", ["TrainError: 8 pairs: fewer than one batch"])[0] == "Not enough pairs"
    assert advice_for("error", "run folder already holds a run", [])[0] == "The run folder is taken"
    assert advice_for("error", "no pairs found in /data", [])[0] == "The data cannot be used"
    assert advice_for("error", "the checkpoint does not fit", [])[0] == "The starting model cannot be used"
    assert advice_for("error", "something else", [])[0] == "Training failed"


def test_advice_for_crashes_depends_on_the_exit_code():
    killed = advice_for(RunStatus.CRASHED, "The trainer ended unexpectedly (killed by signal SIGKILL).", [], -9)
    assert killed[0] == "The trainer was killed" and "Resume" in killed[1]
    assert advice_for("crashed", "exit code 1", [], 1)[0] == "The trainer crashed"
    assert advice_for("error", "exit code 1", [], -9)[0] == "Training failed"  # -9 means killed only for a crash


def test_advice_looks_only_at_the_last_log_lines():
    old = ["CUDA out of memory"] + ["fine"] * 40
    assert advice_for("error", "", old)[0] == "Training failed"
    assert advice_for("error", "", old[1:] + ["CUDA out of memory"])[0] == "Out of memory"
