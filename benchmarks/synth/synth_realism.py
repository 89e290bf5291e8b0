"""Realism of `derain synth`: simple rainy/clean statistics of real pairs vs each preset's renderings.

Per pair (rainy R, clean C; both at 480 px short side, grey = BT.601 luma):
  contrast    std(grey R) / std(grey C)                         (< 1: the veil lowers contrast)
  saturation  mean HSV saturation of R / of C                  (< 1: rain washes colour out)
  detail      fine-detail energy of R / of C: std of grey - Gaussian(sigma 1.5) of grey
              (< 1: blur and veil remove fine detail; > 1: streaks add it)
  shift R,G,B mean(R - C) per channel, in grey levels            (the veil brightens toward the airlight)

Real: the pairs of ../shared/data/gtrain_dev (measured only, never trained or tuned on beyond these
ranges). Synthetic: each preset rendered on the same clean targets with several seeds.

    python -m benchmarks.synth.synth_realism [--data ../shared/data/gtrain_dev] [--seeds 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import SHARED, markdown_table
from derain_cli.imageio import read_rgb8
from derain_cli.pairs import find_pairs
from derain_cli.synth import PRESETS, render_rain

STATS = ("contrast", "saturation", "detail", "shift_r", "shift_g", "shift_b")
SIDE = 480


def at_side(image: np.ndarray, side: int = SIDE) -> np.ndarray:
    height, width = image.shape[:2]
    factor = side / min(height, width)
    return cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _detail(image: np.ndarray) -> float:
    grey = _grey(image)
    return float((grey - cv2.GaussianBlur(grey, (0, 0), 1.5)).std())


def pair_stats(rainy: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    saturation = lambda image: float(cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean())  # noqa: E731
    shift = rainy.astype(np.float32).mean(axis=(0, 1)) - clean.astype(np.float32).mean(axis=(0, 1))
    return {
        "contrast": float(_grey(rainy).std() / _grey(clean).std()),
        "saturation": saturation(rainy) / saturation(clean),
        "detail": _detail(rainy) / _detail(clean),
        "shift_r": float(shift[0]), "shift_g": float(shift[1]), "shift_b": float(shift[2]),
    }  # fmt: skip


def summary(rows: list[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """(min, median, max) of each statistic."""
    return {s: (min(r[s] for r in rows), float(np.median([r[s] for r in rows])), max(r[s] for r in rows)) for s in STATS}


def measure(data: Path, seeds: int) -> dict[str, dict[str, tuple[float, float, float]]]:
    pairs = find_pairs(data).pairs
    loaded = [(at_side(read_rgb8(p.rainy)), at_side(read_rgb8(p.clean)), p.name) for p in pairs]
    table = {"real": summary([pair_stats(rainy, clean) for rainy, clean, _ in loaded])}
    per_scene: dict[str, list[dict[str, float]]] = {}
    for rainy, clean, name in loaded:
        per_scene.setdefault(name.split("_")[0], []).append(pair_stats(rainy, clean))
    for scene, rows in per_scene.items():
        table[f"real {scene}"] = summary(rows)
    for preset in PRESETS:
        rows = [pair_stats(render_rain(clean, preset=preset, seed=seed)[0], clean) for _, clean, _ in loaded for seed in range(seeds)]
        table[preset] = summary(rows)
    return table


def markdown(table: dict[str, dict[str, tuple[float, float, float]]]) -> str:
    def cell(stat: str, low: float, median: float, high: float) -> str:
        digits = 0 if stat.startswith("shift") else 2
        return f"{low:.{digits}f} / {median:.{digits}f} / {high:.{digits}f}"

    rows = [(source, *(cell(s, *stats[s]) for s in STATS)) for source, stats in table.items()]
    return markdown_table(("source", *STATS), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "gtrain_dev")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    table = measure(args.data, args.seeds)
    print("min / median / max per statistic")
    print(markdown(table))
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
