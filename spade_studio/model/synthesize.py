"""Synthesizer: a loaded model on a device; label map (+ style) -> RGB uint8."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from spade_studio.labels import LabelError
from spade_studio.sysmemory import FALLBACK_MEMORY_BYTES, system_memory_available

from .checkpoint import ModelBundle, load_any, validate_bundle
from .encoder import StyleEncoder
from .fast import FastGenerator, optimize_for_inference
from .generator import SPADEGenerator
from .images import image_to_tensor, to_uint8
from .layers import fold_spectral_norm
from .memory import (  # noqa: F401 (re-exported)
    RENDER_OVERHEAD_BYTES,
    CanvasTooLargeError,
    estimate_render_bytes,
    region_stream_bytes,
)
from .official import CheckpointError, load_official_state_dict
from .semantics import allowed_label_values, label_indices, make_semantics
from .stroke import StrokeRenderer


def pick_device(requested: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then the CPU. Explicit requests are checked."""
    req = (requested or "auto").lower()
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if req.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested but no CUDA device is available (use --device cpu or auto)")
    if req == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError("Apple MPS was requested but is not available (use --device cpu or auto)")
    if req not in ("cpu", "mps") and not req.startswith("cuda"):
        raise RuntimeError(f"unknown device {requested!r} (auto, cpu, cuda, mps)")
    return torch.device(req)


def native_bf16(device: torch.device) -> bool:
    """True where bf16 arithmetic is native (CPUs with AVX512-BF16/AMX, recent CUDA GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(requested: str, device: torch.device) -> str:
    """``fp32`` (exact, the official outputs), ``bf16``, or ``auto`` (bf16 where it is native)."""
    req = (requested or "fp32").lower()
    if req not in ("auto", "fp32", "bf16"):
        raise RuntimeError(f"unknown precision {requested!r} (auto, fp32, bf16)")
    if req == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return req




def available_memory(device: torch.device) -> int:
    """Bytes a render may use on ``device``: free GPU memory for CUDA, else the system's
    ``MemAvailable`` (Linux), else half the physical memory, else 4 GB, within the process's
    address-space and cgroup limits (Q17: they were ignored): see :mod:`spade_studio.sysmemory`."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return FALLBACK_MEMORY_BYTES
    return system_memory_available()


