"""The trainer as a child process that the app follows through files: :class:`TrainerProcess`.

Process model
-------------
Training runs ``spade-studio-cli train ... --progress jsonl`` in a process of its own;
:func:`trainer_command` builds the command line (``python -m spade_studio.cli``, or
the bundled ``spade-studio-cli`` in a frozen build) so packaging has one place to adapt. The app never shares
memory with the trainer, so a trainer crash (or an out-of-memory kill) cannot take the editor
down, and the editor crashing cannot take a run down.

The child's **stdout goes to** ``<run>/events.jsonl`` **and its stderr to** ``<run>/trainer.log``
— files, not pipes. A QTimer on the GUI thread reads the bytes that were added since the last
tick (a few hundred bytes every 200 ms, never a blocking read) and turns each line into signals
with :func:`trainer.events.decode`. Files rather than pipes because of "keep training in the
background": with a pipe, the trainer's next write after the app quits raises BrokenPipeError
and the run dies; with files, detaching is just "stop following". The child starts in a session
of its own (``start_new_session`` / ``CREATE_NEW_PROCESS_GROUP``) so a terminal hang-up or Ctrl-C
aimed at the app does not reach it. The app writes ``<run>/trainer.pid`` (pid, start time,
command, events offset); a later session of the app finds a live run through it and reattaches
(:meth:`TrainerProcess.attach`), reading the events from then on and the loss history from
``metrics.jsonl``. The logs stay in the run folder for a post-mortem. Reading run folders
(status, pid files, file tails) is Qt-free and lives in :mod:`trainer.runs`.

Stopping: :meth:`stop` sends SIGTERM; the trainer finishes its step, writes a checkpoint and
the model file, emits ``stopped`` and exits. :meth:`pause` is the same with the status
"paused" (Resume relaunches with ``--resume``). :meth:`kill` is SIGKILL. **Windows:** a console
process in its own group gets no catchable stop signal from another process (``terminate`` is
``TerminateProcess``), so Stop/Pause end the trainer at once there; the run keeps its last
periodic checkpoint (``--save-every``) and resumes from it.

Final status (signal ``finished(status, exit_code)``): ``done`` / ``stopped`` / ``paused`` from
the trainer's last event, ``error`` when the trainer reported an error event (bad data, out of
memory, NaN losses...), ``crashed`` when the process ended without a final event (killed,
segfault, the system's OOM killer); :attr:`TrainerProcess.error_message` then holds the reason
and the last lines of stderr. The app records it in ``<run>/status.json``.

The trainer runs at a lower priority by default (nice 5 / BELOW_NORMAL) so painting and previews
stay quick while it works.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from trainer.config import TrainConfig, to_args
from trainer.events import decode
from trainer.runs import (
    EVENTS_FILE,
    FINAL_EVENTS,
    LOG_FILE,
    PID_FILE,
    STATUS_FILE,
    RunStatus,
    pid_alive,
    read_pid_file,
    running_pid,
    tail_text,
)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def trainer_command(args: list[str]) -> tuple[str, list[str]]:
    """``(program, argv)`` that runs ``spade-studio-cli <args>`` in a new process.

    From source or an installed wheel: the current interpreter with ``-m spade_studio.cli``. In a
    frozen (PyInstaller) build: the console ``spade-studio-cli`` beside ``sys.executable`` (on
    Windows the windowed ``spade-studio.exe`` has no stdout, so the trainer's event stream needs
    the console program); a build without it falls back to the app itself with ``--cli``."""
    if getattr(sys, "frozen", False):
        cli = frozen_cli_executable()
        if cli is not None:
            return str(cli), list(args)
        return sys.executable, ["--cli", *args]
    return sys.executable, ["-m", "spade_studio.cli", *args]


def frozen_cli_executable(windows: bool | None = None) -> Path | None:
    """``spade-studio-cli`` (``.exe`` on Windows) in the folder of the running executable, if there."""
    if windows is None:
        windows = os.name == "nt"
    name = "spade-studio-cli" + (".exe" if windows else "")
    candidate = Path(sys.executable).with_name(name)
    return candidate if candidate.is_file() else None


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if not getattr(sys, "frozen", False):
        # running from a source tree: make spade_studio and trainer importable in the child
        root = str(Path(__file__).resolve().parents[2])
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in parts:
            env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    return env


def train_args_from_config(cfg: TrainConfig | dict[str, Any]) -> list[str]:
    """``train`` options that reproduce a TrainConfig or a run's ``config.json`` (new runs and
    resumed ones); derived from TrainConfig's fields, the one place that defines them."""
    return to_args(cfg)


