"""Reading and writing label maps, instance maps and images (Pillow), atomically.

Label maps are saved as indexed PNGs (mode ``P``: the pixel values are the ids, the palette
shows the label colours) with the label-set name in a ``spade-studio-labelset`` text chunk;
ids above 255 are saved as 16-bit greyscale PNGs.
"""

from __future__ import annotations

import errno
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .labels import LabelError, LabelSet
from .safefiles import check_replaceable, file_kind, read_regular_file

__all__ = ["ImageReadError", "LabelMapFile", "atomic_write", "check_image_pixels", "check_replaceable",
           "encode_image", "encode_label_png", "file_kind", "read_instance_map", "read_label_map",
           "read_regular_file", "read_rgb", "write_image", "write_label_map"]

LABELSET_CHUNK = "spade-studio-labelset"

Image.MAX_IMAGE_PIXELS = 20000 * 20000


class ImageReadError(ValueError):
    """An image that cannot be read; the message names the file."""


def _name_target(exc: OSError, path: Path) -> OSError:
    """The same error naming the target file (not the temp file beside it)."""
    why = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why += f" (cannot write in {path.parent})"
    elif exc.errno == errno.ENOSPC:
        why += f" (writing {path})"
    new = OSError(exc.errno, why, str(path))
    return new


def atomic_write(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to a temp file beside ``path``, then rename it over ``path``.

    Only a regular file (or nothing) at ``path`` is replaced; every ``OSError`` (full disk,
    read-only folder ...) names ``path``, not the temp file."""
    path = Path(path)
    check_replaceable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    except OSError as exc:
        raise _name_target(exc, path) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        check_replaceable(path)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.filename != str(path):
            raise _name_target(exc, path) from None
        raise
    return path


MAX_IMAGE_FILE_BYTES = 1 << 30
# The largest image read (label maps, instance maps, photos), checked from the file's header
# before its pixels are decompressed: a PNG of a few hundred KB can hold gigabytes of pixels.
# 16384 x 16384 pixels, and at most 512 MiB of decoded pixels (so RGB up to ~178 Mpx, RGBA
# 134 Mpx), which keeps a read, its copies and a colour map's decoding under ~2 GB.
MAX_IMAGE_PIXELS = 16384 * 16384
MAX_DECODED_BYTES = 512 << 20
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2,
                    "I;16N": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3}


def check_image_pixels(img: Image.Image, path: Path) -> None:
    """Refuse an image whose header promises more pixels than :data:`MAX_IMAGE_PIXELS` /
    :data:`MAX_DECODED_BYTES` (before anything is decompressed), or none at all."""
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageReadError(f"{path}: a {w}x{h} image has no pixels")
    px = w * h
    bpp = _BYTES_PER_PIXEL.get(img.mode, 4)
    if px > MAX_IMAGE_PIXELS or px * bpp > MAX_DECODED_BYTES:
        limit = min(MAX_IMAGE_PIXELS, MAX_DECODED_BYTES // bpp)
        raise ImageReadError(f"{path}: a {w}x{h} image ({px:,} pixels, mode {img.mode}): too large to read "
                             f"(at most {limit:,} pixels in this mode)")


def _open(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    try:
        data = read_regular_file(path, MAX_IMAGE_FILE_BYTES, what="image file")
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied (cannot read the file)") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ImageReadError(str(exc)) from None
    if not data:
        raise ImageReadError(f"{path}: empty file, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        check_image_pixels(img, path)
        img.load()
        return img
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (PNG, JPEG, WebP, BMP, TIFF ...) or damaged") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(m.group(1)):,} pixels" if m else str(exc)
        raise ImageReadError(f"{path}: image too large to read ({size}; at most {MAX_IMAGE_PIXELS:,})") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode the image") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure of a damaged file
        raise ImageReadError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None


@dataclass
class LabelMapFile:
    ids: np.ndarray  # [H, W] uint8 or uint16
    label_set_name: str | None  # from the text chunk, when present
    from_colors: bool  # decoded from a colour image through a palette


def read_label_map(path: str | os.PathLike, label_set: LabelSet | None = None) -> LabelMapFile:
    """Index PNG (8/16-bit greyscale or palette indices) or colour PNG decoded through ``label_set``."""
    img = _open(path)
    name = img.info.get(LABELSET_CHUNK) if isinstance(img.info.get(LABELSET_CHUNK), str) else None
    mode = img.mode
    if mode in ("L", "P"):
        return LabelMapFile(np.array(img, dtype=np.uint8), name, False)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.array(img)
        if arr.min() < 0 or arr.max() > 65535:
            raise ImageReadError(f"{path}: label values outside 0..65535")
        arr = arr.astype(np.uint16)
        if arr.max() < 256:
            arr = arr.astype(np.uint8)
        return LabelMapFile(arr, name, False)
    if mode in ("RGB", "RGBA", "LA"):
        if mode == "LA":
            return LabelMapFile(np.array(img.convert("L"), dtype=np.uint8), name, False)
        # an RGB image is viewed, not copied (a colour map is the largest thing read here)
        rgb = np.asarray(img) if mode == "RGB" else np.array(img.convert("RGB"))
        img = None
        if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all() and label_set is None:
            return LabelMapFile(rgb[..., 0].copy(), name, False)
        if label_set is None:
            raise LabelError(f"{path}: a colour label image needs a label set to map colours to ids")
        return LabelMapFile(label_set.colors_to_ids(rgb, where=str(path)), name, True)
    raise ImageReadError(f"{path}: unsupported image mode {mode} for a label map")


def read_instance_map(path: str | os.PathLike) -> np.ndarray:
    """Instance ids ``[H, W]`` int64 (8-, 16- or 32-bit PNG; values used unscaled)."""
    img = _open(path)
    if img.mode in ("RGB", "RGBA"):
        rgb = np.array(img.convert("RGB")).astype(np.int64)
        return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    if img.mode == "P":
        return np.array(img).astype(np.int64)
    return np.array(img).astype(np.int64)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` (alpha dropped, greyscale expanded, EXIF orientation applied)."""
    from PIL import ImageOps

    img = _open(path)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block is not worth failing for
        pass
    return np.array(img.convert("RGB"))


def encode_label_png(ids: np.ndarray, label_set: LabelSet | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    if label_set is not None:
        info.add_text(LABELSET_CHUNK, label_set.name)
    buf = io.BytesIO()
    if ids.dtype == np.uint8 or ids.max(initial=0) < 256:
        arr = np.ascontiguousarray(ids.astype(np.uint8))
        if label_set is not None:
            img = Image.frombytes("P", (arr.shape[1], arr.shape[0]), arr.tobytes())
            img.putpalette(label_set.lut(256).reshape(-1).tolist())
        else:
            img = Image.fromarray(arr, mode="L")
        img.save(buf, format="PNG", pnginfo=info, optimize=False)
    else:
        Image.fromarray(ids.astype(np.uint16)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def write_label_map(path: str | os.PathLike, ids: np.ndarray, label_set: LabelSet | None = None) -> Path:
    return atomic_write(path, encode_label_png(ids, label_set))


def encode_image(rgb: np.ndarray, fmt: str = "PNG", quality: int = 95) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]).astype(np.uint8), mode="RGB")
    fmt = fmt.upper()
    if fmt in ("JPG", "JPEG"):
        img.save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def write_image(path: str | os.PathLike, rgb: np.ndarray, quality: int = 95) -> Path:
    path = Path(path)
    ext = path.suffix.lower()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}.get(ext)
    if fmt is None:
        raise ValueError(f"{path}: unknown image type {ext!r} (use .png or .jpg)")
    return atomic_write(path, encode_image(rgb, fmt, quality))
