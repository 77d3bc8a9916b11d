"""Reading untrusted zip archives (OpenRaster projects): every size checked first.

:class:`_Archive` opens a regular file (FIFOs and devices refused, never waited on), refuses a
zip whose end record announces too many entries or too big a directory before ``zipfile``
parses it, refuses unsafe entry names (absolute, ``..``, drives), and reads entries and PNG
images with their declared and real sizes bounded. Every problem is one
:class:`~spade_studio.project_common.ProjectError` line naming the file and the entry.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .project_common import ProjectError
from .safefiles import file_kind

# A canvas side of 16384 px is twice what a model renders in one go (config.LIMITS crop_size
# 8192) and what Krita/GIMP handle with ease.
MAX_SIDE = 16384
MAX_PIXELS = 16384 * 16384
MAX_FILE_BYTES = 4 << 30  # the .ora itself
MAX_ENTRIES = 4096
MAX_DIRECTORY_BYTES = 16 << 20  # the zip's central directory (read whole by zipfile)
MAX_ENTRY_BYTES = 1 << 30  # one entry, uncompressed (as declared, and as read)
MAX_TOTAL_BYTES = 4 << 30  # all entries we read, uncompressed


class _Archive:
    """A zip read with every size checked first; errors name the file and the entry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_total = 0
        self._fh = _open_regular(path)
        try:
            _check_directory(self._fh, path)
            self.zip = zipfile.ZipFile(self._fh)
        except zipfile.BadZipFile as exc:
            self._fh.close()
            raise ProjectError(f"{path}: not an OpenRaster file (not a zip archive: {exc}; damaged or truncated?)") \
                from None
        except ProjectError:
            self._fh.close()
            raise
        except (OSError, ValueError, EOFError) as exc:
            self._fh.close()
            raise ProjectError(f"{path}: not a readable zip archive ({type(exc).__name__}: {exc})") from None
        infos = self.zip.infolist()
        if len(infos) > MAX_ENTRIES:
            self.close()
            raise ProjectError(f"{path}: {len(infos):,} entries in the zip: at most {MAX_ENTRIES:,}")
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if _unsafe_name(name):
                self.close()
                raise ProjectError(f"{path}: entry {name[:100]!r} has an unsafe name (absolute, '..' or a drive): "
                                   f"refused")
            self.entries[name] = info

    def close(self) -> None:
        try:
            self.zip.close()
        except AttributeError:
            pass
        self._fh.close()

    def where(self, name: str) -> str:
        return f"{self.path}: {name}"

    def has(self, name: str) -> bool:
        return name in self.entries

    def read(self, name: str, limit: int | None = None) -> bytes:
        limit = MAX_ENTRY_BYTES if limit is None else min(limit, MAX_ENTRY_BYTES)
        info = self.entries.get(name)
        if info is None:
            raise ProjectError(f"{self.path}: entry {name!r} is missing")
        if info.is_dir():
            raise ProjectError(f"{self.where(name)}: is a folder, not a file")
        if info.file_size > limit:
            raise ProjectError(f"{self.where(name)}: {info.file_size:,} bytes uncompressed: at most {limit:,}")
        if self.read_total + info.file_size > MAX_TOTAL_BYTES:
            raise ProjectError(f"{self.path}: more than {MAX_TOTAL_BYTES:,} bytes uncompressed in all")
        try:
            with self.zip.open(info) as f:
                data = f.read(limit + 1)
        except NotImplementedError as exc:
            raise ProjectError(f"{self.where(name)}: {exc}") from None
        except RuntimeError:  # encrypted (its text is a ZipInfo repr)
            raise ProjectError(f"{self.where(name)}: encrypted (password protected): not supported") from None
        except zipfile.BadZipFile as exc:
            raise ProjectError(f"{self.where(name)}: damaged entry ({exc})") from None
        except (OSError, EOFError, ValueError) as exc:
            raise ProjectError(f"{self.where(name)}: damaged entry ({type(exc).__name__}: {exc})") from None
        except Exception as exc:  # noqa: BLE001 - zlib.error and friends of a damaged stream
            raise ProjectError(f"{self.where(name)}: damaged entry ({type(exc).__name__}: {exc})") from None
        if len(data) > limit:
            raise ProjectError(f"{self.where(name)}: more than {limit:,} bytes uncompressed")
        self.read_total += len(data)
        return data

    def image(self, name: str, expect: tuple[int, int] | None = None, max_pixels: int | None = None) -> Image.Image:
        """A PNG entry, opened: its header's size checked (against ``expect`` ``(w, h)`` when
        given) before the pixels are decompressed."""
        data = self.read(name)
        if not data:
            raise ProjectError(f"{self.where(name)}: empty entry, not an image")
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ProjectError(f"{self.where(name)}: image too large ({exc})") from None
        except UnidentifiedImageError:  # its text is the repr of our BytesIO: say it plainly (Q5)
            raise ProjectError(f"{self.where(name)}: not a PNG image (damaged, or another kind of file)") from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure of a damaged file
            raise ProjectError(f"{self.where(name)}: not a readable image ({type(exc).__name__}: {exc})") from None
        w, h = img.size
        max_pixels = MAX_PIXELS if max_pixels is None else min(max_pixels, MAX_PIXELS)
        if w < 1 or h < 1 or w > MAX_SIDE or h > MAX_SIDE or w * h > max_pixels:
            raise ProjectError(f"{self.where(name)}: image size {w}x{h} is too large "
                               f"(at most {MAX_SIDE} px a side and {max_pixels:,} pixels here)")
        if expect is not None and (w, h) != expect:
            raise ProjectError(f"{self.where(name)}: image is {w}x{h}, the project is {expect[0]}x{expect[1]}")
        if img.format != "PNG":
            raise ProjectError(f"{self.where(name)}: a {img.format} image; OpenRaster layers are PNG")
        try:
            img.load()
        except Exception as exc:  # noqa: BLE001
            raise ProjectError(f"{self.where(name)}: damaged image ({type(exc).__name__}: {exc})") from None
        return img


