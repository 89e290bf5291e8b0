"""Small paired data sets written as real PNG files, in each layout the pairing knows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

# layout -> (rainy path, clean path) of pair ``name``, relative to the set's root
LAYOUTS = {
    "input/+target/": lambda name: (f"input/{name}.png", f"target/{name}.png"),
    "rain/+norain/": lambda name: (f"rain/rain-{name}.png", f"norain/norain-{name}.png"),
    "rainy/+gt/": lambda name: (f"rainy/{name}.png", f"gt/{name}.png"),
    "rain-NNN+norain-NNN": lambda name: (f"rain-{name}.png", f"norain-{name}.png"),
}


def write_pairs(root: Path, count: int = 6, size: tuple[int, int] = (48, 40), layout: str = "input/+target/", seed: int = 0) -> Path:
    """``count`` pairs of ``size`` (width, height): random clean images, rainy = their negative (so crops can be checked)."""
    rng = np.random.default_rng(seed)
    for index in range(1, count + 1):
        clean = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        for relative, pixels in zip(LAYOUTS[layout](str(index)), (255 - clean, clean)):
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    return root


def copy_rain100h(source: Path, root: Path, count: int = 6) -> Path:
    """The first ``count`` Rain100H test pairs copied into ``root`` (input/ + target/)."""
    for sub in ("input", "target"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for index in range(1, count + 1):
            shutil.copy(source / sub / f"{index}.png", root / sub / f"{index}.png")
    return root
