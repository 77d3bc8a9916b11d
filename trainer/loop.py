"""The training loop: ``train(config, on_progress, should_stop, resume) -> TrainResult``.

``train`` reads top to bottom as its phases: resolve the config (a copy: the caller's is never
modified), set up the data, build or restore the networks (:mod:`trainer.networks`), prepare the
run folder, iterate (the GAN step is :func:`trainer.step.gan_step`; logging, samples and
checkpoints around it), then the final checkpoint and export. Only rank 0 writes files when run
under torchrun.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from spade_studio.model.checkpoint import save_model
from spade_studio.model.label_patterns import LabelSemantics
from spade_studio.model.semantics import make_semantics
from spade_studio.model.synthesize import pick_device

from .augment import shuffle_tiles
from .config import TrainConfig
from .distributed import DistInfo, init_distributed
from .errors import TrainError
from .events import ProgressFn, make_event
from .lock import RunLock, remove_stale_temp_files
from .networks import (
    ModelPlan,
    Networks,
    amp_context,
    build_networks,
    group_lrs,
    init_weights,
    label_layout,
    lr_at,
    model_bundle,
    plan_model,
    restore_networks,
    training_state,
    transfer_weights,
)
from .state import load_latest_state, save_state
from .step import LossWeights, gan_step

__all__ = ["TrainError", "TrainResult", "train", "export_run", "epoch_batches", "make_sample_grid", "init_weights",
           "transfer_weights", "label_layout"]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    status: str  # "done" | "stopped"
    model_path: Path | None
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# data order: a permutation per epoch, split across ranks, consumed in fixed-size batches
# ---------------------------------------------------------------------------------------------
def epoch_batches(n: int, batch: int, seed: int, epoch: int, dist_info: DistInfo) -> list[list[int]]:
    perm = np.random.default_rng([seed, epoch, 7]).permutation(n)
    mine = perm[dist_info.rank::dist_info.world]
    usable = (len(perm) // dist_info.world) // batch * batch  # drop_last, equal on every rank
    mine = mine[:usable]
    return [mine[i:i + batch].tolist() for i in range(0, usable, batch)]


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
# the run's parts
# ---------------------------------------------------------------------------------------------
@dataclass
class _Reporter:
    """Progress events (rank 0 only); notes made before the start event wait for it."""

    emit: ProgressFn
    main: bool
    notes: list[str] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    started: bool = False

    def note(self, msg: str, kind: str = "log") -> None:
        self.notes.append(msg)
        if self.main:
            ev = make_event(kind, message=msg)
            if self.started:
                self.emit(ev)
            else:
                self.pending.append(ev)

    def event(self, kind: str, **kw: Any) -> None:
        if self.main:
            self.emit(make_event(kind, **kw))

    def start(self, **kw: Any) -> None:
        self.event("start", **kw)
        if self.main:
            for ev in self.pending:
                self.emit(ev)
        self.started = True


@dataclass
class _Data:
    """The training data: folder, layout, label set, pairs and the datasets built on them."""

    root: Path
    mode: str
    label_set: Any  # LabelSet | None until the model plan names one
    samples: list
    has_instances: bool
    dataset: Any = None  # datasets.PairedDataset (training, augmented)
    sample_ds: Any = None  # datasets.PairedDataset (the fixed sample batch: first items, no flip)


@dataclass
class _Run:
    """What stays fixed during the iterations."""

    cfg: TrainConfig
    device: torch.device
    dist_info: DistInfo
    run_dir: Path
    data: _Data
    plan: ModelPlan
    nets: Networks
    rep: _Reporter
    weights: LossWeights


@dataclass
class _RunState:
    """What changes during the iterations."""

    step: int = 0
    epoch: int = 0
    pos: int = 0  # batches of the current epoch consumed
    skipped: int = 0
    status: str = "done"
    losses: dict[str, float] = field(default_factory=dict)  # summed since the last log line
    steps_window: int = 0
    t_window: float = field(default_factory=time.perf_counter)
    t_start: float = field(default_factory=time.perf_counter)


# ---------------------------------------------------------------------------------------------
# set-up phases
# ---------------------------------------------------------------------------------------------
def _set_up_device(cfg: TrainConfig) -> tuple[DistInfo, torch.device]:
    dist_info = DistInfo.from_env()
    device = pick_device(cfg.device)
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    init_distributed(dist_info, device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return dist_info, device


def _resolve_resume(config: TrainConfig, run_dir: Path, resume: bool,
                    rep: _Reporter) -> tuple[TrainConfig, tuple[dict[str, Any], Path] | None]:
    """A copy of ``config`` with a resumed run's own architecture; the newest checkpoint."""
    cfg = replace(config)
    if not resume:
        if rep.main and run_dir.exists() and any(run_dir.glob("checkpoints/ckpt_*.pt")):
            raise TrainError(f"{run_dir} already holds a run: use --resume to continue it, or another --out")
        return cfg, None
    if not (run_dir / "config.json").exists():
        raise TrainError(f"{run_dir}: no run to resume (config.json missing)")
    old = TrainConfig.load(run_dir / "config.json")
    changed = [f for f in TrainConfig.ARCH_FIELDS if getattr(old, f) != getattr(cfg, f)]
    if changed:
        rep.note("resume keeps the run's own settings for: " + ", ".join(changed))
    cfg = replace(cfg, **{f: getattr(old, f) for f in TrainConfig.ARCH_FIELDS},
                  init_from=cfg.init_from or old.init_from)
    saved = load_latest_state(run_dir)
    if saved is None:
        rep.note("no readable checkpoint in the run folder: starting from step 0")
    return cfg, saved


