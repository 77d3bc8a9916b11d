"""Run folders read from disk (no Qt): a run's status, step, config and live trainer process.

A run folder holds ``config.json`` (the TrainConfig), ``metrics.jsonl`` (one loss record per
logged step), ``events.jsonl`` (the trainer's progress events, its stdout), ``trainer.log`` (its
stderr), ``trainer.pid`` while the app follows a trainer (pid, start time, command, events
offset) and ``status.json`` (how the app saw the process end). :func:`read_run_info` turns these
into a :class:`RunInfo` by reading only file tails; :func:`list_runs` does it for a runs folder.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .events import decode

EVENTS_FILE = "events.jsonl"
LOG_FILE = "trainer.log"
PID_FILE = "trainer.pid"
STATUS_FILE = "status.json"
FINAL_EVENTS = ("done", "stopped", "error")
_STILL_ACTIVE = 259  # Windows GetExitCodeProcess


class RunStatus(str, Enum):
    """Where a run stands. A ``str`` enum: members compare, hash and serialise (JSON) as their
    values, so ``RunStatus.DONE == "done"`` and ``{RunStatus.DONE: 1}["done"]`` both hold.

    A run folder is new, unfinished, running, finished, paused, stopped, error or crashed; a
    trainer process ends done (the folder then reads finished), stopped, paused, error or crashed."""

    NEW = "new"
    UNFINISHED = "unfinished"
    RUNNING = "running"
    FINISHED = "finished"
    DONE = "done"
    PAUSED = "paused"
    STOPPED = "stopped"
    ERROR = "error"
    CRASHED = "crashed"

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value: Any) -> RunStatus | None:
        """The member named by ``value`` ("done", a member...), None when it names none."""
        try:
            return cls(value)
        except ValueError:
            return None


# statuses from which Resume continues a run folder
RESUMABLE = frozenset({RunStatus.PAUSED, RunStatus.STOPPED, RunStatus.ERROR, RunStatus.CRASHED,
                       RunStatus.UNFINISHED})
STATUS_TEXT = {
    RunStatus.RUNNING: "running", RunStatus.FINISHED: "finished", RunStatus.DONE: "finished",
    RunStatus.PAUSED: "paused", RunStatus.STOPPED: "stopped", RunStatus.ERROR: "failed",
    RunStatus.CRASHED: "crashed", RunStatus.UNFINISHED: "unfinished", RunStatus.NEW: "new",
}


def status_text(status: str) -> str:
    """The word shown for a status ("error" reads "failed"; an unknown status reads as itself)."""
    return STATUS_TEXT.get(status, str(status))


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """A run's config.json as a dict ({} when missing or unreadable)."""
    try:
        cfg = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
        return cfg if isinstance(cfg, dict) else {}
    except (OSError, ValueError):
        return {}


# -- processes ------------------------------------------------------------------------------------
def pid_alive(pid: int, run_dir: str | Path | None = None) -> bool:
    """Whether ``pid`` is a live process (on Linux: one whose command line names ``run_dir``,
    so a recycled pid is not mistaken for the trainer)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        k32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        h = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not h:
            return False
        try:
            code = ctypes.c_ulong()
            return bool(k32.GetExitCodeProcess(h, ctypes.byref(code))) and code.value == _STILL_ACTIVE
        finally:
            k32.CloseHandle(h)
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if (proc / "stat").read_text().split(")")[-1].split()[0] == "Z":
                return False  # a zombie has finished
            if run_dir is not None:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return str(Path(run_dir)) in cmd or Path(run_dir).name in cmd
        except (OSError, IndexError):
            return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid_file(run_dir: str | Path) -> dict[str, Any] | None:
    """``<run>/trainer.pid`` as a dict with an int ``pid``, else None."""
    try:
        info = json.loads((Path(run_dir) / PID_FILE).read_text(encoding="utf-8"))
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def running_pid(run_dir: str | Path) -> int | None:
    """The pid of a live trainer working on ``run_dir`` (from its pid file), else None."""
    info = read_pid_file(run_dir)
    if info and pid_alive(info["pid"], run_dir):
        return info["pid"]
    return None


# -- file tails -----------------------------------------------------------------------------------
def tail_lines(path: str | Path, max_bytes: int = 65536) -> list[str]:
    """The complete lines in the last ``max_bytes`` of a file ([] when missing)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[1:] if size > max_bytes and lines else lines


def tail_text(path: str | Path, n: int = 30) -> list[str]:
    """The last ``n`` lines of a text file ([] when missing)."""
    return tail_lines(path)[-n:]


def last_metrics_step(run_dir: str | Path) -> dict[str, Any] | None:
    """The last record of ``<run>/metrics.jsonl`` that has a step, else None."""
    for line in reversed(tail_lines(Path(run_dir) / "metrics.jsonl", 16384)):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and "step" in d:
            return d
    return None


# -- run folders ----------------------------------------------------------------------------------
@dataclass
class RunInfo:
    """What a run folder says about its run."""

    path: Path
    status: RunStatus
    step: int = 0
    total: int | None = None
    data: str = ""
    started: float | None = None
    pid: int | None = None
    message: str = ""
    has_model: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE and bool(self.config)


_FINAL_STATUS = {"done": RunStatus.FINISHED, "stopped": RunStatus.STOPPED, "error": RunStatus.ERROR}


def read_run_info(run_dir: str | Path) -> RunInfo:
    """What a run folder says about its run: status, step, model file (reads only file tails)."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    info = RunInfo(run_dir, RunStatus.NEW, total=cfg.get("iters"), data=str(cfg.get("data") or ""), config=cfg,
                   has_model=(run_dir / "model.safetensors").is_file())
    last = last_metrics_step(run_dir)
    if last:
        info.step = int(last.get("step", 0))
    pid = read_pid_file(run_dir)
    if pid:
        info.started = pid.get("started")
    elif (run_dir / "config.json").exists():
        info.started = (run_dir / "config.json").stat().st_mtime
    alive = running_pid(run_dir)
    final: dict[str, Any] | None = None
    saw_start = False
    events = run_dir / EVENTS_FILE
    for line in reversed(tail_lines(events)):
        ev = decode(line)
        if ev is None:
            continue
        if ev["event"] in FINAL_EVENTS:
            final = ev
            break
        if ev["event"] == "start":
            saw_start = True
            break
    if alive:
        info.status, info.pid = RunStatus.RUNNING, alive
    elif final is not None:
        info.status = _FINAL_STATUS[final["event"]]
        info.message = str(final.get("message") or "")
        if "step" in final:
            info.step = max(info.step, int(final["step"]))
    elif events.exists() and (saw_start or pid):
        info.status = RunStatus.CRASHED
    elif cfg:
        done = info.total is not None and info.step >= info.total
        info.status = RunStatus.FINISHED if done else RunStatus.UNFINISHED
    try:
        st = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
        size = events.stat().st_size if events.exists() else 0
        if isinstance(st, dict) and st.get("events_size") == size and not alive:
            # the app saw this session end: it knows pause from stop and keeps crash reasons
            seen = RunStatus.parse(st.get("status"))
            if seen is not None:
                info.status = RunStatus.FINISHED if seen is RunStatus.DONE else seen
            info.message = st.get("message") or info.message
    except (OSError, ValueError):
        pass
    return info


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Run folders under ``runs_dir`` (those with a config.json or a trainer event log), newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and ((p / "config.json").exists() or (p / EVENTS_FILE).exists())]
    runs = [read_run_info(p) for p in found]
    runs.sort(key=lambda r: r.started or 0.0, reverse=True)
    return runs
