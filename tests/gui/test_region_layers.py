"""Region styles that target a layer (issue 14 item 2), the look saved in and restored from an
.ora project, and the tool options kept in the settings."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from conftest import make_tiny_bundle  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QContextMenuEvent, QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMenu  # noqa: E402

from spade_studio.app.enums import Tool  # noqa: E402
from spade_studio.app.style_panel import LayerTarget, StyleSource  # noqa: E402

LOAD_MS = 60_000
L, NB = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


@pytest.fixture
def tiny_path(tmp_path):
    from spade_studio.model.checkpoint import save_model

    return save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")


def make_window(qtbot, tmp_path, tiny_path, settings=None):
    from spade_studio.app.main_window import MainWindow
    from spade_studio.app.settings import Settings

    win = MainWindow(settings or Settings(), model=str(tiny_path), device="cpu", autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(win)
    win.maybe_save = lambda: True  # closing never asks (a failed test must not hang on a dialog)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=LOAD_MS)
    return win


def send(widget, kind, pos, button, buttons):
    ev = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(QPointF(pos))), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def drag(win, pixels):
    """A brush stroke through map pixels ``pixels`` with the mouse."""
    c = win.canvas
    pts = [c.map_to_widget(x + 0.5, y + 0.5) for x, y in pixels]
    send(c, QEvent.Type.MouseButtonPress, pts[0], L, L)
    for p in pts[1:]:
        send(c, QEvent.Type.MouseMove, p, NB, L)
    send(c, QEvent.Type.MouseButtonRelease, pts[-1], L, NB)


def choose_from_context_menu(qtbot, widget, text):
    """Right-click ``widget`` (a context menu event) and click the menu entry ``text``."""
    chosen = []

    def pick():
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu), menu
        act = next(a for a in menu.actions() if a.text() == text)
        chosen.append(act.isEnabled())
        qtbot.mouseClick(menu, L, pos=menu.actionGeometry(act).center())
        if menu.isVisible():
            menu.close()

    QTimer.singleShot(150, pick)
    pos = widget.rect().center()
    QApplication.sendEvent(widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos)))
    assert chosen, "the context menu did not open"
    return chosen[0]


def click_combo_item(qtbot, combo, text):
    """Open ``combo``'s list and click the item ``text`` (the window's single-key shortcuts
    would take typed letters)."""
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    i = combo.findText(text)
    assert i >= 0, text
    rect = view.visualRect(view.model().index(i, 0))
    qtbot.mouseClick(view.viewport(), L, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())


def record_requests(win):
    """Wrap the window's render requests: the styles they carry, newest last."""
    sent = []
    orig = win.service.request

    shown = set()

    def request(label_map, style, *a, **kw):
        rid = orig(label_map, style, *a, **kw)
        sent.append((np.array(label_map), style, rid, kw.get("quality")))
        return rid

    win.service.request = request
    win.service.rendered.connect(lambda rid, *_: shown.add(rid))  # after the window's slot
    win._shown_ids = shown
    return sent


def last_exact_render(qtbot, win, sent):
    """Ask for a render; wait until it is shown (win.last_image); its (map, style)."""
    n = len(sent)
    win.request_render()
    qtbot.waitUntil(lambda: len(sent) > n and not win.document.stroke_active, timeout=LOAD_MS)
    qtbot.waitUntil(lambda: sent[-1][2] in win._shown_ids, timeout=LOAD_MS)
    return sent[-1][0], sent[-1][1]


