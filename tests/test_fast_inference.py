"""The fast inference path computes the plain generator's function (exact mode), stays within
the preview bounds (preview mode, stroke updates), and falls back when it cannot."""

import copy
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from spade_studio.model import build_generator, load_official_state_dict, make_semantics
from spade_studio.model.config import GeneratorConfig, SPADENormConfig
from spade_studio.model.fast import FastGenerator, native_low_precision, optimize_for_inference
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.layers import fold_spectral_norm
from spade_studio.model.semantics import label_indices
from spade_studio.model.stroke import StrokeRenderer

DATA = Path(__file__).resolve().parent / "data"
VECTORS = sorted((DATA / "vectors").glob("*.pt"))
EXACT = 1e-4


def _calm(g: SPADEGenerator, seed: int = 0) -> SPADEGenerator:
    """Random weights with BN statistics, and the output conv scaled so that tanh is not
    saturated (else any two networks agree at +-1 and the comparison proves nothing)."""
    torch.manual_seed(seed)
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    g.eval()
    seen = []
    hook = g.conv_img.register_forward_hook(lambda _m, _i, o: seen.append(o.detach()))
    h, w = g.cfg.output_hw
    sem = make_semantics(torch.from_numpy(_blocks_map(h, w, g.cfg.label_nc, 8, seed))[None, None], None, g.cfg)
    with torch.no_grad():
        g(sem, torch.randn(1, g.cfg.z_dim) if g.cfg.use_vae else None)
        hook.remove()
        g.conv_img.weight.mul_(0.5 / float(seen[0].std()))
        g.conv_img.bias.zero_()
    return g


def _not_saturated(out: torch.Tensor) -> None:
    assert (out.abs() < 0.95).float().mean() > 0.5, "outputs saturated: the comparison would prove nothing"


