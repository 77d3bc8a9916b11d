"""Semantic tensors, label sets, colour decoding and label-map files."""

import numpy as np
import pytest
import torch
from PIL import Image

from spade_studio.imageio import ImageReadError, read_instance_map, read_label_map, write_label_map
from spade_studio.labels import LabelError, builtin_label_set_names, load_label_set, numbered_label_set, voc_color
from spade_studio.model.config import GeneratorConfig
from spade_studio.model.semantics import instance_edges, make_semantics, regions_as_instances


def brute_edges(inst):
    h, w = inst.shape
    out = np.zeros((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and inst[yy, xx] != inst[y, x]:
                    out[y, x] = 1
    return out


def test_instance_edges_match_definition():
    rng = np.random.default_rng(0)
    inst = rng.integers(0, 3, size=(9, 11))
    got = instance_edges(torch.from_numpy(inst)[None, None])[0, 0].numpy()
    assert np.array_equal(got, brute_edges(inst))


def test_edges_from_16bit_instance_ids():
    inst = np.zeros((6, 6), np.int64)
    inst[:, 3:] = 26001  # cityscapes-style id*1000+k
    got = instance_edges(torch.from_numpy(inst)[None, None])[0, 0].numpy()
    assert got[:, 2].all() and got[:, 3].all() and got[:, :2].sum() == 0


def test_regions_as_instances_separates_components():
    lab = np.zeros((5, 7), np.uint8)
    lab[:, 1] = 1
    lab[:, 5] = 1  # two separate regions of label 1
    inst = regions_as_instances(lab)
    assert len(np.unique(inst)) == 5  # three label-0 strips, two label-1 strips
    assert inst[0, 1] != inst[0, 5]


def test_make_semantics_dontcare_and_errors():
    cfg = GeneratorConfig(label_nc=4, contain_dontcare_label=True, use_instance=True)
    lab = torch.tensor([[[[0, 1], [255, 4]]]])
    inst = torch.tensor([[[[0, 0], [1, 1]]]])
    sem = make_semantics(lab, inst, cfg)
    assert sem.shape == (1, 6, 2, 2)
    assert sem[0, 4, 1, 0] == 1 and sem[0, 4, 1, 1] == 1  # 255 -> dontcare index 4, 4 itself too
    assert torch.equal(sem[0, 5], torch.ones(2, 2))  # instance edge channel last
    assert torch.equal(sem[0, :5].sum(0), torch.ones(2, 2))
    with pytest.raises(ValueError, match="7"):
        make_semantics(torch.tensor([[[[7]]]]), None, GeneratorConfig(label_nc=4))
    derived = make_semantics(torch.tensor([[[[0, 1, 1]]]]), None, GeneratorConfig(label_nc=2, use_instance=True))
    assert derived[0, 2].tolist() == [[1.0, 1.0, 0.0]]


def test_builtin_label_sets():
    names = builtin_label_set_names()
    for n in ("landscape", "coco_stuff", "ade20k", "cityscapes"):
        assert n in names
    land = load_label_set("landscape")
    assert [lab.name for lab in land] == ["sky", "cloud", "mountain", "hill", "rock", "snow", "grass", "tree",
                                          "bush", "flower", "sea", "river", "sand", "dirt", "fog"]
    assert len({lab.color for lab in land}) == 15
    coco = load_label_set("coco")
    assert len(coco) == 183 and coco.dontcare_id == 255 and coco.name_of(156) == "sky-other"
    assert len(load_label_set("ade20k")) == 151
    assert load_label_set("cityscapes").name_of(26) == "car"
    with pytest.raises(LabelError, match="unknown label set"):
        load_label_set("nope")


def test_voc_palette():
    assert voc_color(0) == (0, 0, 0)
    assert voc_color(1) == (128, 0, 0)
    assert voc_color(2) == (0, 128, 0)
    ns = numbered_label_set(30, dontcare=True)
    assert ns.by_id(0).color == (128, 0, 0) and ns.dontcare_id == 255
    assert len({lab.color for lab in ns}) == 31


def test_colour_decoding_and_report():
    land = load_label_set("landscape")
    ids = np.array([[0, 6], [10, 14]], np.uint8)
    rgb = land.colorize(ids)
    assert np.array_equal(land.colors_to_ids(rgb), ids)
    rgb[1, 1] = (1, 2, 3)
    with pytest.raises(LabelError) as ei:
        land.colors_to_ids(rgb, where="map.png")
    assert "(1, 2, 3)" in str(ei.value) and "x=1, y=1" in str(ei.value) and "map.png" in str(ei.value)
    ade = load_label_set("ade20k")
    road = ade.by_id(7).color
    with pytest.raises(LabelError, match="several labels"):
        ade.colors_to_ids(np.array([[road]], np.uint8))


def test_label_png_roundtrip_with_palette(tmp_path):
    land = load_label_set("landscape")
    ids = np.random.default_rng(3).integers(0, 15, size=(20, 30)).astype(np.uint8)
    p = write_label_map(tmp_path / "m.png", ids, land)
    img = Image.open(p)
    assert img.mode == "P"
    assert tuple(img.getpalette()[18:21]) == land.by_id(6).color
    back = read_label_map(p)
    assert np.array_equal(back.ids, ids) and back.label_set_name == "landscape"
    col = tmp_path / "c.png"
    Image.fromarray(land.colorize(ids)).save(col)
    dec = read_label_map(col, land)
    assert dec.from_colors and np.array_equal(dec.ids, ids)
    big = np.array([[0, 300], [65535, 7]], np.uint16)
    write_label_map(tmp_path / "b.png", big)
    assert np.array_equal(read_label_map(tmp_path / "b.png").ids, big)


def test_unreadable_and_16bit_instance(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(ImageReadError, match="bad.png"):
        read_label_map(bad)
    inst = np.array([[0, 26001], [26002, 7]], np.uint16)
    Image.fromarray(inst).save(tmp_path / "i.png")
    assert np.array_equal(read_instance_map(tmp_path / "i.png"), inst.astype(np.int64))
