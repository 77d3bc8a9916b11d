"""Autosave and recovery: a document's periodic safety copy, and finding and loading it again.

An autosave is ``<folder>/autosave-<id>.png`` (an index PNG like a saved map) plus a ``.json``
sidecar (format tag, original path, label set, size, time), both written atomically; a
document with more than one layer also writes ``autosave-<id>.ora`` (the layers, named in the
sidecar), recovered in preference to the flattened PNG. One
:class:`Autosaver` looks after one document: its timer writes the copy while the document is
dirty, a save or a clean exit removes it, and a recovered autosave is taken over (later
autosaves overwrite it).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from spade_studio.imageio import ImageReadError, atomic_write, read_label_map, write_label_map
from spade_studio.labels import LabelSet, builtin_label_set_names, load_label_set

from .document import Document

AUTOSAVE_FORMAT = "spade-studio-autosave/1"
AUTOSAVE_PREFIX = "autosave-"


def find_recovery(folder: str | os.PathLike) -> list[Path]:
    """Autosaved maps in ``folder`` that can be recovered (PNG paths, newest first)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for side in folder.glob(f"{AUTOSAVE_PREFIX}*.json"):
        png = side.with_suffix(".png")
        if not png.is_file():
            continue
        try:
            info = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict) or info.get("format") != AUTOSAVE_FORMAT:
            continue
        found.append((float(info.get("time_unix") or png.stat().st_mtime), png))
    return [p for _, p in sorted(found, key=lambda t: t[0], reverse=True)]


def recovery_info(path: str | os.PathLike) -> dict:
    """The sidecar of an autosave (``original_path``, ``label_set_name``, ``width``,
    ``height``, ``time``...) for a recovery dialog."""
    side = Path(path).with_suffix(".json")
    try:
        info = json.loads(side.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImageReadError(f"{side}: cannot read the autosave sidecar ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ImageReadError(f"{side}: autosave sidecar is not valid JSON ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != AUTOSAVE_FORMAT:
        raise ImageReadError(f"{side}: not a SPADE Studio autosave sidecar")
    return info


def delete_autosaves(pngs: list[Path]) -> None:
    """Remove autosaves (PNG and sidecar) the user chose not to recover."""
    for p in pngs:
        for f in (p, p.with_suffix(".json"), p.with_suffix(".ora")):
            try:
                f.unlink()
            except OSError:
                pass


class Autosaver(QObject):
    """The autosave of ``document`` in ``folder``. :meth:`start` runs a timer that calls
    :meth:`save_now` every ``interval_s`` seconds (at least 5); a failed write is reported
    with ``failed(message)`` and never raises."""

    failed = Signal(str)  # the OSError's text

    def __init__(self, document: Document, folder: str | os.PathLike, interval_s: int = 30,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.folder = Path(folder)
        self.interval_s = max(5, int(interval_s))
        self._id = uuid.uuid4().hex[:12]
        self._worker = None  # threading.Thread writing the layers' .ora, or None
        self._worker_error: str | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save_now)

    @property
    def autosave_id(self) -> str:
        return self._id

    def paths(self) -> tuple[Path, Path]:
        """The PNG and sidecar this autosaver writes."""
        stem = f"{AUTOSAVE_PREFIX}{self._id}"
        return self.folder / f"{stem}.png", self.folder / f"{stem}.json"

    def start(self) -> None:
        self.timer.start(self.interval_s * 1000)

    def stop(self) -> None:
        self.timer.stop()
        self.wait()

    def save_now(self) -> None:
        """The timer's tick: write the autosave of a dirty document; errors become ``failed``."""
        self._report_worker_error()
        if self.document.dirty:
            try:
                self.write(background=True)
            except OSError as exc:
                self.failed.emit(str(exc))

    def wait(self) -> None:
        """Wait for the layers' ``.ora`` being written in the background, if any."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join()
        self._report_worker_error()

    def _report_worker_error(self) -> None:
        error, self._worker_error = self._worker_error, None
        if error:
            self.failed.emit(error)

    def write(self, background: bool = False) -> Path | None:
        """Write the PNG and its sidecar atomically. A clean document needs no autosave: its
        old autosave is removed and None returned. ``background``: a layered document's
        ``.ora`` (about a second for 1024x1024 x 3 layers) is encoded in a thread from a copy of
        the layers, so the timer never stalls painting; the previous ``.ora`` stays until the
        new one is complete."""
        doc = self.document
        if not doc.dirty:
            self.discard()
            return None
        png, side = self.paths()
        label_set = doc.label_set
        write_label_map(png, doc.label_map, label_set)
        layers = None
        ora = png.with_suffix(".ora")
        if doc.layer_count > 1:
            from spade_studio.project import ProjectError, save_ora

            project = doc.to_project()  # copies: the thread never sees the live layers

            def save() -> None:
                try:
                    save_ora(ora, project)
                except (ProjectError, OSError) as exc:  # the flattened PNG is still there
                    self._worker_error = f"the layers were not autosaved: {exc}"  # reported by the GUI thread

            layers = ora.name
            if not background:
                self.wait()
                save()
                self._report_worker_error()
            elif self._worker is None or not self._worker.is_alive():
                import threading

                self._worker = threading.Thread(target=save, name="autosave-layers", daemon=True)
                self._worker.start()
        elif ora.exists():
            ora.unlink()
        builtin = label_set.name in builtin_label_set_names() and load_label_set(label_set.name) == label_set
        info = {
            "format": AUTOSAVE_FORMAT,
            "original_path": str(doc.path) if doc.path is not None else None,
            "label_set_name": label_set.name,
            "label_set": None if builtin else label_set.to_dict(),
            "width": doc.width,
            "height": doc.height,
            "layers": layers,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "time_unix": time.time(),
            "pid": os.getpid(),
        }
        atomic_write(side, json.dumps(info, indent=1).encode("utf-8"))
        return png

    def discard(self) -> None:
        """Remove this document's autosave (after a successful save, or on a clean exit)."""
        self.wait()
        png, side = self.paths()
        for p in (png, side, png.with_suffix(".ora")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def recover(self, path: str | os.PathLike) -> list[str]:
        """Load an autosave (PNG or its sidecar) into the document. The document stays dirty,
        keeps the original file path from the sidecar, and this autosaver takes the autosave
        over (later writes overwrite it, :meth:`discard` removes it). Raises and keeps the
        current document on failure."""
        png = Path(path).with_suffix(".png")
        info = recovery_info(png)
        if isinstance(info.get("label_set"), dict):
            label_set = LabelSet.from_dict(info["label_set"])
        else:
            label_set = load_label_set(str(info.get("label_set_name")))
        original = info.get("original_path")
        notes = [f"recovered the autosave of {info.get('time', 'unknown time')}"]
        if original:
            notes.append(f"original file: {original}")
        layers = info.get("layers")
        ora = png.with_name(layers) if isinstance(layers, str) and layers.endswith(".ora") and "/" not in layers \
            and "\\" not in layers else None
        recovered = False
        if ora is not None and ora.is_file():
            try:
                self.document.replace_project(ora, original or None, clean=False)
                notes.append(f"{self.document.layer_count} layers")
                recovered = True
            except (ValueError, OSError) as exc:  # ProjectError, LabelError...: the flattened PNG
                notes.append(f"the layers could not be read ({exc}); recovered the flattened map")
        if not recovered:
            got = read_label_map(png, label_set)
            self.document.replace_map(got.ids, label_set, original or None, clean=False, where=str(png))
        stem = png.stem
        if stem.startswith(AUTOSAVE_PREFIX):
            self._id = stem[len(AUTOSAVE_PREFIX):]
        return notes
