"""Multiscale PatchGAN discriminator (official key layout)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_studio.model.config import OFFICIAL_DEFAULTS, ConfigError
from spade_studio.model.layers import conv2d


@dataclass(frozen=True)
class DiscriminatorConfig:
    input_nc: int  # semantic_nc + 3
    ndf: int = 64
    n_layers: int = 4
    num_D: int = 2
    spectral: bool = True
    norm: str = "instance"  # instance | batch | sync_batch | none
    get_intermediate_features: bool = True  # official: not no_ganFeat_loss

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_official(cls, opt: Mapping[str, Any]) -> DiscriminatorConfig:
        def get(name: str) -> Any:
            return opt[name] if opt.get(name) is not None else OFFICIAL_DEFAULTS[name]

        if "semantic_nc" in opt and opt["semantic_nc"] is not None:
            semantic_nc = int(opt["semantic_nc"])
        else:
            from spade_studio.model.config import generator_config_from_official

            semantic_nc = generator_config_from_official(dict(opt)).semantic_nc
        norm_d = str(get("norm_D"))
        spectral = norm_d.startswith("spectral")
        sub = (norm_d[len("spectral"):] if spectral else norm_d) or "none"
        if sub not in ("instance", "batch", "sync_batch", "none"):
            raise ConfigError(f"norm_D {norm_d!r}: unknown norm {sub!r}")
        if str(get("netD_subarch")) != "n_layer":
            raise ConfigError(f"netD_subarch {get('netD_subarch')!r} is not supported (n_layer)")
        return cls(
            input_nc=semantic_nc + int(opt.get("output_nc") or 3),
            ndf=int(get("ndf")),
            n_layers=int(get("n_layers_D")),
            num_D=int(get("num_D")),
            spectral=spectral,
            norm=sub,
            get_intermediate_features=not bool(get("no_ganFeat_loss")),
        )


def _norm(kind: str, channels: int) -> nn.Module | None:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind in ("batch", "sync_batch"):
        return nn.BatchNorm2d(channels, affine=True)
    return None


class NLayerDiscriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.get_intermediate_features = cfg.get_intermediate_features
        nf = cfg.ndf
        self.model0 = nn.Sequential(nn.Conv2d(cfg.input_nc, nf, 4, stride=2, padding=2), nn.LeakyReLU(0.2))
        for n in range(1, cfg.n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == cfg.n_layers - 1 else 2
            norm = _norm(cfg.norm, nf)
            conv = conv2d(nf_prev, nf, 4, stride=stride, padding=2, bias=norm is None, spectral=cfg.spectral)
            inner = nn.Sequential(conv, norm) if norm is not None else conv
            setattr(self, f"model{n}", nn.Sequential(inner, nn.LeakyReLU(0.2)))
        setattr(self, f"model{cfg.n_layers}", nn.Sequential(nn.Conv2d(nf, 1, 4, stride=1, padding=2)))
        self.n_layers = cfg.n_layers

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for n in range(self.n_layers + 1):
            x = getattr(self, f"model{n}")(x)
            feats.append(x)
        return feats if self.get_intermediate_features else feats[-1:]


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs on the input at 1, 1/2, 1/4 ... resolution.

    Returns a list over scales of lists of layer outputs (the last is the patch logit map)."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        for i in range(cfg.num_D):
            setattr(self, f"discriminator_{i}", NLayerDiscriminator(cfg))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i in range(self.cfg.num_D):
            out.append(getattr(self, f"discriminator_{i}")(x))
            if i + 1 < self.cfg.num_D:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
        return out


def build_discriminator(config: Mapping[str, Any]) -> MultiscaleDiscriminator:
    """Discriminator from a dict of official option names (missing names: official defaults)."""
    return MultiscaleDiscriminator(DiscriminatorConfig.from_official(config))


# ---------------------------------------------------------------------------------------------
# segmentation discriminator (Schönfeld et al., ICLR 2021, "You Only Need Adversarial
# Supervision for Semantic Image Synthesis"): written from the paper's description
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OASISConfig:
    """A U-Net-like encoder-decoder over the image alone that classifies every pixel into the
    ``n_classes`` semantic classes or one more "fake" class (index ``n_classes``)."""

    n_classes: int
    ndf: int = 32
    depth: int = 6  # down-sampling blocks (and as many up-sampling stages)
    max_mult: int = 8  # widths ndf * (1, 1, 2, 2, 4, 4, 8 ...) capped at ndf * max_mult
    spectral: bool = True

    def widths(self) -> list[int]:
        return [self.ndf * min(2 ** (i // 2), self.max_mult) for i in range(self.depth)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _ResBlock(nn.Module):
    """Two 3x3 convs with leaky ReLUs before each and a (1x1 when the width changes) shortcut;
    ``down``: 2x average pooling at the end of both paths (odd sizes round up)."""

    def __init__(self, cin: int, cout: int, spectral: bool, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = conv2d(cin, cout, 3, padding=1, spectral=spectral)
        self.conv2 = conv2d(cout, cout, 3, padding=1, spectral=spectral)
        self.skip = conv2d(cin, cout, 1, bias=False, spectral=spectral) if cin != cout else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False) if self.down else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(x, 0.2))
        h = self._pool(self.conv2(F.leaky_relu(h, 0.2)))
        s = x if self.skip is None else self.skip(x)
        return self._pool(s) + h


class OASISDiscriminator(nn.Module):
    """``forward(image [B,3,H,W]) -> logits [B, n_classes + 1, H, W]`` (any H, W).

    Encoder: ``depth`` residual blocks, each halving the size. Decoder: from the deepest
    features, each stage upsamples (nearest) to the next shallower encoder output's size,
    concatenates it (U-Net skip) and applies a residual block; a 1x1 conv on the last stage
    (half the input size) gives logits, upsampled bilinearly to the input size."""

    kind = "oasis"

    def __init__(self, cfg: OASISConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_classes = cfg.n_classes
        w = cfg.widths()
        self.down = nn.ModuleList(
            _ResBlock(3 if i == 0 else w[i - 1], w[i], cfg.spectral, down=True) for i in range(cfg.depth))
        # up[j] joins the decoder state (width w[j + 1]) with the encoder output j (width w[j])
        self.up = nn.ModuleList(
            _ResBlock(w[j + 1] + w[j], w[j], cfg.spectral, down=False) for j in range(cfg.depth - 1))
        self.head = nn.Conv2d(w[0], cfg.n_classes + 1, 1)

    @torch.no_grad()
    def settle_spectral_norm(self, iters: int = 50) -> None:
        """Converge every spectral-norm layer's power iteration (after an initialisation): from
        random u and v the first estimates of sigma are too low, and across the ~20 convs of this
        network the over-scaled weights multiply into exploding logits."""
        from spade_studio.model.layers import SpectralNormMixin

        for m in self.modules():
            if isinstance(m, SpectralNormMixin) and not m.folded:
                for _ in range(iters):
                    m.power_iteration()

    def forward(self, x: torch.Tensor, features: bool = False):
        """The logits; with ``features``, ``(logits, encoder outputs)`` (for feature matching)."""
        size = x.shape[-2:]
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        for j in range(len(self.up) - 1, -1, -1):
            skip = skips[j]
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = self.up[j](torch.cat([x, skip], 1))
        logits = F.interpolate(self.head(F.leaky_relu(x, 0.2)), size=size, mode="bilinear", align_corners=False)
        return (logits, skips) if features else logits
