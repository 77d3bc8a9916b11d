"""Label map (+ instance map) -> the exact semantic tensor the generator receives.

Channels: one-hot classes ``0..label_nc-1``, then the dontcare channel (when the model has
one), then the instance-edge channel (when the model uses instances).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..labels import DONTCARE_VALUE, format_ids, ids_outside
from .config import GeneratorConfig, generator_config_from_official


def instance_edges(instance: torch.Tensor) -> torch.Tensor:
    """Edge map of an integer instance tensor ``[N, 1, H, W]`` -> float 0/1, same shape.

    A pixel is an edge iff a 4-neighbour inside the image has another id; both pixels of
    every differing pair are marked."""
    edge = torch.zeros(instance.shape, dtype=torch.bool, device=instance.device)
    dx = instance[..., :, 1:] != instance[..., :, :-1]
    dy = instance[..., 1:, :] != instance[..., :-1, :]
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge.float()


def regions_as_instances(label: np.ndarray) -> np.ndarray:
    """Instance map from connected regions (4-connectivity) of each label: ``[H, W]`` int32.

    Used when a model wants instance edges and the user has no instance map: every
    connected area of one label becomes one instance, so edges appear at label borders."""
    from ..raster import connected_components

    out = np.zeros(label.shape, np.int32)
    next_id = 0
    for value in np.unique(label):
        n, comp, _ = connected_components(label == value, 4)
        sel = comp > 0
        out[sel] = comp[sel] + next_id
        next_id += n + 1
    return out


def _as_config(config: GeneratorConfig | dict[str, Any]) -> GeneratorConfig:
    return config if isinstance(config, GeneratorConfig) else generator_config_from_official(config)


def allowed_label_values(config: GeneratorConfig | dict[str, Any]) -> list[int]:
    """The label values a model accepts (255 = dontcare when the model has that channel)."""
    cfg = _as_config(config)
    values = list(range(cfg.label_nc))
    if cfg.contain_dontcare_label:
        values += [cfg.label_nc, DONTCARE_VALUE]
    return sorted(set(values))


def label_indices(label: torch.Tensor, instance: torch.Tensor | None,
                  config: GeneratorConfig | dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``label`` int ``[N,1,H,W]`` (+ ``instance``) -> class indices ``[N,H,W]`` int64 (255 mapped
    to the dontcare index) and, for models that use instances, the 0/1 edge map ``[N,H,W]``.

    The same checks and conventions as :func:`make_semantics`, without the one-hot tensor."""
    cfg = _as_config(config)
    if label.dim() == 3:
        label = label.unsqueeze(1)
    if label.dim() != 4 or label.shape[1] != 1:
        raise ValueError(f"label must be [N,1,H,W], got {tuple(label.shape)}")
    label = label.long()
    nc = cfg.label_nc + int(cfg.contain_dontcare_label)
    if cfg.contain_dontcare_label:
        label = torch.where(label == DONTCARE_VALUE, torch.full_like(label, cfg.label_nc), label)
    bad = (label < 0) | (label >= nc)
    if bool(bad.any()):
        ids = ids_outside(torch.unique(label).cpu().numpy(), range(nc))
        raise ValueError(
            f"label id(s) {format_ids(ids)} outside the model's {cfg.label_nc} classes"
            + (" (+ dontcare)" if cfg.contain_dontcare_label else "")
        )
    n, _, h, w = label.shape
    edge = None
    if cfg.use_instance:
        if instance is None:
            inst = np.stack([regions_as_instances(label[i, 0].cpu().numpy()) for i in range(n)])
            instance = torch.from_numpy(inst).unsqueeze(1).to(label.device)
        if instance.dim() == 3:
            instance = instance.unsqueeze(1)
        if tuple(instance.shape[-2:]) != (h, w):
            raise ValueError(
                f"instance map size {tuple(instance.shape[-2:])} does not match label size {(h, w)}"
            )
        edge = instance_edges(instance.long())[:, 0].long()
    return label[:, 0], edge


def make_semantics(label: torch.Tensor, instance: torch.Tensor | None,
                   config: GeneratorConfig | dict[str, Any]) -> torch.Tensor:
    """``label`` int ``[N,1,H,W]`` (+ ``instance`` int ``[N,1,H,W]``) -> float32 ``[N, semantic_nc, H, W]``.

    ``config`` is a :class:`GeneratorConfig` or a dict of official option names. Value 255
    becomes the dontcare index ``label_nc`` when the model has a dontcare channel. Label ids
    outside the model's range raise ``ValueError`` naming them. If the model uses instance
    edges and ``instance`` is None, regions of equal label are used as instances.
    """
    cfg = _as_config(config)
    idx, edge = label_indices(label, instance, cfg)
    n, h, w = idx.shape
    nc = cfg.label_nc + int(cfg.contain_dontcare_label)
    sem = torch.zeros(n, nc, h, w, dtype=torch.float32, device=idx.device)
    sem.scatter_(1, idx[:, None], 1.0)
    if edge is not None:
        sem = torch.cat([sem, edge[:, None].float()], dim=1)
    return sem
