"""What the benchmark scripts share: where the reference material is, images in, timing, Markdown out.

Every script runs from the repository root as a module (``python -m benchmarks.speed.bench_infer``),
so it imports this file and the working tree's ``derain_cli``. Speed is reported as a ratio against a
baseline timed in the same run (runs alternate, so a shared machine's load hits every method alike);
the load average goes with every table so a reader can tell a quiet run from a busy one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DERAIN_SHARED", REPO_ROOT.parent / "shared"))


def load_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image as H x W x 3 uint8, resized (bicubic) to ``size`` = (width, height) when given."""
    image = Image.open(path).convert("RGB")
    return np.array(image.resize(size, Image.BICUBIC) if size else image)


def plain_forward(network: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """The papers' forward pass (the module as written, NCHW float32) on one uint8 image, rounded to uint8."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        y = network(x)[0]
    return np.rint(y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def best_of(methods: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each method over ``repeats`` rounds in which the methods alternate, after one
    warm-up call each (so a load change on a shared machine hits every method alike)."""
    for method in methods.values():
        method()
    best = {name: float("inf") for name in methods}
    for _ in range(repeats):
        for name, method in methods.items():
            start = time.perf_counter()
            method()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the record beside a timing."""
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; cells are written with ``str`` (format numbers before)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