def _find_data(cfg: TrainConfig) -> tuple[TrainConfig, _Data]:
    """The data folder's layout, label set and pairs; the config with the layout and the
    pre-processing resolved."""
    from . import datasets as ds

    root = Path(cfg.data)
    if not root.is_dir():
        raise TrainError(f"{root}: no such data folder")
    mode = cfg.dataset_mode or ds.detect_layout(root)
    label_set = ds.resolve_label_set(root, cfg.label_set, mode)
    samples = ds.find_samples(root, mode)
    if not samples:
        raise TrainError(f"{root}: no image/label pairs found (run check-data for a report)")
    preprocess = cfg.preprocess
    if preprocess is None:
        preprocess = "fixed" if mode == "paired" else {"cityscapes": "fixed"}.get(mode, "resize_and_crop")
    load_size = cfg.load_size or (cfg.size if preprocess in ("fixed", "none") else int(round(cfg.size * 286 / 256)))
    cfg = replace(cfg, dataset_mode=mode, preprocess=preprocess, load_size=load_size)
    return cfg, _Data(root, mode, label_set, samples, any(s.instance is not None for s in samples))


def _make_dataset(cfg: TrainConfig, data: _Data, plan: ModelPlan, train: bool):
    from . import datasets as ds
    from .augment import PreprocessConfig

    assert cfg.preprocess is not None and cfg.load_size is not None
    pre = PreprocessConfig(mode=cfg.preprocess, load_size=cfg.load_size, crop_size=cfg.size,
                           aspect_ratio=cfg.aspect, flip=cfg.flip and train)
    samples = data.samples if train else data.samples[: min(4, len(data.samples))]
    return ds.PairedDataset(samples, pre, plan.label_set, train=train, seed=cfg.seed,
                            use_instance=plan.use_instance, allowed_ids=plan.allowed_ids(),
                            simplify=cfg.simplify_labels, color_jitter=cfg.color_jitter)


def _prepare_run_dir(run_dir: Path, cfg: TrainConfig, plan: ModelPlan) -> None:
    """The run folder with the resolved config.json and label_set.json (rank 0)."""
    from spade_studio.imageio import atomic_write

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "samples").mkdir(exist_ok=True)
    cfg.save(run_dir / "config.json")
    atomic_write(run_dir / "label_set.json", plan.label_set.to_json().encode())


# ---------------------------------------------------------------------------------------------
# outputs: model file, checkpoints, sample grids, log lines
# ---------------------------------------------------------------------------------------------
def _export(run: _Run, st: _RunState, path: Path) -> Path:
    cfg = run.cfg
    provenance = {"source": "SPADE Studio trainer", "run": run.run_dir.resolve().name, "step": st.step,
                  "data": run.data.root.resolve().name, "samples": len(run.data.samples), "ema": cfg.ema,
                  "init_from": Path(cfg.init_from).name if cfg.init_from else None}
    return save_model(model_bundle(run.nets, run.plan, provenance), path)


