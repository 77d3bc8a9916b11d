"""The bundled default model: present, small, renders the sample maps, and styles change the look."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from PIL import Image

from spade_studio.cli import main as cli
from spade_studio.paths import default_model_path, resources_dir

PAINTED = Path(__file__).parent / "data" / "painted"
PHOTOS = Path(__file__).parent / "data" / "shared" / "data"


def test_bundled_model_file():
    path = default_model_path()
    assert path is not None, "the bundled model resources/models/landscape.safetensors is missing"
    assert path.stat().st_size <= 30 * 1024 * 1024
    from spade_studio.model.checkpoint import load_model_file

    b = load_model_file(path)
    assert b.label_set.name == "landscape" and b.has_encoder and b.generator.use_vae


def test_render_samples_without_model_and_with_styles(tmp_path):
    sample = sorted((resources_dir() / "samples").glob("landscape_*.png"))[0]
    out = tmp_path / "out.png"
    assert cli(["render", str(sample), "-o", str(out), "--device", "cpu"]) == 0
    img = np.array(Image.open(out)).astype(float)
    assert img.shape == (256, 256, 3) and img.std() > 10
    means = {}
    for style in ("day", "night"):
        o = tmp_path / f"{style}.png"
        assert cli(["render", str(sample), "-o", str(o), "--style",
                    str(resources_dir() / "styles" / f"{style}.jpg")]) == 0
        means[style] = np.array(Image.open(o)).astype(float).mean()
    assert means["night"] < means["day"] - 20  # a night style image makes the render darker


def test_bundled_model_metadata_holds_no_machine_paths():
    import json

    from safetensors import safe_open

    from spade_studio.paths import default_model_path

    with safe_open(str(default_model_path()), "pt") as f:
        meta = f.metadata()
    prov = json.loads(meta["provenance"])
    card = (ROOT / "resources" / "models" / "README.md").read_text(encoding="utf-8")
    assert f"runs/{prov['run']}" in card  # the run the model card describes
    for edit in prov.get("edits", []):  # and each edit made to its weights after the run, with its command
        assert "bench/noise_strength.py model" in card and f"--factor {edit['noise_strength_factor']:g}" in card
    assert not any(p in v for v in meta.values() for p in ('"/work/', '"/root/', '"/home/'))


@pytest.fixture(scope="module")
def synth():
    from spade_studio.model import Synthesizer

    return Synthesizer(None, device="cpu")


@pytest.mark.parametrize("size", [256, 512])
def test_renders_painted_maps_at_256_and_512(synth, size):
    from PIL import Image

    from spade_studio.imageio import read_label_map

    maps = sorted(PAINTED.glob("*.png"))
    assert len(maps) >= 12
    ids = Image.fromarray(read_label_map(maps[0]).ids.astype(np.uint8))
    lab = np.asarray(ids.resize((size, size), Image.Resampling.NEAREST)).astype(np.int64)
    img = synth.render(lab, seed=0).image
    assert img.shape == (size, size, 3) and img.std() > 10
    sky = img[: size // 8].reshape(-1, 3).mean(0)
    assert sky[2] > sky[0]  # the painted sky at the top renders blue-ish


def test_real_photos_as_styles_move_the_colours_toward_them(synth):
    """Style images that do not come from the training renderer (COCO-Stuff / ADE20K photos):
    most renders must move, in mean Lab colour, toward their photo compared with the mean style."""
    from spade_studio.imageio import read_label_map, read_rgb
    from trainer.metrics import mean_lab

    lab = read_label_map(sorted(PAINTED.glob("*.png"))[0]).ids.astype(np.int64)
    base = mean_lab(synth.render(lab, z=torch.zeros(1, synth.config.z_dim)).image)
    photos = sorted(PHOTOS.rglob("*.jpg"))
    assert len(photos) >= 10
    moved, lightness = 0, []
    for p in photos:
        ph = read_rgb(p)
        target, got = mean_lab(ph), mean_lab(synth.render(lab, style_image=ph).image)
        moved += int(np.linalg.norm(got - target) < np.linalg.norm(base - target))
        lightness.append((target[0], got[0]))
    assert moved >= 0.6 * len(photos), f"{moved}/{len(photos)} renders moved toward their photo"
    lightness.sort()
    assert lightness[0][1] < lightness[-1][1] - 10  # the darkest photo gives a darker render than the brightest
