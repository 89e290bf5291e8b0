"""Segmentation outputs beside a derained image: OUT.seg.png, OUT.mask.png and OUT.seg.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from derain_cli.fsutil import atomic_output
from derain_cli.imageio import LoadedImage, write_image
from derain_cli.segment.metrics import class_shares
from derain_cli.segment.model import Segmenter, as_uint8
from derain_cli.segment.palette import overlay


@dataclass(frozen=True)
class SegmentationPaths:
    """Where the segmentation of the image written to ``target`` goes."""

    overlay: Path
    mask: Path
    shares: Path | None

    @classmethod
    def beside(cls, target: Path, with_json: bool = False) -> SegmentationPaths:
        stem = target.with_suffix("")
        return cls(
            Path(f"{stem}.seg.png"), Path(f"{stem}.mask.png"), Path(f"{stem}.seg.json") if with_json else None
        )

    def all(self) -> list[Path]:
        return [p for p in (self.overlay, self.mask, self.shares) if p is not None]


def write_mask(path: Path, labels: np.ndarray, palette: np.ndarray, overwrite: bool = False) -> Path:
    """Write class ids as a palette-mode PNG (pixel value = class id, shown in the class colours)."""
    image = Image.fromarray(labels.astype(np.uint8), "P")
    image.putpalette(palette.astype(np.uint8).ravel().tolist())
    with atomic_output(path, overwrite) as tmp:
        image.save(tmp, format="PNG")
    return path


def write_shares(path: Path, segmenter: Segmenter, labels: np.ndarray, overwrite: bool = False) -> Path:
    """Write ``{"model", "width", "height", "classes": {name: share of pixels}}`` as JSON."""
    report = {
        "model": segmenter.name,
        "width": int(labels.shape[1]),
        "height": int(labels.shape[0]),
        "classes": class_shares(labels, segmenter.labels),
    }
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return path


def write_segmentation(
    segmenter: Segmenter, image: LoadedImage, paths: SegmentationPaths, overwrite: bool = False
) -> np.ndarray:
    """Segment ``image`` and write its overlay, mask and (when asked) class shares; returns the class ids."""
    rgb = as_uint8(image.rgb)
    labels = segmenter.predict(rgb)
    blended = overlay(rgb, labels, segmenter.palette).astype(np.float32) / 255.0
    write_image(paths.overlay, LoadedImage(blended, None, 8, False), overwrite=overwrite)
    write_mask(paths.mask, labels, segmenter.palette, overwrite)
    if paths.shares is not None:
        write_shares(paths.shares, segmenter, labels, overwrite)
    return labels
