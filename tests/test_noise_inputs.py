"""Noise inputs (``GeneratorConfig.noise_inputs``): the noise itself, the plain network, and
that every inference path (fast exact, stroke updates, tiles, panoramas, region styles) adds
exactly the noise the plain network adds at the same canvas positions."""

import copy

import numpy as np
import pytest
import torch
from conftest import make_tiny_bundle
from test_fast_inference import EXACT, _blocks_map, _calm, _dab
from test_tiling import one_go_float, scene

from spade_studio.model import make_semantics, tiling
from spade_studio.model.config import GeneratorConfig, SPADENormConfig
from spade_studio.model.fast import optimize_for_inference
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.noise import position_noise
from spade_studio.model.stroke import StrokeRenderer
from spade_studio.model.synthesize import Synthesizer
from trainer.metrics import streak_index


# -- the noise ---------------------------------------------------------------------------------
def test_position_noise_is_white_standard_normal_and_streak_free():
    n = position_noise(3, (0, 0), (256, 256))[0, 0].double()
    assert abs(n.mean().item()) < 0.02 and abs(n.std().item() - 1) < 0.02
    assert abs((n ** 4).mean().item() - 3) < 0.1  # a normal distribution's fourth moment
    for a, b in [(n[:, 1:], n[:, :-1]), (n[1:], n[:-1]), (n[1:, 1:], n[:-1, :-1])]:
        assert abs((a * b).mean().item()) < 0.02  # neighbours uncorrelated
    # no coherence down columns or along rows: the streak index of white noise is 1/32
    img = ((n.clamp(-3, 3) / 6 + 0.5) * 255).round().byte().numpy()
    assert streak_index(np.stack([img] * 3, -1)) < 1.6 / 32
    other = position_noise(4, (0, 0), (256, 256))[0, 0].double()
    assert abs((n * other).mean().item()) < 0.02  # the blocks' streams are independent


def test_position_noise_follows_the_canvas_position_and_wraps():
    whole = position_noise(2, (0, 0), (64, 96))
    assert torch.equal(position_noise(2, (10, 33), (20, 40)), whole[..., 10:30, 33:73])
    wrapped = position_noise(2, (0, -16), (8, 64), period=32)  # columns -16..47 of a 32-wide canvas
    assert torch.equal(wrapped[..., :16], wrapped[..., 32:48])
    assert torch.equal(wrapped[..., 16:48], position_noise(2, (0, 0), (8, 32), period=32))
    assert position_noise(2, (0, 0), (4, 4), dtype=torch.float64).dtype == torch.float64


# -- the plain network -------------------------------------------------------------------------
def _cfg(**kw):
    base = dict(label_nc=6, ngf=8, crop_size=64, use_vae=True, spade=SPADENormConfig("batch", 3, 16))
    base.update(kw)
    return GeneratorConfig(**base)


def _noisy(g: SPADEGenerator, seed: int = 0, scale: float = 1.0) -> SPADEGenerator:
    """Noise strengths of about ``scale`` times each block's output spread (random weights
    make activations of any size: a fixed strength could be lost in them)."""
    gen = torch.Generator().manual_seed(seed)
    spread = {}
    blocks = [n for n in ("head_0", "G_middle_0", "G_middle_1", "up_0", "up_1", "up_2", "up_3") if hasattr(g, n)]
    def seen(name):
        def hook(_m, _i, out):
            spread.setdefault(name, float(out.std()))
        return hook

    hooks = [getattr(g, n).register_forward_hook(seen(n)) for n in blocks]
    h, w = g.cfg.output_hw
    sem = make_semantics(torch.from_numpy(_blocks_map(h, w, g.cfg.label_nc, 8, seed))[None, None], None, g.cfg)
    was = g.training
    g.eval()
    with torch.no_grad():
        g(sem, torch.randn(1, g.cfg.z_dim, generator=gen) if g.cfg.use_vae else None)
        for hk in hooks:
            hk.remove()
        for n in blocks:
            p = getattr(g, n).noise_strength
            p.copy_((0.5 + torch.rand(p.shape, generator=gen)) * scale * spread[n])
    g.train(was)
    return g


