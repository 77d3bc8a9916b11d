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
from spade_studio.labels import DATASET_LABEL_SETS, LabelError, LabelSet, load_label_set, numbered_label_set

from .config import ConfigError, EncoderConfig, GeneratorConfig
from .official import (
    CheckpointError,
    OfficialCheckpoint,
    check_weights,
    describe_spec_problems,
    encoder_specs,
    generator_specs,
    load_official,
    nonfinite_tensors,
    normalize_keys,
)

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


MAX_METADATA_BYTES = 16 << 20


def read_model_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The JSON metadata of a ``.safetensors`` file (a regular file; its header only)."""
    from safetensors import SafetensorError, safe_open

    _check_regular(Path(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable .safetensors model file ({_first_line(exc)})") from None
    return {str(k): str(v) for k, v in meta.items()}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _check_regular(path: Path) -> None:
    import stat

    from spade_studio.safefiles import file_kind

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such model file") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path}: {file_kind(st.st_mode)}, not a model file: not read")


def _json_field(meta: dict[str, str], name: str, default: str | None = None) -> Any:
    if name not in meta:
        if default is None:
            raise CheckpointError(f"no {name!r} entry in the metadata")
        text = default
    else:
        text = meta[name]
    if not isinstance(text, str) or len(text) > MAX_METADATA_BYTES:
        raise CheckpointError(f"metadata entry {name!r} is not JSON text")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"metadata entry {name!r} is not valid JSON ({_first_line(exc)})") from None


@dataclass
class ModelMetadata:
    generator: GeneratorConfig
    encoder: EncoderConfig | None
    label_set: LabelSet
    provenance: dict[str, Any]
    official: bool


def parse_model_metadata(meta: dict[str, str], where: str = "model file") -> ModelMetadata:
    """The typed configs, label set and provenance of a model file's metadata, each value
    checked against the documented limits; every problem is a :class:`CheckpointError` that
    names ``where``. Nothing is allocated here."""
    try:
        if not isinstance(meta, dict):
            raise CheckpointError("the metadata is not a mapping")
        if meta.get("format") != MODEL_FORMAT:
            raise CheckpointError(f"not a SPADE Studio model (metadata format {str(meta.get('format'))[:80]!r})")
        version_text = str(meta.get("format_version", "0")).strip()
        if not version_text.isdigit() or len(version_text) > 9:
            raise CheckpointError(f"model format version {version_text[:40]!r} is not a whole number")
        version = int(version_text)
        if version > MODEL_FORMAT_VERSION:
            raise CheckpointError(
                f"model format version {version} is newer than this SPADE Studio understands "
                f"({MODEL_FORMAT_VERSION}); please update the app"
            )
        gcfg = GeneratorConfig.from_dict(_json_field(meta, "generator"))
        enc = _json_field(meta, "encoder", "null")
        ecfg = EncoderConfig.from_dict(enc) if enc is not None else None
        label_set = LabelSet.from_dict(_json_field(meta, "label_set"))
        provenance = _json_field(meta, "provenance", "{}")
        if not isinstance(provenance, dict):
            raise CheckpointError("metadata entry 'provenance' is not a mapping")
        official = _json_field(meta, "official", "false")
        if not isinstance(official, bool):
            raise CheckpointError("metadata entry 'official' is not true or false")
        check_label_set(gcfg, label_set)
        if ecfg is not None and gcfg.use_vae and ecfg.z_dim != gcfg.z_dim:
            raise CheckpointError(f"the encoder gives z_dim {ecfg.z_dim}, the generator takes {gcfg.z_dim}")
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except (ConfigError, LabelError) as exc:
        raise CheckpointError(f"{where}: damaged model metadata: {exc}") from None
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        raise CheckpointError(f"{where}: damaged model metadata ({type(exc).__name__}: {_first_line(exc)})") from None
    return ModelMetadata(gcfg, ecfg, label_set, provenance, official)


def check_label_set(cfg: GeneratorConfig, label_set: LabelSet) -> None:
    """A model's label set must name the generator's classes: not empty, every id one the
    generator takes, and its highest class id the generator's last class."""
    from .semantics import allowed_label_values

    if len(label_set) == 0:
        raise CheckpointError(f"the label set {label_set.name!r} is empty")
    allowed = set(allowed_label_values(cfg))
    bad = sorted(i for i in label_set.ids if i not in allowed)
    if bad:
        raise CheckpointError(
            f"the label set {label_set.name!r} has id(s) {', '.join(map(str, bad[:10]))} that the generator "
            f"({cfg.label_nc} classes) does not take"
        )
    classes = [i for i in label_set.ids if i < cfg.label_nc]
    if not classes or max(classes) != cfg.label_nc - 1:
        raise CheckpointError(
            f"the label set {label_set.name!r} has {len(classes)} class label(s) (highest id "
            f"{max(classes) if classes else 'none'}) for a generator of {cfg.label_nc} classes"
        )


