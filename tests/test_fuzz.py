"""Issue 13 item 8: one error vocabulary. Fuzzed inputs to the opt.txt -> config path, the
model-metadata reader and the label-map reader either succeed or raise one of the documented
error classes (never ZeroDivisionError, OverflowError, TypeError, a bare ValueError ...)."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spade_studio.imageio import ImageReadError, read_label_map
from spade_studio.labels import LabelError, LabelSet, load_label_set
from spade_studio.model.checkpoint import MODEL_FORMAT, parse_model_metadata
from spade_studio.model.config import (
    ConfigError,
    GeneratorConfig,
    encoder_config_from_official,
    generator_config_from_official,
)
from spade_studio.model.official import CheckpointError, parse_opt_txt

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # PIL on damaged files
DOCUMENTED = (CheckpointError, LabelError, ImageReadError, ConfigError)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_documented(fn, *args):
    try:
        return fn(*args)
    except DOCUMENTED as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None
    except Exception as exc:  # noqa: BLE001 - what the property forbids
        pytest.fail(f"{type(exc).__name__} leaked: {exc!r} for {args!r}"[:2000])


# --- opt.txt ---------------------------------------------------------------------------------
OPT_NAMES = ["label_nc", "ngf", "z_dim", "crop_size", "aspect_ratio", "norm_G", "norm_E", "use_vae",
             "num_upsampling_layers", "semantic_nc", "contain_dontcare_label", "no_instance", "E_crop_size",
             "spade_hidden"]
weird_numbers = st.sampled_from(["0", "-5", "1e400", "-1e400", "nan", "inf", "1e30", "0.5", "3.0", "99999999999999999999",
                                 "", "None", "True", "abc", "0x10", "1_000", " 7 ", "2.5e3", "-0", "1e-400"])
values = st.one_of(weird_numbers, st.integers(-10**30, 10**30).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=30),
                   st.sampled_from(["spectralspadesyncbatch3x3", "spadeinstance5x5", "spadebatch0x0",
                                    "spectralspadegroup3x3", "spectralinstance", "spectralnone", "spectral",
                                    "normal", "more", "most", "lots"]))


def _opt_to_config(text: str):
    opts = parse_opt_txt(text)
    cfg = generator_config_from_official(opts, 128)
    encoder_config_from_official(opts)
    return cfg


@FUZZ
@given(st.dictionaries(st.sampled_from(OPT_NAMES), values, max_size=8))
def test_fuzz_opt_txt_values(opts):
    text = "".join(f"{k}: {v}\t[default: 1]\n" for k, v in opts.items())
    cfg = only_documented(_opt_to_config, text)
    if cfg is not None:
        assert isinstance(cfg.ngf, int) and 1 <= cfg.ngf <= 256
        assert math.isfinite(cfg.aspect_ratio)
        assert min(cfg.latent_hw) >= 1


@FUZZ
@given(st.text(max_size=400))
def test_fuzz_opt_txt_free_text(text):
    only_documented(_opt_to_config, text)


# --- model metadata --------------------------------------------------------------------------
GOOD_GEN = GeneratorConfig(label_nc=15, ngf=4, crop_size=64, use_vae=True).to_dict()
GOOD_LS = load_label_set("landscape").to_dict()
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_any = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)


def _meta(gen, ls, enc="null", version="1", extra=None):
    m = {"format": MODEL_FORMAT, "format_version": version, "generator": gen, "encoder": enc, "label_set": ls,
         "provenance": "{}", "official": "false"}
    m.update(extra or {})
    return m


@FUZZ
@given(st.sampled_from(sorted(GOOD_GEN)), json_any)
def test_fuzz_metadata_generator_fields(field, value):
    gen = dict(GOOD_GEN)
    gen[field] = value
    only_documented(parse_model_metadata, _meta(json.dumps(gen), json.dumps(GOOD_LS)), "m.safetensors")


@FUZZ
@given(st.sampled_from(["param_free_norm", "kernel_size", "hidden", "bogus"]), json_any)
def test_fuzz_metadata_spade_fields(field, value):
    gen = json.loads(json.dumps(GOOD_GEN))
    gen["spade"][field] = value
    only_documented(parse_model_metadata, _meta(json.dumps(gen), json.dumps(GOOD_LS)), "m.safetensors")


@FUZZ
@given(json_any, st.integers(0, 14), st.sampled_from(["id", "name", "color", "labels", "dontcare_id", "name_top"]))
def test_fuzz_metadata_label_set(value, index, field):
    ls = json.loads(json.dumps(GOOD_LS))
    if field == "labels":
        ls["labels"] = value
    elif field == "dontcare_id":
        ls["dontcare_id"] = value
    elif field == "name_top":
        ls["name"] = value
    else:
        ls["labels"][index][field] = value
    only_documented(parse_model_metadata, _meta(json.dumps(GOOD_GEN), json.dumps(ls)), "m.safetensors")


@FUZZ
@given(st.dictionaries(st.sampled_from(["format", "format_version", "generator", "encoder", "label_set",
                                        "provenance", "official", "other"]),
                       st.one_of(st.text(max_size=40), json_any.map(json.dumps)), max_size=8))
def test_fuzz_metadata_entries(entries):
    meta = _meta(json.dumps(GOOD_GEN), json.dumps(GOOD_LS))
    meta.update(entries)
    only_documented(parse_model_metadata, meta, "m.safetensors")


@FUZZ
@given(json_any)
def test_fuzz_metadata_encoder(enc):
    only_documented(parse_model_metadata, _meta(json.dumps(GOOD_GEN), json.dumps(GOOD_LS), json.dumps(enc)),
                    "m.safetensors")


def test_metadata_of_a_good_model_parses():
    md = parse_model_metadata(_meta(json.dumps(GOOD_GEN), json.dumps(GOOD_LS)), "m")
    assert md.generator.label_nc == 15 and len(md.label_set) == 15


# --- label maps ------------------------------------------------------------------------------
def _png_bytes(mode: str, w: int, h: int, seed: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    if mode in ("I;16", "I"):
        arr = rng.integers(0, 70000 if mode == "I" else 65535, (h, w)).astype(np.int32 if mode == "I" else np.uint16)
        img = Image.fromarray(arr) if mode == "I" else Image.fromarray(arr.astype(np.uint16))
    elif mode == "F":
        img = Image.fromarray(rng.normal(size=(h, w)).astype(np.float32))
    else:
        n = {"L": 1, "P": 1, "1": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
        arr = rng.integers(0, 256, (h, w, n) if n > 1 else (h, w)).astype(np.uint8)
        img = Image.fromarray(arr.reshape(h, w) if n == 1 else arr)
        if mode in ("P", "1", "CMYK"):
            img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="TIFF" if mode in ("F", "CMYK", "I") else "PNG")
    return buf.getvalue()


@FUZZ
@given(st.sampled_from(["L", "P", "1", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]), st.integers(1, 12),
       st.integers(1, 12), st.integers(0, 2**31), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)),
                                                            max_size=6),
       st.one_of(st.none(), st.integers(0, 4000)), st.booleans())
def test_fuzz_label_map_reader(tmp_path_factory, mode, w, h, seed, flips, cut, with_set):
    data = bytearray(_png_bytes(mode, w, h, seed))
    for pos, val in flips:
        if data:
            data[pos % len(data)] = val
    if cut is not None:
        data = data[:cut]
    path = tmp_path_factory.mktemp("lm") / "map.png"
    path.write_bytes(bytes(data))
    res = only_documented(read_label_map, path, load_label_set("landscape") if with_set else None)
    if res is not None:
        assert res.ids.ndim == 2 and res.ids.dtype in (np.uint8, np.uint16)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_label_map_reader_random_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("lm") / "map.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    only_documented(read_label_map, path, None)


@FUZZ
@given(json_any)
def test_fuzz_label_set_json(value):
    only_documented(LabelSet.from_json, json.dumps(value))


# --- colour label maps (Q3: decoded in strips) ----------------------------------------------
@FUZZ
@given(st.integers(1, 40), st.integers(1, 3000), st.integers(0, 2**32 - 1), st.integers(0, 6), st.booleans())
def test_fuzz_colors_to_ids_matches_a_per_pixel_lookup(h, w, seed, n_foreign, shared):
    """colors_to_ids (strip-wise since Q3) gives the ids a per-colour dictionary gives, or one
    LabelError naming exactly the colours that map to none / several labels, with pixel counts
    and first positions over the whole image."""
    rng = np.random.default_rng(seed)
    labels = [{"id": int(i), "name": f"l{i}", "color": [int(c) for c in rng.integers(0, 256, 3)]}
              for i in rng.choice(300, 6, replace=False)]
    if shared:
        labels[1]["color"] = list(labels[0]["color"])
    ls = LabelSet.from_dict({"name": "fz", "labels": labels})
    ids = rng.choice([lab["id"] for lab in labels], (h, w))
    lut = {lab["id"]: tuple(lab["color"]) for lab in labels}
    rgb = np.zeros((h, w, 3), np.uint8)
    for i, c in lut.items():
        rgb[ids == i] = c
    for _ in range(n_foreign):
        rgb[rng.integers(h), rng.integers(w)] = rng.integers(0, 256, 3)
    by_color: dict[tuple, list[int]] = {}
    for lab in labels:
        by_color.setdefault(tuple(lab["color"]), []).append(lab["id"])
    flat = rgb.reshape(-1, 3)
    bad = {}
    for k, px in enumerate(map(tuple, flat.tolist())):
        if len(by_color.get(px, [])) != 1:
            bad.setdefault(px, [0, k])[0] += 1
    if bad:
        with pytest.raises(LabelError) as e:
            ls.colors_to_ids(rgb, where="m.png")
        msg = str(e.value)
        assert msg.startswith(f"m.png: {len(bad)} colour(s) cannot be mapped"), msg
        for px, (count, k) in sorted(bad.items(), key=lambda kv: (kv[0][0] << 16) | (kv[0][1] << 8) | kv[0][2])[:8]:
            y, x = divmod(k, w)
            assert f"colour {px} matches" in msg and f"{count} px, first at x={x}, y={y})" in msg, (px, msg)
    else:
        got = ls.colors_to_ids(rgb, where="m.png")
        want = np.array([by_color[px][0] for px in map(tuple, flat.tolist())]).reshape(h, w)
        assert np.array_equal(got, want)
        assert got.dtype == (np.uint8 if max(lab["id"] for lab in labels) < 256 else np.uint16)
