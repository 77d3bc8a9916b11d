"""The first hour in the editor (issue 13, items 12-16): keys, focus, wheel, sizes, stale state."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

import test_main_window as _mw  # noqa: E402 - its fixtures
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from spade_studio.app.enums import Tool  # noqa: E402

tiny, window = _mw.tiny, _mw.window  # the main window fixture (a tiny model)


def test_bracket_keys_resize_the_brush_whatever_has_focus(window, qtbot):
    window.show()
    window.palette.list.setFocus()  # not the canvas
    qtbot.waitUntil(window.palette.list.hasFocus)
    size = window.canvas.brush_size()
    qtbot.keyClick(window.palette.list, Qt.Key.Key_BracketRight)
    assert window.canvas.brush_size() > size
    qtbot.keyClick(window.palette.list, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(window.palette.list, Qt.Key.Key_BracketLeft)
    assert window.canvas.brush_size() < size
    # in a text field [ and ] are text
    window.palette.search.setFocus()
    qtbot.waitUntil(window.palette.search.hasFocus)
    before = window.canvas.brush_size()
    qtbot.keyClicks(window.palette.search, "[]")
    assert window.palette.search.text() == "[]" and window.canvas.brush_size() == before


@pytest.mark.parametrize("tool", [Tool.BRUSH, Tool.LINE, Tool.RECT, Tool.FILL, Tool.ERASER])
def test_alt_click_picks_the_label_in_every_tool(window, qtbot, tool):
    canvas = window.canvas
    before = window.document.snapshot()
    under = int(before[10, 10])
    window.set_current_label(under + 1 if under + 1 in window.document.label_set.ids else 0)
    window.set_tool(tool)
    pos = QPointF(canvas.map_to_widget(10, 10))
    for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
        from PySide6.QtGui import QMouseEvent

        buttons = Qt.MouseButton.LeftButton if kind == QEvent.Type.MouseButtonPress else Qt.MouseButton.NoButton
        ev = QMouseEvent(kind, pos, canvas.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons,
                         Qt.KeyboardModifier.AltModifier)
        QApplication.sendEvent(canvas, ev)
    assert canvas.current_label() == under
    assert (window.document.snapshot() == before).all()  # nothing painted


def test_search_enter_picks_and_gives_the_keys_back_to_the_canvas(window, qtbot):
    window.show()
    search = window.palette.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "sea")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert window.canvas.current_label() == window.document.label_set.id_of("sea")
    qtbot.waitUntil(window.canvas.hasFocus)
    qtbot.keyClick(window.canvas, Qt.Key.Key_L)  # a tool key works again at once
    assert window.canvas.tool() == Tool.LINE
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClick(search, Qt.Key.Key_Escape)  # the first Esc clears the search ...
    assert search.text() == "" and search.hasFocus()
    qtbot.keyClick(search, Qt.Key.Key_Escape)  # ... the second leaves it
    qtbot.waitUntil(window.canvas.hasFocus)


def test_help_lists_the_shortcuts_and_view_labels_toggles_the_palette(window, qtbot):
    window.show()
    window.act.shortcuts.trigger()
    dlg = [w for w in QApplication.topLevelWidgets() if w.objectName() == "shortcuts_dialog"][0]
    from PySide6.QtWidgets import QTableWidget

    table = dlg.findChild(QTableWidget)
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Undo"] == "Ctrl+Z" and rows["Smaller Brush"] == "[" and "Brush" in rows
    assert any("Alt" in k for k in rows.values())
    dlg.close()
    toggle = window.palette_dock.toggleViewAction()
    assert toggle.isEnabled() and toggle.isChecked()
    toggle.trigger()
    qtbot.waitUntil(lambda: not window.palette_dock.isVisible())
    toggle.trigger()
    qtbot.waitUntil(window.palette_dock.isVisible)


def _wheel(widget, dy=-120):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    pos = QPointF(widget.rect().center())
    ev = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, dy),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def test_the_wheel_scrolls_the_train_panel_instead_of_changing_a_spin_box(window, qtbot):
    window.resize(900, 420)  # short: the set-up panel scrolls
    window.show()
    window.tabs.setCurrentWidget(window.train_page)
    setup = window.train_tab.setup
    iters = setup.options.iters_box
    qtbot.waitUntil(lambda: setup.verticalScrollBar().maximum() > 0)
    window.train_tab.setFocus()
    value, scroll = iters.value(), setup.verticalScrollBar().value()
    _wheel(iters)
    assert iters.value() == value  # unchanged ...
    assert setup.verticalScrollBar().value() != scroll  # ... the panel scrolled instead
    iters.setFocus()
    qtbot.waitUntil(iters.hasFocus)
    _wheel(iters, 120)
    assert iters.value() != value  # a focused spin box takes the wheel


def test_the_progress_bar_follows_every_event_that_names_a_step(qtbot):
    from spade_studio.app.trainer_monitor import MonitorPanel

    m = MonitorPanel()
    qtbot.addWidget(m)
    m.show_progress(46, 100)
    m.show_event({"event": "checkpoint", "step": 47, "path": "ckpt_47.pt"}, stopping=False)
    assert m.progress.value() == 47
    assert "47" in m.log_view.toPlainText()
    m.show_event({"event": "step", "step": 45, "total": 100, "losses": {}}, stopping=False)
    assert m.progress.value() == 47  # never backwards from a late event


def test_the_run_folder_field_names_the_run_that_starts(qtbot, tmp_path, monkeypatch):
    import test_trainer_tab as tt

    from trainer.landscapes import make_landscapes

    data = tmp_path / "data"
    make_landscapes(data, 4, 64, 0)
    tab = tt.TrainerTab(tt.StubWindow(), runs_dir=tmp_path / "runs")
    qtbot.addWidget(tab)
    launched = []
    monkeypatch.setattr(tab, "_launch", lambda args, run, total, resume: launched.append(run) or True)
    tt.ready(qtbot, tab, data)
    shown = tab.setup.run_edit.text()
    assert tab.start() and str(launched[0]) == shown
    assert tab.setup.run_edit.text() == shown  # still the run that started, not a new name
    (launched[0]).mkdir(parents=True)
    (launched[0] / "config.json").write_text("{}")  # that run exists now
    assert tab.start() and launched[1] != launched[0]  # the next Start takes a fresh folder ...
    assert tab.setup.run_edit.text() == str(launched[1])  # ... and shows it


def test_the_window_keeps_its_size_as_undo_texts_and_recent_labels_grow(window, qtbot):
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    width, min_width = window.width(), window.minimumSizeHint().width()
    ids = window.document.label_set.ids
    for i, label in enumerate(ids[:10]):  # ten strokes, ten labels: long undo texts, a full recent row
        window.set_current_label(label)
        _mw.stroke(window.canvas, [(5 + i, 5), (40, 30 + i)])
    QApplication.processEvents()
    assert window.width() == width
    assert window.minimumSizeHint().width() <= min_width
    tb = window.tool_bar
    ref = tb.ref_slider
    assert ref.isVisible() and tb.undo.text() == "Undo" and "Brush stroke" in tb.undo.toolTip()
    n = window.document.undo_stack.index()
    assert n >= 8
    tb.undo.trigger()  # the tool bar's Undo undoes
    assert window.document.undo_stack.index() == n - 1
    assert tb.width() >= sum(tb.widgetForAction(a).sizeHint().width() for a in tb.actions()
                             if tb.widgetForAction(a) is not None and a.isVisible()) - 1  # nothing overflows


def test_at_900x600_the_blend_slider_stays_usable(window, qtbot):
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    panel = window.style_panel
    assert panel.blend_slider.width() >= 80
    assert panel.a_label.width() > 20 and panel.b_label.width() > 20  # the captions stay readable


def test_clearing_style_b_puts_the_blend_back_and_new_maps_drop_old_variations(window, qtbot):
    from spade_studio.app.style_panel import StyleSource

    panel = window.style_panel
    panel.pick_b(StyleSource.seed(7))
    panel.blend_slider.setValue(50)
    panel.clear_b()
    assert panel.blend_slider.value() == 0 and panel.current_style() is not None
    panel.request_variations()
    qtbot.waitUntil(lambda: len(panel.variation_thumbs()) > 0, timeout=_mw.LOAD_MS)
    ls = window.document.label_set
    window.document.new(64, 64, ls, ls.ids[0])  # what File > New does after its dialog
    assert panel.variation_thumbs() == []
