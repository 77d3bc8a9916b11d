"""The training loop: ``train(config, on_progress, should_stop) -> TrainResult``.

Reads top to bottom: set-up (run folder, data, networks, optimisers, resume state), then the
iterations (G step, D step, logging, samples, checkpoints), then the final export. Only rank 0
writes files when run under torchrun.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spade_studio.labels import LabelSet, numbered_label_set
from spade_studio.model.checkpoint import ModelBundle, load_any, save_model
from spade_studio.model.config import EncoderConfig, GeneratorConfig, SPADENormConfig
from spade_studio.model.encoder import StyleEncoder
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.layers import SpectralNormMixin
from spade_studio.model.official import CheckpointError, load_official_state_dict
from spade_studio.model.semantics import make_semantics
from spade_studio.model.synthesize import pick_device

from .config import TrainConfig
from .discriminator import DiscriminatorConfig, MultiscaleDiscriminator
from .distributed import DistInfo, convert_sync_batchnorm, init_distributed
from .events import ProgressFn, make_event
from .losses import VGGLoss, load_vgg19
from .state import load_latest_state, save_state
from .step import LossWeights, gan_step


class TrainError(RuntimeError):
    """Training cannot start or continue; the message says why."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    status: str  # "done" | "stopped"
    model_path: Path | None
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# networks
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


