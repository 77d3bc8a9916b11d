"""Fast SPADE inference that computes the plain generator's function.

``optimize_for_inference(generator, mode)`` wraps a :class:`SPADEGenerator` in a
:class:`FastGenerator` with the same call signature. What makes it fast (exact, fp32):

* the first SPADE conv reads a one-hot map, so it is a sum of gathered weight columns;
* ``gamma``/``beta`` depend only on a small window of labels, so they are computed once per
  distinct window (:mod:`.patterns`), not once per pixel: a uniform region costs one row, a
  straight edge a few;
* the windows are shared by every SPADE layer at one resolution, and the first convs of a
  block's two or three SPADE layers run as one gather;
* eval BatchNorm is folded into the modulation: ``norm(x) * (1 + gamma) + beta`` becomes one
  ``x * A + B`` over a gathered table, with the following leaky ReLU applied in place;
* spectral norm is folded once, and the dense residual convs run channels-last.

``mode="preview"`` adds reduced precision where the hardware has it natively (bf16 on
AVX512-BF16/AMX CPUs, fp16 on CUDA, fp16 on MPS); elsewhere preview is the exact path.

Input the fast path cannot take (semantics that are not one-hot, a generator that is not a
plain :class:`SPADEGenerator`, training mode) falls back to the plain network, and says so
once through :mod:`warnings` and :attr:`FastGenerator.fallback_reason`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from . import gemm, winograd
from .generator import BLOCK_NAMES, SPADEGenerator, upsample2x
from .layers import SPADE, SPADEResBlock, fold_spectral_norm
from .patterns import Patterns, build_patterns, decode_one_hot, first_conv_table, pattern_codes, resize_nearest

Mode = Literal["exact", "preview"]
GPU_TYPES = ("cuda", "mps")


class FastPathUnavailable(RuntimeError):
    """The fast path cannot compute this input exactly (the caller falls back)."""


def native_low_precision(device: torch.device) -> torch.dtype | None:
    """The reduced precision that is native on ``device`` (None: none that pays)."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "mps":
        return torch.float16
    if device.type == "cpu":
        try:
            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                return torch.bfloat16
        except (AttributeError, RuntimeError):
            pass
    return None


def supported(generator: nn.Module) -> str | None:
    """None when the fast path can run ``generator``; else why not."""
    if type(generator) is not SPADEGenerator:
        return f"{type(generator).__name__} is not a plain SPADEGenerator"
    for name, m in generator.named_modules():
        if isinstance(m, SPADE):
            if not isinstance(m.param_free_norm, (nn.BatchNorm2d, nn.InstanceNorm2d)):
                return f"{name}: parameter-free norm {type(m.param_free_norm).__name__} is not supported"
            if isinstance(m.param_free_norm, nn.BatchNorm2d) and m.param_free_norm.running_mean is None:
                return f"{name}: batch norm without running statistics"
            if isinstance(m.param_free_norm, nn.InstanceNorm2d) and m.param_free_norm.track_running_stats:
                return f"{name}: instance norm with running statistics"
            c1 = m.mlp_shared[0]
            if c1.kernel_size[0] != c1.kernel_size[1] or m.mlp_gamma.kernel_size != c1.kernel_size:
                return f"{name}: non-square or mixed SPADE kernels"
    return None


@dataclass
class _BlockTables:
    """Per block: the first convs of its SPADE layers as one gather table."""

    spades: list[tuple[str, SPADE]]
    table: torch.Tensor  # [k*k, n_codes + 1, sum(hidden)]; the last code (outside) is zero
    bias: torch.Tensor  # [sum(hidden)]
    offsets: list[int]  # column offset of each SPADE layer in the table
    hidden: list[int]
    gamma_beta: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: [2C, k*k*hid] weights, [2C] bias
    lowp_cache: dict = field(default_factory=dict)  # reduced-precision copies (preview)


