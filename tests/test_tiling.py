"""Tiled renders, panoramas and the render memory estimate (spade_studio/model/tiling.py)."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, make_tiny_bundle

from spade_studio.labels import LabelError
from spade_studio.model import tiling
from spade_studio.model.semantics import label_indices
from spade_studio.model.synthesize import CanvasTooLargeError, Synthesizer, estimate_render_bytes


def scene(h, w, seed=0):
    """A painted-like map: sky, ground with a wavy border, a round lake, a stripe."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    lab = np.zeros((h, w), np.uint8)
    lab[yy > h * 0.4 + 12 * np.sin(xx / 23 + rng.uniform(0, 6))] = 3
    lab[(xx - w * 0.6) ** 2 + (yy - h * 0.7) ** 2 < (h * 0.18) ** 2] = 5
    lab[:, int(w * 0.2):int(w * 0.2) + 9] = 8
    return lab


@pytest.fixture(scope="module")
def synth_vae():
    return Synthesizer(make_tiny_bundle(use_vae=True), device="cpu")


@pytest.fixture(scope="module")
def synth_map():
    return Synthesizer(make_tiny_bundle(use_vae=False, seed=3), device="cpu")


@pytest.fixture(scope="module")
def synth_bilinear():
    return Synthesizer(make_tiny_bundle(use_vae=True, seed=5, upsampling="bilinear"), device="cpu")


