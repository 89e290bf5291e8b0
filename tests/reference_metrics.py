"""An independent, deliberately plain implementation of the papers' Y-channel PSNR/SSIM, for tests.

It shares no code with derain_cli.metrics: Y from the three channel planes, a 2D Gaussian window
built like MATLAB's fspecial('gaussian', 11, 1.5), and 'valid' filtering as explicit window sums
(numpy sliding windows), as in Wang et al.'s ssim_index.m.
"""

from __future__ import annotations

import math

import numpy as np


def matlab_y(rgb: np.ndarray) -> np.ndarray:
    """rgb2ycbcr(im2double(rgb)) channel 1, scaled by 255 (values 16..235)."""
    r, g, b = (rgb[..., c].astype(np.float64) / 255.0 for c in range(3))
    return (16.0 / 255.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0) * 255.0


def fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    offsets = np.arange(size) - (size - 1) / 2.0
    xx, yy = np.meshgrid(offsets, offsets)
    window = np.exp(-(xx**2 + yy**2) / (2.0 * sigma**2))
    return window / window.sum()


def filter2_valid(window: np.ndarray, image: np.ndarray) -> np.ndarray:
    patches = np.lib.stride_tricks.sliding_window_view(image, window.shape)
    return np.einsum("ijkl,kl->ij", patches, window)


def reference_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    """ssim_index.m with K = [0.01 0.03], L = 255, an 11x11 Gaussian window (sigma 1.5), mean of the valid map."""
    window = fspecial_gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = filter2_valid(window, img1), filter2_valid(window, img2)
    sigma1_sq = filter2_valid(window, img1 * img1) - mu1 * mu1
    sigma2_sq = filter2_valid(window, img2 * img2) - mu2 * mu2
    sigma12 = filter2_valid(window, img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1**2 + mu2**2 + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map.mean())


def reference_psnr_ssim(output: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """(PSNR on Y / 255 with peak 1, SSIM on Y in [0, 255]) of two uint8 RGB images."""
    y1, y2 = matlab_y(output), matlab_y(clean)
    mse = np.mean((y1 / 255.0 - y2 / 255.0) ** 2)
    return 10.0 * math.log10(1.0 / mse), reference_ssim(y1, y2)
