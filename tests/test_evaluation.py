"""The paper's evaluation protocol: segmenter training, mIoU / pixel accuracy of renders."""

import json

import numpy as np
import pytest

from trainer.evaluation import confusion, scores_from_confusion


def test_scores_from_confusion_by_hand():
    target = np.array([0, 0, 1, 1, 2, -1])
    pred = np.array([0, 1, 1, 1, 0, 2])
    cm = confusion(pred, target, 3)
    s = scores_from_confusion(cm)
    # class 0: tp 1, union 3 -> 1/3; class 1: tp 2, union 3 -> 2/3; class 2: tp 0 -> 0
    assert s["mIoU"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert s["pixel_accuracy"] == pytest.approx(3 / 5)


@pytest.mark.slow
def test_train_segmenter_and_evaluate(tmp_path, tiny_model):
    from spade_studio.cli import main
    from trainer.landscapes import make_landscapes

    data = tmp_path / "land"
    make_landscapes(data, 6, size=64, seed=2)
    seg = tmp_path / "seg.safetensors"
    assert main(["train-segmenter", "--data", str(data), "--out", str(seg), "--size", "64", "--iters", "15",
                 "--batch", "4", "--width", "8"]) == 0
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tiny_model), "--data", str(data), "--segmenter", str(seg),
                 "--json-out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["images"] == 6 and res["size"] == 64
    for part in ("generated", "real"):
        assert 0 <= res[part]["mIoU"] <= 1 and 0 <= res[part]["pixel_accuracy"] <= 1
    assert res["style"] == "encoded real image"
    assert main(["evaluate", str(tiny_model), "--data", str(data), "--segmenter", str(tmp_path / "none.st")]) == 1
