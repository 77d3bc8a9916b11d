"""Training with SPADE's gamma/beta once per distinct label window (``LabelSemantics``) gives
the dense network's outputs and gradients, for every SPADE variant, and the trainer uses it."""

import copy

import numpy as np
import pytest
import torch

from spade_studio.model import make_semantics
from spade_studio.model.config import GeneratorConfig, SPADENormConfig
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.label_patterns import LabelSemantics, pattern_spade

TOL = 1e-9  # relative to the largest gradient entry; float64, so that only the order of the sums differs
# (in float32 a batch of one through batch/instance norm turns that rounding into 0.1-1 % gradient
# differences: the dense network differs as much from itself with weights changed by 1e-6)


def _blocks_map(h, w, n_labels, block, seed):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, n_labels, size=(-(-h // block), -(-w // block)))
    return np.kron(small, np.ones((block, block), np.int64))[:h, :w]


def _forward_backward(g, seg, z, latent_hw=None):
    g.zero_grad(set_to_none=True)
    out = g(seg, z, latent_hw)
    torch.manual_seed(123)
    (out * torch.randn(out.shape, dtype=torch.float64)).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in g.named_parameters() if p.grad is not None}


def _check(cfg, label, inst=None, z=None, latent_hw=None):
    torch.manual_seed(0)
    g = SPADEGenerator(cfg).double()
    g.train()
    sem = make_semantics(torch.from_numpy(label).reshape(-1, 1, *label.shape[-2:]),
                         None if inst is None else torch.from_numpy(inst).reshape(-1, 1, *inst.shape[-2:]), cfg).double()
    z = None if z is None else z.double()
    g2 = copy.deepcopy(g)
    ref, ref_grads = _forward_backward(g, sem, z, latent_hw)
    seg = LabelSemantics.from_one_hot(sem, cfg, dense_above=1.0)
    assert isinstance(seg, LabelSemantics)
    got, got_grads = _forward_backward(g2, seg, z, latent_hw)
    used = [hw for hw, p in seg._patterns.items() if p is not None]
    assert used, "the pattern path never ran"
    assert (got - ref).abs().max().item() <= 1e-10
    assert set(got_grads) == set(ref_grads)
    scale = max(float(v.abs().max()) for v in ref_grads.values())
    worst = max(float((got_grads[k] - ref_grads[k]).abs().max()) for k in ref_grads)
    assert worst <= TOL * scale, f"gradients differ by {worst} (largest entry {scale})"
    # and the SPADE layers' own weights do get gradients through the pattern path
    assert max(float(v.abs().max()) for k, v in got_grads.items() if "mlp_shared" in k) > 0
    return ref


@pytest.mark.parametrize("norm", ["batch", "instance"])
@pytest.mark.parametrize("kernel", [3, 5])
def test_same_outputs_and_gradients_for_every_norm_and_kernel(norm, kernel):
    # a VAE latent: with a label-map latent, instance norm on the 2x2 head of a uniform
    # region divides rounding noise by ~sqrt(eps), and any two summation orders disagree
    cfg = GeneratorConfig(label_nc=6, ngf=4, crop_size=64, spade=SPADENormConfig(norm, kernel, 8), use_vae=True,
                          z_dim=8)
    torch.manual_seed(kernel)
    _check(cfg, _blocks_map(64, 64, 6, 8, seed=kernel), z=torch.randn(1, 8))


@pytest.mark.parametrize("use_vae", [False, True])
def test_same_gradients_with_dontcare_instances_vae_and_a_batch(use_vae):
    cfg = GeneratorConfig(label_nc=5, contain_dontcare_label=True, use_instance=True, ngf=4, crop_size=64,
                          spade=SPADENormConfig("batch", 3, 8), use_vae=use_vae, z_dim=8)
    label = np.stack([_blocks_map(64, 64, 5, 7, 1), _blocks_map(64, 64, 5, 13, 2)])
    label[0, :9, :9] = 255  # dontcare
    inst = np.stack([_blocks_map(64, 64, 40, 10, 3), _blocks_map(64, 64, 40, 16, 4)])
    z = torch.randn(2, 8) if use_vae else None
    _check(cfg, label, inst, z)


def test_same_gradients_at_an_odd_size():
    cfg = GeneratorConfig(label_nc=4, ngf=4, crop_size=128, num_upsampling_layers="more",
                          spade=SPADENormConfig("batch", 3, 8), use_vae=True, z_dim=8)
    torch.manual_seed(5)
    _check(cfg, _blocks_map(96, 160, 4, 9, seed=5), z=torch.randn(1, 8), latent_hw=(3, 5))


def test_detailed_sizes_run_the_dense_convs_and_soft_maps_are_left_alone():
    cfg = GeneratorConfig(label_nc=6, ngf=4, crop_size=64, spade=SPADENormConfig("batch", 3, 8))
    label = _blocks_map(64, 64, 6, 1, seed=7)  # every pixel its own region: too many windows
    sem = make_semantics(torch.from_numpy(label)[None, None], None, cfg)
    seg = LabelSemantics.from_one_hot(sem, cfg)
    assert seg.patterns((64, 64)) is None and seg.patterns((32, 32)) is None
    coarse = LabelSemantics.from_one_hot(make_semantics(torch.from_numpy(_blocks_map(64, 64, 6, 16, 1))[None, None],
                                                        None, cfg), cfg)
    assert coarse.patterns((64, 64)) is not None
    soft = sem * 0.5
    assert LabelSemantics.from_one_hot(soft, cfg) is soft  # not one-hot: the dense network reads it


def test_training_with_and_without_patterns_gives_the_same_losses(tmp_path, monkeypatch):
    from spade_studio.model import layers
    from trainer.config import TrainConfig
    from trainer.landscapes import make_landscapes
    from trainer.loop import train

    ran = []

    def counted(spade, x, seg):
        out = pattern_spade(spade, x, seg)
        ran.append(out is not None)
        return out

    monkeypatch.setattr(layers, "pattern_spade", counted)
    data = tmp_path / "data"
    make_landscapes(data, 4, size=128, seed=0)
    losses = []
    for pattern in (False, True):
        events = []
        cfg = TrainConfig(data=str(data), out=str(tmp_path / f"run_{pattern}"), size=128, ngf=4, ndf=8,
                          spade_hidden=8, batch=2, iters=4, amp="off", pattern_spade=pattern,
                          sample_every=0, save_every=0, log_every=1, threads=1, seed=4)
        train(cfg, events.append)
        losses.append([e["losses"] for e in events if e["event"] == "step"])
        assert any(ran) == pattern  # the trainer takes the pattern path, and only when asked
    assert len(losses[0]) == 4 and [sorted(a) for a in losses[0]] == [sorted(b) for b in losses[1]]
    # the first step's losses are the same forward; the later ones see weights after the same
    # updates (Adam turns rounding-level gradients into steps of the learning rate, so this is
    # loose: the gradients themselves are checked in float64 above)
    for a, b in zip(*losses):
        for k in a:
            assert abs(a[k] - b[k]) <= 1e-3 * max(1.0, abs(a[k])), (k, a[k], b[k])


@pytest.mark.parametrize("pattern", [False, True])
def test_instance_norm_gradients_are_right_for_a_channels_last_batch_of_one(pattern):
    # PyTorch 2.13's CPU instance norm returns wrong input gradients for a batch of one when
    # the gradient it receives is channels-last, which channels-last training gives it
    from spade_studio.model.layers import SPADE

    torch.manual_seed(0)
    spade = SPADE(4, 6, SPADENormConfig("instance", 3, 8))
    label = torch.from_numpy(_blocks_map(32, 32, 6, 8, seed=1))[None]
    sem = torch.zeros(1, 6, 32, 32).scatter_(1, label[:, None], 1.0)
    x = torch.randn(1, 4, 32, 32)
    grad_out = torch.randn(1, 4, 32, 32)

    def grad_x(module, dtype, channels_last):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        xx = x.to(dtype).contiguous(memory_format=fmt).requires_grad_()
        s = sem.to(dtype).contiguous(memory_format=fmt)
        seg = LabelSemantics(s, label, 6, False, 3, dense_above=1.0) if pattern else s
        out = module.to(dtype).to(memory_format=fmt)(xx, seg)
        (out * grad_out.to(dtype).contiguous(memory_format=fmt)).sum().backward()
        return xx.grad.double()

    ref = grad_x(copy.deepcopy(spade), torch.float64, False)
    got = grad_x(copy.deepcopy(spade), torch.float32, True)
    assert (got - ref).abs().max().item() <= 1e-4
