"""Preview service (worker thread, newest wins), output view, palette and style panels."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from conftest import make_tiny_bundle  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

from spade_studio.app.output_view import OutputView  # noqa: E402
from spade_studio.app.palette_panel import PalettePanel  # noqa: E402
from spade_studio.app.preview_service import ModelInfo, PreviewService, StyleSpec, is_preview  # noqa: E402
from spade_studio.app.style_panel import NO_ENCODER, StylePanel, StyleSource  # noqa: E402
from spade_studio.labels import load_label_set  # noqa: E402

LOAD_MS = 60_000


@pytest.fixture
def service(qtbot):
    svc = PreviewService(debounce_ms=0, threads=1, precision="fp32")
    yield svc
    svc.shutdown()
    assert not svc.is_running(), "the worker thread must stop on shutdown()"


@pytest.fixture
def model_path(tmp_path):
    from spade_studio.model.checkpoint import save_model

    return save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")


def load(qtbot, svc, path) -> ModelInfo:
    with qtbot.waitSignal(svc.model_loaded, timeout=LOAD_MS) as blocker:
        svc.load_model(str(path), "cpu")
    return blocker.args[0]


def painted_map(h=64, w=64) -> np.ndarray:
    lab = np.zeros((h, w), np.uint8)  # sky
    lab[h // 2:] = 6  # grass
    yy, xx = np.mgrid[:h, :w]
    lab[(yy - h * 3 // 4) ** 2 + (xx - w // 2) ** 2 < (h // 6) ** 2] = 10  # a pond
    return lab


def fake_info(has_encoder: bool, uses_style: bool) -> ModelInfo:
    return ModelInfo(load_label_set("landscape"), has_encoder, uses_style, "cpu", (256, 256), 32,
                     "fake", not uses_style, "")


# -- preview service ---------------------------------------------------------------------------
def test_service_renders_a_painted_map(qtbot, service, model_path):
    info = load(qtbot, service, model_path)
    assert info.label_set.name == "landscape" and info.has_encoder and info.uses_style
    assert info.native_size == (64, 64) and info.source == str(model_path)
    lab = painted_map()
    with qtbot.waitSignal(service.rendered, timeout=LOAD_MS) as blocker:
        rid = service.request(lab, StyleSpec(seed=5))
    got_id, image, seconds, notes = blocker.args
    assert got_id == rid and seconds > 0 and isinstance(notes, list)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8

    from spade_studio.model.synthesize import Synthesizer

    expected = Synthesizer(model_path, "cpu").render(lab, seed=5).image
    np.testing.assert_array_equal(image, expected)  # the seed reached the model


def test_idle_worker_hands_free_memory_back_and_renders_again(qtbot, service, model_path, monkeypatch):
    """When the worker has been idle for ``trim_after_s`` after a render it trims the heap once
    (glibc malloc_trim), outside its lock: the next request is taken and rendered as before;
    renders that follow each other sooner (the dabs of a stroke) are not interrupted by it."""
    import sys

    from spade_studio.model import allocator

    calls = []
    original = allocator.release_free_memory

    def counted():
        calls.append(threading.current_thread().name)
        return original()

    monkeypatch.setattr(allocator, "release_free_memory", counted)
    service.trim_after_s = 30.0
    load(qtbot, service, model_path)
    for seed in (1, 2):
        with qtbot.waitSignal(service.rendered, timeout=LOAD_MS):
            service.request(painted_map(), StyleSpec(seed=seed))
    qtbot.wait(300)
    assert calls == []  # idle for less than trim_after_s
    service.trim_after_s = 0.05
    service.request(painted_map(), StyleSpec(seed=3))  # wakes the worker: the new delay applies
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=LOAD_MS)
    for seed in (1, 2):
        with qtbot.waitSignal(service.rendered, timeout=LOAD_MS):
            service.request(painted_map(), StyleSpec(seed=seed))
        qtbot.waitUntil(lambda s=seed: len(calls) >= 1 + s, timeout=LOAD_MS)
    assert set(calls) == {"spade-preview-worker"}
    if sys.platform.startswith("linux"):  # counted once the trim returned
        qtbot.waitUntil(lambda: service.trimmed == len(calls), timeout=LOAD_MS)


def slow_renders(monkeypatch, seconds=0.3):
    """Make every Synthesizer.render take ``seconds``; returns (started event, seeds rendered)."""
    from spade_studio.model.synthesize import Synthesizer

    original = Synthesizer.render
    started = threading.Event()
    calls = []

    def slow_render(self, label, *a, **kw):
        calls.append(kw.get("seed"))
        started.set()
        time.sleep(seconds)
        return original(self, label, *a, **kw)

    monkeypatch.setattr(Synthesizer, "render", slow_render)
    return started, calls


def held_renders(monkeypatch):
    """Make every Synthesizer.render wait until the test sets the returned ``release`` event;
    returns (started, release)."""
    from spade_studio.model.synthesize import Synthesizer

    original = Synthesizer.render
    started, release = threading.Event(), threading.Event()

    def held_render(self, label, *a, **kw):
        started.set()
        release.wait(LOAD_MS / 1000)
        return original(self, label, *a, **kw)

    monkeypatch.setattr(Synthesizer, "render", held_render)
    return started, release


def settle(qtbot, service, delivered):
    """Send one more request and wait for it: results arrive in order, so anything still on
    its way from earlier requests has been delivered (or dropped) by then. Returns its id."""
    rid = service.request(painted_map(), StyleSpec(seed=99), debounce_ms=0)
    qtbot.waitUntil(lambda: rid in delivered, timeout=LOAD_MS)
    return rid


def delivered_ids(service) -> list:
    delivered = []
    service.rendered.connect(lambda rid, img, s, n: delivered.append(rid))
    return delivered


def test_rapid_requests_only_newest_is_rendered(qtbot, service, model_path, monkeypatch):
    started, calls = slow_renders(monkeypatch)
    load(qtbot, service, model_path)
    delivered = delivered_ids(service)
    lab = painted_map()
    ids = [service.request(lab, StyleSpec(seed=0), debounce_ms=0)]
    assert started.wait(10), "the worker never started rendering"
    ids += [service.request(lab, StyleSpec(seed=i), debounce_ms=0) for i in range(1, 10)]
    assert ids == sorted(ids) and len(set(ids)) == 10
    qtbot.waitUntil(lambda: ids[-1] in delivered, timeout=LOAD_MS)
    last = settle(qtbot, service, delivered)  # nothing else trickles in before it
    assert delivered == [ids[0], ids[-1], last]
    assert calls == [0, 9, 99], "superseded requests must never be rendered"
    qtbot.waitUntil(lambda: not service.is_busy(), timeout=5000)


def test_debounce_coalesces_requests(qtbot, service, model_path):
    load(qtbot, service, model_path)
    delivered = []
    service.rendered.connect(lambda rid, img, s, n: delivered.append(rid))
    lab = painted_map()
    ids = []
    for i in range(5):  # well inside the 250 ms window; events run in between
        ids.append(service.request(lab, StyleSpec(seed=i), debounce_ms=250))
        QApplication.processEvents()
    qtbot.waitUntil(lambda: bool(delivered), timeout=LOAD_MS)
    last = settle(qtbot, service, delivered)
    assert delivered == [ids[-1], last]


def test_result_of_a_replaced_model_is_dropped(qtbot, service, model_path, monkeypatch):
    started, _ = slow_renders(monkeypatch)
    load(qtbot, service, model_path)
    delivered = delivered_ids(service)
    service.request(painted_map(), StyleSpec(seed=1))
    assert started.wait(10)
    with qtbot.waitSignal(service.model_loaded, timeout=LOAD_MS):
        service.load_model(str(model_path), "cpu")  # waits for the running render, not the GUI
    # the old render's result was posted before the load's, so it has arrived and was dropped
    assert delivered == [] and service.stale_dropped >= 1
    with qtbot.waitSignal(service.rendered, timeout=LOAD_MS) as blocker:
        rid = service.request(painted_map(), StyleSpec(seed=1))
    assert blocker.args[0] == rid and delivered == [rid]


def test_event_loop_keeps_turning_during_a_render(qtbot, service, model_path, monkeypatch):
    started, release = held_renders(monkeypatch)  # the render waits until the GUI lets it go
    load(qtbot, service, model_path)
    ticks = []
    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(1))
    delivered = delivered_ids(service)
    try:
        rid = service.request(painted_map(384, 384), StyleSpec(seed=2))
        assert started.wait(LOAD_MS / 1000), "the worker never started rendering"
        timer.start()
        # the GUI thread runs timers and handles input while the worker is inside render()
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=LOAD_MS)
        button = QPushButton()
        qtbot.addWidget(button)
        with qtbot.waitSignal(button.clicked):
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        assert delivered == [] and service.is_busy()  # ...and the render is still running
        with qtbot.waitSignal(service.rendered, timeout=LOAD_MS) as blocker:
            release.set()
    finally:
        release.set()
        timer.stop()
    assert blocker.args[0] == rid and blocker.args[1].shape == (384, 384, 3)


def test_large_canvas_gets_a_quick_preview_first(qtbot, service, model_path):
    load(qtbot, service, model_path)
    service.preview_after_s, service.preview_min_side = 0.0, 48  # treat 64 px as "large and slow"
    with qtbot.waitSignal(service.rendered, timeout=LOAD_MS):
        service.request(painted_map(), StyleSpec(seed=3))  # a first full render sets the timing
    got = []
    service.rendered.connect(lambda rid, img, s, n: got.append((rid, img.shape, is_preview(n))))
    rid = service.request(painted_map(), StyleSpec(seed=3))
    qtbot.waitUntil(lambda: len(got) == 2, timeout=LOAD_MS)
    assert got == [(rid, (64, 64, 3), True), (rid, (64, 64, 3), False)]


def test_model_load_failure_names_the_path(qtbot, service, tmp_path, monkeypatch):
    missing = tmp_path / "nope.safetensors"
    with qtbot.waitSignal(service.model_failed, timeout=LOAD_MS) as blocker:
        service.load_model(str(missing))
    assert str(missing) in blocker.args[0]

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"this is not a model")
    with qtbot.waitSignal(service.model_failed, timeout=LOAD_MS) as blocker:
        service.load_model(broken)
    assert str(broken) in blocker.args[0]

    import spade_studio.paths

    monkeypatch.setattr(spade_studio.paths, "default_model_path", lambda: None)
    with qtbot.waitSignal(service.model_failed, timeout=LOAD_MS) as blocker:
        service.load_model(None)
    assert "landscape.safetensors" in blocker.args[0]

    with qtbot.waitSignal(service.render_failed, timeout=LOAD_MS) as blocker:
        rid = service.request(painted_map(), StyleSpec())
    assert blocker.args[0] == rid and "no model" in blocker.args[1]


def test_encode_style_and_seed_to_z(qtbot, service, model_path):
    load(qtbot, service, model_path)
    rgb = np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8)
    with qtbot.waitSignal(service.style_encoded, timeout=LOAD_MS) as blocker:
        service.encode_style(rgb, "my-token")
    token, z = blocker.args
    assert token == "my-token" and tuple(z.shape) == (1, 256)

    from spade_studio.model.synthesize import Synthesizer

    synth = Synthesizer(model_path, "cpu")
    assert np.allclose(z.numpy(), synth.encode_style(rgb).numpy(), atol=1e-5)
    with qtbot.waitSignal(service.style_encoded, timeout=LOAD_MS) as blocker:
        service.seed_to_z(7, ("seed", 7))
    assert blocker.args[0] == ("seed", 7)
    assert np.array_equal(blocker.args[1].numpy(), synth.random_z(7).numpy())


def test_variations_deliver_k_images(qtbot, service, model_path):
    load(qtbot, service, model_path)
    with qtbot.waitSignal(service.variations_ready, timeout=LOAD_MS) as blocker:
        vid = service.request_variations(painted_map(), [11, 12, 13])
    got_id, results = blocker.args
    assert got_id == vid and [s for s, _ in results] == [11, 12, 13]
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8 for _, img in results)
    assert not np.array_equal(results[0][1], results[1][1]), "different seeds should look different"


# -- output view -------------------------------------------------------------------------------
def test_output_view_shows_the_image_aspect_kept(qtbot, tmp_path):
    view = OutputView()
    qtbot.addWidget(view)
    view.resize(300, 300)
    view.show()
    assert view.message()  # an empty view says so
    img = np.zeros((50, 100, 3), np.uint8)
    img[:, :50] = (255, 0, 0)
    img[:, 50:] = (0, 0, 255)
    view.set_image(img)
    shot = view.grab().toImage()
    dpr = shot.devicePixelRatio()
    r = view.image_rect()
    assert abs(r.width() / r.height() - 2.0) < 0.02 and r.width() > 250  # wide image, letterboxed
    left = shot.pixelColor(QPoint(int(r.left() + r.width() * 0.25) * dpr, int(r.center().y()) * dpr))
    right = shot.pixelColor(QPoint(int(r.left() + r.width() * 0.75) * dpr, int(r.center().y()) * dpr))
    above = shot.pixelColor(QPoint(150 * dpr, int(r.top() / 2) * dpr))
    assert (left.red(), left.blue()) == (255, 0) and (right.red(), right.blue()) == (0, 255)
    assert above.name() not in ("#ff0000", "#0000ff")  # the letterbox background, not the image

    view.set_busy(True)
    assert view.is_busy()
    view.set_busy(False)
    acts = [a.text() for a in view.build_menu().actions()]
    assert acts == ["Copy image", "Export image…"]
    assert view.copy_image()
    out = view.export_to(tmp_path / "render.png")
    from spade_studio.imageio import read_rgb

    np.testing.assert_array_equal(read_rgb(out), img)
    requested = []
    view.export_requested.connect(lambda: requested.append(True))
    view.request_export()
    assert requested == [True]


def test_output_view_is_sharp_on_high_dpi(tmp_path):
    """At a device pixel ratio of 2 the image is scaled to device pixels, not logical ones."""
    import os
    import subprocess
    import sys

    script = tmp_path / "dpr.py"
    script.write_text(
        "import numpy as np\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from spade_studio.app.output_view import OutputView\n"
        "app = QApplication([])\n"
        "v = OutputView(); v.resize(300, 300); v.show(); app.processEvents()\n"
        "v.set_image(np.zeros((64, 64, 3), np.uint8)); v.grab()\n"
        "r = v.image_rect(); pm = v._scaled\n"
        "print(v.devicePixelRatioF(), pm.width(), pm.devicePixelRatio(), r.width())\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    dpr, pm_w, pm_dpr, logical_w = map(float, out.stdout.split())
    assert dpr == 2.0 and pm_dpr == 2.0 and pm_w == 2 * logical_w


# -- palette -----------------------------------------------------------------------------------
def test_palette_filter_number_keys_and_recent(qtbot):
    pal = PalettePanel()
    qtbot.addWidget(pal)
    pal.set_label_set(load_label_set("landscape"))
    pal.show()
    assert pal.visible_ids() == list(range(15))

    pal.set_filter("sea")
    assert pal.visible_ids() == [10]
    pal.set_filter("1")  # ids starting with 1
    assert pal.visible_ids() == [1, 10, 11, 12, 13, 14]
    pal.set_filter("ri")
    assert pal.visible_ids() == [11]  # river
    with qtbot.waitSignal(pal.label_chosen) as blocker:
        assert pal.select_index(0) == 11
    assert blocker.args == [11]
    assert pal.select_index(3) is None  # only one entry is visible

    pal.set_filter("")
    pal.list.setFocus()
    with qtbot.waitSignal(pal.label_chosen) as blocker:
        QTest.keyClick(pal.list, Qt.Key.Key_3)  # the third entry: mountain (id 2)
    assert blocker.args == [2]
    with qtbot.waitSignal(pal.label_chosen) as blocker:
        pal.select_index(9)  # key 0
    assert blocker.args == [9]
    assert pal.recent() == [9, 2, 11]
    assert [b.property("label_id") for b in pal.recent_buttons()] == [9, 2, 11]

    with qtbot.assertNotEmitted(pal.label_chosen):
        pal.set_current(5)
    assert pal.current() == 5 and pal.list.currentItem().text() == "snow"
    with qtbot.waitSignal(pal.label_chosen) as blocker:
        pal.recent_buttons()[1].click()
    assert blocker.args == [2] and pal.recent()[0] == 2

    with qtbot.waitSignal(pal.label_chosen) as blocker:
        QTest.keyClick(pal.list, Qt.Key.Key_Down)  # keyboard navigation from mountain
    assert blocker.args == [3]
    for i in range(12):
        pal.select_index(i)
    assert len(pal.recent()) == PalettePanel.RECENT_MAX and pal.recent()[0] == 11


def test_palette_handles_coco_stuff(qtbot):
    pal = PalettePanel()
    qtbot.addWidget(pal)
    ls = load_label_set("coco_stuff")
    pal.set_label_set(ls)
    assert len(pal.visible_ids()) == len(ls) >= 180
    pal.set_filter("person")
    ids = pal.visible_ids()
    assert ids and all("person" in ls.name_of(i).lower() for i in ids)
    with qtbot.waitSignal(pal.label_chosen) as blocker:
        pal.select_index(0)
    assert blocker.args == [ids[0]]


# -- style panel -------------------------------------------------------------------------------
def test_style_panel_seed_and_disabled_states(qtbot, service):
    panel = StylePanel(service)
    qtbot.addWidget(panel)
    assert not panel.styles_enabled()  # no model yet

    panel.set_model_info(fake_info(has_encoder=False, uses_style=False))
    assert not panel.styles_enabled() and not panel.images_enabled()
    assert panel.reason_label.text() == NO_ENCODER and not panel.reason_label.isHidden()

    panel.set_model_info(fake_info(has_encoder=False, uses_style=True))  # seeds only
    assert panel.styles_enabled() and not panel.images_enabled()
    assert all(not t.isEnabled() for t in panel.thumbs())

    panel.set_model_info(fake_info(has_encoder=True, uses_style=True))
    assert panel.styles_enabled() and panel.images_enabled() and panel.reason_label.isHidden()
    assert len(panel.thumbs()) >= 6  # the presets
    with qtbot.waitSignal(panel.style_changed) as blocker:
        panel.seed_spin.setValue(1234)
    assert blocker.args[0] == StyleSpec(seed=1234)
    with qtbot.waitSignal(panel.style_changed) as blocker:
        seed = panel.random_style()
    assert blocker.args[0].seed == seed == panel.seed_spin.value()


def test_style_panel_blend_mixes_two_z(qtbot, service, model_path, tmp_path):
    info = load(qtbot, service, model_path)
    panel = StylePanel(service)
    qtbot.addWidget(panel)
    panel.set_model_info(info)
    encoded = {}
    service.style_encoded.connect(lambda token, z: encoded.__setitem__(token[1], z))
    a, b = panel.thumbs()[0], panel.thumbs()[1]
    with qtbot.waitSignal(panel.style_changed, timeout=LOAD_MS) as blocker:
        QTest.mouseClick(a, Qt.MouseButton.LeftButton)
    za = blocker.args[0].z
    assert za is not None and tuple(za.shape) == (1, 256) and a.role == "A"
    QTest.mouseClick(b, Qt.MouseButton.RightButton)  # blend target; t = 0 so no change yet
    assert b.role == "B" and panel.blend_source() == b.source
    with qtbot.waitSignal(panel.style_changed, timeout=LOAD_MS) as blocker:
        panel.blend_slider.setValue(25)
    zb = encoded[("image", b.source.key)]
    assert not np.allclose(za.numpy(), zb.numpy())
    mixed = blocker.args[0].z
    np.testing.assert_allclose(mixed.numpy(), (0.75 * za + 0.25 * zb).numpy(), atol=1e-6)

    # the style stays put until the user changes it: rendering emits nothing
    asked = []
    with qtbot.assertNotEmitted(panel.style_changed):
        with qtbot.waitSignal(service.rendered, timeout=LOAD_MS,
                              check_params_cb=lambda rid, *_: rid in asked):
            asked.append(service.request(painted_map(), panel.current_style()))

    # open / drop an image: it becomes the style and a recent entry
    from PIL import Image

    p = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 60, 3), (200, 120, 30), np.uint8)).save(p)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p))])
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(panel.style_changed, timeout=LOAD_MS) as blocker:
        panel.dropEvent(drop)
    assert panel.recent_styles() == [str(p)] and panel.current_source() == StyleSource.image(p)
    assert blocker.args[0].z is not None


def test_style_panel_variations_pick_a_seed(qtbot, service, model_path):
    info = load(qtbot, service, model_path)
    panel = StylePanel(service)
    qtbot.addWidget(panel)
    panel.set_model_info(info)
    panel.set_label_source(painted_map)
    panel.variation_count.setValue(4)
    with qtbot.waitSignal(service.variations_ready, timeout=LOAD_MS):
        panel.request_variations()
    thumbs = panel.variation_thumbs()
    assert len(thumbs) == 4 and all(t._image is not None for t in thumbs)
    with qtbot.waitSignal(panel.style_changed) as blocker:
        QTest.mouseClick(thumbs[2], Qt.MouseButton.LeftButton)
    seed = thumbs[2].source.key
    assert blocker.args[0] == StyleSpec(seed=seed) and panel.seed_spin.value() == seed
