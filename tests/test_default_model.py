"""The bundled default model: present, small, renders the sample maps, and styles change the look."""

import numpy as np
import pytest
from PIL import Image

from spade_studio.cli import main as cli
from spade_studio.paths import default_model_path, resources_dir

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="no bundled model in this build")


def test_bundled_model_file():
    path = default_model_path()
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
    assert json.loads(meta["provenance"])["run"] == "default"
    assert not any(p in v for v in meta.values() for p in ('"/work/', '"/root/', '"/home/'))