def _check_directory(fh, path: Path) -> None:
    """Refuse a zip whose end record announces more than :data:`MAX_ENTRIES` entries or a
    central directory over :data:`MAX_DIRECTORY_BYTES`, before zipfile parses that directory
    (millions of entries would be millions of objects). Zip64 end records are followed. A
    file without an end record is left to zipfile (which reports it)."""
    import struct

    size = fh.seek(0, os.SEEK_END)
    tail_start = max(0, size - (22 + 65535))
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return
    entries, cd_size = struct.unpack("<HI", tail[at + 10 : at + 16])  # total entries, directory size
    if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (z64_offset,) = struct.unpack("<Q", tail[at - 12 : at - 4])
        if 0 <= z64_offset <= size - 56:
            fh.seek(z64_offset)
            rec = fh.read(56)
            if rec[:4] == b"PK\x06\x06":
                entries, cd_size = struct.unpack("<QQ", rec[32:48])
    fh.seek(0)
    if entries > MAX_ENTRIES:
        raise ProjectError(f"{path}: the zip announces {entries:,} entries: at most {MAX_ENTRIES:,}")
    if cd_size > MAX_DIRECTORY_BYTES:
        raise ProjectError(f"{path}: the zip's directory takes {cd_size:,} bytes: at most {MAX_DIRECTORY_BYTES:,}")


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return True
    return any(part == ".." for part in name.split("/"))


def _open_regular(path: Path):
    """A binary file object of the regular file ``path`` (FIFOs/devices refused, never
    waited on), or :class:`ProjectError`."""
    if not path.exists():
        raise ProjectError(f"{path}: no such file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ProjectError(f"{path}: {file_kind(st.st_mode)}, not an .ora file: not read")
        fd = os.open(path, flags)
    except PermissionError:
        raise ProjectError(f"{path}: permission denied (cannot read the file)") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ProjectError(f"{path}: {file_kind(st.st_mode)}, not an .ora file: not read")
    if st.st_size == 0:
        os.close(fd)
        raise ProjectError(f"{path}: empty file, not an OpenRaster project")
    if st.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise ProjectError(f"{path}: {st.st_size:,} bytes: too large for a project (at most {MAX_FILE_BYTES:,})")
    return os.fdopen(fd, "rb")
