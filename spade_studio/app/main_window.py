"""The main window: composes the panels and wires their signals. It holds no painting or model logic."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spade_studio.labels import LabelSet, load_label_set
from spade_studio.paths import APP_NAME, user_data_dir

from .actions import Actions, ToolBar, bind_label_keys, build_menus, fill_recent_menu
from .autosave import Autosaver, delete_autosaves, find_recovery
from .canvas import Canvas
from .dialogs import one_go_hint, remap_by_name
from .document import Document, is_project_path
from .enums import Quality, Theme, Tool, ViewMode
from .file_actions import FileActions
from .history_strip import HistoryStrip
from .layers_panel import LayersPanel
from .output_view import OutputView
from .palette_panel import PalettePanel
from .preview_service import PreviewService, StyleSpec
from .settings import Settings
from .style_panel import StylePanel
from .theme import apply_theme
from .tool_options import OptionsBar


class MainWindow(FileActions, QMainWindow):
    render_shown = Signal(float)  # seconds of the render now shown (tests and the smoke test listen)

    def __init__(self, settings: Settings | None = None, model: str | None = None, device: str | None = None,
                 autosave_dir: Path | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings.load()
        self.autosave_dir = autosave_dir or (user_data_dir() / "autosave")
        self.model_info = None
        self.style = StyleSpec(seed=0)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1360, 820)

        # -- document, service, panels ---------------------------------------------------------
        self.document = Document(load_label_set("landscape"), self.settings.new_width, self.settings.new_height,
                                 fill_label=0, parent=self)
        self.service = PreviewService(self)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(40)
        self._render_timer.timeout.connect(self._send_render)
        self.canvas = Canvas(self.document)
        self.output = OutputView()
        self.palette = PalettePanel()
        self.style_panel = StylePanel(self.service)
        self.style_panel.set_label_source(self.document.snapshot)
        self.document.reset.connect(self.style_panel.clear_variations)  # they showed the old map
        self.style_panel.set_recent_styles(self.settings.recent_styles)
        self.style_panel.set_layer_source(self._upper_layers)  # layers a region style can target
        self.document.layers_changed.connect(self.style_panel.layers_changed)
        self.document.reset.connect(lambda: self.style_panel.layers_changed(drop_missing=True))
        self._pending_look = None  # a project's look, applied once a model is loaded

        self.canvas_box = self._titled(self.canvas, "Label map")
        self.canvas_title = self.canvas_box.title
        output_box = self._titled(self.output, "Rendered (live)")
        self.output_title = output_box.title
        self.history_strip = HistoryStrip()  # under the render: recent renders, click = that look
        output_box.layout().addWidget(self.history_strip)
        self._final_request: tuple | None = None  # (request id, look) of the last exact render asked for
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(output_box)
        right.addWidget(self.style_panel)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        self.right = right
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.canvas_box)
        self.split.addWidget(right)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([600, 600])
        paint = QWidget()
        lay = QVBoxLayout(paint)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.split)
        self.tabs = QTabWidget()
        self.tabs.addTab(paint, "Paint")
        self.train_tab = self._make_train_tab()
        # the Train tab's forms want ~960 px; in a scroll area they no longer set the whole
        # window's minimum width (which made the window wider than a 1280-px laptop screen)
        self.train_page = QScrollArea()
        self.train_page.setWidgetResizable(True)
        self.train_page.setFrameShape(QFrame.NoFrame)
        self.train_page.setWidget(self.train_tab)
        self.tabs.addTab(self.train_page, "Train")
        self.setCentralWidget(self.tabs)

        dock = QDockWidget("Labels", self)
        dock.setObjectName("labels_dock")
        dock.setWidget(self.palette)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)  # View > Labels shows it again
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.palette_dock = dock

        self.layers_panel = LayersPanel(self.document)
        ldock = QDockWidget("Layers", self)
        ldock.setObjectName("layers_dock")
        ldock.setWidget(self.layers_panel)
        ldock.setFeatures(dock.features())  # View > Layers shows it again
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, ldock)
        self.layers_dock = ldock

        self.act = Actions(self)
        self.recent_menu = build_menus(self, self.act)
        self.service.wrap = bool(self.settings.wrap_panorama)
        self.act.wrap.setChecked(self.service.wrap)
        self.layers_panel.set_actions(self.act.layer)
        self.layers_panel.set_canvas_focus(self.canvas.setFocus)
        self.layers_panel.style_layer_requested.connect(self.style_layer)
        self._fill_recent()
        self.tool_bar = ToolBar(self, self.act)
        self.addToolBar(self.tool_bar)
        self.options_bar = OptionsBar(self, self.act.mirror)
        self.addToolBarBreak()
        self.addToolBar(self.options_bar)
        self.addToolBar(self.tool_bar.view_bar)
        self._restore_tool_options()
        self.label_keys = bind_label_keys(self, self.palette.select_index)
        self._make_status_bar()
        self._connect()

        self.canvas.set_brush_size(self.settings.brush_size)
        self.canvas.set_reference_opacity(self.settings.reference_opacity)
        self._set_label_set(self.document.label_set)
        self.set_view_mode(self.settings.view_mode)
        self._restore_geometry()
        self._update_title()
        self._update_canvas_title()

        self.autosaver = Autosaver(self.document, self.autosave_dir, self.settings.autosave_seconds, self)
        self.autosaver.failed.connect(lambda msg: self.statusBar().showMessage(f"Autosave failed: {msg}", 8000))
        self.autosaver.start()

        self.load_model(model if model is not None else self.settings.model, device or self.settings.device)

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _titled(widget: QWidget, title: str) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        label = QLabel(f"<b>{title}</b>")
        lay.addWidget(label)
        lay.addWidget(widget, 1)
        box.title = label
        return box

    def _update_canvas_title(self, *_args) -> None:
        h, w = self.document.label_map.shape
        self.canvas_title.setText(f"<b>Label map</b>  {w}×{h}  (zoom {self.canvas.zoom() * 100:.0f}%)")

    def _make_train_tab(self) -> QWidget:
        from .trainer_tab import TrainerTab

        return TrainerTab(self)

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.st_model = QLabel("model: loading…")
        self.st_device = QLabel("")
        self.st_time = QLabel("")
        self.st_size = QLabel("")
        self.st_label = QLabel("")
        self.st_cursor = QLabel("")
        self.st_saved = QLabel("")
        for w in (self.st_model, self.st_device, self.st_time, self.st_size, self.st_label, self.st_cursor):
            sb.addWidget(w)
        sb.addPermanentWidget(self.st_saved)

    def _connect(self) -> None:
        d = self.document
        d.changed.connect(lambda _rect: self.request_render())
        d.reset.connect(self._document_reset)
        d.dirty_changed.connect(lambda _dirty: self._update_title())
        d.path_changed.connect(lambda _p: self._update_title())
        d.label_set_changed.connect(self._set_label_set)
        d.refused.connect(lambda why: self.statusBar().showMessage(why, 6000))
        self.palette.label_chosen.connect(self.set_current_label)
        self.palette.search_finished.connect(self.canvas.setFocus)
        self.canvas.label_picked.connect(self.set_current_label)
        self.canvas.cursor_info.connect(self._cursor_info)
        self.canvas.zoom_changed.connect(self._update_canvas_title)
        self.canvas.stroke_finished.connect(self.request_render)
        d.reset.connect(self._update_canvas_title)
        self.canvas.brush_size_changed.connect(self._brush_size_from_canvas)
        self.tool_bar.size_slider.valueChanged.connect(self._brush_size_from_slider)
        self.tool_bar.ref_slider.valueChanged.connect(lambda v: self.canvas.set_reference_opacity(v / 100))
        self.style_panel.style_changed.connect(self._style_changed)
        self.history_strip.look_chosen.connect(self._look_chosen)
        d.paint_options_changed.connect(lambda: self.act.mirror.setChecked(self.document.mirror))
        s = self.service
        s.model_loading.connect(self._model_loading)
        s.model_loaded.connect(self._model_loaded)
        s.model_failed.connect(self._model_failed)
        s.rendered.connect(self._rendered)
        s.render_failed.connect(self._render_failed)
        s.busy_changed.connect(self.output.set_busy)
        s.render_progress.connect(lambda _rid, done, total: self.output.set_progress(done, total))
        s.render_cancelled.connect(self._render_cancelled)
        self.output.cancel_requested.connect(s.cancel_render)
        self.output.export_requested.connect(self.export_image)

    # -- model ---------------------------------------------------------------------------------
    def load_model(self, source: str | Path | None, device: str | None = None) -> None:
        self._model_source = source
        self.service.load_model(source, device or self.settings.device)

    def _model_loading(self, desc: str) -> None:
        self.st_model.setText(f"model: loading {desc}…")
        self.output.set_busy(True)
        self.output.set_message("Loading the model…")

    def _model_loaded(self, info) -> None:
        self.model_info = info
        self.output.set_busy(False)
        self.st_model.setText(f"model: {info.description}")
        self.st_model.setToolTip(str(info.source))
        self.st_device.setText(f"device: {info.device}")
        self.st_device.setToolTip(one_go_hint(info.one_go_side))
        self.style_panel.set_model_info(info)
        self._default_style(info)
        if self._pending_look is not None:  # a project opened before the model was ready
            self._apply_project_look(*self._pending_look)
        self.settings.model = None if self._model_source is None else str(self._model_source)
        if not info.label_set.same_labels(self.document.label_set):
            self._offer_remap(info.label_set)
        self.request_render()

    def _default_style(self, info) -> None:
        """With an encoder, start from the 'day' preset rather than a random look (seed 0)."""
        from spade_studio.paths import resources_dir

        from .style_panel import StyleSource

        day = resources_dir() / "styles" / "day.jpg"
        if info.has_encoder and day.exists() and self.style_panel.current_source() == StyleSource.seed(0):
            self.style_panel.pick(StyleSource.image(day))

    def _model_failed(self, message: str) -> None:
        self.output.set_busy(False)
        self.st_model.setText("model: none")
        self.output.set_message(f"No model loaded.\n{message}\nUse Model > Open Model File…")
        if self.isVisible():
            QMessageBox.warning(self, "Model not loaded", message)

    def _offer_remap(self, new: LabelSet) -> None:
        old = self.document.label_set
        used = self.document.used_ids()  # every layer's, hidden ones too
        mapping, unmapped = remap_by_name(old, new, used)
        blank = not self.document.dirty and self.document.undo_stack.count() == 0 and self.document.path is None
        if blank:
            fill = new.ids[0]
            h, w = self.document.label_map.shape
            self.document.new(w, h, new, fill)
            return
        text = (f"The model uses the label set '{new.name}', the map uses '{old.name}'. "
                f"Remap the map's labels by name?")
        if unmapped:
            text += "\n\nThese labels have no match and will become '" + new.name_of(new.ids[0]) + "': " + \
                ", ".join(unmapped)
        answer = QMessageBox.question(self, "Different label set", text) if self.isVisible() else \
            QMessageBox.StandardButton.Yes
        if answer == QMessageBox.StandardButton.Yes:
            for i in used:
                mapping.setdefault(i, new.ids[0])
            self.document.remap(new, mapping)
            if unmapped:
                self.statusBar().showMessage(f"Could not map: {', '.join(unmapped)}", 10000)

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", "Models (*.safetensors *.pth *.pt);;All (*)")
        if path:
            self.load_model(path)

    def open_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open official checkpoint folder")
        if path:
            self.load_model(path)

    # -- rendering -----------------------------------------------------------------------------
    def request_render(self) -> None:
        """Throttled: the map is copied at most every 40 ms while the user paints."""
        if self.model_info is not None and not self._render_timer.isActive():
            self._render_timer.start()

    def _send_render(self) -> None:
        if self.model_info is not None:
            # while a stroke is in progress: a preview (stroke update); the exact render follows
            # when it ends (canvas.stroke_finished asks for one)
            quality = Quality.PREVIEW if self.document.stroke_active else Quality.EXACT
            style = self.style_panel.render_spec(self.style)  # layer regions: the layers' masks now
            rid = self.service.request(self.document.snapshot(), style, debounce_ms=0, quality=quality)
            if quality == Quality.EXACT:  # a final render: it goes into the history strip
                self._final_request = (rid, self.style_panel.current_look())

    def _style_changed(self, spec: StyleSpec) -> None:
        self.style = spec
        self.request_render()

    def _rendered(self, request_id: int, image: np.ndarray, seconds: float, notes) -> None:
        from .preview_service import is_preview

        final = self._final_request
        if final is not None and final[0] == request_id and not is_preview(notes):
            self._final_request = None
            self.history_strip.add(image, final[1], final[1].describe())
        self.last_image = image
        if not is_preview(notes):
            self.output.set_progress(0, 0)
        self.output.set_image(image)
        if self.view_mode == ViewMode.OVERLAY:
            self.canvas.set_overlay(image, self.settings.overlay_opacity)
        self.st_time.setText(f"render: {seconds * 1000:.0f} ms")
        if notes:
            self.st_time.setToolTip("\n".join(map(str, notes)))
        self.render_shown.emit(seconds)

    def _render_cancelled(self, request_id: int) -> None:
        self.output.set_progress(0, 0)
        self.statusBar().showMessage("Render cancelled: the image shown is the previous one", 6000)

    def set_wrap(self, on: bool) -> None:
        """Renders wrap horizontally (a 360° panorama); kept in the settings."""
        on = bool(on)
        self.settings.wrap_panorama = self.service.wrap = on
        self.act.wrap.setChecked(on)
        self.request_render()

    def _render_failed(self, request_id: int, message: str) -> None:
        self.output.set_progress(0, 0)
        self.output.set_message(f"Render failed: {message}")
        self.statusBar().showMessage(f"Render failed: {message}", 10000)

    # -- view ----------------------------------------------------------------------------------
    def set_view_mode(self, mode: ViewMode | str | None) -> None:
        """Side by side, swapped or overlay (anything else: side by side)."""
        mode = ViewMode.parse(mode, ViewMode.SIDE)
        self.view_mode = mode
        self.act.view[mode].setChecked(True)
        self.tool_bar.show_view_mode(mode)
        self.settings.view_mode = mode.value
        if mode == ViewMode.SWAP:
            self.split.insertWidget(0, self.right)
        else:
            self.split.insertWidget(0, self.canvas_box)
        img = getattr(self, "last_image", None)
        self.canvas.set_overlay(img if mode == ViewMode.OVERLAY else None, self.settings.overlay_opacity)

    def set_theme(self, name: Theme | str) -> None:
        self.settings.theme = str(name)
        apply_theme(QApplication.instance(), str(name))

    # -- tools & labels ------------------------------------------------------------------------
    def set_mirror(self, on: bool) -> None:
        """Mirror painting on or off (View > Mirror Painting, M)."""
        self.document.mirror = bool(on)

    def _restore_tool_options(self) -> None:
        """Smoothing and mirror painting as last used (kept in the settings when changed)."""
        try:
            smoothing, mirror = max(0, min(100, int(self.settings.smoothing))), bool(self.settings.mirror)
        except (TypeError, ValueError):
            smoothing, mirror = 0, False
        self.options_bar.set_smoothing(smoothing)
        self.document.mirror = mirror
        self.act.mirror.setChecked(mirror)

        def keep_smoothing(v: int) -> None:
            self.settings.smoothing = int(v)

        def keep_mirror() -> None:
            self.settings.mirror = bool(self.document.mirror)

        self.options_bar.smooth_slider.valueChanged.connect(keep_smoothing)
        self.document.paint_options_changed.connect(keep_mirror)

    def _upper_layers(self) -> list:
        from .style_panel import LayerState

        return [LayerState(ly.key, ly.name, ly.visible, ly.mask) for ly in self.document.layers[1:]]

    def style_layer(self, key: int) -> bool:
        """Layers dock > "Style this layer…": a region style for the layer (its mask at render
        time), with the style chosen in the Regions section; the row is shown there."""
        if not self.style_panel.style_layer(key):
            self.statusBar().showMessage(f"Cannot style the layer: {self.style_panel.current_label.text()}", 6000)
            return False
        name = next((ly.name for ly in self.document.layers if ly.key == key), "?")
        self.statusBar().showMessage(
            f"Layer '{name}' has its own style now (Style panel > Regions: pick another style and Add to change it)", 8000)
        self.style_panel.region_label_combo.setFocus()
        return True

    def _store_look(self) -> None:
        """The style panel's look into the document's project styles (saved with a project)."""
        from .style_look import look_to_project

        if self.model_info is None or not self.style_panel.styles_enabled():
            return  # nothing chosen under this model: keep what the project had
        styles, images = look_to_project(self.style_panel.current_look(), [ly.key for ly in self.document.layers])
        kept = {k: v for k, v in self.document.project_styles.items() if k not in styles}  # keys of other tools
        self.document.project_styles, self.document.project_style_images = {**kept, **styles}, images

    def _apply_project_look(self, styles: dict, images: dict) -> None:
        """Restore an opened project's look into the style panel (notes in the status bar)."""
        from spade_studio.paths import user_data_dir as _data

        from .style_look import look_from_project

        self._pending_look = None
        if not self.style_panel.styles_enabled():
            if styles.get("a") is not None:
                self.statusBar().showMessage("The project's styles are not used: this model takes no style", 8000)
            return
        layers = self.document.layers
        look, notes = look_from_project(styles, images, [ly.key for ly in layers], [ly.name for ly in layers],
                                        _data() / "project-styles")
        if look is None:
            return
        if not self.style_panel.apply_look(look):
            notes.append(self.style_panel.current_label.text())
        if notes:
            self.statusBar().showMessage("Project styles: " + "; ".join(notes), 12000)

    def show_history_strip(self, on: bool) -> None:
        self.history_strip.setVisible(bool(on))
        self.act.history.setChecked(bool(on))

    def _look_chosen(self, look) -> None:
        if not self.style_panel.apply_look(look):
            self.statusBar().showMessage("Cannot return to that look: " + self.style_panel.current_label.text(), 6000)

    def set_tool(self, tool: Tool | str) -> None:
        tool = Tool(tool)
        self.act.tool[tool].setChecked(True)
        self.canvas.set_tool(tool)

    def set_current_label(self, label_id: int) -> None:
        self.current_label = label_id
        self.canvas.set_current_label(label_id)
        self.palette.set_current(label_id)
        self.style_panel.set_palette_label(label_id)  # the label a new region style is for
        self.st_label.setText(f"label: {label_id} {self.document.label_set.name_of(label_id)}")
        if self.act.tool[Tool.EYEDROPPER].isChecked():
            self.set_tool(Tool.BRUSH)

    def _set_label_set(self, ls: LabelSet) -> None:
        self.palette.set_label_set(ls)
        first = ls.ids[0]
        self.canvas.set_background_label(first)
        self.set_current_label(ls.ids[min(6, len(ls.ids) - 1)] if ls.name == "landscape" else first)

    def _brush_size_from_slider(self, v: int) -> None:
        self.canvas.set_brush_size(v)
        self.tool_bar.size_label.setText(f" {v} px ")
        self.settings.brush_size = v

    def _brush_size_from_canvas(self, v: int) -> None:
        if self.tool_bar.size_slider.value() != v:
            self.tool_bar.size_slider.setValue(v)

    def _cursor_info(self, x: int, y: int, label_id: int) -> None:
        if label_id < 0:
            self.st_cursor.setText("")
        else:
            self.st_cursor.setText(f"{x}, {y}: {self.document.label_set.name_of(label_id)}")

    def _document_reset(self) -> None:
        h, w = self.document.label_map.shape
        self.st_size.setText(f"{w} x {h}")
        self.canvas.zoom_fit()
        self.request_render()

    def clear_map(self) -> None:
        self.document.clear(self.document.label_set.ids[0])

    # -- documents -----------------------------------------------------------------------------
    def _update_title(self) -> None:
        d = self.document
        name = d.path.name if d.path else "Untitled"
        self.setWindowTitle(f"{'*' if d.dirty else ''}{name} — {APP_NAME}")
        self.st_saved.setText("unsaved changes" if d.dirty else ("saved" if d.path else "not saved"))
        h, w = d.label_map.shape
        self.st_size.setText(f"{w} x {h}")

    def _fill_recent(self) -> None:
        fill_recent_menu(self.recent_menu, self.settings.recent_files, self.open_path)

    def show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message.splitlines()[0] if message else title, 10000)
        if self.isVisible():
            QMessageBox.critical(self, title, message)

    # -- recovery ------------------------------------------------------------------------------
    def offer_recovery(self) -> None:
        found = find_recovery(self.autosave_dir)
        if not found:
            return
        latest = found[0]  # newest first
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"SPADE Studio found unsaved work from an earlier session ({latest.name}). Recover it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            try:
                self.autosaver.recover(latest)
            except Exception as exc:  # noqa: BLE001
                self.show_error("Recovery failed", str(exc))
        else:
            delete_autosaves(found)

    # -- window --------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            return
        path = Path(urls[0])
        if is_project_path(path) or self._looks_like_label_map(path):
            self.open_path(path)
        else:
            self.load_reference(path)
        event.acceptProposedAction()

    @staticmethod
    def _looks_like_label_map(path: Path) -> bool:
        from PIL import Image

        try:
            with Image.open(path) as img:
                return img.mode in ("L", "P", "I;16", "I") or "spade-studio-labelset" in img.info
        except Exception:  # noqa: BLE001
            return False

    def _restore_geometry(self) -> None:
        try:
            if self.settings.geometry:
                self.restoreGeometry(QByteArray.fromHex(self.settings.geometry.encode()))
            if self.settings.window_state:
                self.restoreState(QByteArray.fromHex(self.settings.window_state.encode()))
        except Exception:  # noqa: BLE001
            pass

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.train_tab.confirm_close():
            event.ignore()
            return
        if not self.maybe_save():
            event.ignore()
            return
        self.settings.geometry = bytes(self.saveGeometry().toHex()).decode()
        self.settings.window_state = bytes(self.saveState().toHex()).decode()
        self.settings.recent_styles = list(self.style_panel.recent_styles())
        self.settings.save()
        self.autosaver.stop()
        self.service.shutdown()
        if not self.document.dirty:
            self.autosaver.discard()
        event.accept()

    def wait_for_render(self, timeout_s: float = 60.0) -> bool:
        """Process events until a render is shown (smoke test and tests)."""
        got = []
        self.render_shown.connect(got.append)
        t0 = time.time()
        while not got and time.time() - t0 < timeout_s:
            QApplication.processEvents()
            time.sleep(0.01)
        return bool(got)
