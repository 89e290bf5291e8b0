"""The downstream score of ``derain eval --segment``: mIoU of a segmentation model on derained images.

Each pair's reference is the segmentation of its clean image (label-free), or, when the data set has
a ``labels/`` folder, the label mask ``labels/<pair name>.<image suffix>`` (the name pairs are matched
by, e.g. ``labels/7.png`` for ``input/7.png``): class ids in one channel, values outside the model's
classes (e.g. 255) and the model's void class (CamVid's 11) ignored. With labels, ``miou_clean`` adds
the label-free agreement with the clean image's segmentation. An image's mIoU averages
IoU = TP / (TP + FP + FN) over the classes present in its prediction or its reference (void left
out); ``derain eval`` averages it over the images, like PSNR and SSIM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from derain_cli.errors import DerainError
from derain_cli.imageio import IMAGE_SUFFIXES, open_image
from derain_cli.pairs import Pair
from derain_cli.segment.metrics import miou_from_confusion
from derain_cli.segment.model import Segmenter

LABELS_FOLDER = "labels"
_LABEL_MODES = ("P", "L", "I;16", "I")


def labels_folder(root: str | Path) -> Path | None:
    """The data set's ``labels/`` folder, or None when it has none."""
    folder = Path(root) / LABELS_FOLDER
    return folder if folder.is_dir() else None


def label_path(folder: Path, name: str) -> Path:
    """``folder/<name>.<image suffix>`` (PNG first); DerainError naming the file expected when missing."""
    for suffix in IMAGE_SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    raise DerainError(f"{folder / (name + '.png')}: label mask not found (a labels/ folder needs one per pair)")


def read_label_mask(path: Path) -> np.ndarray:
    """Class ids from a palette or grayscale image (8 or 16 bits); DerainError for colour or unreadable files."""
    with open_image(path) as image:
        if image.mode not in _LABEL_MODES:
            raise DerainError(f"{path}: a label mask holds class ids in one channel (palette or grayscale), not {image.mode}")
        return np.asarray(image).astype(np.int64)


class DownstreamMiou:
    """An extra metric for :func:`derain_cli.evaluate.evaluate`: ``{"miou": ...}`` of each image it sees."""

    def __init__(self, segmenter: Segmenter, labels: Path | None = None) -> None:
        self.segmenter = segmenter
        self.labels = labels
        self._reference: tuple[str, np.ndarray, np.ndarray | None] | None = None  # the last pair's: shared by its images

    def describe(self) -> dict[str, str]:
        """Which segmentation model scored the images, and against what (for reports: the model may be a fallback)."""
        reference = f"{LABELS_FOLDER}/ masks" if self.labels else "its segmentation of the clean image"
        return {"model": self.segmenter.name, "reference": reference}

    def references(self, name: str, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(clean image's segmentation, label mask or None) of pair ``name``, computed once per pair."""
        if self._reference is None or self._reference[0] != name:
            mask = self._label_mask(name, clean) if self.labels else None
            self._reference = (name, self.segmenter.predict(clean), mask)
        return self._reference[1], self._reference[2]

    def _label_mask(self, name: str, clean: np.ndarray) -> np.ndarray:
        path = label_path(self.labels, name)
        mask = read_label_mask(path)
        if mask.shape != clean.shape[:2]:
            raise DerainError(f"{path}: label mask is {mask.shape[1]}x{mask.shape[0]}, its image {clean.shape[1]}x{clean.shape[0]}")
        return mask

    def __call__(self, pair: Pair, image: np.ndarray, clean: np.ndarray) -> dict[str, float]:
        """``{"miou": ...}`` (plus ``"miou_clean"`` with labels) of uint8 RGB ``image`` of ``pair``;
        a value is left out when its reference has no scored pixel."""
        predicted = self.segmenter.predict(image)
        segmented, mask = self.references(pair.name, clean)
        scores = {}
        for key, reference in (("miou", segmented if mask is None else mask), ("miou_clean", segmented if mask is not None else None)):
            if reference is not None:
                confusion = self.segmenter.confusion(predicted, reference)
                if confusion.any():
                    scores[key] = miou_from_confusion(confusion, self.segmenter.void)
        return scores


def downstream_miou(root: str | Path, model: str | None = None, device: str = "auto") -> DownstreamMiou:
    """The mIoU metric for the data set at ``root``: against its ``labels/`` masks when it has them."""
    return DownstreamMiou(Segmenter(model, device=device), labels_folder(root))
