"""Checks shared by the model-zoo tests: a registered architecture against its reference forward."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from derain_cli import Derainer

IMAGES = ("7.png", "42.png")


def max_grey_level_difference(
    model: str, weights: Path, rain100h: Path, reference: Callable[[torch.Tensor, dict], torch.Tensor]
) -> int:
    """Largest |package - reference| (uint8 grey levels) over Rain100H images 7 and 42."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    derainer = Derainer(model, weights=weights, device="cpu", precision="fp32")  # the reference is fp32
    worst = 0
    for name in IMAGES:
        rgb = np.array(Image.open(rain100h / "input" / name).convert("RGB"))
        y = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            ref = np.rint(reference(y, state).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(int)
        worst = max(worst, int(np.abs(derainer(rgb).astype(int) - ref).max()))
    return worst
