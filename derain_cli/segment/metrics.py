"""Comparing label maps: confusion matrices, mean IoU, and each class's share of the pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from derain_cli.errors import DerainError


def confusion_matrix(
    predicted: np.ndarray, reference: np.ndarray, num_classes: int, void: int | None = None
) -> np.ndarray:
    """``num_classes`` x ``num_classes`` pixel counts, rows = reference class, columns = predicted class.

    Pixels whose reference value is not a class index (e.g. 255, the usual "ignore" label) or is the
    ``void`` class are left out; a pixel *predicted* void still counts, as a miss of its true class.
    """
    if predicted.shape != reference.shape:
        raise ValueError(f"label maps differ in size: {predicted.shape} vs {reference.shape}")
    reference = reference.astype(np.int64).ravel()
    predicted = predicted.astype(np.int64).ravel()
    keep = (reference >= 0) & (reference < num_classes) & (predicted >= 0) & (predicted < num_classes)
    if void is not None:
        keep &= reference != void
    pairs = reference[keep] * num_classes + predicted[keep]
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_iou(confusion: np.ndarray, void: int | None = None) -> np.ndarray:
    """IoU = TP / (TP + FP + FN) of each class (NaN where a class is in neither map, and for ``void``)."""
    hits = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, hits / np.maximum(union, 1), np.nan)
    if void is not None:
        iou[void] = np.nan
    return iou


def miou_from_confusion(confusion: np.ndarray, void: int | None = None) -> float:
    """Mean IoU over the classes present in either map, ``void`` left out; raises if no pixel counts."""
    iou = class_iou(confusion, void)
    if np.isnan(iou).all():
        raise DerainError("no labelled pixels to compare")
    return float(np.nanmean(iou))


def mean_iou(predicted: np.ndarray, reference: np.ndarray, num_classes: int, void: int | None = None) -> float:
    """The mIoU of one pair of label maps (see :func:`miou_from_confusion`)."""
    return miou_from_confusion(confusion_matrix(predicted, reference, num_classes, void), void)


def class_shares(labels: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Each class's fraction of the pixels, by name in class order (classes that share a name are summed)."""
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=len(names))
    shares: dict[str, float] = {}
    for name, count in zip(names, counts):
        shares[name] = shares.get(name, 0.0) + float(count) / labels.size
    return {name: round(share, 6) for name, share in shares.items()}
