"""Region styles in the editor: the style panel's Regions section, the worker, the render."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from conftest import make_tiny_bundle  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from spade_studio.app.preview_service import ModelInfo, PreviewService, RegionSpec, StyleSpec  # noqa: E402
from spade_studio.app.style_panel import StylePanel, StyleSource  # noqa: E402
from spade_studio.labels import load_label_set  # noqa: E402

LOAD_MS = 60_000


@pytest.fixture
def service(qtbot):
    svc = PreviewService(debounce_ms=0, threads=1, precision="fp32")
    yield svc
    svc.shutdown()


def fake_info(has_encoder: bool = True, uses_style: bool = True) -> ModelInfo:
    return ModelInfo(load_label_set("landscape"), has_encoder, uses_style, "cpu", (256, 256), 32,
                     "fake", not uses_style, "")


def pick_in_combo(qtbot, combo, text: str) -> None:
    """Choose an item of a (non-editable) combo box with the keyboard, as a user does."""
    combo.setFocus()
    qtbot.wait(QApplication.keyboardInputInterval() + 50)  # a new keyboard search, not the last one's tail
    qtbot.keyClicks(combo, text)
    assert combo.currentText().lower().startswith(text.lower()), combo.currentText()


def add_region(qtbot, panel: StylePanel, label: str, style: str) -> None:
    edit = panel.region_label_combo.lineEdit()
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, label)
    pick_in_combo(qtbot, panel.region_style_combo, style)
    qtbot.mouseClick(panel.region_add_button, Qt.MouseButton.LeftButton)


def test_panel_regions_rows_spec_and_removal(qtbot, service):
    panel = StylePanel(service)
    qtbot.addWidget(panel)
    panel.set_model_info(fake_info())
    specs = []
    panel.style_changed.connect(specs.append)
    add_region(qtbot, panel, "sea", "seed")  # a seed style: the spec is complete at once
    assert specs, "adding a region style emits the style"
    spec = specs[-1]
    assert len(spec.regions) == 1 and spec.regions[0].label == 10 and spec.regions[0].seed == 0
    row = panel.region_rows()[0]
    assert row.target_label.text() == "sea" and "seed 0" in row.style_label.text()
    sea = load_label_set("landscape").by_id(10).color
    assert row.swatch.pixmap().toImage().pixelColor(3, 3).getRgb()[:3] == tuple(sea)  # the label's colour
    # the same label again replaces its style; another label adds a row
    panel.region_seed_spin.setValue(7)
    qtbot.mouseClick(panel.region_add_button, Qt.MouseButton.LeftButton)
    assert [(e.label, e.source) for e in panel.region_styles()] == [(10, StyleSource.seed(7))]
    # a painted region (a layer's mask) through the API
    mask = np.zeros((64, 64), bool)
    mask[:20, :20] = True
    assert panel.add_region_style(mask, StyleSource.seed(3), "layer 2")
    spec = specs[-1]
    assert spec.regions[1].label is None and spec.regions[1].mask is not None and spec.regions[1].mask.sum() == 400
    assert "2 region styles" in spec.describe()
    # a look keeps the regions (the history strip restores them)
    look = panel.current_look()
    qtbot.mouseClick(panel.region_rows()[0].remove_button, Qt.MouseButton.LeftButton)
    assert [e.name for e in panel.region_styles()] == ["layer 2"] and len(specs[-1].regions) == 1
    assert panel.apply_look(look)
    assert [e.name for e in panel.region_styles()] == ["sea", "layer 2"] and len(specs[-1].regions) == 2
    # unknown labels and empty masks are refused with a note
    assert not panel.add_region_style(99, StyleSource.seed(1))
    assert "label 99 is not in 'landscape'" in panel.current_label.text()
    add_region(qtbot, panel, "lake", "seed")
    assert "no label named 'lake'" in panel.current_label.text() and len(panel.region_styles()) == 2
    assert not panel.add_region_style(np.zeros((8, 8), bool), StyleSource.seed(1))


def test_typing_a_label_name_does_not_fire_editor_shortcuts(qtbot, tmp_path):
    from spade_studio.app.main_window import MainWindow
    from spade_studio.app.settings import Settings
    from spade_studio.model.checkpoint import save_model

    tiny = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    win = MainWindow(Settings(), model=str(tiny), device="cpu", autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=LOAD_MS)
    win.set_current_label(7)
    assert win.style_panel.region_label_combo.currentText() == "tree"  # follows the palette
    tool, label = win.canvas.tool(), win.canvas.current_label()
    edit = win.style_panel.region_label_combo.lineEdit()
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    edit.selectAll()
    qtbot.keyClicks(edit, "bush1")  # letters are tool keys, digits label keys of the editor
    assert edit.text() == "bush1"
    assert win.canvas.tool() == tool and win.canvas.current_label() == label
    win.document.undo_stack.setClean()
    win.close()


def test_models_without_style_or_images(qtbot, service):
    panel = StylePanel(service)
    qtbot.addWidget(panel)
    panel.set_model_info(fake_info(has_encoder=False))
    data = [panel.region_style_combo.itemData(i) for i in range(panel.region_style_combo.count())]
    assert data == ["seed"]  # no encoder: seeds only
    assert not panel.add_region_style(0, StyleSource.image("x.png"))
    assert panel.add_region_style(0, StyleSource.seed(2))
    panel.set_model_info(fake_info(has_encoder=False, uses_style=False))
    assert not panel.regions_box.isEnabled() and not panel.add_region_style(0, StyleSource.seed(2))


def test_worker_renders_label_and_mask_regions(qtbot, service, tmp_path):
    from spade_studio.model.checkpoint import save_model
    from spade_studio.model.synthesize import Synthesizer

    path = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    with qtbot.waitSignal(service.model_loaded, timeout=LOAD_MS):
        service.load_model(str(path), "cpu")
    lab = np.zeros((64, 96), np.uint8)
    lab[32:] = 6
    mask = np.zeros(lab.shape, bool)
    mask[:, 60:] = True
    synth = Synthesizer(path, "cpu")
    z = synth.random_z(9)
    spec = StyleSpec(seed=1, regions=(RegionSpec(label=6, seed=4), RegionSpec(mask=mask, z=z),
                                      RegionSpec(label=12, seed=5)))  # sand: not in the map, skipped
    with qtbot.waitSignal(service.rendered, timeout=LOAD_MS) as blocker:
        service.request(lab, spec)
    image = blocker.args[1]
    expected = synth.render(lab, seed=1, region_styles=[(lab == 6, synth.random_z(4)), (mask, z)]).image
    np.testing.assert_array_equal(image, expected)
    assert np.abs(image.astype(int) - synth.render(lab, seed=1).image).max() > 5


@pytest.mark.slow
def test_two_region_styles_in_the_editor(qtbot, tmp_path):
    """Sample 4 with the bundled model: the sky at sunset, the grass at night, by the Regions
    section's own controls; each region's colours move toward its style, no seam appears."""
    from spade_studio.app.main_window import MainWindow
    from spade_studio.app.settings import Settings
    from spade_studio.imageio import read_label_map, read_rgb
    from spade_studio.model import regional
    from spade_studio.model.synthesize import Synthesizer
    from spade_studio.paths import resources_dir

    res = resources_dir()
    sample = res / "samples" / "landscape_04.png"
    win = MainWindow(Settings(), device="cpu", autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=LOAD_MS)
    assert win.open_path(sample, ask=False)
    panel = win.style_panel
    qtbot.waitUntil(lambda: panel.current_source().name == "day", timeout=LOAD_MS)  # the default style
    add_region(qtbot, panel, "sky", "sunset")
    add_region(qtbot, panel, "grass", "night")
    assert [(e.name, e.source.name) for e in panel.region_styles()] == [("sky", "sunset"), ("grass", "night")]
    qtbot.waitUntil(lambda: len(win.style.regions) == 2, timeout=LOAD_MS)  # both images encoded
    win.request_render()
    assert win.wait_for_render(60)
    qtbot.waitUntil(lambda: not win.service.is_busy(), timeout=LOAD_MS)
    out = win.last_image
    lab = read_label_map(sample, win.document.label_set).ids
    assert np.array_equal(win.document.snapshot(), lab)

    synth = Synthesizer(device="cpu")
    single = {n: synth.render(lab, z=synth.encode_style(read_rgb(res / "styles" / f"{n}.jpg"))).image
              for n in ("day", "sunset", "night")}
    sky, grass = lab == 0, lab == 6
    assert regional.colour_shift(out, single["sunset"], single["day"], sky) > 0.8
    assert regional.colour_shift(out, single["night"], single["day"], grass) > 0.8
    assert regional.colour_shift(out, single["day"], single["sunset"], ~(sky | grass)) > 0.5
    assert regional.seam_index(out, [single["day"], single["sunset"]], sky) < 1.5
    assert regional.seam_index(out, [single["day"], single["night"]], grass) < 1.5
    win.document.undo_stack.setClean()
    win.close()
