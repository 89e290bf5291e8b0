"""A tiny random SegFormer saved with save_pretrained (no network), for the segmentation tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from derain_cli.segment.palette import CITYSCAPES_CLASSES


def save_tiny_segformer(folder: Path, labels: Sequence[str] = CITYSCAPES_CLASSES, seed: int = 0) -> Path:
    """Write a randomly initialised two-block SegFormer and its image processor (64 x 64 input) to ``folder``."""
    transformers = pytest.importorskip("transformers", reason="segmentation tests need the [segment] extra")
    config = transformers.SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3],
        strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16,
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(seed)
    transformers.SegformerForSemanticSegmentation(config).save_pretrained(folder)
    transformers.SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder
