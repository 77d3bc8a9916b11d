"""The Train tab's runs list (right, bottom): the run folders with status, progress, data and
start time, and buttons for the selected one. It only displays; the tab reads the folders."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from trainer.runs import RESUMABLE, RunInfo, RunStatus, status_text

STATUS_COLORS = {
    RunStatus.RUNNING: "#4fc3f7", RunStatus.FINISHED: "#81c784", RunStatus.DONE: "#81c784",
    RunStatus.PAUSED: "#ffd54f", RunStatus.STOPPED: "#ffb74d", RunStatus.ERROR: "#e57373",
    RunStatus.CRASHED: "#e57373", RunStatus.UNFINISHED: "#b0bec5", RunStatus.NEW: "#b0bec5",
}
_PATH, _STATUS = 0, 1  # the columns whose UserRole holds the run folder / the status


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, "#b0bec5")


def _progress(step: int, total: int | None) -> str:
    return f"{step:,} / {total:,}" if total else f"{step:,}"


class RunsPanel(QWidget):
    """The list of runs; the tab connects the buttons and ``runs_list``'s selection."""

    def __init__(self, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.infos: dict[str, RunInfo] = {}  # by str(path), from the last scan
        rl = QVBoxLayout(self)
        rl.setContentsMargins(8, 4, 8, 8)
        rh = QHBoxLayout()
        rt = QLabel("Runs")
        f = QFont(rt.font())
        f.setBold(True)
        rt.setFont(f)
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
        rl.addLayout(rh)
        self.runs_list = QTreeWidget()
        self.runs_list.setHeaderLabels(["Run", "Status", "Progress", "Data", "Started"])
        self.runs_list.setRootIsDecorated(False)
        self.runs_list.setUniformRowHeights(True)
        self.runs_list.setAlternatingRowColors(True)
        hdr = self.runs_list.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        rl.addWidget(self.runs_list, 1)

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.runs_list.topLevelItem(i) for i in range(self.runs_list.topLevelItemCount())]

    def show_runs(self, runs: list[RunInfo], running: Path | None) -> None:
        """List ``runs`` (``running``: the folder training here, shown as running)."""
        selected = self.selected_run()
        self.infos = {str(r.path): r for r in runs}
        self.runs_list.blockSignals(True)
        self.runs_list.clear()
        for info in runs:
            status = info.status
            if running is not None and info.path.resolve() == running:
                status = RunStatus.RUNNING
            started = datetime.fromtimestamp(info.started).strftime("%Y-%m-%d %H:%M") if info.started else ""
            item = QTreeWidgetItem([info.name, status_text(status), _progress(info.step, info.total),
                                    Path(info.data).name if info.data else "", started])
            item.setData(_PATH, Qt.ItemDataRole.UserRole, str(info.path))
            item.setData(_STATUS, Qt.ItemDataRole.UserRole, status.value)
            item.setForeground(1, QBrush(QColor(status_color(status))))
            item.setToolTip(0, str(info.path))
            item.setToolTip(1, info.message or status.value)
            item.setToolTip(3, info.data)
            self.runs_list.addTopLevelItem(item)
            if selected is not None and info.path == selected:
                item.setSelected(True)
        self.runs_list.blockSignals(False)
        for c in (1, 2, 4):
            self.runs_list.resizeColumnToContents(c)
        self.runs_hint.setText(f"in {self.runs_dir}" if runs else f"none yet in {self.runs_dir}")

    def show_scan_error(self, error: str) -> None:
        self.runs_hint.setText(f"cannot read {self.runs_dir}: {error}")

    def update_row(self, run_dir: Path, step: int, total: int) -> None:
        key = str(run_dir)
        for it in self._items():
            if it.data(_PATH, Qt.ItemDataRole.UserRole) == key:
                it.setText(2, _progress(step, total))
                return

    def runs(self) -> list[tuple[Path, str]]:
        """(folder, status) of each listed run, in order."""
        return [(Path(it.data(_PATH, Qt.ItemDataRole.UserRole)), it.data(_STATUS, Qt.ItemDataRole.UserRole))
                for it in self._items()]

    def select_run(self, run_dir: str | Path) -> bool:
        target = Path(run_dir).resolve()
        for it in self._items():
            if Path(it.data(_PATH, Qt.ItemDataRole.UserRole)).resolve() == target:
                self.runs_list.setCurrentItem(it)
                it.setSelected(True)
                return True
        return False

    def selected_run(self) -> Path | None:
        items = self.runs_list.selectedItems()
        return Path(items[0].data(_PATH, Qt.ItemDataRole.UserRole)) if items else None

    def selected_status(self) -> str:
        items = self.runs_list.selectedItems()
        return items[0].data(_STATUS, Qt.ItemDataRole.UserRole) if items else ""

    def info(self, run: Path) -> RunInfo:
        """The listed info of ``run`` (unfinished when the last scan did not see it)."""
        return self.infos.get(str(run)) or RunInfo(run, RunStatus.UNFINISHED)

    def update_buttons(self, running_here: bool, followed: Path | None) -> None:
        """``running_here``: this tab follows a trainer (working on ``followed``)."""
        run = self.selected_run()
        status = self.selected_status()
        is_followed = running_here and run is not None and followed is not None and \
            run.resolve() == followed.resolve()
        if status == RunStatus.RUNNING and not is_followed:
            self.run_resume_button.setText("Follow")
            self.run_resume_button.setEnabled(not running_here)
        else:
            self.run_resume_button.setText("Resume")
            self.run_resume_button.setEnabled(run is not None and not running_here and status in RESUMABLE)
        self.run_use_button.setEnabled(run is not None and (run / "model.safetensors").is_file())
        self.run_open_button.setEnabled(run is not None)
