"""fp32 matrix products on the CPU through the faster of two libraries, chosen by measurement.

PyTorch sends ``torch.mm``/``addmm`` to MKL's sgemm and convolutions to oneDNN. On some CPUs the
two differ twofold: on an AMD Zen 5 (AVX-512) MKL runs its AVX2 kernels and reaches about
half of oneDNN's rate on the fast path's GEMMs (``bench/inference.py`` prints which one this
machine uses). Which library wins is not assumed from CPU flags: the first call times both on
a product the size of a generator's gamma/beta GEMM and keeps the faster one. Both compute
the same fp32 product (only the summation order differs, ~1e-7 relative).

``SPADE_STUDIO_GEMM=mkl`` or ``=onednn`` forces one (to measure the other as the fallback).
"""

from __future__ import annotations

import os
import time

import torch

_choice: str | None = None


def _onednn_linear(x: torch.Tensor, w_nk: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, w_nk, bias, "none", [], "")


def _onednn_available() -> bool:
    try:
        a = torch.randn(8, 16)
        w = torch.randn(4, 16)
        b = torch.randn(4)
        got = _onednn_linear(a, w, b)
        return bool(torch.allclose(got, torch.addmm(b, a, w.t()), rtol=1e-5, atol=1e-5))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def _time(f, reps: int = 3) -> float:
    f()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def backend() -> str:
    """``"onednn"`` or ``"mkl"`` (the BLAS PyTorch uses for ``torch.mm``), measured once."""
    global _choice
    if _choice is None:
        forced = os.environ.get("SPADE_STUDIO_GEMM", "").strip().lower()
        if forced in ("mkl", "blas"):
            _choice = "mkl"
        elif not _onednn_available():
            _choice = "mkl"
        elif forced == "onednn":
            _choice = "onednn"
        else:
            with torch.inference_mode():
                a = torch.randn(384, 1152)
                w = torch.randn(1024, 1152)
                b = torch.randn(1024)
                t_mkl = _time(lambda: torch.addmm(b, a, w.t()))
                t_dnn = _time(lambda: _onednn_linear(a, w, b))
            _choice = "onednn" if t_dnn < 0.9 * t_mkl else "mkl"
    return _choice


def bucket(m: int) -> int:
    """``m`` rounded up to one of eight sizes per octave (at most 12.5 % more rows).

    oneDNN (and PyTorch's ideep layer above it) cache a primitive per matrix shape; the number
    of distinct label windows changes with every edit, and measured with an exact row count the
    two caches grew by 5.7 MB per render (120 renders of different maps: 1.4 -> 2.1 GB RSS).
    Callers pad their row count to a bucket so that a few dozen shapes cover every map."""
    if m <= 16:
        return 16
    step = max(16, 1 << (m.bit_length() - 4))
    return -(-m // step) * step


def linear(x: torch.Tensor, w_nk: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ w_nk.T + bias`` for fp32 CPU ``x [M, K]`` and ``w_nk [N, K]`` (both contiguous)."""
    if (x.device.type == "cpu" and x.dtype == torch.float32 and not x.requires_grad
            and not w_nk.requires_grad and backend() == "onednn"):
        return _onednn_linear(x.contiguous(), w_nk, bias)
    if bias is None:
        return torch.mm(x, w_nk.t())
    return torch.addmm(bias, x, w_nk.t())
