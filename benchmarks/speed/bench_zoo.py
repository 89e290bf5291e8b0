"""CPU speed of every model-zoo architecture next to SAPNet, per 480 x 320 image, in one run.

    python -m benchmarks.speed.bench_zoo --threads 2 --repeats 3 --precision fp32

Each model is a ``Derainer(name, weights=<authors' file>, device="cpu", tile=0)`` (uint8 in and out,
conversions included, its fast path where it has one: SAPNet, PReNet, VRGNet's PReNet), on Rain100H
images 7 and 42 cropped to 480 x 320. SAPNet's plain forward pass (the papers' module structure, what
the models without a fast path run) is timed too. One warm-up round, then ``--repeats`` rounds over
all models in turn (so a load change on a shared machine hits every model alike); the best round
counts. Prints a Markdown table: seconds per image and the ratios to SAPNet measured in the same run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from benchmarks.common import SHARED, best_of, load_average, load_rgb, markdown_table, plain_forward
from derain_cli import Derainer

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
    return [load_rgb(folder / name)[:320, :480] for name in ("7.png", "42.png")]


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
            runners[PLAIN], fast[PLAIN] = partial(plain_forward, derainer.network), False
    rounds = best_of({name: partial(_all, run, images) for name, run in runners.items()}, args.repeats)
    best = {name: seconds / len(images) for name, seconds in rounds.items()}
    print(f"480 x 320 (Rain100H 7 and 42), CPU, {args.threads} thread(s), {args.precision}, best of "
          f"{args.repeats} rounds; load average {load_average()}\n")  # fmt: skip
    rows = [(name, "yes" if fast[name] else "no", f"{seconds:.3f}", f"{seconds / best['sapnet']:.2f}",
             f"{seconds / best[PLAIN]:.2f}") for name, seconds in best.items()]
    print(markdown_table(("model", "fast path", "s / image", "x sapnet", "x sapnet plain forward"), rows))


def _all(run: Callable[[np.ndarray], np.ndarray], images: list[np.ndarray]) -> None:
    for rgb in images:
        run(rgb)


if __name__ == "__main__":
    main()
