"""What int8 inference would cost in accuracy: Rain100H PSNR with simulated (fake-quantised) int8.

    python benchmarks/int8_simulation.py --model sapnet --images 10

Every convolution of the fast path gets symmetric per-output-channel int8 weights and
asymmetric per-tensor uint8 activations whose range is taken from the very tensor being
quantised (dynamic, per image and layer: an optimistic stand-in for calibrated static int8,
which could only do worse). Outputs are rounded to uint8; PSNR on the Y channel against the
clean targets, next to float32 on the same images. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from derain_cli.derainer import build_network
from derain_cli.fast.eager import EagerRecurrent
from derain_cli.fast.layout import Conv, fuse
from derain_cli.metrics import psnr_y

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def fake_weights(w: Tensor) -> Tensor:
    scale = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12) / 127
    return (w / scale).round().clamp(-127, 127) * scale


def fake_activations(x: Tensor) -> Tensor:
    low, high = x.min(), x.max()
    scale = ((high - low) / 255).clamp_min(1e-12)
    zero = (-low / scale).round()
    return ((x / scale + zero).round().clamp(0, 255) - zero) * scale


class Int8Simulation(EagerRecurrent):
    """The eager fast path with every convolution's inputs and weights fake-quantised to int8."""

    def convolve(self, x: Tensor, conv: Conv) -> Tensor:
        d = conv.dilation
        return F.conv2d(fake_activations(x), fake_weights(conv.weight), conv.bias, padding=d, dilation=d)


def to_uint8(x: Tensor) -> np.ndarray:
    return np.rint(x.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--weights", type=Path, help="default: the authors' Rain100H checkpoint in ../shared")
    parser.add_argument("--data", type=Path, default=SHARED / "data/rain100h")
    parser.add_argument("--images", type=int, default=10, help="Rain100H images 1..N")
    args = parser.parse_args()

    weights = args.weights or SHARED / f"weights/{args.model}_rain100h_authors.pth"
    layout = fuse(build_network(args.model, weights).eval())
    cpu = torch.device("cpu")
    paths = {"fp32": EagerRecurrent(layout, cpu, torch.float32), "int8 (simulated)": Int8Simulation(layout, cpu, torch.float32)}
    scores: dict[str, list[float]] = {name: [] for name in paths}
    with torch.inference_mode():
        for k in range(1, args.images + 1):
            rainy = np.array(Image.open(args.data / "input" / f"{k}.png").convert("RGB"))
            clean = np.array(Image.open(args.data / "target" / f"{k}.png").convert("RGB"))
            y = torch.from_numpy(rainy).permute(2, 0, 1)[None].float() / 255
            for name, forward in paths.items():
                scores[name].append(psnr_y(to_uint8(forward(y)), clean))
    base = np.mean(scores["fp32"])
    print(f"{args.model}, Rain100H images 1-{args.images}, Y-channel PSNR\n")
    print("| arithmetic | PSNR (dB) | vs fp32 (dB) |")
    print("|---|---|---|")
    for name, values in scores.items():
        print(f"| {name} | {np.mean(values):.3f} | {np.mean(values) - base:+.3f} |")


if __name__ == "__main__":
    main()