def validate_bundle(bundle: ModelBundle, where: str = "model") -> None:
    """Everything a model holds, checked before any network is built: the label set against
    the generator, and the weights' names, shapes, types and finiteness."""
    try:
        check_label_set(bundle.generator, bundle.label_set)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    check_weights(generator_specs(bundle.generator), normalize_keys(bundle.G_state_dict), where, "generator weights")
    if bundle.has_encoder:
        check_weights(encoder_specs(bundle.encoder), normalize_keys(bundle.E_state_dict),  # type: ignore[arg-type]
                      where, "encoder weights")


def load_model_file(path: str | os.PathLike) -> ModelBundle:
    """Our ``.safetensors`` model file. The metadata is checked against the documented limits
    and the tensors' names, shapes and types (read from the header) against the configuration
    before any tensor is loaded; their values are checked for NaN / infinity after."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    meta = read_model_metadata(path)
    md = parse_model_metadata(meta, str(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            header = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable .safetensors model file ({_first_line(exc)})") from None
    others = [k for k in header if not k.startswith(("G.", "E."))]
    if others:
        raise CheckpointError(f"{path}: {len(others)} tensor(s) outside G. / E.: {', '.join(others[:6])}")
    g_head = {k[2:]: v for k, v in header.items() if k.startswith("G.")}
    e_head = {k[2:]: v for k, v in header.items() if k.startswith("E.")}
    problems = describe_spec_problems(generator_specs(md.generator), g_head)
    if problems:
        raise CheckpointError(f"{path}: the generator weights do not fit the network: " + "; ".join(problems))
    if md.encoder is not None:
        if not e_head:
            raise CheckpointError(f"{path}: the metadata names an encoder but the file holds no E tensors")
        problems = describe_spec_problems(encoder_specs(md.encoder), e_head)
        if problems:
            raise CheckpointError(f"{path}: the encoder weights do not fit the network: " + "; ".join(problems))
    elif e_head:
        raise CheckpointError(f"{path}: {len(e_head)} encoder (E.) tensor(s) but no encoder in the metadata")
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in header}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable .safetensors model file ({_first_line(exc)})") from None
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    g_sd = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    e_sd = {k[2:]: v for k, v in tensors.items() if k.startswith("E.")} or None
    for what, sd in (("generator weights", g_sd), ("encoder weights", e_sd)):
        bad = nonfinite_tensors(sd or {})
        if bad:
            more = f" (+{len(bad) - 6} more)" if len(bad) > 6 else ""
            raise CheckpointError(f"{path}: the {what} hold NaN or infinite values ({len(bad)} tensor(s): "
                                  f"{', '.join(bad[:6])}{more}): the model is damaged")
    return ModelBundle(md.generator, g_sd, md.label_set, md.encoder if e_sd else None, e_sd, md.provenance,
                       official=md.official)


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
    if p.suffix == ".safetensors":
        return load_model_file(p)
    if p.is_dir() or p.suffix in (".pth", ".pt", ".ckpt"):
        return bundle_from_official(load_official(p, dataset))
    raise CheckpointError(f"{p}: not a model (expected .safetensors, an official folder or a .pth)")
