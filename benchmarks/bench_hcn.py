"""Parameter count and CPU time per image of HCN next to SAPNet, in one process on the same input.

    python benchmarks/bench_hcn.py    # 480 x 320, 2 threads

Each model runs once to warm up, then 3 times with the models alternating (a shared machine's load
changes over minutes); the best time counts. Weights are random: no HCN checkpoint exists, and the
time does not depend on the weights. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import Tensor, nn

from derain_cli.models import create_model

MODELS = ("sapnet", "hcn")


def best_times(nets: dict[str, nn.Module], x: Tensor, repeats: int) -> dict[str, float]:
    """Best wall time of each net's inference forward; runs alternate between nets, after one warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in nets}
    with torch.inference_mode():
        for net in nets.values():
            net(x)
        for _ in range(repeats):
            for name, net in nets.items():
                start = time.perf_counter()
                net(x)
                times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(1, 3, args.height, args.width)
    nets = {name: create_model(name).eval() for name in MODELS}
    seconds = best_times(nets, x, args.repeats)
    baseline = seconds[MODELS[0]]
    print(f"{args.width} x {args.height}, CPU, {args.threads} threads, best of {args.repeats} after a warm-up run, runs alternating\n")
    print("| model | parameters | time per image (s) | time / SAPNet's |")
    print("|---|---|---|---|")
    for name, net in nets.items():
        params = sum(p.numel() for p in net.parameters())
        print(f"| {name} | {params:,} | {seconds[name]:.2f} | {seconds[name] / baseline:.2f} |")


if __name__ == "__main__":
    main()
