"""The OASIS segmentation discriminator: shapes, losses, LabelMix, the step and a tiny run."""

import copy
import json

import pytest
import torch
from torch import nn

from spade_studio.model.config import EncoderConfig, GeneratorConfig, SPADENormConfig
from spade_studio.model.encoder import StyleEncoder
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.layers import SpectralNormMixin
from trainer.config import TrainConfig
from trainer.discriminator import OASISConfig, OASISDiscriminator
from trainer.loop import init_weights, train
from trainer.losses import (
    class_balance_weights,
    labelmix_loss,
    labelmix_mask,
    labelmix_mix,
    oasis_d_loss,
    oasis_g_loss,
    segmentation_targets,
    weighted_ce,
)
from trainer.state import load_latest_state
from trainer.step import LossWeights, gan_step


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("hw", [(37, 53), (64, 64), (17, 90)])
def test_output_is_n_plus_one_logits_per_pixel_at_any_size(hw):
    torch.manual_seed(0)
    D = OASISDiscriminator(OASISConfig(n_classes=7, ndf=8, depth=4))
    out, feats = D(torch.randn(2, 3, *hw), features=True)
    assert out.shape == (2, 8, *hw)
    assert torch.isfinite(out).all()
    assert len(feats) == 4 and feats[0].shape[-2:] == ((hw[0] + 1) // 2, (hw[1] + 1) // 2)


def _one_hot_logits(labels, n_out, scale=50.0):
    return torch.nn.functional.one_hot(labels, n_out).permute(0, 3, 1, 2).float() * scale


def test_perfect_logits_give_about_zero_losses_and_wrong_ones_do_not():
    labels = torch.randint(0, 4, (2, 16, 16))
    w = class_balance_weights(labels, 4)
    real = _one_hot_logits(labels, 5)
    fake = _one_hot_logits(torch.full_like(labels, 4), 5)
    d_real, d_fake = oasis_d_loss(real, fake, labels, w)
    assert float(d_real) < 1e-6 and float(d_fake) < 1e-6
    # G wants its fakes classified as the real classes: the perfect D's fakes cost it a lot
    assert float(oasis_g_loss(fake, labels, w)) > 10
    assert float(oasis_g_loss(real, labels, w)) < 1e-6
    swapped = _one_hot_logits((labels + 1) % 4, 5)
    assert float(oasis_d_loss(swapped, real, labels, w)[0]) > 10  # real pixels called the wrong class


def test_class_weights_balance_a_rare_class():
    labels = torch.zeros(1, 10, 10, dtype=torch.long)
    labels[0, 0, :2] = 1  # class 1: 2 pixels of 100
    w = class_balance_weights(labels, 3)
    assert torch.isclose(w.mean(), torch.tensor(1.0))  # average weight 1
    # each present class gets the same total weight; the absent class 2 plays no part
    assert torch.isclose(w[labels == 0].sum(), w[labels == 1].sum())
    assert float(w[labels == 1][0]) == pytest.approx(25.0)  # 100 / (2 classes * 2 pixels)
    # a D that gets only the rare class wrong: the balanced loss sees it, an unweighted mean barely does
    logits = _one_hot_logits(labels, 4, scale=5.0)
    logits[0, :, 0, :2] = _one_hot_logits(torch.zeros(1, 1, 2, dtype=torch.long), 4, 5.0)[0, :, 0]
    balanced = float(weighted_ce(logits, labels, w))
    plain = float(weighted_ce(logits, labels))
    assert balanced > 10 * plain
    # invalid pixels (no class) weigh nothing
    valid = torch.ones_like(labels, dtype=torch.bool)
    valid[0, 5:] = False
    w2 = class_balance_weights(labels, 3, valid)
    assert float(w2[~valid].abs().sum()) == 0 and torch.isclose(w2[valid].mean(), torch.tensor(1.0))


def test_segmentation_targets_ignore_the_instance_edge_channel():
    labels = torch.randint(0, 3, (2, 1, 8, 8))
    sem = torch.zeros(2, 3, 8, 8).scatter_(1, labels, 1.0)
    sem = torch.cat([sem, torch.ones(2, 1, 8, 8)], 1)  # an edge channel that is 1 everywhere
    idx, valid = segmentation_targets(sem, 3)
    assert torch.equal(idx, labels[:, 0]) and bool(valid.all())


def test_labelmix_mask_follows_whole_classes():
    torch.manual_seed(1)
    labels = torch.randint(0, 6, (8, 12, 12))
    mask = labelmix_mask(labels)
    assert mask.shape == (8, 1, 12, 12)
    for b in range(8):
        for c in labels[b].unique():
            vals = mask[b, 0][labels[b] == c].unique()
            assert len(vals) == 1  # a class is either all in or all out
    assert 0 < float(mask.mean()) < 1


def test_labelmix_consistency_is_zero_for_a_per_pixel_linear_d_and_not_otherwise():
    torch.manual_seed(2)
    labels = torch.randint(0, 4, (2, 16, 16))
    mask = labelmix_mask(labels)
    real, fake = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    mixed = labelmix_mix(mask, real, fake)
    linear = nn.Conv2d(3, 5, 1)
    loss = labelmix_loss(linear(mixed), linear(real), linear(fake), mask)
    assert float(loss.detach()) < 1e-10
    spatial = nn.Conv2d(3, 5, 3, padding=1)  # mixes neighbours across class boundaries
    assert float(labelmix_loss(spatial(mixed), spatial(real), spatial(fake), mask)) > 1e-4


def _nets(use_vae=True):
    torch.manual_seed(0)
    gcfg = GeneratorConfig(label_nc=5, ngf=8, crop_size=64, use_vae=use_vae, spade=SPADENormConfig("batch", 3, 16))
    G, D = SPADEGenerator(gcfg), OASISDiscriminator(OASISConfig(n_classes=5, ndf=8, depth=4))
    E = StyleEncoder(EncoderConfig(ngf=8)) if use_vae else None
    for m in (G, E):
        if m is not None:
            init_weights(m)
    for m in (G, D, E):
        if m is not None:
            m.train()
    with torch.no_grad():  # as the trainer builds it; converged: both step forms then see the same sigma
        D.settle_spectral_norm(200)
    return G, D, E


def _step(nets, shared, sem, real, feat=0.0):
    G, D, E = (copy.deepcopy(n) for n in nets)
    g_params = list(G.parameters()) + (list(E.parameters()) if E is not None else [])
    opt_G = torch.optim.Adam(g_params, lr=1e-4, betas=(0.0, 0.9))
    opt_D = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    torch.manual_seed(7)  # the VAE's noise and the LabelMix classes
    res = gan_step(G, E, D, D, opt_G, opt_D, scaler, sem, real, LossWeights(feat=feat), shared=shared)
    return res, [p.grad for p in g_params], [p.grad for p in D.parameters()]


@pytest.mark.parametrize("feat", [0.0, 10.0])
def test_the_g_loss_reaches_g_and_shared_forward_equals_two_pass(feat):
    nets = _nets()
    lab = torch.randint(0, 5, (2, 1, 64, 64))
    sem = torch.zeros(2, 5, 64, 64).scatter_(1, lab, 1.0)
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    a = _step(nets, True, sem, real, feat)
    b = _step(nets, False, sem, real, feat)
    assert set(a[0].g_losses) == ({"GAN", "KLD", "GAN_Feat"} if feat else {"GAN", "KLD"})
    assert "D_LabelMix" in a[0].d_extra
    if feat:  # matching D's encoder features of fake and real: positive for different images
        assert float(a[0].g_losses["GAN_Feat"]) > 0
    # every generator tensor gets a gradient, and the GAN term is not zero
    assert all(g is not None for g in a[1]) and float(a[0].g_losses["GAN"]) > 0
    assert sum(float(g.abs().sum()) for g in a[1]) > 0
    assert all(g is not None for g in a[2]) and float(a[0].d_extra["D_LabelMix"]) >= 0
    for k in b[0].g_losses:
        assert torch.allclose(a[0].g_losses[k], b[0].g_losses[k], rtol=1e-5, atol=1e-6), k
    for x, y in ((a[0].d_real, b[0].d_real), (a[0].d_fake, b[0].d_fake),
                 (a[0].d_extra["D_LabelMix"], b[0].d_extra["D_LabelMix"])):
        assert torch.allclose(x, y, rtol=1e-4, atol=1e-7)
    for name, ga, gb in (("G", a[1], b[1]), ("D", a[2], b[2])):
        scale = max(float(g.abs().max()) for g in gb)
        worst = max(float((x - y).abs().max()) for x, y in zip(ga, gb))
        assert worst <= 1e-4 * scale, (name, worst, scale)


def test_the_g_loss_gradient_alone_reaches_the_generator():
    G, D, _ = _nets(use_vae=False)
    lab = torch.randint(0, 5, (2, 1, 64, 64))
    sem = torch.zeros(2, 5, 64, 64).scatter_(1, lab, 1.0)
    labels, valid = segmentation_targets(sem, 5)
    loss = oasis_g_loss(D(G(sem)), labels, class_balance_weights(labels, 5, valid))
    grads = torch.autograd.grad(loss, list(G.parameters()), allow_unused=True)
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.fixture(scope="module")
def landscapes(tmp_path_factory):
    from trainer.landscapes import make_landscapes

    out = tmp_path_factory.mktemp("data") / "land"
    make_landscapes(out, 6, size=64, seed=3)
    return out


def test_a_tiny_oasis_run_checkpoints_and_resumes(landscapes, tmp_path):
    run = tmp_path / "run"
    kw = dict(data=str(landscapes), out=str(run), size=64, ngf=4, ndf=8, spade_hidden=16, batch=2, log_every=1,
              use_vae=True, discriminator="oasis", sample_every=0, threads=1)
    res = train(TrainConfig(iters=3, save_every=3, **kw))
    assert res.status == "done" and res.step == 3
    assert json.loads((run / "config.json").read_text())["discriminator"] == "oasis"
    state, _ = load_latest_state(run)
    assert int(state["step"]) == 3 and any(k.startswith("down.0.") for k in state["D"])
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"GAN", "GAN_Feat", "KLD", "D_real", "D_Fake", "D_LabelMix"} <= set(lines[-1]["losses"])
    # resuming continues the OASIS run (the saved config wins over the command's default D)
    notes = []
    res2 = train(TrainConfig(iters=4, save_every=4, **{**kw, "discriminator": "patchgan"}),
                 lambda ev: notes.append(ev), resume=True)
    assert res2.status == "done" and res2.step == 4
    state, _ = load_latest_state(run)
    assert int(state["step"]) == 4 and any(k.startswith("down.0.") for k in state["D"])


def test_an_old_run_without_the_field_resumes_as_patchgan(tmp_path):
    cfg = TrainConfig(data="d", out="o").to_dict()
    del cfg["discriminator"], cfg["lambda_labelmix"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    old = TrainConfig.load(tmp_path / "config.json")
    assert old.discriminator == "patchgan" and "discriminator" in TrainConfig.ARCH_FIELDS


def test_settled_spectral_norm_gives_unit_norm_layers():
    torch.manual_seed(3)
    D = OASISDiscriminator(OASISConfig(n_classes=4, ndf=8, depth=3))
    D.settle_spectral_norm()
    for m in D.modules():
        if isinstance(m, SpectralNormMixin):
            wm = m.weight_orig.detach().reshape(m.weight_orig.shape[0], -1)
            sigma = float(torch.dot(m.weight_u, wm @ m.weight_v))
            assert sigma == pytest.approx(float(torch.linalg.matrix_norm(wm, ord=2)), rel=0.02)
