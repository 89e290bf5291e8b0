"""Clip-wise inference of a video model (S2VD), streamed: the authors' schedule with a bounded window.

The S2VD authors' test script (zsyOAOA/S2VD @ e6c09e0 : test_NTURain_synthetic.py) cuts a sequence
into clips of ``truncate`` = 24 frames and runs each with 2 more frames on each side, whose outputs
are dropped (the network pads time by repeating edge frames, so a run's first and last frames see
only one side). The first clip has nothing before it and the last nothing after it. Here the same
schedule runs on a stream whose length is unknown in advance: a clip runs once the 2 frames after
it have arrived (it is then not the last), the last one at :meth:`ClipProcessor.finish`. So the
processor holds at most ``clip + 2 * overlap`` frames (28).

Where the authors' script fails, the natural reading is taken: a sequence of one clip (up to
``clip + 1`` frames) runs whole, and a clip followed by a single frame runs with it as one clip.
On every length the script handles, the outputs are those of the script (tests/reference_s2vd.py).
"""

from __future__ import annotations

import numpy as np

from derain_cli.derainer import Derainer

CLIP_FRAMES = 24  # the authors' ``truncate``
OVERLAP = 2  # frames run on each side of a clip and dropped


class ClipProcessor:
    """A :class:`~derain_cli.video.processors.FrameProcessor` for a video model: ``clip`` frames per run,
    each run extended by ``overlap`` frames on each side; ``window`` = ``clip + 2 * overlap``."""

    def __init__(self, derainer: Derainer, clip: int = CLIP_FRAMES, overlap: int = OVERLAP) -> None:
        if not derainer.video:
            raise ValueError(f"{derainer.model_name} is not a video model: use PerFrame")
        if clip < 1 or overlap < 0:
            raise ValueError(f"clip must be at least 1 and overlap at least 0, got {clip} and {overlap}")
        self.derainer = derainer
        self.clip = clip
        self.overlap = overlap
        self.window = clip + 2 * overlap
        self._held: list[np.ndarray] = []  # input frames from index self._first on
        self._first = 0  # stream index of self._held[0]
        self._start = 0  # stream index of the next frame to return: the current clip's first

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        self._held.append(frame)
        if self._first + len(self._held) < self._start + self.clip + self.overlap:
            return []
        return self._run(self._start + self.clip)

    def finish(self) -> list[np.ndarray]:
        end = self._first + len(self._held)
        return self._run(end) if end > self._start else []

    def _run(self, end: int) -> list[np.ndarray]:
        """Derain the frames ``self._start``..``end`` (stream indices) from every held frame, then keep
        the ``overlap`` frames before ``end`` for the next clip."""
        out = self.derainer.derain_clip(self._held)
        skip = self._start - self._first
        done = out[skip : skip + end - self._start]
        keep = max(self._first, end - self.overlap)
        self._held = self._held[keep - self._first :]
        self._first, self._start = keep, end
        return done