def test_layer_region_follows_the_layer(qtbot, tmp_path, tiny_path):
    from spade_studio.model.synthesize import Synthesizer

    win = make_window(qtbot, tmp_path, tiny_path)
    doc, panel = win.document, win.style_panel
    win.document.new(64, 64, doc.label_set, 0)
    win.style_panel.pick(StyleSource.seed(3))
    win.set_tool(Tool.BRUSH)
    win.set_current_label(7)  # tree
    win.canvas.set_brush_size(6)
    assert doc.add_layer("trees")
    drag(win, [(10, 10), (20, 12), (30, 14)])
    layer = doc.layers[1]
    assert layer.name == "trees" and layer.mask is not None and layer.mask.sum() > 50
    # the target box offers the upper layer
    combo = panel.region_label_combo
    assert combo.findText("layer: trees") >= 0 and combo.findText("layer: Background") < 0
    click_combo_item(qtbot, panel.region_style_combo, "seed")  # the Regions section's style: seed 5
    assert panel.region_style_combo.currentData() == "seed"
    panel.region_seed_spin.setValue(5)
    sent = record_requests(win)
    # Layers dock: right click the layer > Style this layer…
    row = win.layers_panel.row_for(1)
    assert choose_from_context_menu(qtbot, row, "Style this layer…")
    entries = panel.region_styles()
    assert [(e.target, e.name, e.source) for e in entries] == [(LayerTarget(layer.key), "trees", StyleSource.seed(5))]
    assert panel.region_rows()[0].target_label.text() == "layer: trees"
    assert combo.currentText() == "layer: trees"
    lab, style = last_exact_render(qtbot, win, sent)
    assert len(style.regions) == 1 and style.regions[0].label is None and style.regions[0].seed == 5
    np.testing.assert_array_equal(style.regions[0].mask, layer.mask)
    # the render is the region render of that mask
    synth = Synthesizer(tiny_path, "cpu")
    expected = synth.render(lab, seed=3, region_styles=[(layer.mask.copy(), synth.random_z(5))]).image
    shown = win.last_image.astype(int)
    assert np.abs(shown - expected).max() <= 1  # (the window's worker may use other thread counts)
    assert (np.abs(shown - synth.render(lab, seed=3).image) > 1).any()  # the region style shows
    # paint more on the layer: the next render's mask follows
    before = layer.mask.copy()
    drag(win, [(40, 40), (50, 50)])
    assert layer.mask.sum() > before.sum()
    _lab, style = last_exact_render(qtbot, win, sent)
    np.testing.assert_array_equal(style.regions[0].mask, doc.layers[1].mask)
    assert not np.array_equal(style.regions[0].mask, before)
    # hidden: left out of the render, the row says so; shown again: back
    doc.set_layer_visible(1, False)
    _lab, style = last_exact_render(qtbot, win, sent)
    assert style.regions == () and "hidden" in panel.region_rows()[0].note_label.text()
    doc.set_layer_visible(1, True)
    _lab, style = last_exact_render(qtbot, win, sent)
    assert len(style.regions) == 1 and panel.region_rows()[0].note_label.text() == ""
    # renamed: the row follows; deleted: left out, the row says so
    doc.rename_layer(1, "forest")
    assert panel.region_rows()[0].target_label.text() == "layer: forest"
    assert combo.findText("layer: forest") >= 0
    doc.delete_layer(1)
    _lab, style = last_exact_render(qtbot, win, sent)
    assert style.regions == () and "deleted" in panel.region_rows()[0].note_label.text()
    # the bottom layer cannot be styled as a layer (it is the whole map)
    assert not choose_from_context_menu(qtbot, win.layers_panel.row_for(0), "Style this layer…")
    doc.undo_stack.setClean()
    win.close()


def window_with_painted_layer(qtbot, tmp_path, tiny_path, name: str, points):
    """A window on a new 64x64 map with an upper layer ``name`` painted with trees along ``points``."""
    win = make_window(qtbot, tmp_path, tiny_path)
    win.document.new(64, 64, win.document.label_set, 0)
    win.document.add_layer(name)
    win.set_current_label(7)
    drag(win, points)
    return win


def test_add_layer_target_through_the_regions_section(qtbot, tmp_path, tiny_path):
    win = window_with_painted_layer(qtbot, tmp_path, tiny_path, "rocks", [(5, 5), (15, 5)])
    doc, panel = win.document, win.style_panel
    edit = panel.region_label_combo.lineEdit()
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "layer: rocks")
    click_combo_item(qtbot, panel.region_style_combo, "seed")
    panel.region_seed_spin.setValue(9)
    qtbot.mouseClick(panel.region_add_button, L)
    assert [(e.layer_key, e.source) for e in panel.region_styles()] == [(doc.layers[1].key, StyleSource.seed(9))]
    # a new document: the layer is gone, so is its region style
    doc.new(64, 64, doc.label_set, 0)
    assert panel.region_styles() == [] and panel.region_label_combo.findText("layer: rocks") < 0
    win.close()


