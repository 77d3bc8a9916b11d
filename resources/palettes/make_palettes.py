"""Regenerate the official label-set JSON files from the shared class tables.

    python resources/palettes/make_palettes.py ../shared/data/palettes

Writes coco_stuff.json, ade20k.json and cityscapes.json next to this script.
"""

import csv
import json
import sys
from pathlib import Path

here = Path(__file__).resolve().parent


def write(name, description, rows, dontcare_id=None):
    data = {
        "format": "spade-studio-labelset/1",
        "name": name,
        "description": description,
        "dontcare_id": dontcare_id,
        "labels": [{"id": i, "name": n, "color": list(c)} for i, n, c in rows],
    }
    (here / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main(src: Path) -> None:
    with open(src / "coco_stuff.csv", newline="", encoding="utf-8") as f:
        rows = [(int(r["id"]), r["name"], (int(r["r"]), int(r["g"]), int(r["b"]))) for r in csv.DictReader(f)]
    write("coco_stuff", "COCO-Stuff 182 classes (+255 unlabeled); SPADE's palette", rows, dontcare_id=255)
    with open(src / "ade20k.csv", newline="", encoding="utf-8") as f:
        rows = [(int(r["id"]), r["name"], (int(r["r"]), int(r["g"]), int(r["b"]))) for r in csv.DictReader(f)]
    write("ade20k", "ADE20K SceneParsing 150 classes (0 = other); standard ADE20K palette", rows)
    with open(src / "cityscapes.csv", newline="", encoding="utf-8") as f:
        rows = []
        for r in csv.DictReader(f):
            i = int(r["id"])
            rows.append((34 if i == -1 else i, r["name"], (int(r["r"]), int(r["g"]), int(r["b"]))))
    write("cityscapes", "Cityscapes 35 label ids (license plate stored as 34, as SPADE's 35th channel)", rows)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else here.parents[2] / "shared" / "data" / "palettes"))
