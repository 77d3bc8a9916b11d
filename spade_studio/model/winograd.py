"""3x3 convolutions (stride 1, padding 1) by Winograd's minimal filtering, F(2x2, 3x3).

Every 2x2 output tile is computed from its 4x4 input tile with 16 multiplications per channel
pair instead of 36 (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR
2016): the input tiles and the weights are transformed (additions only for the input, and the
weights once), 16 independent GEMMs take the products, and the output transform adds them
back. The same function up to fp32 rounding (measured relative difference ~2e-6 against the
direct conv, well inside the fast path's 1e-4 bound).

It pays where the direct conv is bound by its weights: small maps with many channels, i.e. the
low-resolution blocks of the official generators (``bench/inference.py`` prints the
measurement ``wins`` is based on). Large maps with few channels stay direct: there the
transforms' memory traffic costs more than the multiplications saved.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import gemm

# G of F(2x2, 3x3): U = G g G^T
_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def transform_weight(w: torch.Tensor) -> torch.Tensor:
    """``[Cout, Cin, 3, 3]`` -> ``[16, Cout, Cin]``: ``G g G^T`` per channel pair, in ``w``'s
    dtype (fp32: within 1e-7 relative of the float64 transform, 2.3x faster: 0.2 s for a
    1024x1024 conv, part of the first render)."""
    g = torch.tensor(_G, dtype=w.dtype, device=w.device)
    u = torch.matmul(torch.matmul(g, w.detach()), g.t())  # [Cout, Cin, 4, 4]
    return u.permute(2, 3, 0, 1).reshape(16, w.shape[0], w.shape[1]).contiguous()


def wins(c_in: int, c_out: int, h: int, w: int) -> bool:
    """Whether Winograd beats the direct conv here. Measured (Zen 5, 2 threads, fp32, ms direct
    / Winograd): 1024->1024 at 8x8 4.3 (the im2col GEMM) / 3.9, at 16x16 14.4 / 8.4; 1024->512
    at 32x32 22.8 / 13.5; 512->512 at 32x32 11.4 / 7.3; 512->256 at 64x64 20.5 / 16.7;
    256->256 at 64x64 10.6 / 9.0, at 32x32 2.7 / 2.1, at 16x16 0.8 / 0.9; 256->128 at 64x64
    5.3 / 5.5; 128->128 at 64x64 2.9 / 4.2; 256->128 at 128x128 22.1 / 22.5. With the direct
    conv's weights reordered once (:func:`.gemm.pack_conv`) 1024->1024 at 8x8 takes 3.2 ms and at
    16x16 10.6, so Winograd starts at 16x16."""
    if h * w > 64 * 64 or h * w < 16 * 16 or not may_win(c_in, c_out):  # 8x8: the packed direct conv wins
        return False
    return max(c_in, c_out) >= 512 or h * w >= 32 * 32


def may_win(c_in: int, c_out: int) -> bool:
    """Whether :func:`wins` holds for these channels at some map size (the fast path makes the
    Winograd weights of exactly these convs). Measured with oneDNN's GEMMs only; with MKL's on
    Zen 5 it lost (ADE20K exact 475 ms against 370 direct), and nothing else was measured."""
    return min(c_in, c_out) >= 256 and gemm.backend() == "onednn"


def conv3x3(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``conv2d(x, w, bias, padding=1)`` for ``u = transform_weight(w)``; ``x`` ``[N, C, H, W]``
    (channels-last is fastest); returns a channels-last tensor. Odd sides are padded with
    zeros (the conv's own padding) and cut back."""
    n, c, h, w = x.shape
    co = u.shape[1]
    th, tw = (h + 1) // 2, (w + 1) // 2
    xh = x.permute(0, 2, 3, 1)  # NHWC view
    xp = F.pad(xh, (0, 0, 1, 1 + 2 * tw - w, 1, 1 + 2 * th - h))  # [N, 2th+2, 2tw+2, C]
    d = [xp[:, i:i + 2 * th:2] for i in range(4)]  # rows of each tile: [N, th, 2tw+2, C]
    rows = (d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3])
    tiles = n * th * tw
    v = x.new_empty(16, n, th, tw, c)
    for i, t in enumerate(rows):
        e = [t[:, :, j:j + 2 * tw:2] for j in range(4)]
        torch.sub(e[0], e[2], out=v[4 * i])
        torch.add(e[1], e[2], out=v[4 * i + 1])
        torch.sub(e[2], e[1], out=v[4 * i + 2])
        torch.sub(e[1], e[3], out=v[4 * i + 3])
    v = v.view(16, tiles, c)
    m = [gemm.linear(v[k], u[k]).view(n, th, tw, co) for k in range(16)]
    y = x.new_empty(n, 2 * th, 2 * tw, co)
    for r in range(2):
        if r == 0:  # A^T rows: (1, 1, 1, 0) and (0, 1, -1, -1)
            s = [m[j] + m[4 + j] + m[8 + j] for j in range(4)]
        else:
            s = [m[4 + j] - m[8 + j] - m[12 + j] for j in range(4)]
        torch.add(s[0] + s[1], s[2], out=y[:, r::2, 0::2])
        torch.sub(s[1] - s[2], s[3], out=y[:, r::2, 1::2])
    if bias is not None:
        y += bias
    if 2 * th != h or 2 * tw != w:
        y = y[:, :h, :w]
    return y.permute(0, 3, 1, 2)
