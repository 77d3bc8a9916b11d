"""Our model files: one ``.safetensors`` with the weights and JSON metadata.

Tensors are stored under ``G.<official key>`` and ``E.<official key>``; the metadata holds
``format`` / ``format_version``, the typed architecture configs, the label set and the
provenance. Loading runs no code from the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spade_studio.imageio import atomic_write
from spade_studio.labels import DATASET_LABEL_SETS, LabelSet, load_label_set, numbered_label_set

from .config import EncoderConfig, GeneratorConfig
from .official import CheckpointError, OfficialCheckpoint, load_official

MODEL_FORMAT = "spade-studio-model"
MODEL_FORMAT_VERSION = 1


@dataclass
class ModelBundle:
    """Everything a model file (or an official checkpoint) holds, in memory."""

    generator: GeneratorConfig
    G_state_dict: dict[str, torch.Tensor]
    label_set: LabelSet
    encoder: EncoderConfig | None = None
    E_state_dict: dict[str, torch.Tensor] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    official: bool = False  # weights from NVIDIA's code (their licence applies to their weights)

    @property
    def has_encoder(self) -> bool:
        return self.encoder is not None and self.E_state_dict is not None

    def parameter_count(self) -> dict[str, int]:
        def count(sd: dict[str, torch.Tensor] | None) -> int:
            if not sd:
                return 0
            return sum(v.numel() for k, v in sd.items() if not k.endswith(("weight_u", "weight_v", "running_mean",
                                                                            "running_var", "num_batches_tracked")))

        return {"G": count(self.G_state_dict), "E": count(self.E_state_dict)}


def label_set_for(cfg: GeneratorConfig, dataset_mode: str | None) -> LabelSet:
    """The label set of an official model: its dataset's, or numbered names."""
    name = DATASET_LABEL_SETS.get(dataset_mode or "")
    if name:
        ls = load_label_set(name)
        if name == "ade20k" and cfg.label_nc == 150:
            return ls
        if name == "coco_stuff" and cfg.label_nc == 182:
            return ls
        if name == "cityscapes" and cfg.label_nc == 35:
            return ls
    return numbered_label_set(cfg.label_nc, dontcare=cfg.contain_dontcare_label)


def save_model(bundle: ModelBundle, path: str | os.PathLike, half: bool = False) -> Path:
    """Write a model file atomically (a temp file beside it, then rename).

    ``half`` stores floating-point tensors as float16 (half the size; loaded back as float32)."""
    from safetensors.torch import save

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for prefix, sd in (("G", bundle.G_state_dict), ("E", bundle.E_state_dict)):
        for k, v in (sd or {}).items():
            t = v.detach().to("cpu").contiguous().clone()
            if half and t.is_floating_point():
                t = t.half()
            tensors[f"{prefix}.{k}"] = t
    meta = {
        "format": MODEL_FORMAT,
        "format_version": str(MODEL_FORMAT_VERSION),
        "generator": json.dumps(bundle.generator.to_dict()),
        "encoder": json.dumps(bundle.encoder.to_dict() if bundle.has_encoder else None),
        "label_set": json.dumps(bundle.label_set.to_dict()),
        "provenance": json.dumps(bundle.provenance),
        "official": json.dumps(bundle.official),
    }
    try:
        atomic_write(path, save(tensors, metadata=meta))
    except OSError as exc:
        raise CheckpointError(f"cannot write model file {path}: {exc.strerror or exc}") from None
    return path


def read_model_metadata(path: str | os.PathLike) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_model_file(path: str | os.PathLike) -> ModelBundle:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        meta = read_model_metadata(path)
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable .safetensors model file ({exc})") from None
    if meta.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path}: not a SPADE Studio model (metadata format {meta.get('format')!r})")
    version = int(meta.get("format_version", "0"))
    if version > MODEL_FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: model format version {version} is newer than this SPADE Studio understands "
            f"({MODEL_FORMAT_VERSION}); please update the app"
        )
    try:
        gcfg = GeneratorConfig.from_dict(json.loads(meta["generator"]))
        enc = json.loads(meta.get("encoder", "null"))
        ecfg = EncoderConfig.from_dict(enc) if enc else None
        label_set = LabelSet.from_dict(json.loads(meta["label_set"]))
        provenance = json.loads(meta.get("provenance", "{}"))
        official = bool(json.loads(meta.get("official", "false")))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged model metadata ({exc})") from None
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    g_sd = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    e_sd = {k[2:]: v for k, v in tensors.items() if k.startswith("E.")} or None
    if ecfg is not None and e_sd is None:
        raise CheckpointError(f"{path}: the metadata names an encoder but the file holds no E tensors")
    return ModelBundle(gcfg, g_sd, label_set, ecfg if e_sd else None, e_sd, provenance, official=official)


def bundle_from_official(ckpt: OfficialCheckpoint) -> ModelBundle:
    return ModelBundle(
        generator=ckpt.generator,
        G_state_dict=ckpt.G_state_dict,
        label_set=label_set_for(ckpt.generator, ckpt.dataset_mode),
        encoder=ckpt.encoder,
        E_state_dict=ckpt.E_state_dict,
        provenance={
            "source": "official NVlabs/SPADE checkpoint",
            "path": ckpt.source,
            "dataset_mode": ckpt.dataset_mode,
            "licence": "NVIDIA's released SPADE weights: CC BY-NC-SA 4.0 (non-commercial)",
        },
        notes=list(ckpt.notes),
        official=True,
    )


def load_any(path: str | os.PathLike, dataset: str | None = None) -> ModelBundle:
    """Our ``.safetensors`` file, an official checkpoint folder or an official ``.pth``."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or folder")
    if p.is_file() and p.suffix == ".safetensors":
        return load_model_file(p)
    if p.is_dir() or p.suffix in (".pth", ".pt", ".ckpt"):
        return bundle_from_official(load_official(p, dataset))
    raise CheckpointError(f"{p}: not a model (expected .safetensors, an official folder or a .pth)")
