"""Where to zoom: the regions of an image a reader should look at closely, picked automatically.

Two crops per image: the most textured region of the clean target (where smearing of detail shows) and
the region where the methods' outputs differ most from each other (from the target when there is one
method), overlapping the first by less than half so the two crops show different places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_SIDE = 96  # pixels of the image in one crop; shown enlarged
MIN_SIDE = 8


@dataclass(frozen=True)
class Crop:
    """A square region: ``why`` it was picked, its top-left corner and its side in pixels."""

    why: str
    top: int
    left: int
    side: int

    def of(self, image: np.ndarray) -> np.ndarray:
        return image[self.top : self.top + self.side, self.left : self.left + self.side]


def crop_side(height: int, width: int) -> int:
    """The crops' side: :data:`MAX_SIDE`, or half the shorter side of a smaller image."""
    return max(MIN_SIDE, min(MAX_SIDE, height // 2, width // 2))


def window_means(values: np.ndarray, side: int) -> np.ndarray:
    """Mean of ``values`` over every ``side`` x ``side`` window, indexed by the window's top-left corner."""
    total = np.pad(values.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (total[side:, side:] - total[:-side, side:] - total[side:, :-side] + total[:-side, :-side]) / side**2


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _best(scores: np.ndarray) -> tuple[int, int]:
    top, left = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(top), int(left)


def pick_crops(target: np.ndarray, outputs: Sequence[np.ndarray]) -> list[Crop]:
    """The textured crop of ``target`` and, with any ``outputs`` (H x W x 3 uint8), the disagreement crop."""
    height, width = target.shape[:2]
    side = crop_side(height, width)
    y = _luma(target)
    variance = window_means(y * y, side) - window_means(y, side) ** 2
    top, left = _best(variance)
    crops = [Crop("most textured region of the target", top, left, side)]
    if not outputs:
        return crops
    images = [o.astype(np.float64) for o in outputs]
    if len(images) == 1:
        images.append(target.astype(np.float64))
        why = "where the output differs most from the target"
    else:
        why = "where the models differ most"
    difference = np.mean([np.abs(a - b).mean(2) for k, a in enumerate(images) for b in images[k + 1 :]], axis=0)
    scores = window_means(difference, side)
    near = slice(max(0, top - side // 2), top + side // 2 + 1), slice(max(0, left - side // 2), left + side // 2 + 1)
    scores[near] = -np.inf  # the two crops share less than half their area
    if np.isfinite(scores).any():
        crops.append(Crop(why, *_best(scores), side))
    return crops
