"""CUDA checks and timings for the record, run on a lent GPU after the training of train.sh.

For each model: seconds per image through the public ``Derainer`` API (fp32 and fp16, 480x320 and
1920x1080, median of 5 after 2 warm-ups, synchronised) and the fp16 output's largest difference from
fp32 in grey levels. Printed as JSON lines and written to ``$OUT/cuda_checks.json``.

    python benchmarks/gpu_realrain/cuda_checks.py sapnet-realrain litenet=WEIGHTS ...
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from derain_cli.derainer import Derainer

SIZES = ((320, 480), (1080, 1920))


def seconds(derainer: Derainer, rgb: np.ndarray, repeats: int = 5) -> tuple[float, np.ndarray]:
    """Median wall time of one call (after two warm-ups) and the last output."""
    for _ in range(2):
        out = derainer(rgb)
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = derainer(rgb)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def check(spec: str) -> list[dict[str, object]]:
    name, _, weights = spec.partition("=")
    rows = []
    rng = np.random.default_rng(0)
    for height, width in SIZES:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        results = {}
        for precision in ("fp32", "fp16"):
            derainer = Derainer(name, weights=weights or None, device="cuda", precision=precision)
            results[precision] = seconds(derainer, rgb)
        diff = np.abs(results["fp32"][1].astype(int) - results["fp16"][1].astype(int)).max()
        rows.append({"model": name, "size": f"{width}x{height}", "fp32_s": round(results["fp32"][0], 5),
                     "fp16_s": round(results["fp16"][0], 5), "fp16_max_diff_levels": int(diff)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(specs: list[str]) -> None:
    print(torch.cuda.get_device_name(0), torch.__version__, flush=True)
    rows = [row for spec in specs for row in check(spec)]
    out = Path(os.environ.get("OUT", "runs/gpu_out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "cuda_checks.json").write_text(json.dumps({"device": torch.cuda.get_device_name(0), "rows": rows}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
