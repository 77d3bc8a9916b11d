import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real sample data (COCO-Stuff, ADE20K) vendored from ../shared/data, same layout."""
    root = ROOT / "tests" / "data" / "shared"
    assert (root / "data" / "coco_stuff_sample").is_dir(), f"vendored sample data missing under {root}"
    return root


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.getbasetemp() / "userdirs"
    monkeypatch.setenv("SPADE_STUDIO_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("SPADE_STUDIO_DATA_DIR", str(base / "data"))


def make_tiny_bundle(label_set_name="landscape", use_vae=True, ngf=4, crop=64, seed=0, **over):
    """A random-weight model in our format (tests only)."""
    import torch

    from spade_studio.labels import load_label_set
    from spade_studio.model.checkpoint import ModelBundle
    from spade_studio.model.config import EncoderConfig, GeneratorConfig
    from spade_studio.model.encoder import StyleEncoder
    from spade_studio.model.generator import SPADEGenerator

    torch.manual_seed(seed)
    ls = load_label_set(label_set_name)
    n = max(ls.ids) + 1 if ls.dontcare_id is None else len(ls) - 1
    kw = dict(label_nc=n, contain_dontcare_label=ls.dontcare_id is not None, ngf=ngf, crop_size=crop,
              use_vae=use_vae)
    kw.update(over)
    g = GeneratorConfig(**kw)
    G = SPADEGenerator(g)
    e_cfg = EncoderConfig(ngf=ngf) if use_vae else None
    E = StyleEncoder(e_cfg) if use_vae else None
    return ModelBundle(g, G.state_dict(), ls, e_cfg, E.state_dict() if E else None, {"source": "test"})


@pytest.fixture
def tiny_model(tmp_path):
    from spade_studio.model.checkpoint import save_model

    return save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
