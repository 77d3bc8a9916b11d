"""The painting tools people expect (issue 14 item 5), driven with real mouse and key events:
polygon/lasso fill, "paint only over", stroke smoothing, mirror painting, the cursor tag and
the render history strip."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from conftest import make_tiny_bundle  # noqa: E402
from helpers import send, shown_canvas  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, Qt  # noqa: E402
from PySide6.QtGui import QKeyEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from spade_studio import labelmap as lm  # noqa: E402
from spade_studio.app.canvas import Canvas  # noqa: E402
from spade_studio.app.document import Document  # noqa: E402
from spade_studio.app.enums import Tool  # noqa: E402
from spade_studio.labels import load_label_set  # noqa: E402

L = Qt.MouseButton.LeftButton
NB = Qt.MouseButton.NoButton
NOMOD = Qt.KeyboardModifier.NoModifier
ZOOM, OX, OY = 5.0, 8.0, 8.0
LOAD_MS = 60_000


@pytest.fixture
def doc(qtbot):
    return Document(load_label_set("landscape"), 40, 30, fill_label=0)


@pytest.fixture
def canvas(qtbot, doc):
    c = shown_canvas(qtbot, doc, ZOOM, OX, OY)
    c.set_current_label(7)
    return c


def at(mx, my):
    """Widget position of map point (mx, my) (continuous map coordinates)."""
    return QPointF(OX + mx * ZOOM, OY + my * ZOOM)


def press(w, pos, mods=NOMOD):
    send(w, QEvent.Type.MouseButtonPress, pos, L, L, mods)


def move(w, pos, buttons=L):
    send(w, QEvent.Type.MouseMove, pos, NB, buttons)


def release(w, pos):
    send(w, QEvent.Type.MouseButtonRelease, pos, L, NB)


def click(w, pos, mods=NOMOD):
    press(w, pos, mods)
    release(w, pos)


def double_click(w, pos):
    click(w, pos)
    send(w, QEvent.Type.MouseButtonDblClick, pos, L, L)
    release(w, pos)


def drag(w, points):
    press(w, points[0])
    for p in points[1:]:
        move(w, p)
    release(w, points[-1])


def key(w, k):
    QApplication.sendEvent(w, QKeyEvent(QEvent.Type.KeyPress, k, NOMOD))
    QApplication.sendEvent(w, QKeyEvent(QEvent.Type.KeyRelease, k, NOMOD))


def expected_polygon(shape, corners, label, base=None, **kw):
    m = np.zeros(shape, np.uint8) if base is None else base.copy()
    lm.fill_polygon(m, [(x - 0.5, y - 0.5) for x, y in corners], label, **kw)
    return m


@pytest.fixture
def bare(qtbot, tmp_path):
    """The main window without a model (no renders), after the failed load was reported."""
    from spade_studio.app.main_window import MainWindow
    from spade_studio.app.settings import Settings

    win = MainWindow(Settings(), model=str(tmp_path / "missing.safetensors"), device="cpu",
                     autosave_dir=tmp_path / "autosave")
    qtbot.waitUntil(lambda: win.st_model.text() == "model: none", timeout=LOAD_MS)
    yield win
    win.document.undo_stack.setClean()
    win.close()


# -- polygon and lasso -----------------------------------------------------------------------

CORNERS = [(5.3, 4.2), (30.6, 6.1), (24.4, 25.7), (8.1, 20.2)]


def test_polygon_clicks_and_double_click_fill_one_undo_step(canvas, doc, qtbot):
    canvas.set_tool(Tool.POLYGON)
    for c in CORNERS[:-1]:
        click(canvas, at(*c))
    assert doc.undo_stack.count() == 0 and (doc.label_map == 0).all()  # nothing yet
    move(canvas, at(*CORNERS[-1]), NB)  # hover: the rubber band follows
    qtbot.wait(20)
    img = canvas.grab().toImage()
    inside = img.pixelColor(at(20, 10).toPoint())
    outside = img.pixelColor(at(36, 27).toPoint())
    assert inside != outside  # the outline preview tints the polygon while it is drawn
    double_click(canvas, at(*CORNERS[-1]))
    expected = expected_polygon(doc.label_map.shape, CORNERS, 7)
    assert np.array_equal(doc.label_map, expected) and (expected == 7).sum() > 200
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText().startswith("Polygon")
    assert not canvas.tool_handler().active
    doc.undo_stack.undo()
    assert (doc.label_map == 0).all()


def test_polygon_enter_backspace_escape_and_click_on_first_corner(canvas, doc):
    canvas.set_tool(Tool.POLYGON)
    canvas.setFocus()
    for c in CORNERS + [(2.0, 28.0)]:
        click(canvas, at(*c))
    key(canvas, Qt.Key.Key_Backspace)  # drops (2, 28)
    key(canvas, Qt.Key.Key_Return)
    assert np.array_equal(doc.label_map, expected_polygon(doc.label_map.shape, CORNERS, 7))
    doc.undo_stack.undo()
    for c in CORNERS[:3]:
        click(canvas, at(*c))
    key(canvas, Qt.Key.Key_Escape)  # dropped: nothing painted, nothing pending
    assert not canvas.tool_handler().active
    key(canvas, Qt.Key.Key_Return)
    assert (doc.label_map == 0).all() and doc.undo_stack.index() == 0
    for c in CORNERS[:3]:
        click(canvas, at(*c))
    click(canvas, at(CORNERS[0][0] + 0.4, CORNERS[0][1] - 0.3))  # within 6 screen px of the first corner
    assert np.array_equal(doc.label_map, expected_polygon(doc.label_map.shape, CORNERS[:3], 7))
    assert doc.undo_stack.index() == 1


def test_switching_tool_drops_a_polygon_in_progress(canvas, doc):
    canvas.set_tool(Tool.POLYGON)
    for c in CORNERS:
        click(canvas, at(*c))
    canvas.set_tool(Tool.BRUSH)
    canvas.set_tool(Tool.POLYGON)
    key(canvas, Qt.Key.Key_Return)
    assert (doc.label_map == 0).all() and doc.undo_stack.count() == 0


def test_lasso_drag_fills_the_outline_on_release(canvas, doc):
    canvas.set_tool(Tool.POLYGON)
    trail = [(20 + 12 * math.cos(t), 15 + 10 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 40)[:-1]]
    press(canvas, at(*trail[0]))
    for p in trail[1:]:
        move(canvas, at(*p))
    assert canvas.tool_handler().lasso and doc.undo_stack.count() == 0
    release(canvas, at(*trail[-1]))
    expected = expected_polygon(doc.label_map.shape, trail, 7)
    assert np.array_equal(doc.label_map, expected)
    assert abs(int((expected == 7).sum()) - math.pi * 12 * 10) < 40  # about the ellipse's area
    assert doc.undo_stack.count() == 1


def test_polygon_shortcut_is_listed_in_help(bare):
    from spade_studio.app.dialogs import shortcut_rows

    win = bare
    rows = dict(shortcut_rows(win.act))
    assert rows["Polygon"] == "P" and rows["Mirror Painting"] == "M"
    keys = [k for _w, k in shortcut_rows(win.act) if k]
    assert len(keys) == len(set(keys)), "two actions share a shortcut"
    assert any("Backspace" in k for _w, k in shortcut_rows(win.act))


# -- paint only over -------------------------------------------------------------------------


def two_labels(doc):
    """Left half label 0, right half label 3 (x >= 20)."""
    doc.rect(20, 0, 39, 29, 3)
    doc.undo_stack.clear()
    return doc.snapshot()


def test_alt_shift_click_picks_the_protected_label_and_every_tool_respects_it(canvas, doc):
    base = two_labels(doc)
    click(canvas, at(30.5, 10.5), Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier)
    assert doc.only_over == 3 and doc.undo_stack.count() == 0
    over3 = base == 3

    def check(before):
        after = doc.snapshot()
        changed = after != before
        assert changed.any() and (changed <= over3).all() and set(np.unique(after[changed])) == {7}

    canvas.set_tool(Tool.BRUSH)
    canvas.set_brush_size(5)
    before = doc.snapshot()
    drag(canvas, [at(5.5, 5.5), at(35.5, 5.5)])
    check(before)
    for tool, gesture in [
        (Tool.LINE, lambda: drag(canvas, [at(2.5, 12.5), at(38.5, 12.5)])),
        (Tool.RECT, lambda: drag(canvas, [at(1.5, 17.5), at(38.5, 19.5)])),
        (Tool.POLYGON, lambda: [click(canvas, at(*p)) for p in [(2, 22), (38, 22), (38, 27)]]
         + [key(canvas, Qt.Key.Key_Return)]),
    ]:
        canvas.set_tool(tool)
        before = doc.snapshot()
        gesture()
        check(before)
    # fill over the protected label fills only that region; a click on another label does nothing
    doc.undo_stack.setIndex(0)
    canvas.set_tool(Tool.FILL)
    click(canvas, at(5.5, 5.5))
    assert np.array_equal(doc.label_map, base)
    click(canvas, at(25.5, 5.5))
    assert np.array_equal(doc.label_map, np.where(over3, 7, base))
    doc.only_over = None  # any label again
    doc.undo_stack.setIndex(0)
    click(canvas, at(5.5, 5.5))
    assert (doc.label_map[:, :20] == 7).all() and (doc.label_map[:, 20:] == 3).all()


def test_only_over_combo_follows_the_document(bare, qtbot):
    win = bare
    combo = win.options_bar.only_combo
    assert combo.currentText() == "any label" and combo.count() == len(win.document.label_set.ids) + 1
    i = combo.findData(9)
    combo.activated.emit(i)  # what choosing an entry does
    assert win.document.only_over == 9
    win.document.only_over = 4
    assert combo.currentData() == 4
    assert "Alt+Shift+click" in combo.toolTip()


# -- stroke smoothing ------------------------------------------------------------------------


def zigzag_stroke(doc, strength, qtbot):
    """A zig-zag pointer path (+-3 map px around y = 30) from x = 8 to x = 112 on a fresh canvas."""
    doc.new(120, 60, doc.label_set, 0)
    c = Canvas(doc)
    qtbot.addWidget(c)
    c.resize(600, 400)
    c.show()
    c.set_view(ZOOM, QPointF(0, 0))
    c.set_current_label(7)
    c.set_brush_size(3)
    for t in (Tool.BRUSH, Tool.ERASER):
        c.tool_handler(t).smoothing = strength
    pts = [(8.5 + 2 * i, 30.5 + (3 if i % 2 else -3)) for i in range(53)]
    pts[-1] = (112.5, 30.5)
    press(c, QPointF(pts[0][0] * ZOOM, pts[0][1] * ZOOM))
    for x, y in pts[1:]:
        move(c, QPointF(x * ZOOM, y * ZOOM))
    release(c, QPointF(pts[-1][0] * ZOOM, pts[-1][1] * ZOOM))
    painted = doc.label_map == 7
    ys, xs = np.nonzero(painted)
    deviation = float(np.abs(ys - 30).mean())  # how far the painted pixels stray from the line
    return painted, deviation, pts


def test_smoothing_reduces_a_zigzag_and_the_stroke_reaches_the_release_point(doc, qtbot):
    results = {s: zigzag_stroke(doc, s, qtbot) for s in (0, 30, 100)}
    devs = [results[s][1] for s in (0, 30, 100)]
    assert devs[0] > devs[1] > devs[2], devs
    assert devs[2] < 0.5 * devs[0]
    for s, (painted, _dev, pts) in results.items():
        assert painted[30, 112], s  # caught up: the stroke ends where the pointer let go
        assert painted[math.floor(pts[0][1]), math.floor(pts[0][0])], s  # and starts where it was pressed
    # strength 0 is the raw pointer path exactly (today's behaviour)
    painted0, _dev, pts = results[0]
    expected = np.zeros((60, 120), np.uint8)
    lm.paint_stroke(expected, [(math.floor(x), math.floor(y)) for x, y in pts], 1.5, 7)
    assert np.array_equal(painted0, expected == 7)


def test_smoothing_slider_sets_brush_and_eraser(bare, qtbot):
    win = bare
    slider = win.options_bar.smooth_slider
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_End)
    assert slider.value() == 100
    assert win.canvas.tool_handler(Tool.BRUSH).smoothing == 100 == win.canvas.tool_handler(Tool.ERASER).smoothing
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    assert win.canvas.tool_handler(Tool.BRUSH).smoothing == 0


# -- mirror painting -------------------------------------------------------------------------


def test_mirror_key_paints_both_halves_in_one_undo_step(bare, qtbot):
    win = bare
    win.show()
    qtbot.waitExposed(win)
    canvas, doc = win.canvas, win.document
    doc.new(41, 30, doc.label_set, 0)
    canvas.set_view(ZOOM, QPointF(OX, OY))
    win.activateWindow()
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus)
    guide = [QPoint(round(at(20.5, 29.0).x()) + dx, round(at(20.5, 29.0).y())) for dx in range(-3, 4)]
    plain = [canvas.grab().toImage().pixelColor(q) for q in guide]
    qtbot.keyClick(canvas, Qt.Key.Key_M)
    assert doc.mirror and win.act.mirror.isChecked()
    qtbot.wait(20)
    img = canvas.grab().toImage()
    assert [img.pixelColor(q) for q in guide] != plain  # the guide line is drawn
    win.set_current_label(7)
    canvas.set_brush_size(3)
    steps = []
    for tool, gesture in [
        (Tool.BRUSH, lambda: drag(canvas, [at(3.5, 3.5), at(12.5, 8.5)])),
        (Tool.LINE, lambda: drag(canvas, [at(2.5, 14.5), at(15.5, 12.5)])),
        (Tool.RECT, lambda: drag(canvas, [at(4.5, 18.5), at(9.5, 20.5)])),
        (Tool.POLYGON, lambda: [click(canvas, at(*p)) for p in [(2, 23), (14, 24), (6, 29)]]
         + [key(canvas, Qt.Key.Key_Return)]),
    ]:
        win.set_tool(tool)
        before = doc.snapshot()
        gesture()
        after = doc.snapshot()
        changed = after != before
        assert changed[:, :20].any() and np.array_equal(changed, changed[:, ::-1]), tool
        steps.append(before)
    assert doc.undo_stack.count() == 4
    for before in reversed(steps):
        doc.undo_stack.undo()  # each tool's both halves go back in one step
        assert np.array_equal(doc.snapshot(), before)
    # fill: from the click and from the mirrored pixel
    doc.rect(20, 0, 20, 29, 3)  # a wall on the centre column
    win.set_tool(Tool.FILL)
    click(canvas, at(5.5, 5.5))
    m = doc.label_map
    assert (m[:, :20] == 7).all() and (m[:, 21:] == 7).all() and (m[:, 20] == 3).all()
    qtbot.keyClick(canvas, Qt.Key.Key_M)
    assert not doc.mirror and not win.act.mirror.isChecked()


# -- the cursor: brush outline and label tag ---------------------------------------------------


class PaintRects(QObject):
    def __init__(self):
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, obj, ev):  # noqa: N802
        if ev.type() == QEvent.Type.Paint:
            self.rects.append(ev.rect())
        return False


def test_cursor_shows_the_label_and_size_and_hides_on_leave(canvas, doc, qtbot):
    canvas.set_brush_size(6)
    canvas.set_current_label(7)
    pos = at(10.5, 10.5)
    move(canvas, pos, NB)
    qtbot.wait(20)
    tag = canvas._tag_rect(pos)
    assert not tag.isEmpty() and "6 px" in canvas._tag_text()
    assert doc.label_set.name_of(7) in canvas._tag_text()
    img = canvas.grab().toImage()
    want = canvas._label_color(7)
    swatch = img.pixelColor(QPoint(tag.x() + 8, tag.y() + tag.height() // 2))
    assert (swatch.red(), swatch.green(), swatch.blue()) == (want.red(), want.green(), want.blue())
    # the brush outline at the brush size and zoom: its ring is drawn 3 map px (15 screen px) out
    ring = [img.pixelColor(QPoint(round(pos.x() + dx), round(pos.y()))) for dx in range(10, 20)]
    fill = img.pixelColor(QPoint(round(pos.x() + 30), round(pos.y())))
    assert any(c != fill for c in ring)
    # near the right and bottom edges the tag goes to the other side of the pointer, inside the canvas
    edge = QPointF(canvas.width() - 5, canvas.height() - 5)
    assert canvas.rect().contains(canvas._tag_rect(edge)) and canvas._tag_rect(edge).right() < edge.x()
    # the eraser shows the background label
    canvas.set_tool(Tool.ERASER)
    assert canvas._tag_text().startswith(doc.label_set.name_of(canvas.background_label()))
    # moving the cursor repaints only around the old and new positions
    qtbot.wait(50)  # the tool change repainted everything
    spy = PaintRects()
    canvas.installEventFilter(spy)
    move(canvas, at(12.5, 11.5), NB)
    qtbot.waitUntil(lambda: bool(spy.rects), timeout=2000)
    area = sum(r.width() * r.height() for r in spy.rects)
    assert area < 0.5 * canvas.width() * canvas.height()
    canvas.removeEventFilter(spy)
    # leaving the canvas hides the tag
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
    qtbot.wait(20)
    img = canvas.grab().toImage()
    tag = canvas._tag_rect(at(12.5, 11.5))
    bg = img.pixelColor(QPoint(tag.x() + 8, tag.y() + tag.height() // 2))
    assert bg == img.pixelColor(at(30.5, 25.5).toPoint())  # just the map there now


# -- the render history strip -------------------------------------------------------------------


@pytest.fixture
def window(qtbot, tmp_path):
    from spade_studio.app.main_window import MainWindow
    from spade_studio.app.settings import Settings
    from spade_studio.model.checkpoint import save_model

    tiny = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    win = MainWindow(Settings(), model=str(tiny), device="cpu", autosave_dir=tmp_path / "autosave")
    win.resize(1200, 800)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=LOAD_MS)
    yield win
    win.document.undo_stack.setClean()
    win.close()


def test_history_strip_keeps_looks_and_a_click_returns_to_one(window, qtbot):
    from spade_studio.app.style_panel import StyleSource

    strip, panel = window.history_strip, window.style_panel
    with qtbot.waitSignal(window.render_shown, timeout=LOAD_MS):
        panel.pick(StyleSource.seed(11))
    qtbot.waitUntil(lambda: len(strip.entries()) >= 1, timeout=LOAD_MS)
    first_look = panel.current_look()
    first_image = window.last_image.copy()
    with qtbot.waitSignal(window.render_shown, timeout=LOAD_MS):
        panel.seed_spin.setValue(222)
    qtbot.waitUntil(lambda: strip.entries()[0].look.seed == 222, timeout=LOAD_MS)
    looks = [e.look for e in strip.entries()]
    assert looks[0].a == StyleSource.seed(222) and first_look in looks
    # painting with the same look updates its entry instead of adding one
    n = len(strip.entries())
    window.document.rect(0, 0, 20, 20, 5)
    qtbot.waitUntil(lambda: strip.entries()[0].stamp > 0 and len(strip.entries()) == n, timeout=LOAD_MS)
    button = strip.buttons()[looks.index(first_look)]
    assert "seed 11" in button.toolTip() and "Seed: 11" in button.toolTip()
    window.document.undo_stack.undo()  # the map as it was for the first render
    qtbot.wait(50)
    with qtbot.waitSignal(window.render_shown, timeout=LOAD_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert panel.current_source() == StyleSource.seed(11) and panel.seed_spin.value() == 11
    qtbot.waitUntil(lambda: window.style.seed == 11, timeout=LOAD_MS)
    qtbot.waitUntil(lambda: np.array_equal(window.last_image, first_image), timeout=LOAD_MS)
    assert strip.buttons()[0].isChecked() and strip.entries()[0].look == first_look
    # memory: thumbnails only, at most MAX_ENTRIES of them
    for s in range(strip.max_entries + 3):
        strip.add(window.last_image, first_look.__class__(StyleSource.seed(1000 + s), seed=1000 + s), "x")
    assert len(strip.entries()) == strip.max_entries
    assert strip.thumbnail_bytes() <= strip.max_entries * strip.THUMB * strip.THUMB * 4
    # View > Render History hides it
    window.act.history.trigger()
    assert not strip.isVisibleTo(window)
    window.act.history.trigger()
    assert strip.isVisibleTo(window)


# -- on an upper layer -------------------------------------------------------------------------


def test_only_over_and_mirror_on_an_upper_layer_go_by_the_flattened_map(canvas, doc):
    base = two_labels(doc)  # bottom layer: left 0, right 3
    doc.add_layer()
    doc.rect(0, 0, 9, 29, 5)  # the upper layer covers the left quarter with label 5
    flat = doc.snapshot()
    assert (flat[:, :10] == 5).all() and doc.active_index == 1
    doc.only_over = 5  # what the user sees there, though the bottom layer holds 0
    canvas.set_tool(Tool.RECT)
    drag(canvas, [at(0.5, 10.5), at(39.5, 14.5)])
    after = doc.snapshot()
    changed = after != flat
    assert (changed == ((flat == 5) & (np.arange(30)[:, None] >= 10) & (np.arange(30)[:, None] <= 14))).all()
    assert np.array_equal(doc.layers[0].ids, base)  # the bottom layer is untouched
    doc.undo_stack.undo()
    doc.only_over = None
    doc.mirror = True
    canvas.set_tool(Tool.POLYGON)
    for p in [(1.2, 1.3), (6.7, 1.1), (4.1, 6.8)]:
        click(canvas, at(*p))
    key(canvas, Qt.Key.Key_Return)
    upper = doc.layers[1]
    painted = upper.mask & (upper.ids == 7)
    assert painted[:, :10].any() and np.array_equal(painted, painted[:, ::-1] | painted)
    assert np.array_equal(painted, painted[:, ::-1])
    assert doc.undo_stack.undoText().startswith("Polygon")
