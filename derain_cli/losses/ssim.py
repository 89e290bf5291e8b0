"""Differentiable SSIM (Gaussian 11 x 11 window, sigma 1.5) and the negative-SSIM training loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.losses.base import LossBatch

K1, K2 = 0.01, 0.03


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """A normalised ``size`` x ``size`` Gaussian kernel (float64)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0, window: Tensor | None = None) -> Tensor:
    """Per-image SSIM of two N x C x H x W batches, averaged over channels and the valid region (no padding).

    Computed in float32 whatever the input precision, with autocast off: in bf16 the variances
    (differences of blurred squares) would lose most of their digits.
    """
    with torch.autocast(x.device.type, enabled=False):
        return _ssim(x, y, data_range, window)


def _ssim(x: Tensor, y: Tensor, data_range: float, window: Tensor | None) -> Tensor:
    if x.shape != y.shape:
        raise ValueError(f"ssim: shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    x, y = x.float(), y.float()
    channels = x.shape[1]
    kernel = (gaussian_window() if window is None else window).to(x.device, torch.float32)
    size = kernel.shape[-1]
    if min(x.shape[-2:]) < size:
        raise ValueError(f"ssim: images of {tuple(x.shape[-2:])} are smaller than the {size} x {size} window")
    kernel = kernel.expand(channels, 1, size, size)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel, groups=channels)

    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3))


class SSIMLoss(nn.Module):
    """``-SSIM(output, clean)`` averaged over the batch (the SAPNet paper's pixel loss)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", gaussian_window().float(), persistent=False)

    def forward(self, batch: LossBatch) -> Tensor:
        return -ssim(batch.output, batch.clean, window=self.window).mean()
