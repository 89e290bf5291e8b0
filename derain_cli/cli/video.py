"""`derain video`: derain a video file or an image-sequence folder into a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import TaskID

from derain_cli.cli.app import app, console
from derain_cli.cli.options import (
    DeviceOption,
    ModelOption,
    PrecisionOption,
    QuietOption,
    SegModelOption,
    SegmentOption,
    TileOption,
    WeightsOption,
)
from derain_cli.cli.progress import Reporter, progress_bar
from derain_cli.derainer import Derainer
from derain_cli.segment.video import segmentation_output
from derain_cli.video import (
    Derained,
    EncodeSettings,
    SideBySide,
    VideoInfo,
    VideoOptions,
    VideoOutput,
    VideoProgress,
    derain_video,
)
from derain_cli.video.sink import DEFAULT_CRF


@app.command("video")
def video_command(
    source: Annotated[Path, typer.Argument(help="A video (any format FFmpeg reads) or a folder of frames.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output video: .mp4, .mkv, .mov or .webm.")],
    model: ModelOption = "sapnet",
    weights: WeightsOption = None,
    device: DeviceOption = "auto",
    tile: TileOption = None,
    precision: PrecisionOption = "auto",
    crf: Annotated[int, typer.Option("--crf", min=0, max=63, help="Quality for libx264/libx265/VP9/AV1: lower = better, larger.")] = DEFAULT_CRF,
    codec: Annotated[Optional[str], typer.Option("--codec", help="Video encoder: libx264 (default), libx265, libvpx-vp9, ffv1, ...")] = None,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Write input | derained side by side, for demonstrations.")] = False,
    start: Annotated[Optional[float], typer.Option("--start", min=0, help="Start this many seconds into the input.")] = None,
    end: Annotated[Optional[float], typer.Option("--end", min=0, help="Stop this many seconds into the input.")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Frame rate of an image-sequence folder (default 25).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Frames per forward pass (default: 1 on CPU, 4 on CUDA).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow replacing an existing output (never the input).")] = False,
    quiet: QuietOption = False,
    segment: SegmentOption = False,
    seg_model: SegModelOption = None,
) -> None:
    """Derain a video, keeping its frame rate, size, rotation and sound: [bold]derain video in.mp4 -o out.mp4[/]."""
    options = VideoOptions(start, end, fps, batch_size, EncodeSettings(codec, crf), overwrite)
    layout = SideBySide() if side_by_side else Derained()
    outputs = [VideoOutput(output, layout)]
    if segment or seg_model:  # OUT.seg.mp4: the derained frames blended with their segmentation
        outputs.append(segmentation_output(output, seg_model, device))
    derainer = Derainer(model=model, weights=weights, device=device, tile=tile, precision=precision)
    progress = _Progress(progress_bar("frame", quiet))
    try:
        report = derain_video(source, outputs, derainer, options, progress)
    finally:
        progress.close()
    if not quiet:
        info = report.info
        console.print(
            f"Derained {report.frames} frame(s) of {info.width}x{info.height} at {float(info.rate):.3g} fps into {output} "
            f"({report.written}; {report.frames / report.seconds:.2f} frames/s)",
            highlight=False,
        )


class _Progress(VideoProgress):
    """The progress reporter: it starts once the input is open (so a bad input shows only its error)."""

    def __init__(self, bar: Reporter) -> None:
        self.bar = bar
        self.task: TaskID | None = None

    def start(self, info: VideoInfo) -> None:
        self.bar.start()
        self.task = self.bar.add_task("Deraining", total=info.frames)

    def frame(self) -> None:
        if self.task is not None:
            self.bar.advance(self.task)

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()

    def stopping(self) -> None:
        if not self.bar.quiet:
            self.bar.console.print("Stopping after the frames being derained (Ctrl-C again to quit now)", highlight=False)
