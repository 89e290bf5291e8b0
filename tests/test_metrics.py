"""Metrics against hand-computed cases and an independent implementation (tests/reference_metrics.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from derain_cli.errors import DerainError
from derain_cli.metrics import psnr, psnr_rgb, psnr_y, rgb_to_y, score, ssim, ssim_y
from reference_metrics import reference_psnr_ssim

Y_GAIN = (65.481 + 128.553 + 24.966) / 255.0  # dY per unit change of R = G = B (219 / 255)


def _image(seed: int, height: int = 40, width: int = 56) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_y_channel_of_known_colours() -> None:
    colours = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(colours)[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966])


def test_identical_images_give_infinite_psnr_and_unit_ssim() -> None:
    image = _image(0)
    scores = score(image, image.copy())
    assert scores.psnr == math.inf and scores.rgb_psnr == math.inf
    assert scores.ssim == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("step", [1, 5, 20])
def test_known_noise_level_gives_expected_psnr(step: int) -> None:
    clean = np.full((32, 32, 3), 128, dtype=np.uint8)
    signs = np.random.default_rng(step).choice([-1, 1], size=(32, 32, 1))
    noisy = (clean.astype(int) + step * signs).astype(np.uint8)  # every channel off by +-step
    assert psnr_rgb(noisy, clean) == pytest.approx(20 * math.log10(255 / step), abs=1e-9)
    assert psnr_y(noisy, clean) == pytest.approx(20 * math.log10(255 / (step * Y_GAIN)), abs=1e-9)


def test_ssim_of_constant_images_matches_the_formula() -> None:
    a, b = 100.0, 140.0
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # no variance: the contrast-structure term is 1
    assert ssim(np.full((20, 30), a), np.full((20, 30), b)) == pytest.approx(expected, rel=1e-12)


def test_ssim_uses_only_windows_inside_the_image() -> None:
    # An 11x11 image holds exactly one valid window: SSIM is that window's value, no padding involved.
    x = np.random.default_rng(5).uniform(0, 255, (11, 11))
    offsets = np.arange(11) - 5.0
    g = np.exp(-(offsets**2) / (2 * 1.5**2))
    weights = np.outer(g, g) / np.outer(g, g).sum()
    mu_x = float((weights * x).sum())
    mu_y = mu_x + 30.0  # y = x + 30: same variance, covariance = variance, so only the luminance term is < 1
    c1 = (0.01 * 255) ** 2
    expected = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    assert ssim(x, x + 30.0) == pytest.approx(expected, rel=1e-9)


def test_psnr_helper_and_symmetry() -> None:
    a, b = _image(1), _image(2)
    assert psnr(np.zeros(4), np.full(4, 0.5), peak=1.0) == pytest.approx(10 * math.log10(4))
    assert ssim_y(a, b) == pytest.approx(ssim_y(b, a))
    assert psnr_y(a, b) == pytest.approx(psnr_y(b, a))


@pytest.mark.parametrize("seed", [3, 4])
def test_matches_independent_implementation_on_random_images(seed: int) -> None:
    clean = _image(seed)
    noise = np.random.default_rng(seed + 10).normal(0, 25, clean.shape)
    noisy = np.clip(clean + noise, 0, 255).astype(np.uint8)
    expected_psnr, expected_ssim = reference_psnr_ssim(noisy, clean)
    scores = score(noisy, clean)
    assert scores.psnr == pytest.approx(expected_psnr, abs=1e-9)
    assert scores.ssim == pytest.approx(expected_ssim, abs=1e-9)


def test_matches_independent_implementation_on_rain100h(rain100h) -> None:
    for name in ("1", "2"):
        rainy = np.asarray(Image.open(rain100h / "input" / f"{name}.png").convert("RGB"))
        clean = np.asarray(Image.open(rain100h / "target" / f"{name}.png").convert("RGB"))
        expected_psnr, expected_ssim = reference_psnr_ssim(rainy, clean)
        scores = score(rainy, clean)
        assert scores.psnr == pytest.approx(expected_psnr, abs=1e-6)
        assert scores.ssim == pytest.approx(expected_ssim, abs=1e-6)


def test_refuses_bad_inputs() -> None:
    with pytest.raises(DerainError, match="differ in size"):
        score(_image(0, 20, 20), _image(0, 20, 21))
    with pytest.raises(DerainError, match="at least 11x11"):
        score(_image(0, 10, 40), _image(1, 10, 40))
    with pytest.raises(ValueError, match="uint8"):
        score(_image(0).astype(np.float32), _image(0).astype(np.float32))
