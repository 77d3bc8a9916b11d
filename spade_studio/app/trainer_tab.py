"""The Train tab: composes the set-up, monitor and runs panels and drives the trainer process.

Left: the set-up (:mod:`.trainer_setup`: dataset folder with its check report and thumbnails,
the starting point, settings with a time estimate, the run folder, Start). Right: the current run
(:mod:`.trainer_monitor`: progress, loss curves, latest samples, log, errors) above the list of
runs (:mod:`.trainer_runs`).

Nothing heavy runs on the GUI thread: the dataset check, the starting model's inspection and the
runs scan run in worker threads (:mod:`.workers`; the newest request wins), and training is a
child process followed through its files (see :mod:`.trainer_process`).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QMessageBox, QSplitter, QWidget

from trainer.runs import (
    RESUMABLE,
    RunInfo,
    RunStatus,
    last_metrics_step,
    list_runs,
    read_run_config,
    read_run_info,
    running_pid,
)

from .trainer_dataset import DataCheck
from .trainer_monitor import MonitorPanel
from .trainer_process import TrainerProcess, train_args_from_config
from .trainer_runs import RunsPanel
from .trainer_setup import SetupPanel
from .workers import Jobs


class TrainerTab(QWidget):
    """The Train tab. ``main_window`` may be None; it needs only ``load_model(path)``.

    Panels: ``setup`` (:class:`SetupPanel`), ``monitor`` (:class:`MonitorPanel`), ``runs_panel``
    (:class:`RunsPanel`); ``process`` is the trainer being followed."""

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
        self._jobs = Jobs(self)
        self._first_scan = True
        self._run_dir: Path | None = None  # the run shown in the monitor
        self._run_args: list[str] = []
        self._run_total = 1
        self._ask_close_hook: Callable[[], str] | None = None  # tests: returns stop / background / cancel
        self.setAcceptDrops(True)

        self.setup = SetupPanel(self.runs_dir)
        self.monitor = MonitorPanel()
        self.runs_panel = RunsPanel(self.runs_dir)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.monitor)
        right.addWidget(self.runs_panel)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        right.setChildrenCollapsible(False)
        self.right_split = right
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.setup)
        sep = QFrame()
        sep.setFrameShape(QFrame.Shape.VLine)
        sep.setFrameShadow(QFrame.Shadow.Plain)
        lay.addWidget(sep)
        lay.addWidget(right, 1)

        self._connect()
        self._update_buttons()
        self.refresh_runs()  # in a worker; a run still training from an earlier session is followed

    def _connect(self) -> None:
        s, m, r, p = self.setup, self.monitor, self.runs_panel, self.process
        for sig in (s.dataset.folder_set, s.dataset.checked, s.dataset.check_failed):
            sig.connect(self._update_buttons)
        s.start_button.clicked.connect(self.start)
        m.pause_button.clicked.connect(self.pause)
        m.resume_button.clicked.connect(lambda: self.resume())
        m.stop_button.clicked.connect(self._stop_clicked)
        m.use_button.clicked.connect(lambda: self.use_in_editor(self._run_dir))
        m.folder_button.clicked.connect(lambda: self._open_folder(self._run_dir))
        r.run_resume_button.clicked.connect(self._resume_selected)
        r.run_use_button.clicked.connect(lambda: self.use_in_editor(r.selected_run()))
        r.run_open_button.clicked.connect(lambda: self._open_folder(r.selected_run()))
        r.refresh_button.clicked.connect(self.refresh_runs)
        r.runs_list.itemSelectionChanged.connect(self._run_selected)
        r.runs_list.itemDoubleClicked.connect(lambda *_: self._resume_selected())
        self._jobs.done.connect(self._scanned)
        p.event.connect(self._on_event)
        p.progress.connect(lambda step, total, _eta: m.show_progress(step, total))
        p.sample.connect(m.show_sample)
        p.log_line.connect(m.append_log)
        p.finished.connect(self._on_finished)

    # -- the set-up (delegates) ---------------------------------------------------------------------
    def set_data_folder(self, folder: str | Path) -> None:
        """Show ``folder`` and check it in a worker thread (the report arrives later)."""
        self.setup.dataset.set_folder(folder)

    def data_check(self) -> DataCheck | None:
        return self.setup.data_check()

    def is_checking(self) -> bool:
        return self.setup.dataset.is_checking()

    def set_start_point(self, kind: str, path: str | Path | None = None) -> None:
        self.setup.set_start_point(kind, path)

    def start_point(self) -> tuple[str, Path | None]:
        return self.setup.start_point()

    def settings(self) -> dict[str, Any]:
        return self.setup.options.settings()

    def set_settings(self, values: dict[str, Any]) -> None:
        """Set any of the keys of :meth:`settings` (the rest keep their values)."""
        self.setup.options.set_settings(values)

    def train_args(self, run_dir: str | Path | None = None) -> list[str]:
        """``spade-studio-cli train`` options for the current set-up."""
        return train_args_from_config(self.setup.config(run_dir))

    def measure_speed(self) -> bool:
        return self.setup.measure_speed()

    def measured_it_s(self) -> float | None:
        return self.setup.measured_it_s()

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

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a new run with the current set-up; False (with the reason shown) if it cannot."""
        if self.process.is_running():
            return False
        chk, hint = self.data_check(), self.setup.start_hint
        if self.setup.data_root() is None or chk is None:
            hint.setText("Choose a dataset folder first.")
            return False
        if chk.report.fatal:
            hint.setText("The dataset check failed: fix the problems listed above.")
            return False
        run = self.setup.run_folder()
        holds_run = (run / "config.json").exists() or any(run.glob("checkpoints/ckpt_*.pt"))
        if holds_run and not self.setup.run_edited:  # the default name of an earlier start: a fresh one
            run = self.setup.default_run_dir(self.setup.data_root())
            self.setup.run_edit.setText(str(run))
            holds_run = False
        if holds_run:
            hint.setText(f"{run.name} already holds a run: choose another folder, or resume it from the Runs list.")
            return False
        self.setup.run_edited = False
        cfg = self.setup.config(run)
        return self._launch(train_args_from_config(cfg), run, cfg.iters, resume=False)

    def _launch(self, args: list[str], run: Path, total: int, resume: bool) -> bool:
        self._run_dir = run
        self._run_args = list(args)
        self._run_total = total
        self.monitor.begin(run, total, resume)
        self.process.low_priority = self.setup.options.low_prio_box.isChecked()
        try:
            self.process.start(args, run, resume=resume)
        except OSError as exc:
            self.monitor.show_error(("The trainer could not be started", str(exc)))
            return False
        self.monitor.append_log(f"$ spade-studio-cli train {' '.join(args)}{' --resume' if resume else ''}")
        self.monitor.set_status(RunStatus.RUNNING)
        self.setup.start_hint.clear()
        self._update_buttons()
        self.refresh_runs()
        return True  # the field keeps naming the run just started; the next Start picks a fresh name

    def pause(self) -> None:
        if self.process.is_running():
            self.process.pause()
            self.monitor.stats_label.setText("Pausing: finishing the step and saving a checkpoint…")
            self._update_buttons()

    def stop(self) -> None:
        if self.process.is_running():
            self.process.stop()
            self.monitor.stats_label.setText("Stopping: finishing the step and saving a checkpoint…")
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
            return self._launch(args, run, int(cfg.get("iters") or 1), resume=True)
        if self._run_dir == run and self._run_args:  # ended before writing config.json: start over
            return self._launch(self._run_args, run, self._run_total, resume=False)
        self.setup.start_hint.setText(f"{run.name}: nothing to resume (no config.json).")
        return False

    def follow(self, run_dir: str | Path) -> bool:
        """Follow a run that is training in the background (started by an earlier session)."""
        if self.process.is_running():
            return False
        run = Path(run_dir).resolve()
        self._run_dir = run
        self.monitor.begin_follow(run, read_run_config(run).get("iters"), last_metrics_step(run) or {})
        if not self.process.attach(run):
            return False
        self.monitor.following(self.process.log_tail(60))
        self._update_buttons()
        return True

    # -- process signals ----------------------------------------------------------------------------
    def _on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        self.monitor.show_event(ev, self.process.stop_requested in ("stop", "pause"))
        if kind == "step" and self._run_dir is not None:
            self.runs_panel.update_row(self._run_dir, int(ev["step"]), int(ev.get("total") or 0))
        elif kind == "start":
            self.refresh_runs()  # config.json exists now
        elif kind == "checkpoint":
            self._update_buttons()  # the model file now exists: "Use in editor" works mid-run
            self.refresh_runs()

    def _on_finished(self, status: str, code: int) -> None:
        p = self.process
        step = (p.final_event or p.last_step or {}).get("step")
        self.monitor.show_finished(status, step, p.error_message, p.log_tail(60), code)
        self._update_buttons()
        self.refresh_runs()
        if self._run_dir is not None:
            self.run_finished.emit(str(self._run_dir), status)

    def status(self) -> str:
        """The status shown for the run in the monitor ("" before any)."""
        return self.monitor.status

    def error_shown(self) -> tuple[str, str] | None:
        return self.monitor.error_shown()

    def _update_buttons(self, *_: object) -> None:
        running = self.process.is_running()
        self.setup.update_start_button(running)
        self.monitor.update_buttons(self._run_dir, running, running and bool(self.process.stop_requested))
        self.runs_panel.update_buttons(running, self._run_dir)

    # -- runs list ----------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Re-read the runs folder in a worker thread (the list updates when it is done)."""
        runs_dir = self.runs_dir
        extra = self._run_dir.resolve() if self._run_dir is not None else None

        def scan() -> list[RunInfo]:
            runs = list_runs(runs_dir)
            if extra is not None and extra.parent != runs_dir and extra.exists():
                runs.insert(0, read_run_info(extra))  # a run folder outside the runs dir
            return runs

        self._jobs.submit("runs", scan)

    def _scanned(self, _kind: str, result: object) -> None:
        if isinstance(result, Exception):
            self.runs_panel.show_scan_error(str(result))
            self._update_buttons()
            return
        runs: list[RunInfo] = result  # type: ignore[assignment]
        running = self._run_dir.resolve() if self.process.is_running() and self._run_dir is not None else None
        self.runs_panel.show_runs(runs, running)
        self._update_buttons()
        if self._first_scan:
            self._first_scan = False
            live = [r for r in runs if r.status == RunStatus.RUNNING]
            if live and not self.process.is_running() and self.follow(live[0].path):
                self.monitor.append_log("(reattached: this run kept training while the app was closed)")

    def runs(self) -> list[tuple[Path, str]]:
        return self.runs_panel.runs()

    def select_run(self, run_dir: str | Path) -> bool:
        return self.runs_panel.select_run(run_dir)

    def _run_selected(self) -> None:
        run = self.runs_panel.selected_run()
        if run is not None and not self.process.is_running():
            self._run_dir = run  # show the run in the monitor (its curves, latest samples, status)
            self.monitor.show_run(self.runs_panel.info(run))
        self._update_buttons()

    def _resume_selected(self) -> None:
        run, status = self.runs_panel.selected_run(), self.runs_panel.selected_status()
        if run is None or self.process.is_running():
            return
        if status == RunStatus.RUNNING:
            self.follow(run)
        elif status in RESUMABLE:
            self.resume(run)

    def use_in_editor(self, run_dir: str | Path | None) -> bool:
        """Load ``<run>/model.safetensors`` into the editor (``main_window.load_model``)."""
        if run_dir is None:
            return False
        model = Path(run_dir) / "model.safetensors"
        if not model.is_file():
            self.monitor.stats_label.setText("This run has no model file yet (it is written at every checkpoint).")
            return False
        self.model_chosen.emit(str(model))
        loader = getattr(self.main_window, "load_model", None)
        if callable(loader):
            loader(str(model))
        return True

    def _open_folder(self, run_dir: Path | None) -> None:
        if run_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(run_dir)))

    # -- closing ------------------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Called by the main window's closeEvent: False keeps the app open (Cancel)."""
        self.setup.end_probe()
        if not self.process.is_running():
            return True
        choice = self._ask_close_hook() if self._ask_close_hook is not None else self._ask_close()
        if choice == "cancel":
            return False
        if choice == "stop":
            # the trainer finishes its step, saves and exits on its own (it writes to files, not to us)
            self.process.stop()
        self.process.detach()
        return True

    def _ask_close(self) -> str:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        name = self._run_dir.name if self._run_dir is not None else "a run"
        box.setText(f"<b>{escape(name, quote=False)}</b> is still training.")
        box.setInformativeText("Stop it (a checkpoint is saved, Resume continues later), or keep it training in "
                               "the background? The Train tab shows it again the next time SPADE Studio starts.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep training in the background", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            return "stop"
        if clicked is keep:
            return "background"
        return "cancel"

    def shutdown(self, timeout_s: float = 0.0) -> None:
        """Kill the processes this tab follows (tests and emergency exits)."""
        for proc in (self.setup.probe, self.process):
            if proc is not None and proc.is_running():
                proc.kill()
                if timeout_s:
                    proc.wait(timeout_s)
                else:
                    proc.detach()
