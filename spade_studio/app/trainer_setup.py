"""The Train tab's set-up panel (left): dataset, starting point, settings, run folder and Start;
it turns the set-up into a :class:`trainer.config.TrainConfig` (:meth:`SetupPanel.config`) and
times the settings with a short background probe (:meth:`SetupPanel.measure_speed`)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from trainer.config import TrainConfig
from trainer.runs import RunStatus
from trainer.suggest import suggest_settings

from .trainer_dataset import DataCheck, DatasetBox
from .trainer_options import OptionsBox
from .trainer_process import TrainerProcess, train_args_from_config
from .wheel import guard_wheel
from .workers import Jobs

SCRATCH_NOTE = "Fresh random weights: needs the most iterations."


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


def _bundled_model() -> Path | None:
    from spade_studio.paths import default_model_path

    try:
        return default_model_path()
    except FileNotFoundError:
        return None


class SetupPanel(QScrollArea):
    """The set-up, scrollable. ``dataset`` and ``options`` are its boxes; the tab connects
    ``start_button`` and shows why a start failed in ``start_hint``."""

    def __init__(self, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.run_edited = False  # the run folder was typed or chosen (not the default)
        self.probe: TrainerProcess | None = None
        self._probe_dir: Path | None = None
        self._probe_steps: list[dict] = []
        self._probe_settings: dict[str, Any] = {}
        self._model_info: dict[str, Any] | None = None
        self._start_path: Path | None = None
        self._jobs = Jobs(self)
        self._jobs.done.connect(self._model_read)

        inner = QWidget()
        sl = QVBoxLayout(inner)
        sl.setContentsMargins(8, 8, 8, 8)
        sl.setSpacing(10)
        self.dataset = DatasetBox()
        sl.addWidget(self.dataset)

        start_box = QGroupBox("2  Starting point")
        stl = QVBoxLayout(start_box)
        self.start_combo = QComboBox()
        self.start_combo.addItem("From scratch", "scratch")
        self.start_combo.addItem("The bundled landscape model", "bundled")
        self.start_combo.addItem("A model file…", "file")
        self.start_combo.addItem("An official checkpoint folder…", "official")
        self._bundled = _bundled_model()
        if self._bundled is None:
            item = self.start_combo.model().item(1)
            item.setEnabled(False)
            item.setToolTip("This build has no bundled model")
        stl.addWidget(self.start_combo)
        self.start_note = QLabel(SCRATCH_NOTE)
        self.start_note.setWordWrap(True)
        self.start_note.setTextFormat(Qt.TextFormat.RichText)
        stl.addWidget(self.start_note)
        sl.addWidget(start_box)

        self.options = OptionsBox()
        sl.addWidget(self.options)

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

        self.setWidget(inner)
        self.setWidgetResizable(True)
        guard_wheel(inner)  # the wheel scrolls the panel; a spin box changes only once clicked
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(410)  # the settings form with "Advanced" open, plus a scroll bar
        self.setMaximumWidth(480)
        self.setFrameShape(QFrame.Shape.NoFrame)

        self.dataset.data_button.clicked.connect(self._choose_data)
        self.dataset.folder_set.connect(self._folder_set)
        self.dataset.checked.connect(self._checked)
        self.start_combo.activated.connect(self._start_point_chosen)
        self.options.measure_button.clicked.connect(self.measure_speed)
        self.run_button.clicked.connect(self._choose_run_folder)
        self.run_edit.textEdited.connect(lambda _t: setattr(self, "run_edited", True))
        self.options.set_settings(suggest_settings(100))

    # -- dataset --------------------------------------------------------------------------------------
    def data_root(self) -> Path | None:
        return self.dataset.root()

    def data_check(self) -> DataCheck | None:
        return self.dataset.data_check()

    def _choose_data(self) -> None:
        start = str(self.data_root() or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", start)
        if folder:
            self.dataset.set_folder(folder)

    def _folder_set(self, root: Path) -> None:
        if not self.run_edited:
            self.run_edit.setText(str(self.default_run_dir(root)))

    def _checked(self, chk: DataCheck) -> None:
        self.options.cuda = chk.cuda
        if not chk.report.fatal:
            self.options.set_settings({k: v for k, v in suggest_settings(chk.report.usable, chk.cuda).items()
                                       if k not in ("device", "low_priority")})
        self._check_label_sets()

    # -- starting point ---------------------------------------------------------------------------------
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
        if kind == "scratch":
            self._jobs.cancel("model")
            self._start_path = None
            self.start_note.setText(SCRATCH_NOTE)
        else:
            p = Path(path) if path else self._bundled
            if p is None:
                self.set_start_point("scratch")
                return
            self._start_path = Path(p)
            self.start_note.setText(f"<i>Reading {escape(self._start_path.name, quote=False)}…</i>")
            self._jobs.submit("model", lambda: inspect_model(p))
        self._apply_model_info()

    def start_point(self) -> tuple[str, Path | None]:
        return self.start_combo.currentData(), self._start_path

    def _model_read(self, _kind: str, result: object) -> None:
        if isinstance(result, Exception):
            self._model_info = None
            self.start_note.setText(f"<span style='color:#e57373'><b>Cannot read the model:</b> "
                                    f"{escape(str(result), quote=False)}</span>")
        else:
            self._model_info = result  # type: ignore[assignment]
            self._apply_model_info()

    def _apply_model_info(self) -> None:
        self.options.fix_widths(self._model_info)
        self._check_label_sets()

    def _check_label_sets(self) -> None:
        info = self._model_info
        if info is None or self._start_path is None:
            return
        ls = info["label_set"]
        n = len(ls)
        text = (f"Fine-tune <b>{escape(self._start_path.name, quote=False)}</b> ({escape(ls.name, quote=False)}, "
                f"{n} labels; ngf {info['ngf']}, SPADE hidden {info['spade_hidden']}"
                + (", style encoder" if info["use_vae"] else "") + "). The network widths come from the model.")
        chk = self.data_check()
        data_ls = chk.label_set if chk is not None else None
        if data_ls is not None:
            if ls.same_labels(data_ls):
                text += " <span style='color:#81c784'>Same label set as the data: every layer is kept.</span>"
            else:
                text += (f" <span style='color:#ffb74d'><b>The data uses another label set</b> "
                         f"({escape(data_ls.name, quote=False)}, {len(data_ls)} labels): the label layers (the "
                         f"label-map input and every SPADE layer's first conv) will be re-initialised; the rest "
                         f"is kept.</span>")
        self.start_note.setText(text)

    # -- run folder and config ----------------------------------------------------------------------------
    def default_run_dir(self, root: Path) -> Path:
        """``<runs>/<dataset>-<date>``, numbered when that exists."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        base = self.runs_dir / f"{root.name or 'data'}-{stamp}"
        cand, n = base, 2
        while cand.exists():
            cand = base.with_name(f"{base.name}-{n}")
            n += 1
        return cand

    def run_folder(self) -> Path:
        t = self.run_edit.text().strip()
        if t:
            return Path(t).expanduser().resolve()
        return self.default_run_dir(self.data_root() or Path("data"))

    def _choose_run_folder(self) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        folder = QFileDialog.getExistingDirectory(self, "Run folder", str(self.runs_dir))
        if folder:
            self.run_edit.setText(folder)
            self.run_edited = True

    def config(self, run_dir: str | Path | None = None) -> TrainConfig:
        """The TrainConfig of the current set-up (run folder: ``run_dir`` or the one shown)."""
        run = Path(run_dir) if run_dir is not None else self.run_folder()
        return self.options.config(str(self.data_root()), run, self._start_path)

    def update_start_button(self, running: bool) -> None:
        chk = self.data_check()
        checking = self.dataset.is_checking()
        self.start_button.setEnabled(not running and chk is not None and not chk.report.fatal and not checking)
        self.start_button.setText("Training…" if running else "Start training")
        if running:
            self.start_hint.clear()
        elif checking:
            self.start_hint.setText("Checking the dataset…")
        elif chk is None:
            self.start_hint.setText("Choose a dataset folder to start.")
        elif chk.report.fatal:
            self.start_hint.setText("The dataset check failed: fix the problems listed above.")
        elif self.start_hint.text() in ("Checking the dataset…", "Choose a dataset folder to start."):
            self.start_hint.clear()

    # -- speed probe ------------------------------------------------------------------------------------
    def measure_speed(self) -> bool:
        """Time 4 iterations of the current settings in a throw-away run (background process)."""
        chk = self.data_check()
        if self.data_root() is None or chk is None or chk.report.fatal:
            self.options.estimate_label.setText("Choose a usable dataset first, then measure.")
            return False
        if self.probe is not None and self.probe.is_running():
            return False
        self._probe_dir = Path(tempfile.mkdtemp(prefix="spade-probe-"))
        run = self._probe_dir / "run"
        cfg = replace(self.config(run), iters=4, log_every=1, sample_every=0, save_every=0)
        if cfg.init_from is not None:  # speed does not depend on the weights
            cfg = replace(cfg, init_from=None, ngf=self.options.ngf_box.value(),
                          spade_hidden=self.options.hidden_box.value())
        self.probe = TrainerProcess(self, low_priority=self.options.low_prio_box.isChecked())
        self._probe_steps = []
        self._probe_settings = self.options.settings()
        self.probe.event.connect(lambda ev: self._probe_steps.append(ev) if ev.get("event") == "step" else None)
        self.probe.finished.connect(self._probe_finished)
        try:
            self.probe.start(train_args_from_config(cfg), run)
        except OSError as exc:
            self.options.estimate_label.setText(f"Cannot measure: {exc}")
            return False
        self.options.measure_button.setEnabled(False)
        self.options.estimate_label.setText("<i>Measuring: 4 iterations in the background…</i>")
        return True

    def _probe_finished(self, status: str, code: int) -> None:
        self.options.measure_button.setEnabled(True)
        steps = [ev for ev in self._probe_steps if ev.get("step", 0) >= 2 and ev.get("it_s")]
        msg = self.probe.error_message if self.probe is not None else ""
        self._remove_probe_dir()
        if status == RunStatus.DONE and steps:
            rates = sorted(float(ev["it_s"]) for ev in steps)
            self.options.measured = (self._probe_settings, rates[len(rates) // 2])
            self.options.update_estimate()
        elif status in (RunStatus.ERROR, RunStatus.CRASHED):
            self.options.estimate_label.setText(f"<span style='color:#e57373'>The test run failed: "
                                                f"{escape(msg, quote=False)}</span>")
        else:
            self.options.update_estimate()

    def measured_it_s(self) -> float | None:
        return self.options.measured[1] if self.options.measured else None

    def end_probe(self) -> None:
        """Kill a running probe and remove its folder (the app is closing)."""
        if self.probe is not None and self.probe.is_running():
            self.probe.kill()
            self.probe.detach()
            self._remove_probe_dir()

    def _remove_probe_dir(self) -> None:
        if self._probe_dir is not None:
            shutil.rmtree(self._probe_dir, ignore_errors=True)
            self._probe_dir = None
