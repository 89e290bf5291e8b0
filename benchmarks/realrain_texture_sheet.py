"""Contact sheet of zoomed textured crops (foliage, grass, brick, wood) of real rain photos, one column per model.

    python benchmarks/realrain_texture_sheet.py OUT.jpg MODEL... [--precision fp32]

Rows: crops of ../shared/data/real (no ground truth: judged by eye). Each model runs on the crop plus a
32-px margin (the margin is cut away after), so the sheet costs a few small forward passes; the crop is
shown 2x enlarged (nearest neighbour) so streaks and flattened texture stay visible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from derain_cli import Derainer
from derain_cli.imageio import read_rgb8

REAL = Path("../shared/data/real")
# (photo, left, top, what): 128 x 128 crops chosen for their texture.
CROPS = (("17", 176, 96, "foliage"), ("42", 230, 170, "grass, flowers"), ("65", 60, 130, "brick"), ("43", 80, 100, "wood, trees"))
SIDE, MARGIN, ZOOM, LABEL = 128, 32, 2, 18


def crop_with_margin(rgb: np.ndarray, left: int, top: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The crop plus up to MARGIN px around it, and where the crop starts inside it."""
    y0, x0 = max(0, top - MARGIN), max(0, left - MARGIN)
    y1, x1 = min(rgb.shape[0], top + SIDE + MARGIN), min(rgb.shape[1], left + SIDE + MARGIN)
    return rgb[y0:y1, x0:x1], (top - y0, left - x0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    derainers = {m: Derainer(model=m, device="cpu", precision=args.precision) for m in args.models}
    cell = SIDE * ZOOM
    sheet = Image.new("RGB", ((1 + len(derainers)) * cell, LABEL + len(CROPS) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for col, title in enumerate(["rainy input", *derainers]):
        draw.text((col * cell + 4, 3), title, fill="black")
    for row, (photo, left, top, what) in enumerate(CROPS):
        window, (dy, dx) = crop_with_margin(read_rgb8(REAL / f"{photo}.png"), left, top)
        outputs = [window] + [d(window) for d in derainers.values()]
        for col, image in enumerate(outputs):
            tile = Image.fromarray(image[dy : dy + SIDE, dx : dx + SIDE]).resize((cell, cell), Image.NEAREST)
            sheet.paste(tile, (col * cell, LABEL + row * cell))
        draw.text((4, LABEL + row * cell + 4), f"real/{photo}.png: {what}", fill="yellow")
    sheet.save(args.out, quality=88)
    print(f"{args.out}: {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
