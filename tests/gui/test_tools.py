"""The canvas tools on their own: press / move / release on a document, checked on the label map and the undo stack."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402

from spade_studio import labelmap as lm  # noqa: E402
from spade_studio.app.document import Document  # noqa: E402
from spade_studio.app.enums import Tool  # noqa: E402
from spade_studio.app.tools import (  # noqa: E402
    TOOL_CLASSES,
    Brush,
    Eraser,
    Eyedropper,
    Fill,
    Line,
    Rect,
    dab_centre,
    make_tools,
)
from spade_studio.labels import load_label_set  # noqa: E402


class Host:
    """The ToolHost a canvas would be: labels, brush size, and a record of the feedback."""

    def __init__(self, document: Document, label: int = 3, background: int = 0, brush: int = 3) -> None:
        self.document = document
        self.label, self.background, self.brush = label, background, brush
        self.picked: list[int] = []
        self.finished = 0
        self.previews = 0

    def current_label(self) -> int:
        return self.label

    def background_label(self) -> int:
        return self.background

    def brush_size(self) -> int:
        return self.brush

    def pick_label(self, label: int) -> None:
        self.label = label
        self.picked.append(label)

    def edit_finished(self) -> None:
        self.finished += 1

    def preview_changed(self) -> None:
        self.previews += 1


@pytest.fixture
def doc(qtbot):
    return Document(load_label_set("landscape"), 40, 30, fill_label=0)


@pytest.fixture
def host(doc):
    return Host(doc)


def c(x, y):
    """Map coordinates of the centre of pixel (x, y)."""
    return x + 0.5, y + 0.5


def test_every_tool_has_one_class_and_the_enum_is_its_string(host):
    tools = make_tools(host)
    assert list(tools) == list(Tool) and set(TOOL_CLASSES) == set(Tool)
    assert all(tools[t].tool is t and tools[t].host is host for t in Tool)
    assert Tool.BRUSH == "brush" and f"{Tool.RECT}" == "rect" and Tool("eyedropper") is Tool.EYEDROPPER
    assert [t.value for t in Tool] == ["brush", "eraser", "fill", "eyedropper", "line", "rect", "polygon"]


def test_dab_centre_odd_on_pixels_even_on_corners():
    assert dab_centre(5.2, 7.9, 3) == (5.0, 7.0)
    assert dab_centre(5.2, 7.9, 4) == (4.5, 7.5)
    assert dab_centre(5.6, 7.4, 2) == (5.5, 6.5)


def test_brush_stroke_is_painted_live_and_recorded_as_one_step(doc, host):
    brush = Brush(host)
    brush.press(*c(5, 5))
    assert brush.active and doc.stroke_active
    assert (doc.label_map[4:7, 4:7] == 3).all()  # the first dab is on the map at once
    brush.move(*c(10, 5))
    brush.move(*c(10, 12))
    assert doc.undo_stack.count() == 0  # nothing recorded while the button is down
    brush.release(*c(10, 12))
    expected = np.zeros((30, 40), np.uint8)
    lm.paint_stroke(expected, [(5.0, 5.0), (10.0, 5.0), (10.0, 12.0)], 1.5, 3)
    assert np.array_equal(doc.label_map, expected)
    assert not brush.active and doc.undo_stack.count() == 1 and host.finished == 1
    assert doc.undo_stack.undoText() == "Brush stroke (hill)"
    doc.undo_stack.undo()
    assert (doc.label_map == 0).all()
    doc.undo_stack.redo()
    assert np.array_equal(doc.label_map, expected)


def test_brush_finish_without_commit_rolls_the_stroke_back(doc, host):
    brush = Brush(host)
    brush.press(*c(5, 5))
    brush.move(*c(20, 20))
    brush.finish(commit=False)
    assert (doc.label_map == 0).all() and doc.undo_stack.count() == 0 and host.finished == 0
    brush.release(*c(20, 20))  # a late release records nothing
    assert doc.undo_stack.count() == 0


def test_brush_reads_the_size_while_it_paints(doc, host):
    host.brush = 1
    brush = Brush(host)
    brush.press(*c(5, 5))
    host.brush = 5  # the ] key with the button down
    brush.move(*c(15, 5))
    brush.release(*c(15, 5))
    expected = np.zeros((30, 40), np.uint8)
    lm.paint_stroke(expected, [(5.0, 5.0)], 0.5, 3)
    lm.paint_stroke(expected, [(5.0, 5.0), (15.0, 5.0)], 2.5, 3)  # the new size from the next dab on
    assert np.array_equal(doc.label_map, expected) and doc.label_map[3, 15] == 3


def test_brush_with_a_label_outside_the_set_does_nothing(doc, host):
    host.label = 200
    brush = Brush(host)
    brush.press(*c(5, 5))
    assert not brush.active and not doc.stroke_active
    brush.move(*c(9, 9))
    brush.release(*c(9, 9))
    assert (doc.label_map == 0).all() and doc.undo_stack.count() == 0


def test_undo_with_the_button_down_cancels_the_stroke(doc, host):
    doc.rect(0, 0, 1, 1, 7)
    brush = Brush(host)
    brush.press(*c(20, 20))
    doc.undo_stack.undo()  # rolls the live stroke back, then undoes the rect
    brush.cancelled()  # what the canvas forwards from document.stroke_cancelled
    brush.release(*c(20, 20))
    assert (doc.label_map == 0).all() and doc.undo_stack.index() == 0 and host.finished == 0


def test_eraser_paints_the_background_label(doc, host):
    doc.clear(5)
    host.background, host.brush = 1, 1
    eraser = Eraser(host)
    eraser.press(*c(2, 2))
    eraser.move(*c(8, 2))
    eraser.release(*c(8, 2))
    assert (doc.label_map[2, 2:9] == 1).all() and (doc.label_map == 1).sum() == 7
    assert doc.undo_stack.undoText() == "Erase (cloud)" and doc.undo_stack.count() == 2


def test_fill_fills_the_region_under_the_press(doc, host):
    doc.rect(2, 2, 6, 6, 4)
    doc.rect(7, 7, 9, 9, 4)  # touches the first block only at a corner
    host.label = 10
    fill = Fill(host)
    fill.press(*c(4, 4))
    assert not fill.active  # one click, one step
    fill.release(*c(4, 4))
    assert (doc.label_map[2:7, 2:7] == 10).all() and (doc.label_map[7:10, 7:10] == 4).all()
    assert doc.undo_stack.count() == 3 and host.finished == 1
    fill.press(-3.0, 4.0)  # outside the map: nothing
    assert doc.undo_stack.count() == 3 and host.finished == 1
    doc.undo_stack.undo()
    assert (doc.label_map[2:7, 2:7] == 4).all()


def test_eyedropper_picks_on_press_and_drag_and_never_paints(doc, host):
    doc.rect(10, 10, 12, 12, 7)
    picker = Eyedropper(host)
    picker.press(*c(0, 0))
    assert picker.active
    picker.move(*c(11, 11))
    picker.move(-5.0, -5.0)  # outside the map: keeps what it has
    picker.release(-5.0, -5.0)
    picker.move(*c(0, 0))  # not pressed: no pick
    assert host.picked == [0, 7] and host.label == 7 and not picker.active
    assert doc.undo_stack.count() == 1 and host.finished == 0


def test_line_previews_then_records_one_step(doc, host):
    host.label, host.brush = 5, 4
    line = Line(host)
    line.press(5.0, 20.0)
    line.move(17.0, 24.0)
    line.move(30.0, 28.0)
    assert (doc.label_map == 0).all() and host.previews == 3  # the map waits for the release
    img = QImage(40, 30, QImage.Format.Format_ARGB32)
    img.fill(0)
    p = QPainter(img)
    line.paint_preview(p, QColor(255, 0, 0))
    p.end()
    preview = np.array([[img.pixelColor(x, y).red() == 255 for x in range(40)] for y in range(30)])
    line.release(30.0, 28.0)
    expected = np.zeros((30, 40), np.uint8)
    lm.draw_line(expected, 4.5, 19.5, 29.5, 27.5, 2.0, 5)
    assert np.array_equal(doc.label_map, expected) and np.array_equal(preview, expected == 5)
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText() == "Line of snow" and host.finished == 1


@pytest.mark.parametrize("corners", [((3, 4), (8, 10)), ((8, 10), (3, 4)), ((35, 25), (60, 60))])
def test_rect_between_two_pixels(doc, host, corners):
    host.label = 2
    rect = Rect(host)
    (ax, ay), (bx, by) = corners
    rect.press(*c(ax, ay))
    rect.move(*c((ax + bx) // 2, (ay + by) // 2))
    rect.move(*c(bx, by))
    assert (doc.label_map == 0).all()
    rect.release(*c(bx, by))
    expected = np.zeros((30, 40), np.uint8)
    expected[min(ay, by): max(ay, by) + 1, min(ax, bx): max(ax, bx) + 1] = 2
    assert np.array_equal(doc.label_map, expected) and doc.undo_stack.count() == 1


def test_a_shape_dropped_or_with_a_bad_label_records_nothing(doc, host):
    rect = Rect(host)
    rect.press(*c(3, 3))
    rect.move(*c(9, 9))
    rect.finish(commit=False)  # Escape
    assert not rect.active and (doc.label_map == 0).all() and doc.undo_stack.count() == 0
    host.label = 200
    rect.press(*c(3, 3))
    assert not rect.active
    rect.release(*c(9, 9))
    assert doc.undo_stack.count() == 0 and host.finished == 0


def test_canvas_dispatches_to_the_active_tool(qtbot, doc):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from spade_studio.app.canvas import Canvas

    canvas = Canvas(doc)
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.set_view(5.0, QPointF(8.0, 8.0))
    assert canvas.tool() is Tool.BRUSH and isinstance(canvas.tool_handler(), Brush)
    changed = []
    canvas.tool_changed.connect(changed.append)
    canvas.set_tool("rect")
    assert canvas.tool() is Tool.RECT and isinstance(canvas.tool_handler(), Rect) and changed == ["rect"]
    with pytest.raises(ValueError, match="unknown tool 'lasso'.*brush, eraser"):
        canvas.set_tool("lasso")
    canvas.set_current_label(9)

    def send(kind, x, y, button, buttons):
        pos = canvas.map_to_widget(x, y)
        QApplication.sendEvent(canvas, QMouseEvent(kind, pos, QPointF(canvas.mapToGlobal(pos)), button, buttons,
                                                   Qt.KeyboardModifier.NoModifier))

    L, NB = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseButtonPress, 2.5, 3.5, L, L)
    send(QEvent.Type.MouseMove, 6.5, 7.5, NB, L)
    assert canvas.tool_handler().start == (2, 3) and canvas.tool_handler().end == (6, 7)
    send(QEvent.Type.MouseButtonRelease, 6.5, 7.5, L, NB)
    assert (doc.label_map[3:8, 2:7] == 9).all() and (doc.label_map == 9).sum() == 25
    assert not canvas.tool_handler().active
