"""UBS: a frozen, once-built segmentation network and the focal loss against its own arg-max."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from derain_cli.losses import LossBatch, SegmentationHead, UBSLoss, VGG16Features, focal_loss
from derain_cli.losses.ubs import NUM_CLASSES
from loss_standins import assert_frozen, image_batch, vgg, vgg_file  # noqa: F401  (fixtures)


def test_focal_loss_on_known_probabilities() -> None:
    logits = torch.log(torch.tensor([0.8, 0.2])).view(1, 2, 1, 1)
    loss = focal_loss(logits, torch.zeros(1, 1, 1, dtype=torch.long), gamma=2.0)
    assert loss.item() == pytest.approx(-(0.2**2) * math.log(0.8), rel=1e-5)


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    logits = torch.randn(2, 5, 3, 3, generator=torch.Generator().manual_seed(0))
    target = logits.argmax(dim=1)
    assert focal_loss(logits, target, gamma=0.0).item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-5)


def test_head_is_gaussian_and_reproducible() -> None:
    a, b, c = SegmentationHead(seed=3), SegmentationHead(seed=3), SegmentationHead(seed=4)
    assert torch.equal(a.classify.weight, b.classify.weight)
    assert not torch.equal(a.classify.weight, c.classify.weight)
    weights = torch.cat([m.weight.flatten() for m in a.modules() if isinstance(m, torch.nn.Conv2d)])
    assert weights.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(m.bias.abs().sum() == 0 for m in a.modules() if isinstance(m, torch.nn.Conv2d))
    assert a.classify.out_channels == NUM_CLASSES == 21


def test_uniform_prediction_gives_the_closed_form(vgg: VGG16Features) -> None:
    head = SegmentationHead()
    with torch.no_grad():
        head.classify.weight.zero_()  # logits 0: p = 1/21 for every class
    loss = UBSLoss(vgg, head)(LossBatch(image_batch(1), image_batch(2), image_batch(3)))
    assert loss.item() == pytest.approx((20 / 21) ** 2 * math.log(21), rel=1e-5)


def test_logits_at_half_resolution(vgg: VGG16Features) -> None:
    assert SegmentationHead()(vgg(image_batch(4))).shape == (2, NUM_CLASSES, 16, 16)


def test_gradient_reaches_the_output_not_the_segmentation_network(vgg: VGG16Features) -> None:
    head = SegmentationHead()
    loss_fn = UBSLoss(vgg, head)
    output = image_batch(5, requires_grad=True)
    loss = loss_fn(LossBatch(output, image_batch(6), image_batch(7)))
    loss.backward()
    assert math.isfinite(loss.item())
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert_frozen(head)
    assert_frozen(vgg)
    # Built once: the same network scores the next step.
    assert loss_fn.head is head
