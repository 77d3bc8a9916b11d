"""Typed, frozen configurations of the networks, and the bridge from the official option names.

Inside the project everything uses :class:`GeneratorConfig` / :class:`EncoderConfig`. The
official vocabulary (``label_nc``, ``norm_G`` ...) appears only in :func:`from_official` /
:meth:`GeneratorConfig.to_official` and in ``official.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

ParamFreeNorm = Literal["syncbatch", "batch", "instance"]
Upsampling = Literal["normal", "more", "most"]

N_UP = {"normal": 5, "more": 6, "most": 7}

# Defaults of the official option parser (reference section 2), used for missing names.
OFFICIAL_DEFAULTS: dict[str, Any] = {
    "label_nc": 182,
    "contain_dontcare_label": True,
    "no_instance": False,
    "use_vae": False,
    "z_dim": 256,
    "ngf": 64,
    "ndf": 64,
    "norm_G": "spectralspadesyncbatch3x3",
    "norm_D": "spectralinstance",
    "norm_E": "spectralinstance",
    "num_upsampling_layers": "normal",
    "crop_size": 256,
    "aspect_ratio": 1.0,
    "n_layers_D": 4,
    "num_D": 2,
    "netD_subarch": "n_layer",
    "no_ganFeat_loss": False,
    "output_nc": 3,
}


class ConfigError(ValueError):
    """An option value the networks cannot be built with."""


# Documented limits of every architecture value a model file, an official folder or an opt.txt
# may hold. They are checked before any network is built (a file under 1 MB must not make the
# app allocate gigabytes). The official models use ngf 64, z_dim 256, at most 182 classes,
# crop sizes up to 1024 and SPADE hidden 128; the limits leave generous room above that.
LIMITS: dict[str, tuple[float, float]] = {
    "label_nc": (1, 4096),
    "semantic_nc": (1, 4098),
    "ngf": (1, 256),
    "z_dim": (1, 4096),
    "crop_size": (1, 8192),
    "aspect_ratio": (0.0625, 16.0),
    "spade_hidden": (1, 1024),
    "kernel_size": (1, 9),
    "encoder_crop_size": (1, 8192),
}


def check_int(name: str, value: Any, limit: str | None = None) -> int:
    """``value`` as an int within ``LIMITS[limit or name]``; a :class:`ConfigError` otherwise.

    Accepts ints and integral floats / numeric strings (opt.txt values); never bools."""
    lo, hi = LIMITS[limit or name]
    v = value
    if isinstance(v, str):
        t = v.strip()
        try:
            v = int(t) if re.fullmatch(r"[+-]?\d{1,12}", t) else float(t)
        except ValueError:
            raise ConfigError(f"{name} {value!r} is not a number") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{name} {value!r} is not a whole number")
    if isinstance(v, float):
        if not math.isfinite(v) or v != int(v):
            raise ConfigError(f"{name} {value!r} is not a whole number")
        v = int(v)
    if not lo <= v <= hi:
        raise ConfigError(f"{name} {v} is outside the supported range {int(lo)}..{int(hi)}")
    return int(v)


def check_float(name: str, value: Any) -> float:
    lo, hi = LIMITS[name]
    v = value
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            raise ConfigError(f"{name} {value!r} is not a number") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{name} {value!r} is not a number")
    try:
        v = float(v)
    except OverflowError:
        raise ConfigError(f"{name} {value!r} is out of range") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ConfigError(f"{name} {value!r} is outside the supported range {lo:g}..{hi:g}")
    return v


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} {value!r} is not true or false")
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "none", "")


def _to_bool(v: Any, name: str = "option") -> bool:
    """An official boolean option; words other than true/false (and their usual spellings) are
    refused instead of read as false (``use_vae: maybe``)."""
    if isinstance(v, bool) or v is None:
        return bool(v)
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE + _FALSE:
        return v.strip().lower() in _TRUE
    raise ConfigError(f"{name} {v!r} is not true or false")


@dataclass(frozen=True)
class SPADENormConfig:
    """How a SPADE layer normalises: the parsed form of the official ``norm_G`` string."""

    param_free_norm: ParamFreeNorm = "syncbatch"
    kernel_size: int = 3
    hidden: int = 128  # width of mlp_shared; 128 in every official model

    def __post_init__(self) -> None:
        if not isinstance(self.param_free_norm, str) or self.param_free_norm not in ("syncbatch", "batch", "instance"):
            raise ConfigError(f"unknown parameter-free norm {self.param_free_norm!r} (syncbatch, batch, instance)")
        k = check_int("SPADE kernel size", self.kernel_size, "kernel_size")
        if k % 2 != 1:
            raise ConfigError(f"the SPADE kernel size must be odd, not {k}")
        object.__setattr__(self, "kernel_size", k)
        object.__setattr__(self, "hidden", check_int("SPADE hidden width", self.hidden, "spade_hidden"))

    @classmethod
    def parse(cls, norm_g: str, hidden: int = 128) -> tuple[bool, SPADENormConfig]:
        """``'spectralspadesyncbatch3x3'`` -> (spectral=True, SPADENormConfig('syncbatch', 3))."""
        if not isinstance(norm_g, str) or len(norm_g) > 100:
            raise ConfigError(f"norm_G {str(norm_g)[:100]!r} is not a norm name")
        spectral = "spectral" in norm_g
        rest = norm_g.replace("spectral", "")
        m = re.fullmatch(r"spade(\D+)(\d)x\d", rest)
        if not m:
            raise ConfigError(f"norm_G {norm_g!r} is not of the form [spectral]spade<type><k>x<k>")
        kind, k = m.group(1), int(m.group(2))
        if kind not in ("syncbatch", "batch", "instance"):
            raise ConfigError(f"norm_G {norm_g!r}: unknown parameter-free norm {kind!r} (syncbatch, batch, instance)")
        return spectral, cls(kind, k, hidden)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GeneratorConfig:
    label_nc: int
    contain_dontcare_label: bool = False
    use_instance: bool = False  # official: not no_instance
    ngf: int = 64
    spectral: bool = True
    spade: SPADENormConfig = SPADENormConfig()
    num_upsampling_layers: Upsampling = "normal"
    crop_size: int = 256
    aspect_ratio: float = 1.0
    use_vae: bool = False
    z_dim: int = 256
    # how features are doubled between blocks: "nearest" (the official network) or "bilinear"
    # (ours only: no 2**k-px cells; an experiment against the streaks, see the model card)
    upsampling: str = "nearest"
    # ours only: each block adds learned-strength per-pixel noise (spade_studio/model/noise.py)
    noise_inputs: bool = False

    def __post_init__(self) -> None:
        if self.upsampling not in ("nearest", "bilinear"):
            raise ConfigError(f"upsampling must be nearest or bilinear, not {self.upsampling!r}")
        if not isinstance(self.num_upsampling_layers, str) or self.num_upsampling_layers not in N_UP:
            raise ConfigError(f"num_upsampling_layers must be normal, more or most, not {self.num_upsampling_layers!r}")
        if not isinstance(self.spade, SPADENormConfig):
            raise ConfigError(f"spade {self.spade!r} is not a SPADE norm config")
        for name in ("label_nc", "ngf", "z_dim", "crop_size"):
            object.__setattr__(self, name, check_int(name, getattr(self, name)))
        for name in ("contain_dontcare_label", "use_instance", "spectral", "use_vae", "noise_inputs"):
            check_bool(name, getattr(self, name))
        object.__setattr__(self, "aspect_ratio", check_float("aspect_ratio", self.aspect_ratio))
        if self.num_upsampling_layers == "most" and self.ngf < 2:
            raise ConfigError("ngf must be at least 2 with 'most' upsampling")
        sh, sw = self.latent_hw
        if sh < 1 or sw < 1:
            raise ConfigError(
                f"crop_size {self.crop_size} with aspect {self.aspect_ratio} and "
                f"{self.num_upsampling_layers} upsampling gives an empty latent grid"
            )

    @property
    def semantic_nc(self) -> int:
        return self.label_nc + int(self.contain_dontcare_label) + int(self.use_instance)

    @property
    def n_up(self) -> int:
        return N_UP[self.num_upsampling_layers]

    @property
    def stride(self) -> int:
        """Output pixels per latent cell (2**n_up)."""
        return 2**self.n_up

    @property
    def latent_hw(self) -> tuple[int, int]:
        sw = self.crop_size // 2**self.n_up
        sh = round(sw / self.aspect_ratio)  # Python round: ties to even, as the official code
        return sh, sw

    @property
    def output_hw(self) -> tuple[int, int]:
        sh, sw = self.latent_hw
        return sh * self.stride, sw * self.stride

    @property
    def norm_G(self) -> str:
        k = self.spade.kernel_size
        return ("spectral" if self.spectral else "") + f"spade{self.spade.param_free_norm}{k}x{k}"

    def to_official(self) -> dict[str, Any]:
        return {
            "label_nc": self.label_nc,
            "contain_dontcare_label": self.contain_dontcare_label,
            "no_instance": not self.use_instance,
            "semantic_nc": self.semantic_nc,
            "ngf": self.ngf,
            "norm_G": self.norm_G,
            "num_upsampling_layers": self.num_upsampling_layers,
            "crop_size": self.crop_size,
            "aspect_ratio": self.aspect_ratio,
            "use_vae": self.use_vae,
            "z_dim": self.z_dim,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"generator config is a {type(d).__name__}, not a mapping")
        d = dict(d)
        sp = d.pop("spade", {})
        if not isinstance(sp, dict):
            raise ConfigError(f"generator config field spade is a {type(sp).__name__}, not a mapping")
        unknown_sp = set(sp) - {f.name for f in fields(SPADENormConfig)}
        if unknown_sp:
            raise ConfigError(f"unknown SPADE config field(s): {', '.join(sorted(map(str, unknown_sp)))}")
        spade = SPADENormConfig(**sp)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown generator config field(s): {', '.join(sorted(map(str, unknown)))}")
        if "label_nc" not in d:
            raise ConfigError("generator config has no label_nc")
        return cls(spade=spade, **d)

    def with_(self, **kw: Any) -> GeneratorConfig:
        return replace(self, **kw)


@dataclass(frozen=True)
class EncoderConfig:
    ngf: int = 64  # the official encoder uses ngf (not nef) for its width
    spectral: bool = True
    norm: Literal["instance", "batch", "sync_batch", "none"] = "instance"
    crop_size: int = 256  # 6 layers when >= 256 (every encoder the official code can train)
    z_dim: int = 256  # fixed at 256 by the official code

    def __post_init__(self) -> None:
        object.__setattr__(self, "ngf", check_int("encoder ngf", self.ngf, "ngf"))
        check_bool("encoder spectral", self.spectral)
        if not isinstance(self.norm, str) or self.norm not in ("instance", "batch", "sync_batch", "none"):
            raise ConfigError(f"encoder norm {self.norm!r} is not one of instance, batch, sync_batch, none")
        object.__setattr__(self, "crop_size", check_int("encoder crop_size", self.crop_size, "encoder_crop_size"))
        object.__setattr__(self, "z_dim", check_int("encoder z_dim", self.z_dim, "z_dim"))

    @property
    def n_layers(self) -> int:
        return 6 if self.crop_size >= 256 else 5

    @property
    def norm_E(self) -> str:
        return ("spectral" if self.spectral else "") + self.norm

    @classmethod
    def parse_norm(cls, norm_e: str) -> tuple[bool, str]:
        if not isinstance(norm_e, str) or len(norm_e) > 100:
            raise ConfigError(f"norm_E {str(norm_e)[:100]!r} is not a norm name")
        spectral = norm_e.startswith("spectral")
        sub = norm_e[len("spectral"):] if spectral else norm_e
        sub = sub or "none"
        if sub not in ("instance", "batch", "sync_batch", "none"):
            raise ConfigError(f"norm_E {norm_e!r}: unknown norm {sub!r}")
        return spectral, sub

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"encoder config is a {type(d).__name__}, not a mapping")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown encoder config field(s): {', '.join(sorted(map(str, unknown)))}")
        return cls(**d)


def official_value(opt: dict[str, Any], name: str) -> Any:
    return opt[name] if name in opt and opt[name] is not None else OFFICIAL_DEFAULTS[name]


def generator_config_from_official(opt: dict[str, Any], spade_hidden: int = 128) -> GeneratorConfig:
    """Typed generator config from official option names (missing names: official defaults)."""
    spade_hidden = check_int("spade_hidden", spade_hidden)
    spectral, spade = SPADENormConfig.parse(str(official_value(opt, "norm_G")), spade_hidden)
    cfg = GeneratorConfig(
        label_nc=check_int("label_nc", official_value(opt, "label_nc")),
        contain_dontcare_label=_to_bool(official_value(opt, "contain_dontcare_label"), "contain_dontcare_label"),
        use_instance=not _to_bool(official_value(opt, "no_instance"), "no_instance"),
        ngf=check_int("ngf", official_value(opt, "ngf")),
        spectral=spectral,
        spade=spade,
        num_upsampling_layers=str(official_value(opt, "num_upsampling_layers")),  # type: ignore[arg-type]
        crop_size=check_int("crop_size", official_value(opt, "crop_size")),
        aspect_ratio=check_float("aspect_ratio", official_value(opt, "aspect_ratio")),
        use_vae=_to_bool(official_value(opt, "use_vae"), "use_vae"),
        z_dim=check_int("z_dim", official_value(opt, "z_dim")),
    )
    if "semantic_nc" in opt and opt["semantic_nc"] is not None and \
            check_int("semantic_nc", opt["semantic_nc"]) != cfg.semantic_nc:
        raise ConfigError(
            f"semantic_nc {opt['semantic_nc']} does not match label_nc {cfg.label_nc} + dontcare "
            f"{int(cfg.contain_dontcare_label)} + instance {int(cfg.use_instance)}"
        )
    return cfg


def encoder_config_from_official(opt: dict[str, Any], crop_size: int | None = None) -> EncoderConfig:
    spectral, norm = EncoderConfig.parse_norm(str(official_value(opt, "norm_E")))
    if crop_size is None:
        crop_size = check_int("E_crop_size", opt.get("E_crop_size") or official_value(opt, "crop_size"),
                              "encoder_crop_size")
    return EncoderConfig(
        ngf=check_int("ngf", official_value(opt, "ngf")),
        spectral=spectral,
        norm=norm,  # type: ignore[arg-type]
        crop_size=crop_size,
    )