def test_zero_strength_is_the_model_without_noise_and_strength_changes_it():
    torch.manual_seed(0)
    plain = _calm(SPADEGenerator(_cfg()))
    noisy = SPADEGenerator(_cfg(noise_inputs=True)).eval()
    missing, unexpected = noisy.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == sorted(f"{b}.noise_strength" for b in
                                     ("head_0", "G_middle_0", "G_middle_1", "up_0", "up_1", "up_2", "up_3"))
    assert not unexpected
    sem = make_semantics(torch.from_numpy(_blocks_map(64, 64, 6, 8, 1))[None, None], None, plain.cfg)
    z = torch.randn(1, 256)
    with torch.no_grad():
        assert torch.equal(plain(sem, z), noisy(sem, z))
        _noisy(noisy)
        a, b = noisy(sem, z), noisy(sem, z)
        assert torch.equal(a, b)  # inference: the fixed noise of each position
        assert (a - plain(sem, z)).abs().max().item() > 0.05
        x = torch.zeros(2, 8, 64, 64)
        fixed = noisy.add_noise("up_3", x)
        s = noisy.up_3.noise_strength.view(1, -1, 1, 1)
        assert torch.allclose(fixed, s * position_noise(6, (0, 0), (64, 64)))
        noisy.train()
        c, d = noisy.add_noise("up_3", x), noisy.add_noise("up_3", x)
        assert (c - d).abs().max().item() > 0.1  # training: fresh noise, per sample
        assert (c[0] - c[1]).abs().max().item() > 0.1


def test_noise_strength_learns():
    torch.manual_seed(1)
    g = _noisy(SPADEGenerator(_cfg(noise_inputs=True)), scale=0.0).train()
    sem = make_semantics(torch.from_numpy(_blocks_map(64, 64, 6, 8, 2))[None, None], None, g.cfg)
    out = g(sem.expand(2, -1, -1, -1), torch.randn(2, 256))
    out.pow(2).mean().backward()
    grads = [p.grad.abs().sum().item() for n, p in g.named_parameters() if n.endswith("noise_strength")]
    assert len(grads) == 7 and min(grads) > 0


def test_noise_scales_name_canvas_pixels_per_cell():
    g = SPADEGenerator(_cfg(noise_inputs=True))
    assert g.noise_scales() == {"head_0": 32, "G_middle_0": 16, "G_middle_1": 16, "up_0": 8, "up_1": 4,
                                "up_2": 2, "up_3": 1}
    more = SPADEGenerator(_cfg(noise_inputs=True, num_upsampling_layers="more", crop_size=128))
    assert more.noise_scales()["head_0"] == 64 and more.noise_scales()["G_middle_0"] == 32
    assert more.noise_place("up_1", (64, 96), 256) == ((16, 24), 64)


# -- every inference path adds the same noise -------------------------------------------------
@pytest.mark.parametrize("use_vae,upsampling,hw", [(True, "bilinear", (64, 64)), (False, "nearest", (96, 64)),
                                                   (True, "nearest", (80, 48))])
