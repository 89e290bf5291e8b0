"""Real paired rain (GT-RAIN frames), per scene: which checkpoints beat doing nothing, and by how much.

    python -m benchmarks.quality.real_rain ../shared/data/gtrain_dev CANDIDATE... [--json out.json] [--precision fp32]

A candidate is MODEL (a weights.toml name or architecture) or MODEL=WEIGHTS (a checkpoint file).
Scenes are the names before the last ``_`` (``Taitung_0-0_020`` -> ``Taitung_0-0``). Per-image scores are
the metrics of `derain eval` (Y of rgb2ycbcr, 11x11 Gaussian SSIM, outputs rounded to uint8).
A model must earn its score by removing rain, not by guessing exposure: the ``affine`` row (a
per-channel affine fit of the rainy frame to its target, which no model can know) shows how much of
each scene's gap is colour and lighting.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.common import markdown_table
from derain_cli import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import psnr_y, ssim_y
from derain_cli.pairs import find_pairs


def scene_of(name: str) -> str:
    return name.rsplit("_", 1)[0]


def affine_fit(rainy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Per-channel least-squares ``a * rainy + b`` to ``clean`` (an oracle: it reads the target)."""
    x, y = rainy.reshape(-1, 3).astype(np.float64), clean.reshape(-1, 3).astype(np.float64)
    out = np.empty_like(x)
    for c in range(3):
        a, b = np.polyfit(x[:, c], y[:, c], 1)
        out[:, c] = a * x[:, c] + b
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(rainy.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("candidates", nargs="*", help="MODEL or MODEL=WEIGHTS")
    parser.add_argument("--json", type=Path, help="also write every per-image score here")
    parser.add_argument("--precision", default="auto", help="auto (bf16 where the CPU has it), fp32, bf16")
    args = parser.parse_args()
    pairs = find_pairs(args.data).pairs
    images = [(p.name, read_rgb8(p.rainy), read_rgb8(p.clean)) for p in pairs]
    methods = {"rainy input": lambda rgb, clean: rgb, "affine (oracle)": affine_fit}
    for spec in args.candidates:
        model, _, weights = spec.partition("=")
        derainer = Derainer(model=model, weights=weights or None, device="cpu", precision=args.precision)
        methods[spec] = lambda rgb, clean, d=derainer: d(rgb)
    scores: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for label, method in methods.items():
        for name, rainy, clean in images:
            out = method(rainy, clean)
            scores[label][name] = (psnr_y(out, clean), ssim_y(out, clean))
        print(f"measured {label}", file=sys.stderr)
    scenes = sorted({scene_of(name) for name, _, _ in images})
    base = scores["rainy input"]
    rows = []
    for label, row in scores.items():
        cells = [label]
        for group in [None, *scenes]:
            names = [n for n in row if group is None or scene_of(n) == group]
            p = float(np.mean([row[n][0] for n in names]))
            s = float(np.mean([row[n][1] for n in names]))
            gain = p - float(np.mean([base[n][0] for n in names]))
            cells.append(f"{p:.2f} / {s:.4f}" + ("" if label == "rainy input" else f" ({gain:+.2f})"))
        rows.append(cells)
    print(markdown_table(("model", "all PSNR / SSIM", *scenes), rows))
    if args.json:
        args.json.write_text(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
