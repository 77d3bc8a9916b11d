"""The training loop: tiny runs on generated landscapes (CPU)."""

import copy
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from PIL import Image

from spade_studio.model import Synthesizer
from spade_studio.model.checkpoint import load_model_file
from trainer.config import TrainConfig
from trainer.loop import TrainError, train, transfer_weights

TINY = dict(size=64, ngf=4, ndf=8, spade_hidden=16, batch=2, n_layers_D=3, log_every=1)


@pytest.fixture(scope="module")
def landscapes(tmp_path_factory):
    from trainer.landscapes import make_landscapes

    out = tmp_path_factory.mktemp("data") / "land"
    make_landscapes(out, 12, size=64, seed=3)
    return out


def cfg(data, out, **kw):
    base = dict(TINY)
    base.update(kw)
    return TrainConfig(data=str(data), out=str(out), **base)


def test_tiny_run_produces_a_model_that_renders(landscapes, tmp_path):
    events = []
    res = train(cfg(landscapes, tmp_path / "run", iters=4, use_vae=True, sample_every=2, save_every=2),
                events.append)
    assert res.status == "done" and res.step == 4
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    assert all(e["total"] == 4 and e["eta_s"] is not None for e in steps)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and set(json.loads(lines[0])) >= {"step", "epoch", "losses", "it_s", "eta_s", "lr_G"}
    grid = Image.open(tmp_path / "run" / "samples" / "latest.png")
    assert grid.width == 3 * 64 + 4
    bundle = load_model_file(res.model_path)
    assert bundle.label_set.name == "landscape" and bundle.has_encoder
    # a shared model file names its run and data folders, never this machine's paths
    assert bundle.provenance["run"] == "run" and "/" not in json.dumps(bundle.provenance)
    s = Synthesizer(res.model_path, device="cpu")
    lab = np.array(Image.open(landscapes / "labels" / "scene_000000.png"))
    out = s.render(lab, style_image=np.array(Image.open(landscapes / "images" / "scene_000001.png")))
    assert out.image.shape == (64, 64, 3)


def _weights(path):
    return load_model_file(path).G_state_dict


@pytest.mark.slow
def test_resume_equals_uninterrupted(landscapes, tmp_path):
    full = train(cfg(landscapes, tmp_path / "full", iters=6, use_vae=True, save_every=3, sample_every=0))
    calls = {"n": 0}

    def stop_after_4():
        return calls["n"] >= 4

    def count(ev):
        if ev["event"] == "step":
            calls["n"] = ev["step"]

    part = train(cfg(landscapes, tmp_path / "part", iters=6, use_vae=True, save_every=3, sample_every=0),
                 count, stop_after_4)
    assert part.status == "stopped" and part.step == 4
    ck = sorted((tmp_path / "part" / "checkpoints").glob("*.pt"))
    assert ck[-1].name == "ckpt_00000004.pt"  # a stop request saves
    resumed = train(cfg(landscapes, tmp_path / "part", iters=6, use_vae=True, save_every=3, sample_every=0),
                    resume=True)
    assert resumed.step == 6
    a, b = _weights(full.model_path), _weights(resumed.model_path)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_train_leaves_its_config_alone_and_saves_the_resolved_one(landscapes, tmp_path):
    base = train(cfg(landscapes, tmp_path / "base", iters=1, sample_every=0, use_vae=True))
    c = cfg(landscapes, tmp_path / "ft", iters=1, sample_every=0, ngf=8, init_from=str(base.model_path))
    before = copy.deepcopy(c)
    train(c)
    assert c == before and c.preprocess is None and c.ngf == 8 and not c.use_vae
    saved = TrainConfig.load(tmp_path / "ft" / "config.json")
    assert saved.ngf == 4 and saved.use_vae  # the initial model's architecture
    assert (saved.dataset_mode, saved.preprocess, saved.load_size, saved.use_instance) == ("paired", "fixed", 64, False)
    assert saved.iters == 1 and saved.init_from == str(base.model_path)
    # resuming: the run keeps its own architecture; the caller's config is still untouched
    r = cfg(landscapes, tmp_path / "ft", iters=2, sample_every=0, ngf=16, n_layers_D=2)
    before = copy.deepcopy(r)
    res = train(r, resume=True)
    assert res.step == 2 and r == before
    saved = TrainConfig.load(tmp_path / "ft" / "config.json")
    assert (saved.ngf, saved.n_layers_D, saved.iters, saved.init_from) == (4, 3, 2, str(base.model_path))