def _checkpoint(run: _Run, st: _RunState) -> None:
    if not run.rep.main:
        return
    state = training_state(run.nets, run.plan.gcfg, st.step, st.epoch, st.pos)
    path = save_state(run.run_dir, st.step, state, run.cfg.keep_last)
    _export(run, st, run.run_dir / "model.safetensors")
    run.rep.event("checkpoint", step=st.step, path=str(path))


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return ((x.float().cpu() + 1) / 2 * 255).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def _write_samples(run: _Run, st: _RunState) -> None:
    if not run.rep.main:
        return
    sample_ds, device, E = run.data.sample_ds, run.device, run.nets.E
    items = [it for it in (sample_ds[i] for i in range(len(sample_ds))) if it is not None]
    if not items:
        return
    net = run.nets.generator_for_output()
    was_training = net.training
    net.eval()
    label = torch.stack([it["label"] for it in items]).to(device)
    inst = torch.stack([it["instance"] for it in items]).to(device) if run.plan.use_instance else None
    real = torch.stack([it["image"] for it in items]).to(device)
    sem = make_semantics(label, inst, run.plan.gcfg)
    z = None
    if E is not None:
        E.eval()
        z, _ = E(real)
        E.train()
    fake = net(sem, z)
    net.train(was_training)
    lab_rgb = np.stack([run.plan.label_set.colorize(lb[0].cpu().numpy().astype(np.int64)) for lb in label])
    grid = make_sample_grid(lab_rgb, _to_u8(real), _to_u8(fake))
    from spade_studio.imageio import write_image

    path = write_image(run.run_dir / "samples" / f"step_{st.step:08d}.png", grid)
    write_image(run.run_dir / "samples" / "latest.png", grid)
    run.rep.event("sample", step=st.step, path=str(path))


def _log_step(run: _Run, st: _RunState, lr_g: float, lr_d: float, metrics: IO[str]) -> None:
    now = time.perf_counter()
    it_s = st.steps_window / max(now - st.t_window, 1e-9)
    total = run.cfg.iters
    ev = dict(step=st.step, total=total, epoch=st.epoch,
              losses={k: v / st.steps_window for k, v in st.losses.items()},
              it_s=it_s, img_s=it_s * run.cfg.batch * run.dist_info.world,
              eta_s=(total - st.step) / it_s if it_s > 0 else None,
              lr_G=lr_g, lr_D=lr_d, skipped=st.skipped, elapsed_s=now - st.t_start)
    run.rep.event("step", **ev)
    metrics.write(json.dumps(ev) + "\n")
    metrics.flush()
    st.t_window, st.steps_window, st.losses = now, 0, {}


# ---------------------------------------------------------------------------------------------
# the iterations
# ---------------------------------------------------------------------------------------------
def _loader(run: _Run, epoch: int, start: int):
    """The DataLoader of an epoch from batch ``start`` on, and the epoch's number of batches."""
    from torch.utils.data import DataLoader

    from . import datasets as ds

    cfg, dataset = run.cfg, run.data.dataset
    batches = epoch_batches(len(dataset), cfg.batch, cfg.seed, epoch, run.dist_info)
    dataset.set_epoch(epoch)
    if not batches:
        raise TrainError(f"{run.data.root}: {len(dataset)} pairs are fewer than one batch of {cfg.batch}"
                         + (f" per process ({run.dist_info.world})" if run.dist_info.enabled else ""))
    # a private generator: creating a loader must not consume the global RNG (exact resume)
    dl = DataLoader(dataset, batch_sampler=batches[start:], num_workers=cfg.workers,
                    collate_fn=ds.collate_skip_none, generator=torch.Generator().manual_seed(cfg.seed),
                    worker_init_fn=_ignore_stop_signals if cfg.workers else None)
    return dl, len(batches)


