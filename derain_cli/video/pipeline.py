"""``derain_video``: decode, derain in batches and encode at once, in three threads.

reader (decode + audio packets) -> queue -> inference (a FrameProcessor) -> queue -> writer
(layout + encode + mux). Audio packets travel through the same queues, so the output keeps the
input's interleaving. Every output is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError
from derain_cli.fsutil import FileSet, atomic_output
from derain_cli.video.flow import WarpingMeter
from derain_cli.video.layout import Derained, FrameLayout
from derain_cli.video.sink import EncodeSettings, VideoSink
from derain_cli.video.source import AudioPacket, Frame, Item, Source, VideoInfo, open_source
from derain_cli.video.processors import default_batch, make_processor
from derain_cli.video.progress import VideoProgress
from derain_cli.video.stages import END, Stages

if TYPE_CHECKING:
    from derain_cli.video.ensemble import VideoEnsemble


@dataclass(frozen=True)
class VideoOutput:
    """A file the run writes, and how its frames are composed from input and derained frames."""

    path: Path
    layout: FrameLayout = field(default_factory=Derained)


@dataclass(frozen=True)
class VideoOptions:
    """``start``/``end``: seconds from the first frame; ``fps``: rate of an image-sequence folder
    (default 25); ``batch_size``: frames per forward pass (None: 1 on CPU, 4 on CUDA); ``temporal``:
    neighbouring frames each side the temporal stage fuses (0: frame by frame; None: the default);
    ``measure``: measure the warping error of the input and of the derained frames (flow on the input,
    frame pairs as they are written: :attr:`VideoReport.warping`)."""

    start: float | None = None
    end: float | None = None
    fps: float | None = None
    batch_size: int | None = None
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    overwrite: bool = False
    temporal: int | None = None
    measure: bool = False


@dataclass(frozen=True)
class VideoReport:
    frames: int
    seconds: float
    info: VideoInfo
    written: str  # what the first output holds, e.g. "libx264 yuv420p, audio aac copied"
    warping: WarpingMeter | None = None  # with VideoOptions.measure: the derained frames before encoding


@dataclass
class _Output:
    sink: VideoSink
    layout: FrameLayout
    turns: int  # quarter turns counter-clockwise that make frames upright, for layouts that want them

    def compose(self, original: np.ndarray, derained: np.ndarray) -> np.ndarray:
        if self.turns:
            original, derained = np.rot90(original, self.turns), np.rot90(derained, self.turns)
        return np.ascontiguousarray(self.layout(original, derained))

    def write(self, item: tuple[Frame, np.ndarray] | AudioPacket) -> None:
        """Encode a (frame, derained) pair through the layout, or pass an audio packet on."""
        try:
            if isinstance(item, tuple):
                frame, derained = item
                self.sink.write(self.compose(frame.rgb, derained), frame.pts, frame.duration)
            else:
                self.sink.write_audio(item.index, item.packet)
        except (av.FFmpegError, ValueError) as exc:
            raise DerainError(f"{self.sink.label}: cannot encode ({exc})") from None


def check_outputs(inputs: FileSet, outputs: Sequence[VideoOutput], overwrite: bool) -> None:
    """Never write over an input (``--overwrite`` or not); write over an existing file only with ``overwrite``."""
    seen: set[Path] = set()
    for output in outputs:
        key = output.path.resolve()
        if output.path in inputs:
            raise DerainError(f"{output.path}: is an input; an input is never overwritten, choose another output name")
        if key in seen:
            raise DerainError(f"{output.path}: given twice as an output")
        if output.path.is_dir():
            raise DerainError(f"{output.path}: is a folder; give an output file such as out.mp4")
        if output.path.exists() and not overwrite:
            raise DerainError(f"{output.path}: already exists; pass --overwrite to replace it")
        seen.add(key)


def output_info(info: VideoInfo, layout: FrameLayout) -> tuple[VideoInfo, int]:
    """The output stream's geometry for ``layout``, and the quarter turns applied before it."""
    turns = 0 if layout.keeps_orientation else round(info.rotation / 90) % 4
    width, height = (info.height, info.width) if turns % 2 else (info.width, info.height)
    width, height = layout.size(width, height)
    if layout.keeps_orientation:
        return dataclasses.replace(info, width=width, height=height), turns
    return dataclasses.replace(info, width=width, height=height, rotation=0, display_matrix=None), turns


