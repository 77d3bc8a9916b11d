"""State-dict key tables of networks built from the official configs (../shared/reference/keys_*.txt)."""

from pathlib import Path

import pytest

from spade_studio.model import build_encoder, build_generator
from spade_studio.model.official import DATASET_PRESETS
from trainer import build_discriminator

REF = Path(__file__).resolve().parent / "data" / "reference"  # vendored from ../shared/reference


def read_table(name):
    rows = {}
    for line in (REF / name).read_text().splitlines():
        if not line.strip():
            continue
        key, shape = line.split("\t")
        rows[key] = tuple(int(s) for s in shape.strip("[] ").split(",") if s.strip())
    return rows


def table_of(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


CASES = [
    ("keys_coco_G.txt", "G", dict(DATASET_PRESETS["coco"])),
    ("keys_ade20k_G.txt", "G", dict(DATASET_PRESETS["ade20k"])),
    ("keys_cityscapes_G.txt", "G", dict(DATASET_PRESETS["cityscapes"])),
    ("keys_coco_vae_G.txt", "G", dict(DATASET_PRESETS["coco"], use_vae=True)),
    ("keys_E_crop256.txt", "E", dict(DATASET_PRESETS["coco"], use_vae=True)),
    ("keys_coco_D.txt", "D", dict(DATASET_PRESETS["coco"])),
    ("keys_ade20k_D.txt", "D", dict(DATASET_PRESETS["ade20k"])),
    ("keys_cityscapes_D.txt", "D", dict(DATASET_PRESETS["cityscapes"])),
]


@pytest.mark.parametrize("table,kind,opt", CASES, ids=[c[0] for c in CASES])
def test_key_table(table, kind, opt):
    assert (REF / table).exists(), f"{REF / table} is missing (vendored test data)"
    build = {"G": build_generator, "E": build_encoder, "D": build_discriminator}[kind]
    mine = table_of(build(opt))
    ref = read_table(table)
    assert set(mine) == set(ref), (sorted(set(ref) - set(mine))[:5], sorted(set(mine) - set(ref))[:5])
    for k, shape in ref.items():
        assert mine[k] == shape, k


def test_parameter_counts_match_reference():
    g = build_generator(DATASET_PRESETS["coco"])
    n = sum(p.numel() for p in g.parameters())
    assert n == 97_480_899
    e = build_encoder({"use_vae": True})
    assert sum(p.numel() for p in e.parameters()) == 10_463_424
