"""How much tiles change SPANet's output (its IRNN spans whole rows and columns), next to JORDER-E.

    python benchmarks/zoo_other/spanet_tiles.py --tile 256 [--scale 2]

A real photo (../shared/data/real/40.png, 481 x 321), upscaled ``--scale`` times (2: 962 x 642,
about the size above which the default CPU memory budget tiles automatically, in 704-pixel
tiles). Each model runs untiled and with ``--tile``; printed: mean and largest absolute difference
in grey levels, and the model's own mean change to the photo for scale.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from derain_cli import Derainer

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[3] / "shared"))
MODELS = [("spanet", "spanet_spa.pth"), ("jorder-e", "jordere_practical.pt")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    photo = Image.open(SHARED / "data" / "real" / "40.png").convert("RGB")
    rgb = np.asarray(photo.resize((photo.width * args.scale, photo.height * args.scale), Image.BICUBIC))
    print(f"{rgb.shape[1]} x {rgb.shape[0]}, tile {args.tile}\n")
    print("| model | mean change to the photo | tiled vs untiled: mean | largest |")
    print("|---|---|---|---|")
    for model, filename in MODELS:
        weights = SHARED / "weights" / filename
        whole = Derainer(model, weights=weights, device="cpu", tile=0)(rgb).astype(int)
        tiled = Derainer(model, weights=weights, device="cpu", tile=args.tile)(rgb).astype(int)
        diff = np.abs(whole - tiled)
        print(f"| {model} | {np.abs(whole - rgb).mean():.2f} | {diff.mean():.3f} | {diff.max()} |", flush=True)


if __name__ == "__main__":
    main()
