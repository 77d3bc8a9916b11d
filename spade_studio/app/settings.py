"""Persistent settings: a JSON file in the user config folder (atomic writes)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from spade_studio.imageio import atomic_write
from spade_studio.paths import user_config_dir


@dataclass
class Settings:
    theme: str = "dark"  # dark | light | system
    recent_files: list[str] = field(default_factory=list)
    recent_styles: list[str] = field(default_factory=list)
    model: str | None = None  # None = bundled default
    device: str = "auto"
    brush_size: int = 12
    view_mode: str = "side"  # side | swap | overlay
    reference_opacity: float = 0.5
    overlay_opacity: float = 0.6
    new_width: int = 256
    new_height: int = 256
    wrap_panorama: bool = False  # renders wrap horizontally (360° panorama)
    smoothing: int = 0  # tool options: brush/eraser stroke smoothing 0..100
    mirror: bool = False  # tool options: mirror painting
    autosave_seconds: int = 30
    geometry: str = ""  # hex of saveGeometry()
    window_state: str = ""

    @staticmethod
    def path() -> Path:
        return user_config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        try:
            data = json.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {f.name: f for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        try:
            return cls(**kw)
        except TypeError:
            return cls()

    def save(self) -> None:
        try:
            atomic_write(self.path(), json.dumps(asdict(self), indent=1).encode())
        except OSError:
            pass  # settings are a convenience: never fail the app over them

    def add_recent_file(self, path: str | Path, limit: int = 10) -> None:
        p = str(Path(path).resolve())
        self.recent_files = [p] + [r for r in self.recent_files if r != p][: limit - 1]
