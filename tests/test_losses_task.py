"""Task-driven stage: semantic losses of a frozen Hugging Face segmentation model (tiny SegFormer stand-in)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from derain_cli.losses import LossBatch
from loss_standins import assert_frozen, image_batch

pytest.importorskip("transformers", reason="the task-driven stage needs the [segment] extra (transformers)")

from derain_cli.losses.task import IGNORE_LABEL, FeatureMatching, FrozenSegmenter, SemanticCrossEntropy  # noqa: E402


@pytest.fixture(scope="module")
def segmenter(tiny_segformer: Path) -> FrozenSegmenter:
    return FrozenSegmenter.from_pretrained(str(tiny_segformer), "cpu")


def test_loads_a_saved_model_frozen_with_its_processor_statistics(segmenter: FrozenSegmenter) -> None:
    assert_frozen(segmenter)
    assert segmenter.network.normalize.mean == pytest.approx((0.485, 0.456, 0.406))
    logits, hidden = segmenter(image_batch(0, size=64))
    assert logits.shape == (2, 19, 16, 16)
    assert len(hidden) == 2


def test_cross_entropy_against_the_clean_prediction(segmenter: FrozenSegmenter) -> None:
    output, clean = image_batch(1, size=64), image_batch(2, size=64)
    with torch.no_grad():
        out_logits, clean_logits = segmenter(output)[0], segmenter(clean)[0]
    expected = F.cross_entropy(out_logits, clean_logits.argmax(dim=1))
    loss = SemanticCrossEntropy(segmenter)(LossBatch(output, clean, clean))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_cross_entropy_against_dataset_labels_ignores_255(segmenter: FrozenSegmenter) -> None:
    output = image_batch(3, size=64)
    labels = torch.full((2, 64, 64), IGNORE_LABEL, dtype=torch.long)
    labels[:, :32] = 4
    with torch.no_grad():
        logits = F.interpolate(segmenter(output)[0], size=(64, 64), mode="bilinear", align_corners=False)
    expected = F.cross_entropy(logits[:, :, :32], labels[:, :32])
    loss = SemanticCrossEntropy(segmenter)(LossBatch(output, output, output, labels=labels))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_feature_matching_is_zero_on_the_clean_image_and_positive_elsewhere(segmenter: FrozenSegmenter) -> None:
    clean = image_batch(4, size=64)
    assert FeatureMatching(segmenter)(LossBatch(clean.clone(), clean, clean)).item() == pytest.approx(0.0, abs=1e-9)
    assert FeatureMatching(segmenter)(LossBatch(image_batch(5, size=64), clean, clean)).item() > 0


def test_gradients_reach_the_output_not_the_segmenter(segmenter: FrozenSegmenter) -> None:
    output = image_batch(6, size=64, requires_grad=True)
    batch = LossBatch(output, image_batch(7, size=64), image_batch(8, size=64))
    (SemanticCrossEntropy(segmenter)(batch) + FeatureMatching(segmenter)(batch)).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert_frozen(segmenter)
