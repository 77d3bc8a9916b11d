"""Editor core: Document (undo, files, autosave) and Canvas (tools, zoom) with real mouse events."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from spade_studio import labelmap as lm  # noqa: E402
from spade_studio.app.autosave import Autosaver, find_recovery  # noqa: E402
from spade_studio.app.canvas import Canvas  # noqa: E402
from spade_studio.app.document import Document  # noqa: E402
from spade_studio.app.enums import Tool  # noqa: E402
from spade_studio.imageio import LABELSET_CHUNK, ImageReadError, write_image, write_label_map  # noqa: E402
from spade_studio.labels import LabelError, load_label_set, numbered_label_set  # noqa: E402

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
    c = Canvas(doc)
    qtbot.addWidget(c)
    c.resize(400, 300)
    c.show()
    qtbot.waitExposed(c)
    c.set_view(ZOOM, QPointF(OX, OY))
    return c


def at(x, y, canvas=None):
    """Widget position of the centre of map pixel (x, y) (fractions allowed)."""
    if canvas is not None:
        return canvas.map_to_widget(x + 0.5, y + 0.5)
    return QPointF(OX + (x + 0.5) * ZOOM, OY + (y + 0.5) * ZOOM)


def send(widget, kind, pos, button, buttons, mods=Qt.KeyboardModifier.NoModifier):
    pos = QPointF(pos)
    ev = QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos)), button, buttons, mods)
    QApplication.sendEvent(widget, ev)


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


def test_brush_size_keys(canvas, qtbot):
    sizes = []
    canvas.brush_size_changed.connect(sizes.append)
    canvas.set_brush_size(5)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() == 6
    assert sizes == [5, 6, 7, 6]
    canvas.set_brush_size(1)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() == 1
    canvas.set_brush_size(40)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
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


# -- document: files ---------------------------------------------------------------------------


def test_save_open_round_trip_with_palette_and_chunk(tmp_path, doc, ls):
    doc.rect(3, 3, 20, 10, 10)
    doc.line(0, 29, 39, 0, 1.5, 7)
    paths = []
    doc.path_changed.connect(paths.append)
    saved = doc.save(tmp_path / "scene")
    assert saved == tmp_path / "scene.png" and paths == [saved] and doc.path == saved
    assert not doc.dirty
    with Image.open(saved) as im:
        assert im.mode == "P"
        assert im.info[LABELSET_CHUNK] == "landscape"
        pal = im.getpalette()
        for lab in ls:
            assert tuple(pal[3 * lab.id : 3 * lab.id + 3]) == lab.color
        assert np.array_equal(np.array(im), doc.label_map)
    other = Document(ls)
    notes = other.open(saved)
    assert notes == []
    assert np.array_equal(other.label_map, doc.label_map)
    assert other.path == saved and not other.dirty and other.undo_stack.count() == 0
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left nothing behind


def test_dirty_follows_the_undo_stack(tmp_path, doc):
    states = []
    doc.dirty_changed.connect(states.append)
    doc.rect(1, 1, 3, 3, 4)
    doc.save(tmp_path / "a.png")
    doc.undo_stack.undo()
    assert doc.dirty
    doc.undo_stack.redo()
    assert not doc.dirty
    assert states == [True, False, True, False]


def test_open_colour_png_decodes_through_palette(tmp_path, doc, ls):
    ids = np.zeros((20, 24), np.uint8)
    ids[5:15, 3:9] = 7
    ids[10:, :] = 10
    write_image(tmp_path / "colors.png", ls.colorize(ids))
    notes = doc.open(tmp_path / "colors.png")
    assert np.array_equal(doc.label_map, ids)
    assert any("decoded colours through the landscape palette" in n for n in notes)


def test_open_colour_png_with_unknown_colour_keeps_document(tmp_path, doc, ls):
    doc.rect(1, 1, 5, 5, 3)
    before = doc.snapshot()
    ids = np.zeros((20, 24), np.uint8)
    rgb = ls.colorize(ids)
    rgb[2, 3] = (1, 2, 3)
    rgb[2, 4] = (1, 2, 3)
    write_image(tmp_path / "bad.png", rgb)
    with pytest.raises(LabelError) as err:
        doc.open(tmp_path / "bad.png")
    msg = str(err.value)
    assert "(1, 2, 3)" in msg and "x=3, y=2" in msg and "2 px" in msg
    assert np.array_equal(doc.label_map, before) and doc.path is None
    assert doc.undo_stack.count() == 1 and doc.dirty


def test_open_ids_outside_label_set_raises(tmp_path, doc):
    ids = np.zeros((10, 10), np.uint8)
    ids[4, 4] = 200
    ids[5, 5] = 77
    write_label_map(tmp_path / "ids.png", ids)
    with pytest.raises(LabelError, match=r"77, 200"):
        doc.open(tmp_path / "ids.png")
    assert doc.label_map.shape == (30, 40)


def test_open_uses_builtin_label_set_named_in_file(tmp_path, doc):
    city = load_label_set("cityscapes")
    colors = [lab.color for lab in city]
    unique = [lab.id for lab in city if lab.id > 14 and colors.count(lab.color) == 1]
    ids = np.full((12, 16), unique[0], np.uint8)  # an id beyond the landscape set
    ids[3:7, 2:9] = unique[1]
    write_label_map(tmp_path / "city.png", ids, city)
    changed = []
    doc.label_set_changed.connect(changed.append)
    notes = doc.open(tmp_path / "city.png")
    assert doc.label_set.name == "cityscapes" and changed == [doc.label_set]
    assert any("cityscapes" in n for n in notes)
    # a colour PNG naming its label set is decoded through that set
    rgb_path = tmp_path / "city_rgb.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(LABELSET_CHUNK, "cityscapes")
    Image.fromarray(city.colorize(ids)).save(rgb_path, pnginfo=info)
    d2 = Document(load_label_set("landscape"))
    notes = d2.open(rgb_path)
    assert d2.label_set.name == "cityscapes" and np.array_equal(d2.label_map, ids)
    assert any("decoded colours through the cityscapes palette" in n for n in notes)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n garbage", None])
def test_corrupt_or_missing_file_keeps_document(tmp_path, doc, content):
    doc.rect(0, 0, 3, 3, 2)
    before = doc.snapshot()
    path = tmp_path / "broken.png"
    if content is not None:
        path.write_bytes(content)
    resets = []
    doc.reset.connect(lambda: resets.append(1))
    with pytest.raises(ImageReadError, match="broken.png"):
        doc.open(path)
    assert np.array_equal(doc.label_map, before) and resets == [] and doc.undo_stack.count() == 1


def test_label_map_is_read_only(doc):
    with pytest.raises(ValueError):
        doc.label_map[0, 0] = 3
    snap = doc.snapshot()
    snap[0, 0] = 3  # a snapshot is a free copy
    assert doc.label_map[0, 0] == 0


def test_remap(doc):
    doc.rect(0, 0, 9, 9, 10)
    coco = load_label_set("coco_stuff")
    doc.remap(coco, {10: 154, 0: 156})
    assert doc.label_set.name == "coco_stuff"
    assert set(np.unique(doc.label_map).tolist()) == {154, 156}
    assert doc.dirty and doc.undo_stack.count() == 0
    with pytest.raises(LabelError):
        doc.remap(load_label_set("landscape"), {})
    assert doc.label_set.name == "coco_stuff"


# -- autosave / recovery / undo memory ---------------------------------------------------------


def test_autosave_and_recovery_round_trip(tmp_path, doc):
    folder = tmp_path / "autosave"
    saver = Autosaver(doc, folder)
    assert saver.write() is None  # clean: nothing to protect
    doc.rect(2, 2, 12, 8, 9)
    doc.save(tmp_path / "orig.png")
    doc.rect(20, 20, 30, 25, 4)
    png = saver.write()
    assert png.is_file() and png.with_suffix(".json").is_file()
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["original_path"] == str(tmp_path / "orig.png")
    assert info["label_set_name"] == "landscape" and (info["width"], info["height"]) == (40, 30)
    assert find_recovery(folder) == [png]

    other = Document(load_label_set("cityscapes"))
    other_saver = Autosaver(other, folder)
    notes = other_saver.recover(png)
    assert notes and np.array_equal(other.label_map, doc.label_map)
    assert other.dirty and other.path == tmp_path / "orig.png"
    assert other.label_set == doc.label_set
    assert other_saver.write() == png  # takes the autosave over
    other.save()
    other_saver.discard()
    assert find_recovery(folder) == []
    assert np.array_equal(np.array(Image.open(tmp_path / "orig.png")), doc.label_map)


def test_autosave_inline_label_set(tmp_path):
    ls = numbered_label_set(20, name="my-model")
    d = Document(ls, 16, 12)
    d.rect(0, 0, 5, 5, 19)
    png = Autosaver(d, tmp_path).write()
    other = Document(load_label_set("landscape"))
    Autosaver(other, tmp_path).recover(png.with_suffix(".json"))
    assert other.label_set == ls and other.path is None
    assert np.array_equal(other.label_map, d.label_map)


def test_undo_history_is_capped_by_bytes(ls):
    d = Document(ls, 64, 64, undo_byte_limit=3 * 64 * 64 * 3)  # about three full-map deltas
    d.rect(0, 0, 10, 10, 1)
    states = []
    for k in range(8):
        d.clear(2 + k)  # each step is a full-map delta of 3 * 4096 bytes
        states.append(d.snapshot())
    assert d.history_bytes() <= 3 * 64 * 64 * 3
    assert d.undo_stack.count() == 3 and d.undo_stack.index() == 3
    while d.undo_stack.canUndo():
        d.undo_stack.undo()
    assert np.array_equal(d.label_map, states[-4])  # the oldest kept step undone
    assert d.dirty
    for _ in range(3):
        d.undo_stack.redo()
    assert np.array_equal(d.label_map, states[-1])


def test_undo_cap_keeps_clean_index(tmp_path, ls):
    d = Document(ls, 32, 32, undo_byte_limit=5 * 32 * 32 * 3)
    for k in range(3):
        d.clear(1 + k)
    d.save(tmp_path / "x.png")
    saved = d.snapshot()
    for k in range(4):
        d.clear(5 + k)
    assert d.undo_stack.count() == 5  # two oldest dropped, the saved state (step 3) kept
    for _ in range(4):
        d.undo_stack.undo()
    assert not d.dirty and np.array_equal(d.label_map, saved)


def test_autosaver_timer_tick_and_failure(tmp_path, doc, qtbot):
    saver = Autosaver(doc, tmp_path / "as", interval_s=1)
    assert saver.interval_s == 5  # never more often than every 5 s
    saver.save_now()  # clean: nothing written
    assert find_recovery(tmp_path / "as") == []
    doc.rect(1, 1, 4, 4, 3)
    saver.save_now()
    png, side = saver.paths()
    assert find_recovery(tmp_path / "as") == [png] and side.is_file()
    assert png.stem == f"autosave-{saver.autosave_id}"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    broken = Autosaver(doc, blocked)
    with qtbot.waitSignal(broken.failed) as failed:
        broken.save_now()  # reported, never raised
    assert failed.args[0]
    saver.start()
    assert saver.timer.isActive() and saver.timer.interval() == 5000
    saver.stop()
    assert not saver.timer.isActive()


def test_recovering_ids_outside_the_label_set_keeps_the_document(tmp_path, doc):
    doc.rect(0, 0, 5, 5, 7)
    png = Autosaver(doc, tmp_path).write()
    ids = np.zeros((30, 40), np.uint8)
    ids[2, 3] = 99
    write_label_map(png, ids)
    other = Document(load_label_set("landscape"), 8, 8)
    with pytest.raises(LabelError, match="99"):
        Autosaver(other, tmp_path).recover(png)
    assert other.label_map.shape == (8, 8) and not other.dirty
