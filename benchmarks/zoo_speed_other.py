"""CPU seconds per 480 x 320 image: SPANet and JORDER-E next to SAPNet, in one run (issue 17).

    python benchmarks/zoo_speed_other.py --threads 2 --repeats 3

Each model is a ``Derainer(model, weights, device="cpu", tile=0)`` on the authors' checkpoint from
../shared/weights, fed Rain100H images 7 and 42 cropped to 480 x 320 (uint8 in and out,
conversions included). SAPNet runs its fast path there; its plain forward pass (the papers'
module structure, as SPANet and JORDER-E run) is timed too. One warm-up each, then ``--repeats``
rounds with the models alternating; the best round counts (the machine is shared). Prints Markdown.
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
MODELS = [
    ("sapnet", "sapnet_rain100h_authors.pth"),
    ("spanet", "spanet_spa.pth"),
    ("jorder-e", "jordere_practical.pt"),
]


def _images() -> list[np.ndarray]:
    folder = SHARED / "data" / "rain100h" / "input"
    return [np.asarray(Image.open(folder / name).convert("RGB"))[:320, :480] for name in ("7.png", "42.png")]


def _plain(network: torch.nn.Module):
    """The plain forward pass of ``network`` on one uint8 image (what a model without a fast path runs)."""

    def run(rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            y = network(x)[0]
        return np.rint(y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = _images()
    runners = {}
    for model, filename in MODELS:
        derainer = Derainer(model, weights=SHARED / "weights" / filename, device="cpu", tile=0)
        runners[model + (" (fast path)" if model == "sapnet" else "")] = derainer
        if model == "sapnet":
            runners["sapnet (plain forward)"] = _plain(derainer.network)
    best = {name: float("inf") for name in runners}
    for round_ in range(args.repeats + 1):  # round 0 warms up
        for name, run in runners.items():
            start = time.perf_counter()
            for rgb in images:
                run(rgb)
            seconds = (time.perf_counter() - start) / len(images)
            if round_:
                best[name] = min(best[name], seconds)
    base = best["sapnet (plain forward)"]
    print(f"480 x 320, CPU, {args.threads} threads, best of {args.repeats} rounds (Rain100H 7 and 42)\n")
    print("| model | s / image | vs SAPNet plain forward |")
    print("|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f}x |")


if __name__ == "__main__":
    main()