def transfer_weights(target: nn.Module, source: dict[str, torch.Tensor], reinit_label_layers: bool,
                     use_vae: bool) -> tuple[int, list[str]]:
    """Copy matching weights into ``target``; returns (copied, re-initialised keys)."""
    own = target.state_dict()
    fresh = []
    copied = 0
    new_sd = {}
    for k, v in own.items():
        src = source.get(k)
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
# data order: a permutation per epoch, split across ranks, consumed in fixed-size batches
# ---------------------------------------------------------------------------------------------
def epoch_batches(n: int, batch: int, seed: int, epoch: int, dist_info: DistInfo) -> list[list[int]]:
    perm = np.random.default_rng([seed, epoch, 7]).permutation(n)
    mine = perm[dist_info.rank::dist_info.world]
    usable = (len(perm) // dist_info.world) // batch * batch  # drop_last, equal on every rank
    mine = mine[:usable]
    return [mine[i:i + batch].tolist() for i in range(0, usable, batch)]


# ---------------------------------------------------------------------------------------------
def _amp_context(kind: str, device: torch.device):
    if kind == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if kind == "fp16":
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def _resolve_amp(requested: str, device: torch.device) -> str:
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


def _lr_at(cfg: TrainConfig, step: int) -> float:
    if cfg.decay_start is None or step < cfg.decay_start or cfg.iters <= cfg.decay_start:
        return cfg.lr
    return cfg.lr * max(0.0, (cfg.iters - step) / (cfg.iters - cfg.decay_start))


def _group_lrs(cfg: TrainConfig, lr: float) -> tuple[float, float]:
    return (lr, lr) if cfg.no_ttur else (lr / 2, lr * 2)


def make_sample_grid(label_rgb: np.ndarray, real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Rows of label | real | generated, ``[N*H, 3*W, 3]`` uint8 with 2-px gaps."""
    n, h, w, _ = real.shape
    gap = 2
    grid = np.full((n * h + (n - 1) * gap, 3 * w + 2 * gap, 3), 24, np.uint8)
    for i in range(n):
        y = i * (h + gap)
        for j, img in enumerate((label_rgb[i], real[i], fake[i])):
            grid[y:y + h, j * (w + gap):j * (w + gap) + w] = img
    return grid


# ---------------------------------------------------------------------------------------------
def train(config: TrainConfig, on_progress: ProgressFn | None = None,
          should_stop: Callable[[], bool] | None = None, resume: bool = False) -> TrainResult:
    from . import datasets as ds
    from .augment import PreprocessConfig

    emit = on_progress or (lambda ev: None)
    stop = should_stop or (lambda: False)
    dist_info = DistInfo.from_env()
    device = pick_device(config.device)
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    init_distributed(dist_info, device)
    main = dist_info.is_main
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir = Path(config.out)
    notes: list[str] = []

    started = False
    pending: list[dict] = []

    def note(msg: str, kind: str = "log") -> None:
        notes.append(msg)
        if main:
            ev = make_event(kind, message=msg)
            emit(ev) if started else pending.append(ev)

    # -- run folder / resume -------------------------------------------------------------------
    saved = None
    if resume:
        if not (run_dir / "config.json").exists():
            raise TrainError(f"{run_dir}: no run to resume (config.json missing)")
        old = TrainConfig.load(run_dir / "config.json")
        changed = [f for f in TrainConfig.ARCH_FIELDS if getattr(old, f) != getattr(config, f)]
        if changed:
            note("resume keeps the run's own settings for: " + ", ".join(changed))
        for f in TrainConfig.ARCH_FIELDS:
            setattr(config, f, getattr(old, f))
        if not config.init_from:
            config.init_from = old.init_from
        saved = load_latest_state(run_dir)
        if saved is None:
            note("no readable checkpoint in the run folder: starting from step 0")
    elif main and run_dir.exists() and any(run_dir.glob("checkpoints/ckpt_*.pt")):
        raise TrainError(f"{run_dir} already holds a run: use --resume to continue it, or another --out")

    # -- data ----------------------------------------------------------------------------------
    data_root = Path(config.data)
    if not data_root.is_dir():
        raise TrainError(f"{data_root}: no such data folder")
    mode = config.dataset_mode or ds.detect_layout(data_root)
    label_set = ds.resolve_label_set(data_root, config.label_set, mode)
    samples = ds.find_samples(data_root, mode)
    if not samples:
        raise TrainError(f"{data_root}: no image/label pairs found (run check-data for a report)")
    has_inst = any(s.instance is not None for s in samples)
    use_instance = has_inst if config.use_instance is None else bool(config.use_instance)

    # -- architecture (possibly from an initial model) ------------------------------------------
    init_bundle: ModelBundle | None = None
    if config.init_from:
        try:
            init_bundle = load_any(config.init_from)
        except CheckpointError as exc:
            raise TrainError(f"--init-from: {exc}") from None
    label_nc, dontcare = label_layout(label_set, config.label_nc)
    if label_set is None:
        label_set = numbered_label_set(label_nc)
    spectral, spade = SPADENormConfig.parse(config.norm_G, config.spade_hidden)
    if init_bundle is not None:
        ig = init_bundle.generator
        spectral, spade = ig.spectral, ig.spade
        config.ngf, config.spade_hidden = ig.ngf, ig.spade.hidden
        config.norm_G, config.num_upsampling_layers = ig.norm_G, ig.num_upsampling_layers
        if ig.use_vae and not config.use_vae:
            config.use_vae = True
            note("the initial model takes a style vector: training with the style encoder (VAE)")
    gcfg = GeneratorConfig(
        label_nc=label_nc, contain_dontcare_label=dontcare, use_instance=use_instance, ngf=config.ngf,
        spectral=spectral, spade=spade, num_upsampling_layers=config.num_upsampling_layers,  # type: ignore[arg-type]
        crop_size=config.size, aspect_ratio=config.aspect, use_vae=config.use_vae,
    )
    if init_bundle is not None and init_bundle.label_set.same_labels(label_set):
        ig = init_bundle.generator
        gcfg = gcfg.with_(label_nc=ig.label_nc, contain_dontcare_label=ig.contain_dontcare_label)
        if ig.use_instance != use_instance:
            gcfg = gcfg.with_(use_instance=ig.use_instance)
            use_instance = ig.use_instance
    out_h, out_w = gcfg.output_hw
    if config.preprocess is None:
        config.preprocess = "fixed" if mode == "paired" else {"cityscapes": "fixed"}.get(mode, "resize_and_crop")
    load_size = config.load_size or (
        config.size if config.preprocess in ("fixed", "none") else int(round(config.size * 286 / 256)))
    pre = PreprocessConfig(mode=config.preprocess, load_size=load_size, crop_size=config.size,
                           aspect_ratio=config.aspect, flip=config.flip)
    allowed = set(range(label_nc + int(dontcare)))
    if label_set.dontcare_id is not None:
        allowed.add(label_set.dontcare_id)
    dataset = ds.PairedDataset(samples, pre, label_set, train=True, seed=config.seed, use_instance=use_instance,
                               allowed_ids=allowed)

    torch.manual_seed(config.seed)
    G = SPADEGenerator(gcfg)
    init_weights(G)
    ecfg = EncoderConfig(ngf=config.ngf) if config.use_vae else None
    E = StyleEncoder(ecfg) if ecfg else None
    if E is not None:
        init_weights(E)
    dcfg = DiscriminatorConfig(input_nc=gcfg.semantic_nc + 3, ndf=config.ndf, n_layers=config.n_layers_D,
                               num_D=config.num_D)
    D = MultiscaleDiscriminator(dcfg)
    init_weights(D)

    if init_bundle is not None and saved is None:
        relabel = not init_bundle.label_set.same_labels(label_set) or \
            init_bundle.generator.semantic_nc != gcfg.semantic_nc
        copied, fresh = transfer_weights(G, init_bundle.G_state_dict, relabel, gcfg.use_vae)
        msg = f"initialised from {config.init_from}: {copied} generator tensors kept"
        if relabel:
            msg += (f"; label set differs ({init_bundle.label_set.name} -> {label_set.name}): the label-map fc "
                    f"and every SPADE layer's first conv re-initialised ({len(fresh)} tensors)")
        elif fresh:
            msg += f"; {len(fresh)} re-initialised ({', '.join(fresh[:3])}...)"
        note(msg)
        if E is not None and init_bundle.E_state_dict:
            c, f_ = transfer_weights(E, init_bundle.E_state_dict, False, True)
            note(f"style encoder initialised from the model ({c} tensors kept, {len(f_)} new)")

    G.to(device)
    D.to(device)
    if E is not None:
        E.to(device)
    if config.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    G_ema = copy.deepcopy(G).eval() if config.ema > 0 else None
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

    beta1, beta2 = (0.5, 0.999) if config.no_ttur else (config.beta1, config.beta2)
    g_params = list(G.parameters()) + (list(E.parameters()) if E is not None else [])
    lr_g, lr_d = _group_lrs(config, _lr_at(config, 0))
    opt_G = torch.optim.Adam(g_params, lr=lr_g, betas=(beta1, beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(beta1, beta2))
    amp = _resolve_amp(config.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=(amp == "fp16"))

    vgg_loss = None
    if config.vgg_weights:
        vgg_loss = VGGLoss(load_vgg19(config.vgg_weights)).to(device)
    elif config.lambda_vgg > 0:
        note("VGG19 weights not given (--vgg-weights): perceptual loss off", "warning")

    # -- restore ---------------------------------------------------------------------------------
    step, epoch, pos = 0, 0, 0
    if saved is not None:
        st, path = saved
        try:
            G.load_state_dict(st["G"])
            D.load_state_dict(st["D"])
            if E is not None:
                E.load_state_dict(st["E"])
            if G_ema is not None and st.get("G_ema") is not None:
                G_ema.load_state_dict(st["G_ema"])
            opt_G.load_state_dict(st["opt_G"])
            opt_D.load_state_dict(st["opt_D"])
            if st.get("scaler"):
                scaler.load_state_dict(st["scaler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise TrainError(f"{path}: checkpoint does not fit this run ({str(exc).splitlines()[0]})") from None
        step, epoch, pos = int(st["step"]), int(st["epoch"]), int(st["pos"])
        torch.set_rng_state(st["rng_torch"])
        note(f"resumed from {path.name} at step {step}")

    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
        config.save(run_dir / "config.json")
        if label_set is not None:
            from spade_studio.imageio import atomic_write

            atomic_write(run_dir / "label_set.json", label_set.to_json().encode())

    # fixed sample batch: the first items, no flip
    sample_ds = ds.PairedDataset(samples[: min(4, len(samples))], PreprocessConfig(
        mode=pre.mode, load_size=pre.load_size, crop_size=pre.crop_size, aspect_ratio=pre.aspect_ratio, flip=False),
        label_set, train=False, seed=config.seed, use_instance=use_instance, allowed_ids=allowed)

    def export(path: Path) -> Path:
        g_src = G_ema if G_ema is not None else G
        bundle = ModelBundle(
            generator=gcfg, G_state_dict={k: v.detach().cpu() for k, v in g_src.state_dict().items()},
            label_set=label_set, encoder=ecfg,
            E_state_dict={k: v.detach().cpu() for k, v in E.state_dict().items()} if E is not None else None,
            provenance={"source": "SPADE Studio trainer", "run": run_dir.resolve().name, "step": step,
                        "data": data_root.resolve().name, "samples": len(samples), "ema": config.ema,
                        "init_from": Path(config.init_from).name if config.init_from else None},
        )
        return save_model(bundle, path)

    def checkpoint() -> None:
        if not main:
            return
        state = {
            "G": G.state_dict(), "D": D.state_dict(), "E": E.state_dict() if E is not None else None,
            "G_ema": G_ema.state_dict() if G_ema is not None else None,
            "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(), "scaler": scaler.state_dict(),
            "step": step, "epoch": epoch, "pos": pos, "rng_torch": torch.get_rng_state(),
            "generator": json.dumps(gcfg.to_dict()),
        }
        path = save_state(run_dir, step, state, config.keep_last)
        export(run_dir / "model.safetensors")
        emit(make_event("checkpoint", step=step, path=str(path)))

    @torch.no_grad()
    def write_samples() -> None:
        if not main:
            return
        items = [sample_ds[i] for i in range(len(sample_ds))]
        items = [it for it in items if it is not None]
        if not items:
            return
        net = G_ema if G_ema is not None else G
        was_training = net.training
        net.eval()
        label = torch.stack([it["label"] for it in items]).to(device)
        inst = torch.stack([it["instance"] for it in items]).to(device) if use_instance else None
        real = torch.stack([it["image"] for it in items]).to(device)
        sem = make_semantics(label, inst, gcfg)
        z = None
        if E is not None:
            E.eval()
            z, _ = E(real)
            E.train()
        fake = net(sem, z)
        net.train(was_training)

        def u8(x: torch.Tensor) -> np.ndarray:
            return ((x.float().cpu() + 1) / 2 * 255).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

        lab_rgb = np.stack([label_set.colorize(lb[0].cpu().numpy().astype(np.int64)) for lb in label])
        grid = make_sample_grid(lab_rgb, u8(real), u8(fake))
        from spade_studio.imageio import write_image

        path = write_image(run_dir / "samples" / f"step_{step:08d}.png", grid)
        write_image(run_dir / "samples" / "latest.png", grid)
        emit(make_event("sample", step=step, path=str(path)))

    from torch.utils.data import DataLoader

    def loader_for(ep: int, start: int):
        batches = epoch_batches(len(dataset), config.batch, config.seed, ep, dist_info)
        dataset.set_epoch(ep)
        if not batches:
            raise TrainError(f"{data_root}: {len(dataset)} pairs are fewer than one batch of {config.batch}"
                             + (f" per process ({dist_info.world})" if dist_info.enabled else ""))
        # a private generator: creating a loader must not consume the global RNG (exact resume)
        dl = DataLoader(dataset, batch_sampler=batches[start:], num_workers=config.workers,
                        collate_fn=ds.collate_skip_none, generator=torch.Generator().manual_seed(config.seed))
        return dl, len(batches)

    weights = LossWeights(feat=config.lambda_feat, vgg=config.lambda_vgg, kld=config.lambda_kld)
    total = config.iters
    if main:
        emit(make_event("start", run=str(run_dir), step=step, total=total, samples=len(samples),
                        device=str(device), world=dist_info.world, amp=amp,
                        model={"label_set": label_set.name, "classes": label_nc, "ngf": gcfg.ngf,
                               "use_vae": gcfg.use_vae, "size": [out_h, out_w]}))
        for ev in pending:
            emit(ev)
    started = True
    metrics_f = open(run_dir / "metrics.jsonl", "a", encoding="utf-8") if main else None
    skipped_total = 0
    status = "done"
    t_window, steps_window, t_start = time.perf_counter(), 0, time.perf_counter()
    losses_acc: dict[str, float] = {}
    G_train.train()
    D_train.train()
    try:
        while step < total and status != "stopped":
            dl, n_batches = loader_for(epoch, pos)
            for batch, n_skip in dl:
                if stop():
                    status = "stopped"
                    break
                pos += 1
                skipped_total += n_skip
                if batch is None:
                    continue
                lr = _lr_at(config, step)
                lr_g, lr_d = _group_lrs(config, lr)
                for grp in opt_G.param_groups:
                    grp["lr"] = lr_g
                for grp in opt_D.param_groups:
                    grp["lr"] = lr_d
                label = batch["label"].to(device, non_blocking=True)
                real = batch["image"].to(device, non_blocking=True)
                inst = batch["instance"].to(device) if use_instance and "instance" in batch else None
                sem = make_semantics(label, inst, gcfg)
                if config.channels_last:
                    sem = sem.contiguous(memory_format=torch.channels_last)
                    real = real.contiguous(memory_format=torch.channels_last)

                res = gan_step(G_train, E_train, D, D_train, opt_G, opt_D, scaler, sem, real, weights, vgg_loss,
                               autocast=lambda: _amp_context(amp, device), shared=config.shared_d_forward and not dist_info.enabled)
                g_losses, d_real, d_fake = res.g_losses, res.d_real, res.d_fake

                if G_ema is not None:
                    with torch.no_grad():
                        for pe, p in zip(G_ema.parameters(), G.parameters()):
                            pe.lerp_(p.detach(), 1 - config.ema)
                        for be, b in zip(G_ema.buffers(), G.buffers()):
                            be.copy_(b)

                step += 1
                steps_window += 1
                vals = {k: float(v.detach()) for k, v in g_losses.items()}
                vals.update(D_real=float(d_real.detach()), D_Fake=float(d_fake.detach()))
                if not all(math.isfinite(v) for v in vals.values()):
                    raise TrainError(f"the losses became NaN/inf at step {step} ({vals}); lower --lr or use --amp off")
                for k, v in vals.items():
                    losses_acc[k] = losses_acc.get(k, 0.0) + v

                if main and (step % config.log_every == 0 or step == total):
                    now = time.perf_counter()
                    it_s = steps_window / max(now - t_window, 1e-9)
                    ev = dict(step=step, total=total, epoch=epoch,
                              losses={k: v / steps_window for k, v in losses_acc.items()},
                              it_s=it_s, img_s=it_s * config.batch * dist_info.world,
                              eta_s=(total - step) / it_s if it_s > 0 else None,
                              lr_G=lr_g, lr_D=lr_d, skipped=skipped_total, elapsed_s=now - t_start)
                    emit(make_event("step", **ev))
                    metrics_f.write(json.dumps(ev) + "\n")
                    metrics_f.flush()
                    t_window, steps_window, losses_acc = now, 0, {}
                if config.sample_every and step % config.sample_every == 0:
                    write_samples()
                if config.save_every and step % config.save_every == 0:
                    checkpoint()
                if step >= total:
                    break
            if pos >= n_batches:
                epoch, pos = epoch + 1, 0
    finally:
        if metrics_f is not None:
            metrics_f.close()

    if config.save_every == 0 or step % config.save_every != 0:
        checkpoint()
    if config.sample_every == 0 or step % config.sample_every != 0:
        write_samples()
    model_path = run_dir / "model.safetensors" if main else None
    if main:
        emit(make_event(status, step=step, total=total, run=str(run_dir), model=str(model_path),
                        skipped=skipped_total))
    if dist_info.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(run_dir, step, status, model_path, skipped_total, notes)


def export_run(run_dir: str | Path, output: str | Path, half: bool = False) -> Path:
    """Copy a run's current model (written at every checkpoint) to ``output``."""
    from spade_studio.model.checkpoint import load_model_file

    src = Path(run_dir) / "model.safetensors"
    if not src.exists():
        raise TrainError(f"{run_dir}: no model.safetensors yet (the run has not saved a checkpoint)")
    bundle = load_model_file(src)
    return save_model(bundle, output, half=half)


_ = (F, load_official_state_dict)  # re-exported helpers used by callers