def _ignore_stop_signals(_worker_id: int) -> None:
    """Data-loading workers leave SIGINT and SIGTERM to the trainer. Ctrl+C in a terminal, or
    ``timeout`` / a service manager stopping the run, signal the whole process group; a worker
    that died of it made the trainer fail ("DataLoader worker ... killed by signal") instead
    of finishing the step and saving its checkpoint. The trainer shuts its workers down itself
    (and they leave when it dies: PyTorch's workers watch their parent)."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _step(run: _Run, st: _RunState, batch: dict[str, Any]) -> tuple[float, float]:
    """One GAN iteration on ``batch`` (and the EMA update); returns the (G, D) learning rates."""
    cfg, nets, device = run.cfg, run.nets, run.device
    lr_g, lr_d = group_lrs(cfg, lr_at(cfg, st.step))
    for grp in nets.opt_G.param_groups:
        grp["lr"] = lr_g
    for grp in nets.opt_D.param_groups:
        grp["lr"] = lr_d
    label = batch["label"].to(device, non_blocking=True)
    real = batch["image"].to(device, non_blocking=True)
    inst = batch["instance"].to(device) if run.plan.use_instance and "instance" in batch else None
    sem = make_semantics(label, inst, run.plan.gcfg)
    if cfg.channels_last:
        sem = sem.contiguous(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
    g_sem = None
    if cfg.pattern_spade and not run.dist_info.enabled and device.type == "cpu":
        g_sem = LabelSemantics.from_one_hot(sem, run.plan.gcfg)
    style = None
    if nets.E_train is not None and cfg.style_shuffle > 0:
        style = shuffle_tiles(real, cfg.style_shuffle)  # the global RNG: a resume continues its stream
    res = gan_step(nets.G_train, nets.E_train, nets.D, nets.D_train, nets.opt_G, nets.opt_D, nets.scaler, sem, real,
                   run.weights, nets.vgg_loss, autocast=lambda: amp_context(nets.amp, device),
                   shared=cfg.shared_d_forward and not run.dist_info.enabled, g_sem=g_sem, style=style)
    if nets.G_ema is not None:
        with torch.no_grad():
            for pe, p in zip(nets.G_ema.parameters(), nets.G.parameters()):
                pe.lerp_(p.detach(), 1 - cfg.ema)
            for be, b in zip(nets.G_ema.buffers(), nets.G.buffers()):
                be.copy_(b)
    st.step += 1
    st.steps_window += 1
    vals = {k: float(v.detach()) for k, v in res.g_losses.items()}
    vals.update(D_real=float(res.d_real.detach()), D_Fake=float(res.d_fake.detach()))
    vals.update({k: float(v.detach()) for k, v in res.d_extra.items()})
    if not all(math.isfinite(v) for v in vals.values()):
        raise TrainError(f"the losses became NaN/inf at step {st.step} ({vals}); lower --lr or use --amp off")
    for k, v in vals.items():
        st.losses[k] = st.losses.get(k, 0.0) + v
    return lr_g, lr_d


def _iterate(run: _Run, st: _RunState, stop: Callable[[], bool]) -> None:
    """Steps until ``iters`` or a stop request, epoch by epoch, with log lines, samples and
    checkpoints at their intervals."""
    cfg, total = run.cfg, run.cfg.iters
    metrics = open(run.run_dir / "metrics.jsonl", "a", encoding="utf-8") if run.rep.main else None
    run.nets.G_train.train()
    run.nets.D_train.train()
    try:
        while st.step < total and st.status != "stopped":
            dl, n_batches = _loader(run, st.epoch, st.pos)
            for batch, n_skip in dl:
                if stop():
                    st.status = "stopped"
                    break
                st.pos += 1
                st.skipped += n_skip
                if batch is None:
                    continue
                lr_g, lr_d = _step(run, st, batch)
                if metrics is not None and (st.step % cfg.log_every == 0 or st.step == total):
                    _log_step(run, st, lr_g, lr_d, metrics)
                if cfg.sample_every and st.step % cfg.sample_every == 0:
                    _write_samples(run, st)
                if cfg.save_every and st.step % cfg.save_every == 0:
                    _checkpoint(run, st)
                if st.step >= total:
                    break
            if st.pos >= n_batches:
                st.epoch, st.pos = st.epoch + 1, 0
    finally:
        if metrics is not None:
            metrics.close()


def _finish(run: _Run, st: _RunState) -> Path | None:
    """The final checkpoint and samples (unless just written), the closing event; the model path."""
    cfg = run.cfg
    if cfg.save_every == 0 or st.step % cfg.save_every != 0:
        _checkpoint(run, st)
    if cfg.sample_every == 0 or st.step % cfg.sample_every != 0:
        _write_samples(run, st)
    model_path = run.run_dir / "model.safetensors" if run.rep.main else None
    run.rep.event(st.status, step=st.step, total=cfg.iters, run=str(run.run_dir), model=str(model_path),
                  skipped=st.skipped)
    if run.dist_info.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return model_path


# ---------------------------------------------------------------------------------------------
def train(config: TrainConfig, on_progress: ProgressFn | None = None,
          should_stop: Callable[[], bool] | None = None, resume: bool = False) -> TrainResult:
    """Train (or, with ``resume``, continue) the run ``config`` describes. ``config`` is not
    modified: the run works on a copy with every default resolved and saves it as config.json."""
    stop = should_stop or (lambda: False)
    bad = config.problems()
    if bad:  # before a lock, a folder or a network exists
        raise TrainError("; ".join(bad))
    dist_info, device = _set_up_device(config)
    rep = _Reporter(on_progress or (lambda ev: None), dist_info.is_main)
    run_dir = Path(config.out)

    # one trainer per run folder (a second one is refused, naming the owner); the temp files an
    # interrupted write left are removed under the lock
    existed = run_dir.exists()
    lock = RunLock(run_dir).acquire() if rep.main else None
    try:
        if lock is not None:
            removed = remove_stale_temp_files(run_dir)
            if removed:
                rep.note(f"removed {len(removed)} temp file(s) left by an interrupted write: "
                         + ", ".join(p.name for p in removed[:5]))
        return _train_locked(config, run_dir, resume, rep, dist_info, device, stop)
    finally:
        if lock is not None:
            lock.release()
            if not existed:
                try:
                    run_dir.rmdir()  # only when the run never wrote anything
                except OSError:
                    pass


def _train_locked(config: TrainConfig, run_dir: Path, resume: bool, rep: _Reporter, dist_info: DistInfo,
                  device: torch.device, stop: Callable[[], bool]) -> TrainResult:
    # the config, the data and the architecture
    cfg, saved = _resolve_resume(config, run_dir, resume, rep)
    cfg, data = _find_data(cfg)
    cfg, plan = plan_model(cfg, data.label_set, data.has_instances, rep.note)
    data.dataset = _make_dataset(cfg, data, plan, train=True)

    # the networks, fresh or from the run's newest checkpoint
    nets = build_networks(cfg, plan, device, dist_info, from_init_model=saved is None, note=rep.note)
    st = _RunState()
    if saved is not None:
        st.step, st.epoch, st.pos = restore_networks(nets, saved, rep.note)
    if rep.main:
        _prepare_run_dir(run_dir, cfg, plan)
    data.sample_ds = _make_dataset(cfg, data, plan, train=False)
    run = _Run(cfg, device, dist_info, run_dir, data, plan, nets, rep,
               LossWeights(feat=cfg.lambda_feat, vgg=cfg.lambda_vgg, kld=cfg.lambda_kld, labelmix=cfg.lambda_labelmix))

    # the iterations, then the final checkpoint and model file
    out_h, out_w = plan.gcfg.output_hw
    rep.start(run=str(run_dir), step=st.step, total=cfg.iters, samples=len(data.samples), device=str(device),
              world=dist_info.world, amp=nets.amp,
              model={"label_set": plan.label_set.name, "classes": plan.label_nc, "ngf": plan.gcfg.ngf,
                     "use_vae": plan.gcfg.use_vae, "size": [out_h, out_w]})
    st.t_window = st.t_start = time.perf_counter()
    _iterate(run, st, stop)
    model_path = _finish(run, st)
    return TrainResult(run_dir, st.step, st.status, model_path, st.skipped, rep.notes)


def export_run(run_dir: str | Path, output: str | Path, half: bool = False) -> Path:
    """Copy a run's current model (written at every checkpoint) to ``output``."""
    from spade_studio.model.checkpoint import load_model_file

    src = Path(run_dir) / "model.safetensors"
    if not src.exists():
        raise TrainError(f"{run_dir}: no model.safetensors yet (the run has not saved a checkpoint)")
    bundle = load_model_file(src)
    return save_model(bundle, output, half=half)
