"""What int8 inference would cost in accuracy: Rain100H PSNR with simulated (fake-quantised) int8.

    python -m benchmarks.speed.int8_simulation --model sapnet --images 10
    python -m benchmarks.speed.int8_simulation --conv-speed    # what it would gain: int8 vs fp32 convolutions

Every convolution of the fast path gets symmetric per-output-channel int8 weights and
asymmetric per-tensor uint8 activations whose range is taken from the very tensor being
quantised (dynamic, per image and layer: an optimistic stand-in for calibrated static int8,
which could only do worse). Outputs are rounded to uint8; PSNR on the Y channel against the
clean targets, next to float32 on the same images. Prints Markdown.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from benchmarks.common import SHARED, best_of, load_rgb, markdown_table
from derain_cli.derainer import build_network
from derain_cli.fast.eager import EagerRecurrent
from derain_cli.fast.layout import Conv, fuse
from derain_cli.metrics import psnr_y



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


def conv_speed(height: int = 320, width: int = 480, repeats: int = 5) -> None:
    """Time SAPNet's convolution shapes in int8 (torch's quantized engine) against the fast path's fp32 oneDNN."""
    import torch.ao.nn.quantized as nnq

    print(f"convolutions on a {width} x {height} input, {torch.get_num_threads()} threads, "
          f"quantized engine {torch.backends.quantized.engine}\n")
    rows = []
    conv_op = torch.ops.mkldnn._convolution_pointwise
    for cin, cout, d in ((32, 32, 1), (32, 32, 4), (32, 32, 16), (64, 128, 1)):
        conv = torch.nn.Conv2d(cin, cout, 3, padding=d, dilation=d)
        weight, bias = conv.weight.detach(), conv.bias.detach()
        x = torch.rand(1, cin, height, width).contiguous(memory_format=torch.channels_last)
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.to_mkldnn(), [d, d], [1, 1], [d, d], 1, [1, cin, 256, 256])
        quantized = nnq.Conv2d(cin, cout, 3, padding=d, dilation=d)
        scales, zeros = weight.abs().amax((1, 2, 3)) / 127, torch.zeros(cout, dtype=torch.long)
        quantized.set_weight_bias(torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8), bias)
        qx = torch.quantize_per_tensor(x, 1 / 255, 0, torch.quint8)
        fp32 = lambda: conv_op(x, packed, bias, [d, d], [1, 1], [d, d], 1, "none", [], "")  # noqa: E731
        times = best_of({"fp32": fp32, "int8": lambda: quantized(qx)}, repeats)
        rows.append((f"{cin} -> {cout}, dilation {d}", f"{times['fp32'] * 1000:.1f}", f"{times['int8'] * 1000:.1f}",
                     f"{times['fp32'] / times['int8']:.2f}x"))
    print(markdown_table(("convolution", "fp32 oneDNN, channels_last (ms)", "int8 (ms)", "int8 speed-up"), rows))


def to_uint8(x: Tensor) -> np.ndarray:
    return np.rint(x.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--weights", type=Path, help="default: the authors' Rain100H checkpoint in ../shared")
    parser.add_argument("--data", type=Path, default=SHARED / "data/rain100h")
    parser.add_argument("--images", type=int, default=10, help="Rain100H images 1..N")
    parser.add_argument("--conv-speed", action="store_true", help="time int8 against fp32 convolutions instead")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.conv_speed:
        with torch.inference_mode():
            conv_speed()
        return

    weights = args.weights or SHARED / f"weights/{args.model}_rain100h_authors.pth"
    layout = fuse(build_network(args.model, weights).eval())
    cpu = torch.device("cpu")
    paths = {"fp32": EagerRecurrent(layout, cpu, torch.float32), "int8 (simulated)": Int8Simulation(layout, cpu, torch.float32)}
    scores: dict[str, list[float]] = {name: [] for name in paths}
    with torch.inference_mode():
        for k in range(1, args.images + 1):
            rainy = load_rgb(args.data / "input" / f"{k}.png")
            clean = load_rgb(args.data / "target" / f"{k}.png")
            y = torch.from_numpy(rainy).permute(2, 0, 1)[None].float() / 255
            for name, forward in paths.items():
                scores[name].append(psnr_y(to_uint8(forward(y)), clean))
    base = np.mean(scores["fp32"])
    print(f"{args.model}, Rain100H images 1-{args.images}, Y-channel PSNR\n")
    rows = [(name, f"{np.mean(values):.3f}", f"{np.mean(values) - base:+.3f}") for name, values in scores.items()]
    print(markdown_table(("arithmetic", "PSNR (dB)", "vs fp32 (dB)"), rows))


if __name__ == "__main__":
    main()
