"""--style-shuffle: the style encoder reads a tile-shuffled copy of the image; G still
reproduces the image itself."""

import copy

import pytest
import torch

from spade_studio.model.config import EncoderConfig, GeneratorConfig, SPADENormConfig
from spade_studio.model.encoder import StyleEncoder
from spade_studio.model.generator import SPADEGenerator
from trainer.augment import shuffle_tiles
from trainer.config import TrainConfig
from trainer.discriminator import OASISConfig, OASISDiscriminator
from trainer.loop import init_weights
from trainer.step import LossWeights, gan_step


def _tiles(x, grid):
    c, h, w = x.shape
    th, tw = h // grid, w // grid
    return x[:, : th * grid, : tw * grid].reshape(c, grid, th, grid, tw).permute(1, 3, 0, 2, 4).reshape(grid * grid, -1)


def test_shuffled_images_are_their_own_tiles_in_another_order():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 66, 70, generator=g)  # not a multiple of the grid: the rest stays in place
    y = shuffle_tiles(x, 1.0, 4, generator=g)
    assert y.shape == x.shape and y is not x
    moved = 0
    for a, b in zip(x, y):
        ta, tb = _tiles(a, 4), _tiles(b, 4)
        # the same 16 tiles (each tile is found whole in the other image), in another order
        match = (ta[:, None, :] == tb[None, :, :]).all(-1)
        assert match.sum(1).eq(1).all() and match.sum(0).eq(1).all()
        moved += int(not torch.equal(ta, tb))
        assert torch.equal(a[:, 64:, :], b[:, 64:, :]) and torch.equal(a[:, :, 68:], b[:, :, 68:])
        assert torch.allclose(a.mean((1, 2)), b.mean((1, 2)))  # the colours are the image's own
    assert moved == 6
    assert torch.equal(x, torch.rand(6, 3, 66, 70, generator=torch.Generator().manual_seed(0)))  # input untouched


def test_share_picks_that_share_of_the_batch_and_zero_is_the_image_itself():
    x = torch.rand(400, 1, 8, 8)
    assert shuffle_tiles(x, 0.0) is x
    y = shuffle_tiles(x, 0.5, 2, generator=torch.Generator().manual_seed(3))
    changed = (y != x).flatten(1).any(1).float().mean().item()
    assert 0.38 < changed < 0.6  # 0.5 picked; a pick that draws the identity order stays as it was
    with pytest.raises(ValueError):
        shuffle_tiles(x, 1.5)


def test_style_shuffle_is_a_validated_train_option():
    cfg = TrainConfig(data="d", out="o", style_shuffle=0.5)
    assert TrainConfig.from_dict(cfg.to_dict()).style_shuffle == 0.5
    assert TrainConfig(data="d", out="o", style_shuffle=2.0).problems() == ["--style-shuffle 2.0: must be at least 0 and at most 1"]
    assert cfg.problems() == []


def test_the_encoder_reads_the_style_input_and_g_is_scored_on_the_image():
    torch.manual_seed(0)
    gcfg = GeneratorConfig(label_nc=5, ngf=8, crop_size=64, use_vae=True, spade=SPADENormConfig("batch", 3, 16))
    G, D, E = SPADEGenerator(gcfg), OASISDiscriminator(OASISConfig(n_classes=5, ndf=8, depth=4)), \
        StyleEncoder(EncoderConfig(ngf=8))
    for m in (G, E):
        init_weights(m)
    lab = torch.randint(0, 5, (2, 1, 64, 64))
    sem = torch.zeros(2, 5, 64, 64).scatter_(1, lab, 1.0)
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    style = shuffle_tiles(real, 1.0, generator=torch.Generator().manual_seed(1))

    def step(style_input):
        g, d, e = (copy.deepcopy(n) for n in (G, D, E))
        seen = []
        e.register_forward_hook(lambda _m, inp, _o: seen.append(inp[0].detach().clone()))
        opt_g = torch.optim.Adam(list(g.parameters()) + list(e.parameters()), lr=1e-4)
        opt_d = torch.optim.Adam(d.parameters(), lr=1e-4)
        torch.manual_seed(7)
        res = gan_step(g, e, d, d, opt_g, opt_d, torch.amp.GradScaler("cpu", enabled=False), sem, real,
                       LossWeights(feat=10.0), style=style_input)
        return res, seen

    plain, seen_plain = step(None)
    shuffled, seen_shuffled = step(style)
    assert torch.equal(seen_plain[0], real) and torch.equal(seen_shuffled[0], style)
    # another style input, another z: the fakes differ; D's real-image loss is on the image either way
    assert not torch.allclose(plain.fake, shuffled.fake)
    assert torch.allclose(plain.d_real, shuffled.d_real, rtol=1e-4, atol=1e-5)
