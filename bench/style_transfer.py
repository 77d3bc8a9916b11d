"""Style transfer check of a model with an encoder (the bundled model's second quality bar).

    python bench/style_transfer.py --model M --data HELD_OUT_FOLDER [--maps 20] [--json OUT]

Style images are real renders from the held-out folder, grouped by their look (time of day x
season, from dataset.json). For pairs (A, B) of clearly different looks and held-out maps, the map
is rendered with style A; the pair passes when the output's mean Lab colour is closer to A's than
to B's. Prints the pass rate.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def look_of(info: dict) -> str:
    t = info.get("time", "?")
    s = info.get("season", "?")
    if t in ("night", "dusk", "sunset", "golden_hour"):
        return t
    return f"day-{s}"


def style_pass_rate(synth, root: Path, maps: int = 20, size: int | None = None) -> dict:
    """The style check on the held-out folder ``root`` (see the module docstring)."""
    from spade_studio.imageio import read_label_map, read_rgb
    from trainer.metrics import mean_lab

    meta = json.loads((root / "dataset.json").read_text())
    scenes = meta["scenes"]
    styles: dict[str, str] = {}  # one style image per look (the first scene of that look)
    for stem, info in sorted(scenes.items()):
        styles.setdefault(look_of(info), stem)
    looks = sorted(styles)
    style_rgb = {k: read_rgb(root / "images" / f"{styles[k]}.png") for k in looks}
    style_lab = {k: mean_lab(v) for k, v in style_rgb.items()}
    z = {k: synth.encode_style(v) for k, v in style_rgb.items()}
    # "clearly different": mean Lab colours at least 15 apart
    pairs = [(x, y) for x, y in itertools.permutations(looks, 2)
             if np.linalg.norm(style_lab[x] - style_lab[y]) >= 15]
    stems = [s for s in sorted(scenes) if s not in styles.values()][:maps]
    passed = total = 0
    per_pair: dict[str, list[int]] = {}
    for stem in stems:
        lab = read_label_map(root / "labels" / f"{stem}.png").ids
        if size is not None and lab.shape != (size, size):
            lab = np.asarray(Image.fromarray(lab.astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST))
        outs = {k: mean_lab(synth.render(lab, z=z[k]).image) for k in looks}
        for x, y in pairs:
            ok = np.linalg.norm(outs[x] - style_lab[x]) < np.linalg.norm(outs[x] - style_lab[y])
            passed += int(ok)
            total += 1
            per_pair.setdefault(f"{x} vs {y}", [0, 0])
            per_pair[f"{x} vs {y}"][0] += int(ok)
            per_pair[f"{x} vs {y}"][1] += 1
    return {"pass_rate": passed / max(total, 1), "passed": passed, "total": total, "maps": len(stems),
            "looks": looks, "styles": [styles[k] for k in looks], "pairs": len(pairs), "per_pair": per_pair}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--maps", type=int, default=20)
    ap.add_argument("--json")
    a = ap.parse_args()
    from spade_studio.model import Synthesizer

    r = style_pass_rate(Synthesizer(a.model, device="cpu"), Path(a.data), a.maps)
    print(f"looks: {', '.join(r['looks'])} (style images: {', '.join(r['styles'])})")
    print(f"style transfer: {r['passed']}/{r['total']} (map, A, B) cases closer to A than to B = "
          f"{r['pass_rate'] * 100:.1f}% over {r['maps']} held-out maps and {r['pairs']} ordered pairs of "
          f"clearly different looks")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
