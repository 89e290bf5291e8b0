"""Frame layouts: how an input frame and its derained version become the frame that is encoded.

A layout is the per-frame hook of the video pipeline: every output of a run has one. New
overlays (segmentation masks, ...) are new layouts; the pipeline does not change.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class FrameLayout(Protocol):
    """Composes the frame to encode from the decoded frame and its derained version."""

    @property
    def keeps_orientation(self) -> bool:
        """True: frames come in coded orientation and the input's display matrix is kept.
        False: frames are turned upright first and the output has no display matrix."""
        ...

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) of composed frames for input frames of this size."""
        ...

    def __call__(self, original: np.ndarray, derained: np.ndarray) -> np.ndarray:
        """Compose one H x W x 3 uint8 frame from two H x W x 3 uint8 frames."""
        ...


class Derained:
    """The derained frame alone (the default)."""

    keeps_orientation = True

    def size(self, width: int, height: int) -> tuple[int, int]:
        return width, height

    def __call__(self, original: np.ndarray, derained: np.ndarray) -> np.ndarray:
        return derained


class SideBySide:
    """Input on the left, derained on the right (frames arrive upright, so this holds on screen)."""

    keeps_orientation = False

    def size(self, width: int, height: int) -> tuple[int, int]:
        return 2 * width, height

    def __call__(self, original: np.ndarray, derained: np.ndarray) -> np.ndarray:
        return np.concatenate([original, derained], axis=1)