def test_fast_exact_path_adds_the_plain_networks_noise(use_vae, upsampling, hw):
    torch.manual_seed(2)
    g = _noisy(_calm(SPADEGenerator(_cfg(use_vae=use_vae, upsampling=upsampling, noise_inputs=True))), 3)
    lab = torch.from_numpy(_blocks_map(*hw, 6, 8, 3))[None, None]
    sem = make_semantics(lab, None, g.cfg)
    z = torch.randn(1, 256) if use_vae else None
    lhw = (hw[0] // 32, hw[1] // 32) if hw[0] % 32 == 0 and hw[1] % 32 == 0 else None
    lhw = lhw or (-(-hw[0] // 32), -(-hw[1] // 32))
    sem = torch.nn.functional.interpolate(sem, size=(lhw[0] * 32, lhw[1] * 32), mode="nearest")
    fast = optimize_for_inference(copy.deepcopy(g))
    with torch.inference_mode():
        ref = g(sem, z, lhw)
        out = fast(sem, z, lhw)
        zero = copy.deepcopy(g)
        _noisy(zero, scale=0.0)
        without = zero(sem, z, lhw)
    assert fast.fallback_reason is None
    assert (out - ref).abs().max().item() <= EXACT
    assert (ref - without).abs().max().item() > 0.05  # the noise really is in the comparison


@pytest.mark.parametrize("upsampling", ["nearest", "bilinear"])
def test_stroke_updates_add_the_noise_of_their_boxes(upsampling):
    """Zero tolerance follows every change: a box whose noise came from the wrong canvas
    position would differ from the full render."""
    size = 128
    torch.manual_seed(4)
    g = _noisy(_calm(SPADEGenerator(_cfg(crop_size=size, upsampling=upsampling, noise_inputs=True))), 5)
    fast = optimize_for_inference(g)
    sr = StrokeRenderer(fast, tolerance=0.0)
    z = torch.randn(1, 256)
    lab = _blocks_map(size, size, 6, 16, 1)
    with torch.inference_mode():
        sr.render(torch.from_numpy(lab)[None], None, z)
        for i, (cy, cx) in enumerate([(70, 40), (74, 52), (2, size - 4)]):
            lab = _dab(lab, cy, cx, 6, i % 6)
            got = sr.update(torch.from_numpy(lab)[None], None, z)
            assert not sr.last.full and sr.last.recomputed < 1.0
            want = fast.forward_labels(torch.from_numpy(lab)[None], None, z)
            assert (got - want).abs().max().item() <= EXACT, i


def _noisy_bundle(**kw):
    """A tiny model file's contents with unsaturated outputs and strong noise inputs."""
    b = make_tiny_bundle(noise_inputs=True, ngf=8, **kw)
    g = SPADEGenerator(b.generator)
    g.load_state_dict(b.G_state_dict)
    _noisy(_calm(g), 7)
    b.G_state_dict = {k: v.clone() for k, v in g.state_dict().items()}
    return b


@pytest.fixture(scope="module")
def synth_noise():
    return Synthesizer(_noisy_bundle(use_vae=True, upsampling="bilinear"), device="cpu")


@pytest.fixture(scope="module")
def synth_noise_plain():
    return Synthesizer(_noisy_bundle(use_vae=True), device="cpu", fast=False)


@pytest.mark.parametrize("fixture", ["synth_noise", "synth_noise_plain"])
def test_tiles_add_the_noise_of_their_canvas_position(fixture, request):
    s = request.getfixturevalue(fixture)
    lab = scene(192, 320)
    z = s.random_z(1)
    one = one_go_float(s, lab, z)
    plan = tiling.plan_tiles(s, 192, 320, 192, False)
    assert plan.count >= 4
    tiled = tiling.render_tiles(s, plan, lab.astype(np.int64), None, z)
    assert (np.abs(one) < 0.95).mean() > 0.25  # not saturated: the comparison means something
    assert np.abs(tiled - one).mean() < 2e-3
    # the same tiles with the noise of the canvas origin in every tile are visibly off
    run = tiling._Blocks.run

    def at_origin(self, x, idx, edge, stage_a, origin_px=(0, 0), period_px=None):
        return run(self, x, idx, edge, stage_a)

    try:
        tiling._Blocks.run = at_origin
        wrong = tiling.render_tiles(s, plan, lab.astype(np.int64), None, z)
    finally:
        tiling._Blocks.run = run
    assert np.abs(wrong - one).mean() > 5 * np.abs(tiled - one).mean()


def test_panorama_noise_wraps(synth_noise):
    yy, xx = np.mgrid[0:128, 0:384]
    lab = np.zeros((128, 384), np.uint8)
    lab[yy > 60 + 14 * np.sin(2 * np.pi * xx / 384 * 3)] = 3
    pano = synth_noise.render(lab, seed=4, wrap=True)
    tiled = synth_noise.render(lab, seed=4, wrap=True, tile=192)
    plain = synth_noise.render(lab, seed=4).image
    assert tiling.edge_mismatch(pano.image) < 1.6
    assert tiling.edge_mismatch(tiled.image) < 1.6
    assert tiling.edge_mismatch(plain) > 2 * tiling.edge_mismatch(pano.image)


def test_the_synthesizer_renders_a_noise_model_on_the_fast_path(synth_noise):
    lab = scene(128, 128)
    a = synth_noise.render(lab, seed=1)
    b = synth_noise.render(lab, seed=1)
    assert np.array_equal(a.image, b.image)  # reproducible
    assert synth_noise.G_exact.fallback_reason is None
    plain = Synthesizer(_noisy_bundle(use_vae=True, upsampling="bilinear"), device="cpu", fast=False)
    c = plain.render(lab, seed=1)
    assert np.abs(a.image.astype(int) - c.image.astype(int)).max() <= 1


@pytest.mark.parametrize("fixture", ["synth_noise", "synth_noise_plain"])
def test_region_styles_add_the_same_noise_in_one_go_and_in_tiles(fixture, request):
    from spade_studio.model import regional
    from spade_studio.model.semantics import label_indices

    s = request.getfixturevalue(fixture)
    lab = scene(192, 320)
    za, zb = s.random_z(1), s.random_z(2)
    mask = np.zeros(lab.shape, bool)
    mask[:, :150] = True
    regs = regional.check_region_styles([(mask, zb)], *lab.shape, s.config.z_dim, True)
    with torch.inference_mode():
        idx, e = label_indices(torch.from_numpy(lab.astype(np.int64))[None, None], None, s.config)
        one = regional.render_regions(s, idx, e, za, regs, (6, 10))[0].permute(1, 2, 0).float().numpy()
    plan = tiling.plan_tiles(s, 192, 320, 192, False, styles=2)
    tiled = tiling.render_tiles(s, plan, lab.astype(np.int64), None, za, regions=regs)
    assert np.abs(tiled - one).mean() < 2e-3, np.abs(tiled - one).mean()
    # the global style alone, through the whole-canvas path: the region differs, the far side does not
    glob = one_go_float(s, lab, za)
    assert np.abs(glob[:, 260:] - one[:, 260:]).mean() < 2e-3
    assert np.abs(glob[:, :100] - one[:, :100]).mean() > 0.02


def test_bench_noise_strength_scales_the_chosen_blocks_of_a_model_and_of_a_run(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    from spade_studio.model.checkpoint import load_any, save_model

    bundle = make_tiny_bundle(use_vae=True, ngf=4, crop=64, noise_inputs=True)
    for k, v in bundle.G_state_dict.items():
        if k.endswith("noise_strength"):
            v.fill_(0.1)
    src = save_model(bundle, tmp_path / "m.safetensors")
    script = str(ROOT / "bench" / "noise_strength.py")
    subprocess.run([sys.executable, script, "model", str(src), str(tmp_path / "x2.safetensors"), "--factor", "2",
                    "--blocks", "up_2,up_3"], check=True, capture_output=True)
    before, after = load_any(src).G_state_dict, load_any(tmp_path / "x2.safetensors").G_state_dict
    edits = load_any(tmp_path / "x2.safetensors").provenance["edits"]
    assert edits == [{"noise_strength_factor": 2.0, "blocks": ["up_2", "up_3"], "by": "bench/noise_strength.py"}]
    for k in before:
        want = before[k] * 2 if k in ("up_2.noise_strength", "up_3.noise_strength") else before[k]
        assert torch.allclose(after[k].float(), want.float()), k
    # a run folder: the newest checkpoint's G and EMA strengths scaled, the rest copied
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    g = {"up_3.noise_strength": torch.full((4,), 0.1), "up_3.conv_0.bias": torch.ones(4)}
    torch.save({"G": dict(g), "G_ema": dict(g), "step": 5}, run / "checkpoints" / "ckpt_00000005.pt")
    torch.save({"G": dict(g), "G_ema": dict(g), "step": 3}, run / "checkpoints" / "ckpt_00000003.pt")
    subprocess.run([sys.executable, script, "run", str(run), str(tmp_path / "run2"), "--factor", "3"], check=True,
                   capture_output=True)
    got = torch.load(tmp_path / "run2" / "checkpoints" / "ckpt_00000005.pt", weights_only=True)
    assert got["step"] == 5 and (tmp_path / "run2" / "config.json").exists()
    for part in ("G", "G_ema"):
        assert torch.allclose(got[part]["up_3.noise_strength"], torch.full((4,), 0.3))
        assert torch.equal(got[part]["up_3.conv_0.bias"], torch.ones(4))
    again = subprocess.run([sys.executable, script, "run", str(run), str(tmp_path / "run2"), "--factor", "3"],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr
    # bad input: one line that says what and where, nothing written
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    for args, says in ((["model", str(tmp_path / "junk.safetensors"), str(tmp_path / "o.safetensors"), "--factor", "2"],
                        "not a readable .safetensors model file"),
                       (["model", str(tmp_path / "none.safetensors"), str(tmp_path / "o.safetensors"), "--factor", "2"],
                        "no such model file"),
                       (["model", str(src), str(tmp_path / "o.safetensors"), "--factor", "nan"], "--factor nan")):
        bad = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
        assert bad.returncode != 0 and says in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
        assert not (tmp_path / "o.safetensors").exists()
