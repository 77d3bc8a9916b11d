"""The Train tab: set up a run on a dataset folder, follow it live, manage earlier runs.

Left: the set-up (dataset folder with its check report and a few label | image thumbnails, the
starting point, settings with a time estimate, the run folder, Start). Right: the current run
(progress, loss curves, latest samples, log, errors) above the list of runs.

Nothing heavy runs on the GUI thread: the dataset check and the starting model's inspection run
in worker threads (results come back through a queued signal; the newest request wins), and
training is a child process followed through its files (see ``trainer_process``).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices, QFont, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .loss_plot import LossPlot
from .qimage import rgb_to_qimage
from .trainer_process import (
    RunInfo,
    TrainerProcess,
    last_metrics_step,
    list_runs,
    read_run_config,
    read_run_info,
    running_pid,
    tail_text,
    train_args_from_config,
)

SIZES = (64, 128, 256, 512)
DEVICES = ("auto", "cpu", "cuda", "mps")
STATUS_TEXT = {
    "running": "running", "finished": "finished", "done": "finished", "paused": "paused",
    "stopped": "stopped", "error": "failed", "crashed": "crashed", "unfinished": "unfinished", "new": "new",
}
STATUS_COLORS = {
    "running": "#4fc3f7", "finished": "#81c784", "done": "#81c784", "paused": "#ffd54f", "stopped": "#ffb74d",
    "error": "#e57373", "crashed": "#e57373", "unfinished": "#b0bec5", "new": "#b0bec5",
}


# ---------------------------------------------------------------------------------------------
# defaults and estimates (no Qt)
# ---------------------------------------------------------------------------------------------
def _round_to(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def suggest_settings(pairs: int, cuda: bool = False, cpus: int | None = None) -> dict[str, Any]:
    """Settings suited to the dataset size and the machine: small networks at 128 px on a CPU
    (one core left for the editor), the official widths at 256 px with CUDA; about 100 epochs
    for small sets, fewer for large ones."""
    cpus = cpus or os.cpu_count() or 2
    pairs = max(1, int(pairs))
    batch = max(1, min(8 if cuda else 4, pairs))
    epochs = 100 if pairs < 200 else 50 if pairs < 2000 else 20
    iters = min(50000, max(500, _round_to(epochs * pairs / batch, 100)))
    return {
        "size": 256 if cuda else 128,
        "batch": batch,
        "iters": iters,
        "use_vae": False,
        "lr": 0.0002,
        "device": "auto",
        "ngf": 64 if cuda else 16,
        "spade_hidden": 128 if cuda else 32,
        "ndf": 64 if cuda else 32,
        "n_layers_D": 4,
        "threads": 0 if cuda else max(1, cpus - 1),
        "sample_every": min(1000, max(10, _round_to(iters / 40, 10))),
        "save_every": min(5000, max(50, _round_to(iters / 10, 50))),
        "log_every": max(1, min(25, iters // 400)),
        "low_priority": True,
    }


def estimate_it_s(s: dict[str, Any], cuda: bool = False, cpus: int | None = None) -> float:
    """Rough iterations per second: calibrated to about 2.5 it/s at 128 px, ngf 16, batch 4 on a
    2-core CPU, scaled by pixels, batch and (roughly quadratically) network width."""
    cpus = cpus or os.cpu_count() or 2
    work = (s["size"] / 128) ** 2 * (s["batch"] / 4) * (
        0.55 * (s["ngf"] / 16) ** 2 + 0.25 * (s["spade_hidden"] / 32) * (s["ngf"] / 16) + 0.2 * (s["ndf"] / 32) ** 2)
    if s.get("use_vae"):
        work *= 1.15
    device = s.get("device", "auto")
    if device == "cuda" or (device == "auto" and cuda):
        base = 40.0
    elif device == "mps":
        base = 10.0
    else:
        threads = s.get("threads") or cpus
        base = 2.5 * min(threads, cpus) / 2
    return base / max(work, 1e-6)


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "unknown"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} min"
    h, m = divmod(round(minutes), 60)
    if h >= 48:
        return f"{h / 24:.1f} days"
    return f"{h} h {m:02d} min"


def advice_for(status: str, message: str, log: list[str], exit_code: int | None = None) -> tuple[str, str]:
    """(title, what to do) for a run that failed or crashed."""
    text = (message + "\n" + "\n".join(log[-40:])).lower()
    if any(k in text for k in ("out of memory", "can't allocate memory", "cannot allocate memory",
                               "outofmemoryerror", "memoryerror")):
        return ("Out of memory",
                "The trainer ran out of memory. Lower the batch size, the image size or the network "
                "width (ngf), then start again; a paused or crashed run resumes from its last checkpoint.")
    if status == "crashed" and exit_code == -9:
        return ("The trainer was killed",
                "The process was killed (by you, or by the system when memory ran out). The run folder keeps "
                "its last checkpoint: Resume continues from it. If it happens again, lower the batch or image size.")
    if "nan/inf" in text:
        return ("Training diverged", "The losses became NaN. Lower the learning rate and start again.")
    if "already holds a run" in text:
        return ("The run folder is taken", "Choose another run folder, or resume that run from the Runs list.")
    if "fewer than one batch" in text:
        return ("Not enough pairs", "The dataset has fewer usable pairs than one batch: lower the batch size.")
    if any(k in text for k in ("data folder", "pairs found", "label set", "check-data", "label id")):
        return ("The data cannot be used", "Fix the files named above (Check again shows the report), then start.")
    if "init-from" in text or "checkpoint does not fit" in text:
        return ("The starting model cannot be used", "Pick another starting point (or From scratch).")
    if status == "crashed":
        return ("The trainer crashed",
                "The run folder keeps its last checkpoint: Resume continues from it. The log shows the "
                "trainer's last messages.")
    return ("Training failed", "See the log for details.")


# ---------------------------------------------------------------------------------------------
# worker threads
# ---------------------------------------------------------------------------------------------
class _Relay(QObject):
    done = Signal(str, int, object)  # job kind, token, result (an Exception on failure)


def _run_in_thread(relay: _Relay, kind: str, token: int, fn: Callable[[], Any]) -> None:
    def target() -> None:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - reported in the tab
            result = exc
        try:
            relay.done.emit(kind, token, result)
        except RuntimeError:  # the tab is gone
            pass

    threading.Thread(target=target, name=f"trainer-tab-{kind}", daemon=True).start()


@dataclass
class DataCheck:
    root: Path
    report: Any  # trainer.datasets.DataReport
    label_set: Any  # LabelSet | None
    thumbs: list[tuple[str, Any, Any]]  # (stem, label RGB, image RGB)
    cuda: bool
    mps: bool


def check_folder(root: str | Path, thumbs: int = 4, height: int = 64) -> DataCheck:
    """Run ``check_data`` and make a few label | image thumbnails (worker thread)."""
    import numpy as np
    from PIL import Image

    from spade_studio.imageio import read_label_map
    from trainer.datasets import check_data, find_samples, resolve_label_set

    root = Path(root)
    report = check_data(root)
    try:
        ls = resolve_label_set(root)
    except Exception:  # noqa: BLE001 - already in the report
        ls = None
    out: list[tuple[str, Any, Any]] = []
    if not report.fatal:
        bad = set(report.bad_files)
        for s in [s for s in find_samples(root) if s.stem not in bad][:thumbs]:
            try:
                ids = read_label_map(s.label, ls).ids
                lab = ls.colorize(ids) if ls is not None else np.repeat(
                    ((ids.astype(np.int64) * 37) % 256).astype(np.uint8)[..., None], 3, -1)
                with Image.open(s.image) as im:
                    img = im.convert("RGB")
                w = max(1, round(height * img.width / img.height))
                img = np.asarray(img.resize((w, height), Image.Resampling.BILINEAR))
                lab = np.asarray(Image.fromarray(lab).resize((w, height), Image.Resampling.NEAREST))
                out.append((s.stem, lab, img))
            except Exception:  # noqa: BLE001 - a thumbnail is optional
                continue
    cuda = mps = False
    try:
        import torch

        cuda = torch.cuda.is_available()
        mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    except Exception:  # noqa: BLE001
        pass
    return DataCheck(root, report, ls, out, cuda, mps)


def inspect_model(path: str | Path) -> dict[str, Any]:
    """Label set and network widths of a starting model (worker thread)."""
    import json

    p = Path(path)
    if p.is_file() and p.suffix == ".safetensors":
        from spade_studio.labels import LabelSet
        from spade_studio.model.checkpoint import read_model_metadata
        from spade_studio.model.config import GeneratorConfig

        meta = read_model_metadata(p)
        g = GeneratorConfig.from_dict(json.loads(meta["generator"]))
        ls = LabelSet.from_dict(json.loads(meta["label_set"]))
    else:
        from spade_studio.model.checkpoint import load_any

        b = load_any(p)
        g, ls = b.generator, b.label_set
    return {"label_set": ls, "ngf": g.ngf, "spade_hidden": g.spade.hidden, "use_vae": g.use_vae}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------------------------
class _ScaledImage(QLabel):
    """A QLabel that shows a pixmap scaled to fit, aspect kept (nearest for small images)."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pix: QPixmap | None = None
        self._placeholder = placeholder
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setText(placeholder)
        self.setWordWrap(True)

    def set_pixmap(self, pix: QPixmap | None) -> None:
        self._pix = pix if pix is not None and not pix.isNull() else None
        # an image sits on its caption below; the placeholder text is centred
        self.setAlignment(Qt.AlignmentFlag.AlignCenter if self._pix is None
                          else Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        if self._pix is None:
            self.setPixmap(QPixmap())
            self.setText(self._placeholder)
        self._rescale()

    def has_image(self) -> bool:
        return self._pix is not None

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pix is None:
            return
        dpr = self.devicePixelRatioF()
        size = self.contentsRect().size() * dpr
        if size.width() < 2 or size.height() < 2:
            return
        mode = Qt.TransformationMode.SmoothTransformation
        if self._pix.width() * 2 <= size.width() and self._pix.height() * 2 <= size.height():
            mode = Qt.TransformationMode.FastTransformation
        scaled = self._pix.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, mode)
        scaled.setDevicePixelRatio(dpr)
        self.setPixmap(scaled)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 240)


