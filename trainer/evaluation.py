"""Evaluation: the SPADE paper's protocol (segment generated images, compare with the input map) and its segmenter.

``train_segmenter`` fits a small U-Net on a dataset's real images; ``evaluate`` renders every label
map with a model, segments the result, and reports mIoU and pixel accuracy next to the
segmenter's own scores on the real images (the ceiling).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spade_studio.labels import LabelSet

SEGMENTER_FORMAT = "spade-studio-segmenter"


@dataclass(frozen=True)
class SegmenterConfig:
    num_classes: int
    width: int = 32
    depth: int = 4


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A small U-Net: RGB in [-1, 1] -> class logits at the input resolution."""

    def __init__(self, cfg: SegmenterConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.width * 2**i for i in range(cfg.depth)]
        self.down = nn.ModuleList()
        cin = 3
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.fuse.append(_block(2 * w, w))
            cin = w
        self.head = nn.Conv2d(cin, cfg.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** (self.cfg.depth - 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, blk in enumerate(self.down):
            x = blk(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for up, fuse in zip(self.up, self.fuse):
            x = up(x)
            x = fuse(torch.cat([x, skips.pop()], 1))
        return self.head(x)[..., :h, :w]


def save_segmenter(net: UNet, label_set: LabelSet, path: Path, extra: dict[str, Any]) -> Path:
    from safetensors.torch import save

    from spade_studio.imageio import atomic_write

    meta = {"format": SEGMENTER_FORMAT, "config": json.dumps(asdict(net.cfg)),
            "label_set": label_set.to_json(), "info": json.dumps(extra)}
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    return atomic_write(path, save(tensors, metadata=meta))


def load_segmenter(path: str | Path) -> tuple[UNet, LabelSet, dict[str, Any]]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    from spade_studio.model.official import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such segmenter file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        sd = load_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: not a readable segmenter file ({exc})") from None
    if meta.get("format") != SEGMENTER_FORMAT:
        raise CheckpointError(f"{path}: not a SPADE Studio segmenter")
    net = UNet(SegmenterConfig(**json.loads(meta["config"])))
    net.load_state_dict(sd)
    return net.eval(), LabelSet.from_json(meta["label_set"]), json.loads(meta.get("info", "{}"))


def class_index(label_set: LabelSet) -> tuple[np.ndarray, int]:
    """Map label ids to contiguous class indices (dontcare -> -1)."""
    ids = [i for i in label_set.ids if i != label_set.dontcare_id]
    lut = np.full(65536, -1, np.int64)
    for k, i in enumerate(ids):
        lut[i] = k
    return lut, len(ids)


def _load_pairs(root: Path, size: int, dataset_mode: str | None, label_set: LabelSet | None, split: str,
                limit: int | None = None):
    from . import datasets as ds
    from .augment import PreprocessConfig

    mode = dataset_mode or ds.detect_layout(root)
    ls = ds.resolve_label_set(root, label_set, mode)
    if ls is None:
        raise ValueError(f"{root}: no label set known (give --label-set)")
    samples = ds.find_samples(root, mode, split)
    if limit:
        samples = samples[:limit]
    pre = PreprocessConfig(mode="fixed", load_size=size, crop_size=size, aspect_ratio=1.0, flip=False)
    data = ds.PairedDataset(samples, pre, ls, train=False)
    items = [data[i] for i in range(len(data))]
    items = [it for it in items if it is not None]
    if not items:
        raise ValueError(f"{root}: no usable image/label pairs")
    return items, ls


def train_segmenter(data: str | Path, out: str | Path, *, size: int = 128, iters: int = 2000, batch: int = 16,
                    lr: float = 2e-3, width: int = 32, seed: int = 0, label_set: str | None = None,
                    dataset_mode: str | None = None, limit: int | None = None,
                    on_progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Fit the segmenter on real images of ``data``; returns its training-set scores."""
    torch.manual_seed(seed)
    items, ls = _load_pairs(Path(data), size, dataset_mode, label_set, "train", limit)
    lut, n_cls = class_index(ls)
    images = torch.stack([it["image"] for it in items])
    targets = torch.from_numpy(lut[torch.stack([it["label"][0] for it in items]).numpy()])
    net = UNet(SegmenterConfig(n_cls, width))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=iters)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    net.train()
    for it in range(1, iters + 1):
        idx = torch.randint(0, len(images), (batch,), generator=g)
        x, y = images[idx], targets[idx]
        if torch.rand((), generator=g) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        # colour jitter: brightness/contrast so that the segmenter does not key on exposure alone
        gain = 1 + 0.2 * (torch.rand(batch, 1, 1, 1, generator=g) - 0.5)
        x = (x * gain).clamp(-1, 1)
        loss = F.cross_entropy(net(x), y, ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if on_progress and (it % 50 == 0 or it == iters):
            on_progress({"step": it, "total": iters, "loss": float(loss.detach()), "elapsed_s": time.perf_counter() - t0})
    net.eval()
    scores = segment_scores(net, images, targets, n_cls)
    save_segmenter(net, ls, Path(out), {"data": str(data), "size": size, "iters": iters, "train_scores": scores})
    return scores


def confusion(pred: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    valid = target >= 0
    return np.bincount(n * target[valid] + pred[valid], minlength=n * n).reshape(n, n)


def scores_from_confusion(cm: np.ndarray, names: list[str] | None = None) -> dict[str, Any]:
    tp = np.diag(cm).astype(np.float64)
    gt = cm.sum(1).astype(np.float64)
    pr = cm.sum(0).astype(np.float64)
    union = gt + pr - tp
    present = gt > 0
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    out = {
        "mIoU": float(np.nanmean(iou[present])) if present.any() else float("nan"),
        "pixel_accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "classes_present": int(present.sum()),
    }
    if names:
        out["per_class_IoU"] = {names[i]: (None if not present[i] else round(float(iou[i]), 4))
                                for i in range(len(names))}
    return out


@torch.no_grad()
def predict(net: UNet, images: torch.Tensor, batch: int = 32) -> np.ndarray:
    out = []
    for i in range(0, len(images), batch):
        out.append(net(images[i:i + batch]).argmax(1).numpy())
    return np.concatenate(out)


def segment_scores(net: UNet, images: torch.Tensor, targets: torch.Tensor, n_cls: int,
                   names: list[str] | None = None) -> dict[str, Any]:
    pred = predict(net, images)
    return scores_from_confusion(confusion(pred.ravel(), targets.numpy().ravel(), n_cls), names)


def evaluate(model: str | Path, data: str | Path, segmenter: str | Path, *, size: int | None = None,
             split: str = "train", limit: int | None = None, device: str = "cpu", style: str = "image",
             seed: int = 0) -> dict[str, Any]:
    """Render every label map of ``data`` with ``model``, segment, score; plus the real-image ceiling.

    ``style``: ``image`` encodes each real image (models with an encoder), ``seed`` draws z."""
    from spade_studio.model import Synthesizer
    from spade_studio.model.images import image_to_tensor

    net, seg_ls, info = load_segmenter(segmenter)
    size = size or int(info.get("size", 128))
    synth = Synthesizer(model, device=device)
    items, ls = _load_pairs(Path(data), size, None, None, split, limit)
    names_model = [lab.name for lab in synth.label_set if lab.id != synth.label_set.dontcare_id]
    names_seg = [lab.name for lab in seg_ls if lab.id != seg_ls.dontcare_id]
    if names_model != names_seg or [lab.name for lab in ls] != [lab.name for lab in seg_ls]:
        raise ValueError("the model, the segmenter and the data must share one label set "
                         f"({synth.label_set.name} / {seg_ls.name} / {ls.name})")
    lut, n_cls = class_index(seg_ls)
    real = torch.stack([it["image"] for it in items])
    targets = torch.from_numpy(lut[torch.stack([it["label"][0] for it in items]).numpy()])
    fakes = []
    t0 = time.perf_counter()
    use_image = style == "image" and synth.has_encoder
    for it in items:
        lab = it["label"][0].numpy()
        if use_image:
            rgb = ((it["image"].permute(1, 2, 0).numpy() + 1) / 2 * 255).clip(0, 255).astype(np.uint8)
            res = synth.render(lab, style_image=rgb)
        else:
            res = synth.render(lab, seed=seed)
        fakes.append(image_to_tensor(res.image))
    render_s = time.perf_counter() - t0
    fake = torch.stack(fakes)
    gen = segment_scores(net, fake, targets, n_cls, names_seg)
    ceiling = segment_scores(net, real, targets, n_cls, names_seg)
    return {
        "model": str(model), "data": str(data), "segmenter": str(segmenter), "images": len(items), "size": size,
        "style": "encoded real image" if use_image else f"seed {seed}",
        "generated": gen, "real": ceiling,
        "mIoU_ratio": gen["mIoU"] / ceiling["mIoU"] if ceiling["mIoU"] else None,
        "render_s_per_image": render_s / len(items),
    }


def format_table(result: dict[str, Any]) -> str:
    g, r = result["generated"], result["real"]
    lines = [
        f"evaluation of {result['model']} on {result['images']} maps ({result['size']}px, style: {result['style']})",
        f"{'':22}{'mIoU':>8}{'pixel acc':>12}",
        f"{'generated images':22}{g['mIoU'] * 100:>7.1f}%{g['pixel_accuracy'] * 100:>11.1f}%",
        f"{'real images (ceiling)':22}{r['mIoU'] * 100:>7.1f}%{r['pixel_accuracy'] * 100:>11.1f}%",
    ]
    if result.get("mIoU_ratio") is not None:
        lines.append(f"generated / real mIoU: {result['mIoU_ratio'] * 100:.1f}%")
    return "\n".join(lines)
