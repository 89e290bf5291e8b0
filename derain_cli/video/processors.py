"""Frame processors: what turns a stream of decoded frames into derained frames, in order.

A processor may hold frames back (a batch, a clip, a temporal window) and release them later; it
never holds more than ``window`` frames, so memory stays bounded however long the video is. The
video pipeline and ``derain eval``'s video path both drive one, so they derain identically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.video.clip import ClipProcessor

if TYPE_CHECKING:
    from derain_cli.video.ensemble import VideoEnsemble


class FrameProcessor(Protocol):
    """Push H x W x 3 uint8 RGB frames of one size in order; derained frames come back in the same order."""

    window: int  # the most frames held inside at once (inputs not yet returned)

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        """Take the next frame; return the derained frames now complete (possibly none), oldest first."""
        ...

    def finish(self) -> list[np.ndarray]:
        """The end of the stream: return every frame still held, derained, oldest first."""
        ...


class PerFrame:
    """Each frame derained on its own by a single-image model, ``batch`` frames per forward pass."""

    def __init__(self, derainer: Derainer, batch: int = 1) -> None:
        self.derainer = derainer
        self.window = max(1, batch)
        self._pending: list[np.ndarray] = []

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        self._pending.append(frame)
        return self.finish() if len(self._pending) >= self.window else []

    def finish(self) -> list[np.ndarray]:
        frames, self._pending = self._pending, []
        return self.derainer.derain_batch(frames)


def run_processor(processor: FrameProcessor, frames: list[np.ndarray]) -> list[np.ndarray]:
    """Derain a whole (short) sequence held in memory: for tests, evaluation and the Python API."""
    out: list[np.ndarray] = []
    for frame in frames:
        out += processor.push(frame)
    return out + processor.finish()


def default_batch(derainer: Derainer | VideoEnsemble, batch_size: int | None = None) -> int:
    """Frames per forward pass: ``batch_size`` if given, else 1 on the CPU (no gain there) and 4 on CUDA."""
    return batch_size or (4 if derainer.device.type == "cuda" else 1)


def make_processor(derainer: Derainer | VideoEnsemble, batch: int = 1, temporal: int | None = None) -> FrameProcessor:
    """The processor ``derain video`` runs: the model's own (per frame, or per clip for a video model),
    wrapped in the temporal stage when ``temporal`` (neighbours each side; None: the default) asks for it;
    for an ensemble, each model's such processor, their frames averaged."""
    from derain_cli.video.ensemble import Averaged, VideoEnsemble  # both import this module
    from derain_cli.video.temporal import DEFAULT_RADIUS, TemporalFusion

    if isinstance(derainer, VideoEnsemble):
        return Averaged([make_processor(member, batch, temporal) for member in derainer.members])

    # a video model runs clips of its own; ``batch`` (frames per forward pass) has no meaning there
    processor: FrameProcessor = ClipProcessor(derainer) if derainer.video else PerFrame(derainer, batch)
    radius = DEFAULT_RADIUS if temporal is None else temporal
    if radius < 0:
        raise ValueError(f"temporal radius must be >= 0, got {radius}")
    return TemporalFusion(processor, radius) if radius else processor
