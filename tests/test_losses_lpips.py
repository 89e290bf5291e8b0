"""Differentiable LPIPS (VGG, v0.1) with the published linear layers' file format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from derain_cli.losses import LossBatch, LPIPSLinear, LPIPSLoss, VGG16Features
from derain_cli.losses.base import IMAGENET_MEAN, IMAGENET_STD
from derain_cli.losses.lpips import LPIPS_LAYERS
from loss_standins import assert_frozen, image_batch, lpips_file, vgg, vgg_file  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def lpips(vgg: VGG16Features, lpips_file: Path) -> LPIPSLoss:
    return LPIPSLoss(vgg, LPIPSLinear.from_file(lpips_file))


def test_loads_the_published_key_names(lpips_file: Path) -> None:
    published = torch.load(lpips_file, weights_only=True)
    linear = LPIPSLinear.from_file(lpips_file)
    for k, lin in enumerate(linear.lins):
        assert torch.equal(lin.weight, published[f"lin{k}.model.1.weight"])


def test_lpips_scaling_is_imagenet_normalisation() -> None:
    # LPIPS feeds VGG (2x - 1 - shift) / scale; the shared extractor feeds (x - mean) / std: the same numbers.
    shift, scale = torch.tensor([-0.030, -0.088, -0.188]), torch.tensor([0.458, 0.448, 0.450])
    x = torch.rand(3)
    assert torch.allclose((2 * x - 1 - shift) / scale, (x - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD), atol=1e-6)


def test_zero_for_identical_images_and_symmetric(lpips: LPIPSLoss) -> None:
    a, b = image_batch(1), image_batch(2)
    assert lpips(LossBatch(a, a.clone(), a)).item() == pytest.approx(0.0, abs=1e-7)
    ab = lpips(LossBatch(a, b, a)).item()
    assert ab > 0
    assert lpips(LossBatch(b, a, b)).item() == pytest.approx(ab, rel=1e-5)


def test_value_is_the_weighted_distance_of_unit_features(lpips: LPIPSLoss, vgg: VGG16Features) -> None:
    a, b = image_batch(3), image_batch(4)
    with torch.no_grad():
        fa, fb = vgg(a), vgg(b)
    expected = torch.zeros(2)
    for name, lin in zip(LPIPS_LAYERS, lpips.linear.lins):
        diff = (F.normalize(fa[name], dim=1, eps=1e-10) - F.normalize(fb[name], dim=1, eps=1e-10)) ** 2
        expected += torch.einsum("nchw,c->n", diff, lin.weight.flatten()) / (diff.shape[2] * diff.shape[3])
    assert lpips(LossBatch(a, b, a)).item() == pytest.approx(expected.mean().item(), rel=1e-4)


def test_gradient_reaches_the_output_only(lpips: LPIPSLoss, vgg: VGG16Features) -> None:
    output = image_batch(5, requires_grad=True)
    lpips(LossBatch(output, image_batch(6), image_batch(7))).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert_frozen(vgg)
    assert_frozen(lpips.linear)


def test_shares_vgg_features_with_pcl_within_a_step(lpips: LPIPSLoss, vgg: VGG16Features) -> None:
    from derain_cli.losses import PerceptualContrastiveLoss

    calls = []
    handle = vgg.register_forward_hook(lambda *args: calls.append(1))
    try:
        batch = LossBatch(image_batch(8), image_batch(9), image_batch(10))
        PerceptualContrastiveLoss(vgg)(batch)
        lpips(batch)
    finally:
        handle.remove()
    assert len(calls) == 3  # output, clean, rainy: once each
