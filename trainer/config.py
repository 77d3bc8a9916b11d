"""TrainConfig: every setting of a training run, as plain typed values (saved as config.json)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


def opt(default: Any = MISSING, help: str = "", *, flag: str | None = None, choices: Sequence[str] | None = None,
        values: dict[str, Any] | None = None) -> Any:
    """A TrainConfig field with its command-line help. ``flag``: the option's name when it is
    not ``--field-name``; ``choices``: allowed values; ``values``: word -> value for options
    that take words (``--instances auto|on|off``)."""
    meta = {"help": help, "flag": flag, "choices": tuple(choices) if choices else None, "values": values}
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Every option of a training run. This class is the only place that defines an option,
    its default and its help: ``spade-studio-cli train``'s arguments (:func:`add_arguments`)
    and the app's child-process arguments (:func:`to_args`) are derived from its fields."""

    data: str = opt(help="dataset folder")
    out: str = opt(help="run folder")
    dataset_mode: str | None = opt(None, "folder layout (default: detected)",
                                   choices=("paired", "coco", "ade20k", "cityscapes"))
    label_set: str | None = opt(None, "label set name or JSON file (default: dataset.json / layout)")
    label_nc: int | None = opt(None, "number of classes when there is no label set")
    size: int = opt(256, "training crop width")
    aspect: float = opt(1.0, "width / height")
    load_size: int | None = opt(None, "resize before cropping to this (default: size * 286/256 for crop modes)")
    preprocess: str | None = opt(None, "official pre-processing mode (default: fixed for paired folders)")
    flip: bool = opt(True, "random horizontal flips")
    simplify_labels: float = opt(0.0, "share of training maps replaced by a painted-looking version of themselves "
                                      "(flat shapes, crude boundaries; the image stays)")
    color_jitter: float = opt(0.0, "share of training images given a random global colour change (the style "
                                   "encoder learns colours beyond the data's)")
    style_shuffle: float = opt(0.0, "share of training images whose style-encoder input is cut into 4x4 tiles "
                                    "in random order (the encoder reads colours and textures, not where they "
                                    "are: photos of other scenes steer the look)")
    ngf: int = opt(64, "generator width")
    ndf: int = opt(64, "discriminator width")
    spade_hidden: int = opt(128, "SPADE hidden width (official: 128)")
    norm_G: str = opt("spectralspadesyncbatch3x3", "generator normalisation (official name)")
    num_upsampling_layers: str = opt("normal", "generator depth", choices=("normal", "more", "most"))
    upsampling: str = opt("nearest", "how G doubles its features between blocks (bilinear: our models "
                          "only; official checkpoints are nearest)", choices=("nearest", "bilinear"))
    noise_inputs: bool = opt(False, "each generator block adds per-pixel noise with a learned strength (fine "
                                    "stochastic texture; our models only; an initial model without it starts "
                                    "at --noise-init)")
    noise_init: float = opt(0.0, "initial noise strength of blocks that have none yet (from scratch, or an "
                                 "initial model without noise inputs)")
    discriminator: str = opt("patchgan", "discriminator: multiscale PatchGAN with feature matching (SPADE) or a "
                                         "per-pixel segmentation U-Net with N+1 classes (OASIS; feature "
                                         "matching on its encoder outputs; --ndf is its base width)", choices=("patchgan", "oasis"))
    lambda_labelmix: float = opt(10.0, "LabelMix consistency weight (OASIS discriminator)")
    n_layers_D: int = opt(4, "layers per discriminator")
    num_D: int = opt(2, "discriminator scales")
    use_vae: bool = opt(False, "train a style encoder (VAE)")
    use_instance: bool | None = opt(None, "instance-edge channel (auto: when the data has instance maps)",
                                    flag="--instances", values={"auto": None, "on": True, "off": False})
    batch: int = opt(1, "batch size")
    iters: int = opt(10000, "the run's total iterations (resume continues to it)")
    lr: float = opt(0.0002, "learning rate")
    beta1: float = opt(0.0, "Adam beta1")
    beta2: float = opt(0.9, "Adam beta2")
    no_ttur: bool = opt(False, "one learning rate for G and D, Adam betas (0.5, 0.999)")
    decay_start: int | None = opt(None, "iteration where linear LR decay to 0 begins (default: no decay)")
    lambda_feat: float = opt(10.0, "feature-matching loss weight")
    lambda_vgg: float = opt(10.0, "VGG perceptual loss weight (needs --vgg-weights)")
    lambda_kld: float = opt(0.05, "KL loss weight (VAE)")
    vgg_weights: str | None = opt(None, "VGG19 weights (torchvision state dict .pth or .safetensors)")
    ema: float = opt(0.0, "EMA decay of G (e.g. 0.999; 0 = off)")
    init_from: str | None = opt(None, "fine-tune from our model file or an official folder/.pth")
    device: str = opt("auto", "auto | cpu | cuda | cuda:N | mps")
    amp: str = opt("auto", "mixed precision", choices=("auto", "off", "bf16", "fp16"))
    channels_last: bool = opt(True, "channels-last memory format (exact; faster on CPUs and GPUs)")
    shared_d_forward: bool = opt(True, "one discriminator forward serves the G and D steps (exact; one process)")
    pattern_spade: bool = opt(True, "SPADE gamma/beta once per distinct label window, not per pixel (exact; one process)")
    seed: int = opt(0, "random seed")
    sample_every: int = opt(500, "write sample renders every N iterations (0: never)")
    save_every: int = opt(1000, "checkpoint every N iterations (0: only at the end)")
    log_every: int = opt(10, "report progress every N iterations")
    keep_last: int = opt(3, "checkpoints kept")
    workers: int = opt(0, "data-loading processes")
    threads: int | None = opt(None, "torch CPU threads")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def problems(self) -> list[str]:
        """What is wrong with these values (empty: nothing), one ``--option value: why`` each;
        checked before a run starts anything."""
        out = []
        for f in fields(self):
            rule = RANGES.get(f.name)
            v = getattr(self, f.name)
            if rule is None or v is None or isinstance(v, bool):
                continue
            lo, hi, lo_open, hi_open = rule
            bad = not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v < lo or (lo_open and v == lo) or (hi is not None and (v > hi or (hi_open and v == hi)))
            if bad:
                lo_txt = f"above {lo}" if lo_open else f"at least {lo}"
                hi_txt = "" if hi is None else (f" and below {hi}" if hi_open else f" and at most {hi}")
                out.append(f"{flag_of(f)} {v}: must be {lo_txt}{hi_txt}")
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, path: Path) -> None:
        from spade_studio.imageio import atomic_write

        atomic_write(path, (json.dumps(self.to_dict(), indent=1) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    # the settings that must not change when a run is resumed
    ARCH_FIELDS = ("size", "aspect", "ngf", "ndf", "discriminator", "spade_hidden", "norm_G", "num_upsampling_layers",
                   "upsampling", "noise_inputs", "n_layers_D", "num_D", "use_vae", "batch", "seed")


# (low, high, low excluded, high excluded); None high: no upper bound. Fields not listed take any value.
RANGES: dict[str, tuple[float, float | None, bool, bool]] = {
    "label_nc": (1, 4096, False, False), "size": (16, 8192, False, False), "aspect": (0.0625, 16, False, False),
    "load_size": (16, 16384, False, False), "ngf": (1, 256, False, False), "ndf": (1, 1024, False, False),
    "spade_hidden": (1, 1024, False, False), "n_layers_D": (1, 8, False, False), "num_D": (1, 8, False, False),
    "batch": (1, 4096, False, False), "iters": (1, 10**9, False, False), "lr": (0, 1, False, False),
    "beta1": (0, 1, False, True), "beta2": (0, 1, False, True), "decay_start": (0, None, False, False),
    "lambda_feat": (0, None, False, False), "lambda_vgg": (0, None, False, False), "lambda_kld": (0, None, False, False),
    "lambda_labelmix": (0, None, False, False),
    "ema": (0, 1, False, True), "seed": (0, 2**63 - 1, False, False), "sample_every": (0, None, False, False),
    "save_every": (0, None, False, False), "log_every": (1, None, False, False), "keep_last": (1, 10**6, False, False),
    "workers": (0, 256, False, False), "threads": (1, 4096, False, False),
    "simplify_labels": (0, 1, False, False), "color_jitter": (0, 1, False, False),
    "style_shuffle": (0, 1, False, False), "noise_init": (0, 10, False, False),
}


# -- the command line, derived from the fields ----------------------------------------------------
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _base_type(f) -> type:
    return _TYPES[str(f.type).replace(" | None", "").strip()]


def flag_of(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def add_arguments(parser) -> None:
    """``spade-studio-cli train``'s options, one per TrainConfig field."""
    import argparse

    for f in fields(TrainConfig):
        meta, flag, typ = f.metadata, flag_of(f), _base_type(f)
        required = f.default is MISSING
        default = None if required else f.default
        helptext = meta.get("help", "") + ("" if required or default is None else f" (default: {default})")
        if meta.get("values"):
            words = list(meta["values"])
            word = next(w for w, v in meta["values"].items() if v == default)
            parser.add_argument(flag, dest=f.name, choices=words, default=word, help=meta["help"])
        elif typ is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=meta.get("help", ""))
        else:
            parser.add_argument(flag, dest=f.name, type=typ, default=default, required=required,
                                choices=meta.get("choices"), help=helptext)


def from_args(ns) -> TrainConfig:
    """The TrainConfig of parsed :func:`add_arguments` options."""
    kw = {}
    for f in fields(TrainConfig):
        v = getattr(ns, f.name)
        if f.metadata.get("values"):
            v = f.metadata["values"][v]
        kw[f.name] = v
    return TrainConfig(**kw)


def to_args(cfg: TrainConfig | dict[str, Any], skip: Sequence[str] = ()) -> list[str]:
    """Options that make :func:`from_args` give ``cfg`` back (every field that differs from its
    default; ``skip``: fields left out)."""
    d = cfg.to_dict() if isinstance(cfg, TrainConfig) else dict(cfg)
    args: list[str] = []
    for f in fields(TrainConfig):
        if f.name in skip or f.name not in d:
            continue
        v = d[f.name]
        if f.default is not MISSING and v == f.default:
            continue
        flag = flag_of(f)
        if f.metadata.get("values"):
            args += [flag, next(w for w, x in f.metadata["values"].items() if x == v)]
        elif _base_type(f) is bool:
            args.append(flag if v else "--no-" + flag[2:])
        elif v is not None:
            args += [flag, str(v)]
    return args
