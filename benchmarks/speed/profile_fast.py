"""Where the fast path's time goes: share of convolutions (torch profiler) and the bf16 convolution roofline.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.profile_fast --threads 1 --precision bf16
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import SHARED, load_average, load_rgb
from benchmarks.speed.bench_infer import conv_share, roofline
from derain_cli import Derainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--weights", default=str(SHARED / "weights/sapnet_rain100h_authors.pth"))
    parser.add_argument("--image", default=str(SHARED / "data/rain100h/input/7.png"))
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    derainer = Derainer(args.model, weights=args.weights, device="cpu", precision=args.precision)
    rgb = load_rgb(args.image)
    derainer(rgb)  # warm-up
    conv, total = conv_share(derainer, rgb)
    gflop, peak = roofline(derainer.network, rgb.shape[1::-1], derainer.dtype, args.repeats)
    print(f"{args.model} fast {args.precision}, {args.threads} thread(s), load average {load_average()}: "
          f"{conv:.2f} s of {total:.2f} s in convolutions ({conv / total:.0%}), {gflop:.0f} GFLOP at {gflop / conv:.0f} GFLOP/s; "
          f"best single convolution shape {peak:.0f} GFLOP/s, roofline {gflop / peak:.2f} s per pass")


if __name__ == "__main__":
    main()
