"""The main window's actions, menus, tool bar and key bindings: texts, shortcuts and tips in one place.

:class:`Actions` creates every ``QAction`` (parented to the window, connected to its slots),
:func:`build_menus` puts them in the menu bar, :class:`ToolBar` is the tools/size/view/reference
bar and :func:`bind_label_keys` makes the number keys pick palette entries. The window is
passed in (duck-typed): this module does not import the main window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QSlider, QToolBar, QWidget

from .dialogs import show_about, show_shortcuts
from .enums import Theme, Tool, ViewMode
from .layers_panel import make_layer_actions

# tool, text, shortcut, tip (tool bar order)
TOOL_ACTIONS = [
    (Tool.BRUSH, "Brush", "B", "Paint with the current label (round brush; [ and ] change the size)"),
    (Tool.ERASER, "Eraser", "E", "Paint the background label"),
    (Tool.FILL, "Fill", "G", "Fill the connected region under the cursor with the current label"),
    (Tool.EYEDROPPER, "Pick", "I", "Pick the label under the cursor"),
    (Tool.LINE, "Line", "L", "Drag to draw a straight line with the brush size"),
    (Tool.RECT, "Rectangle", "R", "Drag to draw a filled rectangle"),
    (Tool.POLYGON, "Polygon", "P", "Click the corners of a polygon (double-click or Enter fills it, Backspace "
     "removes a corner, Esc drops it), or drag a free-hand lasso outline: filled on release"),
]
# view mode, menu text, tip, tool bar combo text
VIEW_ACTIONS = [
    (ViewMode.SIDE, "Side by Side", "Map and render side by side", "Side by side"),
    (ViewMode.SWAP, "Swapped", "Render on the left, map on the right", "Swapped"),
    (ViewMode.OVERLAY, "Overlay", "Render drawn over the map", "Overlay"),
]


def make_action(parent: QWidget, text: str, slot: Callable | None, shortcut=None, tip: str = "",
                checkable: bool = False) -> QAction:
    """An action with its tool tip ("tip (shortcut)") and status tip."""
    act = QAction(text, parent)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    tip = tip or text.replace("&", "").rstrip(".")
    sc = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    act.setToolTip(f"{tip} ({sc})" if sc else tip)
    act.setStatusTip(tip)
    act.setCheckable(checkable)
    if slot is not None:
        act.triggered.connect(slot)
    return act


def exclusive(parent: QWidget, actions: dict) -> tuple[QActionGroup, dict]:
    """``actions`` (key -> checkable action) made mutually exclusive; returns (group, actions)."""
    group = QActionGroup(parent)
    for a in actions.values():
        group.addAction(a)
    return group, actions


class Actions:
    """Every action of the main window ``win`` (File, Edit, View, Model, Help, tools)."""

    def __init__(self, win: Any) -> None:
        ks = QKeySequence.StandardKey

        def act(*args, **kw) -> QAction:
            return make_action(win, *args, **kw)

        # File
        self.new = act("&New…", win.new_document, ks.New, "New label map")
        self.open = act("&Open…", win.open_dialog, ks.Open, "Open a label map")
        self.save = act("&Save", win.save, ks.Save, "Save the label map")
        self.save_as = act("Save &As…", win.save_as, ks.SaveAs, "Save the label map as")
        self.export = act("&Export Image…", win.export_image, "Ctrl+E", "Export the rendered image")
        self.save_project = act("Save &Project As…", win.save_project_as, "Ctrl+Alt+S",
                                "Save the layers, reference photo, render and styles as an OpenRaster .ora project")
        self.export_layers = act("Export &Layers…", win.export_layers, None,
                                 "Export the layers as .ora or .psd (Krita, GIMP, Photoshop); the open file stays")
        self.reference = act("Open &Reference Photo…", win.open_reference, "Ctrl+Shift+R",
                             "Show a photo under the map to trace over")
        self.clear_reference = act("Remove Reference Photo", lambda: win.document.set_reference(None))
        self.quit = act("&Quit", win.close, ks.Quit)
        # Edit
        stack = win.document.undo_stack
        self.undo = stack.createUndoAction(win, "&Undo")
        self.undo.setShortcut(QKeySequence(ks.Undo))
        self.redo = stack.createRedoAction(win, "&Redo")
        self.redo.setShortcut(QKeySequence(ks.Redo))
        self.clear = act("C&lear Map", win.clear_map, "Ctrl+Shift+Del", "Fill the whole map with the background label")
        self.brush_smaller = act("S&maller Brush", win.canvas.brush_smaller, "[", "Smaller brush")
        self.brush_larger = act("&Larger Brush", win.canvas.brush_larger, "]", "Larger brush")
        # View
        canvas = win.canvas
        self.zoom_in = act("Zoom &In", canvas.zoom_in, ks.ZoomIn)
        self.zoom_out = act("Zoom &Out", canvas.zoom_out, ks.ZoomOut)
        self.zoom_fit = act("&Fit", canvas.zoom_fit, "Ctrl+0", "Zoom to fit")
        self.zoom_100 = act("&100%", canvas.zoom_actual, "Ctrl+1", "Actual pixels")
        self.view_group, self.view = exclusive(win, {
            mode: act(text, lambda _=False, m=mode: win.set_view_mode(m), None, tip, checkable=True)
            for mode, text, tip, _combo in VIEW_ACTIONS})
        self.mirror = act("&Mirror Painting", win.set_mirror, "M",
                          "Every tool also paints its mirror image about the map's vertical centre line "
                          "(both halves are one undo step)", checkable=True)
        self.history = act("Render &History", win.show_history_strip, None,
                           "Show the strip of recent renders (click one to return to its style and seed)",
                           checkable=True)
        self.history.setChecked(True)
        self.edges = act("Show Instance &Edges", canvas.set_show_edges, "Ctrl+Shift+E",
                         "Show the edges the model receives (connected regions)", checkable=True)
        self.theme_group, self.theme = exclusive(win, {
            theme: act(theme.value.capitalize(), lambda _=False, t=theme: win.set_theme(t), None,
                       f"{theme.value.capitalize()} theme", checkable=True) for theme in Theme})
        for theme, a in self.theme.items():
            a.setChecked(theme == win.settings.theme)
        # Model
        self.model_default = act("&Default Landscape Model", lambda: win.load_model(None),
                                 tip="Load the bundled landscape model")
        self.model_file = act("Open &Model File…", win.open_model_file, "Ctrl+M",
                              "Load a SPADE Studio .safetensors model or an official .pth")
        self.model_folder = act("Open Official &Checkpoint Folder…", win.open_model_folder,
                                tip="Load an NVIDIA SPADE checkpoint folder (latest_net_G.pth, opt.txt)")
        self.render = act("&Render Now", win.request_render, "F5", "Render the map now")
        self.wrap = act("&Wrap Horizontally (360° Panorama)", win.set_wrap, None,
                        "The final render's left and right edges continue each other, so it views as a "
                        "360° image (2:1 canvases); live stroke previews do not wrap", checkable=True)
        # Help
        self.shortcuts = act("&Keyboard Shortcuts", lambda: show_shortcuts(win, self), "F1",
                             "Every key and mouse shortcut of the editor")
        self.about = act("&About SPADE Studio", lambda: show_about(
            win, bool(win.model_info and win.model_info.official)))
        # Layer
        self.layer = make_layer_actions(win, make_action)
        # Tools
        self.tool_group, self.tool = exclusive(win, {
            tool: act(text, lambda _=False, t=tool: win.set_tool(t), shortcut, tip, checkable=True)
            for tool, text, shortcut, tip in TOOL_ACTIONS})
        self.tool[Tool.BRUSH].setChecked(True)


def build_menus(win: Any, acts: Actions) -> QMenu:
    """File, Edit, View, Model and Help in ``win``'s menu bar; returns the (empty) Open Recent menu."""
    mb = win.menuBar()
    fm = mb.addMenu("&File")
    fm.addActions([acts.new, acts.open])
    recent = fm.addMenu("Open &Recent")
    fm.addSeparator()
    fm.addActions([acts.save, acts.save_as, acts.save_project, acts.export, acts.export_layers])
    fm.addSeparator()
    fm.addActions([acts.reference, acts.clear_reference])
    fm.addSeparator()
    fm.addAction(acts.quit)

    em = mb.addMenu("&Edit")
    em.addActions([acts.undo, acts.redo])
    em.addSeparator()
    em.addAction(acts.clear)
    em.addSeparator()
    em.addActions([acts.brush_smaller, acts.brush_larger])

    vm = mb.addMenu("&View")
    vm.addActions([acts.zoom_in, acts.zoom_out, acts.zoom_fit, acts.zoom_100])
    vm.addSeparator()
    vm.addActions(list(acts.view.values()))
    vm.addSeparator()
    vm.addAction(acts.edges)
    vm.addAction(acts.mirror)
    vm.addAction(acts.history)
    tm = vm.addMenu("&Theme")
    tm.addActions(list(acts.theme.values()))
    vm.addSeparator()
    vm.addAction(win.palette_dock.toggleViewAction())
    if getattr(win, "layers_dock", None) is not None:
        vm.addAction(win.layers_dock.toggleViewAction())

    lm = mb.addMenu("&Layer")
    layer = acts.layer
    lm.addActions([layer["new"], layer["duplicate"], layer["delete"]])
    lm.addSeparator()
    lm.addActions([layer["up"], layer["down"], layer["merge"]])
    lm.addSeparator()
    lm.addActions([layer["visible"], layer["lock"]])
    lm.addSeparator()
    lm.addActions([layer["above"], layer["below"]])

    mm = mb.addMenu("&Model")
    mm.addActions([acts.model_default, acts.model_file, acts.model_folder])
    mm.addSeparator()
    mm.addAction(acts.render)
    mm.addAction(acts.wrap)

    hm = mb.addMenu("&Help")
    hm.addAction(acts.shortcuts)
    hm.addAction(acts.about)
    return recent


