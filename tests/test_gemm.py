"""The fast path's GEMMs: the measured choice of library, row buckets, the same product."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spade_studio.model import gemm
from spade_studio.model.config import GeneratorConfig, SPADENormConfig
from spade_studio.model.fast import optimize_for_inference
from spade_studio.model.generator import SPADEGenerator


@pytest.fixture
def fresh_choice(monkeypatch):
    monkeypatch.setattr(gemm, "_choice", None)
    yield
    gemm._choice = None


@pytest.mark.parametrize("forced", ["mkl", "onednn", ""])
def test_linear_is_the_same_product_with_either_library(forced, fresh_choice, monkeypatch):
    monkeypatch.setenv("SPADE_STUDIO_GEMM", forced)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(37, 300, generator=g)
    w = torch.randn(70, 300, generator=g)
    b = torch.randn(70, generator=g)
    with torch.inference_mode():
        got = gemm.linear(x, w, b)
        got_nb = gemm.linear(x, w)
    assert gemm.backend() in ("mkl", "onednn")
    if forced:
        assert gemm.backend() == forced or not gemm._onednn_available()
    want = (x.double() @ w.double().t() + b.double()).float()
    assert (got - want).abs().max().item() < 1e-4
    assert (got_nb + b - want).abs().max().item() < 1e-4


def test_linear_with_gradients_uses_autograd(fresh_choice, monkeypatch):
    monkeypatch.setenv("SPADE_STUDIO_GEMM", "onednn")
    x = torch.randn(5, 8, requires_grad=True)
    w = torch.randn(3, 8)
    gemm.linear(x, w).sum().backward()
    assert torch.allclose(x.grad, w.sum(0).expand(5, -1))


def test_buckets_are_few_and_never_smaller():
    sizes = range(1, 70000, 7)
    got = [gemm.bucket(m) for m in sizes]
    assert all(b >= m for b, m in zip(got, sizes))
    assert all(b <= max(m + 15, m * 1.125) for b, m in zip(got, sizes))
    octave = {gemm.bucket(m) for m in range(1025, 2049)}
    assert len(octave) == 8  # eight shapes cover an octave of row counts


def test_fast_path_gemms_take_few_shapes_over_many_maps(monkeypatch):
    """The gamma/beta GEMMs' row counts are padded to buckets: over 30 different maps the
    number of distinct shapes stays small (each one costs a cached oneDNN primitive)."""
    cfg = GeneratorConfig(label_nc=8, ngf=8, crop_size=64, use_vae=True, spade=SPADENormConfig("batch", 3, 16))
    torch.manual_seed(0)
    fast = optimize_for_inference(SPADEGenerator(cfg))
    shapes, exact_rows = set(), set()
    original = gemm.linear

    def spy(x, w, b=None):
        if x.shape[1] == 9 * 16:  # gamma | beta: 3x3 windows of 16 hidden channels
            shapes.add((x.shape[0], w.shape[0]))
        return original(x, w, b)

    monkeypatch.setattr(gemm, "linear", spy)
    real_bucket = gemm.bucket
    monkeypatch.setattr(gemm, "bucket", lambda m: exact_rows.add(m) or real_bucket(m))
    rng = np.random.default_rng(1)
    z = torch.randn(1, cfg.z_dim)
    yy, xx = np.mgrid[:64, :64]
    with torch.inference_mode():
        for _ in range(30):
            lab = np.zeros((64, 64), np.int64)
            for _ in range(int(rng.integers(2, 9))):
                cy, cx, r = rng.integers(0, 64, 3)
                lab[(yy - cy) ** 2 + (xx - cx) ** 2 < (r // 2 + 2) ** 2] = rng.integers(0, 8)
            fast.forward_labels(torch.from_numpy(lab)[None], None, z)
    assert len(exact_rows) > 40  # the maps really differ ...
    assert len({m for m, _ in shapes}) < len(exact_rows) / 2  # ... the GEMM shapes far less
    assert all(m == real_bucket(m) for m, _ in shapes)


def test_the_probes_leave_the_global_random_state_alone(fresh_choice, monkeypatch):
    monkeypatch.setenv("SPADE_STUDIO_GEMM", "")
    monkeypatch.setattr(gemm, "_packed_ok", None)
    torch.manual_seed(7)
    want = torch.randn(3)
    torch.manual_seed(7)
    gemm.backend()
    gemm.packing_available()
    assert torch.equal(torch.randn(3), want)
