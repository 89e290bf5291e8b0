"""VGG-16 features (timm / torchvision layout) and the perceptual contrastive loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from derain_cli.errors import CheckpointMismatchError
from derain_cli.losses import LossBatch, PerceptualContrastiveLoss, VGG16Features
from derain_cli.losses.base import IMAGENET_MEAN, ImageNetNormalize
from derain_cli.losses.pcl import PCL_WEIGHTS
from loss_standins import assert_frozen, image_batch, vgg, vgg_file  # noqa: F401  (fixtures)


def test_loads_the_timm_layout_by_name(vgg_file: Path, vgg: VGG16Features) -> None:
    saved = load_file(str(vgg_file))
    assert torch.equal(vgg.features[28].weight, saved["features.28.weight"])
    assert torch.equal(vgg.features[0].bias, saved["features.0.bias"])
    assert "head.fc.weight" not in vgg.state_dict()


def test_builds_only_the_layers_it_needs(vgg_file: Path) -> None:
    shallow = VGG16Features.from_file(vgg_file, ("relu2_2",))
    assert len(shallow.features) == 9
    assert set(shallow(image_batch(0))) == {"relu2_2"}


def test_a_checkpoint_missing_a_tensor_is_refused(vgg_file: Path, tmp_path: Path) -> None:
    state = load_file(str(vgg_file))
    del state["features.21.weight"]
    broken = tmp_path / "broken.safetensors"
    save_file(state, str(broken))
    with pytest.raises(CheckpointMismatchError, match="features.21.weight"):
        VGG16Features.from_file(broken)


def test_inputs_are_imagenet_normalised() -> None:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert torch.allclose(ImageNetNormalize()(mean), torch.zeros(1, 3, 4, 4), atol=1e-6)


def test_zero_when_the_output_is_the_clean_image(vgg: VGG16Features) -> None:
    clean, rainy = image_batch(1), image_batch(2)
    loss = PerceptualContrastiveLoss(vgg)(LossBatch(clean.clone(), clean, rainy))
    assert loss.item() == pytest.approx(0.0, abs=1e-7)


def test_sum_of_weights_when_clean_and_rainy_coincide(vgg: VGG16Features) -> None:
    # d(anchor, positive) / d(anchor, negative) = 1 at every layer: the loss is 1/32 + 1/16 + 1/8 + 1/4.
    output, clean = image_batch(3), image_batch(4)
    loss = PerceptualContrastiveLoss(vgg)(LossBatch(output, clean, clean.clone()))
    assert loss.item() == pytest.approx(sum(PCL_WEIGHTS.values()), rel=1e-5)
    assert sum(PCL_WEIGHTS.values()) == pytest.approx(15 / 32)


def test_ratio_of_l1_distances_per_layer(vgg: VGG16Features) -> None:
    output, clean, rainy = image_batch(5), image_batch(6), image_batch(7)
    with torch.no_grad():
        fo, fc, fr = vgg(output), vgg(clean), vgg(rainy)
    expected = sum(w * (fo[n] - fc[n]).abs().mean() / ((fo[n] - fr[n]).abs().mean() + 1e-7) for n, w in PCL_WEIGHTS.items())
    loss = PerceptualContrastiveLoss(vgg)(LossBatch(output, clean, rainy))
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)


def test_gradient_reaches_the_output_not_vgg(vgg: VGG16Features) -> None:
    output = image_batch(8, requires_grad=True)
    PerceptualContrastiveLoss(vgg)(LossBatch(output, image_batch(9), image_batch(10))).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert_frozen(vgg)


def test_a_frozen_network_stays_in_eval_mode(vgg: VGG16Features) -> None:
    loss = PerceptualContrastiveLoss(vgg)
    loss.train()
    assert not vgg.training