def one_go_float(s, lab, z):
    with torch.inference_mode():
        idx, e = label_indices(torch.from_numpy(lab.astype(np.int64))[None, None], None, s.config)
        lhw = (lab.shape[0] // s.stride, lab.shape[1] // s.stride)
        return s.G_exact.forward_labels(idx, e, z, lhw)[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("length,tile", [(512, 192), (640, 256), (384, 384), (96, 192)])
def test_axis_weights_sum_to_one(length, tile, wrap):
    tiles = tiling.axis_tiles(length, tile, 32, 32, wrap=wrap, margin=32)
    acc = np.zeros(length)
    for t in tiles:
        assert t.size <= max(tile, length + 128 if wrap else length)
        np.add.at(acc, np.arange(t.start, t.stop) % length, t.weight)
        assert t.weight.min() >= 0
    np.testing.assert_allclose(acc, 1.0, atol=1e-6)
    if not wrap:
        assert all(0 <= t.start and t.stop <= length for t in tiles)


@pytest.fixture(scope="module")
def synth_plain():
    return Synthesizer(make_tiny_bundle(use_vae=True), device="cpu", fast=False)


@pytest.mark.parametrize("fixture", ["synth_vae", "synth_map", "synth_plain", "synth_bilinear"])
def test_tiled_matches_one_go(fixture, request):
    """The low-resolution blocks run on the whole canvas and every tile has 32 px of context
    that weighs nothing: the tiled render is the one-go render (float output), and it is the
    margin that makes it so (without it the tile borders show)."""
    s = request.getfixturevalue(fixture)
    lab = scene(192, 320)
    z = s.random_z(1) if s.uses_style else None
    one = one_go_float(s, lab, z)
    plan = tiling.plan_tiles(s, 192, 320, 192, False)
    assert plan.count >= 4
    tiled = tiling.render_tiles(s, plan, lab.astype(np.int64), None, z)
    d = np.abs(tiled - one).mean()
    bare = tiling.plan_tiles(s, 192, 320, 192, False, margin=0)
    d_bare = np.abs(tiling.render_tiles(s, bare, lab.astype(np.int64), None, z) - one).mean()
    assert d < 2e-3, d
    assert d_bare > 5 * d, (d, d_bare)


def test_render_keywords_and_notes(synth_vae):
    lab = scene(160, 300)  # not a multiple of the stride: padded and cropped back
    one = synth_vae.render(lab, seed=2)
    res = synth_vae.render(lab, seed=2, tile=192)
    assert res.image.shape == (160, 300, 3) and res.image.dtype == np.uint8
    assert any("tile(s)" in n for n in res.notes)
    assert np.abs(res.image.astype(int) - one.image.astype(int)).mean() < 3
    auto = synth_vae.render(lab, seed=2, tile="auto")  # it fits: one go, the same image
    assert np.array_equal(auto.image, one.image) and not any("tile" in n for n in auto.notes)


@pytest.mark.parametrize("fixture", ["synth_vae", "synth_map", "synth_bilinear"])
def test_wrap_edges_match(fixture, request):
    s = request.getfixturevalue(fixture)
    yy, xx = np.mgrid[0:128, 0:384]
    lab = np.zeros((128, 384), np.uint8)  # a map that itself continues across the seam
    lab[yy > 60 + 14 * np.sin(2 * np.pi * xx / 384 * 3)] = 3
    lab[(xx - 200) ** 2 + (yy - 90) ** 2 < 25 ** 2] = 5
    plain = s.render(lab, seed=4).image
    pano = s.render(lab, seed=4, wrap=True)
    tiled = s.render(lab, seed=4, wrap=True, tile=192)
    assert any("panorama" in n for n in pano.notes)
    assert tiling.edge_mismatch(pano.image) < 1.6, tiling.edge_mismatch(pano.image)
    assert tiling.edge_mismatch(tiled.image) < 1.6, tiling.edge_mismatch(tiled.image)
    assert tiling.edge_mismatch(plain) > 2 * tiling.edge_mismatch(pano.image)
    rolled = np.roll(pano.image, 192, axis=1)  # the seam in the middle looks like any column
    assert tiling.edge_mismatch(np.roll(rolled, -192, axis=1)) == tiling.edge_mismatch(pano.image)


@pytest.mark.parametrize("tile,wrap,needle", [
    (100, False, "multiple of 32"),
    (64, False, "too small"),
    (1024, False, "larger than the 320x192 canvas"),
    (2048, True, "larger than the 320x192 panorama"),
    ("big", False, "'auto' or a number"),
])
def test_bad_tile_sizes(synth_vae, tile, wrap, needle):
    with pytest.raises(tiling.TileError) as ei:
        synth_vae.render(scene(192, 320), tile=tile, wrap=wrap, where="m.png")
    assert needle in str(ei.value) and "m.png" in str(ei.value)
    assert isinstance(ei.value, LabelError)


def test_wrap_width_must_be_on_stride(synth_vae):
    with pytest.raises(tiling.TileError, match="multiple of 32"):
        synth_vae.render(scene(128, 300), wrap=True)


def test_cancel_and_progress(synth_vae):
    seen = []

    def cancel():
        return len(seen) >= 3  # after two tiles

    with pytest.raises(tiling.RenderCancelled):
        synth_vae.render(scene(192, 320), tile=192, progress=lambda d, t: seen.append((d, t)), cancel=cancel)
    assert seen[0][0] == 0 and seen[-1][0] == 2 and seen[-1][1] >= 4
    seen.clear()
    synth_vae.render(scene(192, 320), tile=192, progress=lambda d, t: seen.append((d, t)))
    assert [d for d, _ in seen] == list(range(seen[-1][1] + 1))


def test_memory_plan_for_4096x2048_under_3gb():
    """The bundled model's architecture and an ngf-64 one: with a 3 GB budget, auto picks
    tiles whose estimate plus the canvas-wide buffers stays under 3 GB; one go would not."""
    for ngf in (16, 64):
        s = Synthesizer(make_tiny_bundle(ngf=ngf, crop=128), device="cpu", memory_budget=3 << 30)
        plan = tiling.plan_tiles(s, 2048, 4096, "auto", False)
        assert plan is not None and plan.count > 1
        th, tw = plan.largest
        total = estimate_render_bytes(s.config, th, tw, keep=False) + tiling.fixed_bytes(s.config, 2048, 4096)
        assert total <= 3 << 30, total
        if ngf == 64:
            assert s.one_go_bytes(2048, 4096) > 3 << 30
        with pytest.raises(CanvasTooLargeError, match="tiles"):
            s.check_memory(2048 * 2, 4096 * 2)


def test_estimate_scales_with_area_and_width():
    cfg16 = make_tiny_bundle(ngf=16).generator
    cfg64 = make_tiny_bundle(ngf=64).generator
    a = estimate_render_bytes(cfg16, 512, 512)
    from spade_studio.model.synthesize import RENDER_OVERHEAD_BYTES as k
    assert estimate_render_bytes(cfg16, 1024, 1024) - k == pytest.approx(4 * (a - k), rel=1e-6)
    assert 3 < (estimate_render_bytes(cfg64, 512, 512) - k) / (a - k) < 4.2
    assert estimate_render_bytes(cfg16, 512, 512, keep=False) < a
    assert estimate_render_bytes(cfg16, 512, 512, fast=False) > a  # per-pixel hidden activations


PROBE = r"""
import resource, sys
import numpy as np
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/tests")
from conftest import make_tiny_bundle
from spade_studio.model.synthesize import Synthesizer
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
def rss():
    return status("VmRSS:")
s = Synthesizer(make_tiny_bundle(ngf=64, crop=128), device="cpu", memory_budget=1 << 40)
h, w = int(sys.argv[2]), int(sys.argv[3])
lab = np.zeros((h, w), np.uint8); lab[h // 2:] = 3; lab[:, w // 3:w // 3 + 50] = 5
s.render(lab[:64, :64])
base = rss()
s.render(lab)
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve from the forked parent
# (a pytest process of 2 GB after a full run), VmHWM belongs to this process's own memory map
print(status("VmHWM:") - base, s.one_go_bytes(h, w))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_estimate_bounds_measured_peak_rss():
    """A fresh process renders 384x384 with an ngf-64 generator: its peak RSS growth stays
    under the estimate, and the estimate is no more than 1.5x (+ 40 MB of allocator slack)."""
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), "384", "384"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    measured, estimate = (int(v) for v in out.stdout.split())
    assert measured <= estimate, (measured, estimate)
    assert estimate <= 1.5 * measured + (40 << 20), (measured, estimate)


def test_cli_tile_and_wrap(tmp_path, capsys):
    from spade_studio.cli import main
    from spade_studio.imageio import write_label_map
    from spade_studio.labels import load_label_set
    from spade_studio.model.checkpoint import save_model

    model = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    lab = tmp_path / "map.png"
    write_label_map(lab, scene(192, 320), load_label_set("landscape"))
    out = tmp_path / "pano.png"
    rc = main(["render", str(lab), "-o", str(out), "--model", str(model), "--device", "cpu", "--wrap", "--tile", "192"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert out.is_file() and "map.png: tile 1/" in err and "panorama" in err
    for args, needle in ((["--tile", "100"], "multiple of 32"), (["--tile", "1024"], "larger than"),
                         (["--tile", "off", "--wrap"], "--wrap")):
        bad = tmp_path / "bad.png"
        rc = main(["render", str(lab), "-o", str(bad), "--model", str(model), "--device", "cpu", *args])
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert rc == 1 and len(lines) == 1 and needle in lines[0], err
        assert not bad.exists()


def test_cli_cancelled_render_leaves_no_file(tmp_path, capsys, monkeypatch):
    """A render stopped between tiles (RenderCancelled) writes nothing."""
    from spade_studio.cli import main
    from spade_studio.imageio import write_label_map
    from spade_studio.labels import load_label_set
    from spade_studio.model.checkpoint import save_model

    model = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    lab = tmp_path / "map.png"
    write_label_map(lab, scene(192, 320), load_label_set("landscape"))
    real = tiling.render_tiles

    def stop_after_two(synth, plan, lab, inst, z, quality="exact", progress=None, cancel=None, **kw):
        return real(synth, plan, lab, inst, z, quality, progress, lambda: calls.append(1) or len(calls) > 2, **kw)

    calls = []
    monkeypatch.setattr(tiling, "render_tiles", stop_after_two)
    out = tmp_path / "o.png"
    rc = main(["render", str(lab), "-o", str(out), "--model", str(model), "--device", "cpu", "--tile", "192"])
    err = capsys.readouterr().err
    assert rc == 1 and "cancelled" in err and len(calls) == 3
    assert not out.exists() and not list(tmp_path.glob("o.png*"))


# -- region styles in tiled renders --------------------------------------------------------------
def _regions(s, lab, masks_zs):
    from spade_studio.model import regional

    return regional.check_region_styles(masks_zs, *lab.shape, s.config.z_dim, True)


@pytest.mark.parametrize("fixture", ["synth_vae", "synth_plain", "synth_bilinear"])
def test_tiled_region_render_matches_one_go(fixture, request):
    """Two styles (a left region over the global one) in tiles: the float output is the one-go
    region render's, as close as the single-style tiled render is to its one go."""
    from spade_studio.model import regional

    s = request.getfixturevalue(fixture)
    lab = scene(192, 320)
    za, zb = s.random_z(1), s.random_z(2)
    mask = np.zeros(lab.shape, bool)
    mask[:, :150] = True
    regs = _regions(s, lab, [(mask, zb)])
    with torch.inference_mode():
        idx, e = label_indices(torch.from_numpy(lab.astype(np.int64))[None, None], None, s.config)
        one = regional.render_regions(s, idx, e, za, regs, (6, 10))[0].permute(1, 2, 0).float().numpy()
    plan = tiling.plan_tiles(s, 192, 320, 192, False, styles=2)
    assert plan.count >= 4
    tiled = tiling.render_tiles(s, plan, lab.astype(np.int64), None, za, regions=regs)
    glob = tiling.render_tiles(s, plan, lab.astype(np.int64), None, za)
    assert np.abs(tiled - one).mean() < 2e-3, np.abs(tiled - one).mean()
    assert np.abs(glob - one).mean() > 20 * np.abs(tiled - one).mean()  # the region is there


def test_tiled_regions_keep_their_styles(synth_vae):
    s = synth_vae
    lab = scene(192, 320)
    za, zb, zc = s.random_z(1), s.random_z(2), s.random_z(5)
    left, right = np.zeros(lab.shape, bool), np.zeros(lab.shape, bool)
    left[:, :96], right[:, 224:] = True, True
    res = s.render(lab, z=za, region_styles=[(left, zb), (right, zc)], tile=192)
    assert not any("not applied" in n for n in res.notes) and any("tile(s)" in n for n in res.notes)
    out = res.image.astype(int)
    for mask, z in ((left, zb), (right, zc)):
        own = s.render(lab, z=z).image.astype(int)
        glob = s.render(lab, z=za).image.astype(int)
        inside = np.zeros_like(mask)
        ys, xs = np.nonzero(mask)
        inside[:, xs.min() + 32:xs.max() - 31] = True  # away from the feathered boundary
        assert np.abs(out[inside] - own[inside]).mean() < 0.3 * np.abs(out[inside] - glob[inside]).mean()
    middle = np.zeros(lab.shape, bool)
    middle[:, 150:170] = True  # far from both regions: the global style
    assert np.abs(out[middle] - s.render(lab, z=za).image.astype(int)[middle]).mean() < 1.0


def test_wrapped_regions_feather_across_the_seam(synth_vae):
    """A region at the panorama's left edge: its feather reaches the right edge (x is a
    circle); a region across the seam keeps the edges continuing each other."""
    from spade_studio.model import regional

    s = synth_vae
    yy, xx = np.mgrid[0:128, 0:384]
    lab = np.zeros((128, 384), np.uint8)
    lab[yy > 60 + 14 * np.sin(2 * np.pi * xx / 384 * 3)] = 3
    mask = np.zeros(lab.shape, bool)
    mask[:, :40] = True
    wrapped = regional.stream_weights([mask.astype(np.float32)], 128, 384, 8.0, (32, 96), wrap=True)
    flat = regional.stream_weights([mask.astype(np.float32)], 128, 384, 8.0, (32, 96), wrap=False)
    assert float(wrapped[1, 0, :, -1].mean()) > 0.2 and float(flat[1, 0, :, -1].mean()) < 1e-3
    torch.testing.assert_close(wrapped.sum(0), torch.ones(1, 32, 96))
    za, zb = s.random_z(4), s.random_z(7)
    across = mask.copy()
    across[:, -40:] = True  # the seam inside the region
    glob = s.render(lab, z=za, wrap=True, tile=192).image
    pano = s.render(lab, z=za, wrap=True, tile=192, region_styles=[(across, zb)]).image
    assert np.abs(pano[:, :20].astype(int) - glob[:, :20]).mean() > 5  # the region is there
    assert np.abs(pano[:, -20:].astype(int) - glob[:, -20:]).mean() > 5
    assert tiling.edge_mismatch(pano) < 1.6, tiling.edge_mismatch(pano)


def test_memory_plan_grows_with_the_style_count(synth_vae):
    from spade_studio.model.memory import region_stream_bytes

    s, cfg = synth_vae, synth_vae.config
    h, w = 1024, 2048
    assert tiling.fixed_bytes(cfg, h, w, styles=1) < tiling.fixed_bytes(cfg, h, w, styles=3) \
        < tiling.fixed_bytes(cfg, h, w, styles=9)
    assert region_stream_bytes(cfg, 256, 256, 1) == 0 < region_stream_bytes(cfg, 256, 256, 2) \
        < region_stream_bytes(cfg, 256, 256, 6)
    assert s.one_go_bytes(512, 512, styles=3) > s.one_go_bytes(512, 512)  # and the one-go check
    old = s.memory_budget
    try:
        # room for 384-px tiles with 16 styles: one style gets larger tiles from the same budget
        s.memory_budget = (tiling.fixed_bytes(cfg, h, w, True, styles=16)
                           + estimate_render_bytes(cfg, 384, 384, keep=False)
                           + region_stream_bytes(cfg, 384, 384, 16))
        one = tiling.plan_tiles(s, h, w, "auto", True, styles=1)  # a panorama: always tiles
        many = tiling.plan_tiles(s, h, w, "auto", True, styles=16)
        assert many.tile <= 384 < one.tile and many.count > one.count
        th, tw = many.largest
        need = (tiling.fixed_bytes(cfg, h, w, True, styles=16) + estimate_render_bytes(cfg, th, tw, keep=False)
                + region_stream_bytes(cfg, th, tw, 16))
        assert need <= s.memory_budget
    finally:
        s.memory_budget = old


def test_the_largest_one_go_canvas_shrinks_with_region_style_streams():
    """The editor's live preview of a big canvas renders at the largest one-go size: with region
    styles (one more stream each) that size must be smaller, and it must fit the budget."""
    s = Synthesizer(make_tiny_bundle(ngf=64, crop=128), device="cpu")
    s.memory_budget = s.one_go_bytes(1024, 2048) // 2
    one = s.largest_one_go(1024, 2048)
    three = s.largest_one_go(1024, 2048, styles=3)
    assert three[0] * three[1] < one[0] * one[1]
    assert s.one_go_bytes(*three, styles=3) <= s.memory_available()


def test_bilinear_upsampling_models_take_the_fast_path_and_differ_from_nearest():
    from spade_studio.model.config import ConfigError, GeneratorConfig

    bundle = make_tiny_bundle(use_vae=False, seed=2, upsampling="bilinear")
    s = Synthesizer(bundle, device="cpu")
    near = Synthesizer(make_tiny_bundle(use_vae=False, seed=2), device="cpu")
    lab = np.random.default_rng(0).integers(0, 4, size=(64, 64)).repeat(2, 0).repeat(2, 1)[:64, :64]
    a, b = s.render(lab).image, near.render(lab).image
    assert s.G_exact.fallback_reason is None  # the fast path (exactness: test_fast_inference.py)
    assert a.shape == b.shape == (64, 64, 3)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5  # the same weights, another upsampling
    assert GeneratorConfig.from_dict(bundle.generator.to_dict()).upsampling == "bilinear"
    with pytest.raises(ConfigError, match="upsampling"):
        GeneratorConfig(label_nc=3, upsampling="cubic")
