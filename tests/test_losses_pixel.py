"""Pixel losses: gradients see flattened texture, tone sees a darkened picture, and neither sees the other."""

from __future__ import annotations

import torch

from derain_cli.losses.base import LossBatch
from derain_cli.losses.pixel import GradientLoss, L1Loss, ToneLoss
from derain_cli.streak_stage import gaussian_blur


def _batch(output: torch.Tensor, clean: torch.Tensor) -> LossBatch:
    return LossBatch(output=output, clean=clean, rainy=clean)


def test_gradient_loss_sees_texture_and_tone_loss_sees_tone() -> None:
    clean = (0.5 + 0.1 * torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    flat = gaussian_blur(clean.reshape(6, 1, 32, 32), 2.0).reshape(2, 3, 32, 32)  # texture gone, tone kept
    darker = clean - 0.05  # tone shifted, texture kept
    gradient, tone = GradientLoss(), ToneLoss(cell=16)
    assert gradient(_batch(darker, clean)).item() < 1e-6 and gradient(_batch(flat, clean)).item() > 0.05
    assert abs(tone(_batch(darker, clean)).item() - 0.05) < 1e-5 and tone(_batch(flat, clean)).item() < 0.01
    assert L1Loss()(_batch(darker, clean)).item() > 0.04
    tiny = clean[..., :8, :8]  # smaller than a cell: pooled over the whole patch
    assert abs(tone(_batch(tiny - 0.02, tiny)).item() - 0.02) < 1e-5


def test_gradient_loss_trains_through_autograd() -> None:
    output = torch.zeros(1, 3, 8, 8, requires_grad=True)
    clean = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    GradientLoss()(_batch(output, clean)).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
