"""Training speed of `derain train` on CPU: steps per second per loss set and precision, and the losses.

Real VGG-16 / LPIPS weights cannot be fetched offline, so the all-losses run uses random stand-ins of
the same shapes (identical cost). Configurations alternate round by round so that load on a shared
machine hits both alike; the first step of each run (warm-up) is not timed. Every run starts from the
same seed and sees the same batches, so the per-step losses of two precisions are directly comparable.

    python -m benchmarks.speed.train_speed --data ../shared/data/rain100h --steps 3 --rounds 2
    python -m benchmarks.speed.train_speed --losses ssim --precisions fp32,bf16 --steps 4 --rounds 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from benchmarks.common import load_average
from derain_cli.losses import LPIPSLinear, VGG16Features
from derain_cli.train import TrainConfig, Trainer

LOSSES = {"ssim": {"ssim": 1.0}, "ssim,pcl,lpips,ubs": {"ssim": 1.0, "pcl": 0.1, "lpips": 0.1, "ubs": 0.1}}


def standins(folder: Path) -> dict[str, str]:
    """Random VGG-16 and LPIPS weights of the real shapes, for --loss-weights."""
    vgg, lpips = folder / "vgg16.safetensors", folder / "lpips.safetensors"
    save_file(VGG16Features().state_dict(), str(vgg))
    save_file(LPIPSLinear().state_dict(), str(lpips))
    return {"vgg16-imagenet": str(vgg), "lpips-vgg": str(lpips)}


def train(config: TrainConfig, run: Path) -> tuple[float, list[float]]:
    """(steps per second after the first step, the loss of every step)."""
    times: list[float] = []
    losses: list[float] = []

    def on_step(record: dict) -> None:
        times.append(time.perf_counter())
        losses.append(record["loss"])

    Trainer(config, run).run(on_step)
    return (len(times) - 1) / (times[-1] - times[0]), losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/rain100h")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per run (plus one warm-up step)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--losses", choices=("ssim", "all", "both"), default="both", help="SSIM alone, every paper loss, or both")
    parser.add_argument("--precisions", default="fp32", help="comma-separated: fp32, bf16, auto")
    args = parser.parse_args()
    loss_sets = {"ssim": ["ssim"], "all": ["ssim,pcl,lpips,ubs"], "both": list(LOSSES)}[args.losses]
    runs = [(losses, precision) for losses in loss_sets for precision in args.precisions.split(",")]
    print(f"load average at start {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        weights = standins(Path(tmp))
        rates: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
        curves: dict[tuple[str, str], list[float]] = {}
        for round_index in range(args.rounds):
            for losses, precision in runs:
                config = TrainConfig(
                    dataset=args.data, model=args.model, losses=LOSSES[losses], batch_size=args.batch_size, patch=args.patch,
                    max_steps=args.steps + 1, device="cpu", workers=0, loss_weights=weights, precision=precision,
                )  # fmt: skip
                rate, curves[(losses, precision)] = train(config, Path(tmp) / f"run-{round_index}-{losses}-{precision}")
                rates[(losses, precision)].append(rate)
                print(f"round {round_index + 1} {losses} {precision}: {rate:.4f} steps/s ({1 / rate:.2f} s/step); "
                      f"losses {' '.join(f'{v:.5f}' for v in curves[(losses, precision)])}", flush=True)
    base = max(rates[runs[0]])
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, {args.model}, patch {args.patch}, batch {args.batch_size}, "
          f"load average at the end {load_average()}")
    print(f"| losses | precision | steps/s (best of rounds) | s/step | relative to {' '.join(runs[0])} | losses per step (last round) |")
    print("|---|---|---|---|---|---|")
    for (losses, precision), values in rates.items():
        best = max(values)
        shown = " ".join(f"{v:.4f}" for v in curves[(losses, precision)])
        print(f"| {losses} | {precision} | {best:.4f} | {1 / best:.2f} | {best / base:.2f} | {shown} |")


if __name__ == "__main__":
    main()
