"""Big canvases in the editor: a panorama preset, tiled final renders with progress and Cancel,
and the wrap of a 360° panorama (spade_studio/model/tiling.py behind the preview service)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from conftest import make_tiny_bundle  # noqa: E402
from helpers import stroke  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox  # noqa: E402

from spade_studio.app.dialogs import NewDocumentDialog  # noqa: E402
from spade_studio.app.main_window import MainWindow  # noqa: E402
from spade_studio.app.settings import Settings  # noqa: E402
from spade_studio.model.checkpoint import save_model  # noqa: E402
from spade_studio.model.tiling import edge_mismatch  # noqa: E402

LOAD_MS = 60_000
RENDER_MS = 240_000


@pytest.fixture
def window(qtbot, tmp_path):
    tiny = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    win = MainWindow(Settings(), model=str(tiny), device="cpu", autosave_dir=tmp_path / "autosave")
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=LOAD_MS)
    qtbot.waitUntil(lambda: not win.service.is_busy(), timeout=RENDER_MS)
    yield win
    win.document.undo_stack.setClean()
    win.close()


def new_canvas(window, qtbot, preset_steps: int, seen: dict) -> None:
    """File > New with the keyboard: Down ``preset_steps`` times in the preset box, then OK."""

    def drive():
        dlg = QApplication.activeModalWidget()
        assert isinstance(dlg, NewDocumentDialog)
        seen["hint"] = dlg.hint.text()
        for _ in range(preset_steps):
            qtbot.keyClick(dlg.preset_box, Qt.Key.Key_Down)
        seen["wrap"] = dlg.wrap_box.isChecked()
        qtbot.mouseClick(dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)

    QTimer.singleShot(200, drive)
    window.act.new.trigger()


def final_render(window, qtbot, progress):
    """Paint one stroke away from the seam and wait for its exact (non-preview) result."""
    from spade_studio.app.preview_service import is_preview

    got = {}

    def on_rendered(rid, image, seconds, notes):
        if not is_preview(notes):
            got["image"], got["notes"] = image, list(notes)

    def on_progress(rid, done, total):
        progress.append((done, total))

    window.service.rendered.connect(on_rendered)
    window.service.render_progress.connect(on_progress)
    try:
        window.set_current_label(10)  # sea
        window.canvas.set_brush_size(40)
        h, w = window.document.label_map.shape
        stroke(window.canvas, [(w * 0.3, h * 0.6), (w * 0.6, h * 0.65)])
        qtbot.waitUntil(lambda: "image" in got, timeout=RENDER_MS)
    finally:  # later renders are another call's
        window.service.rendered.disconnect(on_rendered)
        window.service.render_progress.disconnect(on_progress)
    return got


def test_panorama_preset_renders_tiled_and_wraps(window, qtbot):
    window.service.tile = 1024  # force tiles (the tiny model would fit in one go)
    seen = {}
    new_canvas(window, qtbot, 1, seen)  # "Panorama 360° 2048 x 1024"
    assert window.document.label_map.shape == (1024, 2048)
    assert seen["wrap"] and window.act.wrap.isChecked() and window.settings.wrap_panorama
    assert "one go" in seen["hint"]
    progress = []
    got = final_render(window, qtbot, progress)
    img = got["image"]
    assert img.shape == (1024, 2048, 3)
    assert any("panorama" in n and "tile(s)" in n for n in got["notes"]), got["notes"]
    total = progress[-1][1]
    assert total >= 3 and progress[-1] == (total, total)
    assert [d for d, t in progress if t == total][-total - 1:] == list(range(total + 1))
    assert not window.output.progress_box.isVisible()  # hidden when it is done
    assert edge_mismatch(img) < 1.6, edge_mismatch(img)
    assert (window.document.snapshot() == 10).any()

    # the same canvas without wrap: its left and right edges do not continue each other
    window.act.wrap.trigger()
    assert not window.service.wrap
    got2 = final_render(window, qtbot, [])
    assert any("canvas rendered in" in n for n in got2["notes"])
    assert edge_mismatch(got2["image"]) > 1.5 * edge_mismatch(img)


def test_cancel_keeps_the_last_image(window, qtbot):
    window.service.tile = 256
    window.document.new(1024, 512, window.document.label_set, 0)
    window.set_wrap(False)
    qtbot.waitUntil(lambda: not window.service.is_busy(), timeout=RENDER_MS)
    progress = []
    cancelled = []
    window.service.render_progress.connect(lambda rid, d, t: progress.append((d, t)))
    window.service.render_cancelled.connect(cancelled.append)
    window.service._last_full_s = 0.0  # no half-size first pass: straight to the tiles
    window.set_current_label(3)
    stroke(window.canvas, [(100.0, 300.0), (400.0, 320.0)])
    qtbot.waitUntil(lambda: window.output.progress_box.isVisible(), timeout=RENDER_MS)
    qtbot.mouseClick(window.output.cancel_button, Qt.MouseButton.LeftButton)
    shown = window.output.image()
    qtbot.waitUntil(lambda: bool(cancelled), timeout=RENDER_MS)
    qtbot.wait(300)
    total = progress[-1][1]
    assert total >= 4 and max(d for d, _ in progress) < total  # stopped before the last tile
    assert not window.output.progress_box.isVisible()
    assert "cancelled" in window.statusBar().currentMessage().lower()
    assert window.output.image() is shown  # nothing of the cancelled render is shown
    # a new request renders normally again
    got = final_render(window, qtbot, [])
    assert got["image"].shape == (512, 1024, 3)


def test_a_region_style_reaches_a_tiled_final_render(window, qtbot):
    """A label's region style (style panel, Regions) in a render of several tiles: the label's
    area takes the region's look, the rest keeps the global style, across tile borders."""
    import numpy as np

    from spade_studio.app.style_panel import StyleSource

    window.service.tile = 256
    window.document.new(768, 512, window.document.label_set, 0)  # sky
    window.set_wrap(False)
    window.document.rect(0, 300, 767, 511, 6)  # grass, the lower part: across every tile column
    qtbot.waitUntil(lambda: not window.service.is_busy(), timeout=RENDER_MS)
    plain = final_render(window, qtbot, [])  # paints a sea stroke (label 10) into the grass
    assert any("tile(s)" in n for n in plain["notes"]), plain["notes"]
    a = plain["image"].astype(np.float32)
    assert window.style_panel.add_region_style(6, StyleSource.seed(77))  # grass gets its own look
    qtbot.waitUntil(lambda: len(window.style.regions) == 1, timeout=RENDER_MS)  # the window's style has it
    qtbot.waitUntil(lambda: not window.service.is_busy(), timeout=RENDER_MS)
    progress = []
    styled = final_render(window, qtbot, progress)
    assert any("tile(s)" in n for n in styled["notes"]), styled["notes"]
    assert progress and progress[-1][1] >= 4  # it did render in tiles
    lab = window.document.snapshot()
    b = styled["image"].astype(np.float32)
    grass = lab == 6
    grass[:320] = False  # clear of the feathered border with the sky
    sky = np.zeros_like(grass)
    sky[:260] = True
    moved_grass = np.abs(a - b)[grass].mean()
    moved_sky = np.abs(a - b)[sky].mean()
    assert moved_grass > 4 * max(moved_sky, 0.5), (moved_grass, moved_sky)
