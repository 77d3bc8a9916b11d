"""Only regular files are read or replaced: reads that cannot block on a FIFO or a device,
and the check that a write never replaces a device node, a FIFO, a socket or a folder."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket")]


def file_kind(mode: int) -> str:
    """``'a character device'`` ... : what a non-regular file is, for messages."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_replaceable(path: str | os.PathLike) -> None:
    """Refuse (``IsADirectoryError`` / ``OSError``) when ``path`` exists and is not a regular file
    (a symlink is followed): devices, FIFOs, sockets and folders are never replaced."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError:
        return  # the write itself reports it, naming the path
    if not stat.S_ISREG(st.st_mode):
        kind = file_kind(st.st_mode)
        code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EEXIST
        raise OSError(code, f"exists and is {kind}, not a regular file: not replaced", str(path))


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes``. The file is opened without
    blocking, so a FIFO or a device is refused at once, never waited on (``ValueError``
    naming the path; ``OSError`` when it cannot be opened)."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: {file_kind(st.st_mode)}, not a regular {what}: not read")
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path}: {file_kind(st.st_mode)}, not a regular {what}: not read")
        if st.st_size > max_bytes:
            raise ValueError(f"{path}: {st.st_size:,} bytes: too large for a {what} (at most {max_bytes:,})")
        chunks, total = [], 0
        while True:
            b = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not b:
                break
            chunks.append(b)
            total += len(b)
            if total > max_bytes:
                raise ValueError(f"{path}: too large for a {what} (at most {max_bytes:,} bytes)")
        return b"".join(chunks)
    finally:
        os.close(fd)
