"""The progress-event protocol shared by the CLI and the GUI: one JSON object per line.

Every event has ``"event"`` and ``"time"``; kinds: ``start`` (total, step, run, config),
``step`` (step, total, epoch, losses, it_s, img_s, eta_s, lr_G, lr_D, skipped), ``sample`` (step, path),
``checkpoint`` (step, path), ``warning`` (message), ``log`` (message), ``done`` / ``stopped``
(step, model, run), ``error`` (message).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[dict[str, Any]], None]


def make_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"event": kind, "time": round(time.time(), 3), **fields}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def encode(event: dict[str, Any]) -> str:
    return json.dumps(_clean(event), separators=(",", ":"))


def decode(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return None
    return ev if isinstance(ev, dict) and "event" in ev else None


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
