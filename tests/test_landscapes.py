"""Tests of the procedural landscape generator (trainer/landscapes/)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from trainer.landscapes import (  # noqa: E402
    LANDSCAPE_CLASSES,
    make_landscapes,
    render_scene,
    scene_seed,
)

SKY, CLOUD, MOUNTAIN, HILL, ROCK, SNOW, GRASS, TREE, BUSH, FLOWER = range(10)
SEA, RIVER, SAND, DIRT, FOG = range(10, 15)


@pytest.fixture(scope="module")
def batch96():
    """60 scenes at 96 px, shared by the statistics tests."""
    return [render_scene(1000 + i, 96) for i in range(60)]


def _lum(rgb):
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def test_class_names_match_palette():
    assert len(LANDSCAPE_CLASSES) == 15
    with open(os.path.join(ROOT, "resources", "palettes", "landscape.json"), encoding="utf-8") as f:
        pal = json.load(f)
    names = [lab["name"] for lab in sorted(pal["labels"], key=lambda d: d["id"])]
    assert tuple(names) == LANDSCAPE_CLASSES


def test_shapes_dtypes_and_info():
    rgb, lab, info = render_scene(3, 64)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert lab.shape == (64, 64) and lab.dtype == np.uint8
    assert int(lab.max()) < len(LANDSCAPE_CLASSES)
    assert json.loads(json.dumps(info)) == info  # plain JSON-able
    for key in ("time", "season", "weather", "water"):
        assert isinstance(info[key], str)


@pytest.mark.parametrize("aspect,width", [(1.5, 96), (0.75, 48), (16 / 9, 114)])
def test_aspect_sets_width(aspect, width):
    rgb, lab, _ = render_scene(11, 64, aspect=aspect)
    assert rgb.shape == (64, width, 3)
    assert lab.shape == (64, width)


def test_deterministic_and_seed_dependent():
    a = render_scene(42, 80)
    b = render_scene(42, 80)
    assert a[0].tobytes() == b[0].tobytes()
    assert a[1].tobytes() == b[1].tobytes()
    assert a[2] == b[2]
    c = render_scene(43, 80)
    assert a[0].tobytes() != c[0].tobytes()
    assert a[1].tobytes() != c[1].tobytes()


def test_scene_kind_independent_of_size():
    # decisions come from their own stream: the same seed describes the same scene at any size
    for s in (5, 6, 7):
        i64 = render_scene(s, 64)[2]
        i128 = render_scene(s, 128)[2]
        for key in ("time", "season", "weather", "water", "mountains", "hills"):
            assert i64[key] == i128[key]


def test_all_classes_appear(batch96):
    present = np.zeros(len(LANDSCAPE_CLASSES), int)
    for _, lab, _ in batch96:
        assert lab.dtype == np.uint8 and int(lab.max()) <= 14
        present += np.bincount(lab.ravel(), minlength=15)[:15] > 0
    missing = [LANDSCAPE_CLASSES[i] for i in range(15) if present[i] < 2]
    assert not missing, f"classes (almost) never drawn: {missing}; counts {present.tolist()}"
    # the sky is visible in nearly every scene, ground classes dominate the bottom rows
    assert present[SKY] >= 55


def test_looks_vary(batch96):
    means = np.array([rgb.reshape(-1, 3).mean(0) for rgb, _, _ in batch96])
    brightness = _lum(means)
    assert brightness.std() > 18.0, brightness.std()
    # the colour balance (not only the brightness) varies: blue/red ratio of the sky
    ratios = []
    for rgb, lab, _ in batch96:
        m = lab == SKY
        if m.sum() > 50:
            c = rgb[m].astype(np.float64).mean(0) + 1.0
            ratios.append(c[2] / c[0])
    assert np.std(np.log(ratios)) > 0.25
    kinds = {(i["time"], i["season"], i["weather"]) for _, _, i in batch96}
    assert len(kinds) > 25
    for key, n in (("time", 4), ("season", 4), ("weather", 4)):
        assert len({i[key] for _, _, i in batch96}) >= n


def test_night_darker_than_day():
    day, night = [], []
    s = 2000
    while (len(day) < 6 or len(night) < 6) and s < 2400:
        rgb, _, info = render_scene(s, 64)
        if info["time"] == "day" and len(day) < 6:
            day.append(_lum(rgb.astype(np.float64)).mean())
        elif info["time"] == "night" and len(night) < 6:
            night.append(_lum(rgb.astype(np.float64)).mean())
        s += 1
    assert len(day) == 6 and len(night) == 6
    assert np.mean(night) < 0.55 * np.mean(day), (np.mean(night), np.mean(day))
    assert max(night) < min(day)


def test_class_appearance_consistent(batch96):
    """Per-class colours must follow the label map (the labels say what is visible)."""
    acc = {k: [] for k in range(15)}
    for rgb, lab, info in batch96:
        if info["time"] not in ("day", "golden_hour"):
            continue
        f = rgb.astype(np.float64)
        for k in range(15):
            m = lab == k
            if m.sum() >= 20:
                acc[k].append(f[m].mean(0))
    mean = {k: np.mean(v, 0) for k, v in acc.items() if len(v) >= 2}
    lum = {k: float(_lum(v)) for k, v in mean.items()}
    assert lum[SNOW] > lum[GRASS] + 40
    assert lum[GRASS] > lum[TREE] + 15
    assert lum[SAND] > lum[DIRT] + 30
    g = mean[GRASS]
    assert g[1] > g[2]  # grass is not blue
    s = mean[SEA]
    assert s[2] > s[0]  # sea is blue-ish
    sky = mean[SKY]
    assert sky[2] > sky[0]


def test_label_edges_follow_image(batch96):
    """Where the label changes between sky and ground-ish classes the image changes too."""
    diffs_edge, diffs_flat = [], []
    for rgb, lab, _ in batch96[:20]:
        f = rgb.astype(np.float64)
        dl = lab[1:] != lab[:-1]
        di = np.abs(f[1:] - f[:-1]).sum(-1)
        if dl.any():
            diffs_edge.append(di[dl].mean())
            diffs_flat.append(di[~dl].mean())
    assert np.mean(diffs_edge) > 1.5 * np.mean(diffs_flat)


def _read_tree(root):
    out = {}
    for sub in ("images", "labels"):
        for name in sorted(os.listdir(os.path.join(root, sub))):
            with open(os.path.join(root, sub, name), "rb") as f:
                out[f"{sub}/{name}"] = f.read()
    return out


def test_make_landscapes_layout_and_workers(tmp_path):
    progress = []
    d1 = tmp_path / "w1"
    summary = make_landscapes(d1, 5, size=64, seed=7, aspect=1.25,
                              on_progress=lambda i, n: progress.append((i, n)))
    assert progress[-1] == (5, 5) and len(progress) == 5
    files = _read_tree(d1)
    stems = [f"scene_{i:06d}" for i in range(5)]
    assert sorted(files) == sorted([f"images/{s}.png" for s in stems]
                                   + [f"labels/{s}.png" for s in stems])
    assert not [n for n in os.listdir(d1) if n.startswith(".tmp")]
    with open(d1 / "dataset.json", encoding="utf-8") as f:
        meta = json.load(f)
    assert meta["format"] == "spade-studio-dataset/1"
    assert meta["label_set"] == "landscape"
    assert meta["count"] == 5 and meta["size"] == 64 and meta["seed"] == 7
    assert meta["aspect"] == 1.25
    assert meta["generator"] == "spade_studio procedural landscapes v1"
    assert sorted(meta["scenes"]) == stems
    for s in stems:
        im = Image.open(d1 / "images" / f"{s}.png")
        lb = Image.open(d1 / "labels" / f"{s}.png")
        assert im.mode == "RGB" and im.size == (80, 64)
        assert lb.mode == "L" and lb.size == (80, 64)
        assert int(np.asarray(lb).max()) <= 14
    # the files hold exactly render_scene(scene_seed(seed, i)) output
    rgb, lab, info = render_scene(scene_seed(7, 3), 64, aspect=1.25)
    assert np.array_equal(np.asarray(Image.open(d1 / "images" / "scene_000003.png")), rgb)
    assert np.array_equal(np.asarray(Image.open(d1 / "labels" / "scene_000003.png")), lab)
    assert meta["scenes"]["scene_000003"] == info
    # summary
    assert summary["count"] == 5
    fr = summary["class_pixel_fraction"]
    assert set(fr) == set(LANDSCAPE_CLASSES) and abs(sum(fr.values()) - 1.0) < 1e-3
    sc = summary["class_scene_count"]
    assert sc["sky"] >= 4 and max(sc.values()) <= 5

    # two workers produce identical files
    d2 = tmp_path / "w2"
    make_landscapes(d2, 5, size=64, seed=7, aspect=1.25, workers=2)
    assert _read_tree(d2) == files
    with open(d2 / "dataset.json", encoding="utf-8") as f:
        assert json.load(f) == meta

    # re-running into a populated folder overwrites; another seed gives other scenes
    make_landscapes(d1, 5, size=64, seed=8, aspect=1.25)
    assert _read_tree(d1) != files
    with open(d1 / "dataset.json", encoding="utf-8") as f:
        assert json.load(f)["seed"] == 8


def test_scene_seeds_distinct():
    seeds = {scene_seed(0, i) for i in range(200)} | {scene_seed(1, i) for i in range(200)}
    assert len(seeds) == 400


def test_invalid_arguments():
    with pytest.raises(ValueError):
        render_scene(-1, 64)
    with pytest.raises(ValueError):
        render_scene(1, 4)


# sha256 of rgb bytes + label bytes + sorted-key info JSON of render_scene(seed, 80), measured on the
# single-module generator before it was split into trainer/landscapes/: the split changed no pixel
PIXEL_HASHES = {
    5000: "8aa9e2683c69a90797a7769086f87fa563f93ff6fb5abaf4d3ff595a14985ea4",
    5001: "5cd74d02427d295c377d58a177f829c1da35aa4a22fad3dd39ab71f7c0a3221b",
    5002: "06ea06a96e5324f687fd9b18a283a39cd05da45be1c3f75546717e919be66c80",
    5003: "662ac736a132fbd9b2ea1c583bd4d3b1f3a644e2412500fcb3a6bd402fe50de3",
    5004: "34d364b804031cd21f58c0cdc50b87db59c5a521d9de0cd4e2da5f33e72b8a43",
    5005: "51cf1279840e4aba7951856abce6b076c07f4723fd91a9f875e51326ec21b7a1",
}


def test_pixels_unchanged_since_the_split():
    import hashlib

    for seed, want in PIXEL_HASHES.items():
        rgb, lab, info = render_scene(seed, 80)
        got = hashlib.sha256(rgb.tobytes() + lab.tobytes() + json.dumps(info, sort_keys=True).encode()).hexdigest()
        assert got == want, seed
