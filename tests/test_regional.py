"""Region styles (spade_studio/model/regional.py): engine, checks, CLI --style-for."""

import numpy as np
import pytest
import torch
from conftest import make_tiny_bundle

from spade_studio.cli import main as cli
from spade_studio.model import Synthesizer, regional
from spade_studio.model.checkpoint import save_model
from spade_studio.model.regional import RegionStyleError


def scene(h=128, w=128):
    """Sky on top, grass below, a sea on the lower left (landscape ids 0, 6, 10)."""
    lab = np.zeros((h, w), np.uint8)
    lab[h // 2:] = 6
    lab[h // 2:, : w // 3] = 10
    return lab


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return Synthesizer(make_tiny_bundle(), device="cpu")


def _diff(a, b) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.mark.parametrize("level", ["latent", "head_0", "up_1", "up_3", "image"])
def test_a_region_with_the_global_style_changes_nothing(tiny, level):
    lab = scene()
    z = tiny.random_z(3)
    plain = tiny.render(lab, z=z).image
    with torch.inference_mode():
        idx, edge = regional.label_indices_for(tiny, lab)
        regs = regional.check_region_styles([(lab == 0, z)], *lab.shape, tiny.config.z_dim, True)
        out = regional.render_regions(tiny, idx, edge, z, regs, (4, 4), level=level)
    img = ((out.float() + 1) / 2 * 255).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert _diff(img, plain) <= 1


def test_region_changes_its_region_and_nothing_far_from_it(tiny):
    lab = scene(128, 192)
    za, zb = tiny.random_z(1), tiny.random_z(2)
    base = tiny.render(lab, z=za).image
    other = tiny.render(lab, z=zb).image
    mask = np.zeros(lab.shape, bool)
    mask[:, :64] = True  # a painted region: the left third
    out = tiny.render(lab, z=za, region_styles=[(mask, zb)]).image
    assert out.shape == base.shape
    # deep inside the region: the region's style (the blend level's cells are all B there)
    inside = np.zeros_like(mask)
    inside[:, :16] = True
    assert np.abs(out[inside].astype(int) - other[inside]).mean() < np.abs(out[inside].astype(int) - base[inside]).mean()
    # beyond the feather and the last blocks' reach, exactly the global render
    far = np.zeros_like(mask)
    far[:, 64 + 3 * int(regional.DEFAULT_FEATHER) + 40:] = True
    assert _diff(out[far], base[far]) <= 1
    assert _diff(out, base) > 5  # and the region did change


def test_later_regions_lie_over_earlier_ones():
    a = np.zeros((8, 8), bool)
    a[:, :6] = True
    b = np.zeros((8, 8), np.float32)
    b[:, 4:] = 0.5
    w = regional.hard_weights([a, b], 8, 8)
    assert torch.allclose(w.sum(0), torch.ones(8, 8))
    assert float(w[1, 0, 5]) == 0.5 and float(w[2, 0, 5]) == 0.5  # half covered by b
    assert float(w[0, 0, 7]) == 0.5 and float(w[1, 0, 1]) == 1.0
    fw = regional.stream_weights([a, b], 8, 8, 2.0, (4, 4))
    assert fw.shape == (3, 1, 4, 4) and torch.allclose(fw.sum(0), torch.ones(1, 4, 4), atol=1e-5)
    assert float(fw[1, 0, 0, 0]) > float(fw[1, 0, 0, 3])  # feathered, still mostly where a is


def test_preview_and_plain_paths_take_region_styles(tmp_path):
    b = make_tiny_bundle()
    fast = Synthesizer(b, device="cpu")
    plain = Synthesizer(b, device="cpu", fast=False)
    lab = scene()
    za, zb = fast.random_z(1), fast.random_z(2)
    regs = [(lab == 6, zb)]
    exact = fast.render(lab, z=za, region_styles=regs).image
    assert _diff(plain.render(lab, z=za, region_styles=regs).image, exact) <= 2
    preview = fast.render(lab, z=za, region_styles=regs, quality="preview").image  # bf16 where native
    assert np.abs(preview.astype(int) - exact).mean() < 2
    # the odd size is padded like the map: masks padded too, output cropped back
    odd = lab[:100, :90]
    out = fast.render(odd, z=za, region_styles=[(odd == 6, zb)]).image
    assert out.shape == (100, 90, 3)


def test_bad_region_styles_are_refused_in_one_line(tiny):
    lab = scene()
    z = tiny.random_z(1)
    with pytest.raises(RegionStyleError, match="mask is 64x64, the label map 128x128"):
        tiny.render(lab, z=z, region_styles=[(np.zeros((64, 64), bool), z)])
    with pytest.raises(RegionStyleError, match="0..1"):
        tiny.render(lab, z=z, region_styles=[(np.full(lab.shape, 2.0), z)])
    with pytest.raises(RegionStyleError, match="256 finite numbers"):
        tiny.render(lab, z=z, region_styles=[(lab == 0, torch.zeros(1, 7))])
    label_only = Synthesizer(make_tiny_bundle(use_vae=False), device="cpu")
    with pytest.raises(RegionStyleError, match="need a model with a style vector"):
        label_only.render(lab, region_styles=[(lab == 0, z)])


def test_targets_and_style_specs(tiny, tmp_path):
    ls = tiny.label_set
    assert regional.resolve_label(ls, "Sky") == 0 and regional.resolve_label(ls, "10") == 10
    assert regional.resolve_label(ls, 6) == 6
    with pytest.raises(RegionStyleError, match="no label named 'skies'"):
        regional.resolve_label(ls, "skies")
    with pytest.raises(RegionStyleError, match="label id 99 is not in 'landscape'"):
        regional.resolve_label(ls, "99")
    assert regional.parse_style_for("sky=seed:12") == regional.StyleFor("sky", "seed", 12, "sky=seed:12")
    assert regional.parse_style_for("sea=preset:Sunset").value.endswith("sunset.jpg")
    for bad, msg in [("sky", "give LABEL=IMAGE"), ("=seed:1", "give LABEL"), ("sky=seed:x", "not a whole number"),
                     ("sky=preset:none", "no preset style 'none'"), (f"sky={tmp_path}", "a folder"),
                     (f"sky={tmp_path / 'no.png'}", "no such file")]:
        with pytest.raises(RegionStyleError, match=msg):
            regional.parse_style_for(bad)
    regions, notes = regional.label_regions(scene(), [(0, tiny.random_z(1), "sky"), (12, tiny.random_z(2), "")], ls)
    assert len(regions) == 1 and regions[0].mask.sum() == 128 * 64
    assert notes == ["region style sand: label sand (12) is not in the map; ignored"]


def _write_map(path, lab):
    from spade_studio.imageio import write_label_map

    write_label_map(path, lab)
    return path


def test_cli_style_for(tmp_path, capsys):
    from PIL import Image

    model = save_model(make_tiny_bundle(), tmp_path / "tiny.safetensors")
    lab = _write_map(tmp_path / "map.png", scene())
    style = tmp_path / "style.png"
    Image.fromarray(np.tile(np.array([[[200, 40, 20]]], np.uint8), (32, 32, 1))).save(style)
    base = ["render", str(lab), "--model", str(model), "--seed", "1"]
    assert cli(base + ["-o", str(tmp_path / "plain.png")]) == 0
    assert cli(base + ["-o", str(tmp_path / "two.png"), "--style-for", f"GRASS={style}",
                       "--style-for", "0=seed:7", "--style-for", "sand=preset:night"]) == 0
    err = capsys.readouterr().err
    assert "label sand (12) is not in the map; ignored" in err
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    two = np.asarray(Image.open(tmp_path / "two.png"))
    assert _diff(plain, two) > 5
    # one clear line per mistake, exit code 1, nothing written
    label_only = save_model(make_tiny_bundle(use_vae=False), tmp_path / "labels_only.safetensors")
    notimg = tmp_path / "notes.txt"
    notimg.write_text("not an image")
    for args, msg in [(["--style-for", "lake=seed:1"], "no label named 'lake'"),
                      (["--style-for", f"sky={notimg}"], "not an image file"),
                      (["--style-for", "sky=seed:-3"], "give 0.."),
                      (["--model", str(label_only), "--style-for", "sky=seed:1"], "region styles need a VAE model")]:
        a = list(base) + args
        if "--model" in args:
            a = ["render", str(lab), "--seed", "1"] + args
        assert cli(a + ["-o", str(tmp_path / "bad.png")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.slow
def test_two_region_styles_on_the_bundled_model():
    """Sample 4: sky at sunset, grass at night, the rest by day; each region's colour moves
    toward its own style and the boundaries carry no extra edge."""
    from spade_studio.imageio import read_label_map, read_rgb
    from spade_studio.paths import resources_dir

    s = Synthesizer(device="cpu")
    res = resources_dir()
    lab = read_label_map(res / "samples" / "landscape_04.png", s.label_set).ids
    z = {n: s.encode_style(read_rgb(res / "styles" / f"{n}.jpg")) for n in ("day", "sunset", "night")}
    single = {n: s.render(lab, z=v).image for n, v in z.items()}
    sky, grass = lab == 0, lab == 6
    out = s.render(lab, z=z["day"], region_styles=[(sky, z["sunset"]), (grass, z["night"])]).image
    assert regional.colour_shift(out, single["sunset"], single["day"], sky) > 0.8
    assert regional.colour_shift(out, single["night"], single["day"], grass) > 0.8
    assert regional.colour_shift(out, single["sunset"], single["night"], sky) > 0.8
    assert regional.seam_index(out, [single["day"], single["sunset"]], sky) < 1.5
    assert regional.seam_index(out, [single["day"], single["night"]], grass) < 1.5
