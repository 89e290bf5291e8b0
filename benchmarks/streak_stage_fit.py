"""Fit the streak stage's settings (derain_cli/streak_stage.py) on cached network outputs.

    python benchmarks/streak_stage_fit.py CACHE MODEL --pairs SET=FOLDER... --clean SET=FOLDER... [--min-clean DB]
    python benchmarks/streak_stage_fit.py CACHE MODEL --score SET=FOLDER... [--stage k=1.5,low_sigma=6]

CACHE/MODEL/SET/NAME.png are the network's outputs (benchmarks/streak_stage_cache.py). ``--pairs`` sets
have input/ + target/ (rain made by `derain synth` on clean non-test photos), ``--clean`` sets are
rain-free photos scored against themselves (do-no-harm). The fit is a coordinate search over a grid
that maximises the mean PSNR-Y over the pair sets while every clean set stays at or above ``--min-clean``
dB. ``--score`` prints per-image and per-scene PSNR-Y/SSIM-Y of the rainy input, the network and the
network with the stage (test sets are only ever scored, never fitted on).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from derain_cli.imageio import read_rgb8
from derain_cli.metrics import psnr_y, ssim_y
from derain_cli.streak_stage import StreakStage

GRID = {
    "low_sigma": [2.0, 3.0, 4.0, 6.0, 9.0, 14.0, 20.0],
    "low_keep": [0.0, 0.25, 0.5, 0.75, 1.0],
    "k": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
    "texture_sigma": [1.5, 3.0, 5.0, 8.0],
    "floor": [v / 255.0 for v in (0.0, 1.0, 2.0, 3.0, 5.0, 8.0)],
}
# The rain-presence gate, searched jointly (gate_high = gate_low + width) with the other settings fixed.
GATE_GRID = [(low, width, 16.0) for low in (0.2, 0.35, 0.5, 0.65) for width in (0.15, 0.3)] + [(1.0, 0.0, 16.0)]


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255.0)


def _uint8(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def load(cache: Path, model: str, spec: str, paired: bool) -> tuple[str, list[tuple[str, torch.Tensor, torch.Tensor, np.ndarray]]]:
    """SET=FOLDER -> (SET, [(name, rainy, network output, reference)]) for the cached images."""
    name, _, folder = spec.partition("=")
    items = []
    for out in sorted((cache / model / name).glob("*.png")):
        rainy = read_rgb8((Path(folder) / "input" if paired else Path(folder)) / out.name)
        reference = read_rgb8(Path(folder) / "target" / out.name) if paired else rainy
        items.append((out.stem, _tensor(rainy), _tensor(read_rgb8(out)), reference))
    if not items:
        raise SystemExit(f"no cached outputs in {cache / model / name}")
    return name, items


def mean_psnr(stage: StreakStage | None, items: list) -> float:
    return float(np.mean([psnr_y(_uint8(stage(x, y) if stage else y), ref) for _, x, y, ref in items]))


def fit(pairs: dict[str, list], clean: dict[str, list], min_clean: float, rounds: int = 3) -> StreakStage:
    """Coordinate search: each setting in turn over its grid, the others fixed; feasible = clean sets >= min_clean."""

    def value(stage: StreakStage) -> tuple[bool, float, dict[str, float]]:
        scores = {name: mean_psnr(stage, items) for name, items in {**pairs, **clean}.items()}
        feasible = all(scores[name] >= min_clean for name in clean)
        return feasible, float(np.mean([scores[name] for name in pairs])), scores

    best = StreakStage()
    best_value = value(best)
    for _ in range(rounds):
        changed = False
        for setting, grid in GRID.items():
            for candidate in grid:
                stage = replace(best, **{setting: candidate})
                result = value(stage)
                if result[:2] > best_value[:2]:
                    best, best_value, changed = stage, result, True
            print(f"{setting}: {best.to_table()} -> {json.dumps({k: round(v, 3) for k, v in best_value[2].items()})}", flush=True)
        if not changed:
            break
    return best


def fit_gate(start: StreakStage, pairs: dict[str, list], clean: dict[str, list], min_clean: float) -> StreakStage:
    """The gate settings of :data:`GATE_GRID` with the best mean PSNR-Y over ``pairs``, clean sets >= ``min_clean``."""
    best, best_value = start, (False, -1.0)
    for low, width, sigma in GATE_GRID:
        stage = replace(start, gate_low=low, gate_high=min(1.0, low + width) if low < 1 else 1.0, gate_sigma=sigma)
        scores = {name: mean_psnr(stage, items) for name, items in {**pairs, **clean}.items()}
        value = (all(scores[n] >= min_clean for n in clean), float(np.mean([scores[n] for n in pairs])))
        print(f"gate {low} +{width} sigma {sigma}: {json.dumps({k: round(v, 3) for k, v in scores.items()})}", flush=True)
        if value > best_value:
            best, best_value = stage, value
    return best


def score(sets: dict[str, list], stage: StreakStage) -> dict:
    """Per image and per scene (name before the last ``_``) PSNR-Y / SSIM-Y of input, network, network + stage."""
    report: dict = {}
    for name, items in sets.items():
        rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for image, x, y, ref in items:
            scene = image.rsplit("_", 1)[0] if "_" in image else "all"
            for label, out in (("input", _uint8(x)), ("network", _uint8(y)), ("network+stage", _uint8(stage(x, y)))):
                for key in (scene, "mean"):
                    rows[label][key + " psnr"].append(psnr_y(out, ref))
                    rows[label][key + " ssim"].append(ssim_y(out, ref))
        report[name] = {label: {key: round(float(np.mean(v)), 4) for key, v in cols.items()} for label, cols in rows.items()}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("model")
    parser.add_argument("--pairs", nargs="*", default=[])
    parser.add_argument("--clean", nargs="*", default=[])
    parser.add_argument("--min-clean", type=float, default=40.0)
    parser.add_argument("--score", nargs="*", default=[], help="SET=FOLDER (paired) or SET=FOLDER:clean")
    parser.add_argument("--stage", default="", help="settings to score (or to start the gate fit from), e.g. k=1.5,low_sigma=6")
    parser.add_argument("--gate", action="store_true", help="fit only the rain-presence gate, from --stage")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = dict(item.split("=") for item in args.stage.split(",") if item)
    stage = StreakStage.from_table({k: float(v) for k, v in table.items()}, "--stage")
    if args.score:
        sets = dict(load(args.cache, args.model, s.removesuffix(":clean"), not s.endswith(":clean")) for s in args.score)
        print(json.dumps({"stage": stage.to_table(), "scores": score(sets, stage)}, indent=1))
        return
    pairs = dict(load(args.cache, args.model, spec, True) for spec in args.pairs)
    clean = dict(load(args.cache, args.model, spec, False) for spec in args.clean)
    for name, items in {**pairs, **clean}.items():
        print(f"{name}: input {np.mean([psnr_y(_uint8(x), r) for _, x, _, r in items]):.3f} "
              f"network {mean_psnr(None, items):.3f} ({len(items)} images)", flush=True)
    best = fit_gate(stage, pairs, clean, args.min_clean) if args.gate else fit(pairs, clean, args.min_clean)
    print(json.dumps(best.to_table()))


if __name__ == "__main__":
    main()
