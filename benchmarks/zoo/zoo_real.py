"""The zoo gallery ``benchmarks/zoo/zoo_real.png``: the same real rainy photos through every zoo model.

    DERAIN_WEIGHTS_DIR=../shared/weights HF_HUB_OFFLINE=1 python -m benchmarks.zoo.zoo_real

One row per model (weights.toml names; a name this checkout does not register is listed as
missing and left out), one column per photo of ../shared/data/real (real rain, no ground truth),
the rainy input on top. Each model runs on the whole photo (CPU, fp32, untiled); the cells show
it at half size, labelled, so a person can compare by eye. The PNG is palette-quantised to stay
well under 2 MB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmarks.common import SHARED, load_rgb
from derain_cli import Derainer
from derain_cli.weights.registry import load_registry

MODELS = [
    "sapnet-realrain", "sapnet", "prenet", "prenet-real", "vrgnet-prenet-spa", "brn-rain100h",
    "aidnet-rain100h", "spanet-spa", "jorder-e",
]
PHOTOS = ["40.png", "13.png", "43.png", "55.png"]  # visible streaks on dark, busy and green backgrounds
LABEL_WIDTH = 190
HEADER = 24


def _cell(rgb: np.ndarray) -> Image.Image:
    image = Image.fromarray(rgb)
    return image.resize((image.width // 2, image.height // 2), Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("zoo_real.png"))
    parser.add_argument("--photos", nargs="+", default=PHOTOS)
    args = parser.parse_args()
    registry = load_registry()
    present = [m for m in MODELS if registry.find(m)]
    missing = [m for m in MODELS if m not in present]
    photos = [load_rgb(SHARED / "data" / "real" / name) for name in args.photos]
    rows = [("rainy input", [_cell(p) for p in photos])]
    for model in present:
        derainer = Derainer(model, device="cpu", tile=0)
        rows.append((model, [_cell(derainer(p)) for p in photos]))
        print(f"{model}: done", flush=True)
    width, height = rows[0][1][0].size
    sheet = Image.new("RGB", (LABEL_WIDTH + width * len(photos), HEADER + height * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    for col, name in enumerate(args.photos):
        draw.text((LABEL_WIDTH + col * width + 4, 2), f"real/{name}", fill="black", font=font)
    for r, (label, cells) in enumerate(rows):
        top = HEADER + r * height
        draw.text((6, top + height // 2 - 10), label, fill="black", font=font)
        for col, cell in enumerate(cells):
            sheet.paste(cell, (LABEL_WIDTH + col * width, top))
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.output, optimize=True)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB); models missing here: {', '.join(missing) or 'none'}")


if __name__ == "__main__":
    main()
