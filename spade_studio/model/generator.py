"""The SPADE generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .label_patterns import LabelSemantics
from .layers import SPADEResBlock, nearest_resize
from .noise import position_noise

# the blocks in network order; a block's index is its noise stream
BLOCK_NAMES = ("head_0", "G_middle_0", "G_middle_1", "up_0", "up_1", "up_2", "up_3", "up_4")


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
            return SPADEResBlock(fin, fout, c, cfg.spectral, cfg.spade, noise=cfg.noise_inputs)

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

    def noise_scales(self) -> dict[str, int]:
        """Canvas pixels per cell of each block's output (32 for head_0 of a 'normal' model)."""
        more = self.cfg.num_upsampling_layers in ("more", "most")
        names = [n for n in BLOCK_NAMES if hasattr(self, n)]
        scale, out = 1, {}
        for n in reversed(names):
            if n == "head_0" or (n == "G_middle_0" and more):
                scale *= 2  # the doubling after this block
            out[n] = scale
            if n.startswith("up_"):
                scale *= 2  # the doubling before it
        return out

    def noise_place(self, name: str, origin_px: tuple[int, int] = (0, 0),
                    period_px: int | None = None) -> tuple[tuple[int, int], int | None]:
        """``(origin, period)`` at block ``name``'s resolution of a box at ``origin_px`` of a
        canvas ``period_px`` wide (wrapping) in output pixels: what :meth:`add_noise` takes."""
        f = self.noise_scales()[name]
        return (origin_px[0] // f, origin_px[1] // f), (None if period_px is None else period_px // f)

    def add_noise(self, name: str, x: torch.Tensor, origin: tuple[int, int] = (0, 0),
                  period: int | None = None) -> torch.Tensor:
        """Block ``name``'s output ``x`` plus its noise input (``x`` itself for models without
        noise inputs). ``origin``: where ``x``'s first row and column lie in the whole canvas at
        this block's resolution; ``period``: the canvas width there, for wrapping panoramas.
        Training draws fresh noise; inference uses the fixed noise of each position."""
        strength = getattr(getattr(self, name), "noise_strength", None)
        if strength is None:
            return x
        n, _, h, w = x.shape
        if self.training:
            noise = torch.randn(n, 1, h, w, dtype=x.dtype, device=x.device)
        else:
            noise = self.inference_noise(name, origin, (h, w), period, x.device, x.dtype)
        return torch.addcmul(x, strength.to(x.dtype).view(1, -1, 1, 1), noise)

    @staticmethod
    def inference_noise(name: str, origin: tuple[int, int], hw: tuple[int, int], period: int | None,
                        device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The fixed noise ``[1, 1, h, w]`` block ``name`` adds at inference (its stream is the
        block's index in :data:`BLOCK_NAMES`); every inference path asks for it here."""
        return position_noise(BLOCK_NAMES.index(name), origin, hw, period, device, dtype)

    def forward(self, seg: torch.Tensor, z: torch.Tensor | None = None,
                latent_hw: tuple[int, int] | None = None) -> torch.Tensor:
        cfg = self.cfg
        dense = seg.dense if isinstance(seg, LabelSemantics) else seg
        x = self.latent(dense, z, tuple(latent_hw) if latent_hw else cfg.latent_hw)
        x = self.add_noise("head_0", self.head_0(x, seg))
        x = upsample2x(x, cfg.upsampling)
        x = self.add_noise("G_middle_0", self.G_middle_0(x, seg))
        if cfg.num_upsampling_layers in ("more", "most"):
            x = upsample2x(x, cfg.upsampling)
        x = self.add_noise("G_middle_1", self.G_middle_1(x, seg))
        for name in ("up_0", "up_1", "up_2", "up_3"):
            x = upsample2x(x, cfg.upsampling)
            x = self.add_noise(name, getattr(self, name)(x, seg))
        if cfg.num_upsampling_layers == "most":
            x = upsample2x(x, cfg.upsampling)
            x = self.add_noise("up_4", self.up_4(x, seg))
        x = self.conv_img(F.leaky_relu(x, 0.2))
        return torch.tanh(x)
