"""trainer.augment (pre-processing modes), trainer.layouts, trainer.datacheck and trainer.datasets (PairedDataset)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spade_studio.imageio import write_label_map
from spade_studio.labels import load_label_set
from trainer.augment import (
    MODES,
    AugmentParams,
    PreprocessConfig,
    apply_to_image,
    apply_to_instance,
    apply_to_label,
    draw_params,
    image_to_tensor,
    preprocess,
)
from trainer.datacheck import check_data
from trainer.datasets import PairedDataset, allowed_label_ids, collate_skip_none, resolve_label_set
from trainer.layouts import DatasetError, detect_layout, find_samples

# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------


def blocks(h: int, w: int, values, block: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """Label map of ``block``-pixel squares with random values from ``values``."""
    rng = np.random.default_rng(seed)
    grid = rng.choice(np.asarray(values), size=(-(-h // block), -(-w // block)))
    return np.kron(grid, np.ones((block, block), np.int64))[:h, :w].astype(dtype)


def save_gray(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def save_rgb(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb.astype(np.uint8), mode="RGB").save(path)
    return path


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def landscape_rgb(ids: np.ndarray) -> np.ndarray:
    ls = load_label_set("landscape")
    return np.array([ls.by_id(int(i)).color for i in range(15)], np.uint8)[ids]


# Cityscapes classes with instances (cityscapesScripts labels.py: hasInstances)
CS_THINGS = (24, 25, 26, 27, 28, 29, 30, 31, 32, 33)


def make_cityscapes(root: Path) -> dict[str, np.ndarray]:
    """Synthetic Cityscapes layout: 3 train frames in 2 cities, 1 val frame; 64x32 px."""
    frames = {"train": ["aachen/aachen_000000_000019", "aachen/aachen_000001_000019", "bochum/bochum_000000_000313"],
              "val": ["frankfurt/frankfurt_000000_000294"]}
    instances = {}
    for split, names in frames.items():
        for n, name in enumerate(names):
            city, prefix = name.split("/")
            labels = blocks(32, 64, np.arange(34), 8, seed=n + 10 * (split == "val"))
            inst = labels.astype(np.uint16)
            for k, (y, x) in enumerate([(0, 0), (8, 8), (16, 16), (24, 24)]):
                cls = CS_THINGS[(n + k) % len(CS_THINGS)]
                labels[y:y + 8, x:x + 8] = cls
                inst[y:y + 8, x:x + 8] = cls * 1000 + k
            save_rgb(root / "leftImg8bit" / split / city / f"{prefix}_leftImg8bit.png", photo(32, 64, n))
            gt = root / "gtFine" / split / city
            save_gray(gt / f"{prefix}_gtFine_labelIds.png", labels)
            save_gray(gt / f"{prefix}_gtFine_instanceIds.png", inst)
            save_rgb(gt / f"{prefix}_gtFine_color.png", photo(32, 64, 99))  # must be ignored
            (gt / f"{prefix}_gtFine_polygons.json").write_text("{}")
            instances[prefix] = inst
    return instances


def make_paired(root: Path, stems=("a", "b"), size=(40, 30), label_set: str | None = "landscape") -> Path:
    w, h = size
    for n, stem in enumerate(stems):
        save_rgb(root / "images" / f"{stem}.jpg", photo(h, w, n))
        save_gray(root / "labels" / f"{stem}.png", blocks(h, w, np.arange(15), 5, seed=n))
    if label_set:
        (root / "dataset.json").write_text(json.dumps({"label_set": label_set}))
    return root


# ----------------------------------------------------------------------------------------
# pre-processing modes
# ----------------------------------------------------------------------------------------

# (mode, load, crop, aspect, source (w, h), expected output (w, h)); sizes worked out by hand
# from reference §3.4.
SIZE_CASES = [
    ("resize_and_crop", 286, 256, 1.0, (640, 480), (256, 256)),
    ("resize_and_crop", 286, 256, 1.0, (100, 300), (256, 256)),
    ("scale_width", 286, 256, 1.0, (640, 480), (286, 214)),  # int(286*480/640) = int(214.5)
    ("scale_width", 286, 256, 1.0, (300, 500), (286, 476)),  # int(476.67)
    ("scale_width_and_crop", 286, 256, 1.0, (640, 480), (256, 256)),
    ("scale_shortside", 286, 256, 1.0, (640, 480), (381, 286)),  # int(286*640/480) = int(381.33)
    ("scale_shortside", 286, 256, 1.0, (300, 500), (286, 476)),
    ("scale_shortside", 100, 64, 1.0, (50, 50), (100, 100)),
    ("scale_shortside_and_crop", 286, 256, 1.0, (300, 500), (256, 256)),
    ("crop", 286, 64, 1.0, (100, 80), (64, 64)),
    ("none", 286, 256, 1.0, (640, 480), (640, 480)),
    ("none", 286, 256, 1.0, (300, 500), (288, 512)),  # round(9.375)=9, round(15.625)=16
    ("none", 286, 256, 1.0, (80, 48), (64, 64)),  # round(2.5)=2, round(1.5)=2: ties to even
    ("fixed", 512, 512, 2.0, (2048, 1024), (512, 256)),  # Cityscapes
    ("fixed", 256, 256, 2.0, (640, 480), (256, 128)),
    ("fixed", 286, 100, 1.5, (640, 480), (100, 67)),  # round(66.67)
]


@pytest.mark.parametrize("mode,load,crop,aspect,src,expected", SIZE_CASES)
def test_mode_output_sizes(mode, load, crop, aspect, src, expected):
    cfg = PreprocessConfig(mode=mode, load_size=load, crop_size=crop, aspect_ratio=aspect)
    w, h = src
    label = blocks(h, w, [3, 7, 200], 4)
    image = photo(h, w)
    inst = label.astype(np.int32) * 1000
    img_t, lab_t, inst_t, _ = preprocess(cfg, image, label, inst, np.random.default_rng(0), train=True)
    ew, eh = expected
    assert tuple(lab_t.shape) == (1, eh, ew) and lab_t.dtype == torch.int64
    assert tuple(img_t.shape) == (3, eh, ew) and img_t.dtype == torch.float32
    assert tuple(inst_t.shape) == (1, eh, ew) and inst_t.dtype == torch.int64


def test_every_mode_is_covered():
    assert {c[0] for c in SIZE_CASES} == set(MODES)


def test_unknown_mode_rejected():
    with pytest.raises(ValueError, match="scale_width"):
        PreprocessConfig(mode="scale_height")


def test_resize_and_crop_positions_cover_the_range():
    # a 286x286 source needs no resize; column value == x, so out[0,0] is the crop's x offset
    cfg = PreprocessConfig()
    ramp_x = np.tile(np.arange(286, dtype=np.uint16), (286, 1))
    xs = set()
    for s in range(400):
        p = draw_params(cfg, 286, 286, np.random.default_rng(s), train=False)
        out = apply_to_label(ramp_x, p)
        assert out.shape == (256, 256)
        assert out[0, 0] == p.crop[0]
        xs.add(int(out[0, 0]))
    assert xs == set(range(31))  # x in [0, 286-256] inclusive, every position reachable


def test_nearest_resize_keeps_values_exactly():
    # 143 -> 286 is an exact 2x upscale: NEAREST gives out[y, x] = src[(y+cy)//2, (x+cx)//2]
    cfg = PreprocessConfig(flip=False)
    src = blocks(143, 143, [0, 1, 254, 255, 300, 40000, 65535], 1, seed=3, dtype=np.uint16)
    for s in range(5):
        p = draw_params(cfg, 143, 143, np.random.default_rng(s), train=True)
        out = apply_to_label(src, p)
        cx, cy = p.crop
        yy, xx = np.mgrid[0:256, 0:256]
        np.testing.assert_array_equal(out, src[(yy + cy) // 2, (xx + cx) // 2])


@pytest.mark.parametrize("dtype,values", [(np.uint8, [0, 5, 181, 255]), (np.uint16, [7, 26001, 33999]),
                                          (np.int32, [0, 2**20 + 5, 2**31 - 1])])
def test_downscale_values_survive(dtype, values):
    cfg = PreprocessConfig(mode="scale_width_and_crop", load_size=97, crop_size=64)
    src = blocks(500, 333, values, 3, seed=1, dtype=dtype)
    p = draw_params(cfg, 333, 500, np.random.default_rng(1), True)
    for fn in (apply_to_label, apply_to_instance):
        out = fn(src, p)
        assert out.dtype == np.int64
        assert set(np.unique(out).tolist()) <= set(values)
        assert len(np.unique(out)) == len(values)  # 3-px blocks of 4 values: all still present


def test_same_crop_and_flip_for_label_and_image():
    # image colour encodes the label; after flip + crop the two must still agree
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 0, 0], [255, 255, 255]], np.uint8)
    src = blocks(143, 143, np.arange(6), 11, seed=5)
    src[:, :20] = 0  # make the map left/right asymmetric for sure
    rgb = colours[src]
    cfg = PreprocessConfig()
    seed = next(s for s in range(100) if draw_params(cfg, 143, 143, np.random.default_rng(s), True).flip)
    img_t, lab_t, _, p = preprocess(cfg, rgb, src, None, np.random.default_rng(seed), train=True)
    assert p.flip and p.crop is not None
    lab = lab_t[0].numpy()
    cx, cy = p.crop
    yy, xx = np.mgrid[0:256, 0:256]
    np.testing.assert_array_equal(lab, src[(yy + cy) // 2, (255 - xx + cx) // 2])  # flipped after crop
    img = ((img_t.permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255).round()
    # away from region borders, the colour must be that of the label at the same pixel
    same = np.ones_like(lab, bool)
    for dy in (-3, 0, 3):
        for dx in (-3, 0, 3):
            same &= np.roll(np.roll(lab, dy, 0), dx, 1) == lab
    same[:3] = same[-3:] = False
    same[:, :3] = same[:, -3:] = False
    assert same.sum() > 20000
    assert np.abs(img[same] - colours[lab[same]]).max() <= 2


def test_flip_only_when_training_and_enabled():
    on, off = PreprocessConfig(), PreprocessConfig(flip=False)
    flips = [draw_params(on, 300, 300, np.random.default_rng(s), True).flip for s in range(200)]
    assert 60 < sum(flips) < 140
    assert not any(draw_params(on, 300, 300, np.random.default_rng(s), False).flip for s in range(200))
    assert not any(draw_params(off, 300, 300, np.random.default_rng(s), True).flip for s in range(200))


def test_image_tensor_range_and_bicubic():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = 255
    rgb[1, 1] = 128
    t = image_to_tensor(rgb)
    assert t.shape == (3, 2, 2) and t.dtype == torch.float32
    assert t[:, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert t[:, 0, 1].tolist() == [-1.0, -1.0, -1.0]
    assert abs(float(t[0, 1, 1]) - (128 / 255 - 0.5) / 0.5) < 1e-6
    # bicubic overshoots on a hard edge where nearest/bilinear would not: a checker upscale
    checker = (np.indices((8, 8)).sum(0) % 2 * 255).astype(np.uint8)
    out = apply_to_image(np.stack([checker] * 3, -1), AugmentParams((32, 32), None, 0, False))
    expected = np.asarray(Image.fromarray(np.stack([checker] * 3, -1)).resize((32, 32), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(out, expected)


# ----------------------------------------------------------------------------------------
# layouts
# ----------------------------------------------------------------------------------------


def test_detect_all_layouts(tmp_path, shared):
    make_cityscapes(tmp_path / "cs")
    make_paired(tmp_path / "pp")
    assert detect_layout(tmp_path / "cs") == "cityscapes"
    assert detect_layout(tmp_path / "pp") == "paired"
    assert detect_layout(shared / "data" / "coco_stuff_sample") == "coco"
    assert detect_layout(shared / "data" / "ade20k_sample") == "ade20k"


def test_unknown_layout_names_what_was_expected(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DatasetError) as err:
        detect_layout(tmp_path)
    msg = str(err.value)
    for expected in ("images/", "labels/", "train_img/", "annotations/", "leftImg8bit", "gtFine", "photos/"):
        assert expected in msg
    with pytest.raises(DatasetError, match="no such folder"):
        detect_layout(tmp_path / "missing")


def test_unknown_layout_hints_at_subfolder(tmp_path):
    make_paired(tmp_path / "mydata")
    with pytest.raises(DatasetError, match="mydata"):
        detect_layout(tmp_path)


def test_explicit_dataset_mode_overrides_detection(tmp_path):
    root = make_paired(tmp_path)
    assert len(find_samples(root)) == 2
    assert find_samples(root, dataset_mode="coco") == []
    report = check_data(root, dataset_mode="coco")
    assert report.fatal and report.layout == "coco"
    assert report.problems_of("no_pairs")
    with pytest.raises(DatasetError, match="unknown dataset_mode"):
        find_samples(root, dataset_mode="kitti")


def test_coco_samples(shared):
    root = shared / "data" / "coco_stuff_sample"
    samples = find_samples(root)
    assert len(samples) == 13
    assert [s.stem for s in samples] == sorted(p.stem for p in (root / "train_img").glob("*.jpg"))
    assert all(s.instance is not None and s.instance.parent.name == "train_inst" for s in samples)
    assert all(s.image.stem == s.label.stem == s.stem for s in samples)
    assert find_samples(root, split="val") == []


def test_ade20k_samples_and_unshifted_values(shared):
    root = shared / "data" / "ade20k_sample"
    samples = find_samples(root, split="val")
    assert [s.stem for s in samples] == ["ADE_val_00000001", "ADE_val_00000002"]
    assert all(s.instance is None for s in samples)
    assert find_samples(root, split="validation") == samples
    assert find_samples(root, split="train") == []  # label_only/ is outside annotations/

    ls = resolve_label_set(root)
    assert ls.name == "ade20k"
    # scale_width to the file's own width: no resize, no crop -> raw values must come out as stored
    ds = PairedDataset(samples[:1], PreprocessConfig(mode="scale_width", load_size=683), ls, train=False)
    item = ds[0]
    raw = np.asarray(Image.open(samples[0].label))
    np.testing.assert_array_equal(item["label"][0].numpy(), raw)
    assert sorted(np.unique(raw).tolist()) == [0, 1, 2, 3, 5, 7, 10, 18]  # values listed in the data README
    report = check_data(root, split="val")
    assert not report.fatal and report.usable == 2
    assert {st.id for st in report.ids} == {0, 1, 2, 3, 5, 7, 10, 14, 18}
    assert next(st for st in report.ids if st.id == 3).name == "sky"  # 3 = sky unshifted (2 would be shifted)


def test_cityscapes_samples(tmp_path):
    inst = make_cityscapes(tmp_path)
    train = find_samples(tmp_path)
    assert [s.stem for s in train] == ["aachen/aachen_000000_000019", "aachen/aachen_000001_000019",
                                       "bochum/bochum_000000_000313"]
    for s in train:
        assert s.image.name.endswith("_leftImg8bit.png")
        assert s.label.name.endswith("_gtFine_labelIds.png")
        assert s.instance.name.endswith("_gtFine_instanceIds.png")
        prefix = s.stem.split("/")[1]
        assert s.image.name.startswith(prefix) and s.label.name.startswith(prefix)
    assert [s.stem for s in find_samples(tmp_path, split="val")] == ["frankfurt/frankfurt_000000_000294"]
    report = check_data(tmp_path)
    assert not report.fatal, report.to_text()
    assert report.label_set == "cityscapes" and report.instances == 3 and report.usable == 3
    assert report.problems == []

    cfg = PreprocessConfig(mode="fixed", load_size=64, crop_size=64, aspect_ratio=2.0, flip=False)
    ds = PairedDataset(train, cfg, resolve_label_set(tmp_path), train=True, use_instance=True)
    item = ds[0]
    assert tuple(item["label"].shape) == (1, 32, 64) and tuple(item["image"].shape) == (3, 32, 64)
    # 64x32 source, fixed 64 x round(64/2) -> unchanged: 16-bit instance ids come out unscaled
    np.testing.assert_array_equal(item["instance"][0].numpy(), inst["aachen_000000_000019"].astype(np.int64))
    assert int(item["instance"].max()) >= 24000


def test_paired_colour_and_index_labels(tmp_path):
    ls = load_label_set("landscape")
    ids = blocks(30, 40, np.arange(15), 5, seed=2)
    save_rgb(tmp_path / "images" / "idx.jpg", photo(30, 40))
    save_gray(tmp_path / "labels" / "idx.png", ids)
    save_rgb(tmp_path / "images" / "col.png", photo(30, 40, 1))
    save_rgb(tmp_path / "labels" / "col.png", landscape_rgb(ids))
    save_rgb(tmp_path / "images" / "sub" / "deep.jpg", photo(30, 40, 2))
    save_gray(tmp_path / "labels" / "sub" / "deep.png", ids)
    samples = find_samples(tmp_path)
    assert [s.stem for s in samples] == ["col", "idx", "sub/deep"]
    cfg = PreprocessConfig(mode="crop", crop_size=30, flip=False)
    ds = PairedDataset(samples, cfg, ls, train=False)
    # the colour-coded and the index label both hold ``ids``; each must come out as ids at its crop
    for i in range(3):
        item = ds[i]
        p = draw_params(cfg, 40, 30, np.random.default_rng([0, 0, i]), False)
        x, y = p.crop
        np.testing.assert_array_equal(item["label"][0].numpy(), ids[y:y + 30, x:x + 30])


# ----------------------------------------------------------------------------------------
# label sets
# ----------------------------------------------------------------------------------------


def test_label_set_from_dataset_json(tmp_path):
    root = make_paired(tmp_path, label_set="landscape")
    assert resolve_label_set(root).name == "landscape"
    assert resolve_label_set(root, "cityscapes").name == "cityscapes"  # explicit wins
    inline = {"name": "two", "labels": [{"id": 0, "name": "land", "color": [0, 128, 0]},
                                        {"id": 1, "name": "water", "color": [0, 0, 255]}]}
    (root / "dataset.json").write_text(json.dumps({"label_set": inline}))
    ls = resolve_label_set(root)
    assert ls.name == "two" and ls.ids == [0, 1]
    report = check_data(root)  # the maps hold 0..14: most ids are outside the 2-label set
    assert report.label_set == "two" and report.problems_of("unknown_ids")
    (root / "dataset.json").write_text("{broken")
    report = check_data(root)
    assert report.fatal and report.problems_of("dataset_json")


def test_label_set_from_json_file_next_to_data(tmp_path):
    root = make_paired(tmp_path, label_set="mine.json")
    (root / "mine.json").write_text(load_label_set("landscape").to_json().replace('"landscape"', '"mine"'))
    assert resolve_label_set(root).name == "mine"


def test_layout_defaults_and_png_chunk(tmp_path, shared):
    assert resolve_label_set(shared / "data" / "coco_stuff_sample").name == "coco_stuff"
    make_cityscapes(tmp_path / "cs")
    assert resolve_label_set(tmp_path / "cs").name == "cityscapes"
    plain = make_paired(tmp_path / "plain", label_set=None)
    assert resolve_label_set(plain) is None
    ls = load_label_set("landscape")
    write_label_map(tmp_path / "edited" / "labels" / "a.png", blocks(30, 40, np.arange(15), 5), ls)
    save_rgb(tmp_path / "edited" / "images" / "a.jpg", photo(30, 40))
    assert resolve_label_set(tmp_path / "edited").name == "landscape"


def test_allowed_ids_from_label_nc():
    assert allowed_label_ids(None) is None
    assert allowed_label_ids(None, 3) == {0, 1, 2}
    assert allowed_label_ids(None, 3, contain_dontcare_label=True) == {0, 1, 2, 3, 255}
    assert allowed_label_ids(load_label_set("coco_stuff"), 182) == set(range(183)) | {255}
    assert allowed_label_ids(None, 150, dataset_mode="ade20k") == set(range(151)) | {255}
    assert allowed_label_ids(load_label_set("landscape")) == set(range(15))


# ----------------------------------------------------------------------------------------
# check_data
# ----------------------------------------------------------------------------------------


@pytest.fixture()
def messy(tmp_path) -> Path:
    root = make_paired(tmp_path, stems=("a", "b"))
    ok_ids = blocks(30, 40, np.arange(15), 5, seed=7)
    save_rgb(root / "images" / "c.jpg", photo(30, 40))  # image without label
    save_gray(root / "labels" / "d.png", ok_ids)  # label without image
    save_gray(root / "instances" / "e.png", ok_ids)  # instance without pair
    (root / "images" / "f.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage, not an image")  # unreadable
    save_gray(root / "labels" / "f.png", ok_ids)
    save_rgb(root / "images" / "g.jpg", photo(30, 30))  # size mismatch 30x30 vs 40x30
    save_gray(root / "labels" / "g.png", ok_ids)
    bad_ids = ok_ids.copy()
    bad_ids[:5, :5] = 200
    save_rgb(root / "images" / "h.jpg", photo(30, 40))  # id 200 is not in landscape
    save_gray(root / "labels" / "h.png", bad_ids)
    save_rgb(root / "images" / "i.jpg", photo(30, 40))  # colour label, decodable
    save_rgb(root / "labels" / "i.png", landscape_rgb(ok_ids))
    col = landscape_rgb(ok_ids)
    col[0, 0] = (1, 2, 3)
    save_rgb(root / "images" / "j.jpg", photo(30, 40))  # colour label with an unknown colour
    save_rgb(root / "labels" / "j.png", col)
    save_rgb(root / "images" / "k.jpg", photo(30, 40))  # instance map of the wrong size
    save_gray(root / "labels" / "k.png", ok_ids)
    save_gray(root / "instances" / "k.png", ok_ids[:20])
    return root


def test_check_data_reports_every_problem(messy):
    r = check_data(messy)
    kinds = {(p.kind, p.file) for p in r.problems}
    assert ("unmatched_image", "images/c.jpg") in kinds
    assert ("unmatched_label", "labels/d.png") in kinds
    assert ("unmatched_instance", "instances/e.png") in kinds
    assert ("unreadable", "images/f.png") in kinds
    assert ("size_mismatch", "images/g.jpg") in kinds
    assert ("size_mismatch", "instances/k.png") in kinds
    assert ("unknown_ids", "labels/h.png") in kinds
    assert ("unmappable_colors", "labels/j.png") in kinds
    mismatch = next(p for p in r.problems if p.kind == "size_mismatch" and p.file == "images/g.jpg")
    assert "30x30" in mismatch.message and "40x30" in mismatch.message
    assert "(1, 2, 3)" in next(p for p in r.problems if p.kind == "unmappable_colors").message
    unknown = next(p for p in r.problems if p.kind == "unknown_ids")
    assert "200" in unknown.message and "25 px" in unknown.message and "h.png" in unknown.message

    assert not r.fatal
    assert r.pairs == 8 and r.checked == 8
    assert sorted(r.bad_files) == ["f", "g", "h", "j", "k"]
    assert r.usable == 3  # a, b and the decodable colour label i
    assert r.instances == 1
    st200 = next(st for st in r.ids if st.id == 200)
    assert st200.allowed is False and st200.pixels == 25 and st200.files == 1
    assert next(st for st in r.ids if st.id == 0).allowed is True

    text = r.to_text()
    for p in r.problems:
        assert p.file in text
    assert "training cannot start" not in text
    d = json.loads(json.dumps(r.to_dict()))
    assert d["fatal"] is False and len(d["problems"]) == len(r.problems)


def test_unknown_ids_list_a_few_files(tmp_path):
    root = make_paired(tmp_path, stems=("a",))
    for n in range(6):
        save_rgb(root / "images" / f"x{n}.jpg", photo(30, 40))
        save_gray(root / "labels" / f"x{n}.png", np.full((30, 40), 99, np.uint8))
    r = check_data(root)
    probs = r.problems_of("unknown_ids")
    assert len(probs) == 1  # one entry per id
    msg = probs[0].message
    assert "6 file(s)" in msg and "x0.png" in msg and "3 more" in msg and "x5.png" not in msg
    assert not r.fatal and r.usable == 1


def test_no_pairs_is_fatal(tmp_path):
    save_rgb(tmp_path / "images" / "a.jpg", photo(30, 40))
    r = check_data(tmp_path, label_set="landscape")
    assert r.fatal and r.problems_of("no_pairs") and r.problems_of("unmatched_image")
    assert "training cannot start" in r.to_text()


def test_all_pairs_bad_is_fatal(tmp_path):
    root = make_paired(tmp_path, stems=("a", "b"))
    for stem in ("a", "b"):
        save_gray(root / "labels" / f"{stem}.png", np.full((30, 40), 50, np.uint8))
    r = check_data(root)
    assert r.fatal and r.problems_of("no_usable_pairs") and r.usable == 0


def test_no_label_set_is_fatal_but_ids_are_listed(tmp_path):
    root = make_paired(tmp_path, label_set=None)
    r = check_data(root)
    assert r.fatal and r.problems_of("label_set")
    assert {st.id for st in r.ids} == set(range(15))
    r2 = check_data(root, label_nc=15)
    assert not r2.fatal and r2.usable == 2


def test_colour_labels_without_label_set(tmp_path):
    save_rgb(tmp_path / "images" / "a.jpg", photo(30, 40))
    save_rgb(tmp_path / "labels" / "a.png", landscape_rgb(blocks(30, 40, np.arange(15), 5)))
    r = check_data(tmp_path, label_nc=15)
    assert r.problems_of("needs_label_set") and r.fatal
    assert not check_data(tmp_path, label_set="landscape").fatal


def test_label_nc_instead_of_label_set(tmp_path, shared):
    root = make_paired(tmp_path, label_set=None)
    lab = blocks(30, 40, np.arange(6), 5)
    lab[0, 0] = 255
    save_gray(root / "labels" / "a.png", lab)
    r = check_data(root, label_nc=6)  # paired, no label set: 255 is not a dontcare here
    assert "a" in r.bad_files and any("255" in p.message for p in r.problems_of("unknown_ids"))
    assert "a" not in check_data(root, label_nc=15, contain_dontcare_label=True).bad_files

    coco = shared / "data" / "coco_stuff_sample"
    assert check_data(coco, label_nc=182).usable == 13  # 255 allowed: COCO has a dontcare channel
    r = check_data(coco, label_nc=100)
    assert not r.fatal and r.bad_files and "000000184101" not in r.bad_files  # holds only 78 and 255


def test_max_files(shared):
    r = check_data(shared / "data" / "coco_stuff_sample", max_files=3)
    assert r.pairs == 13 and r.checked == 3 and r.usable == 3
    assert "(of 13)" in r.to_text()


# ----------------------------------------------------------------------------------------
# PairedDataset
# ----------------------------------------------------------------------------------------


def test_dataset_skips_bad_files(messy):
    samples = find_samples(messy)
    ls = load_label_set("landscape")
    cfg = PreprocessConfig(mode="crop", crop_size=24)
    ds = PairedDataset(samples, cfg, ls, train=True, use_instance=True, allowed_ids=allowed_label_ids(ls))
    items = {s.stem: ds[i] for i, s in enumerate(samples)}
    assert {k for k, v in items.items() if v is None} == {"f", "g", "h", "j", "k"}
    good = items["a"]
    assert good["stem"] == "a" and good["index"] == 0
    assert good["label"].dtype == torch.int64 and tuple(good["label"].shape) == (1, 24, 24)
    assert good["image"].dtype == torch.float32 and float(good["image"].abs().max()) <= 1.0
    assert good["instance"].dtype == torch.int64 and tuple(good["instance"].shape) == (1, 24, 24)
    assert ds.skipped == 5
    # without allowed_ids, the file with id 200 is readable and kept
    assert PairedDataset(samples, cfg, ls, train=True)[[s.stem for s in samples].index("h")] is not None

    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate_skip_none)
    seen, skipped = [], 0
    for batch, n_skipped in loader:
        skipped += n_skipped
        if batch is not None:
            assert batch["label"].shape[1:] == (1, 24, 24) and batch["image"].shape[1:] == (3, 24, 24)
            assert batch["index"].dtype == torch.int64 and len(batch["stem"]) == batch["label"].shape[0]
            seen += batch["stem"]
    assert skipped == 5 and sorted(seen) == ["a", "b", "i"]


def test_collate_all_none():
    assert collate_skip_none([None, None]) == (None, 2)


def test_derived_instances_follow_label_regions(tmp_path):
    root = make_paired(tmp_path, stems=("a",))
    ds = PairedDataset(find_samples(root), PreprocessConfig(mode="crop", crop_size=20, flip=False),
                       load_label_set("landscape"), train=True, use_instance=True)
    item = ds[0]
    lab, inst = item["label"][0].numpy(), item["instance"][0].numpy()
    # equal instance => equal label; label borders are instance borders
    assert all(len(np.unique(lab[inst == k])) == 1 for k in np.unique(inst))
    assert ((lab[:, 1:] != lab[:, :-1]) <= (inst[:, 1:] != inst[:, :-1])).all()


def test_augmentation_reproducible_per_seed_epoch_index(shared):
    samples = find_samples(shared / "data" / "coco_stuff_sample")[:3]
    ls = load_label_set("coco_stuff")
    cfg = PreprocessConfig(load_size=143, crop_size=128)

    def run(seed, epoch):
        ds = PairedDataset(samples, cfg, ls, train=True, seed=seed)
        ds.set_epoch(epoch)
        return [ds[i] for i in range(len(ds))]

    first, again = run(7, 3), run(7, 3)
    for x, y in zip(first, again):
        assert torch.equal(x["label"], y["label"]) and torch.equal(x["image"], y["image"])
    other_epoch, other_seed = run(7, 4), run(8, 3)
    assert any(not torch.equal(x["label"], y["label"]) for x, y in zip(first, other_epoch))
    assert any(not torch.equal(x["label"], y["label"]) for x, y in zip(first, other_seed))

    # the draw for item i of epoch e is np.random.default_rng([seed, e, i]), independent of order
    i = 2
    raw = np.asarray(Image.open(samples[i].label))
    p = draw_params(cfg, raw.shape[1], raw.shape[0], np.random.default_rng([7, 3, i]), True)
    np.testing.assert_array_equal(first[i]["label"][0].numpy(), apply_to_label(raw, p))


def test_a_large_generated_dataset_json_is_read(tmp_path):
    """make-landscapes describes every scene in dataset.json: 6,000 scenes are about 3 MB."""
    import json

    from trainer.layouts import MAX_DATASET_JSON_BYTES, _read_dataset_json

    scenes = {f"scene_{i:05d}": {"time": "day", "season": "summer", "weather": "clear", "seed": i,
                                 "classes": {str(k): 0.01 * k for k in range(15)}} for i in range(6000)}
    (tmp_path / "dataset.json").write_text(json.dumps({"label_set": "landscape", "scenes": scenes}, indent=1))
    assert (tmp_path / "dataset.json").stat().st_size > 2 << 20
    assert len(_read_dataset_json(tmp_path)["scenes"]) == 6000
    (tmp_path / "dataset.json").write_bytes(b" " * (MAX_DATASET_JSON_BYTES + 1))
    with pytest.raises(DatasetError, match="too large"):
        _read_dataset_json(tmp_path)
