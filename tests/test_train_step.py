"""The shared-forward GAN step equals the official two-pass one; TrainConfig drives the CLI."""

import argparse
import copy

import pytest
import torch

from spade_studio.model.config import EncoderConfig, GeneratorConfig, SPADENormConfig
from spade_studio.model.encoder import StyleEncoder
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.layers import SpectralNormMixin
from trainer.config import TrainConfig, add_arguments, from_args, to_args
from trainer.discriminator import DiscriminatorConfig, MultiscaleDiscriminator
from trainer.loop import init_weights
from trainer.step import LossWeights, gan_step


def _nets(use_vae: bool):
    torch.manual_seed(0)
    gcfg = GeneratorConfig(label_nc=5, ngf=8, crop_size=64, use_vae=use_vae, spade=SPADENormConfig("batch", 3, 16))
    G, D = SPADEGenerator(gcfg), MultiscaleDiscriminator(DiscriminatorConfig(input_nc=gcfg.semantic_nc + 3, ndf=8))
    E = StyleEncoder(EncoderConfig(ngf=8)) if use_vae else None
    for m in (G, D, E):
        if m is not None:
            init_weights(m)
            m.train()
    with torch.no_grad():  # converge the power iterations: the two forms then see the same sigma
        for _ in range(200):
            for m in D.modules():
                if isinstance(m, SpectralNormMixin):
                    m.power_iteration()
    return G, D, E


def _run(nets, shared: bool, sem, real):
    G, D, E = (copy.deepcopy(n) for n in nets)
    g_params = list(G.parameters()) + (list(E.parameters()) if E is not None else [])
    opt_G = torch.optim.Adam(g_params, lr=1e-4, betas=(0.0, 0.9))
    opt_D = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    torch.manual_seed(7)  # the VAE's noise
    res = gan_step(G, E, D, D, opt_G, opt_D, scaler, sem, real, LossWeights(), shared=shared)
    grads_g = [p.grad.clone() for p in g_params]
    grads_d = [p.grad.clone() for p in D.parameters()]
    return res, grads_g, grads_d, G, D


@pytest.mark.parametrize("use_vae", [False, True])
def test_shared_discriminator_forward_gives_the_two_pass_gradients(use_vae):
    nets = _nets(use_vae)
    lab = torch.randint(0, 5, (2, 1, 64, 64))
    sem = torch.zeros(2, 5, 64, 64).scatter_(1, lab, 1.0)
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    a = _run(nets, True, sem, real)
    b = _run(nets, False, sem, real)
    for k in b[0].g_losses:
        assert torch.allclose(a[0].g_losses[k], b[0].g_losses[k], rtol=1e-5, atol=1e-6), k
    assert torch.allclose(a[0].d_real, b[0].d_real, rtol=1e-5) and torch.allclose(a[0].d_fake, b[0].d_fake, rtol=1e-5)
    for name, ga, gb in (("G", a[1], b[1]), ("D", a[2], b[2])):
        scale = max(float(g.abs().max()) for g in gb)
        worst = max(float((x - y).abs().max()) for x, y in zip(ga, gb))
        assert worst <= 1e-4 * scale, (name, worst, scale)
        assert any(float(g.abs().max()) > 0 for g in ga)
    # both advance the spectral norm's power iteration twice per step
    ua = [m.weight_u for m in a[4].modules() if isinstance(m, SpectralNormMixin)]
    ub = [m.weight_u for m in b[4].modules() if isinstance(m, SpectralNormMixin)]
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(ua, ub))


def test_train_options_come_from_train_config():
    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args(["--data", "d", "--out", "o"])
    assert from_args(a) == TrainConfig(data="d", out="o")  # the CLI's defaults are TrainConfig's
    cfg = TrainConfig(data="d", out="o", size=128, use_vae=True, flip=False, use_instance=True,
                      channels_last=False, decay_start=600, amp="bf16", lr=1e-3)
    assert from_args(p.parse_args(to_args(cfg))) == cfg  # the app's child-process arguments round-trip
    assert "--no-channels-last" in to_args(cfg) and "--instances" in to_args(cfg)
    with pytest.raises(SystemExit):
        p.parse_args(["--data", "d", "--out", "o", "--amp", "fp8"])


def test_fused_adam_makes_the_loop_adams_updates_and_survives_resume():
    from trainer.networks import _keep_fused, make_adam

    torch.manual_seed(3)
    cpu = torch.device("cpu")
    a = [torch.nn.Parameter(torch.randn(s)) for s in [(16, 8, 3, 3), (16,), (300, 7)]]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    start = [p.detach().clone() for p in a]
    fused = make_adam(a, 2e-4, (0.0, 0.9), cpu)
    loop = torch.optim.Adam(b, lr=2e-4, betas=(0.0, 0.9), foreach=False)
    assert fused.param_groups[0]["fused"] is True
    for _ in range(5):
        for p, q in zip(a, b):
            g = torch.randn_like(p)
            p.grad, q.grad = g.clone(), g.clone()
        fused.step()
        loop.step()
    for p, q, p0 in zip(a, b, start):
        assert float((p.detach() - p0).abs().mean()) > 1e-4  # the steps did move the weights
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    # a checkpoint written by the loop optimiser (old runs) resumes into the fused kernel
    again = make_adam(a, 2e-4, (0.0, 0.9), cpu)
    again.load_state_dict(loop.state_dict())
    assert again.param_groups[0]["fused"] is not True  # what load_state_dict alone does
    _keep_fused(again, True)
    assert again.param_groups[0]["fused"] is True
    for p in a:
        p.grad = torch.ones_like(p)
    before = [p.detach().clone() for p in a]
    again.step()
    assert all(not torch.equal(p, q) for p, q in zip(a, before))


def test_spectral_norm_of_a_channels_last_weight_matches_and_does_not_copy(monkeypatch):
    """Channels-last training keeps SN weights channels-last: the power iteration and sigma read
    them as a matrix view in (kh, kw, in) column order, with u and v still in the official order;
    outputs, u, v and the weight gradient match the contiguous layer."""
    import copy

    import torch

    from spade_studio.model.layers import SNConv2d

    torch.manual_seed(0)
    a = SNConv2d(8, 6, 3, padding=1).train()
    b = copy.deepcopy(a).to(memory_format=torch.channels_last).train()
    assert b.weight_orig.is_contiguous(memory_format=torch.channels_last) and not b.weight_orig.is_contiguous()
    x = torch.randn(2, 8, 5, 5)
    for _ in range(3):
        ya, yb = a(x), b(x.contiguous(memory_format=torch.channels_last))
    assert (ya - yb).abs().max().item() < 1e-5
    assert torch.allclose(a.weight_u, b.weight_u, atol=1e-6) and torch.allclose(a.weight_v, b.weight_v, atol=1e-6)
    ya.sum().backward()
    yb.sum().backward()
    assert torch.allclose(a.weight_orig.grad, b.weight_orig.grad, atol=1e-4)
    wm, permuted = b._matrix(b.weight_orig)
    assert permuted and wm.data_ptr() == b.weight_orig.data_ptr()  # a view, no copy