class FastGenerator(nn.Module):
    """Same call signature as :class:`SPADEGenerator`: ``(semantics, z=None, latent_hw=None)``.

    :meth:`forward_labels` takes the label-index map directly (no one-hot tensor at all),
    which is what the :class:`~spade_studio.model.synthesize.Synthesizer` uses.
    """

    def __init__(self, generator: SPADEGenerator, mode: Mode = "exact") -> None:
        super().__init__()
        if mode not in ("exact", "preview"):
            raise ValueError(f"mode must be 'exact' or 'preview', not {mode!r}")
        self.plain = generator
        self.mode = mode
        self.cfg = generator.cfg
        self.fallback_reason: str | None = supported(generator)
        self._warned = False
        self._buffers: dict[str, torch.Tensor] = {}
        self._half = None  # the GPU preview network (gpu.HalfPrecisionPreview), made on first use
        self._half_device: torch.device | None = None
        # Preview keeps the output conv and the thin blocks (fewer than 64 output channels) in
        # fp32. Measured (bench/inference.py, worst max difference from exact; bound 0.06): the
        # bundled model (ngf 16: its last two blocks have 32 and 16 channels) 0.067 with bf16
        # everywhere, 0.050 with those two in fp32; the official configs (ngf 64, no block under
        # 64 channels) 0.043-0.047 with bf16 in every block, and twice as fast as exact that way.
        names = [n for n in BLOCK_NAMES if hasattr(generator, n)]
        self.fp32_blocks: set[str] = {n for n in names if _out_channels(getattr(generator, n)) < 64}
        self.fp32_blocks.add("conv_img")
        self._tables: dict[tuple, list[_BlockTables]] = {}
        self._lowp_weights: dict[tuple, dict[str, tuple[torch.Tensor, torch.Tensor | None]]] = {}
        self._wino: dict[int, torch.Tensor] = {}  # Winograd weights of the convs it pays for (fp32 CPU)
        self._packed_weights: dict[tuple, torch.Tensor | None] = {}  # conv weights reordered once (oneDNN)
        self._lowp_bias: dict[tuple, torch.Tensor] = {}
        self._prepared = False
        self._names = {id(getattr(generator, n)): n for n in names}
        self._noise: dict[tuple, torch.Tensor] = {}  # (block, origin, size, period, dtype, device) -> noise
        cfg = self.cfg
        self.n_classes = cfg.label_nc + int(cfg.contain_dontcare_label)
        self.n_codes = self.n_classes * (2 if cfg.use_instance else 1)
        self.kernel = cfg.spade.kernel_size

    # -- facts -----------------------------------------------------------------------------
    @property
    def low_precision(self) -> torch.dtype | None:
        """The dtype the dense convs run in (None: fp32)."""
        if self.mode != "preview":
            return None
        return native_low_precision(self._device())

    def _device(self) -> torch.device:
        return next(self.plain.parameters()).device

    def _fallback(self, reason: str) -> None:
        self.fallback_reason = reason
        if not self._warned:
            self._warned = True
            warnings.warn(f"fast SPADE inference unavailable ({reason}); using the plain network",
                          RuntimeWarning, stacklevel=3)

    # -- entry points ----------------------------------------------------------------------
    def forward(self, seg: torch.Tensor, z: torch.Tensor | None = None,
                latent_hw: tuple[int, int] | None = None) -> torch.Tensor:
        reason = supported(self.plain) or self._grad_reason()
        if reason is None and seg.device.type in GPU_TYPES:
            return self._gpu(seg, z, latent_hw)
        if reason is None:
            try:
                label, edge = self.decode_semantics(seg)
            except FastPathUnavailable as e:
                reason = str(e)
        if reason is not None:
            self._fallback(reason)
            return self.plain(seg, z, latent_hw)
        return self.forward_labels(label, edge, z, latent_hw)

    def _grad_reason(self) -> str | None:
        if self.plain.training:
            return "the generator is in training mode"
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.plain.parameters()):
            return "gradients are enabled (use torch.inference_mode or no_grad)"
        return None

    def decode_semantics(self, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One-hot semantics ``[N, C(+1), H, W]`` -> label indices ``[N, H, W]`` (+ edge bits)."""
        decoded = decode_one_hot(seg, self.n_classes, self.cfg.use_instance)
        if isinstance(decoded, str):
            raise FastPathUnavailable(decoded)
        return decoded

    def forward_labels(self, label: torch.Tensor, edge: torch.Tensor | None = None,
                       z: torch.Tensor | None = None, latent_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """``label`` int ``[N, H, W]`` of class indices (dontcare already ``label_nc``)."""
        reason = supported(self.plain) or self._grad_reason()
        if reason is not None:
            self._fallback(reason)
            return self.plain(self.one_hot(label, edge), z, latent_hw)
        if label.device.type in GPU_TYPES:
            return self._gpu(self.one_hot(label, edge), z, latent_hw)
        return self._run(label.long(), edge, z, latent_hw)

    def _gpu(self, seg: torch.Tensor, z: torch.Tensor | None, latent_hw) -> torch.Tensor:
        """On CUDA/MPS: exact is the dense fp32 network (the GPU is fast at dense convs and
        the pattern path would wait on the host); preview is its fp16 copy, replayed from a
        CUDA graph per size on CUDA (:mod:`.gpu`). Not measured on a GPU yet."""
        if self.mode != "preview":
            return self.plain(seg, z, latent_hw)
        if self._half is None or self._half_device != seg.device:
            from .gpu import HalfPrecisionPreview

            self._half = HalfPrecisionPreview(self.plain, torch.float16, graphs=seg.device.type == "cuda")
            self._half_device = seg.device
        return self._half(seg, z, latent_hw)

    def one_hot(self, label: torch.Tensor, edge: torch.Tensor | None) -> torch.Tensor:
        n, h, w = label.shape
        sem = torch.zeros(n, self.n_classes, h, w, device=label.device)
        sem.scatter_(1, label.long()[:, None], 1.0)
        if self.cfg.use_instance:
            e = torch.zeros(n, 1, h, w, device=label.device) if edge is None else edge[:, None].float()
            sem = torch.cat([sem, e], 1)
        return sem

    # -- the network -----------------------------------------------------------------------
    def codes(self, label: torch.Tensor, edge: torch.Tensor | None) -> torch.Tensor:
        """Per-pixel pattern codes: the label, and with instance maps ``2 * label + edge``."""
        return pattern_codes(label, edge, self.cfg.use_instance)

    def layout(self) -> list[tuple[str, bool, bool]]:
        """The blocks in order: ``(name, upsample before, upsample after)``."""
        cfg = self.cfg
        up_after = {"head_0": True, "G_middle_0": cfg.num_upsampling_layers in ("more", "most")}
        return [(n, n.startswith("up_"), up_after.get(n, False)) for n in BLOCK_NAMES if hasattr(self.plain, n)]

    def block_lowp(self, name: str) -> torch.dtype | None:
        return None if name in self.fp32_blocks else self.low_precision

    def patterns_at(self, codes: torch.Tensor, hw: tuple[int, int]) -> Patterns:
        return build_patterns(resize_nearest(codes, hw), self.n_codes, self.kernel)

    def _run(self, label: torch.Tensor, edge: torch.Tensor | None, z: torch.Tensor | None,
             latent_hw: tuple[int, int] | None, keep: list | None = None) -> torch.Tensor:
        self.prepare()
        g = self.plain
        codes = self.codes(label, edge)
        lhw = tuple(latent_hw) if latent_hw else self.cfg.latent_hw
        x = self._latent(label, edge, z, lhw).contiguous(memory_format=torch.channels_last)
        tables = self.block_tables(x.device, x.dtype)
        pats: dict[tuple[int, int], Patterns] = {}
        for (name, up_before, up_after), tab in zip(self.layout(), tables):
            if up_before:
                x = upsample2x(x, self.cfg.upsampling)
            hw = (int(x.shape[-2]), int(x.shape[-1]))
            if hw not in pats:
                pats[hw] = self.patterns_at(codes, hw)
            x = self.block(getattr(g, name), tab, x, pats[hw], self.block_lowp(name))
            if keep is not None:
                keep.append(x)
            if up_after:
                x = upsample2x(x, self.cfg.upsampling)
        return self.to_image(x)

    def to_image(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(x, 0.2)
        x = self._conv(self.plain.conv_img, x, self.block_lowp("conv_img"))
        return torch.tanh(x)

    def _latent(self, label: torch.Tensor, edge: torch.Tensor | None, z: torch.Tensor | None,
                lhw: tuple[int, int]) -> torch.Tensor:
        g, cfg = self.plain, self.cfg
        if cfg.use_vae:
            if z is None:
                z = torch.randn(label.shape[0], cfg.z_dim, device=label.device)
            return g.latent(label, z, lhw)  # the label is not read for VAE models
        small_lab = resize_nearest(label, lhw)
        small_edge = None if edge is None else resize_nearest(edge, lhw)
        return g.fc(self.one_hot(small_lab, small_edge))

    def block(self, blk: SPADEResBlock, tab: _BlockTables, x: torch.Tensor, pat: Patterns,
              lowp: torch.dtype | None = None, origin: tuple[int, int] = (0, 0),
              period: int | None = None) -> torch.Tensor:
        """One residual block on ``x`` with the label patterns ``pat`` of the same size;
        ``lowp``: the reduced precision of its GEMMs and convs (preview); ``origin`` and
        ``period``: where ``x`` lies in the canvas at this resolution (noise inputs)."""
        mods = self._modulations(tab, pat, lowp)
        return self.add_noise(blk, self._block(blk, x, mods, pat, lowp), origin, period)

    def add_noise(self, blk: SPADEResBlock, y: torch.Tensor, origin: tuple[int, int] = (0, 0),
                  period: int | None = None) -> torch.Tensor:
        """``y`` (a block's fresh output) plus the block's noise input, in place: the same
        values as :meth:`SPADEGenerator.add_noise` at inference. The noise of the last few
        boxes is kept (a stroke asks for the same ones again and again)."""
        strength = getattr(blk, "noise_strength", None)
        if strength is None:
            return y
        name = self._names[id(blk)]
        hw = (int(y.shape[-2]), int(y.shape[-1]))
        key = (name, tuple(origin), hw, period, y.dtype, y.device)
        noise = self._noise.pop(key, None)
        if noise is None:
            noise = self.plain.inference_noise(name, origin, hw, period, y.device, y.dtype)
            while len(self._noise) >= 24:
                self._noise.pop(next(iter(self._noise)))
        self._noise[key] = noise  # most recently used last
        return y.addcmul_(strength.to(y.dtype).view(1, -1, 1, 1), noise)

    def _block(self, blk: SPADEResBlock, x: torch.Tensor, mods: dict, pat: Patterns,
               lowp: torch.dtype | None) -> torch.Tensor:
        if blk.learned_shortcut:
            shortcut = self._conv(blk.conv_s, self._modulate(x, mods["norm_s"], pat, False, "a"), lowp)
        else:
            shortcut = x
        dx = self._conv(blk.conv_0, self._modulate(x, mods["norm_0"], pat, True, "a"), lowp)
        dx = self._conv(blk.conv_1, self._modulate(dx, mods["norm_1"], pat, True, "a"), lowp)
        return dx.add_(shortcut)

    def _modulations(self, tab: _BlockTables, pat: Patterns, lowp: torch.dtype | None) -> dict[str, tuple]:
        """Per SPADE layer: ``(A, B, norm)`` tables over the distinct windows of ``pat``."""
        k2 = tab.table.shape[0]
        win1 = pat.p1.windows  # [U1, k*k] codes
        pre = tab.bias.expand(win1.shape[0], -1).clone()
        for j in range(k2):
            pre += tab.table[j].index_select(0, win1[:, j])
        actv = torch.relu_(pre)  # [U1, sum(hidden)]
        actv = torch.cat([actv, actv.new_zeros(1, actv.shape[1])])  # row U1: outside the image
        win2 = pat.p2.windows  # [U2, k*k] of p1 ids
        u2 = win2.shape[0]
        rows = gemm.bucket(u2)  # padded with windows of the zero row: a few GEMM shapes in all
        if rows > u2:
            win2 = torch.cat([win2, win2.new_full((rows - u2, win2.shape[1]), actv.shape[0] - 1)])
        out = {}
        for (name, spade), off, hid, (wmat, bias) in zip(tab.spades, tab.offsets, tab.hidden, tab.gamma_beta):
            patches = actv[:, off:off + hid].contiguous().index_select(0, win2.reshape(-1)).view(rows, -1)  # [rows, k*k*hid]
            if lowp is not None:
                wl = tab.lowp_cache.get((name, lowp))
                if wl is None:
                    wl = tab.lowp_cache[(name, lowp)] = wmat.to(lowp)
                gb = torch.mm(patches.to(lowp), wl.t()).float().add_(bias)
            else:
                gb = gemm.linear(patches, wmat, bias)  # [U2, 2C]: gamma | beta in one GEMM
            gb = gb[:u2]
            c = gb.shape[1] // 2
            scale, beta = gb[:, :c].add_(1), gb[:, c:]
            norm = spade.param_free_norm
            if isinstance(norm, nn.BatchNorm2d):
                s = torch.rsqrt(norm.running_var + norm.eps)
                t = -norm.running_mean * s
                beta.addcmul_(scale, t)
                scale.mul_(s)
                out[name] = (gb, None)
            else:
                out[name] = (gb, norm)
        return out

    def _modulate(self, x: torch.Tensor, mod: tuple, pat: Patterns, relu: bool, slot: str) -> torch.Tensor:
        """``x * A[id] + B[id]`` (+ leaky ReLU), in cache-sized chunks into a reused buffer."""
        table, norm = mod
        if norm is not None:  # instance norm: statistics of x itself
            x = F.instance_norm(x, eps=norm.eps).contiguous(memory_format=torch.channels_last)
        n, c, h, w = x.shape
        x2 = x.permute(0, 2, 3, 1).reshape(-1, c)  # a view for channels-last x
        total = x2.shape[0]
        y = self._buffer(slot, total * c, x.dtype, x.device).view(total, c)
        ids = pat.flat_ids
        step = max(256, (1 << 19) // (2 * c))  # about 2 MB of gathered table rows per chunk
        scratch = self._buffer("gather", min(step, total) * 2 * c, x.dtype, x.device)
        for s in range(0, total, step):
            e = min(total, s + step)
            ab = scratch[: (e - s) * 2 * c].view(e - s, 2 * c)
            torch.index_select(table, 0, ids[s:e], out=ab)
            torch.addcmul(ab[:, c:], x2[s:e], ab[:, :c], out=y[s:e])
        if relu:
            F.leaky_relu_(y, 0.2)
        return y.view(n, h, w, c).permute(0, 3, 1, 2)

    def _buffer(self, slot: str, numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A reused flat scratch buffer (fresh large allocations cost a page fault per 4 KB)."""
        buf = self._buffers.get(slot)
        if buf is None or buf.numel() < numel or buf.dtype != dtype or buf.device != device:
            buf = torch.empty(numel, dtype=dtype, device=device)
            self._buffers[slot] = buf
        return buf[:numel]

    def release_buffers(self) -> None:
        """Free the scratch buffers (they are kept between renders of one size)."""
        self._buffers.clear()
        self._noise.clear()

    def _conv(self, conv: nn.Conv2d, x: torch.Tensor, dt: torch.dtype | None = None) -> torch.Tensor:
        cpu = x.device.type == "cpu"
        if dt is None:
            if cpu and _plain_3x3(conv) and winograd.wins(conv.in_channels, conv.out_channels,
                                                          x.shape[-2], x.shape[-1]):
                u = self._wino.get(id(conv))
                if u is None:
                    u = self._wino[id(conv)] = winograd.transform_weight(_weight(conv))
                return winograd.conv3x3(x, u, conv.bias)
            if conv.kernel_size == (1, 1) and cpu and x.is_contiguous(memory_format=torch.channels_last):
                return _conv1x1(x, _weight(conv), conv.bias)  # PyTorch runs its slow conv for these
            wp = self._packed(conv, x, torch.float32) if cpu else None
            if wp is not None:
                return gemm.conv_packed(x, wp, conv.bias, conv.padding)
            if x.shape[-2] * x.shape[-1] <= 64 and conv.kernel_size == (3, 3) and cpu:
                return _im2col_conv3x3(x, _weight(conv), conv.bias)  # measured: 2x on 8x8 maps
            return conv(x)
        xl = x.to(dt)
        wp = self._packed(conv, xl, dt) if cpu else None
        if wp is not None:
            b = self._lowp_bias.get((id(conv), dt))
            if b is None and conv.bias is not None:
                b = self._lowp_bias[(id(conv), dt)] = conv.bias.detach().to(dt)
            return gemm.conv_packed(xl, wp, b, conv.padding).float()
        w, b = self._lowp(conv, dt)
        y = F.conv2d(xl, w, b, conv.stride, conv.padding)
        return y.float()

    def _packed(self, conv: nn.Conv2d, x: torch.Tensor | None, dt: torch.dtype) -> torch.Tensor | None:
        """The conv's weight reordered once for oneDNN (None: not available, or not a plain
        stride-1 conv; ``x`` None: only make it)."""
        key = (id(conv), dt)
        if key not in self._packed_weights:
            wp = None
            if conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == "zeros":
                wp = gemm.pack_conv(_weight(conv).to(dt), conv.padding, (1, conv.in_channels, 16, 16))
            self._packed_weights[key] = wp
        if x is not None and not x.is_contiguous(memory_format=torch.channels_last):
            return None
        return self._packed_weights[key]

    def _prepare_plan(self) -> list[tuple[nn.Conv2d, str, torch.dtype]]:
        """What :meth:`prepare` makes: ``(conv, "winograd" | "packed", dtype)``."""
        g, plan = self.plain, []
        for name in [n for n in BLOCK_NAMES if hasattr(g, n)] + ["conv_img"]:
            mod = getattr(g, name)
            convs = [mod] if name == "conv_img" else [getattr(mod, c) for c in ("conv_0", "conv_1", "conv_s")
                                                       if hasattr(mod, c)]
            dt = self.block_lowp(name)
            for conv in convs:
                if dt is not None:
                    plan.append((conv, "packed", dt))
                elif _plain_3x3(conv) and winograd.may_win(conv.in_channels, conv.out_channels):
                    plan.append((conv, "winograd", torch.float32))
                elif conv.kernel_size != (1, 1):
                    plan.append((conv, "packed", torch.float32))
        return plan

    def unprepared_bytes(self) -> int:
        """Memory the first render will add for :meth:`prepare`'s weights (0 once made, or
        where none are made: GPUs, the plain fallback)."""
        if self._prepared or supported(self.plain) is not None or self._device().type != "cpu":
            return 0
        total = 0
        for conv, kind, dt in self._prepare_plan():
            n = conv.out_channels * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            n *= 16 / 9 if kind == "winograd" else 1
            total += int(n * torch.empty(0, dtype=dt).element_size())
        return total

    @torch.no_grad()
    def prepare(self) -> None:
        """Make the weights this mode's CPU convs use (Winograd-transformed, reordered for
        oneDNN), once, before a render allocates its activations: they are model memory, not
        render memory (:func:`.memory.estimate_render_bytes`; :meth:`unprepared_bytes` says how
        much the first render adds). Called by the first render."""
        if self._prepared or supported(self.plain) is not None or self._device().type != "cpu":
            return
        self._prepared = True
        for conv, kind, dt in self._prepare_plan():
            if kind == "winograd":
                self._wino[id(conv)] = winograd.transform_weight(_weight(conv))
            else:
                self._packed(conv, None, dt)

    def _lowp(self, conv: nn.Conv2d, dt: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = (str(self._device()), dt)
        cache = self._lowp_weights.setdefault(key, {})
        hit = cache.get(id(conv))
        if hit is None:
            w = _weight(conv).detach().to(dt).contiguous(memory_format=torch.channels_last)
            b = None if conv.bias is None else conv.bias.detach().to(dt)
            cache[id(conv)] = hit = (w, b)
        return hit

    def block_tables(self, device: torch.device, dtype: torch.dtype) -> list[_BlockTables]:
        key = (str(device), dtype)
        if key not in self._tables:
            self._tables = {key: [self._make_tables(getattr(self.plain, n))
                                  for n in BLOCK_NAMES if hasattr(self.plain, n)]}
        return self._tables[key]

    @torch.no_grad()
    def _make_tables(self, blk: SPADEResBlock) -> _BlockTables:
        spades = [(n, getattr(blk, n)) for n in ("norm_0", "norm_1", "norm_s") if hasattr(blk, n)]
        c, k = self.n_classes, self.kernel
        tables, biases, offsets, hidden, gbs, off = [], [], [], [], [], 0
        for _, sp in spades:
            conv = sp.mlp_shared[0]
            w = conv.weight.detach()  # [hid, C(+1), k, k]
            hid = w.shape[0]
            tables.append(first_conv_table(w, c, self.cfg.use_instance))
            biases.append(conv.bias.detach() if conv.bias is not None else w.new_zeros(hid))
            offsets.append(off)
            hidden.append(hid)
            off += hid
            wg = torch.cat([sp.mlp_gamma.weight.detach(), sp.mlp_beta.weight.detach()], 0)  # [2C, hid, k, k]
            wmat = wg.permute(0, 2, 3, 1).reshape(wg.shape[0], k * k * hid).contiguous()  # cols (dy, dx, hid)
            bg = torch.cat([sp.mlp_gamma.bias.detach(), sp.mlp_beta.bias.detach()])
            gbs.append((wmat, bg))
        return _BlockTables(spades, torch.cat(tables, 2).contiguous(), torch.cat(biases), offsets, hidden, gbs)


def _plain_3x3(conv: nn.Conv2d) -> bool:
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == "zeros")


def _weight(conv: nn.Conv2d) -> torch.Tensor:
    return conv.weight_folded if getattr(conv, "folded", False) else conv.weight


def _im2col_conv3x3(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """3x3 conv (padding 1) as one GEMM over channels-last patches: faster than the conv
    kernel when the map is tiny and the weights are large (the 8x8 head of a generator)."""
    n, c, h, wd = x.shape
    xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 1, 1, 1))
    cols = torch.stack([xp[:, i:i + h, j:j + wd] for i in range(3) for j in range(3)], dim=3)
    wm = w.permute(0, 2, 3, 1).reshape(w.shape[0], -1).contiguous()  # (dy, dx, c) order, as the patches
    y = gemm.linear(cols.view(n * h * wd, -1), wm, b)
    return y.view(n, h, wd, -1).permute(0, 3, 1, 2)


def _conv1x1(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """1x1 conv of a channels-last map as one GEMM (the shortcut convs: PyTorch 2.13 sends them,
    bias-free and channels-last, to its slow reference conv; measured 48 of 857 ms of a COCO-Stuff
    render, 1 thread)."""
    n, c, h, wd = x.shape
    x2 = x.permute(0, 2, 3, 1).reshape(-1, c)  # a view
    y = gemm.linear(x2, w.reshape(w.shape[0], c), b)
    return y.view(n, h, wd, -1).permute(0, 3, 1, 2)


def _out_channels(block: nn.Module) -> int:
    return int(block.conv_1.out_channels)


def optimize_for_inference(generator: SPADEGenerator, mode: Mode = "exact") -> FastGenerator:
    """A module computing ``generator``'s function faster (see the module docstring).

    The generator is shared, not copied: it is put in eval mode, its spectral norms are
    folded (exact in eval mode) and its weights are made channels-last (same values)."""
    generator.eval()
    fold_spectral_norm(generator)
    for p in generator.parameters():
        p.requires_grad_(False)
    generator.to(memory_format=torch.channels_last)
    return FastGenerator(generator, mode)
