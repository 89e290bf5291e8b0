"""CPU speed of the model-zoo architectures next to SAPNet, per 480 x 320 image, in one run.

    python benchmarks/bench_zoo.py --repeats 3

Each model is a ``Derainer(name, weights=<authors' file>, device="cpu")`` (uint8 in and out, its
fast path where it has one: SAPNet, PReNet, VRGNet's PReNet), run on Rain100H image 1 (480 x 320).
One warm-up each, then ``--repeats`` rounds over all models in turn (so a load change on a shared
machine hits every model alike); the best time of each counts. Prints a Markdown table: seconds
per image and the ratio to SAPNet measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from derain_cli import Derainer

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BASELINE = "sapnet"
# registered architecture -> the authors' file it is timed with
MODELS = {
    "sapnet": "sapnet_rain100h_authors.pth",
    "prenet": "prenet_rain100h_authors.pth",
    "vrgnet-prenet": "vrgnet_prenet_rain100h.pt",
    "brn": "brn_rain100h.pth",
    "aidnet": "aidnet_rain100h.pth",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image", type=Path, default=SHARED / "data/rain100h/input/1.png")
    args = parser.parse_args()
    rgb = np.array(Image.open(args.image).convert("RGB"))
    derainers = {name: Derainer(name, weights=SHARED / "weights" / file, device="cpu") for name, file in MODELS.items()}
    for derainer in derainers.values():
        derainer(rgb)
    times: dict[str, list[float]] = {name: [] for name in derainers}
    for _ in range(args.repeats):
        for name, derainer in derainers.items():
            start = time.perf_counter()
            derainer(rgb)
            times[name].append(time.perf_counter() - start)
    best = {name: min(t) for name, t in times.items()}
    print(f"{args.image.name} ({rgb.shape[1]} x {rgb.shape[0]}), {torch.get_num_threads()} thread(s), "
          f"best of {args.repeats}; load average {os.getloadavg()[0]:.1f}\n")
    print(f"| model | fast path | s / image | x {BASELINE} |\n|---|---|---|---|")
    for name, seconds in best.items():
        fast = "yes" if derainers[name]._fast is not None else "no"
        print(f"| {name} | {fast} | {seconds:.3f} | {seconds / best[BASELINE]:.2f} |")


if __name__ == "__main__":
    main()
