"""Official NVlabs/SPADE checkpoints: opt.txt parsing, safe loading, shape inference, key mapping.

This module is the edge where the official option names live. Checkpoint files are read
with ``torch.load(..., weights_only=True)``; anything that is not a plain mapping of names to
tensors is refused. ``opt.pkl`` is never read.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import (
    OFFICIAL_DEFAULTS,
    ConfigError,
    EncoderConfig,
    GeneratorConfig,
    SPADENormConfig,
    encoder_config_from_official,
    generator_config_from_official,
)
from .encoder import StyleEncoder
from .generator import SPADEGenerator


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says what and where."""


# Per-dataset defaults of the official option parser (reference section 2).
DATASET_PRESETS: dict[str, dict[str, Any]] = {
    "coco": dict(label_nc=182, contain_dontcare_label=True, no_instance=False, crop_size=256,
                 aspect_ratio=1.0, num_upsampling_layers="normal"),
    "ade20k": dict(label_nc=150, contain_dontcare_label=True, no_instance=True, crop_size=256,
                   aspect_ratio=1.0, num_upsampling_layers="normal"),
    "cityscapes": dict(label_nc=35, contain_dontcare_label=False, no_instance=False, crop_size=512,
                       aspect_ratio=2.0, num_upsampling_layers="more"),
    "facades": dict(label_nc=13, contain_dontcare_label=False, no_instance=True, crop_size=256,
                    aspect_ratio=1.0, num_upsampling_layers="normal"),
    "custom": dict(label_nc=13, contain_dontcare_label=False, no_instance=False, crop_size=256,
                   aspect_ratio=1.0, num_upsampling_layers="normal"),
}


# --------------------------------------------------------------------------------------------
# The section-11 interface (official option names in, modules out)
# --------------------------------------------------------------------------------------------
def _spade_hidden(config: Mapping[str, Any]) -> int:
    from .config import check_int

    return check_int("spade_hidden", config.get("spade_hidden", 128) or 128)


def build_generator(config: Mapping[str, Any]) -> SPADEGenerator:
    """Generator from a dict of official option names (missing names: official defaults)."""
    return SPADEGenerator(generator_config_from_official(dict(config), _spade_hidden(config)))


def build_encoder(config: Mapping[str, Any]) -> StyleEncoder:
    """Style encoder from official option names; ``E_crop_size`` (when given) is its crop size.

    Encoders built for a crop below 256 cannot run in the official code (their last linear
    layer does not fit), so without ``E_crop_size`` such a crop builds the 256 encoder."""
    cfg = dict(config)
    crop = cfg.get("E_crop_size")
    if crop is None:
        crop = int(cfg.get("crop_size") or OFFICIAL_DEFAULTS["crop_size"])
        crop = max(crop, 256)
    return StyleEncoder(encoder_config_from_official(cfg, int(crop)))


_RENAMES = [
    (re.compile(r"parametrizations\.weight\.original$"), "weight_orig"),
    (re.compile(r"parametrizations\.weight\.0\._u$"), "weight_u"),
    (re.compile(r"parametrizations\.weight\.0\._v$"), "weight_v"),
]


def normalize_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official names from variants: ``module.`` prefixes (DataParallel) and the newer
    parametrized spectral norm (``parametrizations.weight.original``)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if k.startswith("module."):
            k = k[len("module."):]
        for pat, rep in _RENAMES:
            k = pat.sub(rep, k)
        out[k] = v
    return out


@dataclass(frozen=True)
class TensorSpec:
    """What one entry of a state dict must be: its shape and whether it holds floats."""

    shape: tuple[int, ...]
    floating: bool


def expected_specs(build: Callable[[], nn.Module]) -> dict[str, TensorSpec]:
    """The state-dict entries a network would have, computed on the ``meta`` device: no
    memory is allocated for the weights, however large the configuration."""
    with torch.device("meta"):
        module = build()
    return {k: TensorSpec(tuple(v.shape), v.is_floating_point()) for k, v in module.state_dict().items()}


def generator_specs(cfg: GeneratorConfig) -> dict[str, TensorSpec]:
    return expected_specs(lambda: SPADEGenerator(cfg))


def encoder_specs(cfg: EncoderConfig) -> dict[str, TensorSpec]:
    return expected_specs(lambda: StyleEncoder(cfg))


