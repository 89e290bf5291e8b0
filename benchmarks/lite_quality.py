"""Two quality measures ``derain eval`` does not give (yet): do-no-harm on rain-free photos, and GT-RAIN dev per scene.

    python benchmarks/lite_quality.py no-harm --model lite
    python benchmarks/lite_quality.py no-harm --model sapnet-realrain --limit 10
    python benchmarks/lite_quality.py scenes --model lite --model sapnet-realrain

``no-harm``: PSNR-Y / SSIM-Y of a model's output against its input on rain-free photos
(../shared/data/clean/urban100, ``--folder`` for another): a model that does no harm returns them
nearly unchanged, higher is better. A stopgap until ``derain eval`` measures it (the real-rain photo
issue). ``scenes``: PSNR-Y / SSIM-Y per scene of ../shared/data/gtrain_dev (the name before the
first ``_``), for the rainy input and each model. Both in fp32, each image whole, scores through
``derain_cli.metrics``; ``--weights`` once per ``--model`` where a model is not a registered name.
Prints Markdown and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from derain_cli import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import psnr_y, ssim_y
from derain_cli.pairs import find_pairs, image_files, natural_key

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
INPUT = "rainy input"


def _derainers(models: list[str], weights: list[str]) -> dict[str, Derainer]:
    files = weights + [None] * (len(models) - len(weights))
    return {model: Derainer(model, weights=file, device="cpu", precision="fp32") for model, file in zip(models, files)}


def no_harm(derainers: dict[str, Derainer], folder: Path, limit: int | None) -> dict[str, dict[str, float]]:
    photos = sorted(image_files(folder), key=lambda p: natural_key(p.name))[:limit]
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for path in photos:
        rgb = read_rgb8(path)
        for name, derainer in derainers.items():
            out = derainer(rgb)
            scores[name].append((psnr_y(out, rgb), ssim_y(out, rgb)))
    print(f"Rain-free photos: {folder} ({len(photos)}), output vs input, fp32\n\n| model | PSNR-Y | SSIM-Y |\n|---|---|---|")
    return _table(scores)


def scenes(derainers: dict[str, Derainer], folder: Path) -> dict[str, dict[str, float]]:
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for pair in find_pairs(folder).pairs:
        scene = pair.name.split("_")[0]
        rainy, clean = read_rgb8(pair.rainy), read_rgb8(pair.clean)
        for name, out in [(INPUT, rainy)] + [(name, d(rainy)) for name, d in derainers.items()]:
            scores[f"{scene} | {name}"].append((psnr_y(out, clean), ssim_y(out, clean)))
    print(f"{folder}, per scene, fp32\n\n| scene | model | PSNR-Y | SSIM-Y |\n|---|---|---|---|")
    return _table(scores)


def _table(scores: dict[str, list[tuple[float, float]]]) -> dict[str, dict[str, float]]:
    result = {}
    for name, values in scores.items():
        psnr, ssim = np.mean(values, axis=0)
        result[name] = {"psnr_y": round(float(psnr), 2), "ssim_y": round(float(ssim), 4), "images": len(values)}
        print(f"| {name} | {psnr:.2f} | {ssim:.4f} |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=("no-harm", "scenes"))
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="no-harm: the first N photos (natural order)")
    args = parser.parse_args()
    derainers = _derainers(args.model, args.weights)
    if args.measure == "no-harm":
        result = no_harm(derainers, args.folder or SHARED / "data" / "clean" / "urban100", args.limit)
    else:
        result = scenes(derainers, args.folder or SHARED / "data" / "gtrain_dev")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
