"""The official test vectors (../shared/reference/vectors) through the section-11 interface."""

from pathlib import Path

import pytest
import torch

from spade_studio.model import build_encoder, build_generator, load_official_state_dict, make_semantics
from trainer import build_discriminator

# vendored copies of ../shared/reference/vectors (so that a plain clone runs these tests)
VECTOR_DIR = Path(__file__).resolve().parent / "data" / "vectors"
FILES = sorted(VECTOR_DIR.glob("*.pt"))
assert len(FILES) == 3, f"the official test vectors are missing from {VECTOR_DIR}"
TOL = 1e-4


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_generator_and_encoder(path):
    d = _load(path)
    cfg, inp, out = d["config"], d["inputs"], d["outputs"]
    G = load_official_state_dict(build_generator(cfg), d["G_state_dict"]).eval()
    with torch.no_grad():
        g = G(inp["semantics"].float(), inp.get("z") if cfg["use_vae"] else None)
    assert g.shape == out["G"].shape
    assert (g - out["G"]).abs().max().item() < TOL
    if "E_state_dict" in d:
        E = load_official_state_dict(build_encoder(cfg), d["E_state_dict"]).eval()
        with torch.no_grad():
            mu, logvar = E(inp["image"])
        assert (mu - out["E_mu"]).abs().max().item() < TOL
        assert (logvar - out["E_logvar"]).abs().max().item() < TOL
        z = mu + inp["eps"] * torch.exp(0.5 * logvar)
        assert (z - inp["z"]).abs().max().item() < TOL


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_semantics_exact(path):
    d = _load(path)
    inp = d["inputs"]
    sem = make_semantics(inp["label"], inp.get("instance"), d["config"])
    assert sem.dtype == torch.float32
    assert torch.equal(sem, inp["semantics"].float())


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_discriminator(path):
    d = _load(path)
    if "D_state_dict" not in d:
        pytest.skip("G-only vector")
    cfg, inp, out = d["config"], d["inputs"], d["outputs"]
    D = load_official_state_dict(build_discriminator(cfg), d["D_state_dict"]).eval()
    sem = inp["semantics"].float()
    x = torch.cat([torch.cat([sem, out["G"]], 1), torch.cat([sem, inp["image"]], 1)], 0)
    with torch.no_grad():
        feats = D(x)
    assert len(feats) == len(out["D"])
    for mine, ref in zip(feats, out["D"]):
        assert len(mine) == len(ref)
        for a, b in zip(mine, ref):
            assert a.shape == b.shape
            assert (a - b).abs().max().item() < TOL


def test_spectral_norm_uses_stored_vectors_in_eval():
    """Eval must not run power iterations: replacing u changes the output."""
    d = _load(FILES[0])
    G = load_official_state_dict(build_generator(d["config"]), d["G_state_dict"]).eval()
    sem = d["inputs"]["semantics"].float()
    with torch.no_grad():
        a = G(sem)
        b = G(sem)
        assert torch.equal(a, b)  # no state change between eval calls
        G.head_0.conv_0.weight_u.mul_(-1.0).add_(0.05)
        c = G(sem)
    assert not torch.allclose(a, c)