# ---------------------------------------------------------------------------------------------
class _Tail:
    """New complete lines of a growing file, read without blocking."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._partial = b""

    def read(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(1 << 20)
        except OSError:
            return []
        if not data:
            return []
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [ln.decode("utf-8", errors="replace").rstrip("\r") for ln in lines]

    def flush(self) -> list[str]:
        rest = self.read()
        if self._partial:
            rest.append(self._partial.decode("utf-8", errors="replace"))
            self._partial = b""
        return rest


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class TrainerProcess(QObject):
    """One trainer process: start, follow, stop / pause / kill, detach, reattach.

    Signals: ``event(dict)`` for every trainer event; ``progress(step, total, eta_s or None)``;
    ``sample(path)``; ``log_line(str)`` for stderr and non-JSON output; ``started(pid)``;
    ``finished(status, exit_code)`` with status done / stopped / paused / error / crashed
    (exit code -1 when unknown: a process started by an earlier session of the app)."""

    event = Signal(object)
    progress = Signal(int, int, object)
    sample = Signal(str)
    log_line = Signal(str)
    started = Signal(int)
    finished = Signal(str, int)

    def __init__(self, parent: QObject | None = None, *, low_priority: bool = True, poll_ms: int = 200) -> None:
        super().__init__(parent)
        self.low_priority = low_priority
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)
        self._popen: subprocess.Popen | None = None
        self._pid: int | None = None
        self._events: _Tail | None = None
        self._log: _Tail | None = None
        self.run_dir: Path | None = None
        self.status: RunStatus | None = None  # None until finished
        self.exit_code: int | None = None
        self.error_message = ""
        self.last_step: dict[str, Any] | None = None
        self.last_event: dict[str, Any] | None = None
        self.final_event: dict[str, Any] | None = None
        self.start_event: dict[str, Any] | None = None
        self.stop_requested: str = ""  # "" | "stop" | "pause"
        self._log_lines: list[str] = []

    # -- state ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._pid

    def is_running(self) -> bool:
        """True while a process is being followed (started here or attached)."""
        return self._pid is not None and self._timer.isActive()

    def log_tail(self, n: int = 30) -> list[str]:
        return self._log_lines[-n:]

    # -- start / attach ---------------------------------------------------------------------------
    def start(self, train_args: list[str], run_dir: str | Path, *, resume: bool = False) -> int:
        """Launch ``train <train_args> [--resume] --progress jsonl`` for ``run_dir``; returns the pid.

        ``train_args`` should name ``--out run_dir`` (added when missing). Raises OSError when
        the process cannot be started."""
        if self.is_running():
            raise RuntimeError("a trainer is already running")
        run_dir = Path(run_dir).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        args = list(train_args)
        if "--out" not in args:
            args += ["--out", str(run_dir)]
        if resume and "--resume" not in args:
            args.append("--resume")
        args += ["--progress", "jsonl"]
        program, argv = trainer_command(["train", *args])
        events_path, log_path = run_dir / EVENTS_FILE, run_dir / LOG_FILE
        ev_offset, log_offset = _file_size(events_path), _file_size(log_path)
        self._reset(run_dir)
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            flags = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
            if self.low_priority:
                flags |= getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
            kwargs["creationflags"] = flags
        else:
            kwargs["start_new_session"] = True
        with open(events_path, "ab") as out, open(log_path, "ab") as err:
            self._popen = subprocess.Popen([program, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                           env=_child_env(), close_fds=True, **kwargs)
        self._pid = self._popen.pid
        if self.low_priority and hasattr(os, "setpriority"):
            try:  # before the child starts its compute threads, which inherit the nice value
                os.setpriority(os.PRIO_PROCESS, self._pid, 5)
            except OSError:
                pass
        from spade_studio.imageio import atomic_write

        atomic_write(run_dir / PID_FILE, json.dumps({
            "pid": self._pid, "started": time.time(), "argv": [program, *argv], "events_offset": ev_offset,
        }).encode())
        self._events = _Tail(events_path, ev_offset)
        self._log = _Tail(log_path, log_offset)
        self._timer.start()
        self.started.emit(self._pid)
        return self._pid

    def attach(self, run_dir: str | Path) -> bool:
        """Follow a trainer that an earlier session of the app left running on ``run_dir``.

        Events are read from now on (the tab loads the loss history from metrics.jsonl); the
        last step event of the running session, if any, is replayed for the progress bar."""
        if self.is_running():
            raise RuntimeError("a trainer is already running")
        run_dir = Path(run_dir).resolve()
        pid = running_pid(run_dir)
        if pid is None:
            return False
        info = read_pid_file(run_dir) or {}
        self._reset(run_dir)
        self._pid = pid
        events_path, log_path = run_dir / EVENTS_FILE, run_dir / LOG_FILE
        self._log_lines = tail_text(log_path, 200)
        # replay the session's start and latest step (cheap: only the file's tail is scanned)
        session = _Tail(events_path, int(info.get("events_offset", 0)))
        start = last = None
        while True:
            lines = session.read()
            if not lines:
                break
            for line in lines:
                ev = decode(line)
                if ev is None:
                    continue
                if ev["event"] == "start":
                    start = ev
                elif ev["event"] == "step":
                    last = ev
        self._events = _Tail(events_path, session.offset - len(session._partial))
        self._log = _Tail(log_path, _file_size(log_path))
        self._timer.start()
        self.started.emit(pid)
        for ev in (start, last):
            if ev is not None:
                self._handle(ev)
        return True

    def _reset(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.status = None
        self.exit_code = None
        self.error_message = ""
        self.last_step = self.last_event = self.final_event = self.start_event = None
        self.stop_requested = ""
        self._log_lines = []
        self._popen = None
        self._pid = None

    # -- control ------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the trainer to finish its step, save a checkpoint and exit (status "stopped")."""
        self._request("stop")

    def pause(self) -> None:
        """Like :meth:`stop`, with the status "paused": Resume continues the run folder."""
        self._request("pause")

    def _request(self, kind: str) -> None:
        if not self.is_running():
            return
        already = bool(self.stop_requested)
        self.stop_requested = kind
        if already:  # a second SIGTERM would make the trainer quit without saving
            return
        try:
            if self._popen is not None:
                self._popen.terminate()  # SIGTERM; TerminateProcess on Windows
            elif self._pid is not None:
                os.kill(self._pid, signal.SIGTERM)
        except OSError:
            pass

    def kill(self) -> None:
        """End the trainer at once (no checkpoint; the run keeps its last one)."""
        if self._pid is None:
            return
        self.stop_requested = self.stop_requested or "kill"
        try:
            if self._popen is not None:
                self._popen.kill()
            else:
                os.kill(self._pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except OSError:
            pass

    def detach(self) -> None:
        """Stop following; the process keeps training (its pid file lets a later session reattach)."""
        self._timer.stop()
        self._popen = None
        self._pid = None

    def wait(self, timeout_s: float) -> bool:
        """Block until the process has ended and been reported (tests and shutdown only)."""
        from PySide6.QtCore import QCoreApplication

        t0 = time.monotonic()
        while self.is_running() and time.monotonic() - t0 < timeout_s:
            self._poll()
            QCoreApplication.processEvents()
            time.sleep(0.02)
        return not self.is_running()

    # -- following -----------------------------------------------------------------------------------
    def _exit_code(self) -> int | None:
        """The exit code once the process has ended (-1 when it is not our child), else None."""
        if self._popen is not None:
            return self._popen.poll()
        if self._pid is not None and not pid_alive(self._pid, self.run_dir):
            return -1
        return None

    def _poll(self) -> None:
        code = self._exit_code()  # before reading, so that nothing written before the exit is missed
        self._drain()
        if code is not None:
            self._drain(final=True)
            self._finish(code)

    def _drain(self, final: bool = False) -> None:
        if self._log is not None:
            for line in (self._log.flush() if final else self._log.read()):
                if line.strip():
                    self._add_log(line)
        if self._events is not None:
            for line in (self._events.flush() if final else self._events.read()):
                ev = decode(line)
                if ev is None:
                    if line.strip():
                        self._add_log(line)
                    continue
                self._handle(ev)

    def _add_log(self, line: str) -> None:
        self._log_lines.append(line)
        del self._log_lines[:-500]
        self.log_line.emit(line)

    def _handle(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        self.last_event = ev
        if kind == "start":
            self.start_event = ev
        elif kind == "step":
            self.last_step = ev
        elif kind in FINAL_EVENTS:
            self.final_event = ev
        self.event.emit(ev)
        if kind in ("start", "step"):
            eta = ev.get("eta_s") if kind == "step" else None
            self.progress.emit(int(ev.get("step", 0)), int(ev.get("total", 0)), eta)
        elif kind == "sample" and ev.get("path"):
            self.sample.emit(str(ev["path"]))

    def _finish(self, code: int) -> None:
        self._timer.stop()
        final = self.final_event
        kind = final.get("event") if final else None
        stopped = RunStatus.PAUSED if self.stop_requested == "pause" else RunStatus.STOPPED
        if kind == "done":
            status = RunStatus.DONE
        elif kind == "stopped":
            status = stopped
        elif kind == "error":
            status = RunStatus.ERROR
            self.error_message = str(final.get("message") or "the trainer reported an error")
        elif self.stop_requested in ("stop", "pause") and self.start_event is None and code != 0:
            # the stop signal arrived before the trainer had set up its handler: nothing to save
            status = stopped
        else:
            status = RunStatus.CRASHED
            if code < 0 and sys.platform != "win32":
                try:
                    why = f"killed by signal {signal.Signals(-code).name}"
                except ValueError:
                    why = f"killed by signal {-code}"
            elif code == -1:
                why = "the process ended without a final report"
            else:
                why = f"exit code {code}"
            if self.stop_requested == "kill":
                why += " (force-stopped)"
            self.error_message = f"The trainer ended unexpectedly ({why})."
        self.status = status
        self.exit_code = code
        if self.run_dir is not None:
            self._write_status(status, code)
            try:
                info = read_pid_file(self.run_dir)
                if info and info.get("pid") == self._pid:
                    (self.run_dir / PID_FILE).unlink()
            except OSError:
                pass
        self._popen = None
        self._pid = None
        self.finished.emit(status, code)

    def _write_status(self, status: RunStatus, code: int) -> None:
        from spade_studio.imageio import atomic_write

        step = (self.final_event or self.last_step or {}).get("step")
        try:
            atomic_write(self.run_dir / STATUS_FILE, json.dumps({
                "status": status.value, "exit_code": code, "step": step, "message": self.error_message,
                "time": time.time(), "events_size": _file_size(self.run_dir / EVENTS_FILE),
            }, indent=1).encode())
        except OSError:
            pass
