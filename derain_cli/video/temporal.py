"""The temporal stage: rain is found as what moves differently from the scene, and only there removed.

A streak covers a pixel for a frame or two; the background behind it shows in the neighbouring frames.
For frame t the stage aligns frames t-K..t+K to t with dense DIS flow computed on the derained frames
(where streaks no longer mislead it) and keeps, per neighbour, only the pixels the forward-backward check
finds visible and whose derained values agree with frame t's (a moving object the flow missed is not
rain: it is never borrowed, so nothing is ghosted). Then, per pixel:

- the *temporal background* is the median of the aligned rainy frames, and the *rain evidence* is how
  much brighter frame t is than it (rain adds light; the scene does not flicker);
- where there is evidence, the output is the darker of two background estimates: that temporal
  background and the median of the aligned derained frames (a residual streak brightens either);
- where there is none, the pixel is left as the camera recorded it: the model cannot flatten texture,
  shift tone or flicker there. Only where no neighbour sees the pixel (frame edges of a moving camera,
  occlusions) does the model's own output stand.

Chosen by measurement on synthetic rainy videos (benchmarks/video/temporal_choice.py, docs/video.md):
it beat the frame-by-frame output of both the bundled SAPNet and S2VD, and plain medians, outlier
replacement and rain gating toward the model's output. It wraps any
:class:`~derain_cli.video.processors.FrameProcessor` and streams: it holds K frames beyond the inner
processor's own window.
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
    """Per-pixel median of ``centre`` and its aligned neighbours; a neighbour pixel not visible votes for
    the centre's value. uint8 in and out (an even count takes the upper median: no averaging)."""
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
# Rain evidence ramps from 0 to 1 as the frame is LOW..HIGH grey levels (luma) brighter than its
# temporal background (4-16 beat 2-10 and 8-24 on the tuning set).
LOW, HIGH = 4.0, 16.0
# Neighbours each side the stage fuses when asked (`--temporal 2`: 2 beat 1 on heavy rain, equal elsewhere).
RADIUS = 2
# What `derain video` runs without --temporal: frame by frame. The stage wins on synthetic rain (+3.2 dB on
# NTURain a1) but not on the real clips measured (rb2, ra1: less steady than frame by frame, faint streaks
# kept) nor on GT-RAIN's static frames (docs/video.md), the rule for turning it on by default.
DEFAULT_RADIUS = 0


def agrees(warped: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """H x W mask: the aligned derained neighbour matches the frame's own derained value within AGREEMENT."""
    return np.abs((warped.astype(np.float32) - centre.astype(np.float32)) @ _LUMA) < AGREEMENT


def rain_evidence(rainy: np.ndarray, background: np.ndarray) -> np.ndarray:
    """H x W x 1 weight in [0, 1]: how much brighter (luma) the frame is than its temporal background."""
    excess = (rainy.astype(np.float32) - background.astype(np.float32)) @ _LUMA
    return np.clip((excess - LOW) / (HIGH - LOW), 0.0, 1.0)[..., None]


def fuse(rainy: np.ndarray, derained: np.ndarray, neighbours: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Frame t (``rainy``, ``derained``) from its aligned neighbours (rainy, derained, visible mask): see the module."""
    if not neighbours:
        return derained
    rainy_n, derained_n, visible = (list(column) for column in zip(*neighbours))
    background = median(rainy, rainy_n, visible)
    steady = median(derained, derained_n, visible)
    seen = np.logical_or.reduce(visible)[..., None]
    base = np.where(seen, rainy, derained).astype(np.float32)
    target = np.minimum(steady, background).astype(np.float32)
    out = base + rain_evidence(rainy, background) * (target - base)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class TemporalFusion:
    """Wraps ``inner``: each of its derained frames is fused with up to ``radius`` aligned neighbours each side."""

    def __init__(self, inner: FrameProcessor, radius: int = RADIUS) -> None:
        if radius < 1:
            raise ValueError(f"temporal radius must be >= 1, got {radius}")
        self.inner = inner
        self.radius = radius
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
        neighbours = []
        for j, other in enumerate(self._held):
            distance = j - index
            if distance == 0 or abs(distance) > self.radius:
                continue
            # ahead[d] holds (earlier -> later, later -> earlier)
            flow = centre.ahead[distance][0] if distance > 0 else other.ahead[-distance][1]
            derained = flow.bring(other.derained)
            neighbours.append((flow.bring(other.rainy), derained, flow.mask & agrees(derained, centre.derained)))
        return fuse(centre.rainy, centre.derained, neighbours)
