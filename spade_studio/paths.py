"""The one place that knows where resources and user folders are.

Resources live in ``resources/`` of the source tree, in ``spade_studio/resources`` of an
installed wheel (setuptools maps the folder there) or in the PyInstaller bundle
(``sys._MEIPASS/resources``). User folders come from platformdirs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "SPADE Studio"
APP_ID = "spade-studio"


def resources_dir() -> Path:
    env = os.environ.get("SPADE_STUDIO_RESOURCES")
    candidates = []
    if env:
        candidates.append(Path(env))
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.append(Path(frozen) / "resources")
    here = Path(__file__).resolve().parent
    candidates += [here / "resources", here.parent / "resources"]
    for c in candidates:
        if (c / "palettes").is_dir():
            return c
    raise FileNotFoundError(
        "SPADE Studio resources not found (looked in: " + ", ".join(str(c) for c in candidates) + ")"
    )


def palettes_dir() -> Path:
    return resources_dir() / "palettes"


def models_dir() -> Path:
    return resources_dir() / "models"


def default_model_path() -> Path | None:
    """The bundled default model, or None when this build has none."""
    p = models_dir() / "landscape.safetensors"
    return p if p.exists() else None


def user_config_dir() -> Path:
    from platformdirs import user_config_dir as _ucd

    return Path(os.environ.get("SPADE_STUDIO_CONFIG_DIR") or _ucd(APP_ID, appauthor=False))


def user_data_dir() -> Path:
    from platformdirs import user_data_dir as _udd

    return Path(os.environ.get("SPADE_STUDIO_DATA_DIR") or _udd(APP_ID, appauthor=False))
