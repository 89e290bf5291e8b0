"""`derain video --segment`: the overlay clip OUT.seg.<ext>, a frame layout of the video pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from derain_cli.segment.model import Segmenter
from derain_cli.segment.palette import overlay
from derain_cli.video import VideoOutput
from derain_cli.video.batch import overlay_video_path


class SegmentationOverlay:
    """The derained frame blended with its class colours; frames arrive upright, as the model expects."""

    keeps_orientation = False

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter

    def size(self, width: int, height: int) -> tuple[int, int]:
        return width, height

    def __call__(self, original: np.ndarray, derained: np.ndarray) -> np.ndarray:
        return overlay(derained, self.segmenter.predict(derained), self.segmenter.palette)


def segmentation_output(output: Path, model: str | None = None, device: str = "auto") -> VideoOutput:
    """The extra output of ``derain video --segment``: the overlay clip beside ``output``."""
    return VideoOutput(overlay_video_path(output), SegmentationOverlay(Segmenter(model, device=device)))
