"""Resume state: tensors and plain values only (loaded with ``weights_only=True``), written atomically."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import torch

from spade_studio.imageio import atomic_write

CKPT_RE = re.compile(r"^ckpt_(\d{8})\.pt$")


def save_state(run_dir: Path, step: int, state: dict[str, Any], keep_last: int) -> Path:
    ck_dir = run_dir / "checkpoints"
    ck_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    path = atomic_write(ck_dir / f"ckpt_{step:08d}.pt", buf.getvalue())
    old = list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []
    for p in old:
        try:
            os.unlink(p)
        except OSError:
            pass
    return path


def list_checkpoints(run_dir: Path) -> list[Path]:
    ck_dir = Path(run_dir) / "checkpoints"
    if not ck_dir.is_dir():
        return []
    return sorted(p for p in ck_dir.iterdir() if CKPT_RE.match(p.name))


def load_latest_state(run_dir: Path) -> tuple[dict[str, Any], Path] | None:
    """The newest readable checkpoint (a damaged newest one falls back to the one before)."""
    for p in reversed(list_checkpoints(run_dir)):
        try:
            return torch.load(p, map_location="cpu", weights_only=True), p
        except Exception:  # noqa: BLE001 - truncated or foreign file: try the previous one
            continue
    return None
