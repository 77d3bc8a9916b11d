"""Draws SPADE Studio's icon (a painted landscape tile) and writes it at the sizes each platform wants.

``python packaging/make_icons.py OUT_DIR`` writes ``OUT_DIR/hicolor/NxN/apps/spade-studio.png``
(16..512), ``spade-studio.png`` (256), ``spade-studio.ico`` (Windows) and ``spade-studio.icns``
(macOS). Pillow only; drawn from code, so the repository keeps no binary icon sources.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

HICOLOR_SIZES = [16, 24, 32, 48, 64, 128, 256, 512]
ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]


def draw(size: int = 1024) -> Image.Image:
    """The icon at ``size`` px: a rounded tile with sky, a mountain, a hill, water and a brush stroke,
    in the landscape palette's spirit (flat label colours, as the editor paints them)."""
    s = size / 1024
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle([int(40 * s), int(40 * s), int(984 * s), int(984 * s)],
                                           radius=int(200 * s), fill=255)
    tile = Image.new("RGBA", (size, size), (112, 170, 228, 255))  # sky
    d = ImageDraw.Draw(tile)
    d.ellipse([int(650 * s), int(150 * s), int(820 * s), int(320 * s)], fill=(250, 214, 96, 255))  # sun
    d.polygon([(int(x * s), int(y * s)) for x, y in [(80, 720), (380, 260), (520, 470), (640, 330), (980, 720)]],
              fill=(120, 110, 130, 255))  # mountain
    d.polygon([(int(x * s), int(y * s)) for x, y in [(330, 330), (380, 260), (430, 335), (400, 320), (360, 350)]],
              fill=(245, 245, 250, 255))  # snow cap
    d.ellipse([int(-200 * s), int(600 * s), int(800 * s), int(1200 * s)], fill=(96, 168, 72, 255))  # hill
    d.rectangle([int(0 * s), int(820 * s), int(1024 * s), int(1024 * s)], fill=(56, 110, 170, 255))  # water
    d.line([(int(250 * s), int(900 * s)), (int(760 * s), int(560 * s))], fill=(250, 250, 250, 255),
           width=max(1, int(70 * s)))  # brush handle
    d.ellipse([int(700 * s), int(480 * s), int(860 * s), int(640 * s)], fill=(220, 70, 60, 255))  # brush tip
    img.paste(tile, (0, 0), mask)
    return img


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    big = draw(1024)
    written = []
    for n in HICOLOR_SIZES:
        p = out / "hicolor" / f"{n}x{n}" / "apps" / "spade-studio.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        big.resize((n, n), Image.LANCZOS).save(p)
        written.append(p)
    big.resize((256, 256), Image.LANCZOS).save(out / "spade-studio.png")
    big.save(out / "spade-studio.ico", sizes=[(n, n) for n in ICO_SIZES])
    big.save(out / "spade-studio.icns")
    written += [out / "spade-studio.png", out / "spade-studio.ico", out / "spade-studio.icns"]
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "build/icons")):
        print(p)
