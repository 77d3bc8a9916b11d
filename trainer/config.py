"""TrainConfig: every setting of a training run, as plain typed values (saved as config.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    data: str
    out: str
    dataset_mode: str | None = None  # auto-detected when None
    label_set: str | None = None  # name or JSON path; else dataset.json / layout default
    label_nc: int | None = None  # only when there is no label set
    size: int = 256  # crop size (output width)
    aspect: float = 1.0  # width / height
    load_size: int | None = None  # default: size * 286/256 for crop modes, = size otherwise
    preprocess: str | None = None  # default: "fixed" for paired folders, the official mode otherwise
    flip: bool = True
    ngf: int = 64
    ndf: int = 64
    spade_hidden: int = 128
    norm_G: str = "spectralspadesyncbatch3x3"
    num_upsampling_layers: str = "normal"
    n_layers_D: int = 4
    num_D: int = 2
    use_vae: bool = False
    use_instance: bool | None = None  # default: when the data has instance maps
    batch: int = 1
    iters: int = 10000  # the run's total number of iterations (resume continues up to it)
    lr: float = 0.0002
    beta1: float = 0.0
    beta2: float = 0.9
    no_ttur: bool = False
    decay_start: int | None = None  # iteration where linear LR decay starts (default: no decay)
    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    lambda_kld: float = 0.05
    vgg_weights: str | None = None  # torchvision VGG19 state dict (.pth) or .safetensors
    ema: float = 0.0  # EMA decay of G (0 = off), e.g. 0.999
    init_from: str | None = None  # our model file or an official folder/.pth
    device: str = "auto"
    amp: str = "auto"  # auto | off | bf16 | fp16
    channels_last: bool = False
    seed: int = 0
    sample_every: int = 500
    save_every: int = 1000
    log_every: int = 10
    keep_last: int = 3
    workers: int = 0
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    ARCH_FIELDS = ("size", "aspect", "ngf", "ndf", "spade_hidden", "norm_G", "num_upsampling_layers",
                   "n_layers_D", "num_D", "use_vae", "batch", "seed")
