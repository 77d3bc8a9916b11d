"""The document on its own: files (save, open, colour PNGs, errors), remapping, autosave and recovery, undo memory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from spade_studio.app.autosave import Autosaver, find_recovery  # noqa: E402
from spade_studio.app.document import Document  # noqa: E402
from spade_studio.imageio import LABELSET_CHUNK, ImageReadError, write_image, write_label_map  # noqa: E402
from spade_studio.labels import LabelError, load_label_set, numbered_label_set  # noqa: E402


@pytest.fixture
def ls():
    return load_label_set("landscape")


@pytest.fixture
def doc(qtbot, ls):
    return Document(ls, 40, 30, fill_label=0)


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
