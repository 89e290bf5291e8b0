"""The model zoo's measured rows (issue 17) as Markdown, from ``benchmarks/zoo/evals/run.sh``'s JSON files.

    python -m benchmarks.zoo.zoo_table

One row per registered checkpoint: the paper's claim (weights.toml), GT-RAIN dev (12 real pairs) and
Rain100H (the ten 10-pair parts combined by ``combine_evals.combine``: the per-image mean over every
pair covered; fewer than 100 pairs is said in the cell), each PSNR / SSIM on Y, fp32.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.zoo.combine_evals import combine
from derain_cli.weights.registry import load_registry

EVALS = Path(__file__).resolve().parent / "evals"


def _report(files: list[Path]) -> dict | None:
    """The parts of one model on one set combined (None when none was measured)."""
    return combine([json.loads(p.read_text()) for p in files]) if files else None


def _cell(name: str, report: dict | None) -> str:
    if report is None:
        return "not measured"
    row = report["models"][name]
    cell = f"{row['psnr']:.2f} / {row['ssim']:.4f}"
    return cell if report["n"] in (12, 100) else f"{cell} ({report['n']} pairs)"


def main() -> None:
    print("| checkpoint | paper's claim | GT-RAIN dev (12 real pairs) | Rain100H (100 pairs) | s / Rain100H image |")
    print("|---|---|---|---|---|")
    for entry in load_registry().models.values():
        gtrain = _report(sorted(EVALS.glob(f"{entry.name}__gtrain_dev.json")))
        rain100h = _report(sorted(EVALS.glob(f"{entry.name}__rain100h_part*.json")))
        if gtrain is None and rain100h is None:
            continue
        seconds = f"{rain100h['models'][entry.name]['seconds_per_image']:.1f}" if rain100h else "-"
        print(f"| {entry.name} | {entry.claim or '-'} | {_cell(entry.name, gtrain)} | {_cell(entry.name, rain100h)} | {seconds} |")

if __name__ == "__main__":
    main()
