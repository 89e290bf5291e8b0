"""`derain video`: derain a video file or an image-sequence folder into a video."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.progress import TaskID

from derain_cli.cli.app import app, console, emit, error
from derain_cli.cli.options import (
    DeviceOption,
    GpusPerWorkerOption,
    ModelOption,
    PrecisionOption,
    QuietOption,
    RayAddressOption,
    RayOption,
    SegmentOption,
    SegModelOption,
    SkipExistingOption,
    TemporalOption,
    TileOption,
    WeightsOption,
    WorkersOption,
)
from derain_cli.cli.progress import Reporter, progress_bar, report_failure
from derain_cli.cli.scale import ray_settings, run_on_ray
from derain_cli.errors import DerainError, UsageError
from derain_cli.video.encode import DEFAULT_CRF, EncodeSettings
from derain_cli.video.progress import VideoProgress
from derain_cli.weights.registry import VIDEO_DEFAULT_MODEL

if TYPE_CHECKING:
    from derain_cli.derainer import Derainer
    from derain_cli.video.ensemble import VideoEnsemble
    from derain_cli.image_batch import Failure, Job
    from derain_cli.video import FrameLayout, VideoInfo, VideoOutput, VideoOptions
    from derain_cli.video.flow import WarpingMeter


@app.command("video")
def video_command(
    sources: Annotated[list[Path], typer.Argument(help="Videos (any format FFmpeg reads) or folders of frames.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov or .webm); a folder for several inputs.")],
    model: ModelOption = VIDEO_DEFAULT_MODEL,
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
    skip_existing: SkipExistingOption = False,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    gpus_per_worker: GpusPerWorkerOption = 1.0,
    temporal: TemporalOption = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Print the warping error (Lai et al., x1e3; flow on the input) of the derained frames next to the input's: lower is steadier.",
        ),
    ] = False,
) -> None:
    """Derain a video, keeping its frame rate, size, rotation and sound: [bold]derain video in.mp4 -o out.mp4[/];
    several: [bold]derain video clips/*.mp4 -o derained/[/] (each to derained/NAME.mp4). The default model is an
    ensemble, each model under the temporal stage and their frames averaged; [bold]-m A+B[/] runs any other. On a CPU,
    [bold]--model lite[/] is about 12x faster and removes less rain."""
    from derain_cli.scale.images import ModelSettings
    from derain_cli.scale.videos import run_ray_videos
    from derain_cli.segment.video import segmentation_output
    from derain_cli.video import Derained, SideBySide, VideoOptions, VideoOutput
    from derain_cli.video.batch import plan_videos
    from derain_cli.video.ensemble import load_video_derainer, video_model

    cluster = ray_settings(ray, ray_address, workers, gpus_per_worker, quiet, overwrite, skip_existing)
    if cluster and (segment or seg_model):
        raise UsageError("--segment is not available with --ray")
    if cluster and report:
        raise UsageError("--report is not available with --ray")
    options = VideoOptions(start, end, fps, batch_size, EncodeSettings(codec, crf), overwrite, temporal, report)
    options.encode.check()  # a bad codec is a usage error before any file is opened
    layout = SideBySide() if side_by_side else Derained()
    # every output of every input checked against every input before anything is written
    jobs, failures, skipped = plan_videos(sources, output, overwrite, skip_existing, overlay=segment or seg_model is not None)
    if len(sources) == 1 and not cluster:
        if failures:  # the check's own error (it names the output), else the clash with the input named
            first = failures[0]
            raise first.exception if isinstance(first.exception, DerainError) else DerainError(f"{first.source}: {first.message}")
        if skipped:
            if not quiet:
                console.print(f"Skipped {sources[0]}: {output} exists (--skip-existing)", highlight=False)
            return
        outputs = [VideoOutput(output, layout)]
        if segment or seg_model:  # OUT.seg.mp4: the derained frames blended with their segmentation
            outputs.append(segmentation_output(output, seg_model, device))
        derainer = load_video_derainer(model, weights, device, tile, precision)
        _derain_one(sources[0], outputs, derainer, options, quiet)
        return
    for failure in failures:
        error(f"{failure.source}: {failure.message}")
    if skipped and not quiet:
        console.print(f"Skipped {len(skipped)} video(s) whose output exists (--skip-existing)", highlight=False)
    if jobs and cluster:
        settings = ModelSettings(video_model(model, weights), str(weights) if weights else None, tile, precision)
        run = partial(run_ray_videos, jobs, settings, options=options, layout=layout, on_done=report_failure)
        failures += run_on_ray(jobs, settings, device, cluster, "video", run)
    elif jobs:
        overlay = segmentation_output(output, seg_model, device).layout if segment or seg_model else None
        derainer = load_video_derainer(model, weights, device, tile, precision)
        failures += _derain_each(jobs, layout, overlay, derainer, options, quiet)
    if failures:
        error(f"{len(failures)} of {len(sources)} input(s) failed")
        raise typer.Exit(1)


def _derain_one(source: Path, outputs: list[VideoOutput], derainer: Derainer | VideoEnsemble, options: VideoOptions, quiet: bool) -> None:
    """Derain one video with a progress bar and a summary line; errors propagate."""
    from derain_cli.video import derain_video

    progress = _Progress(progress_bar("frame", quiet), partial(lite_hint, derainer))
    try:
        report = derain_video(source, outputs, derainer, options, progress)
    finally:
        progress.close()
    if not quiet:
        info = report.info
        console.print(
            f"Derained {report.frames} frame(s) of {info.width}x{info.height} at {float(info.rate):.3g} fps into {outputs[0].path} "
            f"({report.written}; {report.frames / report.seconds:.2f} frames/s)",
            highlight=False,
        )
    if report.warping is not None:
        emit(warping_line(source, report.warping))


# Frame pixels from which a CPU run with a heavy model earns the hint: the video default takes about 2.8 s a
# 640x480 frame on 2 cores (docs/video.md), so 50 megapixels (160 such frames) are over seven minutes.
HINT_MEGAPIXELS = 50
LITE_MODEL = "lite"


def lite_hint(derainer: Derainer | VideoEnsemble, info: VideoInfo) -> str | None:
    """One line suggesting ``--model lite`` when a heavier model would take long on the CPU, else None."""
    from derain_cli.models.litenet import LiteNet

    if derainer.device.type != "cpu" or isinstance(getattr(derainer, "network", None), LiteNet) or not info.frames:
        return None
    if info.frames * info.width * info.height / 1e6 < HINT_MEGAPIXELS:
        return None
    return (f"hint: {info.frames} frames of {info.width}x{info.height} with {derainer.model_name} on the CPU take a while; "
            f"--model {LITE_MODEL} runs about 12x faster than the video default, under the same temporal stage, removing less rain "
            "(docs/lite.md)")  # fmt: skip


def warping_line(source: Path, meter: WarpingMeter) -> str:
    """One line for ``--report``: the derained frames' warping error next to the input's."""
    from derain_cli.video.flow import WARP_SCALE

    before, after = meter.input.value * WARP_SCALE, meter.output.value * WARP_SCALE
    if not meter.input.pairs:
        return f"{source}: warping error needs two frames or more"
    change = f" ({(after / before - 1) * 100:+.0f} %)" if before > 0 else ""
    return f"{source}: warping error x1e3 (flow on the input): input {before:.2f}, derained {after:.2f}{change}"


def _derain_each(
    jobs: list[Job], layout: FrameLayout, overlay: FrameLayout | None, derainer: Derainer | VideoEnsemble, options: VideoOptions, quiet: bool
) -> list[Failure]:
    """Derain the videos one after another with one model; a failed one is reported and the others go on."""
    from derain_cli.image_batch import job_failure
    from derain_cli.video.batch import overlay_video_path
    from derain_cli.video import VideoOutput

    failures: list[Failure] = []
    for job in jobs:
        outputs = [VideoOutput(job.target, layout)]
        if overlay is not None:
            outputs.append(VideoOutput(overlay_video_path(job.target), overlay))
        try:
            _derain_one(job.source, outputs, derainer, options, quiet)
        except DerainError as exc:
            failures.append(job_failure(job, exc))
            report_failure(job, failures[-1])
    return failures


class _Progress(VideoProgress):
    """The progress reporter: it starts once the input is open (so a bad input shows only its error)."""

    def __init__(self, bar: Reporter, hint: Callable[[VideoInfo], str | None]) -> None:
        self.bar = bar
        self.hint = hint
        self.task: TaskID | None = None

    def start(self, info: VideoInfo) -> None:
        line = None if self.bar.quiet else self.hint(info)
        if line:
            self.bar.console.print(line, highlight=False)
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