def fill_recent_menu(menu: QMenu, paths: list[str], open_path: Callable[[str], Any]) -> None:
    """One entry per recent file (most recent first); disabled when there is none."""
    menu.clear()
    for p in paths:
        a = menu.addAction(p)
        a.triggered.connect(lambda _=False, path=p: open_path(path))
    menu.setEnabled(bool(paths))


class ToolBar(QToolBar):
    """Tools, brush size, undo/redo/clear, zoom, the view combo and the reference opacity."""

    def __init__(self, win: Any, acts: Actions) -> None:
        super().__init__("Tools", win)
        settings = win.settings
        self.setObjectName("tools")
        self.setIconSize(QSize(18, 18))
        self.addActions(list(acts.tool.values()))
        self.addSeparator()
        self.addWidget(QLabel(" Size "))
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, 128)
        self.size_slider.setFixedWidth(140)
        self.size_slider.setToolTip("Brush size in map pixels ([ and ])")
        self.size_slider.setValue(settings.brush_size)
        self.addWidget(self.size_slider)
        self.size_label = QLabel(f" {settings.brush_size} px ")
        self.addWidget(self.size_label)
        self.addSeparator()
        # Undo/Redo with fixed texts: the menu's actions name the command ("Undo Brush stroke
        # (mountain)"), which would widen the tool bar with every stroke and push the Reference
        # slider into the overflow menu; here the command is in the tool tip.
        stack = win.document.undo_stack
        self.undo = make_action(self, "Undo", stack.undo, tip="Undo")
        self.redo = make_action(self, "Redo", stack.redo, tip="Redo")
        undo_keys = acts.undo.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        redo_keys = acts.redo.shortcut().toString(QKeySequence.SequenceFormat.NativeText)

        def sync() -> None:
            if not shiboken6.isValid(stack) or not shiboken6.isValid(self):
                return  # the window is closing: the stack empties itself while it is deleted
            self.undo.setEnabled(stack.canUndo())
            self.redo.setEnabled(stack.canRedo())
            self.undo.setToolTip(f"Undo {stack.undoText()} ({undo_keys})".replace("  ", " "))
            self.redo.setToolTip(f"Redo {stack.redoText()} ({redo_keys})".replace("  ", " "))

        for sig in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged, stack.redoTextChanged):
            sig.connect(lambda *_: sync())
        sync()
        self.addActions([self.undo, self.redo, acts.clear])
        self.addSeparator()
        self.addActions([acts.zoom_fit, acts.zoom_100])
        # the view combo and the reference opacity sit in a second bar (main window: next to the
        # tool options, on the second row), so the first row fits a 1000-px window
        self.view_bar = QToolBar("View", win)
        self.view_bar.setObjectName("view")
        self.view_bar.addWidget(QLabel(" View "))
        self.view_combo = QComboBox()
        for mode, _text, _tip, combo_text in VIEW_ACTIONS:
            self.view_combo.addItem(combo_text, mode.value)
        self.view_combo.setToolTip("Map and render side by side, swapped, or the render drawn over the map")
        self.view_combo.activated.connect(lambda i: win.set_view_mode(self.view_combo.itemData(i)))
        self.view_bar.addWidget(self.view_combo)
        self.view_bar.addSeparator()
        self.view_bar.addWidget(QLabel(" Reference "))
        self.ref_slider = QSlider(Qt.Orientation.Horizontal)
        self.ref_slider.setRange(0, 100)
        self.ref_slider.setFixedWidth(80)
        self.ref_slider.setValue(int(settings.reference_opacity * 100))
        self.ref_slider.setToolTip("Opacity of the reference photo under the map (File > Open Reference Photo)")
        self.view_bar.addWidget(self.ref_slider)

    def show_view_mode(self, mode: ViewMode) -> None:
        self.view_combo.setCurrentIndex(self.view_combo.findData(ViewMode(mode).value))


def bind_label_keys(win: QWidget, select_index: Callable[[int], Any]) -> list[QAction]:
    """Number keys 1..9, 0 pick the first ten visible palette entries."""
    out = []
    for i in range(10):
        a = QAction(win)
        a.setShortcut(QKeySequence(str((i + 1) % 10)))
        a.triggered.connect(lambda _=False, n=i: select_index(n))
        win.addAction(a)
        out.append(a)
    return out
