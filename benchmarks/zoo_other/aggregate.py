"""Average run_evals.sh's outputs into one row per model and set (Markdown on stdout).

    python benchmarks/zoo_other/aggregate.py

gtrain_dev: one JSON per model. Rain100H: ten chunk JSONs per model (pairs 1-10, 11-20, ...);
the mean over all pairs is the n-weighted mean of the chunk means. A model with fewer than ten
chunks is reported with the number of pairs it covers.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("spanet-spa", "jorder-e-practical")


def _mean(reports: list[dict], model: str) -> dict[str, float]:
    n = sum(r["n"] for r in reports)

    def avg(row: str, key: str) -> float:
        rows = [r["rainy"] if row == "rainy" else r["models"][model] for r in reports]
        return sum(x[key] * r["n"] for x, r in zip(rows, reports)) / n

    return {
        "n": n,
        "rainy": (avg("rainy", "psnr"), avg("rainy", "ssim")),
        "model": (avg(model, "psnr"), avg(model, "ssim"), avg(model, "seconds_per_image")),
    }


def main() -> None:
    print("| model | set | pairs | rainy PSNR / SSIM (Y) | model PSNR / SSIM (Y) | s / image |")
    print("|---|---|---|---|---|---|")
    for model in MODELS:
        for name, files in (
            ("gtrain_dev", [HERE / f"gtrain_dev_{model}.json"]),
            ("rain100h", sorted(HERE.glob(f"rain100h_{model}_*.json"))),
        ):
            files = [f for f in files if f.is_file()]
            if not files:
                print(f"| {model} | {name} | 0 | | not measured | |")
                continue
            m = _mean([json.loads(f.read_text()) for f in files], model)
            rp, rs = m["rainy"]
            p, s, sec = m["model"]
            print(f"| {model} | {name} | {m['n']} | {rp:.2f} / {rs:.4f} | {p:.2f} / {s:.4f} | {sec:.2f} |")


if __name__ == "__main__":
    main()