def _spec_of(t: Any) -> tuple[tuple[int, ...], bool]:
    """(shape, floating) of a tensor or of a (shape, dtype-string) pair read from a file header."""
    if isinstance(t, torch.Tensor):
        return tuple(t.shape), t.is_floating_point()
    shape, dtype = t
    return tuple(shape), str(dtype).upper().startswith(("F", "BF"))


def describe_spec_problems(expected: Mapping[str, TensorSpec], found: Mapping[str, Any]) -> list[str]:
    """Missing, unexpected, wrong-shape and wrong-type entries of ``found`` (tensors, or
    (shape, dtype) pairs from a file header) against ``expected``."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes, dtypes = [], []
    for k, spec in expected.items():
        if k not in found:
            continue
        shape, floating = _spec_of(found[k])
        if shape != spec.shape:
            shapes.append(f"{k} {shape} (expected {spec.shape})")
        elif floating != spec.floating:
            dtypes.append(f"{k} ({'floating point' if floating else 'integer'}; expected "
                          f"{'floating point' if spec.floating else 'integer'})")

    def fmt(title: str, items: list[str]) -> str:
        more = f" (+{len(items) - 6} more)" if len(items) > 6 else ""
        return f"{title}: {', '.join(items[:6])}{more}"

    problems = []
    if missing:
        problems.append(fmt(f"{len(missing)} missing key(s)", missing))
    if unexpected:
        problems.append(fmt(f"{len(unexpected)} unexpected key(s)", unexpected))
    if shapes:
        problems.append(fmt(f"{len(shapes)} shape mismatch(es)", shapes))
    if dtypes:
        problems.append(fmt(f"{len(dtypes)} wrong tensor type(s)", dtypes))
    return problems


def describe_key_problems(module: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    own = {k: TensorSpec(tuple(v.shape), v.is_floating_point()) for k, v in module.state_dict().items()}
    return describe_spec_problems(own, state_dict)


def nonfinite_tensors(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or infinity."""
    return [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def check_weights(expected: Mapping[str, TensorSpec], state_dict: Mapping[str, torch.Tensor], where: str,
                  what: str = "weights") -> None:
    """Names, shapes, types and finiteness of ``state_dict`` (official key layout, normalised)
    against the expected entries; a :class:`CheckpointError` that says what is wrong."""
    problems = describe_spec_problems(expected, state_dict)
    if problems:
        raise CheckpointError(f"{where}: the {what} do not fit the network: " + "; ".join(problems))
    bad = nonfinite_tensors(state_dict)
    if bad:
        more = f" (+{len(bad) - 6} more)" if len(bad) > 6 else ""
        raise CheckpointError(f"{where}: the {what} hold NaN or infinite values ({len(bad)} tensor(s): "
                              f"{', '.join(bad[:6])}{more}): the model is damaged")


def load_official_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                             where: str = "state dict") -> nn.Module:
    """Strictly load an official-layout state dict; a :class:`CheckpointError` names the keys."""
    sd = normalize_keys(state_dict)
    problems = describe_key_problems(module, sd)
    if problems:
        raise CheckpointError(f"{where} does not fit the network: " + "; ".join(problems))
    module.load_state_dict(sd, strict=True)
    return module


