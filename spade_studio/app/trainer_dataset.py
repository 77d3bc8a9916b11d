"""The Train tab's dataset box: the folder, its check report (summary, label ids, problems) and a
few label | image thumbnails; the check runs in a worker thread (:func:`check_folder`)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .qimage import rgb_to_qimage
from .workers import Jobs


@dataclass
class DataCheck:
    """A dataset folder's check report with what the set-up needs next to it."""

    root: Path
    report: Any  # trainer.datacheck.DataReport
    label_set: Any  # LabelSet | None
    thumbs: list[tuple[str, Any, Any]]  # (stem, label RGB, image RGB)
    cuda: bool
    mps: bool


def check_folder(root: str | Path, thumbs: int = 4, height: int = 64) -> DataCheck:
    """Run ``check_data`` and make a few label | image thumbnails (worker thread)."""
    import numpy as np
    from PIL import Image

    from spade_studio.imageio import read_label_map
    from trainer.datacheck import check_data
    from trainer.datasets import find_samples, resolve_label_set

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


class DatasetBox(QGroupBox):
    """"1  Dataset": choose a folder (:meth:`set_folder`), see its check report.

    Signals: ``folder_set(Path)`` when a check starts, ``checked(object)`` with the
    :class:`DataCheck` when it is done, ``check_failed(str)`` when the folder cannot be read."""

    folder_set = Signal(object)
    checked = Signal(object)
    check_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("1  Dataset", parent)
        self._check: DataCheck | None = None
        self._checking = False
        self._jobs = Jobs(self)
        self._jobs.done.connect(self._on_done)
        dl = QVBoxLayout(self)
        row = QHBoxLayout()
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("Choose, drop or type a folder with images/ and labels/")
        self.data_edit.setClearButtonEnabled(True)
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
        self.recheck_button.clicked.connect(lambda: self.root() and self.set_folder(self.root()))
        self.data_edit.returnPressed.connect(self._typed)

    def _typed(self) -> None:
        """A typed or pasted path: check it when it is a folder, else say so (nothing else changes)."""
        root = self.root()
        if root is None:
            return
        if not root.expanduser().is_dir():
            self.data_summary.setText(f"<span style='color:#e57373'><b>Not a folder:</b> "
                                      f"{escape(str(root), quote=False)}</span>")
            return
        self.set_folder(root)

    # -- state --------------------------------------------------------------------------------------
    def root(self) -> Path | None:
        t = self.data_edit.text().strip()
        return Path(t) if t else None

    def data_check(self) -> DataCheck | None:
        return self._check

    def is_checking(self) -> bool:
        return self._checking

    def set_folder(self, folder: str | Path) -> Path:
        """Show ``folder`` and check it in a worker thread (the report arrives later)."""
        root = Path(folder).expanduser().resolve()
        self.data_edit.setText(str(root))
        self.data_edit.setToolTip(str(root))
        self._check = None
        self._checking = True
        self.data_summary.setText(f"<i>Checking {escape(root.name, quote=False)}… (reads every file)</i>")
        self.ids_label.hide()
        self.problems.hide()
        self.thumbs_box.hide()
        self._jobs.submit("check", lambda: check_folder(root))
        self.folder_set.emit(root)
        return root

    def _on_done(self, _kind: str, result: object) -> None:
        self._checking = False
        if isinstance(result, Exception):
            self.data_summary.setText(f"<span style='color:#e57373'><b>Cannot check the folder:</b> "
                                      f"{escape(str(result), quote=False)}</span>")
            self.check_failed.emit(str(result))
        else:
            self._show(result)  # type: ignore[arg-type]
            self.checked.emit(result)

    # -- the report ---------------------------------------------------------------------------------
    def _show(self, chk: DataCheck) -> None:
        self._check = chk
        r = chk.report
        if r.fatal:
            head = "<span style='color:#e57373'><b>Training cannot start.</b></span> " + \
                   escape("; ".join(r.fatal_reasons[:2]), quote=False)
        else:
            sizes = ", ".join(sorted(r.image_sizes, key=lambda k: -r.image_sizes[k])[:3])
            bad = f", <span style='color:#ffb74d'>{len(r.bad_files)} bad (skipped)</span>" if r.bad_files else ""
            head = (f"<span style='color:#81c784'><b>{r.usable} usable pair{'s' if r.usable != 1 else ''}</b></span>"
                    f" of {r.pairs}{bad} · {escape(r.layout or '?', quote=False)} layout"
                    + (f" · label set <b>{escape(r.label_set, quote=False)}</b>" if r.label_set else "")
                    + (f" · {sizes}" if sizes else "")
                    + (f" · {r.instances} instance maps" if r.instances else ""))
        self.data_summary.setText(head)
        self._show_ids(chk)
        self._show_problems(r)
        self._show_thumbs(chk.thumbs)

    def _show_ids(self, chk: DataCheck) -> None:
        r = chk.report
        if not r.ids:
            self.ids_label.hide()
            return
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
            name = escape(st.name or f"id {st.id}", quote=False)
            style = "color:#e57373;" if warn else ""
            name = name.replace(" ", "&nbsp;")
            chips.append(f"<span style='white-space:nowrap'><span style='background:{color}'>&nbsp;&nbsp;&nbsp;"
                         f"</span>&nbsp;<span style='{style}'>{st.id}&nbsp;{name}</span></span>")
        more = f" … +{len(r.ids) - 48} more" if len(r.ids) > 48 else ""
        self.ids_label.setText(f"<b>{len(r.ids)} label ids found:</b> " + " &nbsp; ".join(chips) + more)
        self.ids_label.setToolTip("Label ids present in the label maps (red: not in the label set)")
        self.ids_label.show()

    def _show_problems(self, r: Any) -> None:
        self.problems.clear()
        if not r.problems:
            self.problems.hide()
            return
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

    def _show_thumbs(self, thumbs: list[tuple[str, Any, Any]]) -> None:
        import numpy as np

        while self.thumbs_grid.count():
            w = self.thumbs_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for i, (stem, lab, img) in enumerate(thumbs):
            gap = np.full((lab.shape[0], 2, 3), 30, np.uint8)
            pair = QLabel()
            pair.setPixmap(QPixmap.fromImage(rgb_to_qimage(np.concatenate([lab, gap, img], 1))))
            pair.setToolTip(f"{stem}: label map | image")
            self.thumbs_grid.addWidget(pair, i // 2, i % 2, Qt.AlignmentFlag.AlignLeft)
        self.thumbs_box.setVisible(bool(thumbs))