def derain_video(
    source_path: Path,
    outputs: Sequence[VideoOutput],
    derainer: Derainer | VideoEnsemble,
    options: VideoOptions | None = None,
    progress: VideoProgress | None = None,
) -> VideoReport:
    """Derain the video (or image-sequence folder) ``source_path`` into every output.

    Raises DerainError for unreadable input or unwritable output, KeyboardInterrupt on Ctrl-C;
    on any failure no output file (complete or partial) is left behind.
    """
    options = options or VideoOptions()
    options.encode.check()
    check_outputs(FileSet([source_path]), outputs, options.overwrite)
    began = time.perf_counter()
    with ExitStack() as stack:
        source = stack.enter_context(open_source(source_path, options.start, options.end, options.fps))
        opened = [_open_output(stack, output, source, options) for output in outputs]
        progress = progress or VideoProgress()
        progress.start(source.info)
        meter = WarpingMeter() if options.measure else None
        batch = default_batch(derainer, options.batch_size)
        frames = _run(source, opened, derainer, batch, options.temporal, progress, meter)
        for output in opened:
            output.sink.finish()
            output.sink.close()
        return VideoReport(frames, time.perf_counter() - began, source.info, opened[0].sink.description, meter)


def _open_output(stack: ExitStack, output: VideoOutput, source: Source, options: VideoOptions) -> _Output:
    try:
        output.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DerainError(f"{output.path}: cannot create the output folder ({exc.strerror or exc})") from None
    tmp = stack.enter_context(atomic_output(output.path, options.overwrite))
    info, turns = output_info(source.info, output.layout)
    sink = VideoSink(tmp, info, source.audio, options.encode, label=output.path)
    stack.callback(sink.close)
    return _Output(sink, output.layout, turns)


def _run(
    source: Source,
    outputs: list[_Output],
    derainer: Derainer | VideoEnsemble,
    batch: int,
    temporal: int | None,
    progress: VideoProgress,
    meter: WarpingMeter | None,
) -> int:
    stages = Stages()
    decoded, derained = stages.queue(2 * batch + 16), stages.queue(2 * batch + 16)
    written = 0

    def read() -> None:
        for item in source.items():
            if not stages.put(decoded, item):
                return
        stages.put(decoded, END)

    processor = make_processor(derainer, batch, temporal)
    held: deque[Item] = deque()  # frames inside the processor, and the audio packets read after them

    def release(done: list[np.ndarray]) -> bool:
        """Pass on the frames the processor returned, and the audio packets up to the first frame still held."""
        results = deque(done)
        while held and (isinstance(held[0], AudioPacket) or results):
            item = held.popleft()
            if not stages.put(derained, (item, results.popleft()) if isinstance(item, Frame) else item):
                return False
        return True

    def infer() -> None:
        while (item := stages.get(decoded)) is not END:
            held.append(item)
            if not release(processor.push(item.rgb) if isinstance(item, Frame) else []):
                return
        if not stages.stop.is_set() and release(processor.finish()):
            stages.put(derained, END)

    def write() -> None:
        nonlocal written
        while (item := stages.get(derained)) is not END:
            for output in outputs:
                output.write(item)
            if isinstance(item, tuple):
                written += 1
                if meter is not None:
                    meter.add(item[0].rgb, item[1])
                progress.frame()

    # The reader and writer use the containers, closed once this returns: on Ctrl-C they are waited
    # for first; the inference stage ends once its forward pass is done.
    stages.run([("video-reader", read), ("video-writer", write), ("video-inference", infer)], progress.stopping)
    return written