def _blocks_map(h, w, n_labels, block, seed):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, n_labels, size=(-(-h // block), -(-w // block)))
    return np.kron(small, np.ones((block, block), np.int64))[:h, :w]


def _compare(g: SPADEGenerator, label: np.ndarray, instance=None, z=None, latent_hw=None):
    cfg = g.cfg
    lab = torch.from_numpy(label)[None, None]
    inst = None if instance is None else torch.from_numpy(instance)[None, None]
    sem = make_semantics(lab, inst, cfg)
    plain = copy.deepcopy(g)
    fast = optimize_for_inference(copy.deepcopy(g))
    with torch.inference_mode():
        ref = plain(sem, z, latent_hw)
        out = fast(sem, z, latent_hw)
        idx, edge = label_indices(lab, inst, cfg)
        out2 = fast.forward_labels(idx, edge, z, latent_hw)
    assert fast.fallback_reason is None
    assert out.shape == ref.shape
    return ref, (out - ref).abs().max().item(), (out2 - ref).abs().max().item()


# -- exactness ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_exact_on_reference_vectors(path):
    d = torch.load(path, map_location="cpu", weights_only=True)
    cfg, inp, out = d["config"], d["inputs"], d["outputs"]
    g = load_official_state_dict(build_generator(cfg), d["G_state_dict"]).eval()
    z = inp.get("z") if cfg["use_vae"] else None
    fast = optimize_for_inference(copy.deepcopy(g))
    with torch.inference_mode():
        plain = g(inp["semantics"].float(), z)
        got = fast(inp["semantics"].float(), z)
    assert fast.fallback_reason is None
    _not_saturated(plain)
    assert (got - plain).abs().max().item() <= EXACT
    assert (got - out["G"]).abs().max().item() <= EXACT  # and the official network's output


def test_vectors_are_vendored():
    assert len(VECTORS) == 3


@pytest.mark.parametrize("norm", ["syncbatch", "batch", "instance"])
@pytest.mark.parametrize("kernel", [3, 5])
def test_exact_for_every_norm_variant(norm, kernel):
    cfg = GeneratorConfig(label_nc=9, ngf=4, crop_size=64, spade=SPADENormConfig(norm, kernel, 8),
                          spectral=kernel == 3)
    g = _calm(SPADEGenerator(cfg))
    fold_spectral_norm(g)
    ref, d1, d2 = _compare(g, _blocks_map(64, 64, 9, 6, seed=kernel))
    _not_saturated(ref)
    assert d1 <= EXACT and d2 <= EXACT


@pytest.mark.parametrize("use_vae", [False, True])
@pytest.mark.parametrize("extras", ["plain", "dontcare+instance"])
def test_exact_vae_and_label_input_with_dontcare_and_instances(use_vae, extras):
    both = extras != "plain"
    cfg = GeneratorConfig(label_nc=7, contain_dontcare_label=both, use_instance=both, ngf=4, crop_size=64,
                          spade=SPADENormConfig("batch", 3, 8), use_vae=use_vae, z_dim=16)
    g = _calm(SPADEGenerator(cfg), seed=3)
    label = _blocks_map(64, 64, 7, 5, seed=1)
    inst = None
    if both:
        label[:8, :8] = 255  # dontcare
        inst = _blocks_map(64, 64, 50, 9, seed=2)
    z = torch.randn(1, 16) if use_vae else None
    ref, d1, d2 = _compare(g, label, inst, z)
    _not_saturated(ref)
    assert d1 <= EXACT and d2 <= EXACT


@pytest.mark.parametrize("upsampling,hw,latent,mode", [("normal", (96, 160), (3, 5), "nearest"),
                                                      ("more", (64, 128), (1, 2), "nearest"),
                                                      ("most", (128, 128), None, "nearest"),
                                                      ("normal", (96, 160), (3, 5), "bilinear")])
def test_exact_at_odd_sizes_and_upsampling_modes(upsampling, hw, latent, mode):
    cfg = GeneratorConfig(label_nc=5, ngf=4, crop_size=128, num_upsampling_layers=upsampling,
                          spade=SPADENormConfig("batch", 3, 8), upsampling=mode)
    g = _calm(SPADEGenerator(cfg), seed=5)
    ref, d1, d2 = _compare(g, _blocks_map(*hw, 5, 7, seed=4), latent_hw=latent)
    assert ref.shape[-2:] == hw
    _not_saturated(ref)
    assert d1 <= EXACT and d2 <= EXACT


def test_exact_with_a_batch_of_two():
    cfg = GeneratorConfig(label_nc=6, ngf=4, crop_size=64, spade=SPADENormConfig("batch", 3, 8))
    g = _calm(SPADEGenerator(cfg), seed=8)
    lab = torch.from_numpy(np.stack([_blocks_map(64, 64, 6, 4, 1), _blocks_map(64, 64, 6, 11, 2)]))[:, None]
    sem = make_semantics(lab, None, cfg)
    fast = optimize_for_inference(copy.deepcopy(g))
    with torch.inference_mode():
        ref, got = g(sem), fast(sem)
    _not_saturated(ref)
    assert (got - ref).abs().max().item() <= EXACT


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), block=st.integers(1, 6), n_labels=st.integers(2, 12))
def test_exact_on_random_maps_with_many_small_regions(seed, block, n_labels):
    g = _random_net()
    ref, d1, d2 = _compare(g, _blocks_map(64, 64, n_labels, block, seed))
    assert d1 <= EXACT and d2 <= EXACT


@lru_cache(maxsize=1)
def _random_net():
    return _calm(SPADEGenerator(GeneratorConfig(label_nc=12, ngf=4, crop_size=64,
                                                spade=SPADENormConfig("syncbatch", 3, 8))), seed=11)


def test_exact_on_real_ade20k_map_with_the_ade20k_vector_weights():
    d = torch.load(DATA / "vectors" / "A1_ade20k_like.pt", map_location="cpu", weights_only=True)
    g = load_official_state_dict(build_generator(d["config"]), d["G_state_dict"]).eval()
    raw = np.array(Image.open(DATA / "maps" / "ade20k_val_00000001.png"))
    small = np.array(Image.fromarray(raw).resize((64, 64), Image.NEAREST)).astype(np.int64)
    label = np.where(small == 0, 150, small - 1)  # ADE20K: 0 = other -> the dontcare index
    assert len(np.unique(label)) >= 4
    ref, d1, d2 = _compare(g, label)
    _not_saturated(ref)
    assert d1 <= EXACT and d2 <= EXACT


