"""Video ensembles: several models derain the same video, each under its own temporal stage, and their
frames are averaged.

Named by joining model names with ``+`` (``s2vd-nturain+sapnet-realrain``), wherever ``derain video``
and ``derain eval`` take a model. Why: a video-native model (S2VD, trained on NTURain's synthetic rain)
and a single-image model (SAPNet, fine-tuned on other rain) err differently, so their mean is closer
to the clean video than either and steadier (measured on the synthetic tuning videos, docs/video.md).
An ensemble is for video only: a photo has no neighbours for S2VD.
"""

from __future__ import annotations

import os
from collections import deque

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, UsageError, one_line
from derain_cli.video.processors import FrameProcessor
from derain_cli.weights.registry import ENSEMBLE_SEPARATOR as SEPARATOR, VIDEO_DEFAULT_MEMBERS, VIDEO_DEFAULT_MODEL


def members(model: str) -> list[str]:
    """The model names of an ensemble spec (``a+b`` -> [a, b]); [] when ``model`` names one model."""
    if SEPARATOR not in model:
        return []
    names = [name.strip() for name in model.split(SEPARATOR)]
    if len(names) < 2 or not all(names):
        raise UsageError(f"{model!r}: an ensemble names two or more models joined by '{SEPARATOR}'")
    return names


class VideoEnsemble:
    """The models of an ensemble spec, loaded as :class:`Derainer` s with the same device, tiling and precision."""

    video = True  # photos cannot run it

    def __init__(self, model: str, device: str = "auto", tile: int | None = None, precision: str = "auto") -> None:
        self.model_name = model
        names = members(model)
        try:
            self.members = [Derainer(name, device=device, tile=tile, precision=precision) for name in names]
        except UsageError:
            raise
        except DerainError as exc:  # e.g. S2VD's checkpoint cannot be downloaded: say how to run without it
            raise DerainError(f"{one_line(exc)} (the ensemble {model} needs every model; --model {names[-1]} runs one alone)") from exc
        self.device = self.members[0].device


class Averaged:
    """A :class:`FrameProcessor` that feeds every frame to each inner processor and returns the rounded
    mean of their outputs, frame by frame, once all of them have returned that frame. The inner processors
    release frames at different times (a clip model holds more): at most ``window`` inputs are held."""

    def __init__(self, processors: list[FrameProcessor]) -> None:
        self.processors = processors
        self.window = max(p.window for p in processors)
        self._ready: list[deque[np.ndarray]] = [deque() for _ in processors]

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        for processor, ready in zip(self.processors, self._ready):
            ready.extend(processor.push(frame))
        return self._release()

    def finish(self) -> list[np.ndarray]:
        for processor, ready in zip(self.processors, self._ready):
            ready.extend(processor.finish())
        out = self._release()
        if any(self._ready):
            raise RuntimeError("the ensemble's models returned different numbers of frames")
        return out

    def _release(self) -> list[np.ndarray]:
        out = []
        while all(self._ready):
            total = sum(ready.popleft().astype(np.uint16) for ready in self._ready)
            count = len(self._ready)
            out.append(((total + count // 2) // count).astype(np.uint8))  # the mean, rounded half up
        return out


def video_model(model: str, weights: object = None) -> str:
    """The model spec a video run loads. A checkpoint given without ``--model`` (so with the default ensemble)
    runs alone in the default's single-image architecture, as before the default became an ensemble; any
    other ensemble refuses a checkpoint (each of its models loads its own)."""
    if weights is None:
        return model
    if model == VIDEO_DEFAULT_MODEL:
        return VIDEO_DEFAULT_MEMBERS[-1]
    if members(model):
        raise UsageError(f"--weights cannot go with the ensemble {model}: each of its models loads its own")
    return model


def load_video_derainer(
    model: str, weights: str | os.PathLike[str] | None = None, device: str = "auto", tile: int | None = None, precision: str = "auto"
) -> Derainer | VideoEnsemble:
    """A :class:`Derainer` for one model, a :class:`VideoEnsemble` for an ``a+b`` spec (see :func:`video_model`)."""
    model = video_model(model, weights)
    if members(model):
        return VideoEnsemble(model, device, tile, precision)
    return Derainer(model=model, weights=weights, device=device, tile=tile, precision=precision)