@dataclass
class RenderResult:
    image: np.ndarray  # [H, W, 3] uint8
    z: torch.Tensor | None = None  # the style vector used (VAE models)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Synthesizer:
    """A SPADE model ready for inference.

    ``Synthesizer(model=None)`` loads the bundled default model; ``model`` may be our
    ``.safetensors`` file, an official checkpoint folder or ``.pth``, or a :class:`ModelBundle`.
    Spectral norm is folded once at load (exact for eval); every call runs under
    ``torch.inference_mode``. Thread-safe (one render at a time).

    Renders run through :func:`~spade_studio.model.fast.optimize_for_inference` (``fast=True``,
    the default): ``quality="exact"`` computes the plain network's result (fp32, within 1e-4),
    ``quality="preview"`` adds native reduced precision and, for successive maps of one size
    and style, live stroke updates (:mod:`.stroke`). ``fast=False`` runs the plain network.
    """

    def __init__(self, model: str | os.PathLike | ModelBundle | None = None, device: str = "auto",
                 dataset: str | None = None, threads: int | None = None, precision: str = "fp32",
                 fast: bool = True, memory_budget: int | None = None) -> None:
        if model is None:
            from spade_studio.paths import default_model_path

            model = default_model_path()
            if model is None:
                raise CheckpointError("no bundled default model in this build; pass a model file (--model)")
        if isinstance(model, ModelBundle):
            validate_bundle(model, model.provenance.get("path") or "model")
        self.bundle = model if isinstance(model, ModelBundle) else load_any(model, dataset)
        # bytes a render may use (None: the memory available at each render)
        self.memory_budget = memory_budget
        self.source = str(model) if not isinstance(model, ModelBundle) else model.provenance.get("path", "")
        self.device = pick_device(device)
        self.precision = resolve_precision(precision, self.device)
        if threads:
            torch.set_num_threads(threads)
        cfg = self.bundle.generator
        self.config = cfg
        self.label_set = self.bundle.label_set
        g = SPADEGenerator(cfg)
        load_official_state_dict(g, self.bundle.G_state_dict, where="generator weights")
        fold_spectral_norm(g)
        # channels-last convolutions are markedly faster on CPUs (measured: bench/render_speed.py)
        self.G = g.eval().to(self.device, memory_format=torch.channels_last)
        self.fast = bool(fast)
        self.G_exact: FastGenerator = optimize_for_inference(self.G, "exact")
        self.G_preview = FastGenerator(self.G, "preview")
        self.strokes = StrokeRenderer(self.G_preview)
        self.E: StyleEncoder | None = None
        if self.bundle.has_encoder:
            e = StyleEncoder(self.bundle.encoder)  # type: ignore[arg-type]
            load_official_state_dict(e, self.bundle.E_state_dict, where="encoder weights")  # type: ignore[arg-type]
            fold_spectral_norm(e)
            self.E = e.eval().to(self.device)
        self.allowed = allowed_label_values(cfg)
        self._lock = threading.Lock()

    # -- facts -----------------------------------------------------------------------------
    @property
    def uses_style(self) -> bool:
        return self.config.use_vae

    @property
    def has_encoder(self) -> bool:
        return self.E is not None

    @property
    def stride(self) -> int:
        return self.config.stride

    @property
    def native_size(self) -> tuple[int, int]:
        """(H, W) the model was trained at."""
        return self.config.output_hw

    def describe(self) -> str:
        cfg = self.config
        prec = ", bf16" if self.precision == "bf16" else ""
        return (f"{self.label_set.name} ({cfg.label_nc} classes), ngf {cfg.ngf}, "
                f"{'VAE' if cfg.use_vae else 'label-map'} input, on {self.device.type}{prec}")

    # -- inputs ----------------------------------------------------------------------------
    def check_labels(self, label: np.ndarray, where: str = "label map") -> None:
        present = np.unique(label)
        bad = present[~np.isin(present, np.asarray(self.allowed))]
        if bad.size:
            shown = ", ".join(str(int(b)) for b in bad[:20])
            raise LabelError(
                f"{where}: label id(s) {shown} not in the model's label set "
                f"'{self.label_set.name}' ({self.config.label_nc} classes: ids 0..{self.config.label_nc - 1}"
                + (", 255 = unlabeled" if self.config.contain_dontcare_label else "") + ")"
            )

    def plan_size(self, h: int, w: int) -> tuple[int, int, list[str]]:
        """Size actually rendered for an ``h x w`` canvas (padded up to the latent stride)."""
        s = self.stride
        ph, pw = max(s, -(-h // s) * s), max(s, -(-w // s) * s)
        notes = []
        if (ph, pw) != (h, w):
            notes.append(
                f"canvas {w}x{h} is not a multiple of {s}: rendered at {pw}x{ph} "
                f"(label borders repeated) and cropped back to {w}x{h}"
            )
        return ph, pw, notes

    def memory_available(self) -> int:
        """Bytes a render may use: ``memory_budget``, else 85 % of what is available now."""
        if self.memory_budget is not None:
            return int(self.memory_budget)
        return int(available_memory(self.device) * 0.85)

    @property
    def one_go_fast(self) -> bool:
        """True where renders take the fast pattern path (CPU, fp32)."""
        return self.fast and self.precision == "fp32" and self.device.type == "cpu"

    def one_go_bytes(self, h: int, w: int, styles: int = 1) -> int:
        """:func:`estimate_render_bytes` for this synthesizer's path at the padded size (with
        ``styles`` > 1, the region-style streams too: :func:`.memory.region_stream_bytes`)."""
        ph, pw, _ = self.plan_size(h, w)
        fast = self.one_go_fast
        return (estimate_render_bytes(self.config, ph, pw, fast=fast, keep=fast and self.strokes.available)
                + region_stream_bytes(self.config, ph, pw, styles)
                + (self.G_exact.unprepared_bytes() if fast else 0))  # weights the first render makes

    def largest_one_go(self, h: int, w: int, styles: int = 1) -> tuple[int, int]:
        """(H, W): about the largest canvas of the shape of ``h x w`` that renders in one go
        (with ``styles`` style streams: the global style and the region styles)."""
        need, have = self.one_go_bytes(h, w, styles), self.memory_available()
        s = self.stride
        scale = (max(have, 0) / max(need, 1)) ** 0.5
        fh, fw = max(s, int(h * scale) // s * s), max(s, int(w * scale) // s * s)
        while (fh > s and fw > s) and self.one_go_bytes(fh, fw, styles) > have:
            fh, fw = max(s, fh - s), max(s, int(fw - s * w / h) // s * s)
        return fh, fw

    def check_memory(self, h: int, w: int, where: str = "label map", styles: int = 1) -> None:
        """Refuse (:class:`CanvasTooLargeError`) a canvas whose one-go render would not fit in
        memory, saying the largest canvas of the same shape that would, and that tiles would."""
        need, have = self.one_go_bytes(h, w, styles), self.memory_available()
        if need <= have:
            return
        fh, fw = self.largest_one_go(h, w)
        gb = 1024**3
        raise CanvasTooLargeError(
            f"{where}: a {w}x{h} canvas needs about {need / gb:.1f} GB to render in one go "
            f"(in tiles it fits: --tile auto, or the editor's final render), "
            f"{have / gb:.1f} GB {'allowed' if self.memory_budget is not None else 'available'} on "
            f"{self.device.type}: the largest canvas of this shape that fits in one go is about {fw}x{fh}"
        )

    # -- style -----------------------------------------------------------------------------
    def random_z(self, seed: int, n: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(n, self.config.z_dim, generator=g)

    def encode_style(self, rgb: np.ndarray, sample: bool = False, seed: int = 0) -> torch.Tensor:
        """Style image ``[H,W,3]`` uint8 -> z ``[1, z_dim]`` (the mean; or a sample with ``sample``)."""
        if self.E is None:
            raise RuntimeError("this model has no style encoder")
        with self._lock, torch.inference_mode():
            mu, logvar = self.E(image_to_tensor(rgb)[None].to(self.device))
            mu, logvar = mu.float().cpu(), logvar.float().cpu()
        if not sample:
            return mu
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(int(seed)))
        return mu + eps * torch.exp(0.5 * logvar)

    # -- rendering -------------------------------------------------------------------------
    def render(self, label: np.ndarray, instance: np.ndarray | None = None, *, z: torch.Tensor | None = None,
               style_image: np.ndarray | None = None, seed: int | None = None,
               where: str = "label map", quality: str = "exact",
               region_styles: list | None = None,
               tile: int | str | None = None, wrap: bool = False, progress=None, cancel=None,
               instance_where: str | None = None) -> RenderResult:
        """Label ids ``[H, W]`` (+ instance ids) -> RGB uint8 ``[H, W, 3]``.

        Style (VAE models): ``z`` if given, else the encoded ``style_image``, else ``z`` drawn
        from ``seed`` (0 when nothing is given). ``quality``: ``exact`` (the plain network's
        result) or ``preview`` (faster, within the preview bounds; for live strokes).
        ``region_styles``: ``[(mask (H, W) bool/float, z), ...]`` styles for parts of the map
        over the global one (:mod:`.regional`; VAE models only).
        ``tile``: None (one go; a canvas too large for memory is refused), ``"auto"`` (one go
        when it fits, else tiles) or a tile size in px; ``wrap``: a 360° panorama, periodic in
        x (:mod:`.tiling`). Tiled renders call ``progress(done, total)`` after every tile and
        stop with :class:`~.tiling.RenderCancelled` when ``cancel()`` returns True.
        ``where`` names the label map and ``instance_where`` the instance map (its file) in errors."""
        if quality not in ("exact", "preview"):
            raise ValueError(f"quality must be 'exact' or 'preview', not {quality!r}")
        import time

        t0 = time.perf_counter()
        label = np.asarray(label)
        if label.ndim != 2:
            raise LabelError(f"{where}: label map must be 2-D, got shape {label.shape}")
        h, w = label.shape
        if instance is not None and np.asarray(instance).shape != (h, w):
            ih, iw = np.asarray(instance).shape[:2] if np.asarray(instance).ndim >= 2 else (0, 0)
            if instance_where:  # F4: name the file that is the wrong size
                raise LabelError(f"{instance_where}: instance map is {iw}x{ih}, but the label map {where} is {w}x{h}: "
                                 "give an instance map of the label map's size")
            raise LabelError(f"{where}: its instance map is {iw}x{ih}, the label map {w}x{h}")
        self.check_labels(label, where)
        plan = None
        if tile is not None or wrap:
            from .tiling import plan_tiles

            # bad tile sizes refused here; each region style is one more stream per tile
            plan = plan_tiles(self, h, w, tile, wrap, where, styles=1 + len(region_styles or []))
        if plan is None:
            self.check_memory(h, w, where, styles=1 + len(region_styles or []))
        if region_styles:
            from . import regional

            region_styles = regional.check_region_styles(region_styles, h, w, self.config.z_dim, self.uses_style,
                                                         self.label_set.name + " model", where)
        notes: list[str] = []
        if self.config.use_vae:
            if z is None:
                if style_image is not None:
                    if self.E is None:
                        raise RuntimeError("this model has no style encoder: a style image cannot be used")
                    z = self.encode_style(style_image)
                else:
                    z = self.random_z(0 if seed is None else seed)
            z = z.reshape(-1, self.config.z_dim).float()
        elif style_image is not None or z is not None:
            notes.append("this model takes no style input: style ignored")
            z = None
        ph, pw, size_notes = self.plan_size(h, w)
        notes += size_notes
        lab = label.astype(np.int64)
        inst = None if instance is None else np.asarray(instance).astype(np.int64)
        if (ph, pw) != (h, w):
            lab = np.pad(lab, ((0, ph - h), (0, pw - w)), mode="edge")
            if inst is not None:
                inst = np.pad(inst, ((0, ph - h), (0, pw - w)), mode="edge")
        if plan is not None:
            regions = regional.pad_regions(region_styles, ph, pw) if region_styles else None
            return self._render_tiled(plan, lab, inst, z, quality, progress, cancel, notes, (h, w), t0, regions)
        with self._lock, torch.inference_mode():
            lab_t = torch.from_numpy(lab)[None, None].to(self.device)
            inst_t = None if inst is None else torch.from_numpy(inst)[None, None].to(self.device)
            zz = None if z is None else z.to(self.device).expand(1, -1)
            lhw = (ph // self.stride, pw // self.stride)
            if region_styles:
                out = regional.render_regions(self, *label_indices(lab_t, inst_t, self.config), zz,
                                              regional.pad_regions(region_styles, ph, pw), lhw, quality,
                                              lab=lab_t, inst=inst_t)
            elif not self.fast or self.precision == "bf16":
                sem = make_semantics(lab_t, inst_t, self.config).contiguous(memory_format=torch.channels_last)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                    out = self.G(sem, zz, latent_hw=lhw)
            else:
                idx, edge = label_indices(lab_t, inst_t, self.config)
                if quality == "preview" and self.strokes.available:
                    out = self.strokes.update(idx, edge, zz, lhw)
                elif self.strokes.available:
                    out = self.strokes.render(idx, edge, zz, lhw, generator=self.G_exact)
                else:
                    gen = self.G_preview if quality == "preview" else self.G_exact
                    out = gen.forward_labels(idx, edge, zz, lhw)
                if self.G_exact.fallback_reason and self.G_exact.fallback_reason not in notes:
                    notes.append(f"fast inference unavailable: {self.G_exact.fallback_reason}")
            img = to_uint8(out.float())[0, :h, :w]
        return RenderResult(img, None if z is None else z.cpu(), notes, time.perf_counter() - t0)

    def _render_tiled(self, plan, lab, inst, z, quality, progress, cancel, notes, hw, t0,
                      regions=None) -> RenderResult:
        import time

        from .tiling import render_tiles, to_uint8_hwc

        notes.append(plan.describe())
        if any(isinstance(m, torch.nn.InstanceNorm2d) for m in self.G.modules()):
            notes.append("instance-norm model: each tile is normalised on its own (tiles may differ in tone)")
        with self._lock, torch.inference_mode():
            self.strokes.reset()  # its kept activations are another canvas's; free them first
            acc = render_tiles(self, plan, lab, inst, z, quality, progress, cancel, regions=regions)
        img = to_uint8_hwc(acc)[: hw[0], : hw[1]]
        del acc
        return RenderResult(np.ascontiguousarray(img), None if z is None else z.cpu(), notes, time.perf_counter() - t0)

    def __repr__(self) -> str:
        return f"Synthesizer({self.describe()})"
