"""Winograd F(2x2, 3x3) convs: the same function as the direct conv, and the fast path with it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spade_studio.model import make_semantics, winograd
from spade_studio.model.config import GeneratorConfig, SPADENormConfig
from spade_studio.model.fast import optimize_for_inference
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.semantics import label_indices


@pytest.mark.parametrize("n,c_in,c_out,h,w,bias", [(1, 8, 5, 7, 9, True), (2, 16, 24, 8, 8, False),
                                                   (1, 3, 4, 1, 1, True), (1, 32, 32, 5, 2, True),
                                                   (1, 64, 48, 16, 12, False)])
@pytest.mark.parametrize("channels_last", [True, False])
def test_conv3x3_equals_the_direct_conv(n, c_in, c_out, h, w, bias, channels_last):
    g = torch.Generator().manual_seed(c_in * h + w)
    x = torch.randn(n, c_in, h, w, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    wt = torch.randn(c_out, c_in, 3, 3, generator=g)
    b = torch.randn(c_out, generator=g) if bias else None
    want = F.conv2d(x.double(), wt.double(), None if b is None else b.double(), padding=1)
    with torch.inference_mode():
        got = winograd.conv3x3(x, winograd.transform_weight(wt), b)
    assert got.shape == want.shape
    assert (got.double() - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())


@pytest.fixture
def onednn(monkeypatch):
    """The rule was measured with oneDNN's GEMMs (what this machine's first GEMM picks may differ)."""
    from spade_studio.model import gemm

    monkeypatch.setattr(gemm, "_choice", "onednn")


def test_the_measured_rule(onednn, monkeypatch):
    from spade_studio.model import gemm

    assert winograd.wins(1024, 1024, 16, 16) and winograd.wins(1024, 512, 32, 32)
    assert winograd.wins(256, 256, 32, 32) and not winograd.wins(256, 256, 16, 16)
    assert not winograd.wins(256, 128, 64, 64) and not winograd.wins(256, 128, 128, 128)
    assert not winograd.wins(1024, 1024, 128, 128)
    monkeypatch.setattr(gemm, "_choice", "mkl")  # with MKL's GEMMs Winograd lost: direct everywhere
    assert not winograd.wins(1024, 1024, 16, 16)


def test_fast_path_with_winograd_everywhere_is_exact(monkeypatch):
    """Forced onto every 3x3 conv of a small network (the rule picks only wide ones), the fast
    path still matches the plain generator; the convs really went through Winograd."""
    cfg = GeneratorConfig(label_nc=6, ngf=4, crop_size=64, spade=SPADENormConfig("batch", 3, 8), use_vae=True,
                          z_dim=8)
    torch.manual_seed(2)
    g = SPADEGenerator(cfg).eval()
    used = []
    real = winograd.conv3x3
    monkeypatch.setattr(winograd, "wins", lambda *a: True)
    monkeypatch.setattr(winograd, "conv3x3", lambda x, u, b: used.append(x.shape) or real(x, u, b))
    rng = np.random.default_rng(0)
    lab = torch.from_numpy(rng.integers(0, 6, (1, 1, 64, 64)).repeat(4, 2).repeat(4, 3)[:, :, :64, :64])
    z = torch.randn(1, 8)
    plain = copy.deepcopy(g)
    fast = optimize_for_inference(g)
    with torch.inference_mode():
        ref = plain(make_semantics(lab, None, cfg), z)
        got = fast.forward_labels(*label_indices(lab, None, cfg), z)
    assert len(used) >= 14  # conv_0 and conv_1 of all seven blocks
    assert (got - ref).abs().max().item() <= 1e-4
    assert ref.std().item() > 0.05


def test_prepared_weights_are_counted_until_the_first_render_makes_them(onednn):
    """A wide model's Winograd and reordered weights are made once, by the first render, and
    the memory check counts them until then (they are about the size the plan says)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import make_tiny_bundle

    from spade_studio.model.synthesize import Synthesizer

    s = Synthesizer(make_tiny_bundle(ngf=64, crop=128), device="cpu", memory_budget=1 << 40)
    pending = s.G_exact.unprepared_bytes()
    before = s.one_go_bytes(128, 128)
    assert pending > 100 << 20  # ngf 64: the 1024-channel convs' Winograd weights alone
    s.render(np.zeros((64, 64), np.uint8))
    made = sum(u.numel() * 4 for u in s.G_exact._wino.values())
    assert s.G_exact._wino and made <= pending
    assert s.G_exact.unprepared_bytes() == 0
    assert s.one_go_bytes(128, 128) == before - pending
