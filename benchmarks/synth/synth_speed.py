"""Speed of `derain synth`: pairs per second at 640 x 480, and rendering's share of a training step.

1. ``render_rain`` on a 640 x 480 frame, each preset (and ``mix``), one thread (OpenCV and NumPy).
2. ``derain train`` steps (workers 0, so data preparation is inside the step) with
   ``--dataset synth:CLEAN`` vs the paired folder of the same images at the same sizes; configurations
   alternate round by round so machine load hits both alike; the first step (warm-up) is not timed.
   Also timed directly: one batch of SynthPatches vs PairedPatches (crop + read, no rendering).

Times are CPU seconds of this process (``time.process_time``) with one thread everywhere (OpenCV,
NumPy, torch): on a machine shared with other jobs, wall time would measure the scheduler, CPU time
measures the work (it still suffers cache and memory-bandwidth contention from the other jobs).

    OMP_NUM_THREADS=1 python -m benchmarks.synth.synth_speed --steps 2 --rounds 2 [--clean ../shared/data/clean/urban100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from benchmarks.common import SHARED, load_average
from derain_cli.imageio import read_rgb8
from derain_cli.synth import PRESETS, render_rain
from derain_cli.train import TrainConfig, Trainer
from derain_cli.train.data import PairedPatches, load_pairs
from derain_cli.train.sources import SynthPatches, clean_images

DATA = SHARED / "data"


def frames(folder: Path, count: int) -> list[np.ndarray]:
    """``count`` clean photos scaled and cropped to 640 x 480."""
    out = []
    for path in sorted(folder.glob("*.png"))[:count]:
        image = read_rgb8(path)
        factor = max(640 / image.shape[1], 480 / image.shape[0])
        image = cv2.resize(image, (max(640, round(image.shape[1] * factor)), max(480, round(image.shape[0] * factor))), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(image[:480, :640]))
    return out


def render_rates(images: list[np.ndarray], repeats: int) -> dict[str, float]:
    rates = {}
    for preset in (*PRESETS, "mix"):
        render_rain(images[0], preset=preset, seed=0)  # warm-up
        started = time.process_time()
        for k in range(repeats):
            render_rain(images[k % len(images)], preset=preset, seed=k + 1)
        rates[preset] = repeats / (time.process_time() - started)
    return rates


def step_seconds(dataset: str, run: Path, args: argparse.Namespace) -> float:
    times: list[float] = []
    config = TrainConfig(dataset=dataset, model=args.model, losses={"ssim": 1.0}, batch_size=args.batch_size, patch=args.patch,
                         max_steps=args.steps + 1, device="cpu", workers=0)  # fmt: skip
    Trainer(config, run).run(lambda record: times.append(time.process_time()))
    return (times[-1] - times[0]) / (len(times) - 1)


def batch_seconds(patches, batch: int, repeats: int = 5) -> float:
    started = time.process_time()
    for r in range(repeats):
        for i in range(batch):
            patches[((r * batch + i) % len(patches), r)]
    return (time.process_time() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", type=Path, default=DATA / "clean" / "urban100")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--model", default="sapnet")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    print(f"load average before: {load_average()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    images = frames(args.clean, args.images)
    rates = render_rates(images, args.repeats)
    print("| preset | pairs per CPU-second at 640x480 (1 thread) | CPU ms/pair |\n|---|---|---|")
    for preset, rate in rates.items():
        print(f"| {preset} | {rate:.1f} | {1000 / rate:.0f} |")
    with tempfile.TemporaryDirectory() as tmp:
        clean, pairs = Path(tmp) / "clean", Path(tmp) / "pairs"
        for sub in (clean, pairs / "input", pairs / "target"):
            sub.mkdir(parents=True)
        for index, image in enumerate(images):
            Image.fromarray(image).save(clean / f"{index}.png")
            Image.fromarray(image).save(pairs / "target" / f"{index}.png")
            Image.fromarray(render_rain(image, preset="mix", seed=index)[0]).save(pairs / "input" / f"{index}.png")
        synth_batch = batch_seconds(SynthPatches(clean_images(clean), args.patch, seed=0), args.batch_size)
        paired_batch = batch_seconds(PairedPatches(load_pairs(pairs, args.patch), args.patch, seed=0), args.batch_size)
        steps: dict[str, list[float]] = {"paired": [], "synth": []}
        for round_index in range(args.rounds):
            for name, dataset in (("paired", str(pairs)), ("synth", f"synth:{clean}")):
                seconds = step_seconds(dataset, Path(tmp) / f"run-{round_index}-{name}", args)
                steps[name].append(seconds)
                print(f"round {round_index + 1} {name}: {seconds:.2f} CPU s/step", flush=True)
    paired, synth = min(steps["paired"]), min(steps["synth"])
    print(f"\n{args.model}, patch {args.patch}, batch {args.batch_size}, ssim loss, workers 0; load average after: {load_average()}")
    print("| measure | paired folder | synth:CLEAN | rendering share of a synth step |\n|---|---|---|---|")
    print(f"| train step, CPU s (best of {args.rounds} rounds) | {paired:.2f} | {synth:.2f} | {(synth - paired) / synth:+.1%} |")
    print(f"| one batch of patches, CPU s | {paired_batch:.3f} | {synth_batch:.3f} | {(synth_batch - paired_batch) / synth:.1%} |")


if __name__ == "__main__":
    main()
