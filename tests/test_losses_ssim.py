"""Differentiable SSIM and the negative-SSIM loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from derain_cli import metrics
from derain_cli.losses import LossBatch, SSIMLoss, ssim
from derain_cli.losses.ssim import K1, gaussian_window
from loss_standins import image_batch


def test_identical_images_score_one() -> None:
    x = image_batch(0)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-6)


def test_constant_images_follow_the_luminance_formula() -> None:
    a, b = 0.2, 0.7
    x, y = torch.full((1, 3, 16, 16), a), torch.full((1, 3, 16, 16), b)
    c1 = K1**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # no variance: the structure term is C2 / C2 = 1
    assert ssim(x, y).item() == pytest.approx(expected, rel=1e-3)  # float32 variances: E[x^2] - mu^2


def test_matches_the_evaluation_metric_on_a_grey_plane() -> None:
    rng = np.random.default_rng(1)
    clean = rng.uniform(0, 255, (40, 36))
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255)
    reference = metrics.ssim(noisy, clean)
    ours = ssim(torch.from_numpy(noisy)[None, None].float(), torch.from_numpy(clean)[None, None].float(), data_range=255.0)
    assert ours.item() == pytest.approx(reference, abs=1e-4)


def test_window_is_a_normalised_gaussian() -> None:
    window = gaussian_window(11, 1.5)
    assert window.shape == (11, 11)
    assert window.sum().item() == pytest.approx(1.0)
    assert window[5, 5] == window.max()


def test_loss_is_negative_ssim_and_reaches_the_output() -> None:
    output, clean = image_batch(2, requires_grad=True), image_batch(3)
    loss = SSIMLoss()(LossBatch(output, clean, clean))
    assert loss.item() == pytest.approx(-ssim(output, clean).mean().item())
    loss.backward()
    assert output.grad is not None and output.grad.abs().sum() > 0


def test_refuses_images_smaller_than_the_window() -> None:
    with pytest.raises(ValueError, match="smaller than"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
