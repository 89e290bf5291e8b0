"""Layer-wise soups of `sapnet-realrain-v2` and the authors' Rain100H SAPNet (issue 25), scored on the
validation sets of benchmarks/gpu_realrain/val_sets.py (never a test set). A uniform soup buys Rain100H's
kind of rain with faithfulness everywhere; blocks differ in what they do, so the authors' share is set
per block of the network (made with `derain weights average --layers`, as the shipped file is).

    python -m benchmarks.realrain_layer_soup /work/data/val_urban AUTHORS.pth --out layer_soup.jsonl

Prints, per candidate, PSNR-Y (bf16) of rain-free photos against themselves (`clean`), of the four
synthetic rainy sets and of `rth`, and the mean of the five rainy sets. The rule fixed beforehand
(docs/real-rain.md): `clean` at least 38, then the highest mean of the five; it must beat v2's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.evaluate import derainer_methods, evaluate
from derain_cli.pairs import find_pairs, rain_free_set
from derain_cli.weights.average import average_checkpoints

V2 = Path(__file__).parents[1] / "derain_cli" / "bundled" / "sapnet-realrain-v2.safetensors"
RAINY = ("mix", "heavy", "storm", "layered", "rth")
# the authors' share per block: whole blocks first, then their halves and quarters around the best pair
SINGLE_BLOCKS = [{block: 1.0} for block in ("conv0", "conv_f,conv_g,conv_i,conv_o", *(f"res_conv{k}" for k in range(1, 6)), "conv.")]
CANDIDATES = [
    {},
    *SINGLE_BLOCKS,
    {"res_conv3": 1.0, "res_conv4": 1.0},
    {"res_conv3": 1.0, "res_conv4": 1.0, "res_conv5": 1.0},
    {"res_conv1": 0.5, "res_conv3": 1.0, "res_conv4": 1.0},
    *({"res_conv3": a, "res_conv4": b} for a in (0.25, 0.5, 0.75) for b in (0.25, 0.5, 0.75)),
    {"res_conv3": 0.5, "res_conv4": 0.5, "res_conv5": 0.25},
    {"res_conv1": 0.25, "res_conv3": 0.5, "res_conv4": 0.5},
    {"res_conv2": 0.25, "res_conv3": 0.5, "res_conv4": 0.5},
]


def soup(authors: Path, shares: dict[str, float], folder: Path) -> Path:
    """v2 with each block (comma-separated prefixes) moved ``share`` of the way to the authors' weights."""
    current = V2
    for number, (layers, share) in enumerate(shares.items()):
        out = folder / f"step{number}.safetensors"
        average_checkpoints([current, authors], out, [1 - share, share], overwrite=True, layers=layers.split(","))
        current = out
    return current


def psnr(derainer: Derainer, root: Path, clean: bool) -> float:
    """Mean PSNR-Y of a set as `derain eval [--clean]` measures it: outputs against the targets, or
    (``clean``) against the inputs themselves."""
    report = evaluate(rain_free_set(root) if clean else find_pairs(root), derainer_methods(derainer, "soup"))
    return report.models["soup"].mean().psnr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("val", type=Path, help="the folder val_sets.py wrote (clean/, mix/, ..., rth/)")
    parser.add_argument("authors", type=Path, help="the authors' Rain100H SAPNet (../shared/weights/sapnet_rain100h_authors.pth)")
    parser.add_argument("--out", type=Path, default=Path("layer_soup.jsonl"))
    args = parser.parse_args()
    done = {json.dumps(json.loads(line)["shares"]) for line in args.out.open()} if args.out.exists() else set()
    with tempfile.TemporaryDirectory() as tmp, args.out.open("a") as log:
        for shares in CANDIDATES:
            if json.dumps(shares) in done:
                continue
            derainer = Derainer("sapnet", weights=soup(args.authors, shares, Path(tmp)), precision="bf16")
            row = {"shares": shares, "clean": psnr(derainer, args.val / "clean", True)}
            row |= {name: psnr(derainer, args.val / name, False) for name in RAINY}
            row["mean5"] = float(np.mean([row[name] for name in RAINY]))
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(" ".join(f"{row[k]:.2f}" for k in ("clean", *RAINY)), f"mean5 {row['mean5']:.3f}", shares, flush=True)


if __name__ == "__main__":
    main()
