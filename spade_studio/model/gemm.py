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


def _rand(*shape: int) -> torch.Tensor:
    """Probe data that leaves the global random state alone (renders and tests seed it)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def _onednn_linear(x: torch.Tensor, w_nk: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, w_nk, bias, "none", [], "")


def _onednn_available() -> bool:
    try:
        a = _rand(8, 16)
        w = _rand(4, 16)
        b = _rand(4)
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
                a = _rand(384, 1152)
                w = _rand(1024, 1152)
                b = _rand(1024)
                f_mkl, f_dnn = (lambda: torch.addmm(b, a, w.t())), (lambda: _onednn_linear(a, w, b))
                t_mkl = t_dnn = float("inf")
                for _ in range(4):  # interleaved: the machine's drift and the first calls' costs cancel
                    t_mkl = min(t_mkl, _time(f_mkl, 2))
                    t_dnn = min(t_dnn, _time(f_dnn, 2))
            _choice = "onednn" if t_dnn < 0.95 * t_mkl else "mkl"  # AVX2-only (emulated): 0.85-0.88
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


# -- convolutions with weights reordered once ------------------------------------------------
_packed_ok: bool | None = None


def _pack(w: torch.Tensor, padding: tuple[int, int], input_shape) -> torch.Tensor:
    return torch._C._nn.mkldnn_reorder_conv2d_weight(w.detach().contiguous(memory_format=torch.channels_last)
                                                      .to_mkldnn(), list(padding), [1, 1], [1, 1], 1,
                                                      list(input_shape))


def _run_packed(x: torch.Tensor, wp: torch.Tensor, bias: torch.Tensor | None, padding) -> torch.Tensor:
    return torch.ops.mkldnn._convolution_pointwise(x, wp, bias, list(padding), [1, 1], [1, 1], 1, "none", [], "")


def packing_available() -> bool:
    """Whether this PyTorch can run a conv on weights reordered once into oneDNN's blocked
    layout (``mkldnn_reorder_conv2d_weight`` + ``_convolution_pointwise``: private ops, so
    checked once against ``conv2d`` on a small input; False falls back to ``conv2d``)."""
    global _packed_ok
    if _packed_ok is None:
        if os.environ.get("SPADE_STUDIO_PACKED_CONV", "").strip() == "0":
            _packed_ok = False
            return False
        try:
            with torch.inference_mode():
                x = _rand(1, 8, 5, 6).contiguous(memory_format=torch.channels_last)
                w = _rand(4, 8, 3, 3)
                b = _rand(4)
                got = _run_packed(x, _pack(w, (1, 1), x.shape), b, (1, 1))
                want = torch.nn.functional.conv2d(x, w, b, padding=1)
                _packed_ok = bool(got.shape == want.shape and torch.allclose(got, want, rtol=1e-4, atol=1e-4))
        except (AttributeError, RuntimeError, NotImplementedError, TypeError):
            _packed_ok = False
    return _packed_ok


def pack_conv(w: torch.Tensor, padding: tuple[int, int], input_shape) -> torch.Tensor | None:
    """``w`` (``[Cout, Cin, k, k]``, fp32 or bf16) reordered for oneDNN once, or None where
    that is not available. Measured (Zen 5, 2 threads, ms conv2d / packed, channels-last):
    fp32 1024->1024 at 8x8 6.5 / 3.2, at 16x16 12.9 / 10.6; bf16 at 8x8 2.8 / 1.4, at 16x16
    6.8 / 5.0; 2-8 % at the larger maps. The same values bit for bit, at any input size."""
    if w.device.type != "cpu" or not packing_available():
        return None
    try:
        return _pack(w, padding, input_shape)
    except RuntimeError:
        return None


def conv_packed(x: torch.Tensor, wp: torch.Tensor, bias: torch.Tensor | None, padding) -> torch.Tensor:
    """Stride-1 conv of ``x`` (channels-last) with a weight from :func:`pack_conv`."""
    return _run_packed(x, wp, bias, padding)
