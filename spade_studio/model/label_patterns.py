"""Exact SPADE modulation for training: ``gamma``/``beta`` once per distinct label window.

The inference fast path (:mod:`.fast`) computes a SPADE layer's ``gamma``/``beta`` once per
distinct ``(2k-1) x (2k-1)`` label window (:mod:`.patterns`) instead of once per pixel. The
same holds with gradients: the modulation is a differentiable function of a few small
tables, so the backward pass gets the same saving. Per SPADE layer:

* the first conv reads a one-hot map: per distinct ``k x k`` window it is a sum of gathered
  weight columns (the weight gradient accumulates per label, by the gather's backward);
* ``gamma | beta`` is one GEMM over the distinct ``(2k-1) x (2k-1)`` windows;
* ``norm(x) * (1 + gamma) + beta`` gathers the per-window rows per pixel (:class:`Modulate`);
  its backward sums the per-pixel gradients back into the window rows.

Same function and gradients as the dense convolutions up to float rounding (the sums run in
another order). A resolution whose map has too many distinct windows (small, detailed maps)
runs the dense convs, which are faster there.

Usage: ``generator(LabelSemantics.from_one_hot(sem, cfg), z)``; a plain one-hot tensor runs
the dense network as before. Official checkpoints and state_dicts are untouched: this is
only another way to evaluate the same parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import GeneratorConfig
from .patterns import Patterns, build_patterns, decode_one_hot, first_conv_table, pattern_codes, resize_nearest

# Distinct windows per pixel above which the dense convs are used (measured: at a share of
# 0.3 the pattern path and the dense convs take about the same time for the bundled model).
DENSE_ABOVE = 0.25


class LabelSemantics:
    """One-hot semantics ``dense`` plus the per-pixel codes SPADE layers build patterns from.

    The patterns of each resolution are built once and shared by every SPADE layer there."""

    def __init__(self, dense: torch.Tensor, codes: torch.Tensor, n_classes: int, use_edge: bool, kernel: int,
                 dense_above: float = DENSE_ABOVE) -> None:
        self.dense = dense
        self.codes = codes  # label, or 2 * label + instance edge
        self.n_classes = n_classes
        self.use_edge = use_edge
        self.n_codes = n_classes * (2 if use_edge else 1)
        self.kernel = kernel
        self.dense_above = dense_above
        self._patterns: dict[tuple[int, int], Patterns | None] = {}

    @classmethod
    def from_one_hot(cls, sem: torch.Tensor, cfg: GeneratorConfig,
                     dense_above: float = DENSE_ABOVE) -> LabelSemantics | torch.Tensor:
        """``sem`` with its codes, or ``sem`` itself when it is not a one-hot map."""
        n_classes = cfg.label_nc + int(cfg.contain_dontcare_label)
        decoded = decode_one_hot(sem, n_classes, cfg.use_instance)
        if isinstance(decoded, str):
            return sem
        label, edge = decoded
        return cls(sem, pattern_codes(label, edge, cfg.use_instance), n_classes, cfg.use_instance, cfg.spade.kernel_size, dense_above)

    def patterns(self, hw: tuple[int, int]) -> Patterns | None:
        """The patterns at ``hw``, or None where the dense convs pay (too many windows)."""
        hw = (int(hw[0]), int(hw[1]))
        if hw not in self._patterns:
            codes = resize_nearest(self.codes, hw)
            pat = build_patterns(codes, self.n_codes, self.kernel)
            self._patterns[hw] = pat if pat.p2.count <= self.dense_above * codes.numel() else None
        return self._patterns[hw]


class Modulate(torch.autograd.Function):
    """``x * (1 + gamma[ids]) + beta[ids]`` for ``x`` ``[N, C, H, W]`` (fastest channels-last),
    with ``gb = [gamma | beta]`` ``[U, 2C]`` rows per distinct window and ``ids`` ``[N*H*W]``.

    The gradient of ``x`` comes back in ``x``'s memory format: PyTorch 2.13's CPU instance-norm
    backward returns wrong values for a contiguous input with a channels-last gradient
    (found by ``tests/test_label_patterns.py``), so formats must not be mixed across it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, gb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        ctx.fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        x2 = x.permute(0, 2, 3, 1).reshape(-1, c)  # a view when x is channels-last
        table = gb.clone()
        table[:, :c] += 1
        ab = table.index_select(0, ids)  # [NHW, 2C]: (1 + gamma) | beta per pixel
        y = torch.addcmul(ab[:, c:], x2, ab[:, :c])
        ctx.save_for_backward(x2, ab, ids)
        ctx.dims = (n, c, h, w, table.shape[0])
        return y.view(n, h, w, c).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x2, ab, ids = ctx.saved_tensors
        n, c, h, w, u = ctx.dims
        g2 = grad.permute(0, 2, 3, 1).reshape(-1, c)  # a view when grad is channels-last
        grad_x = grad_gb = None
        if ctx.needs_input_grad[0]:
            grad_x = (g2 * ab[:, :c]).view(n, h, w, c).permute(0, 3, 1, 2).contiguous(memory_format=ctx.fmt)
        if ctx.needs_input_grad[1]:
            rows = g2.new_empty(g2.shape[0], 2 * c)  # one index_add_ into contiguous rows: 2.2-2.4x
            torch.mul(g2, x2, out=rows[:, :c])  # faster than two into the strided halves
            rows[:, c:] = g2
            grad_gb = g2.new_zeros(u, 2 * c).index_add_(0, ids, rows)
        return grad_x, grad_gb, None


