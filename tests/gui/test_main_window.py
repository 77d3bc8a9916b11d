"""The main window driven like a user: paint, render, undo, save/open, recovery, model switching."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from conftest import ROOT, make_tiny_bundle  # noqa: E402
from helpers import mouse, stroke  # noqa: E402
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from spade_studio.app.enums import Quality, Tool, ViewMode  # noqa: E402
from spade_studio.app.main_window import MainWindow  # noqa: E402
from spade_studio.app.settings import Settings  # noqa: E402
from spade_studio.model.checkpoint import save_model  # noqa: E402

LOAD_MS = 60_000


@pytest.fixture
def tiny(tmp_path):
    return save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")


@pytest.fixture
def window(qtbot, tmp_path, tiny):
    win = MainWindow(Settings(), model=str(tiny), device="cpu", autosave_dir=tmp_path / "autosave")
    win.resize(1200, 800)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=LOAD_MS)
    yield win
    win.document.undo_stack.setClean()
    win.close()


def test_paint_render_undo(window, qtbot):
    before = window.document.snapshot()
    window.set_current_label(10)  # sea
    window.canvas.set_brush_size(9)
    with qtbot.waitSignal(window.render_shown, timeout=LOAD_MS):
        stroke(window.canvas, [(40.0, 60.0), (120.0, 60.0)])
    after = window.document.snapshot()
    changed = after != before
    assert changed.any() and set(np.unique(after[changed])) == {10}
    assert window.windowTitle().startswith("*")
    assert window.last_image.shape == (*after.shape, 3)
    assert "ms" in window.st_time.text()
    window.act.undo.trigger()
    assert np.array_equal(window.document.snapshot(), before)
    window.act.redo.trigger()
    assert np.array_equal(window.document.snapshot(), after)


def test_save_open_and_corrupt_file(window, tmp_path):
    window.set_current_label(7)
    stroke(window.canvas, [(10.0, 10.0), (50.0, 50.0)])
    painted = window.document.snapshot()
    target = tmp_path / "scene.png"
    assert window._save_to(target)
    assert not window.windowTitle().startswith("*") and "scene.png" in window.windowTitle()
    window.document.new(128, 64, window.document.label_set, 0)
    assert window.open_path(target, ask=False)
    assert np.array_equal(window.document.snapshot(), painted)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n not really")
    assert not window.open_path(bad, ask=False)
    assert np.array_equal(window.document.snapshot(), painted)  # the current document is kept
    assert "broken.png" in window.statusBar().currentMessage()


def test_autosave_recovery(window, qtbot, tmp_path, tiny, monkeypatch):
    window.set_current_label(12)
    stroke(window.canvas, [(30.0, 100.0), (90.0, 100.0)])
    painted = window.document.snapshot()
    window.autosaver.save_now()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    other = MainWindow(Settings(), model=str(tiny), device="cpu", autosave_dir=tmp_path / "autosave")
    other.offer_recovery()
    assert np.array_equal(other.document.snapshot(), painted)
    assert other.document.dirty
    other.document.undo_stack.setClean()
    other.close()


def test_switching_model_remaps_labels_by_name(window, qtbot, tmp_path):
    window.set_current_label(10)  # sea
    stroke(window.canvas, [(20.0, 200.0), (200.0, 200.0)])
    coco = save_model(make_tiny_bundle("coco_stuff", use_vae=False, ngf=2, crop=64), tmp_path / "coco.safetensors")
    with qtbot.waitSignal(window.service.model_loaded, timeout=LOAD_MS):
        window.load_model(str(coco), "cpu")
    qtbot.waitUntil(lambda: window.document.label_set.name == "coco_stuff", timeout=5000)
    ls = window.document.label_set
    ids = set(np.unique(window.document.snapshot()).tolist())
    assert ls.id_of("sea") in ids  # sea kept its meaning
    assert window.palette_dock.widget() is window.palette
    from spade_studio.app.style_panel import NO_ENCODER

    assert not window.style_panel.controls.isEnabled()
    assert window.style_panel.reason_label.text() == NO_ENCODER


def test_view_modes_and_overlay(window, qtbot):
    with qtbot.waitSignal(window.render_shown, timeout=LOAD_MS):
        window.request_render()
    assert window.canvas._overlay_img is None  # side by side: nothing over the map
    window.set_view_mode("swap")
    assert window.split.widget(0) is window.right and window.settings.view_mode == "swap"
    window.set_view_mode(ViewMode.OVERLAY)
    assert window.split.widget(0) is window.canvas_box
    assert window.canvas._overlay_img is not None
    assert window.canvas._overlay_rgb is window.last_image
    assert window.tool_bar.view_combo.currentData() == "overlay"
    window.set_view_mode("side")
    assert window.act.view[ViewMode.SIDE].isChecked() and window.canvas._overlay_img is None
    window.set_view_mode("no such mode")  # unknown (an old settings file): side by side
    assert window.view_mode is ViewMode.SIDE


def test_tool_actions_and_shortcut_texts(window):
    assert [a.text() for a in window.act.tool_group.actions()] == [
        "Brush", "Eraser", "Fill", "Pick", "Line", "Rectangle", "Polygon"]
    window.act.tool[Tool.FILL].trigger()
    assert window.canvas.tool() is Tool.FILL
    window.set_tool("eyedropper")
    assert window.act.tool[Tool.EYEDROPPER].isChecked()
    window.set_current_label(3)  # a picked label goes back to the brush
    assert window.canvas.tool() is Tool.BRUSH and window.act.tool[Tool.BRUSH].isChecked()
    assert window.act.render.toolTip() == "Render the map now (F5)"
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Layer", "&Model", "&Help"]


def test_about_mentions_nvidia_only_for_official(window):
    from spade_studio.app.dialogs import about_text

    assert "NVIDIA" not in about_text(False) and "MIT" in about_text(False)
    assert "CC BY-NC-SA" in about_text(True)


@pytest.mark.slow
def test_smoke_test_command(tiny, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "spade_studio", "--smoke-test", "--model", str(tiny)], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "smoke test: ok" in r.stdout


def test_a_stroke_in_progress_renders_previews_and_its_end_an_exact_render(window, qtbot, monkeypatch):
    asked = []
    original = window.service.request

    def spy(label_map, style, instance=None, debounce_ms=None, quality="exact"):
        asked.append(quality)
        return original(label_map, style, instance, debounce_ms, quality)

    monkeypatch.setattr(window.service, "request", spy)
    window.set_current_label(10)
    canvas = window.canvas
    mouse(canvas, QEvent.Type.MouseButtonPress, (40.0, 60.0))
    qtbot.waitUntil(lambda: len(asked) >= 1, timeout=5000)
    for x in (50.0, 60.0, 70.0):
        n = len(asked)
        mouse(canvas, QEvent.Type.MouseMove, (x, 60.0))
        qtbot.waitUntil(lambda n=n: len(asked) > n, timeout=5000)  # each move asks for a render
    assert asked == [Quality.PREVIEW] * len(asked)  # nothing exact while the mouse is down
    with qtbot.waitSignal(window.render_shown, timeout=LOAD_MS):
        mouse(canvas, QEvent.Type.MouseButtonRelease, (70.0, 60.0), Qt.MouseButton.NoButton)
        qtbot.waitUntil(lambda: asked and asked[-1] == "exact", timeout=5000)
    assert asked[-1] == "exact"


def test_typing_a_dataset_path_goes_into_the_field_not_to_the_editor_shortcuts(window, qtbot, tmp_path):
    """Letters and digits are tool and label shortcuts of the editor; in the Train tab's dataset
    field they must type text (a user types or pastes the folder path there)."""
    from trainer.landscapes import make_landscapes

    make_landscapes(tmp_path / "l1", 2, size=32, seed=1)
    window.show()
    window.tabs.setCurrentWidget(window.train_page)
    field = window.train_tab.setup.dataset.data_edit
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    tool, label = window.canvas.tool(), window.canvas.current_label()
    qtbot.keyClicks(field, str(tmp_path / "missing1"))
    assert field.text() == str(tmp_path / "missing1")
    assert window.canvas.tool() == tool and window.canvas.current_label() == label  # no shortcut fired
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert "Not a folder" in window.train_tab.setup.dataset.data_summary.text()
    field.clear()
    qtbot.keyClicks(field, str(tmp_path / "l1"))
    with qtbot.waitSignal(window.train_tab.setup.dataset.folder_set, timeout=LOAD_MS):
        qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.train_tab.setup.dataset.data_check() is not None, timeout=LOAD_MS)


def test_the_window_fits_a_1280_px_laptop_screen(window):
    """Docks and both tabs together: the window's minimum width stays under 1280 px minus a
    taskbar/frame margin (the Train tab's forms scroll instead of widening the window)."""
    window.show()
    hint = window.minimumSizeHint()
    assert hint.width() <= 1200, hint
    assert hint.height() <= 700, hint
    window.tabs.setCurrentWidget(window.train_page)
    assert window.minimumSizeHint().width() <= 1200
