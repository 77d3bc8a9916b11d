"""Layered projects: flattening label layers, OpenRaster save/load, PSD export, CLI."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spade_studio import project as pj
from spade_studio import project_archive as pa
from spade_studio.cli import main as cli_main
from spade_studio.labelmap import flatten_layers
from spade_studio.labels import Label, LabelSet, load_label_set, voc_color
from spade_studio.project import Project, ProjectError, ProjectLayer, export_psd, load_ora, save_ora

# -- flatten_layers ---------------------------------------------------------------------


def test_flatten_layers_top_masked_label_wins():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 5, (6, 7)).astype(np.uint8)
    mid = np.full((6, 7), 7, np.uint8)
    mid_mask = np.zeros((6, 7), bool)
    mid_mask[1:4, 1:5] = True
    top = np.full((6, 7), 9, np.uint8)
    top_mask = np.zeros((6, 7), bool)
    top_mask[2:6, 3:7] = True
    out = flatten_layers([(base, None), (mid, mid_mask), (top, top_mask)])
    # Pixel by pixel: the topmost layer whose mask is set, else the bottom layer.
    for y in range(6):
        for x in range(7):
            want = 9 if top_mask[y, x] else 7 if mid_mask[y, x] else base[y, x]
            assert out[y, x] == want, (y, x)
    assert out.dtype == np.uint8
    assert not np.shares_memory(out, base)
    # A full top layer (mask None) covers everything.
    assert (flatten_layers([(base, None), (top, None)]) == 9).all()
    # uint16 stacks stay uint16.
    out16 = flatten_layers([(base.astype(np.uint16) + 1000, np.ones((6, 7), bool))])
    assert out16.dtype == np.uint16 and (out16 == base.astype(np.uint16) + 1000).all()


def test_flatten_layers_clear_errors():
    base = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="at least one"):
        flatten_layers([])
    with pytest.raises(ValueError, match="layer 1.*4x4"):
        flatten_layers([(base, None), (np.zeros((4, 5), np.uint8), None)])
    with pytest.raises(TypeError, match="layer 1.*uint16"):
        flatten_layers([(base, None), (np.zeros((4, 4), np.uint16), None)])
    with pytest.raises(TypeError, match="layer 0.*2-D"):
        flatten_layers([(np.zeros((4, 4), np.int32), None)])
    with pytest.raises(TypeError, match="layer 1: mask"):
        flatten_layers([(base, None), (base, np.ones((4, 4), np.uint8))])
    with pytest.raises(ValueError, match="layer 1: mask"):
        flatten_layers([(base, None), (base, np.ones((3, 4), bool))])
    hole = np.ones((4, 4), bool)
    hole[0, 0] = False
    with pytest.raises(ValueError, match="bottom layer"):
        flatten_layers([(base, hole)])


# -- projects: helpers --------------------------------------------------------------------

H, W = 48, 64


@pytest.fixture(scope="module")
def landscape() -> LabelSet:
    return load_label_set("landscape")


def make_project(ls: LabelSet) -> Project:
    rng = np.random.default_rng(1)
    ids = np.asarray(ls.ids)
    base = rng.choice(ids[:4], (H, W)).astype(np.uint8)
    mid = np.full((H, W), ids[5], np.uint8)
    mid_mask = np.zeros((H, W), bool)
    mid_mask[5:30, 10:50] = True
    top = rng.choice(ids[6:9], (H, W)).astype(np.uint8)
    top_mask = np.zeros((H, W), bool)
    top_mask[20:45, 30:60] = True
    render = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    reference = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    style_photo = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    styles = {"global": {"kind": "image", "key": "beach", "seed": 7},
              "regions": [{"target": {"label": int(ids[5])}, "style": {"kind": "preset", "name": "sunset"}}]}
    return Project(ls, [ProjectLayer("ground", base),
                        ProjectLayer("water", mid, mid_mask, visible=False, opacity=0.4),
                        ProjectLayer("trees", top, top_mask, opacity=0.75, locked=True)],
                   render=render, reference=reference, styles=styles, style_images={"beach": style_photo})


def rewrite(src: Path, dst: Path, replace: dict | None = None, first: str | None = None) -> Path:
    """A copy of the zip ``src`` with entries replaced (bytes) or removed (None)."""
    replace = replace or {}
    with zipfile.ZipFile(src) as z:
        items = [(i.filename, z.read(i)) for i in z.infolist()]
    items = [(n, replace.get(n, d)) for n, d in items if not (n in replace and replace[n] is None)]
    for n, d in replace.items():
        if d is not None and n not in dict(items):
            items.append((n, d))
    if first is not None:
        items.sort(key=lambda it: it[0] != first)
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in items:
            z.writestr(n, d, compress_type=zipfile.ZIP_STORED if n == "mimetype" else zipfile.ZIP_DEFLATED)
    return dst


def png_bytes(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


# -- projects: round trip ---------------------------------------------------------------------


def test_ora_round_trip_is_exact(tmp_path, landscape):
    p = make_project(landscape)
    out = save_ora(tmp_path / "work.ora", p)
    q = load_ora(out)
    assert q.label_set.to_dict() == landscape.to_dict()
    assert [ly.name for ly in q.layers] == ["ground", "water", "trees"]
    for a, b in zip(p.layers, q.layers):
        assert b.ids.dtype == a.ids.dtype and (b.ids == a.ids).all()
        assert (a.mask is None) == (b.mask is None)
        if a.mask is not None:
            assert (a.mask == b.mask).all()
        assert (b.visible, b.opacity, b.locked) == (a.visible, a.opacity, a.locked)
    assert (q.render == p.render).all() and (q.reference == p.reference).all()
    assert q.styles == p.styles
    assert set(q.style_images) == {"beach"} and (q.style_images["beach"] == p.style_images["beach"]).all()
    # the flattened map: hidden "water" left out, "trees" on top
    want = p.layers[0].ids.copy()
    want[p.layers[2].mask] = p.layers[2].ids[p.layers[2].mask]
    assert (q.flattened() == want).all()


def test_ora_is_valid_openraster(tmp_path, landscape):
    p = make_project(landscape)
    out = save_ora(tmp_path / "work.ora", p)
    with zipfile.ZipFile(out) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        with open(out, "rb") as f:  # readers sniff the mimetype at a fixed offset
            assert f.read(54)[30:54] == b"mimetypeimage/openraster"
        import xml.etree.ElementTree as ET

        root = ET.fromstring(z.read("stack.xml"))
        assert (root.get("w"), root.get("h")) == (str(W), str(H))
        layers = root.find("stack").findall("layer")
        names = [ly.get("name") for ly in layers]
        assert names == ["render", "trees", "water", "ground", "reference photo"]  # top first
        by = {ly.get("name"): ly for ly in layers}
        assert by["water"].get("visibility") == "hidden" and float(by["water"].get("opacity")) == pytest.approx(0.4)
        assert by["reference photo"].get("visibility") == "hidden"
        assert by["trees"].get("edit-locked") == "true"
        # a label layer shows its palette colours, alpha = mask
        trees = np.array(Image.open(io.BytesIO(z.read(by["trees"].get("src")))))
        assert trees.shape == (H, W, 4)
        m = p.layers[2].mask
        assert (trees[..., 3] == np.where(m, 255, 0)).all()
        assert (trees[m][:, :3] == landscape.colorize(p.layers[2].ids)[m]).all()
        merged = Image.open(io.BytesIO(z.read("mergedimage.png")))
        assert merged.size == (W, H)
        # the render is visible and opaque on top: the merged image is the render
        assert (np.array(merged.convert("RGB")) == p.render).all()
        assert max(Image.open(io.BytesIO(z.read("Thumbnails/thumbnail.png"))).size) <= 256


def test_thumbnail_is_at_most_256(tmp_path, landscape):
    ids = np.zeros((300, 600), np.uint8)
    out = save_ora(tmp_path / "big.ora", pj.project_from_map(ids, landscape))
    with zipfile.ZipFile(out) as z:
        assert Image.open(io.BytesIO(z.read("Thumbnails/thumbnail.png"))).size == (256, 128)
        # no render: the merged image is the label colours
        merged = np.array(Image.open(io.BytesIO(z.read("mergedimage.png"))).convert("RGB"))
        assert (merged == landscape.colorize(ids)).all()


def test_16bit_round_trip(tmp_path):
    ls = LabelSet("many", tuple(Label(i, f"l{i}", voc_color(i + 1)) for i in range(3000)))
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 3000, (H, W)).astype(np.uint16)
    small = np.full((H, W), 7, np.uint16)  # ids < 256 in a uint16 stack stay uint16
    mask = rng.random((H, W)) > 0.5
    p = Project(ls, [ProjectLayer("a", ids), ProjectLayer("b", small, mask)])
    q = load_ora(save_ora(tmp_path / "many.ora", p))
    assert q.layers[0].ids.dtype == np.uint16 and (q.layers[0].ids == ids).all()
    assert q.layers[1].ids.dtype == np.uint16 and (q.layers[1].ids == small).all()
    assert (q.layers[1].mask == mask).all()


# -- projects: files from other programs -------------------------------------------------------


def krita_like(path: Path, ls: LabelSet, extra_xml: str = "") -> tuple[Path, np.ndarray, np.ndarray]:
    """A minimal OpenRaster file as Krita writes one: no spade-studio folder, a layer cropped
    to its bounds with an offset, a group, a photo layer named 'reference photo'."""
    c = {lab.id: lab.color for lab in ls}
    ids = np.asarray(ls.ids)
    bottom = np.zeros((H, W, 4), np.uint8)
    bottom[..., :3] = c[int(ids[0])]
    bottom[H // 2 :, :, :3] = c[int(ids[1])]
    bottom[..., 3] = 255
    patch = np.zeros((10, 12, 4), np.uint8)
    patch[..., :3] = c[int(ids[4])]
    patch[..., 3] = 255
    patch[0, 0, 3] = 0  # one transparent pixel: not part of the layer
    photo = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<image w="{W}" h="{H}" version="0.0.1">
 <stack>
  {extra_xml}
  <stack name="group" x="0" y="0">
   <layer name="rocks" src="data/layer2.png" x="20" y="5" opacity="0.5" visibility="visible"/>
  </stack>
  <layer name="Background" src="data/layer1.png" x="0" y="0" visibility="visible"/>
  <layer name="reference photo" src="data/layer0.png" visibility="hidden"/>
 </stack>
</image>"""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), b"image/openraster")
        z.writestr("stack.xml", xml)
        z.writestr("data/layer0.png", png_bytes(photo))
        z.writestr("data/layer1.png", png_bytes(bottom))
        z.writestr("data/layer2.png", png_bytes(patch))
        z.writestr("mergedimage.png", png_bytes(bottom))
    want_bottom = np.where(np.arange(H)[:, None] >= H // 2, ids[1], ids[0]) * np.ones((1, W), np.int64)
    return path, want_bottom, photo


def test_foreign_ora_opens_through_a_label_set(tmp_path, landscape):
    path, want_bottom, photo = krita_like(tmp_path / "krita.ora", landscape)
    p = load_ora(path, landscape)
    assert [ly.name for ly in p.layers] == ["Background", "rocks"]
    assert p.layers[0].mask is None and (p.layers[0].ids == want_bottom).all()
    rocks = p.layers[1]
    want_mask = np.zeros((H, W), bool)
    want_mask[5:15, 20:32] = True
    want_mask[5, 20] = False
    assert (rocks.mask == want_mask).all()
    assert (rocks.ids[want_mask] == landscape.ids[4]).all()
    assert rocks.opacity == pytest.approx(0.5)
    assert (p.reference == photo).all() and p.render is None
    flat = p.flattened()
    assert flat[10, 25] == landscape.ids[4] and flat[5, 20] == want_bottom[5, 20]
    # and it saves as one of ours
    q = load_ora(save_ora(tmp_path / "ours.ora", p))
    assert (q.flattened() == flat).all()


def test_a_file_resaved_by_krita_opens_exactly(landscape):
    """tests/data/krita_resaved.ora: make_project() saved here, re-saved by Krita 5.1.5."""
    want = make_project(landscape)
    got = load_ora(Path(__file__).parent / "data" / "krita_resaved.ora", landscape)
    assert [ly.name for ly in got.layers] == ["ground", "water", "trees"]
    for a, b in zip(want.layers, got.layers):
        m = np.ones((H, W), bool) if a.mask is None else a.mask
        assert (b.mask is None) == (a.mask is None) and (m if b.mask is None else b.mask == m).all(), a.name
        assert (b.ids[m] == a.ids[m]).all(), a.name
        assert (b.visible, b.locked) == (a.visible, a.locked)
        assert b.opacity == pytest.approx(a.opacity, abs=1 / 255)  # Krita keeps 8 bits
    assert (got.flattened() == want.flattened()).all()
    assert (got.render == want.render).all() and (got.reference == want.reference).all()
    assert got.styles == {}  # Krita does not keep our folder: the styles are gone, the pixels are not


def test_foreign_ora_needs_a_label_set_and_matching_colours(tmp_path, landscape):
    path, _, _ = krita_like(tmp_path / "krita.ora", landscape)
    with pytest.raises(ProjectError, match="krita.ora.*no SPADE Studio data.*label set"):
        load_ora(path)
    other = LabelSet("other", (Label(0, "a", (1, 2, 3)), Label(1, "b", (4, 5, 6))))
    with pytest.raises(ProjectError, match=r"krita\.ora: data/layer1\.png \(layer 'Background'\).*match"):
        load_ora(path, other)


# -- projects: damaged and hostile files -----------------------------------------------------------


@pytest.fixture
def good(tmp_path, landscape) -> Path:
    return save_ora(tmp_path / "good.ora", make_project(landscape))


def meta_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("spade-studio/project.json"))