def pattern_spade(spade: nn.Module, x: torch.Tensor, seg: LabelSemantics) -> torch.Tensor | None:
    """The SPADE layer ``spade`` on ``x`` with ``gamma``/``beta`` per distinct window, or None
    when the dense convs should run (too many windows at this size, unsupported layer)."""
    conv = spade.mlp_shared[0]
    k = conv.kernel_size[0]
    if conv.kernel_size != (k, k) or spade.mlp_gamma.kernel_size != (k, k) or k != seg.kernel \
            or not isinstance(spade.param_free_norm, (nn.BatchNorm2d, nn.InstanceNorm2d)):
        return None
    pat = seg.patterns(x.shape[-2:])
    if pat is None:
        return None
    n_codes = seg.n_codes
    if conv.in_channels != seg.n_classes + int(seg.use_edge):
        return None
    table = first_conv_table(conv.weight, seg.n_classes, seg.use_edge).reshape(-1, conv.out_channels)
    win1 = pat.p1.windows  # [U1, k*k]
    offs = torch.arange(k * k, device=win1.device) * (n_codes + 1)
    pre = table.index_select(0, (win1 + offs).reshape(-1)).view(win1.shape[0], k * k, -1).sum(1)
    if conv.bias is not None:
        pre = pre + conv.bias
    actv = torch.relu(pre)
    actv = torch.cat([actv, actv.new_zeros(1, actv.shape[1])])  # row U1: outside the image
    win2 = pat.p2.windows  # [U2, k*k] of p1 ids
    patches = actv.index_select(0, win2.reshape(-1)).view(win2.shape[0], -1)  # [U2, k*k*hid]
    wg = torch.cat([spade.mlp_gamma.weight, spade.mlp_beta.weight], 0)  # [2C, hid, k, k]
    wmat = wg.permute(0, 2, 3, 1).reshape(wg.shape[0], -1)  # rows (dy, dx, hid) as the patches
    bias = torch.cat([spade.mlp_gamma.bias, spade.mlp_beta.bias])
    gb = torch.addmm(bias, patches, wmat.t())  # [U2, 2C]
    normalized = spade.normalize(x)
    gb = gb.to(normalized.dtype)
    return Modulate.apply(normalized, gb, pat.flat_ids)
