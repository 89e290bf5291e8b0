"""Evaluating deraining on video sets: per-frame PSNR/SSIM and the warping error, per sequence.

Each sequence runs through :func:`make_processor` exactly as ``derain video`` derains a clip (same
batch default and temporal setting), one processor per model fed frame by frame, so memory stays
bounded by the processors' windows whatever the length. Scored per frame with the paper conventions
of :mod:`derain_cli.metrics` for the rainy input and every model; the warping error (Lai et al.) of
every row uses one flow per frame pair, computed on the clean frames when the set has them, else on
the rainy input, so all rows are warped alike. A :class:`FrameRange` runs and scores only those
frames, as ``derain video --start/--end`` derains only a part.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, one_line
from derain_cli.evaluate import RAINY, OutputSaver, json_number, safe_name
from derain_cli.metrics import Scores, score
from derain_cli.pairs import image_files
from derain_cli.video.flow import WARP_SCALE, FlowChain, PairFlow, WarpingError
from derain_cli.video.processors import FrameProcessor, default_batch, make_processor
from derain_cli.video.sets import ALL_FRAMES, FrameRange, VideoSequence, VideoSet, read_sequence, sequence_problems

if TYPE_CHECKING:
    from derain_cli.video.ensemble import VideoEnsemble

TARGET = "clean target"


@dataclass
class SequenceRow:
    """The rainy input, one model's output or the clean target on one sequence."""

    scores: list[Scores] = field(default_factory=list)  # per frame; empty for the clean target
    warping: WarpingError = field(default_factory=WarpingError)
    seconds: float | None = None  # processor time over the sequence, models only

    def add(self, image: np.ndarray, clean: np.ndarray | None, flow: PairFlow | None) -> None:
        if clean is not None:
            self.scores.append(score(image, clean))
        self.warping.add(image, flow)


@dataclass(frozen=True)
class Summary:
    """A table row: PSNR/SSIM averaged over frames (NaN without ground truth), the warping error x1e3
    averaged over sequences (Lai et al.: per video, then over videos), processor seconds per frame."""

    frames: int
    psnr: float
    ssim: float
    rgb_psnr: float
    warping_error: float
    seconds_per_frame: float | None

    @classmethod
    def of(cls, rows: list[SequenceRow], frames: int) -> Summary:
        scores = [x for row in rows for x in row.scores]
        errors = [row.warping.value for row in rows if row.warping.pairs]
        seconds = [row.seconds for row in rows if row.seconds is not None]

        def mean(name: str) -> float:
            return float(np.mean([getattr(x, name) for x in scores])) if scores else math.nan

        return cls(
            frames, mean("psnr"), mean("ssim"), mean("rgb_psnr"),
            float(np.mean(errors)) * WARP_SCALE if errors else math.nan,
            sum(seconds) / frames if seconds and frames else None,
        )

    def to_json(self) -> dict:
        """Only the numbers the row has: no PSNR/SSIM without ground truth, no seconds for the input."""
        entry = {"warping_error_x1e3": json_number(self.warping_error, 4)}
        if not math.isnan(self.psnr):
            entry.update(psnr=json_number(self.psnr, 4), ssim=json_number(self.ssim, 6), rgb_psnr=json_number(self.rgb_psnr, 4))
        if self.seconds_per_frame is not None:
            entry["seconds_per_frame"] = json_number(self.seconds_per_frame, 4)
        return entry


@dataclass
class SequenceResult:
    """One sequence's rows (rainy input, each model, the clean target when there is one) and frame names."""

    name: str
    rows: dict[str, SequenceRow]
    frames: list[str] = field(default_factory=list)

    def summary(self, label: str) -> Summary:
        return Summary.of([self.rows[label]], len(self.frames))

    def to_json(self) -> dict:
        rows = {}
        for label, row in self.rows.items():
            rows[label] = self.summary(label).to_json()
            if row.scores:
                rows[label]["per_frame"] = {
                    "psnr": [json_number(x.psnr, 4) for x in row.scores], "ssim": [json_number(x.ssim, 6) for x in row.scores]
                }
        return {"frames": len(self.frames), "first": self.frames[0], "last": self.frames[-1], "rows": rows}