def with_meta(good: Path, dst: Path, **changes) -> Path:
    meta = meta_of(good)
    meta.update(changes)
    return rewrite(good, dst, {"spade-studio/project.json": json.dumps(meta).encode()})


def fake_png_header(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (a decompression bomb's header) with hardly any data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_not_a_zip_truncated_empty(tmp_path, good):
    junk = tmp_path / "junk.ora"
    junk.write_bytes(b"hello, not a zip" * 10)
    with pytest.raises(ProjectError, match="junk.ora: not an OpenRaster file.*zip"):
        load_ora(junk)
    cut = tmp_path / "cut.ora"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ProjectError, match="cut.ora"):
        load_ora(cut)
    empty = tmp_path / "empty.ora"
    empty.write_bytes(b"")
    with pytest.raises(ProjectError, match="empty.ora: empty file"):
        load_ora(empty)
    with pytest.raises(ProjectError, match="missing.ora: no such file"):
        load_ora(tmp_path / "missing.ora")
    with pytest.raises(ProjectError, match="a folder"):
        load_ora(tmp_path)
    fifo = tmp_path / "pipe.ora"
    os.mkfifo(fifo)
    with pytest.raises(ProjectError, match="pipe.ora: a FIFO"):
        load_ora(fifo)


def test_damaged_entry_is_named(tmp_path, good):
    # flip bytes inside the (deflated) project.json: CRC or zlib error, named
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("spade-studio/project.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 5, start + 25):
        data[i] ^= 0x5A
    bad = tmp_path / "flipped.ora"
    bad.write_bytes(bytes(data))
    with pytest.raises(ProjectError, match=r"flipped\.ora: spade-studio/project\.json"):
        load_ora(bad)


def test_wrong_or_misplaced_mimetype(tmp_path, good):
    with pytest.raises(ProjectError, match="w1.ora: mimetype is b'image/png'"):
        load_ora(rewrite(good, tmp_path / "w1.ora", {"mimetype": b"image/png"}))
    with pytest.raises(ProjectError, match="w2.ora: not an OpenRaster file .the first entry is 'stack.xml'"):
        load_ora(rewrite(good, tmp_path / "w2.ora", first="stack.xml"))
    with pytest.raises(ProjectError, match="w3.ora: not an OpenRaster file"):
        load_ora(rewrite(good, tmp_path / "w3.ora", {"mimetype": None}))


def test_missing_entries(tmp_path, good):
    with pytest.raises(ProjectError, match="m1.ora: entry 'spade-studio/ids/layer001.png' is missing"):
        load_ora(rewrite(good, tmp_path / "m1.ora", {"spade-studio/ids/layer001.png": None}))
    with pytest.raises(ProjectError, match="m2.ora: entry 'stack.xml' is missing"):
        load_ora(rewrite(good, tmp_path / "m2.ora", {"spade-studio/project.json": None, "stack.xml": None}),
                 load_label_set("landscape"))


def test_zip_bomb_refused_before_decompressing(tmp_path, good, monkeypatch):
    bomb = tmp_path / "bomb.ora"
    rewrite(good, bomb)
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("data/huge.png", b"\0" * (8 << 20))  # 8 MB of zeros: ~8 kB compressed
    meta = meta_of(good)
    meta["render"] = "data/huge.png"
    rewrite(bomb, bomb, {"spade-studio/project.json": json.dumps(meta).encode()})
    assert bomb.stat().st_size < 200_000
    monkeypatch.setattr(pa, "MAX_ENTRY_BYTES", 1 << 20)
    reads = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: reads.append(
        getattr(name, "filename", name)) or real_open(self, name, *a, **k))
    with pytest.raises(ProjectError, match=r"bomb\.ora: data/huge\.png: 8,388,608 bytes uncompressed: at most"):
        load_ora(bomb)
    assert "data/huge.png" not in reads  # refused from the declared size, never inflated


def test_png_bomb_refused_from_its_header(tmp_path, good, landscape):
    bad = rewrite(good, tmp_path / "pngbomb.ora", {"spade-studio/ids/layer000.png": fake_png_header(100000, 100000)})
    with pytest.raises(ProjectError, match=r"pngbomb\.ora: spade-studio/ids/layer000\.png: image too large"):
        load_ora(bad)  # Pillow's own bomb check
    bad = rewrite(good, tmp_path / "pngbomb2.ora", {"spade-studio/ids/layer000.png": fake_png_header(17000, 17000)})
    with pytest.raises(ProjectError, match=r"pngbomb2\.ora: spade-studio/ids/layer000\.png: image size 17000x17000"):
        load_ora(bad)  # ours (at most 16384 a side), from the header alone
    # the same in a foreign file's layer
    path, _, _ = krita_like(tmp_path / "k.ora", landscape)
    bad2 = rewrite(path, tmp_path / "k2.ora", {"data/layer2.png": fake_png_header(20000, 300)})
    with pytest.raises(ProjectError, match=r"k2\.ora: data/layer2\.png: image size 20000x300"):
        load_ora(bad2, landscape)


def test_absurd_sizes_in_the_description(tmp_path, good, landscape):
    with pytest.raises(ProjectError, match=r"s1\.ora: spade-studio/project\.json: size 100000x48"):
        load_ora(with_meta(good, tmp_path / "s1.ora", width=100000))
    path, _, _ = krita_like(tmp_path / "k.ora", landscape)
    with zipfile.ZipFile(path) as z:
        xml = z.read("stack.xml").decode().replace(f'w="{W}"', 'w="999999999"')
    with pytest.raises(ProjectError, match=r"s2\.ora: stack\.xml: size 999999999x48"):
        load_ora(rewrite(path, tmp_path / "s2.ora", {"stack.xml": xml.encode()}), landscape)


def test_path_traversal_names_refused(tmp_path, good, landscape):
    with pytest.raises(ProjectError, match=r"t1\.ora: entry '\.\./evil\.png' has an unsafe name"):
        load_ora(rewrite(good, tmp_path / "t1.ora", {"../evil.png": b"x"}))
    with pytest.raises(ProjectError, match=r"t2\.ora: entry '/etc/x' has an unsafe name"):
        load_ora(rewrite(good, tmp_path / "t2.ora", {"/etc/x": b"x"}))
    path, _, _ = krita_like(tmp_path / "k.ora", landscape,
                            extra_xml='<layer name="evil" src="../../etc/passwd" x="0" y="0"/>')
    with pytest.raises(ProjectError, match=r"k\.ora: stack\.xml: layer src '\.\./\.\./etc/passwd' is an unsafe path"):
        load_ora(path, landscape)


def test_xml_entities_refused(tmp_path, landscape):
    path, _, _ = krita_like(tmp_path / "k.ora", landscape)
    with zipfile.ZipFile(path) as z:
        xml = z.read("stack.xml").decode()
    lol = xml.replace('<image', '<!DOCTYPE image [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<image', 1)
    with pytest.raises(ProjectError, match=r"x\.ora: stack\.xml: has a DOCTYPE"):
        load_ora(rewrite(path, tmp_path / "x.ora", {"stack.xml": lol.encode()}), landscape)
    with pytest.raises(ProjectError, match=r"y\.ora: stack\.xml: not valid XML"):
        load_ora(rewrite(path, tmp_path / "y.ora", {"stack.xml": b"<image w='3'"}), landscape)


def test_too_many_layers(tmp_path, good, landscape, monkeypatch):
    monkeypatch.setattr(pj, "MAX_LAYERS", 2)
    with pytest.raises(ProjectError, match=r"good\.ora: spade-studio/project\.json: 3 layers: at most 2"):
        load_ora(good)
    path, _, _ = krita_like(tmp_path / "k.ora", landscape)
    with pytest.raises(ProjectError, match=r"k\.ora: stack\.xml: more than 2 layers"):
        load_ora(path, landscape)
    with pytest.raises(ProjectError, match="3 layers: at most 2"):
        save_ora(tmp_path / "new.ora", make_project(landscape))
    assert not (tmp_path / "new.ora").exists()


def test_layer_of_another_size(tmp_path, good):
    other = png_bytes(np.zeros((H + 1, W), np.uint8), "L")
    with pytest.raises(ProjectError, match=r"o\.ora: spade-studio/ids/layer001\.png: image is 64x49, the project is 64x48"):
        load_ora(rewrite(good, tmp_path / "o.ora", {"spade-studio/ids/layer001.png": other}))
    with pytest.raises(ProjectError, match=r"o2\.ora: data/render\.png: image is 64x49"):
        load_ora(rewrite(good, tmp_path / "o2.ora", {"data/render.png": png_bytes(np.zeros((H + 1, W, 3), np.uint8))}))


def test_unknown_ids_and_wrong_dtype(tmp_path, good):
    ids = np.full((H, W), 200, np.uint8)  # landscape has ids 0..14
    with pytest.raises(ProjectError, match=r"u\.ora: spade-studio/ids/layer000\.png: layer 'ground' holds ids not "
                                           r"in the label set 'landscape': 200"):
        load_ora(rewrite(good, tmp_path / "u.ora", {"spade-studio/ids/layer000.png": png_bytes(ids, "L")}))
    sixteen = png_bytes(np.full((H, W), 3, np.uint16))
    with pytest.raises(ProjectError, match=r"d\.ora: spade-studio/ids/layer000\.png: 16-bit ids in a project of uint8"):
        load_ora(rewrite(good, tmp_path / "d.ora", {"spade-studio/ids/layer000.png": sixteen}))
    rgba = png_bytes(np.zeros((H, W, 4), np.uint8))
    with pytest.raises(ProjectError, match=r"r\.ora: spade-studio/ids/layer000\.png: image mode RGBA is not an id map"):
        load_ora(rewrite(good, tmp_path / "r.ora", {"spade-studio/ids/layer000.png": rgba}))
    with pytest.raises(ProjectError, match=r"t\.ora: spade-studio/project\.json: dtype 'int64'"):
        load_ora(with_meta(good, tmp_path / "t.ora", dtype="int64"))


def test_bad_json_and_future_versions(tmp_path, good):
    with pytest.raises(ProjectError, match=r"j\.ora: spade-studio/project\.json: not valid JSON"):
        load_ora(rewrite(good, tmp_path / "j.ora", {"spade-studio/project.json": b"{\"format\": "}))
    with pytest.raises(ProjectError, match=r"f\.ora: spade-studio/project\.json: made by a newer SPADE Studio.*version 99"):
        load_ora(with_meta(good, tmp_path / "f.ora", version=99))
    with pytest.raises(ProjectError, match=r"n\.ora: spade-studio/project\.json: 'layers' is missing"):
        load_ora(with_meta(good, tmp_path / "n.ora", layers="three"))
    meta = meta_of(good)
    meta["layers"][1]["opacity"] = 7
    with pytest.raises(ProjectError, match=r"p\.ora: .*layer 'water': opacity 7 is not in 0\.\.1"):
        load_ora(rewrite(good, tmp_path / "p.ora", {"spade-studio/project.json": json.dumps(meta).encode()}))
    meta = meta_of(good)
    meta["label_set"]["labels"][0]["color"] = "red"
    with pytest.raises(ProjectError, match=r"l\.ora: spade-studio/project\.json: label set: malformed"):
        load_ora(rewrite(good, tmp_path / "l.ora", {"spade-studio/project.json": json.dumps(meta).encode()}))
    deep = b"[" * 100000 + b"]" * 100000
    with pytest.raises(ProjectError, match=r"r\.ora: spade-studio/project\.json"):
        load_ora(rewrite(good, tmp_path / "r.ora", {"spade-studio/project.json": deep}))


def test_bottom_layer_with_holes(tmp_path, good):
    meta = meta_of(good)
    meta["layers"][0]["mask"] = "spade-studio/masks/layer001.png"
    with pytest.raises(ProjectError, match=r"h\.ora: spade-studio/masks/layer001\.png: the bottom layer 'ground' has"):
        load_ora(rewrite(good, tmp_path / "h.ora", {"spade-studio/project.json": json.dumps(meta).encode()}))


def test_failed_save_keeps_the_old_file(tmp_path, landscape, good):
    before = good.read_bytes()
    bad = make_project(landscape)
    bad.layers[1].ids[0, 0] = 250  # under no mask: fine
    bad.layers[0].ids[0, 0] = 250  # on the bottom layer: not in the label set
    with pytest.raises(ProjectError, match=r"good\.ora: layer 'ground' holds ids not in the label set"):
        save_ora(good, bad)
    bad.layers[0].ids[0, 0] = 0
    bad.render = np.zeros((H, W + 2, 3), np.uint8)
    with pytest.raises(ProjectError, match="the render is 66x48, the map 64x48"):
        save_ora(good, bad)
    bad.render = None
    bad.styles = {"f": object()}
    with pytest.raises(ProjectError, match="styles are not plain JSON"):
        save_ora(good, bad)
    bad.styles = {}
    bad.style_images = {"../x": np.zeros((4, 4, 3), np.uint8)}
    with pytest.raises(ProjectError, match="style image key"):
        save_ora(good, bad)
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["good.ora"]  # no temp files left


# -- PSD -------------------------------------------------------------------------------------


def test_psd_export_read_back_with_psd_tools(tmp_path, landscape):
    from psd_tools import PSDImage

    p = make_project(landscape)
    out = export_psd(tmp_path / "work.psd", p)
    psd = PSDImage.open(out)
    assert psd.size == (W, H)
    top_level = [ly.name for ly in psd]
    assert top_level == ["reference photo", "label layers", "render"]  # bottom first
    group = psd[1]
    assert group.is_group() and [ly.name for ly in group] == ["ground", "water", "trees"]
    by = {ly.name: ly for ly in psd.descendants()}
    assert by["water"].visible is False and by["water"].opacity == round(0.4 * 255)
    assert by["trees"].visible and by["trees"].opacity == round(0.75 * 255)
    assert by["reference photo"].visible is False
    for src in p.layers:
        layer = by[src.name]
        left, top, right, bottom = layer.bbox
        rgba = np.array(layer.topil().convert("RGBA"))
        full = np.zeros((H, W, 4), np.uint8)
        full[top:bottom, left:right] = rgba
        mask = np.ones((H, W), bool) if src.mask is None else src.mask
        assert (full[..., 3] == np.where(mask, 255, 0)).all(), src.name
        assert (full[mask][:, :3] == landscape.colorize(src.ids)[mask]).all(), src.name
        # colours map back to ids: the work can continue from the PSD
        assert (landscape.colors_to_ids(full[..., :3][mask][None])[0] == src.ids[mask]).all()
    assert by["trees"].bbox == (30, 20, 60, 45)  # stored cropped to its mask
    assert (np.array(by["render"].topil().convert("RGB")) == p.render).all()
    assert (np.array(by["reference photo"].topil().convert("RGB")) == p.reference).all()


def test_psd_of_a_16bit_map_with_thousands_of_labels(tmp_path):
    from psd_tools import PSDImage

    n = 3000
    distinct = LabelSet("many", tuple(Label(i, f"l{i}", voc_color(i + 1)) for i in range(n)))
    ids = np.random.default_rng(5).integers(0, n, (H, W)).astype(np.uint16)
    assert len(np.unique(ids)) > 1000
    p = pj.project_from_map(ids, distinct)
    out = export_psd(tmp_path / "many.psd", p)
    layer = next(ly for ly in PSDImage.open(out).descendants() if ly.name == "labels")
    rgb = np.array(layer.topil().convert("RGB"))
    assert (distinct.colors_to_ids(rgb) == ids).all()
    # colours shared by several labels cannot survive a PSD: refused, nothing written
    shared = LabelSet("shared", tuple(Label(i, f"l{i}", voc_color(i % 200 + 1)) for i in range(n)))
    target = tmp_path / "shared.psd"
    target.write_bytes(b"old")
    with pytest.raises(ProjectError, match=r"shared\.psd: a PSD stores colours only.*share a colour.*\.ora"):
        export_psd(target, pj.project_from_map(ids, shared))
    assert target.read_bytes() == b"old"
    # ...unless the labels the map uses have colours of their own
    few = np.where(ids % 2 == 0, 0, 1).astype(np.uint16)
    shared2 = LabelSet("shared2", shared.labels[:2] + tuple(Label(i, f"l{i}", (0, 0, 0)) for i in range(2000, 2002)))
    export_psd(target, pj.project_from_map(few, shared2))
    assert PSDImage.open(target).size == (W, H)


# -- CLI -------------------------------------------------------------------------------------


def test_cli_export_layers_ora_and_psd(tmp_path, capsys, landscape):
    from psd_tools import PSDImage

    from spade_studio.imageio import write_image, write_label_map

    ids = np.zeros((H, W), np.uint8)
    ids[10:30, 5:40] = 3
    write_label_map(tmp_path / "map.png", ids, landscape)
    photo = np.random.default_rng(2).integers(0, 256, (H // 2, W // 2, 3), dtype=np.uint8)
    write_image(tmp_path / "ref.png", photo)
    render = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    write_image(tmp_path / "render.png", render)
    rc = cli_main(["export-layers", str(tmp_path / "map.png"), "-o", str(tmp_path / "out.ora"),
                   "--render", str(tmp_path / "render.png"), "--reference", str(tmp_path / "ref.png")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "out.ora: 64x48, 1 label layer(s), render, reference" in captured.out
    assert "ref.png: 32x24 resized" in captured.err
    p = load_ora(tmp_path / "out.ora")
    assert len(p.layers) == 1 and (p.layers[0].ids == ids).all() and (p.render == render).all()
    assert p.reference.shape == (H, W, 3)
    # .ora -> .psd
    rc = cli_main(["export-layers", str(tmp_path / "out.ora"), "-o", str(tmp_path / "out.psd")])
    assert rc == 0, capsys.readouterr().err
    names = [ly.name for ly in PSDImage.open(tmp_path / "out.psd").descendants()]
    assert names == ["reference photo", "label layers", "map", "render"]
    # a folder as -o: OUT/MAP.ora
    (tmp_path / "folder").mkdir()
    assert cli_main(["export-layers", str(tmp_path / "map.png"), "-o", str(tmp_path / "folder")]) == 0
    assert load_ora(tmp_path / "folder" / "map.ora").layers[0].name == "map"


def test_cli_export_layers_bad_input(tmp_path, capsys, landscape):
    from spade_studio.imageio import write_label_map

    write_label_map(tmp_path / "map.png", np.zeros((H, W), np.uint8), landscape)
    before = (tmp_path / "map.png").read_bytes()

    def run(*argv: str) -> str:
        assert cli_main(["export-layers", *argv]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        return err

    (tmp_path / "bad.ora").write_bytes(b"PK\x03\x04 truncated")
    assert "bad.ora: not an OpenRaster file" in run(str(tmp_path / "bad.ora"), "-o", str(tmp_path / "x.psd"))
    assert "give an .ora" in run(str(tmp_path / "map.png"), "-o", str(tmp_path / "x.tif"))
    assert "give an .ora" in run(str(tmp_path / "map.png"), "-o", str(tmp_path / "map.png"))
    assert "nothing.png: no such file" in run(str(tmp_path / "nothing.png"), "-o", str(tmp_path / "x.ora"))
    good = tmp_path / "good.ora"
    assert cli_main(["export-layers", str(tmp_path / "map.png"), "-o", str(good)]) == 0
    capsys.readouterr()
    assert "is the input" in run(str(good), "-o", str(good))
    path, _, _ = krita_like(tmp_path / "krita.ora", landscape)
    assert "no SPADE Studio data" in run(str(path), "-o", str(tmp_path / "k.psd"))
    assert cli_main(["export-layers", str(path), "-o", str(tmp_path / "k.psd"), "--label-set", "landscape"]) == 0
    assert "unknown label set" in run(str(tmp_path / "map.png"), "-o", str(tmp_path / "y.ora"), "--label-set", "nope")
    colour = tmp_path / "colour.png"
    Image.fromarray(landscape.colorize(np.full((H, W), 3, np.uint8))).save(colour)
    assert "give --label-set" in run(str(colour), "-o", str(tmp_path / "c.ora"))
    assert (tmp_path / "map.png").read_bytes() == before
    assert not (tmp_path / "x.psd").exists() and not (tmp_path / "c.ora").exists()


def test_odd_layer_names_survive(tmp_path, landscape):
    from psd_tools import PSDImage

    odd = 'a<b & "c"\x01\ttab\nnew line é 山'
    long = "x" * pj.MAX_NAME_CHARS
    p = Project(landscape, [ProjectLayer(odd, np.zeros((H, W), np.uint8)),
                            ProjectLayer(long, np.ones((H, W), np.uint8), np.eye(H, W, dtype=bool))])
    q = load_ora(save_ora(tmp_path / "odd.ora", p))
    assert [ly.name for ly in q.layers] == [odd, long]  # exact, from project.json
    with zipfile.ZipFile(tmp_path / "odd.ora") as z:  # stack.xml stays valid XML
        import xml.etree.ElementTree as ET

        names = [ly.get("name") for ly in ET.fromstring(z.read("stack.xml")).iter("layer")]
    assert names[-1] == odd.replace("\x01", "?")
    export_psd(tmp_path / "odd.psd", p)
    got = [ly.name for ly in PSDImage.open(tmp_path / "odd.psd").descendants() if not ly.is_group()]
    assert got == [odd, long[:255]]
    with pytest.raises(ProjectError, match="layer 1 needs a name of 1..256"):
        save_ora(tmp_path / "x.ora", Project(landscape, [p.layers[0], ProjectLayer("", p.layers[1].ids)]))


def test_merged_image_blends_visible_layers_by_opacity(tmp_path, landscape):
    p = make_project(landscape)
    p.render = None
    p.layers[1].visible = True  # water at opacity 0.4 over ground, trees at 0.75 over both
    with zipfile.ZipFile(save_ora(tmp_path / "m.ora", p)) as z:
        merged = np.array(Image.open(io.BytesIO(z.read("mergedimage.png"))).convert("RGBA")).astype(float)
    colour = [landscape.colorize(ly.ids).astype(float) for ly in p.layers]
    want = colour[0].copy()
    for ly, c in zip(p.layers[1:], colour[1:]):
        a = ly.opacity * ly.mask[..., None]
        want = c * a + want * (1 - a)
    assert np.abs(merged[..., :3] - want).max() <= 1.0
    assert (merged[..., 3] == 255).all()
    p.layers[1].visible = False  # hidden layers are not in it
    with zipfile.ZipFile(save_ora(tmp_path / "m2.ora", p)) as z:
        merged2 = np.array(Image.open(io.BytesIO(z.read("mergedimage.png"))).convert("RGB")).astype(float)
    only_water = p.layers[1].mask & ~p.layers[2].mask
    assert (merged2[only_water] == colour[0][only_water]).all()


def test_zip_directory_too_large_refused_before_parsing(tmp_path, good, monkeypatch):
    many = rewrite(good, tmp_path / "many.ora", {f"junk/{i}.txt": b"" for i in range(20)})
    with zipfile.ZipFile(many) as z:
        n = len(z.infolist())
    monkeypatch.setattr(pa, "MAX_ENTRIES", 10)
    parsed = []
    real_init = zipfile.ZipFile.__init__
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda self, *a, **k: parsed.append(1) or real_init(self, *a, **k))
    with pytest.raises(ProjectError, match=rf"many\.ora: the zip announces {n} entries: at most 10"):
        load_ora(many)
    assert not parsed  # refused from the end record, before zipfile read the directory
    monkeypatch.setattr(zipfile.ZipFile, "__init__", real_init)
    monkeypatch.setattr(pa, "MAX_ENTRIES", 4096)
    monkeypatch.setattr(pa, "MAX_DIRECTORY_BYTES", 500)
    with pytest.raises(ProjectError, match=r"many\.ora: the zip's directory takes [\d,]+ bytes: at most 500"):
        load_ora(many)
    # a zip64 end record (the plain one saying 0xFFFF entries) is followed
    monkeypatch.setattr(pa, "MAX_DIRECTORY_BYTES", 16 << 20)
    monkeypatch.setattr(pa, "MAX_ENTRIES", 10)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 0)  # makes zipfile write the zip64 records
    z64 = tmp_path / "z64.ora"
    with zipfile.ZipFile(many) as src, zipfile.ZipFile(z64, "w") as z:
        for info in src.infolist():
            z.writestr(info, src.read(info))
    data = bytearray(z64.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    assert b"PK\x06\x06" in data and at > 0
    data[at + 8 : at + 12] = b"\xff\xff\xff\xff"
    z64.write_bytes(bytes(data))
    with pytest.raises(ProjectError, match=rf"z64\.ora: the zip announces {n} entries: at most 10"):
        load_ora(z64)
    monkeypatch.setattr(pa, "MAX_ENTRIES", 4096)
    assert len(load_ora(z64).layers) == 3  # and such a file still opens
