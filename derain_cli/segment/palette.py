"""Class colours: the Cityscapes palette for Cityscapes labels, a generated one otherwise, and overlays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)  # fmt: skip
CITYSCAPES_PALETTE = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
        (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)  # fmt: skip
MAX_CLASSES = 256  # a palette PNG holds at most 256 indices
OVERLAY_ALPHA = 0.5


def _normalise(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def is_cityscapes(labels: Sequence[str]) -> bool:
    """True when ``labels`` (class names by id) are Cityscapes' 19 evaluation classes, in their order."""
    return tuple(_normalise(name) for name in labels) == CITYSCAPES_CLASSES


def generated_palette(count: int) -> np.ndarray:
    """``count`` distinct colours (PASCAL VOC's scheme: the bits of the index spread over R, G and B)."""
    if not 0 < count <= MAX_CLASSES:
        raise ValueError(f"a palette holds 1 to {MAX_CLASSES} classes, not {count}")
    index = np.arange(count)
    colours = np.zeros((count, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            colours[:, channel] |= ((index >> (3 * bit + channel)) & 1) << (7 - bit)
    return colours.astype(np.uint8)


def palette_for(labels: Sequence[str]) -> np.ndarray:
    """The colour of each class: Cityscapes' palette for Cityscapes labels, else a generated one."""
    return CITYSCAPES_PALETTE.copy() if is_cityscapes(labels) else generated_palette(len(labels))


def overlay(rgb: np.ndarray, labels: np.ndarray, palette: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Blend an H x W x 3 uint8 image with its class colours: ``(1 - alpha) * image + alpha * colour``."""
    colours = palette[labels].astype(np.float32)
    return np.rint((1.0 - alpha) * rgb.astype(np.float32) + alpha * colours).astype(np.uint8)
