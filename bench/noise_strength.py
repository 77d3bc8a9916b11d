"""Scale the learned noise-input strengths of some generator blocks.

    python bench/noise_strength.py show MODEL
    python bench/noise_strength.py model IN OUT --blocks up_0,up_1,up_2,up_3 --factor 2
    python bench/noise_strength.py run SRC_RUN DST_RUN --blocks up_0,up_1,up_2,up_3 --factor 2

``model`` writes a model file whose strengths are scaled (everything else is kept, the
metadata too): a probe of what stronger noise does, measured with ``bench/model_quality.py``.
``run`` copies a training run's newest checkpoint into a new run folder with the strengths of
its generator and of the generator's EMA scaled (the optimiser state is kept), so that
``train --resume --out DST_RUN`` fine-tunes from there (``bench/train_default_model.sh``
step 4c). Generation 2's strengths stayed near their start, 0.1 (Adam moves a parameter by
about the learning rate per step, and their gradient's sign keeps changing), while scaling
those of the four up blocks by 1.5-2 lowered SWD and streaks (model card, "Generation 2.1").
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402


def _scale(state: dict, blocks: set[str], factor: float, prefix: str = "") -> list[str]:
    done = []
    for name in list(state):
        if not name.endswith("noise_strength"):
            continue
        block = name[len(prefix):].split(".")[0] if name.startswith(prefix) else None
        if block in blocks:
            state[name] = state[name] * factor
            done.append(name)
    return done


def _read_model(path: Path) -> tuple[dict, dict | None]:
    """(tensors, metadata) of a model file, or one line saying why it cannot be read."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise SystemExit(f"{path}: no such model file")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        return load_file(str(path)), meta
    except Exception as e:  # safetensors raises its own error types
        raise SystemExit(f"{path}: not a readable .safetensors model file ({str(e).splitlines()[0]})") from None


def strengths(path: Path) -> dict[str, float]:
    return {k: float(v.float().abs().mean()) for k, v in _read_model(path)[0].items() if k.endswith("noise_strength")}


def scale_model(src: Path, dst: Path, blocks: set[str], factor: float) -> list[str]:
    from safetensors.torch import save

    from spade_studio.imageio import atomic_write

    state, meta = _read_model(src)
    done = _scale(state, blocks, factor, "G.")
    if not done:
        raise SystemExit(f"{src}: no noise strengths of blocks {sorted(blocks)}")
    if meta and "provenance" in meta:  # the file says what was done to it
        prov = json.loads(meta["provenance"])
        prov.setdefault("edits", []).append({"noise_strength_factor": factor, "blocks": sorted(blocks),
                                             "by": "bench/noise_strength.py"})
        meta = dict(meta, provenance=json.dumps(prov))
    atomic_write(dst, save(state, metadata=meta))
    return done


def scale_run(src: Path, dst: Path, blocks: set[str], factor: float) -> Path:
    ckpts = sorted((src / "checkpoints").glob("ckpt_*.pt"))
    if not ckpts:
        raise SystemExit(f"{src}: no checkpoint")
    if dst.exists():
        raise SystemExit(f"{dst} exists: choose a new run folder")
    try:
        state = torch.load(ckpts[-1], map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise SystemExit(f"{ckpts[-1]}: not a readable checkpoint ({str(e).splitlines()[0]})") from None
    done = [n for part in ("G", "G_ema") if part in state for n in _scale(state[part], blocks, factor)]
    if not done:
        raise SystemExit(f"{ckpts[-1]}: no noise strengths of blocks {sorted(blocks)}")
    (dst / "checkpoints").mkdir(parents=True)
    for f in ("config.json", "label_set.json", "metrics.jsonl"):
        if (src / f).exists():
            shutil.copy(src / f, dst / f)
    out = dst / "checkpoints" / ckpts[-1].name
    tmp = out.with_name(out.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(out)  # atomic: a run folder never holds half a checkpoint
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show")
    s.add_argument("model", type=Path)
    for name in ("model", "run"):
        p = sub.add_parser(name)
        p.add_argument("src", type=Path)
        p.add_argument("dst", type=Path)
        p.add_argument("--blocks", default="up_0,up_1,up_2,up_3")
        p.add_argument("--factor", type=float, required=True)
    a = ap.parse_args()
    if a.cmd == "show":
        for k, v in strengths(a.model).items():
            print(f"{k}: mean |strength| {v:.4f}")
        return
    blocks = {b.strip() for b in a.blocks.split(",") if b.strip()}
    if not math.isfinite(a.factor) or a.factor <= 0:
        raise SystemExit(f"--factor {a.factor}: must be a finite number above 0")
    if a.cmd == "model":
        done = scale_model(a.src, a.dst, blocks, a.factor)
        print(f"wrote {a.dst}: {len(done)} strengths x{a.factor:g}")
    else:
        out = scale_run(a.src, a.dst, blocks, a.factor)
        print(f"wrote {out}: strengths of {sorted(blocks)} x{a.factor:g} (G and its EMA)")


if __name__ == "__main__":
    main()
