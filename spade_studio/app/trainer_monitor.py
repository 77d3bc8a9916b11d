"""The Train tab's monitor panel (right, top): the run shown, its status and controls, progress,
loss curves, latest samples, log and error banner. It only displays; the tab drives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from trainer.runs import RESUMABLE, RunInfo, RunStatus, status_text, tail_text
from trainer.suggest import advice_for

from .loss_plot import LossPlot
from .scaled_image import ScaledImage
from .trainer_runs import status_color

CAPTION = "label · real · generated — step {}"


def _bold(font: QFont, scale: float = 1.0) -> QFont:
    f = QFont(font)
    if scale != 1.0:
        f.setPointSizeF(f.pointSizeF() * scale)
    f.setBold(True)
    return f


class MonitorPanel(QWidget):
    """The current run. The tab connects the buttons (pause, resume, stop, use, folder)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = ""  # the status shown in the chip
        ml = QVBoxLayout(self)
        ml.setContentsMargins(8, 8, 8, 4)
        head = QHBoxLayout()
        self.run_title = QLabel("No run yet")
        self.run_title.setFont(_bold(self.run_title.font(), 1.2))
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
        self.error_title.setFont(_bold(self.error_title.font()))
        self.error_text = QLabel()
        self.error_text.setWordWrap(True)
        self.error_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        el.addWidget(self.error_title)
        el.addWidget(self.error_text)
        self.error_frame.hide()
        ml.addWidget(self.error_frame)

        self.plot = LossPlot()
        self.sample_view = ScaledImage("Samples (label · real · generated) appear here during training")
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
        self.log_toggle.toggled.connect(self._toggle_log)

    def _toggle_log(self, on: bool) -> None:
        self.log_view.setVisible(on)
        self.log_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    # -- parts ------------------------------------------------------------------------------------------
    def set_title(self, run: Path, tooltip: bool = True) -> None:
        self.run_title.setText(run.name)
        if tooltip:
            self.run_title.setToolTip(str(run))

    def set_status(self, status: str) -> None:
        self.status = status
        self.progress.setFormat("%v / %m steps")
        self.status_chip.setText(status_text(status))
        self.status_chip.setStyleSheet(f"QLabel {{ color: #101418; background: {status_color(status)};"
                                       f" border-radius: 8px; padding: 1px 8px; font-weight: bold; }}")
        self.status_chip.show()

    def show_progress(self, step: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
        self.progress.setValue(max(0, min(step, total)))

    def append_log(self, line: str) -> None:
        self.log_view.appendPlainText(line.rstrip())

    def show_error(self, err: tuple[str, str] | None) -> None:
        if err is None:
            self.error_frame.hide()
            return
        self.error_title.setText(err[0])
        self.error_text.setText(err[1])
        self.error_frame.show()
        self.log_toggle.setChecked(True)

    def error_shown(self) -> tuple[str, str] | None:
        return (self.error_title.text(), self.error_text.text()) if not self.error_frame.isHidden() else None

    def show_sample(self, path: str) -> None:
        pix = QPixmap(path)
        if pix.isNull():  # written atomically, so this is rare; fall back to latest.png
            pix = QPixmap(str(Path(path).parent / "latest.png"))
        self.sample_view.set_pixmap(pix)
        step = Path(path).stem.replace("step_", "").lstrip("0") or "0"
        self.sample_caption.setText(CAPTION.format(step))

    def show_latest_sample(self, run: Path) -> None:
        latest = run / "samples" / "latest.png"
        if latest.exists():
            self.sample_view.set_pixmap(QPixmap(str(latest)))
            steps = sorted((run / "samples").glob("step_*.png"))
            step = steps[-1].stem.replace("step_", "").lstrip("0") if steps else "?"
            self.sample_caption.setText(CAPTION.format(step or 0))
        else:
            self.clear_sample()

    def clear_sample(self) -> None:
        self.sample_view.set_pixmap(None)
        self.sample_caption.clear()

    # -- whole views ----------------------------------------------------------------------------------
    def begin(self, run: Path, total: int, resume: bool) -> None:
        """A run is being launched in ``run``: clear what belongs to the previous one."""
        self.show_error(None)
        self.log_view.clear()
        self.set_title(run)
        if resume:
            self.plot.load_metrics(run / "metrics.jsonl")
        else:
            self.plot.clear()
            self.clear_sample()
        self.progress.setRange(0, max(1, total))
        self.stats_label.setText("Starting the trainer (loading torch and the data)…")

    def begin_follow(self, run: Path, total: int | None, last: dict[str, Any]) -> None:
        """A run that trains in the background is about to be followed (``last``: its last metrics)."""
        self.show_error(None)
        self.log_view.clear()
        self.set_title(run, tooltip=False)
        self.plot.load_metrics(run / "metrics.jsonl")
        self.show_latest_sample(run)
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(min(int(last.get("step", 0)), int(total)))

    def following(self, log: list[str]) -> None:
        """The background run is followed now (``log``: its trainer's last lines)."""
        for line in log:
            self.append_log(line)
        self.set_status(RunStatus.RUNNING)
        self.stats_label.setText("Following a run that kept training in the background.")

    def show_run(self, info: RunInfo) -> None:
        """A run folder that is not training here: its curves, latest samples, status and log."""
        run = info.path
        self.set_title(run)
        self.set_status(info.status)
        self.plot.load_metrics(run / "metrics.jsonl")
        self.show_latest_sample(run)
        self.progress.setRange(0, max(1, info.total or info.step or 1))
        self.progress.setValue(min(info.step, info.total or info.step))
        self.stats_label.setText(info.message or f"{status_text(info.status).capitalize()} at step {info.step}.")
        self.log_view.setPlainText("\n".join(tail_text(run / "trainer.log", 200)))
        if info.status in (RunStatus.ERROR, RunStatus.CRASHED):
            title, text = advice_for(info.status, info.message, tail_text(run / "trainer.log", 60))
            self.show_error((title, (info.message + "\n\n" if info.message else "") + text))
        else:
            self.show_error(None)

    def show_event(self, ev: dict[str, Any], stopping: bool) -> None:
        """A trainer event in the stats line and the log (``stopping``: a stop or pause is pending)."""
        from trainer.events import format_eta

        kind = ev.get("event")
        if isinstance(ev.get("step"), int) and self.progress.maximum() > 1:
            # every event that names a step moves the bar (start on resume, samples, checkpoints,
            # the end), so the bar and the texts never disagree
            self.progress.setValue(max(self.progress.value(), min(ev["step"], self.progress.maximum())))
        if kind == "step":
            self.plot.add_point(ev["step"], ev.get("losses") or {})
            parts = [f"{ev.get('it_s', 0):.2f} it/s", f"ETA {format_eta(ev.get('eta_s'))}",
                     f"epoch {ev.get('epoch', 0) + 1}"]
            if ev.get("skipped"):
                parts.append(f"{ev['skipped']} bad pairs skipped")
            if stopping:
                parts.insert(0, "saving a checkpoint and ending…")
            self.stats_label.setText("  ·  ".join(parts))
        elif kind == "start":
            model = ev.get("model") or {}
            at = f"resumed at step {ev['step']}, " if ev.get("step") else ""
            self.stats_label.setText(
                f"Training on {ev.get('device', '?')}: {at}{ev.get('samples', '?')} pairs, "
                f"{model.get('label_set', '?')} labels, {'x'.join(map(str, model.get('size', [])[::-1]))} px")
            self.append_log(f"started: {ev.get('samples')} pairs on {ev.get('device')}, step {ev.get('step')}"
                            f"/{ev.get('total')}")
        elif kind in ("log", "warning"):
            self.append_log(f"{kind}: {ev.get('message', '')}")
        elif kind == "checkpoint":
            self.append_log(f"checkpoint at step {ev.get('step')}: {ev.get('path')}")
        elif kind == "error":
            self.append_log(f"error: {ev.get('message', '')}")
        elif kind in ("done", "stopped"):
            self.append_log(f"{kind} at step {ev.get('step')}: model {ev.get('model')}")

    def show_finished(self, status: str, step: int | None, error_message: str, log: list[str],
                      code: int) -> None:
        """How a trainer process ended (``log``: its last lines)."""
        self.set_status(status)
        if status == RunStatus.DONE:
            self.stats_label.setText(f"Finished at step {step}. “Use in editor” loads the model.")
        elif status in (RunStatus.STOPPED, RunStatus.PAUSED):
            what = "Paused" if status == RunStatus.PAUSED else "Stopped"
            self.stats_label.setText(f"{what} at step {step}; checkpoint saved. Resume continues the run."
                                     if step is not None else f"{what} before training began.")
        else:
            title, text = advice_for(status, error_message, log[-60:], code)
            detail = error_message
            tail = [ln for ln in log[-8:] if ln.strip()]
            if status == RunStatus.CRASHED and tail:
                detail += "\nLast lines of the log:\n" + "\n".join(tail[-4:])
            self.show_error((title, f"{detail}\n\n{text}"))
            self.stats_label.setText(f"{status_text(status).capitalize()}"
                                     + (f" at step {step}." if step is not None else "."))

    def update_buttons(self, run_dir: Path | None, running: bool, stopping: bool) -> None:
        self.pause_button.setVisible(running)
        self.pause_button.setEnabled(running and not stopping)
        self.stop_button.setVisible(running)
        self.stop_button.setText("Force stop" if stopping else "Stop")
        self.stop_button.setToolTip("End the trainer now, without saving (the last checkpoint stays)" if stopping
                                    else "Save a checkpoint and end the run")
        self.resume_button.setVisible(not running and run_dir is not None and self.status in RESUMABLE)
        has_model = run_dir is not None and (run_dir / "model.safetensors").is_file()
        self.use_button.setVisible(run_dir is not None)
        self.use_button.setEnabled(has_model)
        self.folder_button.setVisible(run_dir is not None)