# --------------------------------------------------------------------------------------------
# Safe reading of .pth files and opt.txt
# --------------------------------------------------------------------------------------------
def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A ``.pth`` holding a plain state dict, read with ``weights_only=True``.

    Anything else (pickled objects, code, a whole model, nested containers) is refused
    before any of it runs."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file" if os.path.lexists(path) else "no such file"
        raise CheckpointError(f"{path}: {what}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure of the restricted unpickler
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported" in str(exc) or "global" in str(exc).lower():
            raise CheckpointError(
                f"{path}: refused: the file is not a plain state dict of tensors (it asks to build "
                f"Python objects; nothing from it was run). Detail: {first[:200]}"
            ) from None
        raise CheckpointError(f"{path}: cannot read checkpoint: {first[:200]}") from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: refused: holds a {type(obj).__name__}, not a state dict")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"{path}: refused: not a plain state dict (entries that are not tensors: "
            f"{', '.join(map(str, bad[:5]))})"
        )
    return dict(obj)


MAX_OPT_TXT_BYTES = 1 << 20


def read_opt_txt(path: str | Path) -> str:
    """The text of an ``opt.txt``: a regular file (a FIFO or a device is refused, never
    waited on) of at most 1 MB."""
    from spade_studio.safefiles import read_regular_file

    try:
        data = read_regular_file(path, MAX_OPT_TXT_BYTES, what="options file")
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    return data.decode("utf-8", errors="replace")


def _parse_value(text: str) -> Any:
    t = text.strip()
    if t in ("True", "False"):
        return t == "True"
    if t in ("None", ""):
        return None if t == "None" else ""
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_opt_txt(text: str) -> dict[str, Any]:
    """Parse the ``opt.txt`` the official trainer writes (``name: value [\\t[default: X]]``)."""
    opts: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.split("\t[default:")[0]
        if ":" not in line:
            continue
        name, _, value = line.partition(":")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        opts[name] = _parse_value(value)
    return opts


# --------------------------------------------------------------------------------------------
# Checkpoint folders and bare .pth files
# --------------------------------------------------------------------------------------------
@dataclass
class OfficialCheckpoint:
    generator: GeneratorConfig
    encoder: EncoderConfig | None
    G_state_dict: dict[str, torch.Tensor]
    E_state_dict: dict[str, torch.Tensor] | None
    dataset_mode: str
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    source: str = ""


def _g_key(sd: Mapping[str, torch.Tensor], stem: str) -> torch.Tensor | None:
    for suffix in ("weight_orig", "weight"):
        if f"{stem}.{suffix}" in sd:
            return sd[f"{stem}.{suffix}"]
    return None


def infer_options(sd: Mapping[str, torch.Tensor], dataset: str | None) -> tuple[dict[str, Any], list[str]]:
    """Official options of a generator state dict from its shapes (+ dataset defaults)."""
    notes: list[str] = []
    fc = sd.get("fc.weight")
    head = _g_key(sd, "head_0.conv_0")
    mlp = sd.get("head_0.norm_0.mlp_shared.0.weight")
    if fc is None or head is None or mlp is None:
        raise CheckpointError(
            "not a SPADE generator state dict (no fc.weight / head_0.conv_0 / head_0.norm_0.mlp_shared.0.weight)"
        )
    if head.dim() != 4 or mlp.dim() != 4 or fc.dim() not in (2, 4) or head.shape[0] < 16 or head.shape[0] % 16:
        raise CheckpointError(
            f"not a SPADE generator state dict (head_0.conv_0 {tuple(head.shape)}, fc {tuple(fc.shape)}, "
            f"mlp_shared {tuple(mlp.shape)} have shapes no SPADE generator has)"
        )
    ngf = head.shape[0] // 16
    use_vae = fc.dim() == 2
    semantic_nc = mlp.shape[1]
    k = mlp.shape[-1]
    if semantic_nc < 2 or mlp.shape[0] < 1:
        raise CheckpointError(f"head_0.norm_0.mlp_shared.0.weight {tuple(mlp.shape)}: not a SPADE generator")
    spectral = "head_0.conv_0.weight_orig" in sd
    bn = "head_0.norm_0.param_free_norm.running_mean" in sd
    most = any(key.startswith("up_4.") for key in sd)
    if dataset is None:
        by_nc = {184: "coco", 151: "ade20k", 36: "cityscapes"}
        dataset = by_nc.get(semantic_nc)
        if dataset is None:
            dataset = "custom"
            notes.append(
                f"no opt.txt and {semantic_nc} input channels match no official dataset: assumed a custom "
                f"model with {semantic_nc - 1} classes + instance edges (pass --dataset or an opt.txt to change)"
            )
        else:
            notes.append(f"no opt.txt: {semantic_nc} input channels -> {dataset} defaults")
    if dataset not in DATASET_PRESETS:
        raise CheckpointError(f"unknown dataset {dataset!r} (coco, ade20k, cityscapes, facades, custom)")
    opt = dict(DATASET_PRESETS[dataset])
    extra = semantic_nc - opt["label_nc"] - int(opt["contain_dontcare_label"]) - int(not opt["no_instance"])
    if extra != 0:
        if dataset == "custom":
            opt["label_nc"] = semantic_nc - 1
        else:
            raise CheckpointError(
                f"the generator takes {semantic_nc} input channels, but {dataset} models take "
                f"{semantic_nc - extra}"
            )
    norm = "syncbatch" if bn else "instance"
    opt.update(
        dataset_mode=dataset, ngf=ngf, use_vae=use_vae, semantic_nc=semantic_nc,
        norm_G=("spectral" if spectral else "") + f"spade{norm}{k}x{k}",
        spade_hidden=mlp.shape[0],
    )
    if most:
        opt["num_upsampling_layers"] = "most"
    if use_vae:
        opt["z_dim"] = fc.shape[1]
        cells = fc.shape[0] // (16 * ngf)
        if cells < 1 or fc.shape[0] % (16 * ngf):
            raise CheckpointError(f"fc.weight {tuple(fc.shape)} does not fit ngf {ngf} (16 * ngf * cells rows)")
        cfg = generator_config_from_official(opt, mlp.shape[0])
        sh, sw = cfg.latent_hw
        if sh * sw != cells:
            # find a crop size that gives the stored latent grid with the preset aspect ratio
            sw_guess = max(1, round(math.sqrt(cells * opt["aspect_ratio"])))
            opt["crop_size"] = sw_guess * cfg.stride
            notes.append(f"latent grid of {cells} cells -> crop_size {opt['crop_size']}")
    return opt, notes


def load_official(path: str | Path, dataset: str | None = None) -> OfficialCheckpoint:
    """An official checkpoint folder (``latest_net_G.pth`` [+ ``latest_net_E.pth``] [+ ``opt.txt``])
    or a bare generator ``.pth``."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    notes: list[str] = []
    opt_file = None
    e_file = None
    if path.is_dir():
        g_files = sorted(path.glob("*_net_G.pth"))
        g_file = path / "latest_net_G.pth"
        if not g_file.exists():
            if not g_files:
                raise CheckpointError(f"{path}: no latest_net_G.pth (or *_net_G.pth) in this folder")
            g_file = g_files[-1]
        e_candidate = g_file.with_name(g_file.name.replace("_net_G", "_net_E"))
        e_file = e_candidate if e_candidate.exists() else None
        opt_file = path / "opt.txt" if (path / "opt.txt").exists() else None
        if opt_file is None and os.path.lexists(path / "opt.txt"):  # a broken or looping symlink
            raise CheckpointError(f"{path / 'opt.txt'}: a link that leads nowhere (or to itself), not a file")
        if opt_file is None and (path / "opt.pkl").exists():
            notes.append("opt.pkl ignored (never unpickled); settings inferred from the weights")
    else:
        g_file = path
    g_sd = normalize_keys(read_state_dict(g_file))
    if opt_file is not None:
        opts = parse_opt_txt(read_opt_txt(opt_file))
        mode = str(opts.get("dataset_mode", dataset or "coco"))
        base = dict(DATASET_PRESETS.get(mode, {}))
        base.update({k: v for k, v in opts.items() if v is not None})
        opts = base
        opts["dataset_mode"] = mode
        mlp = g_sd.get("head_0.norm_0.mlp_shared.0.weight")
        if mlp is not None and mlp.dim() >= 1:
            opts["spade_hidden"] = mlp.shape[0]
    else:
        try:
            opts, inferred = infer_options(g_sd, dataset)
        except (ConfigError, CheckpointError) as exc:
            raise CheckpointError(f"{g_file}: {exc}") from None
        notes += inferred
    try:
        gcfg = generator_config_from_official(opts, _spade_hidden(opts))
    except (ConfigError, TypeError, ValueError, OverflowError) as exc:
        raise CheckpointError(f"{opt_file or g_file}: {exc}") from None
    # names, shapes, types and finiteness against the configuration, before anything is built
    check_weights(generator_specs(gcfg), g_sd, str(g_file), "generator weights")
    ecfg = None
    e_sd = None
    if e_file is not None:
        e_sd = normalize_keys(read_state_dict(e_file))
        crop = 256 if gcfg.crop_size < 256 else gcfg.crop_size
        try:
            ecfg = encoder_config_from_official(opts, crop)
        except (ConfigError, TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(f"{opt_file or e_file}: {exc}") from None
        check_weights(encoder_specs(ecfg), e_sd, str(e_file), "encoder weights")
        if not gcfg.use_vae:
            notes.append("an encoder file is present but the generator does not take z: encoder ignored")
            ecfg, e_sd = None, None
    return OfficialCheckpoint(gcfg, ecfg, g_sd, e_sd, str(opts.get("dataset_mode", "custom")), opts, notes,
                              str(path))


__all__ = [
    "CheckpointError", "DATASET_PRESETS", "OfficialCheckpoint", "SPADENormConfig", "TensorSpec", "build_encoder",
    "build_generator", "check_weights", "encoder_specs", "generator_specs", "infer_options", "load_official",
    "load_official_state_dict", "normalize_keys", "parse_opt_txt", "read_opt_txt", "read_state_dict",
]
