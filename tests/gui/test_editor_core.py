"""Editor core: the Canvas with real mouse events (tools through the canvas, zoom, pan, drawing, overlays)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from helpers import send, shown_canvas  # noqa: E402
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from spade_studio import labelmap as lm  # noqa: E402
from spade_studio.app.document import Document  # noqa: E402
from spade_studio.app.enums import Tool  # noqa: E402
from spade_studio.labels import load_label_set  # noqa: E402

L = Qt.MouseButton.LeftButton
M = Qt.MouseButton.MiddleButton
NB = Qt.MouseButton.NoButton
ZOOM, OX, OY = 5.0, 8.0, 8.0  # 8 logical px is whole device pixels at ratios 1, 1.25, 1.5, 2


@pytest.fixture
def ls():
    return load_label_set("landscape")


@pytest.fixture
def doc(ls):
    return Document(ls, 40, 30, fill_label=0)


@pytest.fixture
def canvas(qtbot, doc):
    return shown_canvas(qtbot, doc, ZOOM, OX, OY)


def at(x, y, canvas=None):
    """Widget position of the centre of map pixel (x, y) (fractions allowed)."""
    if canvas is not None:
        return canvas.map_to_widget(x + 0.5, y + 0.5)
    return QPointF(OX + (x + 0.5) * ZOOM, OY + (y + 0.5) * ZOOM)


def press(w, pos, button=L, mods=Qt.KeyboardModifier.NoModifier):
    send(w, QEvent.Type.MouseButtonPress, pos, button, button, mods)


def move(w, pos, buttons=L):
    send(w, QEvent.Type.MouseMove, pos, NB, buttons)


def release(w, pos, button=L):
    send(w, QEvent.Type.MouseButtonRelease, pos, button, NB)


def drag(w, points, button=L):
    press(w, points[0], button)
    for p in points[1:]:
        move(w, p, button)
    release(w, points[-1], button)


def color_at(canvas, img, mx, my):
    """RGB of the grabbed image at map point (mx, my) (the device pixel holding it)."""
    w = canvas.map_to_widget(mx, my)
    dpr = img.devicePixelRatio()
    c = img.pixelColor(QPoint(math.floor(w.x() * dpr), math.floor(w.y() * dpr)))
    return (c.red(), c.green(), c.blue())


def disc(shape, cx, cy, d):
    """Pixels whose centre is within d/2 of (cx, cy): (2x-2cx)^2 + (2y-2cy)^2 <= d^2."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (2 * xx - round(2 * cx)) ** 2 + (2 * yy - round(2 * cy)) ** 2 <= d * d


# -- brush strokes ---------------------------------------------------------------------------


def test_fast_stroke_paints_exact_pixels_as_one_undo_step(canvas, doc):
    original = doc.snapshot()
    canvas.set_current_label(9)
    canvas.set_brush_size(3)
    drag(canvas, [at(5, 5), at(15, 5)])  # one big jump: the dabs in between are interpolated
    expected = original.copy()
    expected[4:7, 4:17] = 9  # diameter 3 = 3x3 square around each centre from x=5 to 15
    assert np.array_equal(doc.label_map, expected)
    assert doc.undo_stack.count() == 1
    assert doc.dirty
    doc.undo_stack.undo()
    assert np.array_equal(doc.label_map, original)
    assert not doc.dirty
    doc.undo_stack.redo()
    assert np.array_equal(doc.label_map, expected)


