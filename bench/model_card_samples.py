"""Sample renders for the model card: label map | renders with several preset styles.

    python bench/model_card_samples.py --model M --data HELD_OUT --out docs/model_samples.png [--size 256]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stems", nargs="+", default=["scene_000003", "scene_000010", "scene_000024"])
    ap.add_argument("--styles", nargs="+", default=["day", "sunset", "night", "winter", "autumn"])
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    from PIL import Image

    from spade_studio.imageio import read_label_map, read_rgb, write_image
    from spade_studio.model import Synthesizer
    from spade_studio.paths import resources_dir

    s = Synthesizer(a.model, device="cpu")
    z = {k: s.encode_style(read_rgb(resources_dir() / "styles" / f"{k}.jpg")) for k in a.styles}
    rows = []
    for stem in a.stems:
        lab = read_label_map(Path(a.data) / "labels" / f"{stem}.png").ids
        lab = np.array(Image.fromarray(lab).resize((a.size, a.size), Image.NEAREST))
        tiles = [s.label_set.colorize(lab)] + [s.render(lab, z=z[k]).image for k in a.styles]
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=20) for t in tiles], 1))
    write_image(a.out, np.concatenate(rows, 0))
    print(f"{a.out}: columns = label map, " + ", ".join(a.styles))


if __name__ == "__main__":
    main()
