"""Label-neighbourhood patterns: the memo behind exact fast SPADE modulation.

Inside a SPADE layer, ``gamma``/``beta`` at a pixel depend only on the labels in a
``(2k-1) x (2k-1)`` window around it (two ``k x k`` convolutions over a one-hot map), and on
where that window leaves the image (both convolutions pad with zeros). So the modulation
is a function of a small integer pattern: compute it once per distinct pattern instead of
once per pixel. Uniform regions collapse to one pattern per label, straight edges to a few
per edge, and only irregular boundaries produce many.

Patterns are built in two levels, each a ``k x k`` window of the level below:
``codes`` (label, plus the instance-edge bit) -> ``p1`` ids (the first conv's input window)
-> ``p2`` ids (the second conv's input window). A window id is built with one horizontal and
one vertical pass of packing + ``torch.unique``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

_LIMIT = 2**62


def _compress(a: torch.Tensor) -> tuple[torch.Tensor, int]:
    u, inv = torch.unique(a, return_inverse=True)
    return inv, int(u.numel())


def _pack(parts: list[torch.Tensor], base: int) -> tuple[torch.Tensor, int]:
    """Ids of the tuples ``(parts[0], parts[1], ...)`` with values in ``[0, base)``."""
    acc, rng = parts[0], base
    for p in parts[1:]:
        if rng * base >= _LIMIT:  # would overflow int64: renumber first
            acc, rng = _compress(acc)
        acc = acc * base + p
        rng *= base
    return _compress(acc)


@dataclass
class WindowIds:
    ids: torch.Tensor  # [N, H, W] int64 in [0, count)
    count: int
    windows: torch.Tensor  # [count, k*k] the codes of each distinct window, row-major (dy, dx)


def window_ids(codes: torch.Tensor, n_codes: int, k: int) -> WindowIds:
    """Distinct ``k x k`` windows of ``codes`` ``[N, H, W]`` (values ``< n_codes``).

    Outside the image a window reads the code ``n_codes`` (so a window at the border differs
    from one inside)."""
    n, h, w = codes.shape
    r = k // 2
    pad = n_codes
    cp = F.pad(codes, (r, r, r, r), value=pad)  # [N, H+2r, W+2r]
    base = n_codes + 1
    horiz, nh = _pack([cp[:, :, j:j + w] for j in range(k)], base)  # [N, H+2r, W]
    ids, count = _pack([horiz[:, i:i + h, :] for i in range(k)], nh)  # [N, H, W]
    # one representative pixel per id -> its window of codes
    flat = ids.reshape(-1)
    pos = torch.empty(count, dtype=torch.int64, device=codes.device)
    pos.scatter_(0, flat, torch.arange(flat.numel(), device=codes.device))
    b, rem = pos // (h * w), pos % (h * w)
    y, x = rem // w, rem % w
    offs = torch.arange(k, device=codes.device)
    yy = (y[:, None, None] + offs[None, :, None]).expand(-1, k, k)
    xx = (x[:, None, None] + offs[None, None, :]).expand(-1, k, k)
    windows = cp[b[:, None, None].expand(-1, k, k), yy, xx].reshape(count, k * k)
    return WindowIds(ids, count, windows)


@dataclass
class Patterns:
    """The two pattern levels of one resolution (shared by every SPADE layer there)."""

    p1: WindowIds  # windows of codes (the first conv's input)
    p2: WindowIds  # windows of p1 ids (gamma/beta's input); code p1.count = outside the image
    n_codes: int

    @property
    def flat_ids(self) -> torch.Tensor:
        return self.p2.ids.reshape(-1)


def build_patterns(codes: torch.Tensor, n_codes: int, k: int) -> Patterns:
    p1 = window_ids(codes, n_codes, k)
    p2 = window_ids(p1.ids, p1.count, k)
    return Patterns(p1, p2, n_codes)


def pattern_codes(label: torch.Tensor, edge: torch.Tensor | None, use_instance: bool) -> torch.Tensor:
    """Per-pixel pattern codes: the label, and with instance maps ``2 * label + edge``."""
    if use_instance:
        return label * 2 + (edge.long() if edge is not None else 0)
    return label


def resize_nearest(label: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Integer map ``[N, H, W]`` resized as ``F.interpolate(mode='nearest')`` resizes one-hot maps."""
    if tuple(label.shape[-2:]) == tuple(hw):
        return label
    return F.interpolate(label[:, None].float(), size=tuple(hw), mode="nearest")[:, 0].long()


def first_conv_table(weight: torch.Tensor, n_classes: int, use_edge: bool) -> torch.Tensor:
    """A SPADE layer's first conv ``weight`` ``[hidden, C(+1), k, k]`` as gather rows
    ``[k*k, n_codes + 1, hidden]`` per (offset, code); code ``2 * label + edge`` with instance
    edges, and the last code (outside the image) zero. Differentiable in ``weight``."""
    hid, k = weight.shape[0], weight.shape[-1]
    wk = weight.permute(2, 3, 1, 0).reshape(k * k, weight.shape[1], hid)
    per_code = wk[:, :n_classes]
    if use_edge:
        e = wk[:, n_classes:n_classes + 1]
        per_code = torch.stack([per_code, per_code + e], dim=2).reshape(k * k, 2 * n_classes, hid)
    return torch.cat([per_code, per_code.new_zeros(k * k, 1, hid)], 1)


def decode_one_hot(seg: torch.Tensor, n_classes: int, use_instance: bool
                   ) -> tuple[torch.Tensor, torch.Tensor | None] | str:
    """One-hot semantics ``[N, C(+1), H, W]`` -> (label indices ``[N,H,W]``, edge bits or None),
    or a string saying why ``seg`` is not a one-hot map (+ a 0/1 instance-edge channel)."""
    want = n_classes + int(use_instance)
    if seg.dim() != 4 or seg.shape[1] != want:
        return f"semantics of shape {tuple(seg.shape)}, expected [N, {want}, H, W]"
    cls = seg[:, :n_classes].detach()
    values, label = cls.max(dim=1)
    n, _, h, w = seg.shape
    if not bool((values == 1).all()) or int(torch.count_nonzero(cls)) != n * h * w:
        return "semantics are not one-hot"
    edge = None
    if use_instance:
        e = seg[:, n_classes].detach()
        if not bool(((e == 0) | (e == 1)).all()):
            return "the instance-edge channel is not 0/1"
        edge = e.to(torch.int64)
    return label, edge

