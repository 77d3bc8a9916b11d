"""The SPADE generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .label_patterns import LabelSemantics
from .layers import SPADEResBlock, nearest_resize


def upsample2x(x: torch.Tensor, mode: str = "nearest") -> torch.Tensor:
    """Double the feature map: ``mode`` is the config's ``upsampling`` (nearest: official)."""
    if mode == "bilinear":
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    return F.interpolate(x, scale_factor=2, mode="nearest")


class SPADEGenerator(nn.Module):
    """Label map (one-hot semantics) [+ style vector z] -> RGB image in [-1, 1].

    ``forward(semantics, z=None, latent_hw=None)``: ``latent_hw`` overrides the latent grid
    (the official network always uses the one fixed by ``crop_size``); the output is
    ``latent_hw * 2**n_up``. For VAE models the learned grid is resized to ``latent_hw``.
    ``semantics`` may be a :class:`~.label_patterns.LabelSemantics` (same result; training
    computes SPADE's gamma/beta once per distinct label window that way).
    """

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        nf, c = cfg.ngf, cfg.semantic_nc
        sh, sw = cfg.latent_hw
        if cfg.use_vae:
            self.fc = nn.Linear(cfg.z_dim, 16 * nf * sh * sw)
        else:
            self.fc = nn.Conv2d(c, 16 * nf, 3, padding=1)

        def block(fin: int, fout: int) -> SPADEResBlock:
            return SPADEResBlock(fin, fout, c, cfg.spectral, cfg.spade)

        self.head_0 = block(16 * nf, 16 * nf)
        self.G_middle_0 = block(16 * nf, 16 * nf)
        self.G_middle_1 = block(16 * nf, 16 * nf)
        self.up_0 = block(16 * nf, 8 * nf)
        self.up_1 = block(8 * nf, 4 * nf)
        self.up_2 = block(4 * nf, 2 * nf)
        self.up_3 = block(2 * nf, nf)
        final_nc = nf
        if cfg.num_upsampling_layers == "most":
            self.up_4 = block(nf, nf // 2)
            final_nc = nf // 2
        self.conv_img = nn.Conv2d(final_nc, 3, 3, padding=1)

    def latent(self, seg: torch.Tensor, z: torch.Tensor | None, latent_hw: tuple[int, int]) -> torch.Tensor:
        cfg = self.cfg
        if cfg.use_vae:
            if z is None:
                z = torch.randn(seg.shape[0], cfg.z_dim, dtype=seg.dtype, device=seg.device)
            sh, sw = cfg.latent_hw
            x = self.fc(z).view(-1, 16 * cfg.ngf, sh, sw)
            if (sh, sw) != tuple(latent_hw):
                x = F.interpolate(x, size=latent_hw, mode="bilinear", align_corners=False)
            return x
        return self.fc(nearest_resize(seg, latent_hw))

    def forward(self, seg: torch.Tensor, z: torch.Tensor | None = None,
                latent_hw: tuple[int, int] | None = None) -> torch.Tensor:
        cfg = self.cfg
        dense = seg.dense if isinstance(seg, LabelSemantics) else seg
        x = self.latent(dense, z, tuple(latent_hw) if latent_hw else cfg.latent_hw)
        x = self.head_0(x, seg)
        x = upsample2x(x, cfg.upsampling)
        x = self.G_middle_0(x, seg)
        if cfg.num_upsampling_layers in ("more", "most"):
            x = upsample2x(x, cfg.upsampling)
        x = self.G_middle_1(x, seg)
        for name in ("up_0", "up_1", "up_2", "up_3"):
            x = upsample2x(x, cfg.upsampling)
            x = getattr(self, name)(x, seg)
        if cfg.num_upsampling_layers == "most":
            x = upsample2x(x, cfg.upsampling)
            x = self.up_4(x, seg)
        x = self.conv_img(F.leaky_relu(x, 0.2))
        return torch.tanh(x)
