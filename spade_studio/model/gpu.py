"""GPU previews: the dense network in half precision, replayed from CUDA graphs per size.

On a GPU the dense convolutions are fast and host synchronisation is what costs, so the
pattern path of :mod:`.fast` (which asks the host how many distinct windows there are) is not
what previews use there. :class:`HalfPrecisionPreview` runs a half-precision copy of the
generator (fp16 on CUDA and MPS; bf16 on CUDA where fp16 is not supported well is not needed:
every CUDA GPU torch supports has fp16). On CUDA each input size is captured once as a CUDA
graph and replayed (the editor renders the same canvas size over and over); if capture fails
(an old driver, a torch build without graphs) it says so once and runs eagerly.

Nothing here runs without a GPU; ``tests/test_fast_inference.py`` has tests that skip cleanly
where there is none.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


class HalfPrecisionPreview(nn.Module):
    """``(semantics, z, latent_hw) -> image`` like the generator, in half precision on a GPU."""

    def __init__(self, generator: nn.Module, dtype: torch.dtype = torch.float16, graphs: bool = True) -> None:
        super().__init__()
        self.net = copy.deepcopy(generator).eval().to(dtype)
        self.dtype = dtype
        self.use_graphs = graphs
        self.graph_failure: str | None = None
        self._graphs: dict[tuple, tuple] = {}

    def forward(self, seg: torch.Tensor, z: torch.Tensor | None = None,
                latent_hw: tuple[int, int] | None = None) -> torch.Tensor:
        seg = seg.to(self.dtype)
        z = None if z is None else z.to(self.dtype)
        if not (self.use_graphs and seg.is_cuda and self.graph_failure is None):
            return self.net(seg, z, latent_hw).float()
        key = (tuple(seg.shape), None if z is None else tuple(z.shape), None if latent_hw is None else tuple(latent_hw))
        entry = self._graphs.get(key)
        if entry is None:
            try:
                entry = self._capture(seg, z, latent_hw)
            except Exception as e:  # noqa: BLE001 - any capture failure: run eagerly from now on
                self.graph_failure = f"{type(e).__name__}: {e}"
                warnings.warn(f"CUDA graph capture failed ({self.graph_failure}); previews run without graphs",
                              RuntimeWarning, stacklevel=2)
                return self.net(seg, z, latent_hw).float()
            self._graphs[key] = entry
        graph, static_seg, static_z, out = entry
        static_seg.copy_(seg)
        if static_z is not None:
            static_z.copy_(z)
        graph.replay()
        return out.float()  # a new tensor: the graph's output buffer is reused by the next replay

    def _capture(self, seg: torch.Tensor, z: torch.Tensor | None, latent_hw) -> tuple:
        if z is None and getattr(self.net, "cfg", None) is not None and self.net.cfg.use_vae:
            raise RuntimeError("a VAE model needs an explicit z to be captured")
        static_seg = seg.clone()
        static_z = None if z is None else z.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up: cuDNN picks its algorithms outside the capture
                self.net(static_seg, static_z, latent_hw)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self.net(static_seg, static_z, latent_hw)
        return graph, static_seg, static_z, out

    def release(self) -> None:
        """Drop the captured graphs (their memory pools)."""
        self._graphs.clear()
