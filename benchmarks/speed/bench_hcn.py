"""Parameter count and CPU time per image of HCN next to SAPNet, in one process on the same input.

    python -m benchmarks.speed.bench_hcn    # 480 x 320, 2 threads

Each model runs once to warm up, then 3 times with the models alternating (a shared machine's load
changes over minutes); the best time counts. Weights are random: no HCN checkpoint exists, and the
time does not depend on the weights. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch

from benchmarks.common import best_of, markdown_table
from derain_cli.models import create_model

MODELS = ("sapnet", "hcn")


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
    with torch.inference_mode():
        seconds = best_of({name: partial(net, x) for name, net in nets.items()}, args.repeats)
    baseline = seconds[MODELS[0]]
    print(f"{args.width} x {args.height}, CPU, {args.threads} threads, best of {args.repeats} after a warm-up run, runs alternating\n")
    rows = [(name, f"{sum(p.numel() for p in net.parameters()):,}", f"{seconds[name]:.2f}", f"{seconds[name] / baseline:.2f}")
            for name, net in nets.items()]
    print(markdown_table(("model", "parameters", "time per image (s)", "time / SAPNet's"), rows))


if __name__ == "__main__":
    main()
