"""Layered projects: flattening label layers, OpenRaster save/load, PSD export, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from spade_studio.labelmap import flatten_layers


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
