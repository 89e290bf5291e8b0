"""Combine `derain eval --json` results of disjoint parts of one test set into the whole set's means.

    python -m benchmarks.zoo.combine_evals benchmarks/zoo/evals/brn-rain100h__rain100h_part*.json

On a loaded shared machine a 100-pair evaluation is run as ten 10-pair parts (resumable: a part
either finished and left its JSON, or is rerun). The papers average PSNR/SSIM per image, so the
whole set's mean is the pair-count-weighted mean of the parts' means. Prints one JSON object in
``derain eval --json``'s shape (plus the parts combined).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METRICS = ("psnr", "ssim", "rgb_psnr", "seconds_per_image")


def combine(reports: list[dict]) -> dict:
    """The weighted means of every row (rainy input and each model) over the parts."""
    total = sum(r["n"] for r in reports)

    def mean(rows: list[dict]) -> dict:
        return {k: round(sum(r[k] * rep["n"] for r, rep in zip(rows, reports)) / total, 6)
                for k in METRICS if all(k in r for r in rows)}

    models = sorted({name for r in reports for name in r["models"]})
    missing = [name for name in models if any(name not in r["models"] for r in reports)]
    if missing:
        raise SystemExit(f"error: model(s) {', '.join(missing)} not in every part")
    return {
        "n": total,
        "parts": len(reports),
        "rainy": mean([r["rainy"] for r in reports]),
        "models": {name: mean([r["models"][name] for r in reports]) for name in models},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args()
    print(json.dumps(combine([json.loads(p.read_text()) for p in args.reports]), indent=2))


if __name__ == "__main__":
    main()
