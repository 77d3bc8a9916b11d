"""Building blocks: spectrally normalised convolutions, the SPADE layer and the SPADE residual block.

Attribute names follow the official state_dict keys (``conv_0.weight_orig``,
``norm_0.mlp_shared.0.weight`` ...) so that official checkpoints load without renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import SPADENormConfig
from .label_patterns import LabelSemantics, pattern_spade


class SpectralNormMixin:
    """Spectral normalisation stored as ``weight_orig`` + ``weight_u`` + ``weight_v``.

    Train mode: one power iteration updates u and v in place before the weight is used.
    Eval mode: u and v are used as stored (the official behaviour). :meth:`fold` replaces
    the three tensors with the plain normalised weight (exact; for inference).
    """

    eps = 1e-12

    def _init_spectral(self, weight: torch.Tensor) -> None:
        out = weight.shape[0]
        w = weight.detach().reshape(out, -1)
        self.weight_orig = nn.Parameter(weight.detach().clone())
        u = F.normalize(w.new_empty(out).normal_(0, 1), dim=0, eps=self.eps)
        v = F.normalize(w.new_empty(w.shape[1]).normal_(0, 1), dim=0, eps=self.eps)
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)
        self.folded = False

    def _matrix(self, w: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """``w`` as an ``[out, -1]`` matrix *view*, and whether its columns are in channels-last
        order (kh, kw, in) instead of the official (in, kh, kw). Reshaping a channels-last weight
        copies it: measured 27 copies of a 256x256x3x3 weight per training iteration (2 % of it)."""
        if w.dim() == 4 and not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last):
            return w.permute(0, 2, 3, 1).reshape(w.shape[0], -1), True
        return w.reshape(w.shape[0], -1), False

    def _v_in(self, v: torch.Tensor, permuted: bool) -> torch.Tensor:
        """``v`` (official column order) in the order of :meth:`_matrix`'s columns."""
        if not permuted:
            return v
        _, cin, kh, kw = self.weight_orig.shape
        return v.view(cin, kh, kw).permute(1, 2, 0).reshape(-1)

    @torch.no_grad()
    def power_iteration(self) -> None:
        """One power iteration: updates u and v in place."""
        wm, permuted = self._matrix(self.weight_orig)
        t = torch.mv(wm.t(), self.weight_u)
        if permuted:
            _, cin, kh, kw = self.weight_orig.shape
            t = t.view(kh, kw, cin).permute(2, 0, 1).reshape(-1)
        F.normalize(t, dim=0, eps=self.eps, out=self.weight_v)
        F.normalize(torch.mv(wm, self._v_in(self.weight_v, permuted)), dim=0, eps=self.eps, out=self.weight_u)

    def normalized_weight(self) -> torch.Tensor:
        w = self.weight_orig
        wm, permuted = self._matrix(w)
        if self.training:
            self.power_iteration()
        u, v = self.weight_u, self.weight_v
        if self.training:
            u = u.clone(memory_format=torch.contiguous_format)
            v = v.clone(memory_format=torch.contiguous_format)
        sigma = torch.dot(u, torch.mv(wm, self._v_in(v, permuted)))
        return w / sigma

    @torch.no_grad()
    def fold(self) -> None:
        """Freeze the eval-mode weight into a plain ``weight`` parameter (inference only)."""
        if self.folded:
            return
        self.eval()
        w = self.normalized_weight().detach().clone()
        del self.weight_orig
        del self.weight_u
        del self.weight_v
        self.weight_folded = nn.Parameter(w, requires_grad=False)
        self.folded = True


class SNConv2d(SpectralNormMixin, nn.Conv2d):
    """``nn.Conv2d`` with spectral normalisation (official key layout)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        weight = self.weight
        del self.weight
        self._init_spectral(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight_folded if self.folded else self.normalized_weight()
        return self._conv_forward(x, w, self.bias)


def conv2d(cin: int, cout: int, k: int, *, stride: int = 1, padding: int = 0, bias: bool = True,
           spectral: bool = False) -> nn.Conv2d:
    cls = SNConv2d if spectral else nn.Conv2d
    return cls(cin, cout, k, stride=stride, padding=padding, bias=bias)


def fold_spectral_norm(module: nn.Module) -> int:
    """Fold every spectral-norm conv in ``module``; returns how many were folded."""
    n = 0
    for m in module.modules():
        if isinstance(m, SpectralNormMixin) and not m.folded:
            m.fold()
            n += 1
    return n


def param_free_norm(kind: str, channels: int) -> nn.Module:
    if kind in ("syncbatch", "batch"):
        # Synchronised BN has BatchNorm2d's maths and keys on one device; the trainer converts
        # it to nn.SyncBatchNorm for distributed runs.
        return nn.BatchNorm2d(channels, affine=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    raise ValueError(f"unknown parameter-free norm {kind!r}")


def nearest_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """PyTorch's legacy 'nearest' (floor) resize; a no-op when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="nearest")


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward hands on a contiguous gradient. PyTorch 2.13's CPU instance-norm
    backward is wrong for a batch of one when the incoming gradient is channels-last (measured:
    max error 3-6 against float64), which is what channels-last training gives it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: ``norm(x) * (1 + gamma(seg)) + beta(seg)``."""

    def __init__(self, norm_nc: int, label_nc: int, cfg: SPADENormConfig) -> None:
        super().__init__()
        k, pad = cfg.kernel_size, cfg.kernel_size // 2
        self.param_free_norm = param_free_norm(cfg.param_free_norm, norm_nc)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, cfg.hidden, k, padding=pad), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(cfg.hidden, norm_nc, k, padding=pad)
        self.mlp_beta = nn.Conv2d(cfg.hidden, norm_nc, k, padding=pad)

    def forward(self, x: torch.Tensor, seg) -> torch.Tensor:
        """``seg``: one-hot semantics, or a :class:`~.label_patterns.LabelSemantics` (the
        same map: gamma/beta are then computed once per distinct label window)."""
        if isinstance(seg, LabelSemantics):
            out = pattern_spade(self, x, seg)
            if out is not None:
                return out
            seg = seg.dense
        normalized = self.normalize(x)
        actv = self.mlp_shared(nearest_resize(seg, x.shape[-2:]))
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The parameter-free norm of ``x`` (with a contiguous gradient into instance norm)."""
        if isinstance(self.param_free_norm, nn.InstanceNorm2d) and torch.is_grad_enabled() and x.requires_grad:
            return _ContiguousGrad.apply(self.param_free_norm(x))
        return self.param_free_norm(x)


class SPADEResBlock(nn.Module):
    """Residual block with SPADE norms; a learned 1x1 shortcut when the width changes."""

    def __init__(self, fin: int, fout: int, semantic_nc: int, spectral: bool, spade: SPADENormConfig,
                 noise: bool = False) -> None:
        super().__init__()
        fmid = min(fin, fout)
        if noise:  # per-channel strength of the block's noise input (noise.py); starts at zero
            self.noise_strength = nn.Parameter(torch.zeros(fout))
        self.learned_shortcut = fin != fout
        self.conv_0 = conv2d(fin, fmid, 3, padding=1, spectral=spectral)
        self.conv_1 = conv2d(fmid, fout, 3, padding=1, spectral=spectral)
        if self.learned_shortcut:
            self.conv_s = conv2d(fin, fout, 1, bias=False, spectral=spectral)
        self.norm_0 = SPADE(fin, semantic_nc, spade)
        self.norm_1 = SPADE(fmid, semantic_nc, spade)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, semantic_nc, spade)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return shortcut + dx
