"""The preview service: one worker thread that owns the model and renders label maps.

The GUI thread only hands over snapshots and receives results through queued signals; it never
waits on torch (torch is imported in the worker, when the first model loads).

Requests and results
--------------------
* Every request gets an increasing id. The worker keeps at most one pending render: a newer
  request replaces the pending one (the replaced id is never rendered). ``request()`` also
  coalesces calls within ``debounce_ms`` (a throttle: the first call starts the timer, later
  calls only replace the waiting snapshot, so continuous painting still updates every
  ``debounce_ms`` plus one render).
* A result is delivered only if it is newer than what was last delivered and was rendered with
  the current model; anything else is stale and dropped (counted in ``stale_dropped``). A
  result for a request that was superseded *while it rendered* is still shown, so the picture
  keeps up during a long stroke instead of freezing until the mouse stops.
* Large canvases: when the last full render took longer than ``preview_after_s`` (0.3 s) and the
  canvas is larger than ``preview_min_side`` (512 px) on a side, the worker first renders at half
  size, upscales it and emits ``rendered`` with :data:`PREVIEW_NOTE` as the first note (see
  :func:`is_preview`), then the full render with the same id -- unless a newer request arrived
  meanwhile, in which case the full render is skipped in its favour.
* Priority in the worker: model loads, style encodes, then the newest render, then variations.
  A load requested while a render runs starts once that render ends; renders requested before
  the load are skipped. If a load fails, the previous model (if any) stays in use.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal

from .enums import Quality, StrEnum

PREVIEW_NOTE = "preview: half-size draft, the full render follows"


def is_preview(notes: list | tuple | None) -> bool:
    """True when a ``rendered`` signal carried the quick half-size draft of a large canvas."""
    return bool(notes) and notes[0] == PREVIEW_NOTE


def _same_z(a: Any, b: Any) -> bool:
    if (a is None) != (b is None):
        return False
    return a is None or a is b or (tuple(a.shape) == tuple(b.shape) and bool((a == b).all()))


@dataclass(frozen=True, eq=False)
class RegionSpec:
    """A style for part of the map (region styles, :mod:`spade_studio.model.regional`): the
    target is ``label`` (an id: wherever the rendered map has it) or ``mask`` (``(H, W)`` bool
    or float 0..1, e.g. a layer's mask); the style ``z`` ``[1, z_dim]``, else ``seed``."""

    label: int | None = None
    mask: Any = None  # np.ndarray | None
    z: Any = None
    seed: int | None = None
    name: str = ""

    def same(self, other: RegionSpec) -> bool:
        if self.label != other.label or self.seed != other.seed or not _same_z(self.z, other.z):
            return False
        if (self.mask is None) != (other.mask is None):
            return False
        return self.mask is None or self.mask is other.mask or (
            self.mask.shape == other.mask.shape and bool((self.mask == other.mask).all()))


@dataclass(frozen=True)
class StyleSpec:
    """What style to render with: an explicit vector ``z`` ``[1, z_dim]``, else ``seed``
    (``z`` drawn from it), else seed 0, plus ``regions`` (:class:`RegionSpec`, later ones over
    earlier ones). ``name`` is only for display ("day", "seed 12")."""

    z: Any = None  # torch.Tensor | None (not imported here: the GUI thread stays torch-free)
    seed: int | None = None
    name: str = field(default="", compare=False)
    regions: tuple = ()  # tuple[RegionSpec, ...]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StyleSpec):
            return NotImplemented
        if self.seed != other.seed or not _same_z(self.z, other.z):
            return False
        return len(self.regions) == len(other.regions) and all(
            a.same(b) for a, b in zip(self.regions, other.regions))

    def __hash__(self) -> int:
        return hash((self.seed, self.z is None))

    def describe(self) -> str:
        base = self.name or ("style vector" if self.z is not None else f"seed {0 if self.seed is None else self.seed}")
        if self.regions:
            n = len(self.regions)
            base += f" + {n} region style{'s' if n > 1 else ''}"
        return base


@dataclass(frozen=True)
class ModelInfo:
    """Facts about the loaded model, for the panels and the status bar."""

    label_set: Any = field(repr=False)  # LabelSet
    has_encoder: bool
    uses_style: bool
    device: str
    native_size: tuple[int, int]  # (H, W) the model was trained at
    stride: int  # output pixels per latent cell; canvases are padded up to a multiple
    description: str
    official: bool
    source: str  # the file or folder it came from ("" for an in-memory bundle)
    z_dim: int = 256
    one_go_side: int = 0  # the largest square canvas that renders in one go here (0: unknown)


# -- jobs (plain data handed to the worker) ---------------------------------------------------
@dataclass
class _Render:
    id: int
    gen: int
    label: np.ndarray
    style: StyleSpec
    instance: np.ndarray | None
    quality: Quality = Quality.EXACT  # PREVIEW while a stroke is in progress (live stroke updates)
    wrap: bool = False  # a 360° panorama (exact renders wrap horizontally)


@dataclass
class _Variations:
    id: int
    gen: int
    label: np.ndarray
    seeds: list[int]


@dataclass
class _Load:
    gen: int
    source: Any
    device: str


@dataclass
class _Encode:
    gen: int
    token: Any
    rgb: np.ndarray | None = None
    seed: int | None = None


class _Post(StrEnum):
    """What a message from the worker reports (its first field)."""

    BUSY = "busy"  # (BUSY, bool)
    LOADED = "loaded"  # (LOADED, gen, ModelInfo)
    LOAD_FAILED = "load_failed"  # (LOAD_FAILED, gen, message)
    RENDERED = "rendered"  # (RENDERED, gen, id, image, seconds, notes, is_preview)
    RENDER_FAILED = "render_failed"  # (RENDER_FAILED, gen, id, message)
    ENCODED = "encoded"  # (ENCODED, gen, token, z)
    STYLE_FAILED = "style_failed"  # (STYLE_FAILED, gen, token, message)
    VARIATIONS = "variations"  # (VARIATIONS, gen, id, [(seed, rgb), ...])
    VARIATIONS_FAILED = "variations_failed"  # (VARIATIONS_FAILED, gen, id, message)
    PROGRESS = "progress"  # (PROGRESS, gen, id, tiles done, tiles in all)
    CANCELLED = "cancelled"  # (CANCELLED, gen, id): the user stopped a tiled render


class _Bridge(QObject):
    """Lives in the GUI thread; the worker emits ``posted`` and Qt queues it across."""

    posted = Signal(object)


class PreviewService(QObject):
    model_loading = Signal(str)  # description of what is being loaded
    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str)  # readable message (names the path)
    rendered = Signal(int, object, float, object)  # request id, RGB uint8 [H,W,3], seconds, notes list
    render_failed = Signal(int, str)  # request id (render or variations), message
    style_encoded = Signal(object, object)  # token, z tensor [1, z_dim]
    style_failed = Signal(object, str)  # token, message (added: encode errors)
    variations_ready = Signal(int, object)  # request id, list[(seed, RGB array)]
    busy_changed = Signal(bool)  # the worker started / finished a batch of work
    render_progress = Signal(int, int, int)  # request id, tiles done, tiles in all (tiled renders)
    render_cancelled = Signal(int)  # request id: stopped by cancel_render(); the last image stays

    def __init__(self, parent: QObject | None = None, *, debounce_ms: int = 60, threads: int | None = None,
                 precision: str = "fp32",
                 preview_after_s: float = 0.3, preview_min_side: int = 512, variation_side: int = 256) -> None:
        super().__init__(parent)
        self.debounce_ms = debounce_ms
        self.threads = threads  # torch CPU threads for the worker (None: torch's default)
        # fp32: renders take the fast exact path; previews (quality="preview") add native reduced
        # precision and stroke updates. "bf16"/"auto" run the plain network under autocast instead.
        self.precision = precision
        self.preview_after_s = preview_after_s
        self.preview_min_side = preview_min_side
        self.variation_side = variation_side  # variations render with the map scaled to fit this
        self.stale_dropped = 0  # results dropped because something newer was shown
        self.trimmed = 0  # times the idle worker handed free heap pages back (Linux)
        self.trim_after_s = 2.0  # ... after being idle this long (a trim costs the next render page faults)
        # exact renders of canvases too large for one go render in tiles (progress, cancel);
        # wrap: a 360° panorama (exact renders only: live stroke previews do not wrap)
        self.wrap = False
        self.tile: int | str = "auto"  # or a tile size in px, used when the canvas is larger (tests)
        self._cancel_id = 0  # the request id cancel_render() stopped (read by the worker)
        self._rendering_id = 0  # the request the worker is rendering (written by the worker)
        self.model_info: ModelInfo | None = None

        # shared with the worker, guarded by _cond (held only for queue bookkeeping, never
        # while rendering)
        self._cond = threading.Condition()
        self._jobs: deque[_Load | _Encode] = deque()
        self._render: _Render | None = None
        self._variations: _Variations | None = None
        self._stop = False

        # GUI thread only
        self._next_id = 0
        self._gen = 0  # bumped by every load_model(); results of older generations are dropped
        self._delivered_id = 0
        self._delivered_preview = False
        self._busy = False
        self._closed = False
        self._waiting: _Render | None = None  # snapshot held back by the debounce timer
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._flush_debounced)
        self._bridge = _Bridge()
        self._bridge.posted.connect(self._on_posted, Qt.ConnectionType.QueuedConnection)

        # worker thread only
        self._synth = None
        self._worker_gen = 0
        self._last_full_s = 0.0

        self._thread = threading.Thread(target=self._run, name="spade-preview-worker", daemon=True)
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # == GUI-thread API ======================================================================
    def load_model(self, source: str | Path | None, device: str = "auto") -> None:
        """Load a model file / official folder (``None``: the bundled default), asynchronously."""
        if self._closed:
            return
        self._gen += 1
        desc = "the bundled default model" if source is None else (
            getattr(source, "name", None) if not isinstance(source, (str, Path)) else Path(source).name)
        self.model_loading.emit(str(desc or "model"))
        with self._cond:
            # an older load that has not started is pointless now
            self._jobs = deque(j for j in self._jobs if not isinstance(j, _Load))
            self._jobs.append(_Load(self._gen, source, device))
            self._cond.notify()

    def request(self, label_map: np.ndarray, style: StyleSpec, instance: np.ndarray | None = None,
                debounce_ms: int | None = None, quality: Quality | str = Quality.EXACT) -> int:
        """Ask for a render of ``label_map``; returns its id. The newest request wins.

        ``quality="preview"`` (while a stroke is in progress): faster, within the preview
        bounds; the caller asks for an exact render when the stroke ends."""
        self._next_id += 1
        job = _Render(self._next_id, self._gen, np.array(label_map, copy=True), style or StyleSpec(),
                      None if instance is None else np.array(instance, copy=True), Quality(quality),
                      bool(self.wrap))
        if self._closed:
            return job.id
        delay = self.debounce_ms if debounce_ms is None else debounce_ms
        if delay <= 0:
            self._debounce.stop()
            self._waiting = None
            self._submit_render(job)
        else:
            self._waiting = job
            if not self._debounce.isActive():
                self._debounce.start(int(delay))
        return job.id

    def encode_style(self, rgb: np.ndarray, token: Any) -> None:
        """Encode a style image in the worker; answers with ``style_encoded(token, z)``."""
        self._submit(_Encode(self._gen, token, rgb=np.ascontiguousarray(rgb[..., :3]).copy()))

    def seed_to_z(self, seed: int, token: Any) -> None:
        """(Added) The style vector a seed stands for; answers with ``style_encoded(token, z)``.
        Lets the style panel blend between seeds without drawing random numbers itself."""
        self._submit(_Encode(self._gen, token, seed=int(seed)))

    def request_variations(self, label_map: np.ndarray, seeds: list[int]) -> int:
        """Render ``label_map`` once per seed (scaled to fit ``variation_side``); answers with
        ``variations_ready(id, [(seed, rgb), ...])``. A newer call replaces a pending one."""
        self._next_id += 1
        job = _Variations(self._next_id, self._gen, np.array(label_map, copy=True), [int(s) for s in seeds])
        if not self._closed:
            with self._cond:
                self._variations = job
                self._cond.notify()
        return job.id

    def is_busy(self) -> bool:
        return self._busy

    def cancel_render(self) -> None:
        """Stop the tiled render in progress (before its next tile); ``render_cancelled``
        follows and the image shown stays as it was."""
        self._cancel_id = self._rendering_id

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop the worker (after its current step) and wait for it; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._debounce.stop()
        self._waiting = None
        with self._cond:
            self._stop = True
            self._jobs.clear()
            self._render = None
            self._variations = None
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def is_running(self) -> bool:
        return self._thread.is_alive()

    # -- internals (GUI thread) ---------------------------------------------------------------
    def _submit(self, job: _Load | _Encode) -> None:
        if self._closed:
            return
        with self._cond:
            self._jobs.append(job)
            self._cond.notify()

    def _submit_render(self, job: _Render) -> None:
        with self._cond:
            self._render = job  # replaces (skips) any pending older render
            self._cond.notify()

    def _flush_debounced(self) -> None:
        job, self._waiting = self._waiting, None
        if job is not None and not self._closed:
            self._submit_render(job)

    def _on_posted(self, msg: tuple) -> None:
        if self._closed:
            return
        kind = msg[0]
        if kind == _Post.BUSY:
            if msg[1] != self._busy:
                self._busy = msg[1]
                self.busy_changed.emit(self._busy)
            return
        gen = msg[1]
        if kind == _Post.LOADED:
            if gen == self._gen:
                self.model_info = msg[2]
                self.model_loaded.emit(msg[2])
            return
        if kind == _Post.LOAD_FAILED:
            if gen == self._gen:
                self.model_failed.emit(msg[2])
            return
        if gen != self._gen:  # made with (or for) a model that has been replaced since
            self.stale_dropped += 1
            return
        if kind == _Post.RENDERED:
            _, _, rid, image, seconds, notes, preview = msg
            if rid < self._delivered_id or (rid == self._delivered_id and (preview or not self._delivered_preview)):
                self.stale_dropped += 1
                return
            self._delivered_id, self._delivered_preview = rid, preview
            self.rendered.emit(rid, image, seconds, notes)
        elif kind == _Post.RENDER_FAILED:
            _, _, rid, message = msg
            if rid < self._delivered_id:
                self.stale_dropped += 1
                return
            self.render_failed.emit(rid, message)
        elif kind == _Post.ENCODED:
            self.style_encoded.emit(msg[2], msg[3])
        elif kind == _Post.STYLE_FAILED:
            self.style_failed.emit(msg[2], msg[3])
        elif kind == _Post.VARIATIONS:
            self.variations_ready.emit(msg[2], msg[3])
        elif kind == _Post.VARIATIONS_FAILED:
            self.render_failed.emit(msg[2], msg[3])
        elif kind == _Post.PROGRESS:
            if msg[2] >= self._delivered_id:
                self.render_progress.emit(msg[2], msg[3], msg[4])
        elif kind == _Post.CANCELLED:
            self.render_cancelled.emit(msg[2])

    # == worker thread ========================================================================
    def _post(self, *msg: Any) -> None:
        try:
            self._bridge.posted.emit(msg)
        except RuntimeError:  # the Qt side is gone (application quitting)
            pass

    def _next_job(self, busy: bool):
        with self._cond:
            trim = False
            while not (self._stop or self._jobs or self._render or self._variations):
                if busy:
                    self._post(_Post.BUSY, False)
                    busy, trim = False, self._synth is not None
                    continue
                if trim:  # idle for trim_after_s (not between the dabs of a stroke): give the
                    trim = False  # heap's free pages back, outside the lock
                    self._cond.wait(self.trim_after_s)
                    if self._stop or self._jobs or self._render or self._variations:
                        break
                    self._cond.release()
                    try:
                        from spade_studio.model.allocator import release_free_memory

                        self.trimmed += int(release_free_memory())
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait()
            if self._stop:
                return None, busy
            if self._jobs:
                job = self._jobs.popleft()
            elif self._render is not None:
                job, self._render = self._render, None
            else:
                job, self._variations = self._variations, None
        if not busy:
            self._post(_Post.BUSY, True)
        return job, True

    def _newer_render_pending(self) -> bool:
        with self._cond:
            return self._stop or self._render is not None

    def _run(self) -> None:
        busy = False
        while True:
            job, busy = self._next_job(busy)
            if job is None:
                return
            try:
                if isinstance(job, _Load):
                    self._do_load(job)
                elif isinstance(job, _Encode):
                    self._do_encode(job)
                elif isinstance(job, _Render):
                    self._do_render(job)
                else:
                    self._do_variations(job)
            except Exception:  # noqa: BLE001 - a bug here must not kill the worker
                traceback.print_exc()

    def _no_model(self) -> str:
        return "no model is loaded (open a model file with Model > Open Model File…)"

    def _do_load(self, job: _Load) -> None:
        self._worker_gen = job.gen
        source = job.source
        try:
            if source is None:
                from spade_studio.paths import default_model_path, models_dir

                source = default_model_path()
                if source is None:
                    try:
                        where = str(models_dir() / "landscape.safetensors")
                    except FileNotFoundError:
                        where = "resources/models/landscape.safetensors"
                    self._post(_Post.LOAD_FAILED, job.gen,
                               f"The bundled default model is missing ({where}). Open a model file instead.")
                    return
            elif isinstance(source, (str, Path)) and not Path(source).exists():
                self._post(_Post.LOAD_FAILED, job.gen, f"Could not load the model {source}: no such file or folder.")
                return
            from spade_studio.model.synthesize import Synthesizer  # torch loads here, in the worker

            synth = Synthesizer(source, device=job.device or "auto", threads=self.threads,
                                precision=self.precision)
        except Exception as e:  # noqa: BLE001 - every failure becomes a message
            kept = " The previous model stays loaded." if self._synth is not None else ""
            self._post(_Post.LOAD_FAILED, job.gen, f"Could not load the model {source}: {e}.{kept}")
            return
        self._synth = synth
        self._last_full_s = 0.0
        cfg = synth.config
        info = ModelInfo(
            label_set=synth.label_set, has_encoder=synth.has_encoder, uses_style=synth.uses_style,
            device=synth.device.type, native_size=tuple(synth.native_size), stride=synth.stride,
            description=synth.describe(), official=bool(getattr(synth.bundle, "official", False)),
            source=str(source) if isinstance(source, (str, Path)) else getattr(synth, "source", ""),
            z_dim=int(getattr(cfg, "z_dim", 256)),
            one_go_side=int(synth.largest_one_go(4096, 4096)[0]),
        )
        self._post(_Post.LOADED, job.gen, info)

    def _do_encode(self, job: _Encode) -> None:
        synth = self._synth
        try:
            if synth is None:
                raise RuntimeError(self._no_model())
            z = synth.random_z(job.seed) if job.seed is not None else synth.encode_style(job.rgb)
        except Exception as e:  # noqa: BLE001
            self._post(_Post.STYLE_FAILED, job.gen, job.token, str(e))
            return
        self._post(_Post.ENCODED, job.gen, job.token, z)

    def _render_args(self, style: StyleSpec) -> dict:
        if not self._synth.uses_style:
            return {}
        if style.z is not None:
            return {"z": style.z}
        return {"seed": 0 if style.seed is None else int(style.seed)}

    def _region_args(self, style: StyleSpec, label: np.ndarray) -> dict:
        """``region_styles`` for rendering ``label`` (the job's map or a smaller copy of it):
        label targets become masks of this map (absent labels are left out), explicit masks
        are resized (nearest) to it."""
        if not style.regions or not self._synth.uses_style:
            return {}
        out = []
        for r in style.regions:
            if r.label is not None:
                mask = label == int(r.label)
            elif r.mask is not None:
                mask = _mask_to(np.asarray(r.mask), label.shape[:2])
            else:
                continue
            if not mask.any():
                continue
            z = r.z if r.z is not None else self._synth.random_z(0 if r.seed is None else int(r.seed))
            out.append((mask, z))
        return {"region_styles": out} if out else {}

    def _do_render(self, job: _Render) -> None:
        if job.gen < self._worker_gen:
            return  # asked for before a model change: its ids/labels may not fit the new model
        synth = self._synth
        if synth is None:
            self._post(_Post.RENDER_FAILED, job.gen, job.id, self._no_model())
            return
        from spade_studio.model.tiling import RenderCancelled

        self._rendering_id = job.id
        try:
            args = self._render_args(job.style)
            h, w = job.label.shape[:2]
            # region styles add a stream each up to the blend level (an upper bound: a region
            # whose label is absent from the map is dropped at render time)
            styles = 1 + (len(job.style.regions) if job.style.regions and synth.uses_style else 0)
            fits = synth.one_go_bytes(h, w, styles) <= synth.memory_available()
            if job.quality == Quality.PREVIEW and not fits:
                # a live preview of a canvas too large for one go: the largest size that fits,
                # scaled up (the exact render after the stroke renders it in tiles)
                fh, fw = synth.largest_one_go(h, w, styles)
                fitted = _fit_nearest(job.label, max(fh, fw))
                res = synth.render(fitted, quality="preview", **args, **self._region_args(job.style, fitted))
                self._post(_Post.RENDERED, job.gen, job.id, _resize_rgb(res.image, w, h), res.seconds,
                           [PREVIEW_NOTE, *res.notes], True)
                return
            if (job.quality == Quality.EXACT and self._last_full_s > self.preview_after_s
                    and max(h, w) > self.preview_min_side):
                small = job.label[::2, ::2]
                inst = None if job.instance is None else job.instance[::2, ::2]
                res = synth.render(small, inst, tile="auto", **args, **self._region_args(job.style, small))
                up = _resize_rgb(res.image, w, h)
                self._post(_Post.RENDERED, job.gen, job.id, up, res.seconds, [PREVIEW_NOTE, *res.notes], True)
                if self._newer_render_pending():
                    return  # the full render would be out of date at once
            if job.quality == Quality.EXACT:
                # exact renders: one go when it fits, else tiles (newest wins: a newer request
                # stops it before its next tile, so does cancel_render())
                def progress(done: int, total: int) -> None:
                    if total > 1:
                        self._post(_Post.PROGRESS, job.gen, job.id, done, total)

                def cancel() -> bool:
                    return self._cancel_id == job.id or self._newer_render_pending()

                tile = self.tile if isinstance(self.tile, int) and max(h, w) > self.tile else "auto"
                args.update(tile=tile, wrap=job.wrap and w % synth.stride == 0, progress=progress, cancel=cancel)
            res = synth.render(job.label, job.instance, quality=job.quality.value, **args,
                               **self._region_args(job.style, job.label))
            if job.quality == Quality.EXACT:
                self._last_full_s = res.seconds
                if job.wrap and w % synth.stride:
                    res.notes.append(f"not wrapped: a panorama's width must be a multiple of {synth.stride} px")
        except RenderCancelled:
            if self._cancel_id == job.id:
                self._post(_Post.CANCELLED, job.gen, job.id)
            return
        except Exception as e:  # noqa: BLE001
            self._post(_Post.RENDER_FAILED, job.gen, job.id, str(e))
            return
        self._post(_Post.RENDERED, job.gen, job.id, res.image, res.seconds, list(res.notes), False)

    def _do_variations(self, job: _Variations) -> None:
        synth = self._synth
        if synth is None:
            self._post(_Post.VARIATIONS_FAILED, job.gen, job.id, "Variations: " + self._no_model())
            return
        label = _fit_nearest(job.label, self.variation_side)
        out = []
        try:
            for seed in job.seeds:
                with self._cond:
                    if self._stop or self._variations is not None:
                        return  # superseded by a newer variations request
                out.append((seed, synth.render(label, seed=seed).image))
        except Exception as e:  # noqa: BLE001
            self._post(_Post.VARIATIONS_FAILED, job.gen, job.id, f"Variations: {e}")
            return
        self._post(_Post.VARIATIONS, job.gen, job.id, out)


def _resize_rgb(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BILINEAR))


def _mask_to(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A region mask resized (nearest) to ``shape`` (the smaller map of a draft render)."""
    h, w = mask.shape[:2]
    nh, nw = shape
    if (h, w) == (nh, nw):
        return mask
    ys = (np.arange(nh) * h // nh).clip(0, h - 1)
    xs = (np.arange(nw) * w // nw).clip(0, w - 1)
    return mask[ys][:, xs]


def _fit_nearest(label: np.ndarray, side: int) -> np.ndarray:
    """Nearest-neighbour downscale so the longer side is at most ``side``."""
    h, w = label.shape[:2]
    if max(h, w) <= side:
        return label
    s = side / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    ys = (np.arange(nh) * h // nh).clip(0, h - 1)
    xs = (np.arange(nw) * w // nw).clip(0, w - 1)
    return label[ys][:, xs]


__all__ = ["PREVIEW_NOTE", "ModelInfo", "PreviewService", "RegionSpec", "StyleSpec", "is_preview"]
