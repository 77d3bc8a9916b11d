"""Synthesizer, our model files and the CLI."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, make_tiny_bundle
from PIL import Image

from spade_studio.cli import main as cli
from spade_studio.labels import LabelError
from spade_studio.model import Synthesizer
from spade_studio.model.checkpoint import CheckpointError, load_model_file, save_model
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.official import load_official_state_dict
from spade_studio.model.semantics import make_semantics


def scene(h=64, w=64):
    lab = np.zeros((h, w), np.uint8)
    lab[h // 2:] = 6
    lab[h // 2:, : w // 3] = 10
    return lab


def test_model_file_roundtrip(tmp_path):
    b = make_tiny_bundle()
    p = save_model(b, tmp_path / "m.safetensors")
    b2 = load_model_file(p)
    assert b2.generator == b.generator and b2.encoder == b.encoder
    assert b2.label_set == b.label_set
    assert set(b2.G_state_dict) == set(b.G_state_dict)
    for k, v in b.G_state_dict.items():
        assert torch.equal(v, b2.G_state_dict[k]), k
    assert not list(tmp_path.glob(".*.tmp"))


def test_model_file_errors(tmp_path):
    p = tmp_path / "x.safetensors"
    p.write_bytes(b"garbage that is not safetensors")
    with pytest.raises(CheckpointError, match="x.safetensors"):
        load_model_file(p)
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"), metadata={"format": "other"})
    with pytest.raises(CheckpointError, match="not a SPADE Studio model"):
        load_model_file(tmp_path / "foreign.safetensors")


def test_synthesizer_matches_unfolded_generator(tiny_model):
    s = Synthesizer(tiny_model, device="cpu")
    b = s.bundle
    G = load_official_state_dict(SPADEGenerator(b.generator), b.G_state_dict).eval()
    lab = scene()
    z = s.random_z(5)
    res = s.render(lab, z=z)
    with torch.no_grad():
        sem = make_semantics(torch.from_numpy(lab.astype(np.int64))[None, None], None, b.generator)
        ref = G(sem, z)
    ref_u8 = ((ref + 1) / 2 * 255).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert res.image.dtype == np.uint8 and res.image.shape == (64, 64, 3)
    assert np.abs(res.image.astype(int) - ref_u8.astype(int)).max() <= 1


def test_sizes_seeds_and_styles(tiny_model):
    s = Synthesizer(tiny_model, device="cpu")
    a = s.render(scene(), seed=1).image
    assert np.array_equal(a, s.render(scene(), seed=1).image)
    assert not np.array_equal(a, s.render(scene(), seed=2).image)
    wide = s.render(scene(64, 128), seed=1)
    assert wide.image.shape == (64, 128, 3) and not wide.notes
    odd = s.render(scene(50, 70), seed=1)
    assert odd.image.shape == (50, 70, 3)
    assert odd.notes and "not a multiple of 32" in odd.notes[0]
    style = np.zeros((40, 40, 3), np.uint8)
    style[..., 2] = 200
    z1 = s.encode_style(style)
    z2 = s.encode_style(255 - style)
    assert z1.shape == (1, 256) and not torch.equal(z1, z2)
    assert np.array_equal(s.render(scene(), style_image=style).image, s.render(scene(), z=z1).image)


def test_wrong_ids_name_the_model(tiny_model):
    s = Synthesizer(tiny_model, device="cpu")
    lab = scene()
    lab[0, 0] = 40
    with pytest.raises(LabelError, match=r"40.*landscape.*15 classes"):
        s.render(lab, where="my.png")


def test_device_override():
    with pytest.raises(RuntimeError, match="unknown device"):
        from spade_studio.model.synthesize import pick_device

        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            pick_device("cuda")


def test_coco_sample_map_renders(shared, tmp_path):
    b = make_tiny_bundle("coco_stuff", use_vae=False, ngf=2, crop=256, use_instance=True)
    s = Synthesizer(b, device="cpu")
    lab = np.array(Image.open(shared / "data/coco_stuff_sample/train_label/000000138805.png"))
    inst = np.array(Image.open(shared / "data/coco_stuff_sample/train_inst/000000138805.png"))
    assert 255 in lab
    res = s.render(lab, inst)
    assert res.image.shape == (*lab.shape, 3)
    assert res.image.std() > 0


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "spade_studio.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_cli_convert_info_render_roundtrip(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_official import _random_folder

    folder, _ = _random_folder(tmp_path, {})
    out = tmp_path / "conv.safetensors"
    assert cli(["convert", str(folder), "-o", str(out)]) == 0
    r = _run_cli("info", out)
    assert r.returncode == 0, r.stderr
    assert "20 classes" in r.stdout and "encoder:      yes" in r.stdout
    lab = np.zeros((64, 96), np.uint8)
    lab[32:] = 3
    lab[:, 50:] = 255
    Image.fromarray(lab).save(tmp_path / "map.png")
    style = tmp_path / "style.png"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(style)
    target = tmp_path / "out.png"
    assert cli(["render", str(tmp_path / "map.png"), "-o", str(target), "--model", str(out), "--style", str(style),
                "--device", "cpu"]) == 0
    assert Image.open(target).size == (96, 64)
    outdir = tmp_path / "vars"
    assert cli(["render", str(tmp_path / "map.png"), "-o", str(outdir), "--model", str(folder),
                "--variations", "3", "--seed", "4"]) == 0
    files = sorted(outdir.glob("*.png"))
    assert len(files) == 3
    imgs = [np.array(Image.open(f)) for f in files]
    assert not np.array_equal(imgs[0], imgs[1])


@pytest.mark.slow
def test_cli_errors_are_one_line(tmp_path, tiny_model):
    r = _run_cli("render", tmp_path / "missing.png", "-o", tmp_path / "o.png", "--model", tiny_model)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "missing.png" in r.stderr
    lab = np.full((32, 32), 99, np.uint8)
    Image.fromarray(lab).save(tmp_path / "bad.png")
    r = _run_cli("render", tmp_path / "bad.png", "-o", tmp_path / "o.png", "--model", tiny_model)
    assert r.returncode == 1 and "99" in r.stderr and "15 classes" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "broken.png").write_bytes(b"nope")
    r = _run_cli("render", tmp_path / "broken.png", "-o", tmp_path / "o.png", "--model", tiny_model)
    assert r.returncode == 1 and "broken.png" in r.stderr and "Traceback" not in r.stderr
    r = _run_cli("info", tmp_path / "nothing.safetensors")
    assert r.returncode == 1 and "nothing.safetensors" in r.stderr
    assert not (tmp_path / "o.png").exists()


def test_precision_options(tiny_model):
    from spade_studio.model.synthesize import resolve_precision

    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
    with pytest.raises(RuntimeError, match="precision"):
        resolve_precision("fp8", torch.device("cpu"))
    exact = Synthesizer(tiny_model, device="cpu").render(scene(), seed=3).image.astype(int)
    fast = Synthesizer(tiny_model, device="cpu", precision="bf16").render(scene(), seed=3).image.astype(int)
    assert fast.shape == exact.shape
    assert np.abs(fast - exact).mean() < 4  # bf16 is close to the exact output, not equal
