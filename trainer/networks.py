"""The networks of a training run: their configuration, initialisation, optimisers, resume state and export.

``plan_model`` resolves the architecture (options, data, an initial model), ``build_networks``
creates G / D / E with their optimisers (wrapped for DistributedDataParallel under torchrun),
``restore_networks`` / ``training_state`` read and write a checkpoint's tensors, ``model_bundle``
makes the shareable model file's contents.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_studio.labels import LabelSet, numbered_label_set
from spade_studio.model.checkpoint import ModelBundle, load_any
from spade_studio.model.config import EncoderConfig, GeneratorConfig, SPADENormConfig
from spade_studio.model.encoder import StyleEncoder
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.layers import SpectralNormMixin
from spade_studio.model.official import CheckpointError

from .config import TrainConfig
from .discriminator import DiscriminatorConfig, MultiscaleDiscriminator
from .distributed import DistInfo, convert_sync_batchnorm
from .errors import TrainError
from .losses import VGGLoss, load_vgg19

Note = Callable[..., None]  # note(message, kind="log")


# ---------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------
def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """Official init: xavier-normal (gain 0.02) for conv/linear weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight_orig if isinstance(m, SpectralNormMixin) else m.weight
            nn.init.xavier_normal_(w, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


LABEL_LAYER_SUFFIXES = ("mlp_shared.0.weight", "mlp_shared.0.bias")


def _label_dependent(key: str, use_vae: bool) -> bool:
    if key.endswith(LABEL_LAYER_SUFFIXES):
        return True
    return not use_vae and key in ("fc.weight", "fc.bias")


def _resampled_latent(target: nn.Module, src: torch.Tensor) -> torch.Tensor | None:
    """A VAE generator's ``fc`` (z -> a ``16 ngf x h0 x w0`` grid) resampled bilinearly to
    ``target``'s latent grid. Bilinear resampling is linear, so the new ``fc`` computes exactly
    what the old one followed by the generator's bilinear latent resize computes: a model
    trained at 128 px starts at 256 px as the same function it renders there. None when the
    shapes do not fit that pattern."""
    cfg = getattr(target, "cfg", None)
    if cfg is None:
        return None
    c, (h, w) = 16 * cfg.ngf, cfg.latent_hw
    n = src.shape[0] // c if src.shape[0] % c == 0 else 0
    w0 = int(round((n * w / h) ** 0.5)) if n else 0
    if not w0 or n % w0 or (n // w0) * w != h * w0:
        return None
    h0 = n // w0
    grid = src.reshape(c, h0, w0, -1).permute(3, 0, 1, 2).float()  # [z or 1, C, h0, w0]
    out = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
    return out.permute(1, 2, 3, 0).reshape(c * h * w, *src.shape[1:]).to(src.dtype)


def transfer_weights(target: nn.Module, source: dict[str, torch.Tensor], reinit_label_layers: bool,
                     use_vae: bool) -> tuple[int, list[str]]:
    """Copy matching weights into ``target``; returns (copied, re-initialised keys)."""
    own = target.state_dict()
    fresh = []
    copied = 0
    new_sd = {}
    for k, v in own.items():
        src = source.get(k)
        if src is not None and use_vae and k in ("fc.weight", "fc.bias") and tuple(src.shape) != tuple(v.shape):
            src = _resampled_latent(target, src)  # another latent grid (trained at another size)
        if src is not None and tuple(src.shape) == tuple(v.shape) and not (
                reinit_label_layers and _label_dependent(k, use_vae)):
            new_sd[k] = src
            copied += 1
        else:
            new_sd[k] = v
            fresh.append(k)
    target.load_state_dict(new_sd)
    return copied, fresh


def label_layout(label_set: LabelSet | None, label_nc: int | None) -> tuple[int, bool]:
    """(label_nc, contain_dontcare) of a label set: the dontcare id gets its own channel."""
    if label_set is not None:
        ids = [i for i in label_set.ids if i != label_set.dontcare_id]
        return max(ids) + 1, label_set.dontcare_id is not None
    if label_nc is None:
        raise TrainError("no label set: name one (--label-set) or give --label-nc")
    return label_nc, False


# ---------------------------------------------------------------------------------------------
# learning rate, mixed precision
# ---------------------------------------------------------------------------------------------
def lr_at(cfg: TrainConfig, step: int) -> float:
    """The learning rate at ``step``: constant, then linear decay to 0 from ``decay_start``."""
    if cfg.decay_start is None or step < cfg.decay_start or cfg.iters <= cfg.decay_start:
        return cfg.lr
    return cfg.lr * max(0.0, (cfg.iters - step) / (cfg.iters - cfg.decay_start))


def group_lrs(cfg: TrainConfig, lr: float) -> tuple[float, float]:
    """(G, D) learning rates: TTUR halves G's and doubles D's unless ``no_ttur``."""
    return (lr, lr) if cfg.no_ttur else (lr / 2, lr * 2)


def amp_context(kind: str, device: torch.device):
    """The autocast context of an amp kind (off: none)."""
    if kind == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if kind == "fp16":
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def resolve_amp(requested: str, device: torch.device) -> str:
    """``off``, ``bf16`` or ``fp16`` for the requested mode on ``device``."""
    r = (requested or "auto").lower()
    if r == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "off"
    if r not in ("off", "bf16", "fp16"):
        raise TrainError(f"--amp {requested!r}: use auto, off, bf16 or fp16")
    if r == "fp16" and device.type != "cuda":
        raise TrainError("fp16 autocast needs CUDA; use bf16 or off on this device")
    return r


# ---------------------------------------------------------------------------------------------
# architecture
# ---------------------------------------------------------------------------------------------
@dataclass
class ModelPlan:
    """The resolved architecture of a run and the label set it trains on."""

    gcfg: GeneratorConfig
    ecfg: EncoderConfig | None
    dcfg: DiscriminatorConfig
    label_set: LabelSet
    label_nc: int
    dontcare: bool
    use_instance: bool
    init_bundle: ModelBundle | None  # the --init-from model

    def allowed_ids(self) -> set[int]:
        """Label ids the generator has a channel for (and the dontcare id)."""
        allowed = set(range(self.label_nc + int(self.dontcare)))
        if self.label_set.dontcare_id is not None:
            allowed.add(self.label_set.dontcare_id)
        return allowed


def plan_model(cfg: TrainConfig, label_set: LabelSet | None, has_instances: bool,
               note: Note) -> tuple[TrainConfig, ModelPlan]:
    """The architecture from the options, the data's label set and an initial model; returns
    the config with the initial model's architecture and the instance choice filled in."""
    use_instance = has_instances if cfg.use_instance is None else bool(cfg.use_instance)
    init_bundle: ModelBundle | None = None
    if cfg.init_from:
        try:
            init_bundle = load_any(cfg.init_from)
        except CheckpointError as exc:
            raise TrainError(f"--init-from: {exc}") from None
    label_nc, dontcare = label_layout(label_set, cfg.label_nc)
    if label_set is not None and cfg.label_nc is not None and cfg.label_nc != label_nc:
        note(f"--label-nc {cfg.label_nc} ignored: the data's label set {label_set.name!r} has {label_nc} classes",
             "warning")
    if label_set is None:
        label_set = numbered_label_set(label_nc)
    spectral, spade = SPADENormConfig.parse(cfg.norm_G, cfg.spade_hidden)
    if init_bundle is not None:
        ig = init_bundle.generator
        spectral, spade = ig.spectral, ig.spade
        cfg = replace(cfg, ngf=ig.ngf, spade_hidden=ig.spade.hidden, norm_G=ig.norm_G,
                      num_upsampling_layers=ig.num_upsampling_layers)
        if ig.use_vae and not cfg.use_vae:
            cfg = replace(cfg, use_vae=True)
            note("the initial model takes a style vector: training with the style encoder (VAE)")
    gcfg = GeneratorConfig(
        label_nc=label_nc, contain_dontcare_label=dontcare, use_instance=use_instance, ngf=cfg.ngf,
        spectral=spectral, spade=spade, num_upsampling_layers=cfg.num_upsampling_layers,  # type: ignore[arg-type]
        crop_size=cfg.size, aspect_ratio=cfg.aspect, use_vae=cfg.use_vae, upsampling=cfg.upsampling,
        noise_inputs=cfg.noise_inputs,
    )
    if init_bundle is not None and init_bundle.label_set.same_labels(label_set):
        ig = init_bundle.generator
        gcfg = gcfg.with_(label_nc=ig.label_nc, contain_dontcare_label=ig.contain_dontcare_label)
        if ig.use_instance != use_instance:
            gcfg = gcfg.with_(use_instance=ig.use_instance)
            use_instance = ig.use_instance
    cfg = replace(cfg, use_instance=use_instance)
    ecfg = EncoderConfig(ngf=cfg.ngf) if cfg.use_vae else None
    dcfg = DiscriminatorConfig(input_nc=gcfg.semantic_nc + 3, ndf=cfg.ndf, n_layers=cfg.n_layers_D, num_D=cfg.num_D)
    return cfg, ModelPlan(gcfg, ecfg, dcfg, label_set, label_nc, dontcare, use_instance, init_bundle)


# ---------------------------------------------------------------------------------------------
# networks and optimisers
# ---------------------------------------------------------------------------------------------
@dataclass
class Networks:
    """G, D and the style encoder E (plain and as trained: DDP-wrapped under torchrun), G's EMA
    copy, the optimisers, the fp16 grad scaler and the perceptual loss."""

    G: nn.Module
    D: nn.Module
    E: nn.Module | None
    G_ema: nn.Module | None
    G_train: nn.Module
    D_train: nn.Module
    E_train: nn.Module | None
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    amp: str
    vgg_loss: nn.Module | None

    def generator_for_output(self) -> nn.Module:
        """The generator that renders samples and the exported model (the EMA copy if any)."""
        return self.G_ema if self.G_ema is not None else self.G


def _discriminator(cfg: TrainConfig, plan: ModelPlan, note: Note) -> nn.Module:
    """The multiscale PatchGAN (official init), or with ``--discriminator oasis`` the OASIS
    segmentation discriminator (width ``--ndf``, one output per class the generator has a
    channel for, plus "fake"). The OASIS D keeps PyTorch's default initialisation: with the
    official xavier gain 0.02 one Adam step is large against the tiny weights, and the spectral
    norm's single power iteration per step cannot follow; its power iterations start converged."""
    if cfg.discriminator != "oasis":
        D = MultiscaleDiscriminator(plan.dcfg)
        init_weights(D)
        return D
    from .discriminator import OASISConfig, OASISDiscriminator

    D = OASISDiscriminator(OASISConfig(n_classes=plan.gcfg.label_nc + int(plan.gcfg.contain_dontcare_label),
                                       ndf=cfg.ndf))
    D.settle_spectral_norm()
    if cfg.lambda_feat > 0:
        note("OASIS discriminator: feature matching on its encoder outputs (--lambda-feat 0: none)")
    return D


def build_networks(cfg: TrainConfig, plan: ModelPlan, device: torch.device, dist_info: DistInfo,
                   from_init_model: bool, note: Note) -> Networks:
    """Seeded initialisation (then the initial model's weights when ``from_init_model``),
    device placement, EMA copy, DDP wrappers, optimisers, grad scaler and VGG loss."""
    torch.manual_seed(cfg.seed)
    G = SPADEGenerator(plan.gcfg)
    init_weights(G)
    with torch.no_grad():  # noise inputs (an initial model's own strengths replace these)
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(cfg.noise_init)
    E = StyleEncoder(plan.ecfg) if plan.ecfg else None
    if E is not None:
        init_weights(E)
    D = _discriminator(cfg, plan, note)
    if plan.init_bundle is not None and from_init_model:
        _start_from_model(cfg, plan, G, E, note)

    G.to(device)
    D.to(device)
    if E is not None:
        E.to(device)
    if cfg.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    G_ema = copy.deepcopy(G).eval() if cfg.ema > 0 else None
    if G_ema is not None:
        for p in G_ema.parameters():
            p.requires_grad_(False)

    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        G = convert_sync_batchnorm(G, device)
        dev_ids = [device.index] if device.type == "cuda" else None
        G_train: nn.Module = DDP(G, device_ids=dev_ids, broadcast_buffers=False)
        D_train: nn.Module = DDP(D, device_ids=dev_ids, broadcast_buffers=False)
        E_train = DDP(E, device_ids=dev_ids, broadcast_buffers=False) if E is not None else None
    else:
        G_train, D_train, E_train = G, D, E

    beta1, beta2 = (0.5, 0.999) if cfg.no_ttur else (cfg.beta1, cfg.beta2)
    g_params = list(G.parameters()) + (list(E.parameters()) if E is not None else [])
    lr_g, lr_d = group_lrs(cfg, lr_at(cfg, 0))
    opt_G = make_adam(g_params, lr_g, (beta1, beta2), device)
    opt_D = make_adam(D.parameters(), lr_d, (beta1, beta2), device)
    amp = resolve_amp(cfg.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=(amp == "fp16"))

    vgg_loss = None
    if cfg.vgg_weights:
        vgg_loss = VGGLoss(load_vgg19(cfg.vgg_weights)).to(device)
    elif cfg.lambda_vgg > 0:
        note("VGG19 weights not given (--vgg-weights): perceptual loss off", "warning")
    return Networks(G, D, E, G_ema, G_train, D_train, E_train, opt_G, opt_D, scaler, amp, vgg_loss)


def _start_from_model(cfg: TrainConfig, plan: ModelPlan, G: nn.Module, E: nn.Module | None, note: Note) -> None:
    """Copy the initial model's weights; label-dependent layers start fresh for another label set."""
    init = plan.init_bundle
    assert init is not None
    relabel = not init.label_set.same_labels(plan.label_set) or init.generator.semantic_nc != plan.gcfg.semantic_nc
    copied, fresh = transfer_weights(G, init.G_state_dict, relabel, plan.gcfg.use_vae)
    msg = f"initialised from {cfg.init_from}: {copied} generator tensors kept"
    if relabel:
        msg += (f"; label set differs ({init.label_set.name} -> {plan.label_set.name}): the label-map fc "
                f"and every SPADE layer's first conv re-initialised ({len(fresh)} tensors)")
    elif fresh:
        msg += f"; {len(fresh)} re-initialised ({', '.join(fresh[:3])}...)"
    note(msg)
    if E is not None and init.E_state_dict:
        c, f_ = transfer_weights(E, init.E_state_dict, False, True)
        note(f"style encoder initialised from the model ({c} tensors kept, {len(f_)} new)")


# ---------------------------------------------------------------------------------------------
# resume state and the model file
# ---------------------------------------------------------------------------------------------
def make_adam(params, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where PyTorch has one (CPU, CUDA): the same update rule in one
    pass over each tensor instead of a Python loop of small ops (5x faster on the bundled
    model's 8 M generator parameters on a CPU; ``bench/train_speed.py``)."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused or None)


def _keep_fused(opt: torch.optim.Optimizer, fused: bool | None) -> None:
    """``load_state_dict`` copies the saved groups' flags: keep this run's kernel choice."""
    for group in opt.param_groups:
        group["fused"] = fused
        if fused:
            group["foreach"] = None


def restore_networks(nets: Networks, saved: tuple[dict[str, Any], Path], note: Note) -> tuple[int, int, int]:
    """Load a checkpoint into the networks, optimisers and the torch RNG; returns (step, epoch, pos)."""
    st, path = saved
    try:
        nets.G.load_state_dict(st["G"])
        nets.D.load_state_dict(st["D"])
        if nets.E is not None:
            nets.E.load_state_dict(st["E"])
        if nets.G_ema is not None and st.get("G_ema") is not None:
            nets.G_ema.load_state_dict(st["G_ema"])
        for opt, key in ((nets.opt_G, "opt_G"), (nets.opt_D, "opt_D")):
            fused = opt.param_groups[0].get("fused")
            opt.load_state_dict(st[key])
            _keep_fused(opt, fused)
        if st.get("scaler"):
            nets.scaler.load_state_dict(st["scaler"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise TrainError(f"{path}: checkpoint does not fit this run ({str(exc).splitlines()[0]})") from None
    step, epoch, pos = int(st["step"]), int(st["epoch"]), int(st["pos"])
    torch.set_rng_state(st["rng_torch"])
    note(f"resumed from {path.name} at step {step}")
    return step, epoch, pos


def training_state(nets: Networks, gcfg: GeneratorConfig, step: int, epoch: int, pos: int) -> dict[str, Any]:
    """A checkpoint's contents: every tensor and counter that an exact resume needs."""
    E, G_ema = nets.E, nets.G_ema
    return {
        "G": nets.G.state_dict(), "D": nets.D.state_dict(), "E": E.state_dict() if E is not None else None,
        "G_ema": G_ema.state_dict() if G_ema is not None else None,
        "opt_G": nets.opt_G.state_dict(), "opt_D": nets.opt_D.state_dict(), "scaler": nets.scaler.state_dict(),
        "step": step, "epoch": epoch, "pos": pos, "rng_torch": torch.get_rng_state(),
        "generator": json.dumps(gcfg.to_dict()),
    }


def model_bundle(nets: Networks, plan: ModelPlan, provenance: dict[str, Any]) -> ModelBundle:
    """The shareable model: the output generator (EMA if any), the style encoder, the label set."""
    E = nets.E
    return ModelBundle(
        generator=plan.gcfg,
        G_state_dict={k: v.detach().cpu() for k, v in nets.generator_for_output().state_dict().items()},
        label_set=plan.label_set, encoder=plan.ecfg,
        E_state_dict={k: v.detach().cpu() for k, v in E.state_dict().items()} if E is not None else None,
        provenance=provenance,
    )