def test_exact_on_real_coco_map_with_instances():
    d = torch.load(DATA / "vectors" / "A2_coco_like_vae.pt", map_location="cpu", weights_only=True)
    g = load_official_state_dict(build_generator(d["config"]), d["G_state_dict"]).eval()
    raw = np.array(Image.open(DATA / "maps" / "coco_000000017914.png"))
    inst = np.array(Image.open(DATA / "maps" / "coco_000000017914_inst.png"))
    lab = np.array(Image.fromarray(raw).resize((64, 64), Image.NEAREST)).astype(np.int64)
    inst = np.array(Image.fromarray(inst).resize((64, 64), Image.NEAREST)).astype(np.int64)
    lab = np.where(lab == 255, 255, lab % 20)  # the vector model has 20 classes + dontcare
    ref, d1, d2 = _compare(g, lab, inst, z=d["inputs"]["z"][:1])
    _not_saturated(ref)
    assert d1 <= EXACT and d2 <= EXACT


@pytest.mark.slow
def test_the_bundled_model_is_exact_at_256_and_512():
    from spade_studio.model.checkpoint import load_any
    from spade_studio.paths import default_model_path

    b = load_any(default_model_path())
    g = load_official_state_dict(SPADEGenerator(b.generator), b.G_state_dict).eval()
    fold_spectral_norm(g)
    label = np.array(Image.open(Path(__file__).resolve().parents[1] / "resources/samples/landscape_02.png"))
    z = torch.randn(1, 256, generator=torch.Generator().manual_seed(1))
    for size in (256, 512):
        lab = np.array(Image.fromarray(label).resize((size, size), Image.NEAREST)).astype(np.int64)
        ref, d1, d2 = _compare(g, lab, z=z, latent_hw=(size // 32, size // 32))
        _not_saturated(ref)
        assert d1 <= EXACT and d2 <= EXACT


# -- fallback ----------------------------------------------------------------------------------
def test_soft_semantics_fall_back_to_the_plain_network_and_say_so_once():
    g = _calm(SPADEGenerator(GeneratorConfig(label_nc=4, ngf=4, crop_size=64, spade=SPADENormConfig("batch", 3, 8))))
    fast = optimize_for_inference(copy.deepcopy(g))
    sem = make_semantics(torch.from_numpy(_blocks_map(64, 64, 4, 8, 0))[None, None], None, g.cfg)
    soft = 0.7 * sem + 0.3 * sem.roll(1, dims=1)  # a blended map: not one-hot
    with torch.inference_mode():
        ref = g(soft)
        with pytest.warns(RuntimeWarning, match="not one-hot"):
            out = fast(soft)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = fast(soft)  # said once only
    assert fast.fallback_reason == "semantics are not one-hot"
    assert (out - ref).abs().max() <= EXACT and torch.equal(again, out)


def test_unsupported_generator_or_gradients_fall_back():
    class Custom(SPADEGenerator):
        pass

    cfg = GeneratorConfig(label_nc=4, ngf=4, crop_size=64, spade=SPADENormConfig("batch", 3, 8))
    custom = Custom(cfg).eval()
    fast = FastGenerator(custom)
    assert "not a plain SPADEGenerator" in fast.fallback_reason
    sem = make_semantics(torch.zeros(1, 1, 64, 64, dtype=torch.long), None, cfg)
    with torch.inference_mode(), pytest.warns(RuntimeWarning):
        assert torch.equal(fast(sem), custom(sem))
    g = SPADEGenerator(cfg).eval()
    fast = FastGenerator(g)  # not through optimize_for_inference: parameters still want gradients
    with pytest.warns(RuntimeWarning, match="gradients"):
        out = fast(sem)
    assert out.requires_grad  # the plain network ran, with autograd


def test_mode_is_checked():
    g = SPADEGenerator(GeneratorConfig(label_nc=4, ngf=4, crop_size=64))
    with pytest.raises(ValueError, match="exact"):
        FastGenerator(g, "fastest")


# -- preview and stroke updates ------------------------------------------------------------------
def _bundled():
    from spade_studio.model.checkpoint import load_any
    from spade_studio.paths import default_model_path

    b = load_any(default_model_path())
    g = load_official_state_dict(SPADEGenerator(b.generator), b.G_state_dict)
    return optimize_for_inference(g)


def _samples():
    root = Path(__file__).resolve().parents[1] / "resources" / "samples"
    return [np.array(Image.open(p)).astype(np.int64) for p in sorted(root.glob("landscape_*.png"))]


def test_preview_mode_is_within_its_bounds_or_exact_without_native_low_precision():
    exact = _bundled()
    preview = FastGenerator(exact.plain, "preview")
    z = torch.randn(1, 256, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        for lab in _samples():
            L = torch.from_numpy(lab)[None]
            e, p = exact.forward_labels(L, None, z), preview.forward_labels(L, None, z, (8, 8))
            e = exact.forward_labels(L, None, z, (8, 8))
            d = (e - p).abs()
            if native_low_precision(torch.device("cpu")) is None:
                assert torch.equal(e, p)
            else:
                assert d.max().item() <= 0.06 and d.mean().item() <= 0.01


def _dab(lab, cy, cx, r, value):
    yy, xx = np.mgrid[: lab.shape[0], : lab.shape[1]]
    out = lab.copy()
    out[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = value
    return out


def test_stroke_update_is_close_to_the_exact_render_and_recomputes_little():
    fast = _bundled()
    sr = StrokeRenderer(fast)
    assert sr.available
    z = torch.randn(1, 256, generator=torch.Generator().manual_seed(2))
    lab = _samples()[0]
    with torch.inference_mode():
        first = sr.render(torch.from_numpy(lab)[None], None, z, (8, 8))
        assert sr.last.full
        cur, shares = lab, []
        for i, (cy, cx) in enumerate([(120, 100), (126, 112), (132, 124)]):  # a 24-px brush moving
            cur = _dab(cur, cy, cx, 12, 3 + i % 2)
            got = sr.update(torch.from_numpy(cur)[None], None, z, (8, 8))
            assert not sr.last.full
            shares.append(sr.last.recomputed)
            want = fast.forward_labels(torch.from_numpy(cur)[None], None, z, (8, 8))
            d = (got - want).abs()
            assert d.max().item() <= 0.06 and d.mean().item() <= 0.01
        assert min(shares) < 0.5, shares  # most of the network was not recomputed
        assert (got - first).abs().max().item() > 0.1  # the stroke did change the picture
        # nothing changed: the cached image, no work
        again = sr.update(torch.from_numpy(cur)[None], None, z, (8, 8))
        assert torch.equal(again, got) and sr.last.recomputed == 0.0
        # a new style starts over with a full render
        z2 = torch.randn(1, 256, generator=torch.Generator().manual_seed(3))
        sr.update(torch.from_numpy(cur)[None], None, z2, (8, 8))
        assert sr.last.full


@pytest.mark.parametrize("use_vae,upsampling", [(False, "nearest"), (True, "nearest"), (True, "bilinear")])
def test_stroke_update_with_zero_tolerance_is_exact(use_vae, upsampling):
    """Tolerance 0 follows every change as far as it reaches: the crops, halos and per-level
    label boxes must then give the exact render (a wrong halo or box fails here; bilinear
    doubling reads one more source pixel per side)."""
    size = 64 if upsampling == "nearest" else 128
    cfg = GeneratorConfig(label_nc=6, ngf=8, crop_size=size, use_vae=use_vae, spade=SPADENormConfig("batch", 3, 16),
                          upsampling=upsampling)
    torch.manual_seed(4)
    g = _calm(SPADEGenerator(cfg))
    fast = optimize_for_inference(g)
    sr = StrokeRenderer(fast, tolerance=0.0)
    z = torch.randn(1, cfg.z_dim) if use_vae else None
    lab = _blocks_map(size, size, 6, 16, 1)
    with torch.inference_mode():
        sr.render(torch.from_numpy(lab)[None], None, z)
        for i, (cy, cx) in enumerate([(30, 20), (33, 26), (36, 32), (2, size - 4)]):
            lab = _dab(lab, cy, cx, 5, i % 6)
            got = sr.update(torch.from_numpy(lab)[None], None, z)
            want = fast.forward_labels(torch.from_numpy(lab)[None], None, z)
            assert (got - want).abs().max().item() <= EXACT, i
            assert not sr.last.full


def test_a_dab_that_misses_the_coarse_labels_skips_the_coarse_blocks():
    cfg = GeneratorConfig(label_nc=4, ngf=8, crop_size=128, use_vae=True, spade=SPADENormConfig("batch", 3, 16))
    torch.manual_seed(5)
    fast = optimize_for_inference(_calm(SPADEGenerator(cfg)))
    sr = StrokeRenderer(fast)
    z = torch.randn(1, cfg.z_dim)
    lab = np.zeros((128, 128), np.int64)
    calls = []
    block = fast.block
    fast.block = lambda blk, tab, x, pat, lowp=None, **kw: calls.append(x.shape[-1]) or block(blk, tab, x, pat, lowp, **kw)
    with torch.inference_mode():
        sr.render(torch.from_numpy(lab)[None], None, z)
        calls.clear()
        lab[5:9, 5:9] = 2  # the 4x4 and 8x8 levels sample pixels 0, 16, 32 ...: they see no change
        sr.update(torch.from_numpy(lab)[None], None, z)
    assert calls and min(calls) > 8, calls
    assert sr.last.recomputed < 0.2


def test_stroke_updates_are_refused_for_instance_norm_models():
    cfg = GeneratorConfig(label_nc=4, ngf=4, crop_size=64, spade=SPADENormConfig("instance", 3, 8))
    fast = optimize_for_inference(SPADEGenerator(cfg))
    sr = StrokeRenderer(fast)
    assert not sr.available
    lab = torch.from_numpy(_blocks_map(64, 64, 4, 8, 0))[None]
    with torch.inference_mode():
        a = sr.update(lab)
        assert sr.state is None
        b = fast.forward_labels(lab)
    assert (a - b).abs().max().item() <= EXACT


def test_synthesizer_uses_the_fast_path_and_matches_the_plain_network(tiny_model):
    from spade_studio.model.synthesize import Synthesizer

    fast = Synthesizer(tiny_model, device="cpu")
    plain = Synthesizer(tiny_model, device="cpu", fast=False)
    lab = _blocks_map(64, 96, 5, 6, seed=0).astype(np.uint8)
    a = fast.render(lab, seed=4).image.astype(int)
    b = plain.render(lab, seed=4).image.astype(int)
    assert np.abs(a - b).max() <= 1  # uint8 truncation of values equal within 1e-4
    assert fast.strokes.state is not None  # the exact render seeded the stroke cache
    p = fast.render(_dab(lab, 30, 40, 6, 2).astype(np.uint8), seed=4, quality="preview")
    assert p.image.shape == (64, 96, 3)
    with pytest.raises(ValueError, match="quality"):
        fast.render(lab, quality="best")


# -- GPU path (skips cleanly without one) ----------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_exact_and_graph_preview():
    fast = _bundled()
    fast.plain.cuda()
    preview = FastGenerator(fast.plain, "preview")
    z = torch.randn(1, 256, device="cuda")
    with torch.inference_mode():
        for sample in _samples()[:2]:  # same size twice: the second replays the captured graph
            lab = torch.from_numpy(sample)[None].cuda()
            plain = fast.plain(make_semantics(lab[:, None], None, fast.cfg), z, (8, 8))
            e = fast.forward_labels(lab, None, z, (8, 8))
            p = preview.forward_labels(lab, None, z, (8, 8))
            assert (e - plain).abs().max().item() <= EXACT
            d = (p - e).abs()
            assert d.max().item() <= 0.06 and d.mean().item() <= 0.01
    assert preview._half.graph_failure is None and len(preview._half._graphs) == 1


def test_gpu_preview_runs_eagerly_on_the_cpu_without_graphs():
    """The half-precision preview module itself, on the CPU (bf16 there; no graphs)."""
    from spade_studio.model.gpu import HalfPrecisionPreview

    fast = _bundled()
    half = HalfPrecisionPreview(fast.plain, torch.bfloat16, graphs=True)
    lab = torch.from_numpy(_samples()[0])[None]
    z = torch.randn(1, 256, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        sem = make_semantics(lab[:, None], None, fast.cfg)
        out = half(sem, z, (8, 8))
        ref = fast.plain(sem, z, (8, 8))
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert (out - ref).abs().mean().item() < 0.05 and not half._graphs  # no CUDA: no capture


def test_the_stroke_tolerance_rises_to_the_reduced_precision_noise(monkeypatch):
    """With bf16 blocks the cached exact outputs and a recomputed crop differ by rounding alone;
    a tolerance below that rounding marked the whole map as moved. The noise floor keeps the
    recompute local and the result within the preview bounds."""
    import spade_studio.model.fast as fast_mod

    cfg = GeneratorConfig(label_nc=6, ngf=64, crop_size=128, use_vae=True, spade=SPADENormConfig("batch", 3, 16))
    torch.manual_seed(6)
    g = _calm(SPADEGenerator(cfg))
    exact = optimize_for_inference(g)
    monkeypatch.setattr(fast_mod, "native_low_precision", lambda device: torch.bfloat16)  # bf16 on any CPU
    preview = FastGenerator(exact.plain, "preview")
    assert preview.block_lowp("head_0") == torch.bfloat16 and preview.block_lowp("conv_img") is None
    z = torch.randn(1, cfg.z_dim, generator=torch.Generator().manual_seed(1))
    lab = _blocks_map(128, 128, 6, 32, 2)
    dabbed = _dab(lab, 70, 58, 6, 5)  # misses the 4x4 and 8x8 levels' samples
    results = {}
    for floor in (True, False):
        sr = StrokeRenderer(preview)  # the default tolerance (2 %) is below this network's bf16 rounding
        if not floor:
            monkeypatch.setattr(sr, "_noise_floor", lambda latent, codes, keep: [0.0] * len(keep))
        with torch.inference_mode():
            sr.render(torch.from_numpy(lab)[None], None, z, generator=exact)
            got = sr.update(torch.from_numpy(dabbed)[None], None, z)
            levels = sr._noise[((1, 128, 128), cfg.latent_hw)]
        results[floor] = (sr.last.recomputed, got, levels)
    (share_on, got, levels), (share_off, _, _) = results[True], results[False]
    lowp_levels = [v for (name, _, _), v in zip(preview.layout(), levels) if preview.block_lowp(name) is not None]
    assert lowp_levels and min(lowp_levels) > 0.02  # the rounding is real and above the tolerance
    assert all(v == 0.0 for (name, _, _), v in zip(preview.layout(), levels) if preview.block_lowp(name) is None)
    assert share_off > 0.9 and share_on < 0.75, (share_on, share_off)
    with torch.inference_mode():
        want = exact.forward_labels(torch.from_numpy(dabbed)[None], None, z)
    d = (got - want).abs()
    assert d.max().item() <= 0.06 and d.mean().item() <= 0.01
    # an fp32 renderer has no floor: its tolerance stands
    sr = StrokeRenderer(exact, tolerance=0.002)
    with torch.inference_mode():
        sr.render(torch.from_numpy(lab)[None], None, z, generator=FastGenerator(exact.plain, "exact"))
        assert not sr._noise  # an exact render alone measures nothing (the CLI never pays for it)
        sr.update(torch.from_numpy(dabbed)[None], None, z)
    assert set(sr._noise[((1, 128, 128), cfg.latent_hw)]) == {0.0}


def test_large_allocations_are_kept_mapped_on_glibc_and_left_alone_elsewhere():
    import platform
    import sys

    from spade_studio.model import allocator

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert allocator.keep_large_allocations() is glibc
    assert allocator.keep_large_allocations() is glibc  # once per process, same answer
    if glibc:  # and renders still come out right with the heap serving the large blocks
        ref, d1, d2 = _compare(_random_net(), _blocks_map(64, 64, 5, 3, seed=1))
        assert d1 <= EXACT and d2 <= EXACT
