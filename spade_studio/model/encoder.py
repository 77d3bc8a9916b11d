"""The style (VAE) image encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import EncoderConfig
from .layers import conv2d


def _norm_layer(kind: str, channels: int) -> nn.Module | None:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind in ("batch", "sync_batch"):
        return nn.BatchNorm2d(channels, affine=True)
    return None


class StyleEncoder(nn.Module):
    """RGB image in [-1, 1] -> (mu, logvar), each ``[N, 256]``.

    Any input size is resized to 256x256 (bilinear) first, as the official encoder does.
    """

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ndf = cfg.ngf
        widths = [3, ndf, 2 * ndf, 4 * ndf, 8 * ndf, 8 * ndf, 8 * ndf][: cfg.n_layers + 1]
        for i in range(cfg.n_layers):
            has_norm = cfg.norm != "none"
            conv = conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1, bias=not has_norm,
                          spectral=cfg.spectral)
            norm = _norm_layer(cfg.norm, widths[i + 1])
            setattr(self, f"layer{i + 1}", nn.Sequential(conv, norm) if norm is not None else conv)
        self.so = s0 = 256 // 2**cfg.n_layers
        self.fc_mu = nn.Linear(widths[-1] * s0 * s0, cfg.z_dim)
        self.fc_var = nn.Linear(widths[-1] * s0 * s0, cfg.z_dim)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = image
        if x.shape[-2] != 256 or x.shape[-1] != 256:
            x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)
        x = self.layer1(x)
        for i in range(2, self.cfg.n_layers + 1):
            x = getattr(self, f"layer{i}")(F.leaky_relu(x, 0.2))
        x = F.leaky_relu(x, 0.2).reshape(x.shape[0], -1)
        return self.fc_mu(x), self.fc_var(x)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + eps * torch.exp(0.5 * logvar)
