"""Label layers in the editor: painting on layers with the mouse, the flattened map, layer
operations and their undo, the Layers dock, .ora projects, autosave of layers."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from helpers import send, shown_canvas  # noqa: E402
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import QFrame, QToolButton  # noqa: E402

from spade_studio import labelmap as lm  # noqa: E402
from spade_studio.app.document import Document  # noqa: E402
from spade_studio.app.enums import Tool  # noqa: E402
from spade_studio.labels import load_label_set  # noqa: E402

L = Qt.MouseButton.LeftButton
NB = Qt.MouseButton.NoButton
ZOOM, OX, OY = 4.0, 8.0, 8.0


@pytest.fixture
def ls():
    return load_label_set("landscape")


@pytest.fixture
def doc(ls):
    return Document(ls, 48, 32, fill_label=0)


@pytest.fixture
def canvas(qtbot, doc):
    c = shown_canvas(qtbot, doc, ZOOM, OX, OY)
    c.set_brush_size(5)
    return c


def at(x, y):
    return QPointF(OX + (x + 0.5) * ZOOM, OY + (y + 0.5) * ZOOM)


def drag(w, pixels):
    pts = [at(*p) for p in pixels]
    send(w, QEvent.Type.MouseButtonPress, pts[0], L, L)
    for p in pts[1:]:
        send(w, QEvent.Type.MouseMove, p, NB, L)
    send(w, QEvent.Type.MouseButtonRelease, pts[-1], L, NB)


def swept(shape, pixels, d=5):
    """What a drag through ``pixels`` with brush diameter ``d`` covers (the labelmap rule)."""
    found = lm.brush_region(shape, [(float(x), float(y)) for x, y in pixels], d / 2.0)
    out = np.zeros(shape, bool)
    y0, x0, m = found
    out[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] = m
    return out


def shown_rgb(canvas, mx, my):
    img = canvas.grab().toImage()
    w = canvas.map_to_widget(mx + 0.5, my + 0.5)
    dpr = img.devicePixelRatio()
    c = img.pixelColor(QPoint(math.floor(w.x() * dpr), math.floor(w.y() * dpr)))
    return np.array([c.red(), c.green(), c.blue()], float)


# -- painting on two layers with the mouse -------------------------------------------------------


def test_paint_on_two_layers_with_the_mouse_and_check_the_flattened_map(canvas, doc, ls):
    shape = doc.label_map.shape
    canvas.set_current_label(9)
    drag(canvas, [(5, 10), (30, 10)])  # on the bottom layer
    on_bottom = swept(shape, [(5, 10), (30, 10)])
    assert doc.add_layer() and doc.layer_count == 2 and doc.active_index == 1
    canvas.set_current_label(3)
    drag(canvas, [(20, 4), (20, 25)])  # on the new upper layer, crossing the first stroke
    on_top = swept(shape, [(20, 4), (20, 25)])
    expected = np.where(on_top, 3, np.where(on_bottom, 9, 0))
    assert np.array_equal(doc.label_map, expected)
    assert np.array_equal(doc.snapshot(), expected)
    bottom, top = doc.layers
    assert np.array_equal(bottom.ids, np.where(on_bottom, 9, 0))  # the bottom layer is untouched under
    assert np.array_equal(top.mask, on_top)
    assert doc.undo_stack.undoText().endswith("on Layer 1")  # paint steps name their layer
    # The canvas shows the flattened map.
    assert tuple(shown_rgb(canvas, 20, 10)) == tuple(ls.by_id(3).color)
    assert tuple(shown_rgb(canvas, 8, 10)) == tuple(ls.by_id(9).color)
    doc.undo_stack.undo()
    assert np.array_equal(doc.label_map, np.where(on_bottom, 9, 0)) and not doc.layers[1].mask.any()
    doc.undo_stack.redo()
    assert np.array_equal(doc.label_map, expected)


def test_eraser_on_an_upper_layer_makes_pixels_empty(canvas, doc):
    shape = doc.label_map.shape
    canvas.set_current_label(9)
    drag(canvas, [(2, 16), (45, 16)])
    doc.add_layer()
    canvas.set_current_label(3)
    drag(canvas, [(2, 16), (45, 16)])
    assert set(np.unique(doc.label_map[16])) == {3}
    canvas.set_tool(Tool.ERASER)
    drag(canvas, [(10, 16), (20, 16)])
    erased = swept(shape, [(10, 16), (20, 16)]) & swept(shape, [(2, 16), (45, 16)])
    top = doc.layers[1]
    assert not top.mask[erased].any() and top.mask[16, 30]
    assert set(np.unique(doc.label_map[erased])) == {9}  # the layer below shows through, not background
    doc.undo_stack.undo()
    assert top.mask[erased].all() and set(np.unique(doc.label_map[16])) == {3}


def test_fill_on_an_upper_layer_floods_the_region_the_user_sees(canvas, doc):
    doc.rect(0, 0, 47, 15, 9)  # bottom: top half 9, bottom half 0
    doc.add_layer()
    doc.rect(10, 20, 20, 25, 5)  # an island on the upper layer inside the 0 half
    canvas.set_tool(Tool.FILL)
    canvas.set_current_label(3)
    send(canvas, QEvent.Type.MouseButtonPress, at(2, 28), L, L)
    send(canvas, QEvent.Type.MouseButtonRelease, at(2, 28), L, NB)
    flat = doc.label_map
    assert (flat[16:, :] != 0).all()
    assert set(np.unique(flat[20:26, 10:21])) == {5}  # the island stays
    assert (flat[:16] == 9).all()
    top = doc.layers[1]
    assert top.mask[16:].all() and not top.mask[:16].any()  # the fill went on the upper layer
    assert (doc.layers[0].ids[16:] == 0).all()


# -- layer operations and their undo ------------------------------------------------------------


def two_layer_doc(doc):
    doc.rect(0, 0, 47, 31, 9)
    doc.add_layer("A")
    doc.rect(5, 5, 20, 20, 3)
    doc.add_layer("B")
    doc.rect(15, 15, 30, 30, 5)
    return doc.snapshot()


def test_hide_excludes_a_layer_from_the_map_and_undo_shows_it(doc):
    before = two_layer_doc(doc)
    doc.set_layer_visible(2, False)
    assert not (doc.label_map == 5).any() and (doc.label_map == 3).sum() == 16 * 16
    assert doc.undo_stack.undoText() == "Hide layer B"
    doc.undo_stack.undo()
    assert np.array_equal(doc.label_map, before) and doc.layers[2].visible
    doc.undo_stack.redo()
    assert not doc.layers[2].visible


def test_painting_a_hidden_or_locked_layer_is_refused_with_a_message(canvas, doc, qtbot):
    two_layer_doc(doc)
    said = []
    doc.refused.connect(said.append)
    doc.set_layer_locked(2, True)
    before, steps = doc.snapshot(), doc.undo_stack.count()
    drag(canvas, [(35, 5), (45, 5)])
    assert np.array_equal(doc.label_map, before) and doc.undo_stack.count() == steps
    assert said and "'B' is locked" in said[-1]
    doc.set_layer_locked(2, False)
    doc.set_layer_visible(2, False)
    hidden = doc.snapshot()
    assert not doc.fill(40, 5, 12) and np.array_equal(doc.label_map, hidden)
    assert "'B' is hidden" in said[-1]


def test_reorder_changes_which_label_wins_and_the_bottom_stays(doc):
    before = two_layer_doc(doc)
    assert before[17, 17] == 5
    assert doc.move_layer_down(2)
    assert [ly.name for ly in doc.layers] == ["Background", "B", "A"] and doc.label_map[17, 17] == 3
    assert doc.active_layer.name == "B"
    assert not doc.move_layer_down(1)  # the bottom layer stays at the bottom
    doc.undo_stack.undo()
    assert [ly.name for ly in doc.layers] == ["Background", "A", "B"]
    assert np.array_equal(doc.label_map, before)


def test_merge_down_keeps_the_map_and_undo_restores_both_layers(doc):
    before = two_layer_doc(doc)
    a_ids, a_mask = doc.layers[1].ids.copy(), doc.layers[1].mask.copy()
    b_mask = doc.layers[2].mask.copy()
    assert doc.merge_down(2)
    assert doc.layer_count == 2 and doc.active_layer.name == "A"
    assert np.array_equal(doc.label_map, before)
    assert np.array_equal(doc.layers[1].mask, a_mask | b_mask)
    doc.undo_stack.undo()
    assert [ly.name for ly in doc.layers] == ["Background", "A", "B"]
    assert np.array_equal(doc.layers[1].ids, a_ids) and np.array_equal(doc.layers[1].mask, a_mask)
    assert np.array_equal(doc.layers[2].mask, b_mask) and np.array_equal(doc.label_map, before)
    doc.undo_stack.redo()
    assert doc.layer_count == 2 and np.array_equal(doc.label_map, before)
    assert doc.merge_down(1)  # into the bottom: one filled layer again
    assert doc.layer_count == 1 and doc.layers[0].mask is None and np.array_equal(doc.label_map, before)


def test_duplicate_delete_rename_and_undo(doc):
    before = two_layer_doc(doc)
    assert doc.duplicate_layer(1)
    assert [ly.name for ly in doc.layers] == ["Background", "A", "A copy", "B"]
    assert np.array_equal(doc.layers[2].mask, doc.layers[1].mask)
    doc.set_active_index(2)
    doc.rect(0, 0, 3, 3, 12)  # painting the copy leaves the original alone
    assert not doc.layers[1].mask[0, 0] and doc.label_map[0, 0] == 12
    assert doc.rename_layer(2, "Rocks") and doc.layers[2].name == "Rocks"
    assert doc.delete_layer(2) and doc.layer_count == 3 and np.array_equal(doc.label_map, before)
    assert not doc.delete_layer(0) and doc.layer_count == 3  # not the bottom layer
    doc.undo_stack.undo()
    assert doc.layers[2].name == "Rocks" and doc.label_map[0, 0] == 12
    for _ in range(3):
        doc.undo_stack.undo()
    assert doc.layer_count == 3 and np.array_equal(doc.label_map, before)


def test_opacity_is_display_only_and_a_drag_is_one_undo_step(canvas, doc, ls):
    two_layer_doc(doc)
    flat, steps = doc.snapshot(), doc.undo_stack.count()
    renders = []
    doc.changed.connect(lambda r: renders.append(r))
    for v in (0.9, 0.7, 0.5):
        doc.set_layer_opacity(2, v)
    assert doc.undo_stack.count() == steps + 1 and doc.layers[2].opacity == 0.5
    assert np.array_equal(doc.label_map, flat) and not renders  # the map (and the render) do not change
    c5, c3 = np.array(ls.by_id(5).color, float), np.array(ls.by_id(3).color, float)
    assert np.abs(shown_rgb(canvas, 17, 17) - (0.5 * c5 + 0.5 * c3)).max() <= 2  # blended on screen
    doc.undo_stack.undo()
    assert doc.layers[2].opacity == 1.0 and tuple(shown_rgb(canvas, 17, 17)) == tuple(ls.by_id(5).color)


def test_hidden_layer_is_not_shown_on_the_canvas(canvas, doc, ls):
    two_layer_doc(doc)
    doc.set_layer_visible(2, False)
    assert tuple(shown_rgb(canvas, 17, 17)) == tuple(ls.by_id(3).color)
    assert tuple(shown_rgb(canvas, 25, 25)) == tuple(ls.by_id(9).color)


def test_upper_layer_undo_memory_stays_delta_sized(ls):
    doc = Document(ls, 512, 512, fill_label=0)
    doc.add_layer()
    base = doc.history_bytes()
    doc.begin_stroke()
    for x in range(100, 140, 2):
        doc.stroke_to([(x, 200), (x + 2, 200)], 4.0, 3)
    assert doc.end_stroke()
    _y0, _x0, covered = lm.brush_region((512, 512), [(x, 200) for x in range(100, 142, 2)], 4.0)
    box = covered.size  # the stroke's bounding box
    grew = doc.history_bytes() - base
    assert grew <= 5 * box  # ids old/new + changed + coverage before/after, inside the box
    assert grew < doc.layers[1].ids.nbytes // 50


def test_single_layer_document_paints_exactly_as_the_label_map_functions(doc):
    ref = doc.snapshot()
    lm.paint_stroke(ref, [(3, 3), (30, 20)], 2.5, 7)
    doc.begin_stroke()
    doc.stroke_to([(3, 3), (30, 20)], 2.5, 7)
    doc.end_stroke("Brush stroke (x)")
    assert np.array_equal(doc.label_map, ref) and doc.undo_stack.undoText() == "Brush stroke (x)"
    assert doc.layer_count == 1 and doc.layers[0].mask is None
    assert doc.label_map.base is doc.layers[0].ids or doc.label_map.base is doc.layers[0].ids.base


# -- the main window: render, panel, projects, autosave -----------------------------------------


@pytest.fixture
def window(qtbot, tmp_path):
    from conftest import make_tiny_bundle

    from spade_studio.app.main_window import MainWindow
    from spade_studio.app.settings import Settings
    from spade_studio.model.checkpoint import save_model

    tiny = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    win = MainWindow(Settings(), model=str(tiny), device="cpu", autosave_dir=tmp_path / "autosave")
    win.resize(1200, 800)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=60_000)
    yield win
    win.document.undo_stack.setClean()
    win.close()


def test_render_requests_get_the_flattened_map_without_hidden_layers(window, qtbot, monkeypatch):
    asked = []
    original = window.service.request

    def spy(label_map, style, *args, **kw):
        asked.append(np.array(label_map))
        return original(label_map, style, *args, **kw)

    monkeypatch.setattr(window.service, "request", spy)
    d = window.document
    d.rect(0, 0, 40, 40, 10)
    d.add_layer()
    d.rect(20, 20, 60, 60, 3)
    qtbot.waitUntil(lambda: bool(asked) and bool((asked[-1] == 3).any()), timeout=5000)
    assert np.array_equal(asked[-1], d.label_map)
    n = len(asked)
    d.set_layer_visible(1, False)
    qtbot.waitUntil(lambda: len(asked) > n, timeout=5000)
    assert not (asked[-1] == 3).any() and (asked[-1][20:41, 20:41] == 10).all()


def test_layers_dock_rows_toggles_and_rename_typing_keeps_the_shortcuts(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    panel, d = window.layers_panel, window.document
    qtbot.mouseClick(panel.findChild(QToolButton, "layer_new_button"), L)
    assert d.layer_count == 2 and len(panel.rows) == 2 and panel.rows[0].name.text() == "Layer 1"
    label, tool = window.canvas.current_label(), window.canvas.tool()
    row = panel.row_for(1)
    qtbot.mouseDClick(row, L, pos=row.name.geometry().center())
    edit = panel.row_for(1).edit
    assert edit is not None
    qtbot.waitUntil(edit.hasFocus)
    edit.selectAll()
    qtbot.keyClicks(edit, "b1 rocks")  # b = brush, 1 = a label: typed as text here
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert d.layers[1].name == "b1 rocks"
    assert window.canvas.current_label() == label and window.canvas.tool() == tool
    # the eye and the lock are buttons on the row
    qtbot.mouseClick(panel.row_for(1).eye, L)
    assert not d.layers[1].visible
    qtbot.mouseClick(panel.row_for(1).eye, L)
    qtbot.mouseClick(panel.row_for(1).lock, L)
    assert d.layers[1].visible and d.layers[1].locked
    # clicking a row selects the layer painted on
    qtbot.mouseClick(panel.row_for(0), L, pos=QPoint(panel.row_for(0).width() - 4, 8))
    assert d.active_index == 0
    # the opacity slider follows the selected layer and changes only it
    d.set_active_index(1)
    panel.opacity.setValue(40)
    assert d.layers[1].opacity == pytest.approx(0.4) and d.layers[0].opacity == 1.0
    # buttons of the dock run the Layer menu's actions
    qtbot.mouseClick(panel.findChild(QToolButton, "layer_duplicate_button"), L)
    assert d.layer_count == 3 and d.layers[2].name == "b1 rocks copy"


def test_layer_menu_shortcuts_do_not_clash(window):
    from spade_studio.app.dialogs import shortcut_rows

    menus = [a.text() for a in window.menuBar().actions()]
    assert "&Layer" in menus
    keys = [k for _what, k in shortcut_rows(window.act) if k and "click" not in k.lower() and "drag" not in k.lower()]
    dupes = {k for k in keys if keys.count(k) > 1}
    assert not dupes
    assert window.act.layer["new"].shortcut().toString() == "Ctrl+Shift+N"


def test_save_and_reopen_an_ora_project_in_the_editor(window, qtbot, tmp_path):
    d = window.document
    h, w = d.label_map.shape
    d.rect(0, 0, w - 1, h // 2, 10)
    d.add_layer("Hills")
    d.rect(10, 10, 60, 60, 3)
    d.add_layer("Trees")
    d.rect(40, 40, 90, 90, 7)
    d.set_layer_opacity(2, 0.6)
    d.set_layer_visible(1, False)
    ref = np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)
    d.set_reference(ref)
    d.project_styles = {"global": {"kind": "seed", "seed": 5}}
    layers = [(ly.name, ly.ids.copy(), None if ly.mask is None else ly.mask.copy(), ly.visible, ly.opacity)
              for ly in d.layers]
    flat = d.snapshot()
    qtbot.waitUntil(lambda: getattr(window, "last_image", None) is not None, timeout=60_000)
    path = tmp_path / "scene.ora"
    assert window._save_to(path) and path.is_file() and not d.dirty
    from spade_studio.project import load_ora

    assert load_ora(path).render is not None  # the render shown is kept in the project
    window.document.new(64, 64, d.label_set, 0)
    assert d.layer_count == 1 and d.reference is None
    assert window.open_path(path, ask=False)
    assert d.path == path and not d.dirty and d.layer_count == 3
    for (name, ids, mask, vis, op), ly in zip(layers, d.layers):
        assert ly.name == name and ly.visible == vis and ly.opacity == pytest.approx(op, abs=1e-3)
        if mask is None:
            assert ly.mask is None and np.array_equal(ly.ids, ids)
        else:
            assert np.array_equal(ly.mask, mask) and np.array_equal(ly.ids[mask], ids[mask])
    assert np.array_equal(d.label_map, flat) and np.array_equal(d.reference, ref)
    assert d.project_styles["global"] == {"kind": "seed", "seed": 5}  # a key the editor does not use: kept
    assert d.project_styles["a"] == {"kind": "preset", "name": "day"}  # the style panel's look, written on save
    # saving as PNG writes the flattened map and keeps the layers open
    png = tmp_path / "flat.png"
    assert window._save_to(png)
    assert "flattened" in window.statusBar().currentMessage() and d.layer_count == 3
    from spade_studio.imageio import read_label_map

    assert np.array_equal(read_label_map(png, d.label_set).ids, flat)
    # the PNG does not hold the layers: the document stays unsaved, so closing still asks
    assert d.dirty
    d.save(tmp_path / "again.ora")
    assert not d.dirty


def test_a_corrupt_ora_says_so_in_one_line_and_leaves_the_document(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    d = window.document
    d.add_layer()
    d.rect(5, 5, 20, 20, 3)
    before, count, steps = d.snapshot(), d.layer_count, d.undo_stack.count()
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    window.show()
    bad = tmp_path / "broken.ora"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    assert not window.open_path(bad, ask=False)
    assert shown and len(shown[0].splitlines()) == 1 and "broken.ora" in shown[0]
    assert np.array_equal(d.label_map, before) and d.layer_count == count and d.undo_stack.count() == steps
    assert d.path is None


def test_autosave_keeps_the_layers_and_recovery_restores_them(window, tmp_path):
    from spade_studio.app.autosave import Autosaver, find_recovery

    d = window.document
    d.add_layer("Top")
    d.rect(5, 5, 30, 30, 3)
    d.set_layer_visible(1, False)  # a hidden layer's strokes are not in the flattened PNG
    png = window.autosaver.write()
    assert png is not None and png.with_suffix(".ora").is_file()
    other = Document(d.label_set, 16, 16)
    saver = Autosaver(other, tmp_path / "autosave")
    saver.recover(find_recovery(tmp_path / "autosave")[0])
    assert other.layer_count == 2 and other.dirty and other.layers[1].name == "Top"
    assert not other.layers[1].visible and other.layers[1].mask[10, 10] and other.layers[1].ids[10, 10] == 3


def test_export_layers_as_psd_and_ora_leaves_the_open_file(window, tmp_path):
    from psd_tools import PSDImage

    from spade_studio.project import load_ora

    d = window.document
    d.add_layer("Hills")
    d.rect(10, 10, 40, 40, 3)
    d.path = tmp_path / "scene.png"
    dirty, steps = d.dirty, d.undo_stack.count()
    assert window.export_layers(tmp_path / "out.psd") and window.export_layers(tmp_path / "out.ora")
    assert d.path == tmp_path / "scene.png" and d.dirty == dirty and d.undo_stack.count() == steps
    names = [layer.name for layer in PSDImage.open(tmp_path / "out.psd").descendants()]
    assert "Hills" in names and "Background" in names
    got = load_ora(tmp_path / "out.ora")
    assert [ly.name for ly in got.layers] == ["Background", "Hills"]
    assert np.array_equal(got.flattened(), d.label_map)


def test_remap_switches_every_layer_hidden_ones_too(doc, ls):
    two_layer_doc(doc)
    doc.set_layer_visible(2, False)
    assert doc.used_ids() == [3, 5, 9]  # the hidden layer's 5 counts
    doc.remap(ls, {3: 4, 5: 6, 9: 10})
    assert doc.layer_count == 3 and not doc.layers[2].visible and doc.dirty
    assert set(np.unique(doc.layers[2].ids[doc.layers[2].mask])) == {6}
    assert set(np.unique(doc.label_map)) == {4, 10}


def test_the_timer_writes_the_layers_in_the_background_and_recovery_gets_them(window, tmp_path):
    from spade_studio.app.autosave import Autosaver, find_recovery

    d = window.document
    d.add_layer("Top")
    d.rect(5, 5, 30, 30, 3)
    window.autosaver.save_now()  # the timer's tick
    window.autosaver.wait()
    other = Document(d.label_set, 16, 16)
    Autosaver(other, tmp_path / "autosave").recover(find_recovery(tmp_path / "autosave")[0])
    assert other.layer_count == 2 and np.array_equal(other.label_map, d.label_map)


def test_a_damaged_layers_autosave_falls_back_to_the_flattened_map(window, tmp_path):
    from spade_studio.app.autosave import Autosaver, find_recovery

    d = window.document
    d.add_layer("Top")
    d.rect(5, 5, 30, 30, 3)
    png = window.autosaver.write()
    png.with_suffix(".ora").write_bytes(b"not a zip")
    other = Document(d.label_set, 16, 16)
    notes = Autosaver(other, tmp_path / "autosave").recover(find_recovery(tmp_path / "autosave")[0])
    assert other.layer_count == 1 and np.array_equal(other.label_map, d.label_map)
    assert any("could not be read" in n for n in notes)


def test_an_ora_re_saved_by_krita_opens_in_the_editor_through_the_models_label_set(window):
    """A Krita re-save drops our spade-studio/ folder: the editor reads its colour layers through
    the current label set (the tiny model's landscape set) instead of refusing the file."""
    from pathlib import Path

    from spade_studio.project import load_ora

    path = Path(__file__).resolve().parents[1] / "data" / "krita_resaved.ora"
    d = window.document
    assert window.open_path(path, ask=False)
    expected = load_ora(path, label_set=d.label_set)
    assert [ly.name for ly in d.layers] == [ly.name for ly in expected.layers]
    assert d.layer_count == 3 and np.array_equal(d.label_map, expected.flattened())


def test_dragging_a_layer_row_moves_the_layer_and_a_click_still_selects(qtbot, doc):
    from spade_studio.app.layers_panel import LayersPanel

    for _ in range(3):
        doc.add_layer()
    names = [ly.name for ly in doc.layers]  # Background, Layer 1, Layer 2, Layer 3
    panel = LayersPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(260, 300)
    panel.show()
    qtbot.waitExposed(panel)

    def drag_row(src: int, dst: int, release: bool = True):
        qtbot.wait(20)  # the rebuilt rows get their places in the list
        row, target = panel.row_for(src), panel.row_for(dst)
        start = QPointF(row.rect().center())
        end = QPointF(row.mapFromGlobal(target.mapToGlobal(target.rect().center())))
        send(row, QEvent.Type.MouseButtonPress, start, L, L)
        for t in (0.3, 0.7, 1.0):
            send(row, QEvent.Type.MouseMove, start + (end - start) * t, NB, L)
        if release:
            send(row, QEvent.Type.MouseButtonRelease, end, L, NB)
        return row

    drag_row(3, 1)  # the top layer down onto Layer 1's row
    assert [ly.name for ly in doc.layers] == [names[0], names[3], names[1], names[2]]
    assert [r.name.text() for r in panel.rows] == [names[2], names[1], names[3], names[0]]  # rows top first
    doc.undo_stack.undo()
    assert [ly.name for ly in doc.layers] == names
    # onto the bottom layer: as low as a layer goes (just above it)
    drag_row(2, 0)
    assert [ly.name for ly in doc.layers] == [names[0], names[2], names[1], names[3]]
    doc.undo_stack.undo()
    # while dragging, a line shows where the layer goes (above the target when moving up)
    row = drag_row(1, 3, release=False)
    line = panel.findChild(QFrame, "layer_drop_line")
    assert line.isVisible() and line.geometry().top() <= panel.row_for(3).geometry().top()
    send(row, QEvent.Type.MouseButtonRelease, QPointF(row.mapFromGlobal(panel.row_for(3).mapToGlobal(QPoint(5, 5)))), L, NB)
    assert [ly.name for ly in doc.layers] == [names[0], names[2], names[3], names[1]] and not line.isVisible()
    doc.undo_stack.undo()
    # the bottom layer cannot be dragged; a plain click selects
    drag_row(0, 3)
    qtbot.wait(20)
    assert [ly.name for ly in doc.layers] == names
    qtbot.mouseClick(panel.row_for(2), L, pos=QPoint(panel.row_for(2).width() - 4, 8))
    assert doc.active_index == 2
    # a small wobble under the drag distance is still a click
    qtbot.wait(20)
    row = panel.row_for(1)
    send(row, QEvent.Type.MouseButtonPress, QPointF(row.width() - 6, 8), L, L)
    send(row, QEvent.Type.MouseMove, QPointF(row.width() - 5, 9), NB, L)
    send(row, QEvent.Type.MouseButtonRelease, QPointF(row.width() - 5, 9), L, NB)
    assert doc.active_index == 1 and [ly.name for ly in doc.layers] == names
