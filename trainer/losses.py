"""Losses: the SPADE recipe (hinge GAN, feature matching, KL divergence, optional VGG19) and the
OASIS segmentation-discriminator losses (class-balanced cross entropy, LabelMix)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def hinge_d_loss(real_outputs: list[list[torch.Tensor]], fake_outputs: list[list[torch.Tensor]]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(D_real, D_fake) averaged over scales; each uses the last output of a scale."""
    n = len(real_outputs)
    d_real = sum(F.relu(1 - r[-1]).mean() for r in real_outputs) / n
    d_fake = sum(F.relu(1 + f[-1]).mean() for f in fake_outputs) / n
    return d_real, d_fake


def hinge_g_loss(fake_outputs: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(-f[-1].mean() for f in fake_outputs) / len(fake_outputs)


def feature_matching_loss(fake_outputs: list[list[torch.Tensor]], real_outputs: list[list[torch.Tensor]],
                          weight: float) -> torch.Tensor:
    """L1 between intermediate D features of fake and (detached) real, ``weight / num_D`` each."""
    num_d = len(fake_outputs)
    loss = fake_outputs[0][0].new_zeros(())
    for f_scale, r_scale in zip(fake_outputs, real_outputs):
        for f, r in zip(f_scale[:-1], r_scale[:-1]):
            loss = loss + F.l1_loss(f, r.detach()) * (weight / num_d)
    return loss


def kld_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


# VGG19 `features` layout (torchvision indices): conv widths, "M" = max-pool
_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
_TAPS = (1, 6, 11, 20, 29)  # relu1_1 relu2_1 relu3_1 relu4_1 relu5_1
_TAP_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


class VGG19Features(nn.Module):
    """VGG19 ``features`` up to relu5_1 with torchvision's indices, so its weights load."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers[: _TAPS[-1] + 1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _TAPS:
                out.append(x)
        return out


def load_vgg19(path: str | Path) -> VGG19Features:
    """VGG19 from a torchvision state dict file (``features.N.weight``; classifier keys ignored)."""
    from spade_studio.model.official import CheckpointError, read_state_dict

    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(path))
    else:
        sd = read_state_dict(path)
    vgg = VGG19Features()
    own = vgg.state_dict()
    sd = {k: v for k, v in sd.items() if k in own}
    missing = [k for k in own if k not in sd]
    if missing:
        raise CheckpointError(f"{path}: not VGG19 weights (missing {', '.join(missing[:4])})")
    vgg.load_state_dict(sd)
    for p in vgg.parameters():
        p.requires_grad_(False)
    return vgg.eval()


class VGGLoss(nn.Module):
    """The official perceptual loss (images fed in [-1, 1], no ImageNet normalisation)."""

    def __init__(self, vgg: VGG19Features) -> None:
        super().__init__()
        self.vgg = vgg

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        fx, rx = self.vgg(fake), self.vgg(real)
        return sum(w * F.l1_loss(a, b.detach()) for w, a, b in zip(_TAP_WEIGHTS, fx, rx))


# -- OASIS (segmentation discriminator) losses -----------------------------------------------------
def segmentation_targets(sem: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel class index ``[B,H,W]`` (int64) and a validity mask (bool) from the one-hot
    semantics (the first ``n_classes`` channels; an instance-edge channel after them is ignored)."""
    one_hot = sem[:, :n_classes]
    return one_hot.argmax(1), one_hot.sum(1) > 0.5


def class_balance_weights(labels: torch.Tensor, n_classes: int, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel weights ``[B,H,W]``: each class present in the batch gets the same total
    weight (inverse of its pixel count), scaled so that the weights average 1 over valid pixels;
    invalid pixels get 0."""
    if valid is None:
        valid = torch.ones_like(labels, dtype=torch.bool)
    counts = torch.bincount(labels[valid], minlength=n_classes).float()
    present = (counts > 0).sum().clamp_min(1)
    per_class = valid.sum().float() / (present * counts.clamp_min(1))
    return per_class[labels] * valid.float()


def weighted_ce(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel cross entropy of ``logits [B,C,H,W]`` toward ``target [B,H,W]``, weighted
    (``weights [B,H,W]``) and averaged over pixels."""
    ce = F.cross_entropy(logits.float(), target, reduction="none")
    return (ce * weights).mean() if weights is not None else ce.mean()


def oasis_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(D_real, D_fake): real pixels toward their class (class-balanced), fake pixels toward
    the "fake" class (the last channel)."""
    fake_class = torch.full_like(labels, fake_logits.shape[1] - 1)
    return weighted_ce(real_logits, labels, weights), weighted_ce(fake_logits, fake_class)


def oasis_g_loss(fake_logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The generator wants its pixels classified as their (real) class, class-balanced."""
    return weighted_ce(fake_logits, labels, weights)


def encoder_feature_matching(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor],
                             weight: float) -> torch.Tensor:
    """L1 between the OASIS D's encoder outputs on fake and (detached) real images, ``weight / 2``
    per layer (the PatchGAN recipe's per-layer factor with its two scales)."""
    loss = fake_feats[0].new_zeros((), dtype=torch.float32)
    for f, r in zip(fake_feats, real_feats):
        loss = loss + F.l1_loss(f.float(), r.detach().float()) * (weight / 2)
    return loss


def labelmix_mask(labels: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """``[B,1,H,W]`` float mask: 1 on the pixels of a random subset of each image's classes
    (each present class is in it with probability 1/2; draws from torch's global RNG)."""
    b = labels.shape[0]
    n = int(labels.max()) + 1
    pick = torch.rand(b, n, device=labels.device) < 0.5
    mask = torch.gather(pick, 1, labels.reshape(b, -1)).reshape(labels.shape)
    if valid is not None:
        mask = mask & valid
    return mask[:, None].float()


def labelmix_mix(mask: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return mask * real + (1 - mask) * fake


def labelmix_loss(mixed_logits: torch.Tensor, real_logits: torch.Tensor, fake_logits: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """L2 between D's logits on the mixed image and the same mix of its logits on real and fake."""
    target = labelmix_mix(mask, real_logits.float(), fake_logits.float())
    return F.mse_loss(mixed_logits.float(), target)
