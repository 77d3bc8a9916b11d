"""Losses of the SPADE recipe: hinge GAN, feature matching, KL divergence, optional VGG19."""

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
