"""The Train tab's settings box: training options (basic and advanced) with a time estimate,
turned into a :class:`trainer.config.TrainConfig` by :meth:`OptionsBox.config`.

The widgets hold no defaults of their own: the set-up fills them from
:func:`trainer.suggest.suggest_settings`, whose values not suggested are TrainConfig's defaults.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from trainer.config import TrainConfig
from trainer.suggest import estimate_it_s, estimate_seconds, format_duration

SIZES = (64, 128, 256, 512)
DEVICES = ("auto", "cpu", "cuda", "mps")
CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))


def _spin(lo: int, hi: int, tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    if tip:
        box.setToolTip(tip)
    return box


class OptionsBox(QGroupBox):
    """"3  Settings": :meth:`settings` / :meth:`set_settings` use TrainConfig field names (and
    ``low_priority``); the estimate uses :attr:`cuda` and :attr:`measured` ((settings, it/s))."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("3  Settings", parent)
        self.cuda = False
        self.measured: tuple[dict, float] | None = None  # (settings measured, it/s)
        self.widths_fixed = False  # ngf / SPADE hidden come from the starting model
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.size_box = QComboBox()
        for s in SIZES:
            self.size_box.addItem(f"{s} px", s)
        self.size_box.setToolTip("Training crop width; the model renders best near this size")
        self.batch_box = _spin(1, 256)
        self.iters_box = _spin(1, 10_000_000)
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
        self.ngf_box = _spin(1, 256, "Generator width (official models: 64)")
        self.hidden_box = _spin(4, 512, "SPADE hidden width (official models: 128)")
        self.ndf_box = _spin(4, 256, "Discriminator width (official: 64)")
        self.dlayers_box = _spin(2, 6, "Discriminator depth (official: 4)")
        self.threads_box = _spin(0, 256, "CPU threads for training (leaving one core free keeps the editor quick)")
        self.threads_box.setSpecialValueText("all")
        self.sample_box = _spin(0, 1_000_000, "Write a sample grid every N iterations")
        self.save_box = _spin(0, 1_000_000, "Write a checkpoint (and the model file) every N iterations")
        self.log_box = _spin(1, 100_000)
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

        self.adv_toggle.toggled.connect(self._toggle_advanced)
        for w in (self.size_box, self.device_box):
            w.currentIndexChanged.connect(self.update_estimate)
        for w in (self.batch_box, self.iters_box, self.ngf_box, self.hidden_box, self.ndf_box, self.threads_box):
            w.valueChanged.connect(self.update_estimate)
        self.vae_box.toggled.connect(self.update_estimate)

    def _toggle_advanced(self, on: bool) -> None:
        self.adv.setVisible(on)
        self.adv_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _spins(self) -> dict[str, QSpinBox]:
        return {"batch": self.batch_box, "iters": self.iters_box, "ndf": self.ndf_box,
                "n_layers_D": self.dlayers_box, "threads": self.threads_box, "sample_every": self.sample_box,
                "save_every": self.save_box, "log_every": self.log_box, "ngf": self.ngf_box,
                "spade_hidden": self.hidden_box}

    # -- values ---------------------------------------------------------------------------------------
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
        """Set any of the keys of :meth:`settings` (the rest keep their values; the widths stay
        while they come from the starting model)."""
        v = values
        if "size" in v:
            i = self.size_box.findData(int(v["size"]))
            if i < 0:
                self.size_box.addItem(f"{int(v['size'])} px", int(v["size"]))
                i = self.size_box.count() - 1
            self.size_box.setCurrentIndex(i)
        for k, box in self._spins().items():
            if k in ("ngf", "spade_hidden") and self.widths_fixed:
                continue
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
        self.update_estimate()

    def fix_widths(self, info: dict[str, Any] | None) -> None:
        """Take ngf, SPADE hidden and the style encoder from a starting model (None: free again)."""
        self.widths_fixed = info is not None
        for box in (self.ngf_box, self.hidden_box):
            box.setEnabled(info is None)
        if info is not None:
            self.ngf_box.setValue(info["ngf"])
            self.hidden_box.setValue(info["spade_hidden"])
            if info["use_vae"]:
                self.vae_box.setChecked(True)
            self.vae_box.setEnabled(not info["use_vae"])
        else:
            self.vae_box.setEnabled(True)
        self.update_estimate()

    def config(self, data: str | Path, out: str | Path, init_from: str | Path | None = None) -> TrainConfig:
        """The TrainConfig of these settings (a starting model's widths are its own)."""
        kw = {k: v for k, v in self.settings().items() if k in CONFIG_FIELDS}
        kw["threads"] = kw["threads"] or None  # 0 reads "all"
        kw["lambda_vgg"] = 0.0  # the app ships no VGG19 weights: say so instead of warning every run
        if init_from is not None:
            del kw["ngf"], kw["spade_hidden"]
            kw["init_from"] = str(init_from)
        return TrainConfig(data=str(data), out=str(out), **kw)

    # -- estimate -------------------------------------------------------------------------------------
    def update_estimate(self, *_: object) -> None:
        s = self.settings()
        it_s = estimate_it_s(s, self.cuda)
        how = "rough estimate"
        if self.measured is not None:
            ms, measured = self.measured
            it_s = measured * it_s / max(estimate_it_s(ms, self.cuda), 1e-9)
            how = f"measured {measured:.2f} it/s" + ("" if ms == s else ", scaled to these settings")
        self.estimate_label.setText(f"About <b>{format_duration(estimate_seconds(s, it_s))}</b> "
                                    f"<span style='color:#9aa5b1'>({it_s:.3g} it/s, {how})</span>")
        self.estimate_label.setTextFormat(Qt.TextFormat.RichText)