def test_existing_run_needs_resume(landscapes, tmp_path):
    train(cfg(landscapes, tmp_path / "r", iters=1))
    with pytest.raises(TrainError, match="--resume"):
        train(cfg(landscapes, tmp_path / "r", iters=2))


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "spade_studio.cli", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_sigkill_then_resume_loses_only_unsaved_steps(landscapes, tmp_path):
    run = tmp_path / "killed"
    args = ["train", "--data", landscapes, "--out", run, "--size", 64, "--ngf", 4, "--ndf", 8, "--spade-hidden", 16,
            "--batch", 2, "--n-layers-D", 3, "--iters", 400, "--save-every", 3, "--sample-every", 0,
            "--progress", "jsonl", "--log-every", 1]
    p = _cli(*args)
    # kill as soon as the progress stream reports the step-6 checkpoint (written before the event)
    for line in p.stdout:
        ev = json.loads(line) if line.startswith("{") else {}
        if ev.get("event") == "checkpoint" and ev["step"] >= 6:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    saved = sorted((run / "checkpoints").glob("ckpt_*.pt"))
    assert saved, "no checkpoint before the kill"
    last = int(saved[-1].stem.split("_")[1])
    q = _cli(*[a if a != 400 else last + 2 for a in args], "--resume")
    out, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    start = next(e for e in events if e["event"] == "start")
    assert start["step"] == last
    assert events[-1]["event"] == "done" and events[-1]["step"] == last + 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_only_rank0_writes(landscapes, tmp_path):
    run = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                str(_free_port()), "-m", "trainer"]
    args = ["--data", landscapes, "--out", run, "--size", 64, "--ngf", 4, "--ndf", 8, "--spade-hidden", 16,
            "--batch", 2, "--n-layers-D", 3, "--iters", 3, "--save-every", 2, "--sample-every", 2,
            "--progress", "jsonl"]
    r = subprocess.run(torchrun + list(map(str, args)), cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert sum(1 for e in events if e["event"] == "start") == 1  # only rank 0 reports
    assert next(e for e in events if e["event"] == "start")["world"] == 2
    assert events[-1]["event"] == "done"
    assert len(list(run.glob("metrics.jsonl"))) == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["ckpt_00000002.pt", "ckpt_00000003.pt"]
    s = Synthesizer(run / "model.safetensors", device="cpu")
    assert s.render(np.zeros((64, 64), np.uint8), seed=0).image.shape == (64, 64, 3)


def test_fine_tune_across_label_sets(landscapes, tmp_path):
    base = train(cfg(landscapes, tmp_path / "base", iters=1, sample_every=0))
    # a paired folder in another label set: 4 numbered classes
    other = tmp_path / "other"
    (other / "images").mkdir(parents=True)
    (other / "labels").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        lab = rng.integers(0, 4, size=(8, 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
        Image.fromarray(lab).save(other / "labels" / f"{i}.png")
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(other / "images" / f"{i}.png")
    events = []
    res = train(cfg(other, tmp_path / "ft", iters=1, label_nc=4, init_from=str(base.model_path), lr=0.0,
                    sample_every=0), events.append)
    logs = " ".join(e.get("message", "") for e in events if e["event"] == "log")
    assert "label set differs" in logs and "re-initialised" in logs
    before, after = _weights(base.model_path), _weights(res.model_path)
    assert after["fc.weight"].shape[1] == 4  # label-map fc for 4 classes
    assert after["head_0.norm_0.mlp_shared.0.weight"].shape[1] == 4
    # lr 0: every kept tensor is exactly the initial model's
    assert torch.equal(after["up_1.conv_0.weight_orig"], before["up_1.conv_0.weight_orig"])
    assert torch.equal(after["head_0.norm_0.mlp_gamma.weight"], before["head_0.norm_0.mlp_gamma.weight"])


def test_transfer_weights_reports_label_layers():
    from spade_studio.model.config import GeneratorConfig
    from spade_studio.model.generator import SPADEGenerator

    a = SPADEGenerator(GeneratorConfig(label_nc=5, ngf=2))
    b = SPADEGenerator(GeneratorConfig(label_nc=5, ngf=2))
    copied, fresh = transfer_weights(b, a.state_dict(), True, False)
    assert "fc.weight" in fresh and all(k.endswith(("mlp_shared.0.weight", "mlp_shared.0.bias"))
                                        for k in fresh if k not in ("fc.weight", "fc.bias"))
    assert copied == len(a.state_dict()) - len(fresh)


def test_a_vae_model_moves_to_another_size_as_the_same_function():
    """Fine-tuning a 64-px VAE model at 128 px: its fc is resampled to the new latent grid, so
    the new network starts as exactly what the old one renders at 128 px."""
    from spade_studio.model.config import GeneratorConfig
    from spade_studio.model.generator import SPADEGenerator
    from spade_studio.model.semantics import make_semantics

    small = SPADEGenerator(GeneratorConfig(label_nc=5, ngf=4, crop_size=64, use_vae=True, z_dim=16)).eval()
    big = SPADEGenerator(GeneratorConfig(label_nc=5, ngf=4, crop_size=128, use_vae=True, z_dim=16))
    copied, fresh = transfer_weights(big, small.state_dict(), False, True)
    assert fresh == [] and copied == len(small.state_dict())
    big.eval()
    torch.manual_seed(0)
    sem = make_semantics(torch.randint(0, 5, (1, 1, 128, 128)), None, big.cfg)
    z = torch.randn(1, 16)
    with torch.no_grad():
        want, got = small(sem, z, (4, 4)), big(sem, z)
    assert (want - got).abs().max().item() < 1e-5 and want.std() > 0.01


def test_check_data_cli_exit_codes(landscapes, tmp_path):
    from spade_studio.cli import main

    assert main(["check-data", str(landscapes)]) == 0
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "labels").mkdir()
    assert main(["check-data", str(empty)]) == 1


@pytest.mark.slow
def test_export_and_python_m_trainer(landscapes, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "trainer", "--data", str(landscapes), "--out", str(tmp_path / "m"),
                        "--size", "64", "--ngf", "4", "--ndf", "8", "--spade-hidden", "16", "--iters", "1",
                        "--progress", "none"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    from spade_studio.cli import main

    assert main(["export", str(tmp_path / "m"), "-o", str(tmp_path / "exported.safetensors")]) == 0
    assert load_model_file(tmp_path / "exported.safetensors").generator.ngf == 4
    assert main(["export", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.safetensors")]) == 1



@pytest.mark.slow
def test_a_stop_signal_to_the_whole_process_group_still_saves_with_loader_workers(landscapes, tmp_path):
    """Ctrl+C in a terminal and `timeout` signal every process of the group, the data-loading
    workers too: the run must still finish its step, save a checkpoint and exit cleanly."""
    run = tmp_path / "stopped"
    args = ["train", "--data", landscapes, "--out", run, "--size", 64, "--ngf", 4, "--ndf", 8, "--spade-hidden", 16,
            "--batch", 2, "--n-layers-D", 3, "--iters", 400, "--save-every", 0, "--sample-every", 0,
            "--progress", "jsonl", "--log-every", 1, "--workers", 2]
    p = _cli(*args, start_new_session=True)  # its own process group, as a shell job
    for line in p.stdout:
        ev = json.loads(line) if line.startswith("{") else {}
        if ev.get("event") == "step" and ev["step"] >= 2:
            break
    os.killpg(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "killed by signal" not in err
    events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert events[-1]["event"] in ("stopped", "done"), events[-1]
    assert sorted((run / "checkpoints").glob("ckpt_*.pt")), "no checkpoint saved on the stop"
    assert (run / "model.safetensors").is_file()


def test_a_bilinear_upsampling_run_fine_tunes_a_nearest_model_and_exports_bilinear(tmp_path):
    from conftest import make_tiny_bundle

    from spade_studio.model.checkpoint import load_any, save_model
    from trainer.config import TrainConfig
    from trainer.landscapes import make_landscapes
    from trainer.loop import train

    start = save_model(make_tiny_bundle(use_vae=True, ngf=4, crop=64), tmp_path / "start.safetensors")
    make_landscapes(tmp_path / "data", 2, size=64, seed=0)
    cfg = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), size=64, ndf=8, batch=1, iters=1,
                      use_vae=True, upsampling="bilinear", init_from=str(start), amp="off", sample_every=0,
                      save_every=0, threads=1)
    res = train(cfg, lambda e: None)
    assert load_any(start).generator.upsampling == "nearest"
    assert load_any(res.model_path).generator.upsampling == "bilinear"  # the option, not the start's


def test_a_noise_inputs_run_starts_at_zero_strength_learns_it_and_exports_it(tmp_path):
    """Fine-tuning a model without noise inputs: the strengths start at zero (the start's
    function), training moves them, the model file says so and renders reproducibly."""
    from conftest import make_tiny_bundle

    from spade_studio.model.checkpoint import load_any, save_model
    from trainer.landscapes import make_landscapes

    start = save_model(make_tiny_bundle(use_vae=True, ngf=4, crop=64), tmp_path / "start.safetensors")
    make_landscapes(tmp_path / "data", 2, size=64, seed=0)
    events = []
    c = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), size=64, ndf=8, batch=1, iters=3,
                    use_vae=True, noise_inputs=True, init_from=str(start), amp="off", sample_every=0,
                    save_every=0, threads=1, ema=0.0)
    res = train(c, events.append)
    assert not load_any(start).generator.noise_inputs
    out = load_any(res.model_path)
    assert out.generator.noise_inputs
    strengths = {k: v for k, v in out.G_state_dict.items() if k.endswith("noise_strength")}
    assert len(strengths) == 7
    assert max(float(v.abs().max()) for v in strengths.values()) > 0  # Adam moved them off zero
    s = Synthesizer(res.model_path, device="cpu")
    lab = np.zeros((64, 64), np.uint8)
    lab[32:] = 6
    a, b = s.render(lab, seed=1).image, s.render(lab, seed=1).image
    assert np.array_equal(a, b)
    # an architecture field: a resume keeps the run's own, and says so
    events.clear()
    res2 = train(TrainConfig(**{**c.__dict__, "noise_inputs": False, "iters": 4}), events.append, resume=True)
    assert load_any(res2.model_path).generator.noise_inputs
    assert any("noise_inputs" in str(e.get("message", "")) for e in events)


def test_noise_init_sets_the_strengths_an_initial_model_lacks(tmp_path):
    from conftest import make_tiny_bundle

    from spade_studio.model.checkpoint import load_any, save_model
    from trainer.landscapes import make_landscapes

    start = save_model(make_tiny_bundle(use_vae=True, ngf=4, crop=64), tmp_path / "start.safetensors")
    make_landscapes(tmp_path / "data", 2, size=64, seed=0)
    c = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), size=64, ndf=8, batch=1, iters=1,
                    use_vae=True, noise_inputs=True, noise_init=0.25, lr=0.0, init_from=str(start), amp="off",
                    sample_every=0, save_every=0, threads=1, ema=0.0)
    out = load_any(train(c, lambda e: None).model_path)
    strengths = [v for k, v in out.G_state_dict.items() if k.endswith("noise_strength")]
    assert len(strengths) == 7 and all(torch.all(v == 0.25) for v in strengths)
    kept = load_any(start).G_state_dict["up_3.conv_0.bias"]
    assert torch.equal(out.G_state_dict["up_3.conv_0.bias"], kept.to(out.G_state_dict["up_3.conv_0.bias"].dtype))


def test_style_shuffle_feeds_the_encoder_shuffled_images_in_a_run(landscapes, tmp_path, monkeypatch):
    import trainer.loop as loop

    calls = []
    real_shuffle = loop.shuffle_tiles

    def spy(images, share, *a, **kw):
        out = real_shuffle(images, share, *a, **kw)
        calls.append((share, images.shape, bool(torch.equal(out, images))))
        return out

    monkeypatch.setattr(loop, "shuffle_tiles", spy)
    res = train(cfg(landscapes, tmp_path / "run", iters=2, use_vae=True, style_shuffle=1.0, sample_every=0,
                    save_every=0, threads=1), lambda e: None)
    assert res.model_path is not None and len(calls) == 2
    assert all(share == 1.0 and shape[0] == 2 and not same for share, shape, same in calls)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["style_shuffle"] == 1.0
    calls.clear()  # without the encoder (no VAE), nothing is shuffled
    train(cfg(landscapes, tmp_path / "run2", iters=1, style_shuffle=1.0, sample_every=0, save_every=0, threads=1),
          lambda e: None)
    assert calls == []
