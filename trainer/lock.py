"""One trainer per run folder: ``<run>/trainer.lock``.

The lock is an advisory ``flock`` on the file (released by the kernel when the process ends,
so a crash or a SIGKILL never leaves it stuck); the file holds the owner's pid, host, start
time and command line, which the refusal message names. Where ``flock`` does not exist
(Windows) the file is created exclusively and a lock whose pid is no longer alive on this
host is taken over as stale.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from .errors import TrainError

LOCK_FILE = "trainer.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _owner_text(info: dict[str, Any] | None) -> str:
    if not info:
        return "another trainer"
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"trainer pid {info.get('pid', '?')} on {info.get('host', '?')} (started {when})"


def read_lock(run_dir: str | Path) -> dict[str, Any] | None:
    """The owner recorded in ``<run>/trainer.lock`` (None when missing or unreadable)."""
    try:
        info = json.loads((Path(run_dir) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


class RunLock:
    """Hold ``<run>/trainer.lock`` while a trainer works on ``run_dir``; ``with RunLock(d):``."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.run_dir / LOCK_FILE

    def _info(self) -> bytes:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                           "command": " ".join(sys.argv)[:500]}).encode()

    def _refuse(self) -> TrainError:
        return TrainError(f"{self.run_dir} is in use by {_owner_text(read_lock(self.run_dir))}: wait until it "
                          f"finishes or stop it, or use another --out")

    def acquire(self) -> RunLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainError(f"{self.run_dir}: cannot create the run folder: {exc.strerror or exc}") from None
        if fcntl is None:
            return self._acquire_exclusive()
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                raise TrainError(f"{self.path}: cannot create the run lock: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._refuse() from None
            # the file may have been removed (and re-created) by an owner that just finished
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, self._info())
            self._fd = fd
            return self
        raise self._refuse()

    def _acquire_exclusive(self) -> RunLock:
        from .runs import pid_alive

        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = read_lock(self.run_dir)
                stale = (info is not None and isinstance(info.get("pid"), int)
                         and info.get("host") == socket.gethostname() and not pid_alive(info["pid"]))
                if not stale and info is not None:
                    raise self._refuse() from None
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
                continue
            os.write(fd, self._info())
            self._fd = fd
            return self
        raise self._refuse()

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        try:
            os.close(self._fd)  # closing releases the flock
        finally:
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_stale_temp_files(run_dir: str | Path) -> list[Path]:
    """Remove the temp files an interrupted write leaves (``.<name>.<random>.tmp`` from
    ``atomic_write``, ``*.tmp``) in the run folder, its checkpoints/ and samples/; only
    regular files. Call while holding the run's lock. Returns what was removed."""
    removed = []
    root = Path(run_dir)
    for d in (root, root / "checkpoints", root / "samples"):
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if not e.name.endswith(".tmp"):
                continue
            try:
                if e.is_file(follow_symlinks=False):
                    os.unlink(e.path)
                    removed.append(Path(e.path))
            except OSError:
                pass
    return removed
