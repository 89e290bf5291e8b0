"""HCN's training loss: negative SSIM of each sub-network's estimate plus the multi-scale compact constraints.

As in the authors' ``train.py``: ``-(SSIM(top) + SSIM(middle) + SSIM(bottom) + 0.05 SSIM(1/2) +
0.001 SSIM(1/4))``, the 1/2 and 1/4 estimates compared with the clean image's Gaussian pyramid levels.
"""

from __future__ import annotations

from torch import Tensor

from derain_cli.errors import UsageError
from derain_cli.losses.ssim import ssim
from derain_cli.models.hcn import pyr_down

WEIGHTS = {"top": 1.0, "middle": 1.0, "bottom": 1.0, "half": 0.05, "quarter": 0.001}
SSIM_WINDOW = 11


def hcn_loss(outputs: tuple[Tensor, list[Tensor]], clean: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss of ``outputs = model(rainy)`` against ``clean`` (N x 3 x H x W) and each SSIM, detached.

    Terms are named ``ssim_top``, ``ssim_middle``, ``ssim_bottom``, ``ssim_half``, ``ssim_quarter``.
    """
    final, extras = outputs
    if len(extras) != 4:
        raise ValueError(f"hcn_loss: expected the 4 extras of the hcn model, got {len(extras)}")
    clean_half = pyr_down(clean)
    clean_quarter = pyr_down(clean_half)
    if min(clean_quarter.shape[-2:]) < SSIM_WINDOW:
        raise UsageError(
            f"hcn training needs patches of at least {4 * SSIM_WINDOW - 3} px: its 1/4-scale output is "
            f"{tuple(clean_quarter.shape[-2:])}, smaller than SSIM's {SSIM_WINDOW} x {SSIM_WINDOW} window"
        )
    targets = {"top": clean, "middle": clean, "bottom": clean, "half": clean_half, "quarter": clean_quarter}
    scores = {name: ssim(out, targets[name]).mean() for name, out in zip(WEIGHTS, [final, *extras])}
    total = -sum(WEIGHTS[name] * score for name, score in scores.items())
    return total, {f"ssim_{name}": score.detach() for name, score in scores.items()}