def test_diagonal_stroke_with_many_moves_is_one_step_and_gap_free(canvas, doc):
    canvas.set_current_label(7)
    canvas.set_brush_size(5)
    pts = [at(3 + 2 * i, 4 + i) for i in range(12)] + [at(30, 25)]
    drag(canvas, pts)
    assert doc.undo_stack.count() == 1
    # the mouse positions in labelmap coordinates (pixel centres are integers); a stroke
    # covers every pixel within the radius (2.5) of the polyline through them
    centres = [(3 + 2 * i, 4 + i) for i in range(12)] + [(30, 25)]
    yy, xx = np.mgrid[0:30, 0:40]
    near = np.zeros((30, 40), bool)
    for (ax, ay), (bx, by) in zip(centres[:-1], centres[1:]):
        dx, dy = bx - ax, by - ay
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / (dx * dx + dy * dy), 0, 1)
        near |= (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2 <= 2.5**2 + 1e-6
    assert np.array_equal(doc.label_map == 7, near)
    doc.undo_stack.undo()
    assert (doc.label_map == 0).all()


def test_single_click_dab_and_even_brush_centres_on_corner(canvas, doc):
    canvas.set_current_label(3)
    canvas.set_brush_size(1)
    drag(canvas, [at(12, 7)])
    assert np.argwhere(doc.label_map == 3).tolist() == [[7, 12]]
    canvas.set_brush_size(2)
    canvas.set_current_label(4)
    # mouse just up-left of the corner shared by pixels (20..21, 10..11)
    drag(canvas, [QPointF(OX + 20.9 * ZOOM, OY + 10.9 * ZOOM)])
    assert sorted(map(tuple, np.argwhere(doc.label_map == 4).tolist())) == [(10, 20), (10, 21), (11, 20), (11, 21)]
    canvas.set_brush_size(6)
    canvas.set_current_label(5)
    drag(canvas, [QPointF(OX + 30.2 * ZOOM, OY + 20.1 * ZOOM)])  # nearest corner: (30, 20)
    assert np.array_equal(doc.label_map == 5, disc(doc.label_map.shape, 29.5, 19.5, 6))
    assert doc.undo_stack.count() == 3


def test_two_strokes_two_undo_steps(canvas, doc):
    canvas.set_brush_size(3)
    canvas.set_current_label(6)
    drag(canvas, [at(5, 5), at(10, 5)])
    after_first = doc.snapshot()
    canvas.set_current_label(7)
    drag(canvas, [at(5, 6), at(5, 20)])
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert np.array_equal(doc.label_map, after_first)


def test_eraser_paints_the_background_label(canvas, doc):
    doc.rect(0, 0, 39, 29, 3)
    canvas.set_background_label(1)
    canvas.set_tool(Tool.ERASER)
    canvas.set_brush_size(1)
    drag(canvas, [at(2, 2), at(8, 2)])
    assert (doc.label_map[2, 2:9] == 1).all()
    assert (doc.label_map == 1).sum() == 7
    assert "Erase" in doc.undo_stack.undoText()


def test_alt_click_picks_with_the_brush(canvas, doc):
    doc.rect(4, 4, 6, 6, 8)
    with_signal = []
    canvas.label_picked.connect(with_signal.append)
    press(canvas, at(5, 5), mods=Qt.KeyboardModifier.AltModifier)
    release(canvas, at(5, 5))
    assert with_signal == [8] and canvas.current_label() == 8
    assert doc.undo_stack.count() == 1  # only the rect; nothing painted


def test_undo_during_a_stroke_cancels_it(canvas, doc):
    canvas.set_brush_size(3)
    canvas.set_current_label(3)
    drag(canvas, [at(5, 5)])
    assert doc.undo_stack.count() == 1
    canvas.set_current_label(10)
    press(canvas, at(20, 20))
    move(canvas, at(25, 20))
    assert (doc.label_map == 10).any()
    doc.undo_stack.undo()  # Ctrl+Z with the mouse still down
    release(canvas, at(25, 20))
    assert (doc.label_map == 0).all()
    assert doc.undo_stack.count() == 1 and doc.undo_stack.index() == 0


# -- other tools ------------------------------------------------------------------------------


def test_fill_tool_fills_four_connected_region(canvas, doc):
    doc.rect(2, 2, 6, 6, 3)
    doc.rect(7, 7, 9, 9, 3)  # touches the first block only at a corner
    before = doc.snapshot()
    canvas.set_tool(Tool.FILL)
    canvas.set_current_label(10)
    finished = []
    canvas.stroke_finished.connect(lambda: finished.append(1))
    drag(canvas, [at(4, 4)])
    expected = before.copy()
    expected[2:7, 2:7] = 10
    assert np.array_equal(doc.label_map, expected)
    assert finished == [1] and doc.undo_stack.count() == 3
    doc.undo_stack.undo()
    assert np.array_equal(doc.label_map, before)


def test_line_tool_previews_then_commits_one_step(canvas, doc, ls):
    canvas.set_tool("line")
    canvas.set_brush_size(1)
    canvas.set_current_label(5)  # snow (white)
    press(canvas, at(3, 12))
    move(canvas, at(20, 12))
    move(canvas, at(33, 12))
    # live preview is drawn on the widget, the map is untouched until release
    assert (doc.label_map == 0).all()
    assert color_at(canvas, canvas.grab().toImage(), 25.5, 12.5) == ls.by_id(5).color
    release(canvas, at(33, 12))
    expected = np.zeros(doc.label_map.shape, np.uint8)
    expected[12, 3:34] = 5
    assert np.array_equal(doc.label_map, expected)
    assert doc.undo_stack.count() == 1
    # a thick diagonal line matches the labelmap op
    canvas.set_brush_size(4)
    drag(canvas, [QPointF(OX + 5 * ZOOM, OY + 20 * ZOOM), QPointF(OX + 30 * ZOOM, OY + 28 * ZOOM)])
    ref = expected.copy()
    lm.draw_line(ref, 4.5, 19.5, 29.5, 27.5, 2.0, 5)
    assert np.array_equal(doc.label_map, ref)


def test_escape_cancels_the_shape(canvas, doc, qtbot):
    canvas.set_tool("rect")
    canvas.setFocus()
    press(canvas, at(3, 3))
    move(canvas, at(9, 9))
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    release(canvas, at(9, 9))
    assert (doc.label_map == 0).all() and doc.undo_stack.count() == 0


@pytest.mark.parametrize("corners", [((3, 4), (8, 10)), ((8, 10), (3, 4)), ((35, 25), (60, 60))])
def test_rect_tool(canvas, doc, corners):
    canvas.set_tool("rect")
    canvas.set_current_label(2)
    (ax, ay), (bx, by) = corners
    drag(canvas, [at(ax, ay), at((ax + bx) / 2, (ay + by) / 2), at(bx, by)])
    expected = np.zeros(doc.label_map.shape, np.uint8)
    expected[min(ay, by) : max(ay, by) + 1, min(ax, bx) : max(ax, bx) + 1] = 2
    assert np.array_equal(doc.label_map, expected)
    assert doc.undo_stack.count() == 1


def test_eyedropper_emits_label(canvas, doc):
    doc.rect(10, 10, 12, 12, 7)
    canvas.set_tool("eyedropper")
    picked = []
    canvas.label_picked.connect(picked.append)
    drag(canvas, [at(11, 11)])
    drag(canvas, [at(0, 0)])
    assert picked == [7, 0]
    assert canvas.current_label() == 0
    drag(canvas, [QPointF(OX - 20, OY - 20)])  # outside the map: nothing
    assert picked == [7, 0]


def test_brush_size_steps(canvas, qtbot):
    """[ and ] (window actions, see test_first_hour) step the brush: by 1 up to 10 px, then by 20 %."""
    sizes = []
    canvas.brush_size_changed.connect(sizes.append)
    canvas.set_brush_size(5)
    canvas.brush_larger()
    canvas.brush_larger()
    canvas.brush_smaller()
    assert canvas.brush_size() == 6
    assert sizes == [5, 6, 7, 6]
    canvas.set_brush_size(1)
    canvas.brush_smaller()
    assert canvas.brush_size() == 1
    canvas.set_brush_size(40)
    canvas.brush_larger()
    assert canvas.brush_size() == 48  # large brushes grow by a ratio


def test_cursor_info(canvas, doc):
    doc.rect(7, 3, 7, 3, 4)
    info = []
    canvas.cursor_info.connect(lambda *a: info.append(a))
    move(canvas, at(7, 3), NB)
    move(canvas, QPointF(OX + 41 * ZOOM, OY), NB)
    assert info == [(7, 3, 4), (41, 0, -1)]


# -- view -------------------------------------------------------------------------------------


@pytest.mark.parametrize("zoom", [0.75, 1.0, 1.7, 3.3, 8.0, 13.25])
def test_clicks_hit_exact_pixels_at_any_zoom(canvas, doc, zoom):
    canvas.set_view(zoom, QPointF(3.0, 7.0))
    canvas.set_brush_size(1)
    rng = np.random.default_rng(int(zoom * 100))
    o = canvas.offset()
    for k in range(12):
        before = doc.snapshot()
        # an arbitrary widget point over the map, fractional like high-DPI mouse positions
        wx = o.x() + rng.uniform(0, doc.width * zoom)
        wy = o.y() + rng.uniform(0, doc.height * zoom)
        x, y = math.floor((wx - o.x()) / zoom), math.floor((wy - o.y()) / zoom)
        if not (0 <= x < doc.width and 0 <= y < doc.height):
            continue
        label = 1 + k % 10
        canvas.set_current_label(label)
        drag(canvas, [QPointF(wx, wy)])
        diff = np.argwhere(doc.label_map != before)
        if before[y, x] == label:
            assert diff.size == 0
        else:
            assert diff.tolist() == [[y, x]]


def test_wheel_zoom_keeps_point_under_mouse(canvas):
    pos = QPointF(123.0, 77.0)
    m0 = canvas.widget_to_map(pos)
    zooms = []
    canvas.zoom_changed.connect(zooms.append)
    for delta in (120, 120, -240, 360, 120):
        ev = QWheelEvent(
            pos, QPointF(canvas.mapToGlobal(pos)), QPoint(), QPoint(0, delta), NB,
            Qt.KeyboardModifier.ControlModifier if delta == 360 else Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase, False,
        )
        QApplication.sendEvent(canvas, ev)
        m = canvas.widget_to_map(pos)
        # the offset is snapped to device pixels: the point moves by < 1 device pixel
        assert abs(m[0] - m0[0]) * canvas.zoom() < 1.0 and abs(m[1] - m0[1]) * canvas.zoom() < 1.0
    assert len(zooms) == 5
    assert canvas.zoom() == pytest.approx(ZOOM * 1.25**4)  # net +480 = 4 notches


def test_zoom_buttons_and_fit(canvas, doc):
    canvas.zoom_actual()
    assert canvas.zoom() == 1.0
    canvas.zoom_in()
    assert canvas.zoom() == pytest.approx(1.25)
    canvas.zoom_out()
    canvas.zoom_out()
    assert canvas.zoom() == pytest.approx(0.8)
    canvas.zoom_fit()
    z = canvas.zoom()
    assert doc.width * z <= canvas.width() and doc.height * z <= canvas.height()
    assert doc.width * z > canvas.width() * 0.9 or doc.height * z > canvas.height() * 0.9
    c = canvas.map_to_widget(doc.width / 2, doc.height / 2)
    assert abs(c.x() - canvas.width() / 2) <= 1 and abs(c.y() - canvas.height() / 2) <= 1


def test_pan_with_middle_button_and_space_drag(canvas, doc, qtbot):
    o = canvas.offset()
    tol = 0.5 / canvas.devicePixelRatioF() + 1e-9  # the offset snaps to device pixels
    drag(canvas, [QPointF(100, 100), QPointF(130, 90)], button=M)
    d = canvas.offset() - (o + QPointF(30, -10))
    assert abs(d.x()) <= tol and abs(d.y()) <= tol
    canvas.setFocus()
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(canvas, [QPointF(100, 100), QPointF(90, 120)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    d = canvas.offset() - (o + QPointF(20, 10))
    assert abs(d.x()) <= tol and abs(d.y()) <= tol
    assert (doc.label_map == 0).all() and doc.undo_stack.count() == 0


def test_pixels_are_drawn_crisp_and_in_place(canvas, doc, ls):
    rng = np.random.default_rng(3)
    for _ in range(30):
        x, y = int(rng.integers(0, 39)), int(rng.integers(0, 29))
        doc.rect(x, y, x + 1, y, int(rng.integers(0, 15)))
    canvas.set_view(4.0, QPointF(8.0, 6.0))
    img = canvas.grab().toImage()
    m = doc.label_map
    for y in range(doc.height):
        for x in range(doc.width):
            for fx, fy in ((0.1, 0.1), (0.9, 0.9)):  # near both corners of the pixel's square
                assert color_at(canvas, img, x + fx, y + fy) == ls.by_id(int(m[y, x])).color, (x, y)


@pytest.mark.slow
def test_high_dpi_view_in_a_subprocess(tmp_path):
    """The view tests again with a device pixel ratio of 1.5 (mouse mapping, crisp drawing)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_SCALE_FACTOR="1.5", QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "exact_pixels_at_any_zoom or crisp or wheel_zoom or line_tool or pan_with or dpr_probe", "--basetemp", str(tmp_path / "t")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "11 passed" in res.stdout, res.stdout[-500:]


def test_dpr_probe(canvas):
    # run again by the subprocess test: proves the scale factor really reached the widget
    import os

    assert canvas.devicePixelRatioF() == float(os.environ.get("QT_SCALE_FACTOR", "1"))


def test_overlay_and_reference_opacity(canvas, doc, ls):
    canvas.set_view(4.0, QPointF(8.0, 6.0))
    canvas.set_overlay(np.full((60, 80, 3), 200, np.uint8), 1.0)  # resized to the map
    assert color_at(canvas, canvas.grab().toImage(), 10.5, 10.5) == (200, 200, 200)
    canvas.set_overlay(None, 0.5)
    doc.set_reference(np.full((30, 40, 3), 10, np.uint8))
    canvas.set_map_opacity(0.0)
    assert color_at(canvas, canvas.grab().toImage(), 10.5, 10.5) == (10, 10, 10)
    canvas.set_map_opacity(0.5)
    r, g, b = color_at(canvas, canvas.grab().toImage(), 10.5, 10.5)
    sky = ls.by_id(0).color
    assert abs(r - (10 + sky[0]) / 2) <= 2 and abs(b - (10 + sky[2]) / 2) <= 2


def test_edge_overlay_follows_changes(canvas, doc):
    canvas.set_show_edges(True)
    assert not canvas.edge_mask().any()
    doc.rect(5, 5, 15, 12, 3)
    assert np.array_equal(canvas.edge_mask(), lm.label_edges(doc.label_map))
    canvas.set_brush_size(4)
    drag(canvas, [at(10, 10), at(20, 15)])
    doc.undo_stack.undo()
    doc.fill(0, 0, 6)
    assert np.array_equal(canvas.edge_mask(), lm.label_edges(doc.label_map))
    canvas.grab()  # drawing the overlay works


def test_reset_rebuilds_the_view(canvas, doc, ls):
    doc.new(64, 48, ls, fill_label=6)
    assert canvas.edge_mask().shape == (48, 64)
    assert color_at(canvas, canvas.grab().toImage(), 60.5, 40.5) == ls.by_id(6).color
    assert doc.undo_stack.count() == 0 and not doc.dirty
