"""Training speed of `derain train` on CPU: steps per second with SSIM alone and with every paper loss.

Real VGG-16 / LPIPS weights cannot be fetched offline, so the all-losses run uses random stand-ins of
the same shapes (identical cost). Configurations alternate round by round so that load on a shared
machine hits both alike; the first step of each run (warm-up) is not timed.

    python benchmarks/train_speed.py --data ../shared/data/rain100h --steps 3 --rounds 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from derain_cli.losses import LPIPSLinear, VGG16Features
from derain_cli.train import TrainConfig, Trainer

CONFIGS = {"ssim": {"ssim": 1.0}, "ssim,pcl,lpips,ubs": {"ssim": 1.0, "pcl": 0.1, "lpips": 0.1, "ubs": 0.1}}


def standins(folder: Path) -> dict[str, str]:
    """Random VGG-16 and LPIPS weights of the real shapes, for --loss-weights."""
    vgg, lpips = folder / "vgg16.safetensors", folder / "lpips.safetensors"
    save_file(VGG16Features().state_dict(), str(vgg))
    save_file(LPIPSLinear().state_dict(), str(lpips))
    return {"vgg16-imagenet": str(vgg), "lpips-vgg": str(lpips)}


def steps_per_second(config: TrainConfig, run: Path) -> float:
    times: list[float] = []
    Trainer(config, run).run(lambda record: times.append(time.perf_counter()))
    return (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/rain100h")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per run (plus one warm-up step)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--model", default="sapnet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        weights = standins(Path(tmp))
        rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
        for round_index in range(args.rounds):
            for name, losses in CONFIGS.items():
                config = TrainConfig(
                    dataset=args.data, model=args.model, losses=losses, batch_size=args.batch_size, patch=args.patch,
                    max_steps=args.steps + 1, device="cpu", workers=0, loss_weights=weights,
                )  # fmt: skip
                rate = steps_per_second(config, Path(tmp) / f"run-{round_index}-{len(rates[name])}-{name}")
                rates[name].append(rate)
                print(f"round {round_index + 1} {name}: {rate:.4f} steps/s ({1 / rate:.2f} s/step)", flush=True)
    base = max(rates["ssim"])
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, {args.model}, patch {args.patch}, batch {args.batch_size}")
    print("| losses | steps/s (best of rounds) | s/step | relative to ssim |\n|---|---|---|---|")
    for name, values in rates.items():
        best = max(values)
        print(f"| {name} | {best:.4f} | {1 / best:.2f} | {best / base:.2f} |")


if __name__ == "__main__":
    main()
