"""Image-quality metrics computed as the deraining papers compute them.

PSNR and SSIM on the Y channel of MATLAB's ``rgb2ycbcr`` applied to double images
(Y = 16 + 65.481 R + 128.553 G + 24.966 B, R, G, B in [0, 1], Y left unrounded), as in PReNet's
``statistic.m``: PSNR with peak 1 on Y / 255; SSIM on Y in [0, 255] with an 11 x 11 Gaussian window
(sigma 1.5), K1 = 0.01, K2 = 0.03, averaged over the 'valid' region (no padding). Inputs are uint8,
so a model's output is measured as a saved PNG would be. RGB PSNR (peak 255) is a secondary number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from derain_cli.errors import DerainError

# MATLAB rgb2ycbcr, row for Y, on R, G, B in [0, 1].
Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # MATLAB rgb2ycbcr's Y row, for RGB in [0, 1]
_Y_OFFSET = 16.0
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
_PEAK = 255.0
_C1 = (K1 * _PEAK) ** 2
_C2 = (K2 * _PEAK) ** 2
_GAUSS = cv2.getGaussianKernel(WINDOW, SIGMA, cv2.CV_64F)  # normalised; its outer product is fspecial's


@dataclass(frozen=True)
class Scores:
    """The metrics of one image (or their means over a set)."""

    psnr: float  # dB, Y channel
    ssim: float  # Y channel
    rgb_psnr: float  # dB, all three channels


def _check(image: np.ndarray, reference: np.ndarray) -> None:
    for array in (image, reference):
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected H x W x 3 uint8 images, got {array.dtype} {array.shape}")
    if image.shape != reference.shape:
        raise DerainError(f"images differ in size: {image.shape[1]}x{image.shape[0]} vs {reference.shape[1]}x{reference.shape[0]}")


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr(im2double(rgb))(:, :, 1) * 255``: float64 Y in [16, 235] of a uint8 RGB image."""
    return rgb.astype(np.float64) @ (Y_WEIGHTS / _PEAK) + _Y_OFFSET


def psnr(image: np.ndarray, reference: np.ndarray, peak: float) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical images."""
    mse = float(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def _filter(plane: np.ndarray) -> np.ndarray:
    """Gaussian-weighted local means over the valid region (windows entirely inside the image)."""
    half = WINDOW // 2
    smoothed = cv2.sepFilter2D(plane, cv2.CV_64F, _GAUSS, _GAUSS, borderType=cv2.BORDER_REFLECT)
    return smoothed[half:-half, half:-half]


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM of two float grayscale images in [0, 255] (Wang et al. 2004), valid region only."""
    if min(image.shape) < WINDOW:
        raise DerainError(f"image is {image.shape[1]}x{image.shape[0]}: SSIM needs at least {WINDOW}x{WINDOW} pixels")
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    mu_x, mu_y = _filter(x), _filter(y)
    var_x = _filter(x * x) - mu_x * mu_x
    var_y = _filter(y * y) - mu_y * mu_y
    cov = _filter(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * cov + _C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return float(np.mean(numerator / denominator))


def psnr_y(image: np.ndarray, reference: np.ndarray) -> float:
    """Y-channel PSNR of two H x W x 3 uint8 RGB images (peak 1 on Y / 255)."""
    _check(image, reference)
    return psnr(rgb_to_y(image), rgb_to_y(reference), _PEAK)


def ssim_y(image: np.ndarray, reference: np.ndarray) -> float:
    """Y-channel SSIM of two H x W x 3 uint8 RGB images."""
    _check(image, reference)
    return ssim(rgb_to_y(image), rgb_to_y(reference))


def psnr_rgb(image: np.ndarray, reference: np.ndarray) -> float:
    """PSNR over all three channels of two H x W x 3 uint8 RGB images (peak 255)."""
    _check(image, reference)
    return psnr(image, reference, _PEAK)


def score(image: np.ndarray, reference: np.ndarray) -> Scores:
    """All metrics of ``image`` against ``reference`` (both H x W x 3 uint8 RGB)."""
    _check(image, reference)
    y, y_ref = rgb_to_y(image), rgb_to_y(reference)
    return Scores(psnr(y, y_ref, _PEAK), ssim(y, y_ref), psnr(image, reference, _PEAK))
