"""opt.txt parsing, official folders and .pth files, refusal of unsafe checkpoints, config variants."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spade_studio.model import build_encoder, build_generator, load_official_state_dict
from spade_studio.model.config import GeneratorConfig, generator_config_from_official
from spade_studio.model.layers import fold_spectral_norm
from spade_studio.model.official import (
    CheckpointError,
    infer_options,
    load_official,
    parse_opt_txt,
    read_state_dict,
)

OPT_DIR = Path(__file__).resolve().parent / "data" / "reference" / "opt_txt"  # vendored

EXPECTED = {
    # dataset: (label_nc, dontcare, no_instance, crop, aspect, upsampling, semantic_nc)
    "coco": (182, True, False, 256, 1.0, "normal", 184),
    "ade20k": (150, True, True, 256, 1.0, "normal", 151),
    "cityscapes": (35, False, False, 512, 2.0, "more", 36),
    "facades": (13, False, True, 256, 1.0, "normal", 13),
    "custom": (13, False, False, 256, 1.0, "normal", 14),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_opt_txt(name):
    path = OPT_DIR / f"{name}-opt.txt"
    assert path.exists(), f"{path} is missing (vendored test data)"
    opt = parse_opt_txt(path.read_text())
    label_nc, dontcare, no_inst, crop, aspect, up, snc = EXPECTED[name]
    assert opt["label_nc"] == label_nc
    assert opt["contain_dontcare_label"] is dontcare
    assert opt["no_instance"] is no_inst
    assert opt["crop_size"] == crop
    assert opt["aspect_ratio"] == aspect
    assert opt["num_upsampling_layers"] == up
    assert opt["dataset_mode"] == name
    assert opt["norm_G"] == "spectralspadesyncbatch3x3"
    assert opt["lr"] == pytest.approx(0.0002)
    assert isinstance(opt["niter"], int)
    cfg = generator_config_from_official(opt)
    assert cfg.semantic_nc == snc


def test_parse_opt_handles_defaults_and_headers():
    text = "----------------- Options ---------------\n" \
           "                 label_nc: 7                             \t[default: 182]\n" \
           "                  use_vae: True                          \t[default: False]\n" \
           "             instance_dir:                               \n" \
           "----------------- End -------------------\n"
    opt = parse_opt_txt(text)
    assert opt == {"label_nc": 7, "use_vae": True, "instance_dir": ""}


def _random_folder(tmp_path, cfg_overrides, opt_name="coco", with_e=True, write_opt=True):
    assert not write_opt or (OPT_DIR / f"{opt_name}-opt.txt").exists(), "vendored opt samples missing"
    torch.manual_seed(1)
    opt = dict(label_nc=20, contain_dontcare_label=True, no_instance=False, ngf=8, crop_size=64, use_vae=True)
    opt.update(cfg_overrides)
    G = build_generator(opt)
    G.train()
    with torch.no_grad():
        c = generator_config_from_official(opt).semantic_nc
        G(torch.rand(2, c, 64, 64).round(), torch.randn(2, 256) if opt["use_vae"] else None)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    torch.save(G.state_dict(), folder / "latest_net_G.pth")
    if with_e and opt["use_vae"]:
        torch.save(build_encoder(opt).state_dict(), folder / "latest_net_E.pth")
    if write_opt:
        text = (OPT_DIR / f"{opt_name}-opt.txt").read_text()
        lines = []
        for line in text.splitlines():
            name = line.split(":")[0].strip()
            if name in opt:
                line = f"{name:>25}: {opt[name]}"
            lines.append(line)
        (folder / "opt.txt").write_text("\n".join(lines) + "\n")
    return folder, G


def test_official_folder_loads_and_matches(tmp_path):
    folder, G = _random_folder(tmp_path, {})
    ck = load_official(folder)
    assert ck.generator.label_nc == 20 and ck.generator.use_vae and ck.generator.ngf == 8
    assert ck.encoder is not None and ck.E_state_dict is not None
    G2 = load_official_state_dict(build_generator(ck.generator.to_official()), ck.G_state_dict).eval()
    G.eval()
    sem = torch.zeros(1, 22, 64, 64)
    sem[:, 3] = 1
    z = torch.randn(1, 256)
    with torch.no_grad():
        assert torch.equal(G(sem, z), G2(sem, z))


def test_bare_pth_with_dataset_and_inference(tmp_path):
    opt = dict(label_nc=150, contain_dontcare_label=True, no_instance=True, ngf=4, crop_size=64, use_vae=False)
    folder, _ = _random_folder(tmp_path, opt, write_opt=False)
    ck = load_official(folder / "latest_net_G.pth", dataset="ade20k")
    assert ck.generator.label_nc == 150 and not ck.generator.use_instance
    ck2 = load_official(folder / "latest_net_G.pth")  # inferred from 151 channels
    assert ck2.dataset_mode == "ade20k"
    assert any("151" in n for n in ck2.notes)
    with pytest.raises(CheckpointError, match="input channels"):
        load_official(folder / "latest_net_G.pth", dataset="coco")


def test_infer_options_from_shapes():
    opt = dict(label_nc=35, contain_dontcare_label=False, no_instance=False, ngf=4, crop_size=256,
               aspect_ratio=2.0, num_upsampling_layers="most", norm_G="spadeinstance5x5")
    sd = build_generator(opt).state_dict()
    inferred, _ = infer_options(sd, None)
    assert inferred["dataset_mode"] == "cityscapes"
    assert inferred["num_upsampling_layers"] == "most"
    assert inferred["norm_G"] == "spadeinstance5x5"
    assert inferred["ngf"] == 4


def test_incompatible_checkpoint_names_keys(tmp_path):
    folder, _ = _random_folder(tmp_path, {})
    sd = torch.load(folder / "latest_net_G.pth", weights_only=True)
    del sd["head_0.conv_0.bias"]
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, folder / "latest_net_G.pth")
    with pytest.raises(CheckpointError) as ei:
        load_official(folder)
    msg = str(ei.value)
    assert "head_0.conv_0.bias" in msg and "extra.weight" in msg


MALICIOUS = r'''
import os, pickle, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
torch.save({"fc.weight": torch.zeros(1), "x": Evil()}, sys.argv[1])
'''


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    bad = tmp_path / "evil.pth"
    marker = tmp_path / "pwned.txt"
    subprocess.run([sys.executable, "-c", MALICIOUS, str(bad), str(marker)], check=True)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        read_state_dict(bad)
    assert not marker.exists()
    folder = tmp_path / "folder"
    folder.mkdir()
    bad.rename(folder / "latest_net_G.pth")
    (folder / "opt.pkl").write_bytes(b"not read")
    with pytest.raises(CheckpointError, match="refused"):
        load_official(folder)
    assert not marker.exists()


def test_non_state_dict_is_refused(tmp_path):
    p = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], p)
    with pytest.raises(CheckpointError, match="not a state dict"):
        read_state_dict(p)
    p2 = tmp_path / "nested.pth"
    torch.save({"state_dict": {"a": torch.zeros(1)}}, p2)
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        read_state_dict(p2)


VARIANTS = [
    dict(norm_G="spadeinstance3x3"),
    dict(norm_G="spectralspadebatch5x5"),
    dict(norm_G="spadesyncbatch3x3", num_upsampling_layers="most", crop_size=128),
    dict(num_upsampling_layers="more", aspect_ratio=2.0, crop_size=128, use_vae=True),
    dict(crop_size=160, aspect_ratio=2.0, num_upsampling_layers="normal"),
]


@pytest.mark.parametrize("over", VARIANTS)
def test_variants_build_run_and_fold_exactly(over):
    opt = dict(label_nc=5, contain_dontcare_label=False, no_instance=True, ngf=4, crop_size=64)
    opt.update(over)
    cfg = generator_config_from_official(opt)
    G = build_generator(opt)
    keys = G.state_dict().keys()
    assert ("head_0.conv_0.weight_orig" in keys) == ("spectral" in cfg.norm_G)
    assert ("head_0.norm_0.param_free_norm.running_mean" in keys) == ("batch" in cfg.norm_G)
    assert G.head_0.norm_0.mlp_shared[0].weight.shape[-1] == cfg.spade.kernel_size
    G.train()
    sem = torch.zeros(2, cfg.semantic_nc, *cfg.output_hw)
    sem[:, 1, : cfg.output_hw[0] // 2] = 1
    sem[:, 2, cfg.output_hw[0] // 2:] = 1
    z = torch.randn(2, 256) if cfg.use_vae else None
    with torch.no_grad():
        G(sem, z)
        G.eval()
        a = G(sem, z)
        assert a.shape[-2:] == torch.Size(cfg.output_hw)
        fold_spectral_norm(G)
        b = G(sem, z)
    assert (a - b).abs().max().item() < 1e-5


def test_latent_size_uses_round_half_even():
    cfg = GeneratorConfig(label_nc=3, crop_size=160, aspect_ratio=2.0)
    assert cfg.latent_hw == (2, 5)  # round(2.5) == 2
    assert cfg.output_hw == (64, 160)
