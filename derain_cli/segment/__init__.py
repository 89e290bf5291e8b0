"""Semantic segmentation of derained images: what deraining does for a downstream model (built-in ESPNet /
ESPNetv2 networks, or Hugging Face models through transformers)."""

from derain_cli.segment.files import SegmentationPaths, write_mask, write_segmentation
from derain_cli.segment.metrics import class_iou, class_shares, confusion_matrix, mean_iou, miou_from_confusion
from derain_cli.segment.model import INSTALL_HINT, Segmenter, import_transformers, resolve_model
from derain_cli.segment.palette import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, is_cityscapes, overlay, palette_for

__all__ = [
    "CITYSCAPES_CLASSES", "CITYSCAPES_PALETTE", "INSTALL_HINT", "SegmentationPaths", "Segmenter",
    "class_iou", "class_shares", "confusion_matrix", "import_transformers", "is_cityscapes", "mean_iou", "miou_from_confusion",
    "overlay", "palette_for", "resolve_model", "write_mask", "write_segmentation",
]  # fmt: skip
