"""The main window's file commands (new, open, save, save as project, export layers and image,
reference photo) as a mixin of :class:`spade_studio.app.main_window.MainWindow`: it uses the
window's ``document``, ``settings``, ``style_panel``, ``output``, ``tool_bar``, ``autosaver`` and
its ``show_error`` / ``_fill_recent`` / ``_store_look`` / ``_apply_project_look`` /
``_offer_remap`` / ``set_wrap``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .dialogs import InfoDialog, NewDocumentDialog
from .document import is_project_path

MAP_FILTER = "Label maps and projects (*.png *.ora);;Label maps (*.png);;OpenRaster projects (*.ora);;All files (*)"
PROJECT_FILTER = "OpenRaster project (*.ora)"
LAYERS_FILTER = "OpenRaster (*.ora);;Photoshop (*.psd)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"


class FileActions:
    """File menu commands; every failure is a message and leaves the open document as it was."""

    def maybe_save(self) -> bool:
        """True when it is fine to discard the current document."""
        if not self.document.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The label map has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_document(self) -> None:
        if not self.maybe_save():
            return
        stride = self.model_info.stride if self.model_info else 32
        dlg = NewDocumentDialog(self.settings.new_width, self.settings.new_height, self.document.label_set,
                                stride, self, one_go_side=self.model_info.one_go_side if self.model_info else 0,
                                wrap=self.service.wrap)
        if dlg.exec():
            w, h, ls, fill = dlg.values()
            self.settings.new_width, self.settings.new_height = w, h
            self.set_wrap(dlg.wrap())
            self.document.new(w, h, ls, fill)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open label map", "", MAP_FILTER)
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        try:
            notes = self.document.open(path)
        except Exception as exc:  # noqa: BLE001 - any failure: message, the current document stays
            what = "project" if is_project_path(path) else "label map"
            self.show_error(f"Cannot open the {what}", str(exc))
            return False
        self._pending_look = None  # a look of an earlier project waiting for the model
        if is_project_path(path):
            if self.document.project_render is not None:  # shown until the model renders
                self.last_image = self.document.project_render
                self.output.set_image(self.last_image)
            if self.document.reference is not None and self.tool_bar.ref_slider.value() == 0:
                self.tool_bar.ref_slider.setValue(50)
            if self.document.project_styles:  # the project's look, now or once the model is loaded
                self._pending_look = (dict(self.document.project_styles), dict(self.document.project_style_images))
                if self.model_info is not None:
                    self._apply_project_look(*self._pending_look)
        self.settings.add_recent_file(path)
        self._fill_recent()
        if notes:
            InfoDialog("Opened with notes", "\n".join(notes), self).open()
        if self.model_info is not None and not self.model_info.label_set.same_labels(
                                                                  self.document.label_set):
            self._offer_remap(self.model_info.label_set)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save label map", str(self.document.path or "untitled.png"),
                                              "Label maps (*.png);;" + PROJECT_FILTER)
        if not path:
            return False
        if not path.lower().endswith((".png", ".ora")):
            path += ".png"
        return self._save_to(Path(path))

    def save_project_as(self) -> bool:
        """File > Save Project As: the layers, reference photo, render and styles as .ora."""
        start = self.document.path.with_suffix(".ora") if self.document.path else Path("untitled.ora")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), PROJECT_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".ora"):
            path += ".ora"
        return self._save_to(Path(path))

    def _project_render(self):
        """The render shown now, map-sized (a project keeps it), or None."""
        img = getattr(self, "last_image", None)
        if img is None:
            return None
        h, w = self.document.label_map.shape
        if img.shape[:2] != (h, w):
            from spade_studio.raster import resize_rgb

            img = resize_rgb(np.ascontiguousarray(img[..., :3]), w, h)
        return np.ascontiguousarray(img[..., :3]).astype(np.uint8)

    def export_layers(self, path: str | Path | None = None) -> bool:
        """File > Export Layers: .ora or .psd for Krita, GIMP or Photoshop (the open file stays)."""
        if path is None:
            base = self.document.path.with_suffix("").name if self.document.path else "layers"
            path, chosen = QFileDialog.getSaveFileName(self, "Export layers", base + ".ora", LAYERS_FILTER)
            if not path:
                return False
            if Path(path).suffix.lower() not in (".ora", ".psd"):
                path += ".psd" if "psd" in chosen else ".ora"
        path = Path(path)
        try:
            self._store_look()
            self.document.export_layers(path, render=self._project_render())
        except Exception as exc:  # noqa: BLE001 - message; the document is untouched
            self.show_error("Cannot export the layers", f"{exc}")
            return False
        self.statusBar().showMessage(f"Exported {self.document.layer_count} layer(s) to {path}", 6000)
        return True

    def _save_to(self, path: Path) -> bool:
        try:
            if is_project_path(path):
                self.document.project_render = self._project_render()
                self._store_look()  # the style panel's look as it is now
            self.document.save(path)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot save", f"{exc}" if str(path) in str(exc) else f"{path}: {exc}")
            return False
        self.autosaver.discard()
        self.settings.add_recent_file(path)
        self._fill_recent()
        n = self.document.layer_count
        if n > 1 and not is_project_path(path):
            self.statusBar().showMessage(
                f"Saved the flattened map to {path}; the {n} layers stay open here "
                f"(File > Save Project As… keeps them)", 10000)
        else:
            self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def export_image(self) -> None:
        img = getattr(self, "last_image", None)
        if img is None:
            self.show_error("Nothing to export", "No rendered image yet.")
            return
        base = self.document.path.with_suffix("").name + "_render.png" if self.document.path else "render.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export image", base, "PNG (*.png);;JPEG (*.jpg *.jpeg)")
        if not path:
            return
        if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg"):
            path += ".png"
        from spade_studio.imageio import write_image

        try:
            write_image(path, img)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot export", f"{path}: {exc}")
            return
        self.statusBar().showMessage(f"Exported {path}", 4000)

    def open_reference(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open reference photo", "", IMAGE_FILTER)
        if path:
            self.load_reference(path)

    def load_reference(self, path: str | Path) -> None:
        from spade_studio.imageio import read_rgb

        try:
            self.document.set_reference(read_rgb(path))
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot open the photo", str(exc))
            return
        if self.tool_bar.ref_slider.value() == 0:
            self.tool_bar.ref_slider.setValue(50)
