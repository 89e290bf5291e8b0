"""CPU speed of every model-zoo architecture next to SAPNet, per 480 x 320 image, in one run.

    python benchmarks/bench_zoo.py --threads 2 --repeats 3 --precision fp32

Each model is a ``Derainer(name, weights=<authors' file>, device="cpu", tile=0)`` (uint8 in and out,
conversions included, its fast path where it has one: SAPNet, PReNet, VRGNet's PReNet), on Rain100H
images 7 and 42 cropped to 480 x 320. SAPNet's plain forward pass (the papers' module structure, what
the models without a fast path run) is timed too. One warm-up round, then ``--repeats`` rounds over
all models in turn (so a load change on a shared machine hits every model alike); the best round
counts. Prints a Markdown table: seconds per image and the ratios to SAPNet measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from derain_cli import Derainer

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
# registered architecture -> the authors' file it is timed with
MODELS = {
    "sapnet": "sapnet_rain100h_authors.pth",
    "prenet": "prenet_rain100h_authors.pth",
    "vrgnet-prenet": "vrgnet_prenet_rain100h.pt",
    "brn": "brn_rain100h.pth",
    "aidnet": "aidnet_rain100h.pth",
    "spanet": "spanet_spa.pth",
    "jorder-e": "jordere_practical.pt",
}
PLAIN = "sapnet (plain forward)"


def _images() -> list[np.ndarray]:
    folder = SHARED / "data" / "rain100h" / "input"
    return [np.asarray(Image.open(folder / name).convert("RGB"))[:320, :480] for name in ("7.png", "42.png")]


def _plain(network: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """SAPNet's plain forward pass on one uint8 image, fp32 (the baseline of models without a fast path)."""

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
    parser.add_argument("--precision", default="fp32", help="Derainer precision: fp32 (the papers'), bf16, auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = _images()
    runners: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    fast: dict[str, bool] = {}
    for name, filename in MODELS.items():
        derainer = Derainer(name, weights=SHARED / "weights" / filename, device="cpu", tile=0, precision=args.precision)
        runners[name], fast[name] = derainer, derainer._fast is not None
        if name == "sapnet":
            runners[PLAIN], fast[PLAIN] = _plain(derainer.network), False
    best = {name: float("inf") for name in runners}
    for round_ in range(args.repeats + 1):  # round 0 warms up
        for name, run in runners.items():
            start = time.perf_counter()
            for rgb in images:
                run(rgb)
            if round_:
                best[name] = min(best[name], (time.perf_counter() - start) / len(images))
    print(f"480 x 320 (Rain100H 7 and 42), CPU, {args.threads} thread(s), {args.precision}, best of "
          f"{args.repeats} rounds; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| model | fast path | s / image | x sapnet | x sapnet plain forward |\n|---|---|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {'yes' if fast[name] else 'no'} | {seconds:.3f} | {seconds / best['sapnet']:.2f} | "
              f"{seconds / best[PLAIN]:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
