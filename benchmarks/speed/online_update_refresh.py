"""Time of one online-update pseudo-target refresh: the plain pass (before) against the fast path (after).

The refresh derains every real image with the current weights. Before, ``Derainer.from_network``
ran the plain forward pass; now each refresh first derives the fast path from the current weights
(``rebuild_fast_path``, timed with it) and runs that, in fp32 or bf16. The three alternate, best of
``--repeats``, in one process.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.online_update_refresh ../shared/data/real/{1,2,3}.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import SHARED, load_average, markdown_table
from derain_cli.derainer import Derainer, build_network
from derain_cli.imageio import read_rgb8, to_uint8



def refresh(derainer: Derainer, images: list[np.ndarray], fast: bool) -> tuple[float, list[np.ndarray]]:
    start = time.perf_counter()
    if fast:
        derainer.rebuild_fast_path()
    targets = [to_uint8(derainer.derain_float(image.astype(np.float32) / 255.0)) for image in images]
    return time.perf_counter() - start, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights/sapnet_rain100h_authors.pth")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    network = build_network(args.model, args.weights)  # trainable, as the online update holds it
    images = [read_rgb8(path) for path in args.images]
    methods = {"plain fp32 (before)": ("fp32", False), "fast fp32": ("fp32", True), "fast bf16": ("bf16", True)}
    derainers = {name: Derainer.from_network(network, "cpu", precision=p) for name, (p, _) in methods.items()}
    best = {name: float("inf") for name in methods}
    outputs: dict[str, list[np.ndarray]] = {}
    for _ in range(args.repeats):
        for name, (_, fast) in methods.items():
            seconds, outputs[name] = refresh(derainers[name], images, fast)
            best[name] = min(best[name], seconds)
    base = "plain fp32 (before)"
    print(f"{len(images)} images ({images[0].shape[1]}x{images[0].shape[0]}), {torch.get_num_threads()} thread(s), "
          f"best of {args.repeats}, load average {load_average()}")
    rows = [(name, f"{best[name]:.2f}", f"{best[base] / best[name]:.2f}x",
             max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(outputs[name], outputs[base])))
            for name in methods]
    print(markdown_table(("refresh", "seconds", "speed-up", "max grey-level difference from before"), rows))


if __name__ == "__main__":
    main()