def test_project_keeps_the_look(qtbot, tmp_path, tiny_path):
    from PIL import Image

    from spade_studio import project as pj
    from spade_studio.paths import resources_dir

    photo = tmp_path / "my photo.png"
    rgb = (np.random.default_rng(1).random((40, 50, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(photo)
    presets = {p.stem: p for p in (resources_dir() / "styles").glob("*.jpg")}
    assert "sunset" in presets
    win = window_with_painted_layer(qtbot, tmp_path, tiny_path, "trees", [(10, 10), (30, 30)])
    doc, panel = win.document, win.style_panel
    assert panel.open_image(photo)  # style A: an image file
    panel.pick_b(StyleSource.seed(11))
    panel.blend_slider.setValue(30)
    panel.seed_spin.blockSignals(True)
    panel.seed_spin.setValue(11)
    panel.seed_spin.blockSignals(False)
    assert panel.add_region_style(10, StyleSource.image(presets["sunset"]))  # sea: a preset
    assert panel.style_layer(doc.layers[1].key)  # the layer: the Regions section's choice
    layer_src = panel.region_styles()[1].source
    out = tmp_path / "scene.ora"
    assert win._save_to(out)
    saved = pj.load_ora(out)
    assert saved.styles["a"]["kind"] == "image" and saved.styles["blend"] == 30
    key = saved.styles["a"]["image"]
    np.testing.assert_array_equal(saved.style_images[key], rgb)  # the photo travels in the project
    assert [r["target"] for r in saved.styles["regions"]] == [{"label": 10}, {"layer": 1, "name": "trees"}]
    assert saved.styles["regions"][0]["style"] == {"kind": "preset", "name": "sunset"}
    doc.undo_stack.setClean()
    win.close()

    photo.unlink()  # the project does not need the photo's file
    win2 = make_window(qtbot, tmp_path, tiny_path)
    p2 = win2.style_panel
    assert win2.open_path(out, ask=False)
    look = p2.current_look()
    assert look.a.kind.name == "IMAGE" and look.a.name == "my photo"
    np.testing.assert_array_equal(np.asarray(Image.open(look.a.key).convert("RGB")), rgb)
    assert look.b == StyleSource.seed(11) and look.blend == 30 and look.seed == 11
    doc2 = win2.document
    assert [ly.name for ly in doc2.layers] == ["Background", "trees"]
    got = [(e.label, e.layer_key, e.name, e.source) for e in p2.region_styles()]
    assert got == [(10, None, "sea", StyleSource.image(presets["sunset"])),
                   (None, doc2.layers[1].key, "trees", layer_src)]
    assert [r.target_label.text() for r in p2.region_rows()] == ["sea", "layer: trees"]
    # the restored look renders: the layer's region carries the layer's mask
    qtbot.waitUntil(lambda: len(win2.style.regions) == 2, timeout=LOAD_MS)  # images encoded
    sent = record_requests(win2)
    _lab, style = last_exact_render(qtbot, win2, sent)
    np.testing.assert_array_equal(style.regions[1].mask, doc2.layers[1].mask)
    # saving again writes the look as it is now (one region fewer)
    p2.remove_region_style(0)
    assert win2._save_to(out)
    assert [r["target"] for r in pj.load_ora(out).styles["regions"]] == [{"layer": 1, "name": "trees"}]
    doc2.undo_stack.setClean()
    win2.close()


def test_project_with_a_missing_preset_and_image_restores_the_rest(qtbot, tmp_path, tiny_path):
    from spade_studio import project as pj
    from spade_studio.labels import load_label_set

    ls = load_label_set("landscape")
    ids = np.zeros((64, 64), np.uint8)
    proj = pj.project_from_map(ids, ls)
    proj.styles = {"version": 1, "a": {"kind": "preset", "name": "no-such-look"}, "b": None, "blend": 0,
                   "seed": 42, "regions": [
                       {"target": {"label": 6}, "style": {"kind": "image", "image": "gone", "name": "lost"}},
                       {"target": {"label": 10}, "style": {"kind": "seed", "seed": 8}}]}
    out = pj.save_ora(tmp_path / "odd.ora", proj)
    win = make_window(qtbot, tmp_path, tiny_path)
    assert win.open_path(out, ask=False)
    msg = win.statusBar().currentMessage()
    assert "no-such-look" in msg and "not installed" in msg, msg
    assert "'lost' is missing or cannot be decoded" in msg, msg
    look = win.style_panel.current_look()
    assert look.a == StyleSource.seed(42) and look.seed == 42  # the seed stands in for the missing preset
    assert [(e.label, e.source) for e in win.style_panel.region_styles()] == [(10, StyleSource.seed(8))]
    win.close()


def test_tool_options_survive_a_new_window(qtbot, tmp_path, tiny_path):
    from spade_studio.app.settings import Settings

    win = make_window(qtbot, tmp_path, tiny_path, Settings.load())
    bar = win.options_bar
    assert bar.smooth_slider.value() == 0 and not win.document.mirror
    bar.smooth_slider.setFocus()
    for _ in range(3):
        qtbot.keyClick(bar.smooth_slider, Qt.Key.Key_PageUp)  # a page step each
    smoothing = bar.smooth_slider.value()
    assert smoothing > 0
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_M)  # View > Mirror Painting
    assert win.document.mirror
    win.close()  # writes the settings file

    win2 = make_window(qtbot, tmp_path, tiny_path, Settings.load())
    assert win2.options_bar.smooth_slider.value() == smoothing
    assert win2.canvas.tool_handler(Tool.BRUSH).smoothing == smoothing
    assert win2.canvas.tool_handler(Tool.ERASER).smoothing == smoothing
    assert win2.document.mirror and win2.act.mirror.isChecked()
    win2.close()
