"""The temporal stage: each derained frame borrows from its flow-aligned neighbours.

Rain is the one thing in a video that moves differently from the scene: a streak covers a pixel for a
frame or two, and the background behind it shows in the neighbouring frames. Residual streaks and the
model's frame-to-frame differences are therefore outliers among the aligned neighbours, while the scene
is not. For frame t the stage aligns the derained frames t-K..t+K to t with dense DIS flow (computed on
the derained frames, where streaks no longer mislead it), drops pixels the forward-backward check finds
occluded or out of view (moving objects, frame edges: there the frame keeps its own value, so nothing is
ghosted), and takes the per-pixel median of what remains.

It wraps any :class:`~derain_cli.video.processors.FrameProcessor` and streams: it holds K frames beyond
the inner processor's own window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from derain_cli.video.flow import PairFlow, grey
from derain_cli.video.processors import FrameProcessor


@dataclass
class _Held:
    rainy: np.ndarray  # H x W x 3 uint8, the input frame
    derained: np.ndarray  # H x W x 3 uint8
    grey: np.ndarray  # its luma, what the flow is computed on
    # flows to the following frames, by distance 1..K (filled as they arrive)
    ahead: dict[int, tuple[PairFlow, PairFlow]]


def median(centre: np.ndarray, aligned: list[np.ndarray], visible: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median of ``centre`` and its aligned neighbours; an occluded neighbour pixel votes for the
    centre's value. uint8 in and out (an even count takes the upper median: no averaging)."""
    if not aligned:
        return centre
    stack = np.empty((len(aligned) + 1, *centre.shape), np.uint8)
    stack[0] = centre
    for k, (image, seen) in enumerate(zip(aligned, visible), start=1):
        stack[k] = np.where(seen[..., None], image, centre)
    return np.sort(stack, axis=0)[len(stack) // 2]


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# A warped neighbour pixel further than this (luma, grey levels) from the frame's own derained value is
# taken as misaligned (a moving object the flow missed), not as rain: the derained frames hold little rain.
AGREEMENT = 20.0


def agrees(warped: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """H x W mask: the aligned derained neighbour matches the frame's own derained value within AGREEMENT."""
    return np.abs((warped.astype(np.float32) - centre.astype(np.float32)) @ _LUMA) < AGREEMENT


def rain_evidence(rainy: np.ndarray, background: np.ndarray, low: float, high: float) -> np.ndarray:
    """H x W x 1 weight in [0, 1]: how much brighter (luma, grey levels) the frame is than its temporal
    background: 0 below ``low``, 1 above ``high``. Rain adds light; the scene does not flicker."""
    excess = (rainy.astype(np.float32) - background.astype(np.float32)) @ _LUMA
    return np.clip((excess - low) / (high - low), 0.0, 1.0)[..., None]


# Neighbours each side that `derain video` fuses by default (chosen on the synthetic tuning set: docs/video.md).
DEFAULT_RADIUS = 0

MODES = ("median", "outlier", "gate", "gate-median", "temporal-only", "steady", "gate-steady")


def fuse(mode: str, centre: _Held, rainy: list[np.ndarray], derained: list[np.ndarray], visible: list[np.ndarray],
         low: float = 2.0, high: float = 10.0) -> np.ndarray:  # fmt: skip
    """Frame t from itself and its aligned neighbours, by ``mode`` (see :data:`MODES`)."""
    if mode == "median":
        return median(centre.derained, derained, visible)
    if mode == "outlier":  # only where the derained frame is brighter than its aligned derained neighbours
        smooth = median(centre.derained, derained, visible)
        weight = rain_evidence(centre.derained, smooth, low, high)
        out = centre.derained.astype(np.float32) + weight * (smooth.astype(np.float32) - centre.derained)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    background = median(centre.rainy, rainy, visible)
    weight = rain_evidence(centre.rainy, background, low, high)
    if mode in ("steady", "gate-steady"):  # at streaks, the darker of two background estimates
        steady = median(centre.derained, derained, visible)
        target = np.minimum(steady, background).astype(np.float32)
        base = (steady if mode == "steady" else centre.rainy).astype(np.float32)
        return np.clip(np.rint(base + weight * (target - base)), 0, 255).astype(np.uint8)
    if mode == "gate":
        target = centre.derained.astype(np.float32)
    elif mode == "gate-median":
        target = median(centre.derained, derained, visible).astype(np.float32)
    else:
        target = background.astype(np.float32)
    out = centre.rainy.astype(np.float32) + weight * (target - centre.rainy)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class TemporalFusion:
    """Wraps ``inner``: each of its derained frames is fused with up to ``radius`` aligned neighbours each side."""

    def __init__(self, inner: FrameProcessor, radius: int = 2, mode: str = "median", low: float = 2.0, high: float = 10.0) -> None:
        if radius < 1:
            raise ValueError(f"temporal radius must be >= 1, got {radius}")
        self.inner = inner
        self.radius = radius
        self.mode, self.low, self.high = mode, low, high
        self._inputs: deque[np.ndarray] = deque()  # frames pushed whose derained frame has not come back
        self.window = inner.window + radius
        self._held: deque[_Held] = deque()  # the last frames, oldest first: up to radius past + centre + radius ahead
        self._next = 0  # index in _held of the next frame to fuse and return

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        self._inputs.append(frame)
        return self._take(self.inner.push(frame), final=False)

    def finish(self) -> list[np.ndarray]:
        return self._take(self.inner.finish(), final=True)

    def _take(self, derained: list[np.ndarray], final: bool) -> list[np.ndarray]:
        for image in derained:
            self._add(image)
        out = []
        while self._next < len(self._held) and (final or len(self._held) - 1 - self._next >= self.radius):
            out.append(self._fuse(self._next))
            self._next += 1
            if self._next > self.radius:  # the oldest frame is no longer anyone's neighbour
                self._held.popleft()
                self._next -= 1
        if final:
            self._held.clear()
            self._next = 0
        return out

    def _add(self, image: np.ndarray) -> None:
        new = _Held(self._inputs.popleft(), image, grey(image), {})
        if self._held and self._held[-1].derained.shape != image.shape:
            raise ValueError(f"frame size changed from {self._held[-1].derained.shape} to {image.shape}")
        for distance, old in enumerate(reversed(self._held), start=1):
            if distance > self.radius:
                break
            old.ahead[distance] = PairFlow.both_ways(old.grey, new.grey)
        self._held.append(new)

    def _fuse(self, index: int) -> np.ndarray:
        centre = self._held[index]
        rainy, derained, visible = [], [], []
        for j, other in enumerate(self._held):
            distance = j - index
            if distance == 0 or abs(distance) > self.radius:
                continue
            # ahead[d] holds (earlier -> later, later -> earlier)
            flow = centre.ahead[distance][0] if distance > 0 else other.ahead[-distance][1]
            warped = flow.bring(other.derained)
            derained.append(warped)
            visible.append(flow.mask & agrees(warped, centre.derained))
            if self.mode != "median":
                rainy.append(flow.bring(other.rainy))
        return fuse(self.mode, centre, rainy, derained, visible, self.low, self.high)
