"""``derain eval --report``: an evaluation (image or video set) and its saved outputs as an HTML page."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from derain_cli.evaluate import EvalReport, output_path
from derain_cli.imageio import write_rgb8
from derain_cli.report.html import ReportImage, ReportSequence, files_folder, write_report
from derain_cli.video.evaluate import RAINY, TARGET, SequenceResult, VideoEvalReport, output_frame
from derain_cli.video.sets import FrameRange, VideoSequence, VideoSet, read_sequence

STRIP_FRAMES = 6  # consecutive frames shown per video sequence: enough to see flicker, few enough to keep the page light


def outputs_folder(page: Path, save_outputs: Path | None) -> Path:
    """Where the evaluation saves the outputs the page shows: ``--save-outputs``, else inside the page's folder."""
    return save_outputs if save_outputs is not None else files_folder(page) / "outputs"


def write_eval_report(report: EvalReport, outputs: Path, page: Path, command: str = "") -> Path:
    """Write ``page`` for ``report``, whose outputs were saved under ``outputs`` (``evaluate(save_outputs=...)``)."""
    images = [
        ReportImage(pair.name, pair.rainy, pair.clean, {label: output_path(outputs, label, pair) for label in report.models})
        for pair in report.pairs
    ]
    return write_report(report.to_json(details=True), images, page, command)


def strip_range(scored: FrameRange, frames: int, count: int = STRIP_FRAMES) -> FrameRange:
    """The ``count`` frames in the middle of a sequence's scored range (``scored``, ``frames`` long):
    the ends of a clip are where a temporal stage has fewest neighbours, not what it usually shows."""
    start = scored.first + max(0, frames - count) // 2
    return FrameRange(start, start + min(count, frames) - 1)


def _strip(
    sequence: VideoSequence, result: SequenceResult, scored: FrameRange, models: list[str], outputs: Path, scratch: Path
) -> ReportSequence:
    """A sequence's strip: model frames as saved, rainy and clean ones read again into ``scratch`` (a video
    file has no frame files) by the same reader the evaluation used, so they are the frames it scored."""
    scratch.mkdir()
    frames = []
    for k, frame in enumerate(read_sequence(sequence, strip_range(scored, len(result.frames)))):
        rainy = write_rgb8(scratch / f"{k}_rainy.png", frame.rainy)
        clean = write_rgb8(scratch / f"{k}_clean.png", frame.clean) if frame.clean is not None else None
        saved = {label: output_frame(outputs, label, sequence.name, frame.name) for label in models}
        frames.append(ReportImage(frame.name, rainy, clean, saved))
    return ReportSequence(result.name, frames)


def write_video_report(report: VideoEvalReport, video_set: VideoSet, outputs: Path, page: Path, command: str = "") -> Path:
    """Write ``page`` for ``report`` on ``video_set``, whose model frames were saved under ``outputs``
    (``evaluate_video(save_outputs=...)``): the rows of every sequence and a strip of :data:`STRIP_FRAMES`
    consecutive frames from the middle of its scored range."""
    sequences = {s.name: s for s in video_set.sequences}
    models = [label for label in report.labels if label not in (RAINY, TARGET)]
    with TemporaryDirectory(prefix="derain-report-") as scratch:
        strips = [
            _strip(sequences[r.name], r, report.frames, models, outputs, Path(scratch) / str(k)) for k, r in enumerate(report.sequences)
        ]
        return write_report(report.to_json(), [], page, command, strips)