class TrainerTab(QWidget):
    """The Train tab. ``main_window`` may be None; it needs only ``load_model(path)``."""

    model_chosen = Signal(str)  # "Use in editor" (also calls main_window.load_model)
    run_finished = Signal(str, str)  # run folder, status

    def __init__(self, main_window: Any = None, parent: QWidget | None = None, *,
                 runs_dir: str | Path | None = None) -> None:
        super().__init__(parent)
        self.main_window = main_window
        if runs_dir is None:
            from spade_studio.paths import user_data_dir

            runs_dir = user_data_dir() / "runs"
        self.runs_dir = Path(runs_dir).expanduser().resolve()
        self.process = TrainerProcess(self)
        self.probe: TrainerProcess | None = None
        self._probe_dir: Path | None = None
        self._probe_steps: list[dict] = []
        self._measured: tuple[dict, float] | None = None  # (settings measured, it/s)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_job_done, Qt.ConnectionType.QueuedConnection)
        self._tokens: dict[str, int] = {"check": 0, "model": 0, "runs": 0}
        self._run_infos: dict[str, RunInfo] = {}
        self._first_scan = True
        self._check: DataCheck | None = None
        self._checking = False
        self._cuda = False
        self._mps = False
        self._model_info: dict[str, Any] | None = None
        self._start_path: Path | None = None
        self._run_dir: Path | None = None  # the run shown in the monitor
        self._run_edited = False
        self._run_args: list[str] = []
        self._last_status = ""
        self._ask_close_hook: Callable[[], str] | None = None  # tests: returns stop / background / cancel
        self.setAcceptDrops(True)
        self._build()
        self._connect()
        self.set_settings(suggest_settings(100))
        self._update_buttons()
        self.refresh_runs()  # in a worker; a run still training from an earlier session is followed

    # =============================================================================================
    # layout
    # =============================================================================================
    def _build(self) -> None:
        # ---- set-up (left) ----
        setup = QWidget()
        sl = QVBoxLayout(setup)
        sl.setContentsMargins(8, 8, 8, 8)
        sl.setSpacing(10)

        data_box = QGroupBox("1  Dataset")
        dl = QVBoxLayout(data_box)
        row = QHBoxLayout()
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("Choose or drop a folder with images/ and labels/")
        self.data_edit.setReadOnly(True)
        self.data_button = QPushButton("Choose…")
        self.recheck_button = QToolButton()
        self.recheck_button.setText("⟳")
        self.recheck_button.setToolTip("Check the folder again")
        row.addWidget(self.data_edit, 1)
        row.addWidget(self.data_button)
        row.addWidget(self.recheck_button)
        dl.addLayout(row)
        self.data_summary = QLabel("Paired folders (images/ + labels/), COCO-Stuff, ADE20K and Cityscapes "
                                   "layouts are understood. The folder is checked before training.")
        self.data_summary.setWordWrap(True)
        self.data_summary.setTextFormat(Qt.TextFormat.RichText)
        dl.addWidget(self.data_summary)
        self.ids_label = QLabel()
        self.ids_label.setWordWrap(True)
        self.ids_label.setTextFormat(Qt.TextFormat.RichText)
        self.ids_label.hide()
        dl.addWidget(self.ids_label)
        self.problems = QTreeWidget()
        self.problems.setHeaderLabels(["Problem", "File"])
        self.problems.setRootIsDecorated(True)
        self.problems.setMaximumHeight(150)
        self.problems.setWordWrap(True)
        self.problems.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.problems.hide()
        dl.addWidget(self.problems)
        self.thumbs_box = QWidget()
        self.thumbs_grid = QGridLayout(self.thumbs_box)
        self.thumbs_grid.setContentsMargins(0, 0, 0, 0)
        self.thumbs_grid.setSpacing(6)
        self.thumbs_box.hide()
        dl.addWidget(self.thumbs_box)
        sl.addWidget(data_box)

        start_box = QGroupBox("2  Starting point")
        stl = QVBoxLayout(start_box)
        self.start_combo = QComboBox()
        self.start_combo.addItem("From scratch", "scratch")
        self.start_combo.addItem("The bundled landscape model", "bundled")
        self.start_combo.addItem("A model file…", "file")
        self.start_combo.addItem("An official checkpoint folder…", "official")
        from spade_studio.paths import default_model_path

        try:
            self._bundled = default_model_path()
        except FileNotFoundError:
            self._bundled = None
        if self._bundled is None:
            item = self.start_combo.model().item(1)
            item.setEnabled(False)
            item.setToolTip("This build has no bundled model")
        stl.addWidget(self.start_combo)
        self.start_note = QLabel("Fresh random weights: needs the most iterations.")
        self.start_note.setWordWrap(True)
        self.start_note.setTextFormat(Qt.TextFormat.RichText)
        stl.addWidget(self.start_note)
        sl.addWidget(start_box)

        set_box = QGroupBox("3  Settings")
        form = QFormLayout(set_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.size_box = QComboBox()
        for s in SIZES:
            self.size_box.addItem(f"{s} px", s)
        self.size_box.setToolTip("Training crop width; the model renders best near this size")
        self.batch_box = QSpinBox()
        self.batch_box.setRange(1, 256)
        self.iters_box = QSpinBox()
        self.iters_box.setRange(1, 10_000_000)
        self.iters_box.setSingleStep(500)
        self.iters_box.setGroupSeparatorShown(True)
        self.vae_box = QCheckBox("Train a style encoder")
        self.vae_box.setToolTip("Lets the model take the style of an example photo (about 15% slower)")
        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(5)
        self.lr_box.setRange(0.00001, 0.01)
        self.lr_box.setSingleStep(0.00005)
        self.device_box = QComboBox()
        self.device_box.addItems(list(DEVICES))
        form.addRow("Image size", self.size_box)
        form.addRow("Batch", self.batch_box)
        form.addRow("Iterations", self.iters_box)
        form.addRow("", self.vae_box)
        form.addRow("Learning rate", self.lr_box)
        form.addRow("Device", self.device_box)

        self.adv_toggle = QToolButton()
        self.adv_toggle.setText("Advanced")
        self.adv_toggle.setCheckable(True)
        self.adv_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.adv_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.adv_toggle.setAutoRaise(True)
        form.addRow(self.adv_toggle)
        self.adv = QWidget()
        af = QFormLayout(self.adv)
        af.setContentsMargins(12, 0, 0, 0)
        self.ngf_box = QSpinBox()
        self.ngf_box.setRange(1, 256)
        self.ngf_box.setToolTip("Generator width (official models: 64)")
        self.hidden_box = QSpinBox()
        self.hidden_box.setRange(4, 512)
        self.hidden_box.setToolTip("SPADE hidden width (official models: 128)")
        self.ndf_box = QSpinBox()
        self.ndf_box.setRange(4, 256)
        self.ndf_box.setToolTip("Discriminator width (official: 64)")
        self.dlayers_box = QSpinBox()
        self.dlayers_box.setRange(2, 6)
        self.dlayers_box.setToolTip("Discriminator depth (official: 4)")
        self.threads_box = QSpinBox()
        self.threads_box.setRange(0, 256)
        self.threads_box.setSpecialValueText("all")
        self.threads_box.setToolTip("CPU threads for training (leaving one core free keeps the editor quick)")
        self.sample_box = QSpinBox()
        self.sample_box.setRange(0, 1_000_000)
        self.sample_box.setToolTip("Write a sample grid every N iterations")
        self.save_box = QSpinBox()
        self.save_box.setRange(0, 1_000_000)
        self.save_box.setToolTip("Write a checkpoint (and the model file) every N iterations")
        self.log_box = QSpinBox()
        self.log_box.setRange(1, 100_000)
        self.low_prio_box = QCheckBox("Lower priority than the editor")
        af.addRow("ngf", self.ngf_box)
        af.addRow("SPADE hidden", self.hidden_box)
        af.addRow("ndf", self.ndf_box)
        af.addRow("D layers", self.dlayers_box)
        af.addRow("CPU threads", self.threads_box)
        af.addRow("Samples every", self.sample_box)
        af.addRow("Checkpoint every", self.save_box)
        af.addRow("Log every", self.log_box)
        af.addRow("", self.low_prio_box)
        self.adv.hide()
        form.addRow(self.adv)

        est_row = QHBoxLayout()
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Run 4 iterations in the background to time this machine")
        est_row.addWidget(self.estimate_label, 1)
        est_row.addWidget(self.measure_button, 0, Qt.AlignmentFlag.AlignTop)
        form.addRow(est_row)
        sl.addWidget(set_box)

        run_box = QGroupBox("4  Run folder")
        rl = QVBoxLayout(run_box)
        row = QHBoxLayout()
        self.run_edit = QLineEdit()
        self.run_edit.setPlaceholderText(str(self.runs_dir / "<dataset>-<date>"))
        self.run_button = QPushButton("…")
        self.run_button.setFixedWidth(32)
        row.addWidget(self.run_edit, 1)
        row.addWidget(self.run_button)
        rl.addLayout(row)
        self.start_button = QPushButton("Start training")
        self.start_button.setMinimumHeight(34)
        f = QFont(self.start_button.font())
        f.setBold(True)
        self.start_button.setFont(f)
        self.start_hint = QLabel()
        self.start_hint.setWordWrap(True)
        self.start_hint.setStyleSheet("color: #9aa5b1;")
        rl.addWidget(self.start_button)
        rl.addWidget(self.start_hint)
        sl.addWidget(run_box)
        sl.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(setup)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(410)  # the settings form with "Advanced" open, plus a scroll bar
        scroll.setMaximumWidth(480)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        # ---- monitor (right, top) ----
        monitor = QWidget()
        ml = QVBoxLayout(monitor)
        ml.setContentsMargins(8, 8, 8, 4)
        head = QHBoxLayout()
        self.run_title = QLabel("No run yet")
        tf = QFont(self.run_title.font())
        tf.setPointSizeF(tf.pointSizeF() * 1.2)
        tf.setBold(True)
        self.run_title.setFont(tf)
        self.status_chip = QLabel()
        self.status_chip.hide()
        head.addWidget(self.run_title)
        head.addWidget(self.status_chip)
        head.addStretch(1)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Save a checkpoint and end the process; Resume continues the run")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Save a checkpoint and end the run")
        self.use_button = QPushButton("Use in editor")
        self.use_button.setToolTip("Load this run's model (model.safetensors) into the editor")
        self.folder_button = QToolButton()
        self.folder_button.setText("Open folder")
        for b in (self.pause_button, self.resume_button, self.stop_button, self.use_button, self.folder_button):
            head.addWidget(b)
        ml.addLayout(head)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")  # "%v / %m steps" once a run is shown
        self.progress.setTextVisible(True)
        ml.addWidget(self.progress)
        self.stats_label = QLabel("Start a run on the left, or pick one from the list below.")
        self.stats_label.setStyleSheet("color: #9aa5b1;")
        ml.addWidget(self.stats_label)

        self.error_frame = QFrame()
        self.error_frame.setObjectName("trainError")
        self.error_frame.setStyleSheet(
            "#trainError { border: 1px solid #c0504d; border-left: 4px solid #e57373; border-radius: 3px;"
            " background: rgba(229,115,115,0.10); }"
            " #trainError QLabel { background: transparent; border: none; }")
        el = QVBoxLayout(self.error_frame)
        el.setContentsMargins(10, 6, 10, 6)
        self.error_title = QLabel()
        ef = QFont(self.error_title.font())
        ef.setBold(True)
        self.error_title.setFont(ef)
        self.error_text = QLabel()
        self.error_text.setWordWrap(True)
        self.error_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        el.addWidget(self.error_title)
        el.addWidget(self.error_text)
        self.error_frame.hide()
        ml.addWidget(self.error_frame)

        self.plot = LossPlot()
        self.sample_view = _ScaledImage("Samples (label · real · generated) appear here during training")
        self.sample_caption = QLabel()
        self.sample_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample_caption.setStyleSheet("color: #9aa5b1;")
        sample_box = QWidget()
        sbl = QVBoxLayout(sample_box)
        sbl.setContentsMargins(0, 0, 0, 0)
        sbl.addWidget(self.sample_view, 1)
        sbl.addWidget(self.sample_caption)
        self.view_split = QSplitter(Qt.Orientation.Horizontal)
        self.view_split.addWidget(self.plot)
        self.view_split.addWidget(sample_box)
        self.view_split.setStretchFactor(0, 3)
        self.view_split.setStretchFactor(1, 2)
        ml.addWidget(self.view_split, 1)

        self.log_toggle = QToolButton()
        self.log_toggle.setText("Log")
        self.log_toggle.setCheckable(True)
        self.log_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.log_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.log_toggle.setAutoRaise(True)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(3000)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        self.log_view.setFont(mono)
        self.log_view.setMaximumHeight(160)
        self.log_view.hide()
        ml.addWidget(self.log_toggle)
        ml.addWidget(self.log_view)

        # ---- runs (right, bottom) ----
        runs = QWidget()
        rl2 = QVBoxLayout(runs)
        rl2.setContentsMargins(8, 4, 8, 8)
        rh = QHBoxLayout()
        rt = QLabel("Runs")
        rt.setFont(ef)
        rh.addWidget(rt)
        self.runs_hint = QLabel(f"in {self.runs_dir}")
        self.runs_hint.setStyleSheet("color: #9aa5b1;")
        rh.addWidget(self.runs_hint, 1)
        self.run_resume_button = QPushButton("Resume")
        self.run_use_button = QPushButton("Use in editor")
        self.run_open_button = QPushButton("Open folder")
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Refresh the list")
        for b in (self.run_resume_button, self.run_use_button, self.run_open_button, self.refresh_button):
            rh.addWidget(b)
        rl2.addLayout(rh)
        self.runs_list = QTreeWidget()
        self.runs_list.setHeaderLabels(["Run", "Status", "Progress", "Data", "Started"])
        self.runs_list.setRootIsDecorated(False)
        self.runs_list.setUniformRowHeights(True)
        self.runs_list.setAlternatingRowColors(True)
        hdr = self.runs_list.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        rl2.addWidget(self.runs_list, 1)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(monitor)
        right.addWidget(runs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        right.setChildrenCollapsible(False)
        self.right_split = right

        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(scroll)
        sep = QFrame()
        sep.setFrameShape(QFrame.Shape.VLine)
        sep.setFrameShadow(QFrame.Shadow.Plain)
        lay.addWidget(sep)
        lay.addWidget(right, 1)

    def _connect(self) -> None:
        self.data_button.clicked.connect(self._choose_data)
        self.recheck_button.clicked.connect(lambda: self._data_root() and self.set_data_folder(self._data_root()))
        self.start_combo.activated.connect(self._start_point_chosen)
        self.adv_toggle.toggled.connect(self._toggle_advanced)
        self.log_toggle.toggled.connect(self._toggle_log)
        for w in (self.size_box, self.device_box):
            w.currentIndexChanged.connect(self._update_estimate)
        for w in (self.batch_box, self.iters_box, self.ngf_box, self.hidden_box, self.ndf_box, self.threads_box):
            w.valueChanged.connect(self._update_estimate)
        self.vae_box.toggled.connect(self._update_estimate)
        self.measure_button.clicked.connect(self.measure_speed)
        self.run_button.clicked.connect(self._choose_run_folder)
        self.run_edit.textEdited.connect(lambda _t: setattr(self, "_run_edited", True))
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.stop_button.clicked.connect(self._stop_clicked)
        self.use_button.clicked.connect(lambda: self.use_in_editor(self._run_dir))
        self.folder_button.clicked.connect(lambda: self._open_folder(self._run_dir))
        self.run_resume_button.clicked.connect(self._resume_selected)
        self.run_use_button.clicked.connect(lambda: self.use_in_editor(self._selected_run()))
        self.run_open_button.clicked.connect(lambda: self._open_folder(self._selected_run()))
        self.refresh_button.clicked.connect(self.refresh_runs)
        self.runs_list.itemSelectionChanged.connect(self._run_selected)
        self.runs_list.itemDoubleClicked.connect(lambda *_: self._resume_selected())

        p = self.process
        p.event.connect(self._on_event)
        p.progress.connect(self._on_progress)
        p.sample.connect(self._on_sample)
        p.log_line.connect(self._append_log)
        p.finished.connect(self._on_finished)

    def _toggle_advanced(self, on: bool) -> None:
        self.adv.setVisible(on)
        self.adv_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _toggle_log(self, on: bool) -> None:
        self.log_view.setVisible(on)
        self.log_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    # =============================================================================================
    # data
    # =============================================================================================
    def _data_root(self) -> Path | None:
        t = self.data_edit.text().strip()
        return Path(t) if t else None

    def _choose_data(self) -> None:
        start = str(self._data_root() or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", start)
        if folder:
            self.set_data_folder(folder)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.set_data_folder(urls[0].toLocalFile())
            event.acceptProposedAction()

    def set_data_folder(self, folder: str | Path) -> None:
        """Show ``folder`` and check it in a worker thread (the report arrives later)."""
        root = Path(folder).expanduser().resolve()
        self.data_edit.setText(str(root))
        self.data_edit.setToolTip(str(root))
        self._check = None
        self._checking = True
        self._tokens["check"] += 1
        self.data_summary.setText(f"<i>Checking {_html(root.name)}… (reads every file)</i>")
        self.ids_label.hide()
        self.problems.hide()
        self.thumbs_box.hide()
        if not self._run_edited:
            self.run_edit.setText(str(self._default_run_dir(root)))
        _run_in_thread(self._relay, "check", self._tokens["check"], lambda: check_folder(root))
        self._update_buttons()

    def data_check(self) -> DataCheck | None:
        return self._check

    def is_checking(self) -> bool:
        return self._checking

    def _default_run_dir(self, root: Path) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        base = self.runs_dir / f"{root.name or 'data'}-{stamp}"
        cand, n = base, 2
        while cand.exists():
            cand = base.with_name(f"{base.name}-{n}")
            n += 1
        return cand

    def _on_job_done(self, kind: str, token: int, result: object) -> None:
        if token != self._tokens.get(kind):
            return  # a newer request superseded this one
        if kind == "check":
            self._checking = False
            if isinstance(result, Exception):
                self.data_summary.setText(f"<span style='color:#e57373'><b>Cannot check the folder:</b> "
                                          f"{_html(str(result))}</span>")
            else:
                self._show_check(result)  # type: ignore[arg-type]
        elif kind == "runs":
            if isinstance(result, Exception):
                self.runs_hint.setText(f"cannot read {self.runs_dir}: {result}")
            else:
                self._show_runs(result)  # type: ignore[arg-type]
        elif kind == "model":
            if isinstance(result, Exception):
                self._model_info = None
                self.start_note.setText(f"<span style='color:#e57373'><b>Cannot read the model:</b> "
                                        f"{_html(str(result))}</span>")
            else:
                self._model_info = result  # type: ignore[assignment]
                self._apply_model_info()
        self._update_buttons()

    def _show_check(self, chk: DataCheck) -> None:
        self._check = chk
        self._cuda, self._mps = chk.cuda, chk.mps
        r = chk.report
        if r.fatal:
            head = "<span style='color:#e57373'><b>Training cannot start.</b></span> " + \
                   _html("; ".join(r.fatal_reasons[:2]))
        else:
            sizes = ", ".join(sorted(r.image_sizes, key=lambda k: -r.image_sizes[k])[:3])
            bad = f", <span style='color:#ffb74d'>{len(r.bad_files)} bad (skipped)</span>" if r.bad_files else ""
            head = (f"<span style='color:#81c784'><b>{r.usable} usable pair{'s' if r.usable != 1 else ''}</b></span>"
                    f" of {r.pairs}{bad} · {_html(r.layout or '?')} layout"
                    + (f" · label set <b>{_html(r.label_set)}</b>" if r.label_set else "")
                    + (f" · {sizes}" if sizes else "")
                    + (f" · {r.instances} instance maps" if r.instances else ""))
        self.data_summary.setText(head)

        if r.ids:
            lut = chk.label_set
            chips = []
            for st in r.ids[:48]:
                color = "#888888"
                if lut is not None:
                    try:
                        c = lut.by_id(st.id).color
                        color = "#{:02x}{:02x}{:02x}".format(*c)
                    except KeyError:
                        color = "#ff00ff"
                warn = st.allowed is False
                name = _html(st.name or f"id {st.id}")
                style = "color:#e57373;" if warn else ""
                name = name.replace(" ", "&nbsp;")
                chips.append(f"<span style='white-space:nowrap'><span style='background:{color}'>&nbsp;&nbsp;&nbsp;"
                             f"</span>&nbsp;<span style='{style}'>{st.id}&nbsp;{name}</span></span>")
            more = f" … +{len(r.ids) - 48} more" if len(r.ids) > 48 else ""
            self.ids_label.setText(f"<b>{len(r.ids)} label ids found:</b> " + " &nbsp; ".join(chips) + more)
            self.ids_label.setToolTip("Label ids present in the label maps (red: not in the label set)")
            self.ids_label.show()
        else:
            self.ids_label.hide()

        self.problems.clear()
        if r.problems:
            from trainer.datasets import PROBLEM_KINDS

            by_kind: dict[str, list] = {}
            for p in r.problems:
                by_kind.setdefault(p.kind, []).append(p)
            for kind, probs in by_kind.items():
                top = QTreeWidgetItem([f"{PROBLEM_KINDS.get(kind, kind)} ({len(probs)})", ""])
                fatal = any(p.message in r.fatal_reasons for p in probs)
                top.setForeground(0, Qt.GlobalColor.red if fatal else Qt.GlobalColor.yellow)
                for p in probs[:200]:
                    child = QTreeWidgetItem([p.message, p.file or "."])
                    child.setToolTip(0, p.message)
                    child.setToolTip(1, p.file or r.root)
                    top.addChild(child)
                self.problems.addTopLevelItem(top)
                top.setExpanded(len(r.problems) <= 8)
            self.problems.show()
        else:
            self.problems.hide()

        while self.thumbs_grid.count():
            w = self.thumbs_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for i, (stem, lab, img) in enumerate(chk.thumbs):
            import numpy as np

            gap = np.full((lab.shape[0], 2, 3), 30, np.uint8)
            pair = QLabel()
            pair.setPixmap(QPixmap.fromImage(rgb_to_qimage(np.concatenate([lab, gap, img], 1))))
            pair.setToolTip(f"{stem}: label map | image")
            self.thumbs_grid.addWidget(pair, i // 2, i % 2, Qt.AlignmentFlag.AlignLeft)
        self.thumbs_box.setVisible(bool(chk.thumbs))

        if not r.fatal:
            self.set_settings({k: v for k, v in suggest_settings(r.usable, chk.cuda).items()
                               if k not in ("device", "low_priority")})
        self._check_label_sets()

    # =============================================================================================
    # starting point
    # =============================================================================================
    def _start_point_chosen(self, index: int) -> None:
        kind = self.start_combo.itemData(index)
        path: str | Path | None = None
        if kind == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Starting model", str(Path.home()),
                                                  "Models (*.safetensors *.pth *.pt);;All files (*)")
        elif kind == "official":
            path = QFileDialog.getExistingDirectory(self, "Official checkpoint folder", str(Path.home()))
        elif kind == "bundled":
            path = self._bundled
        if kind != "scratch" and not path:
            self.set_start_point("scratch")
            return
        self.set_start_point(kind, path)

    def set_start_point(self, kind: str, path: str | Path | None = None) -> None:
        """``scratch``, ``bundled``, ``file`` (our .safetensors / official .pth) or ``official`` (folder)."""
        i = self.start_combo.findData(kind)
        self.start_combo.setCurrentIndex(max(0, i))
        self._model_info = None
        self._tokens["model"] += 1
        if kind == "scratch":
            self._start_path = None
            self.start_note.setText("Fresh random weights: needs the most iterations.")
        else:
            p = Path(path) if path else self._bundled
            if p is None:
                self.set_start_point("scratch")
                return
            self._start_path = Path(p)
            self.start_note.setText(f"<i>Reading {_html(self._start_path.name)}…</i>")
            _run_in_thread(self._relay, "model", self._tokens["model"], lambda: inspect_model(p))
        self._apply_model_info()

    def start_point(self) -> tuple[str, Path | None]:
        return self.start_combo.currentData(), self._start_path

    def _apply_model_info(self) -> None:
        info = self._model_info
        fixed = info is not None
        for box in (self.ngf_box, self.hidden_box):
            box.setEnabled(not fixed)
        if fixed:
            self.ngf_box.setValue(info["ngf"])
            self.hidden_box.setValue(info["spade_hidden"])
            if info["use_vae"]:
                self.vae_box.setChecked(True)
            self.vae_box.setEnabled(not info["use_vae"])
        else:
            self.vae_box.setEnabled(True)
        self._check_label_sets()
        self._update_estimate()

    def _check_label_sets(self) -> None:
        info = self._model_info
        if info is None or self._start_path is None:
            return
        ls = info["label_set"]
        n = len(ls)
        text = (f"Fine-tune <b>{_html(self._start_path.name)}</b> ({_html(ls.name)}, {n} labels; "
                f"ngf {info['ngf']}, SPADE hidden {info['spade_hidden']}"
                + (", style encoder" if info["use_vae"] else "") + "). The network widths come from the model.")
        data_ls = self._check.label_set if self._check is not None else None
        if data_ls is not None:
            if ls.same_labels(data_ls):
                text += " <span style='color:#81c784'>Same label set as the data: every layer is kept.</span>"
            else:
                text += (f" <span style='color:#ffb74d'><b>The data uses another label set</b> "
                         f"({_html(data_ls.name)}, {len(data_ls)} labels): the label layers (the label-map "
                         f"input and every SPADE layer's first conv) will be re-initialised; the rest is "
                         f"kept.</span>")
        self.start_note.setText(text)

    # =============================================================================================
    # settings
    # =============================================================================================
    def settings(self) -> dict[str, Any]:
        return {
            "size": int(self.size_box.currentData()), "batch": self.batch_box.value(),
            "iters": self.iters_box.value(), "use_vae": self.vae_box.isChecked(), "lr": self.lr_box.value(),
            "device": self.device_box.currentText(), "ngf": self.ngf_box.value(),
            "spade_hidden": self.hidden_box.value(), "ndf": self.ndf_box.value(),
            "n_layers_D": self.dlayers_box.value(), "threads": self.threads_box.value(),
            "sample_every": self.sample_box.value(), "save_every": self.save_box.value(),
            "log_every": self.log_box.value(), "low_priority": self.low_prio_box.isChecked(),
        }

    def set_settings(self, values: dict[str, Any]) -> None:
        """Set any of the keys of :meth:`settings` (the rest keep their values)."""
        v = values
        if "size" in v:
            i = self.size_box.findData(int(v["size"]))
            if i < 0:
                self.size_box.addItem(f"{int(v['size'])} px", int(v["size"]))
                i = self.size_box.count() - 1
            self.size_box.setCurrentIndex(i)
        spins = {"batch": self.batch_box, "iters": self.iters_box, "ndf": self.ndf_box,
                 "n_layers_D": self.dlayers_box, "threads": self.threads_box, "sample_every": self.sample_box,
                 "save_every": self.save_box, "log_every": self.log_box}
        if self._model_info is None:
            spins.update(ngf=self.ngf_box, spade_hidden=self.hidden_box)
        for k, box in spins.items():
            if k in v and v[k] is not None:
                box.setValue(int(v[k]))
        if "use_vae" in v and self.vae_box.isEnabled():
            self.vae_box.setChecked(bool(v["use_vae"]))
        if "lr" in v:
            self.lr_box.setValue(float(v["lr"]))
        if "device" in v:
            self.device_box.setCurrentText(str(v["device"]))
        if "low_priority" in v:
            self.low_prio_box.setChecked(bool(v["low_priority"]))
        self._update_estimate()

    def _update_estimate(self, *_: object) -> None:
        s = self.settings()
        it_s = estimate_it_s(s, self._cuda)
        how = "rough estimate"
        if self._measured is not None:
            ms, measured = self._measured
            it_s = measured * it_s / max(estimate_it_s(ms, self._cuda), 1e-9)
            how = f"measured {measured:.2f} it/s" + ("" if ms == s else ", scaled to these settings")
        self.estimate_label.setText(f"About <b>{format_duration(s['iters'] / max(it_s, 1e-9))}</b> "
                                    f"<span style='color:#9aa5b1'>({it_s:.3g} it/s, {how})</span>")
        self.estimate_label.setTextFormat(Qt.TextFormat.RichText)

    def train_args(self, run_dir: str | Path | None = None) -> list[str]:
        """``spade-studio-cli train`` options for the current set-up."""
        s = self.settings()
        root = self._data_root()
        run = Path(run_dir) if run_dir is not None else self._run_folder()
        args = ["--data", str(root), "--out", str(run), "--size", str(s["size"]), "--batch", str(s["batch"]),
                "--iters", str(s["iters"]), "--lr", f"{s['lr']:g}", "--device", s["device"],
                "--ndf", str(s["ndf"]), "--n-layers-D", str(s["n_layers_D"]),
                "--sample-every", str(s["sample_every"]), "--save-every", str(s["save_every"]),
                "--log-every", str(s["log_every"]),
                "--lambda-vgg", "0"]  # the app ships no VGG19 weights: say so instead of warning every run
        if self._start_path is None:
            args += ["--ngf", str(s["ngf"]), "--spade-hidden", str(s["spade_hidden"])]
        else:
            args += ["--init-from", str(self._start_path)]
        if s["use_vae"]:
            args.append("--use-vae")
        if s["threads"]:
            args += ["--threads", str(s["threads"])]
        return args

    def _run_folder(self) -> Path:
        t = self.run_edit.text().strip()
        if t:
            return Path(t).expanduser().resolve()
        root = self._data_root()
        return self._default_run_dir(root or Path("data"))

    def _choose_run_folder(self) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        folder = QFileDialog.getExistingDirectory(self, "Run folder", str(self.runs_dir))
        if folder:
            self.run_edit.setText(folder)
            self._run_edited = True

    # -- speed probe ------------------------------------------------------------------------------------
    def measure_speed(self) -> bool:
        """Time 4 iterations of the current settings in a throw-away run (background process)."""
        root = self._data_root()
        if root is None or self._check is None or self._check.report.fatal:
            self.estimate_label.setText("Choose a usable dataset first, then measure.")
            return False
        if self.probe is not None and self.probe.is_running():
            return False
        self._probe_dir = Path(tempfile.mkdtemp(prefix="spade-probe-"))
        run = self._probe_dir / "run"
        args = self.train_args(run)
        for opt, val in (("--iters", "4"), ("--log-every", "1"), ("--sample-every", "0"), ("--save-every", "0")):
            i = args.index(opt)
            args[i + 1] = val
        if "--init-from" in args:  # speed does not depend on the weights
            i = args.index("--init-from")
            del args[i:i + 2]
            args += ["--ngf", str(self.ngf_box.value()), "--spade-hidden", str(self.hidden_box.value())]
        self.probe = TrainerProcess(self, low_priority=self.low_prio_box.isChecked())
        self._probe_steps = []
        self._probe_settings = self.settings()
        self.probe.event.connect(lambda ev: self._probe_steps.append(ev) if ev.get("event") == "step" else None)
        self.probe.finished.connect(self._probe_finished)
        try:
            self.probe.start(args, run)
        except OSError as exc:
            self.estimate_label.setText(f"Cannot measure: {exc}")
            return False
        self.measure_button.setEnabled(False)
        self.estimate_label.setText("<i>Measuring: 4 iterations in the background…</i>")
        return True

    def _probe_finished(self, status: str, code: int) -> None:
        self.measure_button.setEnabled(True)
        steps = [ev for ev in self._probe_steps if ev.get("step", 0) >= 2 and ev.get("it_s")]
        msg = self.probe.error_message if self.probe is not None else ""
        if self._probe_dir is not None:
            shutil.rmtree(self._probe_dir, ignore_errors=True)
            self._probe_dir = None
        if status == "done" and steps:
            rates = sorted(float(ev["it_s"]) for ev in steps)
            self._measured = (self._probe_settings, rates[len(rates) // 2])
            self._update_estimate()
        elif status in ("error", "crashed"):
            self.estimate_label.setText(f"<span style='color:#e57373'>The test run failed: {_html(msg)}</span>")
        else:
            self._update_estimate()

    def measured_it_s(self) -> float | None:
        return self._measured[1] if self._measured else None

    # =============================================================================================
    # running
    # =============================================================================================
    def start(self) -> bool:
        """Start a new run with the current set-up; False (with the reason shown) if it cannot."""
        if self.process.is_running():
            return False
        chk = self._check
        if self._data_root() is None or chk is None:
            self.start_hint.setText("Choose a dataset folder first.")
            return False
        if chk.report.fatal:
            self.start_hint.setText("The dataset check failed: fix the problems listed above.")
            return False
        run = self._run_folder()
        if (run / "config.json").exists() or any(run.glob("checkpoints/ckpt_*.pt")):
            self.start_hint.setText(f"{run.name} already holds a run: choose another folder, or resume it from "
                                    f"the Runs list.")
            return False
        self._run_edited = False
        return self._launch(self.train_args(run), run, resume=False)

    def _launch(self, args: list[str], run: Path, resume: bool) -> bool:
        self._show_error(None)
        self.log_view.clear()
        self._run_dir = run
        self._run_args = list(args)
        self.run_title.setText(run.name)
        self.run_title.setToolTip(str(run))
        if resume:
            self.plot.load_metrics(run / "metrics.jsonl")
        else:
            self.plot.clear()
            self.sample_view.set_pixmap(None)
            self.sample_caption.clear()
        self.progress.setRange(0, max(1, self._iters_in(args)))
        self.stats_label.setText("Starting the trainer (loading torch and the data)…")
        self.process.low_priority = self.low_prio_box.isChecked()
        try:
            self.process.start(args, run, resume=resume)
        except OSError as exc:
            self._show_error(("The trainer could not be started", str(exc)))
            return False
        self._append_log(f"$ spade-studio-cli train {' '.join(args)}{' --resume' if resume else ''}")
        self._set_status("running")
        self.start_hint.clear()
        self._update_buttons()
        self.refresh_runs()
        if not resume and self._data_root() is not None:  # the next Start gets a folder of its own
            self.run_edit.setText(str(self._default_run_dir(self._data_root())))
        return True

    @staticmethod
    def _iters_in(args: list[str]) -> int:
        try:
            return int(args[args.index("--iters") + 1])
        except (ValueError, IndexError):
            return 1

    def pause(self) -> None:
        if self.process.is_running():
            self.process.pause()
            self.stats_label.setText("Pausing: finishing the step and saving a checkpoint…")
            self._update_buttons()

    def stop(self) -> None:
        if self.process.is_running():
            self.process.stop()
            self.stats_label.setText("Stopping: finishing the step and saving a checkpoint…")
            self._update_buttons()

    def _stop_clicked(self) -> None:
        if self.process.is_running() and self.process.stop_requested:
            self.process.kill()  # the button reads "Force stop" while a stop is pending
        else:
            self.stop()

    def resume(self, run_dir: str | Path | None = None) -> bool:
        """Continue ``run_dir`` (default: the run in the monitor) with ``--resume``."""
        if self.process.is_running():
            return False
        run = Path(run_dir) if run_dir is not None else self._run_dir
        if run is None:
            return False
        run = run.resolve()
        if running_pid(run) is not None:
            return self.follow(run)
        cfg = read_run_config(run)
        if cfg:
            cfg.pop("out", None)
            args = train_args_from_config(cfg) + ["--out", str(run)]
            return self._launch(args, run, resume=True)
        if self._run_dir == run and self._run_args:  # ended before writing config.json: start over
            return self._launch(self._run_args, run, resume=False)
        self.start_hint.setText(f"{run.name}: nothing to resume (no config.json).")
        return False

    def follow(self, run_dir: str | Path) -> bool:
        """Follow a run that is training in the background (started by an earlier session)."""
        if self.process.is_running():
            return False
        run = Path(run_dir).resolve()
        self._show_error(None)
        self.log_view.clear()
        self._run_dir = run
        self.run_title.setText(run.name)
        self.plot.load_metrics(run / "metrics.jsonl")
        self._show_latest_sample(run)
        total = read_run_config(run).get("iters")
        last = last_metrics_step(run) or {}
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(min(int(last.get("step", 0)), int(total)))
        if not self.process.attach(run):
            return False
        for line in self.process.log_tail(60):
            self._append_log(line)
        self._set_status("running")
        self.stats_label.setText("Following a run that kept training in the background.")
        self._update_buttons()
        return True

    # -- process signals -----------------------------------------------------------------------------------
    def _on_progress(self, step: int, total: int, eta: object) -> None:
        if total > 0:
            self.progress.setRange(0, total)
        self.progress.setValue(max(0, min(step, total)))

    def _on_event(self, ev: dict) -> None:
        from trainer.events import format_eta

        kind = ev.get("event")
        if kind == "step":
            self.plot.add_point(ev["step"], ev.get("losses") or {})
            self._update_run_row(int(ev["step"]), int(ev.get("total") or 0))
            parts = [f"{ev.get('it_s', 0):.2f} it/s", f"ETA {format_eta(ev.get('eta_s'))}",
                     f"epoch {ev.get('epoch', 0) + 1}"]
            if ev.get("skipped"):
                parts.append(f"{ev['skipped']} bad pairs skipped")
            if self.process.stop_requested in ("stop", "pause"):
                parts.insert(0, "saving a checkpoint and ending…")
            self.stats_label.setText("  ·  ".join(parts))
        elif kind == "start":
            model = ev.get("model") or {}
            at = f"resumed at step {ev['step']}, " if ev.get("step") else ""
            self.stats_label.setText(
                f"Training on {ev.get('device', '?')}: {at}{ev.get('samples', '?')} pairs, "
                f"{model.get('label_set', '?')} labels, {'x'.join(map(str, model.get('size', [])[::-1]))} px")
            self._append_log(f"started: {ev.get('samples')} pairs on {ev.get('device')}, step {ev.get('step')}"
                             f"/{ev.get('total')}")
            self.refresh_runs()  # config.json exists now
        elif kind in ("log", "warning"):
            self._append_log(f"{kind}: {ev.get('message', '')}")
        elif kind == "checkpoint":
            self._append_log(f"checkpoint at step {ev.get('step')}: {ev.get('path')}")
            self._update_buttons()  # the model file now exists: "Use in editor" works mid-run
            self.refresh_runs()
        elif kind == "error":
            self._append_log(f"error: {ev.get('message', '')}")
        elif kind in ("done", "stopped"):
            self._append_log(f"{kind} at step {ev.get('step')}: model {ev.get('model')}")

    def _on_sample(self, path: str) -> None:
        pix = QPixmap(path)
        if pix.isNull():  # written atomically, so this is rare; fall back to latest.png
            pix = QPixmap(str(Path(path).parent / "latest.png"))
        self.sample_view.set_pixmap(pix)
        step = Path(path).stem.replace("step_", "").lstrip("0") or "0"
        self.sample_caption.setText(f"label · real · generated — step {step}")

    def _show_latest_sample(self, run: Path) -> None:
        latest = run / "samples" / "latest.png"
        if latest.exists():
            self.sample_view.set_pixmap(QPixmap(str(latest)))
            steps = sorted((run / "samples").glob("step_*.png"))
            step = steps[-1].stem.replace("step_", "").lstrip("0") if steps else "?"
            self.sample_caption.setText(f"label · real · generated — step {step or 0}")
        else:
            self.sample_view.set_pixmap(None)
            self.sample_caption.clear()

    def _on_finished(self, status: str, code: int) -> None:
        p = self.process
        self._set_status(status)
        step = (p.final_event or p.last_step or {}).get("step")
        if status == "done":
            self.stats_label.setText(f"Finished at step {step}. “Use in editor” loads the model.")
        elif status in ("stopped", "paused"):
            what = "Paused" if status == "paused" else "Stopped"
            self.stats_label.setText(f"{what} at step {step}; checkpoint saved. Resume continues the run."
                                     if step is not None else f"{what} before training began.")
        else:
            title, text = advice_for(status, p.error_message, p.log_tail(60), code)
            detail = p.error_message
            tail = [ln for ln in p.log_tail(8) if ln.strip()]
            if status == "crashed" and tail:
                detail += "\nLast lines of the log:\n" + "\n".join(tail[-4:])
            self._show_error((title, f"{detail}\n\n{text}"))
            self.stats_label.setText(f"{STATUS_TEXT.get(status, status).capitalize()}"
                                     + (f" at step {step}." if step is not None else "."))
        self._update_buttons()
        self.refresh_runs()
        if self._run_dir is not None:
            self.run_finished.emit(str(self._run_dir), status)

    def _append_log(self, line: str) -> None:
        self.log_view.appendPlainText(line.rstrip())

    def _show_error(self, err: tuple[str, str] | None) -> None:
        if err is None:
            self.error_frame.hide()
            return
        self.error_title.setText(err[0])
        self.error_text.setText(err[1])
        self.error_frame.show()
        self.log_toggle.setChecked(True)

    def error_shown(self) -> tuple[str, str] | None:
        return (self.error_title.text(), self.error_text.text()) if not self.error_frame.isHidden() else None

    def _set_status(self, status: str) -> None:
        self._last_status = status
        self.progress.setFormat("%v / %m steps")
        color = STATUS_COLORS.get(status, "#b0bec5")
        self.status_chip.setText(STATUS_TEXT.get(status, status))
        self.status_chip.setStyleSheet(f"QLabel {{ color: #101418; background: {color}; border-radius: 8px;"
                                       f" padding: 1px 8px; font-weight: bold; }}")
        self.status_chip.show()

    def status(self) -> str:
        return self._last_status

    def _update_buttons(self) -> None:
        running = self.process.is_running()
        stopping = running and bool(self.process.stop_requested)
        chk = self._check
        can_start = (not running and chk is not None and not chk.report.fatal and not self._checking)
        self.start_button.setEnabled(can_start)
        self.start_button.setText("Training…" if running else "Start training")
        if running:
            self.start_hint.clear()
        elif self._checking:
            self.start_hint.setText("Checking the dataset…")
        elif chk is None:
            self.start_hint.setText("Choose a dataset folder to start.")
        elif chk.report.fatal:
            self.start_hint.setText("The dataset check failed: fix the problems listed above.")
        elif self.start_hint.text() in ("Checking the dataset…", "Choose a dataset folder to start."):
            self.start_hint.clear()
        self.pause_button.setVisible(running)
        self.pause_button.setEnabled(running and not stopping)
        self.stop_button.setVisible(running)
        self.stop_button.setText("Force stop" if stopping else "Stop")
        self.stop_button.setToolTip("End the trainer now, without saving (the last checkpoint stays)" if stopping
                                    else "Save a checkpoint and end the run")
        resumable = (not running and self._run_dir is not None
                     and self._last_status in ("paused", "stopped", "crashed", "error", "unfinished"))
        self.resume_button.setVisible(resumable)
        has_model = self._run_dir is not None and (self._run_dir / "model.safetensors").is_file()
        self.use_button.setVisible(self._run_dir is not None)
        self.use_button.setEnabled(has_model)
        self.folder_button.setVisible(self._run_dir is not None)
        self._update_run_buttons()

    # =============================================================================================
    # runs list
    # =============================================================================================
    def refresh_runs(self) -> None:
        """Re-read the runs folder in a worker thread (the list updates when it is done)."""
        self._tokens["runs"] += 1
        runs_dir = self.runs_dir
        extra = self._run_dir.resolve() if self._run_dir is not None else None

        def scan() -> list[RunInfo]:
            import trainer.events  # noqa: F401 - loads torch in this thread, never on the GUI thread

            runs = list_runs(runs_dir)
            if extra is not None and extra.parent != runs_dir and extra.exists():
                runs.insert(0, read_run_info(extra))  # a run folder outside the runs dir
            return runs

        _run_in_thread(self._relay, "runs", self._tokens["runs"], scan)

    def _show_runs(self, runs: list[RunInfo]) -> None:
        selected = self._selected_run()
        self._run_infos = {str(r.path): r for r in runs}
        self.runs_list.blockSignals(True)
        self.runs_list.clear()
        current = self._run_dir.resolve() if self._run_dir is not None else None
        for info in runs:
            status = info.status
            if self.process.is_running() and info.path.resolve() == current:
                status = "running"
            prog = f"{info.step:,} / {info.total:,}" if info.total else f"{info.step:,}"
            started = datetime.fromtimestamp(info.started).strftime("%Y-%m-%d %H:%M") if info.started else ""
            item = QTreeWidgetItem([info.name, STATUS_TEXT.get(status, status), prog,
                                    Path(info.data).name if info.data else "", started])
            item.setData(0, Qt.ItemDataRole.UserRole, str(info.path))
            item.setData(1, Qt.ItemDataRole.UserRole, status)
            item.setForeground(1, QBrush(QColor(STATUS_COLORS.get(status, "#b0bec5"))))
            item.setToolTip(0, str(info.path))
            item.setToolTip(1, info.message or status)
            item.setToolTip(3, info.data)
            self.runs_list.addTopLevelItem(item)
            if selected is not None and info.path == selected:
                item.setSelected(True)
        self.runs_list.blockSignals(False)
        for c in (1, 2, 4):
            self.runs_list.resizeColumnToContents(c)
        self.runs_hint.setText(f"in {self.runs_dir}" if runs else f"none yet in {self.runs_dir}")
        self._update_run_buttons()
        if self._first_scan:
            self._first_scan = False
            live = [r for r in runs if r.status == "running"]
            if live and not self.process.is_running() and self.follow(live[0].path):
                self._append_log("(reattached: this run kept training while the app was closed)")

    def _update_run_row(self, step: int, total: int) -> None:
        if self._run_dir is None:
            return
        key = str(self._run_dir)
        for i in range(self.runs_list.topLevelItemCount()):
            it = self.runs_list.topLevelItem(i)
            if it.data(0, Qt.ItemDataRole.UserRole) == key:
                it.setText(2, f"{step:,} / {total:,}" if total else f"{step:,}")
                return

    def runs(self) -> list[tuple[Path, str]]:
        out = []
        for i in range(self.runs_list.topLevelItemCount()):
            it = self.runs_list.topLevelItem(i)
            out.append((Path(it.data(0, Qt.ItemDataRole.UserRole)), it.data(1, Qt.ItemDataRole.UserRole)))
        return out

    def select_run(self, run_dir: str | Path) -> bool:
        target = Path(run_dir).resolve()
        for i in range(self.runs_list.topLevelItemCount()):
            it = self.runs_list.topLevelItem(i)
            if Path(it.data(0, Qt.ItemDataRole.UserRole)).resolve() == target:
                self.runs_list.setCurrentItem(it)
                it.setSelected(True)
                return True
        return False

    def _selected_run(self) -> Path | None:
        items = self.runs_list.selectedItems()
        return Path(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def _selected_status(self) -> str:
        items = self.runs_list.selectedItems()
        return items[0].data(1, Qt.ItemDataRole.UserRole) if items else ""

    def _run_selected(self) -> None:
        run = self._selected_run()
        if run is not None and not self.process.is_running():
            # show the run in the monitor (its curves, latest samples, status)
            info = self._run_infos.get(str(run)) or RunInfo(run, "unfinished")
            self._run_dir = run
            self.run_title.setText(run.name)
            self.run_title.setToolTip(str(run))
            self._set_status(info.status)
            self.plot.load_metrics(run / "metrics.jsonl")
            self._show_latest_sample(run)
            self.progress.setRange(0, max(1, info.total or info.step or 1))
            self.progress.setValue(min(info.step, info.total or info.step))
            self.stats_label.setText(info.message or f"{STATUS_TEXT.get(info.status, info.status).capitalize()} "
                                                     f"at step {info.step}.")
            self.log_view.setPlainText("\n".join(tail_text(run / "trainer.log", 200)))
            if info.status in ("error", "crashed"):
                title, text = advice_for(info.status, info.message, tail_text(run / "trainer.log", 60))
                self._show_error((title, (info.message + "\n\n" if info.message else "") + text))
            else:
                self._show_error(None)
        self._update_buttons()

    def _update_run_buttons(self) -> None:
        run = self._selected_run()
        status = self._selected_status()
        running_here = self.process.is_running()
        followed = running_here and run is not None and self._run_dir is not None and \
            run.resolve() == self._run_dir.resolve()
        if status == "running" and not followed:
            self.run_resume_button.setText("Follow")
            self.run_resume_button.setEnabled(not running_here)
        else:
            self.run_resume_button.setText("Resume")
            self.run_resume_button.setEnabled(
                run is not None and not running_here
                and status in ("paused", "stopped", "crashed", "error", "unfinished"))
        self.run_use_button.setEnabled(run is not None and (run / "model.safetensors").is_file())
        self.run_open_button.setEnabled(run is not None)

    def _resume_selected(self) -> None:
        run = self._selected_run()
        if run is None or self.process.is_running():
            return
        if self._selected_status() == "running":
            self.follow(run)
        elif self._selected_status() in ("paused", "stopped", "crashed", "error", "unfinished"):
            self.resume(run)

    def use_in_editor(self, run_dir: str | Path | None) -> bool:
        """Load ``<run>/model.safetensors`` into the editor (``main_window.load_model``)."""
        if run_dir is None:
            return False
        model = Path(run_dir) / "model.safetensors"
        if not model.is_file():
            self.stats_label.setText("This run has no model file yet (it is written at every checkpoint).")
            return False
        self.model_chosen.emit(str(model))
        loader = getattr(self.main_window, "load_model", None)
        if callable(loader):
            loader(str(model))
        return True

    def _open_folder(self, run_dir: Path | None) -> None:
        if run_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(run_dir)))

    # =============================================================================================
    # closing
    # =============================================================================================
    def confirm_close(self) -> bool:
        """Called by the main window's closeEvent: False keeps the app open (Cancel)."""
        if self.probe is not None and self.probe.is_running():
            self.probe.kill()
            self.probe.detach()
            if self._probe_dir is not None:
                shutil.rmtree(self._probe_dir, ignore_errors=True)
        if not self.process.is_running():
            return True
        choice = self._ask_close_hook() if self._ask_close_hook is not None else self._ask_close()
        if choice == "cancel":
            return False
        if choice == "stop":
            # the trainer finishes its step, saves and exits on its own (it writes to files, not to us)
            self.process.stop()
            self.process.detach()
        else:
            self.process.detach()
        return True

    def _ask_close(self) -> str:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        name = self._run_dir.name if self._run_dir is not None else "a run"
        box.setText(f"<b>{_html(name)}</b> is still training.")
        box.setInformativeText("Stop it (a checkpoint is saved, Resume continues later), or keep it training in "
                               "the background? The Train tab shows it again the next time SPADE Studio starts.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep training in the background", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            return "stop"
        if clicked is keep:
            return "background"
        _ = cancel
        return "cancel"

    def shutdown(self, timeout_s: float = 0.0) -> None:
        """Kill the processes this tab follows (tests and emergency exits)."""
        for proc in (self.probe, self.process):
            if proc is not None and proc.is_running():
                proc.kill()
                if timeout_s:
                    proc.wait(timeout_s)
                else:
                    proc.detach()