@dataclass
class VideoEvalReport:
    dataset: str
    layout: str
    flow_on: str  # "target" or "input": the frames the warping error's flow is computed on
    frames: FrameRange
    labels: list[str]  # rainy input, models, clean target (when paired)
    sequences: list[SequenceResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Frames scored, over every sequence."""
        return sum(len(s.frames) for s in self.sequences)

    def summary(self, label: str) -> Summary:
        """``label``'s row over every sequence."""
        return Summary.of([s.rows[label] for s in self.sequences], self.n)

    def to_json(self) -> dict:
        """Overall rows, then each sequence's rows with per-frame PSNR/SSIM; non-finite numbers become null."""
        return {
            "dataset": self.dataset, "layout": self.layout, "video": True, "flow_on": self.flow_on, "frames": str(self.frames),
            "n": self.n, "rows": {label: self.summary(label).to_json() for label in self.labels},
            "sequences": {s.name: s.to_json() for s in self.sequences},
        }


@dataclass
class _Pending:
    """What a frame's outputs are scored against, kept until every model has returned that frame."""

    name: str
    clean: np.ndarray | None
    flow: PairFlow | None
    waiting: int


class _Model:
    """One model's processor on one sequence, and the frames it holds."""

    def __init__(self, label: str, processor: FrameProcessor, row: SequenceRow) -> None:
        self.label, self.processor, self.row = label, processor, row
        self.held: deque[int] = deque()
        row.seconds = 0.0

    def run(self, step: Callable[[], list[np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        """(frame index, derained frame) for what the processor returns."""
        start = time.perf_counter()
        done = step()
        self.row.seconds = (self.row.seconds or 0.0) + time.perf_counter() - start
        for output in done:
            yield self.held.popleft(), output


def _evaluate_sequence(
    sequence: VideoSequence,
    derainers: Mapping[str, Derainer | VideoEnsemble],
    temporal: int | None,
    frames: FrameRange,
    saver: OutputSaver | None,
    on_frame: Callable[[], None] | None,
) -> SequenceResult:
    paired = sequence.clean is not None
    result = SequenceResult(sequence.name, {RAINY: SequenceRow()})
    models = []
    for label, derainer in derainers.items():
        result.rows[label] = SequenceRow()
        models.append(_Model(label, make_processor(derainer, default_batch(derainer), temporal), result.rows[label]))
    if paired:
        result.rows[TARGET] = SequenceRow()
    pending: dict[int, _Pending] = {}
    flows = FlowChain()

    def deliver(model: _Model, step: Callable[[], list[np.ndarray]]) -> None:
        for index, output in model.run(step):
            frame = pending[index]
            model.row.add(output, frame.clean, frame.flow)
            if saver is not None:
                saver.save(model.label, f"{safe_name(sequence.name)}/{frame.name}", output)
            frame.waiting -= 1
            if not frame.waiting:
                del pending[index]

    for index, frame in enumerate(read_sequence(sequence, frames)):
        flow = flows.next(frame.clean if frame.clean is not None else frame.rainy)
        result.frames.append(frame.name)
        result.rows[RAINY].add(frame.rainy, frame.clean, flow)
        if frame.clean is not None:
            result.rows[TARGET].warping.add(frame.clean, flow)
        pending[index] = _Pending(frame.name, frame.clean, flow, len(models))
        for model in models:
            model.held.append(index)
            deliver(model, lambda: model.processor.push(frame.rainy))
        if not models:
            del pending[index]
        if on_frame:
            on_frame()
    for model in models:
        deliver(model, model.processor.finish)
        if model.held:
            raise DerainError(f"{sequence.rainy}: {model.label} returned {len(model.held)} frame(s) too few")
    return result


def output_frame(folder: Path, label: str, sequence: str, frame: str) -> Path:
    """Where ``save_outputs`` puts ``label``'s output for ``frame`` of ``sequence``: ``folder/<label>/<sequence>/<frame>.png``."""
    return folder / safe_name(label) / safe_name(sequence) / f"{frame}.png"


def _input_files(video_set: VideoSet) -> list[Path]:
    """Every file of the set, so that no saved output can replace one."""
    files = []
    for sequence in video_set.sequences:
        for path in (sequence.rainy, sequence.clean):
            if path is not None:
                files += image_files(path) if path.is_dir() else [path]
    return files


def evaluate_video(
    video_set: VideoSet,
    derainers: Mapping[str, Derainer | VideoEnsemble],
    temporal: int | None = None,
    frames: FrameRange = ALL_FRAMES,
    save_outputs: str | os.PathLike[str] | None = None,
    on_frame: Callable[[], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> VideoEvalReport:
    """Measure the rainy input, every model (label -> Derainer) and the clean target on each sequence.

    ``temporal``: as ``derain video --temporal``; ``save_outputs``: write each model's frames to
    ``DIR/<label>/<sequence>/<input frame name>.png``. A sequence that fails (unreadable frame, sizes
    that differ, a model error) is reported (``on_failure``) and left out; the others go on.
    """
    saver = OutputSaver(Path(save_outputs), _input_files(video_set)) if save_outputs is not None else None
    labels = [RAINY, *derainers] + ([TARGET] if video_set.paired else [])
    report = VideoEvalReport(
        Path(video_set.root).resolve().name, video_set.layout, "target" if video_set.paired else "input", frames, labels,
        problems=list(video_set.problems),
    )
    for sequence in video_set.sequences:
        report.problems += sequence_problems(sequence)
        try:
            report.sequences.append(_evaluate_sequence(sequence, derainers, temporal, frames, saver, on_frame))
        except (DerainError, OSError) as exc:
            message = one_line(exc)
            failure = message if message.startswith((str(sequence.rainy), str(sequence.clean))) else f"{sequence.rainy}: {message}"
            report.failures.append(failure)
            if on_failure:
                on_failure(failure)
    return report
