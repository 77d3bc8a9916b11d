"""One GAN iteration: the generator step and the discriminator step.

Two ways to run it, with the same losses and updates:

* ``shared`` (one process): one discriminator forward serves both steps. D's weights do not
  change between the G step and the D step, so its outputs on ``fake`` and ``real`` are the
  same in both; the graph is back-propagated twice, once into the generator's parameters
  (``loss_G``) and once into D's (``loss_D``, which sees ``fake`` as a constant because only
  D's parameters are asked for). This saves one discriminator forward per iteration.
  Spectral norm: D's power iteration advances twice per iteration as in the two-pass form
  (once in the forward, once after it), so u and v follow the same schedule.
* ``two_pass`` (the official order; used under DistributedDataParallel, whose gradient
  reduction expects one backward per forward): a D forward for the G step with D frozen,
  then a second D forward on the detached fake for the D step.

With the OASIS segmentation discriminator (``D.kind == "oasis"``) the same two forms run with
its losses (:func:`oasis_step`): D sees the image alone; the shared form's one D forward takes
fake, real and the LabelMix image together.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch import nn

from spade_studio.model.encoder import reparameterize
from spade_studio.model.layers import SpectralNormMixin

from .losses import (
    class_balance_weights,
    encoder_feature_matching,
    feature_matching_loss,
    hinge_d_loss,
    hinge_g_loss,
    kld_loss,
    labelmix_loss,
    labelmix_mask,
    labelmix_mix,
    oasis_d_loss,
    oasis_g_loss,
    segmentation_targets,
)


@dataclass(frozen=True)
class LossWeights:
    feat: float = 10.0
    vgg: float = 10.0
    kld: float = 0.05
    labelmix: float = 10.0  # OASIS discriminator only


@dataclass
class StepResult:
    g_losses: dict[str, torch.Tensor]
    d_real: torch.Tensor
    d_fake: torch.Tensor
    fake: torch.Tensor
    d_extra: dict[str, torch.Tensor] = field(default_factory=dict)  # further D loss terms (LabelMix)


def _split(pred):
    fake = [[f[: f.shape[0] // 2] for f in scale] for scale in pred]
    real = [[f[f.shape[0] // 2:] for f in scale] for scale in pred]
    return fake, real


def _generate(G: nn.Module, E: nn.Module | None, sem, real, w: LossWeights, vgg_loss, g_sem=None,
              style=None):
    """The fake batch and the generator losses that need no discriminator (KLD, VGG);
    ``g_sem``: what G reads (``sem`` itself, or its :class:`LabelSemantics`); ``style``: what
    the style encoder reads (default ``real``, the image G must reproduce)."""
    losses: dict[str, torch.Tensor] = {}
    z = None
    if E is not None:
        mu, logvar = E(real if style is None else style)
        z = reparameterize(mu.float(), logvar.float())
        losses["KLD"] = kld_loss(mu.float(), logvar.float()) * w.kld
    fake = G(sem if g_sem is None else g_sem, z)
    if vgg_loss is not None:
        losses["VGG"] = vgg_loss(fake.float(), real.float()) * w.vgg
    return losses, fake


def _generator_losses(G: nn.Module, E: nn.Module | None, D: nn.Module, sem, real, w: LossWeights, vgg_loss,
                      g_sem=None, style=None):
    losses, fake = _generate(G, E, sem, real, w, vgg_loss, g_sem, style)
    pred_fake, pred_real = _split(D(torch.cat([torch.cat([sem, fake], 1), torch.cat([sem, real], 1)], 0)))
    losses["GAN"] = hinge_g_loss(pred_fake)
    if w.feat > 0:
        losses["GAN_Feat"] = feature_matching_loss(pred_fake, pred_real, w.feat)
    return losses, fake, pred_fake, pred_real


@contextlib.contextmanager
def _frozen(params):
    """``params`` take no gradients inside (the two-pass form's G step: D is frozen)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _update(scaler: torch.amp.GradScaler, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
    scaler.scale(loss).backward()
    scaler.step(opt)


def _shared_updates(D: nn.Module, scaler: torch.amp.GradScaler, loss_G: torch.Tensor, loss_D: torch.Tensor,
                    g_params: list, d_params: list, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer) -> None:
    """Both updates from one D forward (the module docstring's ``shared`` form)."""
    advance_power_iteration(D)
    scaler.scale(loss_G).backward(inputs=g_params, retain_graph=True)
    scaler.scale(loss_D).backward(inputs=d_params)
    scaler.step(opt_G)
    scaler.step(opt_D)
    scaler.update()


def advance_power_iteration(module: nn.Module) -> None:
    """One more spectral-norm power iteration in every SN layer of ``module`` (train mode)."""
    for m in module.modules():
        if isinstance(m, SpectralNormMixin) and not m.folded and m.training:
            m.power_iteration()


def gan_step(G: nn.Module, E: nn.Module | None, D: nn.Module, D_train: nn.Module,
             opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
             sem: torch.Tensor, real: torch.Tensor, weights: LossWeights, vgg_loss=None,
             autocast=None, shared: bool = True, g_sem=None, style=None) -> StepResult:
    """One iteration; ``G``/``E``/``D_train`` are the networks as trained (DDP-wrapped or not),
    ``D`` the bare discriminator. ``autocast``: a context factory (mixed precision) or None.
    ``g_sem``: the semantics as G reads them (default ``sem``; a
    :class:`~spade_studio.model.label_patterns.LabelSemantics` of ``sem``: same result, faster).
    ``style``: the style encoder's input (default ``real``; :func:`trainer.augment.shuffle_tiles`
    of it under ``--style-shuffle``)."""
    if getattr(D, "kind", "patchgan") == "oasis":
        return oasis_step(G, E, D, D_train, opt_G, opt_D, scaler, sem, real, weights, vgg_loss, autocast, shared,
                          g_sem, style)
    amp = autocast or contextlib.nullcontext
    g_params = [p for grp in opt_G.param_groups for p in grp["params"]]
    d_params = [p for grp in opt_D.param_groups for p in grp["params"]]
    opt_G.zero_grad(set_to_none=True)
    opt_D.zero_grad(set_to_none=True)
    if shared:
        with amp():
            g_losses, fake, pred_fake, pred_real = _generator_losses(G, E, D, sem, real, weights, vgg_loss, g_sem, style)
            loss_G = sum(v.float() for v in g_losses.values())
            d_real, d_fake = hinge_d_loss(pred_real, pred_fake)
            loss_D = (d_real + d_fake).float()
        _shared_updates(D, scaler, loss_G, loss_D, g_params, d_params, opt_G, opt_D)
        return StepResult(g_losses, d_real, d_fake, fake)

    with _frozen(d_params):
        with amp():
            g_losses, fake, _, _ = _generator_losses(G, E, D, sem, real, weights, vgg_loss, g_sem, style)
            loss_G = sum(v.float() for v in g_losses.values())
        _update(scaler, loss_G, opt_G)
    with amp():
        pred_fake, pred_real = _split(D_train(torch.cat([torch.cat([sem, fake.detach()], 1),
                                                         torch.cat([sem, real], 1)], 0)))
        d_real, d_fake = hinge_d_loss(pred_real, pred_fake)
        loss_D = (d_real + d_fake).float()
    _update(scaler, loss_D, opt_D)
    scaler.update()
    return StepResult(g_losses, d_real, d_fake, fake)


def oasis_step(G: nn.Module, E: nn.Module | None, D: nn.Module, D_train: nn.Module,
               opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               sem: torch.Tensor, real: torch.Tensor, weights: LossWeights, vgg_loss=None,
               autocast=None, shared: bool = True, g_sem=None, style=None) -> StepResult:
    """:func:`gan_step` with the OASIS discriminator: class-balanced per-pixel cross entropy for
    G and D, LabelMix (weight ``weights.labelmix``) for D; with ``weights.feat`` > 0, feature
    matching on D's encoder outputs (it is what teaches the style encoder, as there is no VGG)."""
    amp = autocast or contextlib.nullcontext
    g_params = [p for grp in opt_G.param_groups for p in grp["params"]]
    d_params = [p for grp in opt_D.param_groups for p in grp["params"]]
    opt_G.zero_grad(set_to_none=True)
    opt_D.zero_grad(set_to_none=True)
    labels, valid = segmentation_targets(sem, D.n_classes)
    balance = class_balance_weights(labels, D.n_classes, valid)
    use_feat = weights.feat > 0

    def d_losses(pred_fake, pred_real, pred_mix, mask):
        d_real, d_fake = oasis_d_loss(pred_real, pred_fake, labels, balance)
        extra = {"D_LabelMix": labelmix_loss(pred_mix, pred_real, pred_fake, mask) * weights.labelmix}
        return d_real, d_fake, extra, (d_real + d_fake + extra["D_LabelMix"]).float()

    if shared:
        with amp():
            g_losses, fake = _generate(G, E, sem, real, weights, vgg_loss, g_sem, style)
            mask = labelmix_mask(labels, valid)
            mixed = labelmix_mix(mask, real, fake.detach())
            out = D(torch.cat([fake, real, mixed], 0), features=use_feat)
            pred_fake, pred_real, pred_mix = (out[0] if use_feat else out).chunk(3)
            g_losses["GAN"] = oasis_g_loss(pred_fake, labels, balance)
            if use_feat:
                parts = [f.chunk(3) for f in out[1]]
                g_losses["GAN_Feat"] = encoder_feature_matching([p[0] for p in parts], [p[1] for p in parts],
                                                                weights.feat)
            loss_G = sum(v.float() for v in g_losses.values())
            d_real, d_fake, extra, loss_D = d_losses(pred_fake, pred_real, pred_mix, mask)
        _shared_updates(D, scaler, loss_G, loss_D, g_params, d_params, opt_G, opt_D)
        return StepResult(g_losses, d_real, d_fake, fake, extra)

    with _frozen(d_params):
        with amp():
            g_losses, fake = _generate(G, E, sem, real, weights, vgg_loss, g_sem, style)
            if use_feat:
                logits, feats = D(torch.cat([fake, real], 0), features=True)
                parts = [f.chunk(2) for f in feats]
                g_losses["GAN"] = oasis_g_loss(logits.chunk(2)[0], labels, balance)
                g_losses["GAN_Feat"] = encoder_feature_matching([p[0] for p in parts], [p[1] for p in parts],
                                                                weights.feat)
            else:
                g_losses["GAN"] = oasis_g_loss(D(fake), labels, balance)
            loss_G = sum(v.float() for v in g_losses.values())
        _update(scaler, loss_G, opt_G)
    with amp():
        fake_d = fake.detach()
        mask = labelmix_mask(labels, valid)
        mixed = labelmix_mix(mask, real, fake_d)
        pred_fake, pred_real, pred_mix = D_train(torch.cat([fake_d, real, mixed], 0)).chunk(3)
        d_real, d_fake, extra, loss_D = d_losses(pred_fake, pred_real, pred_mix, mask)
    _update(scaler, loss_D, opt_D)
    scaler.update()
    return StepResult(g_losses, d_real, d_fake, fake, extra)
