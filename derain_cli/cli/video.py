"""`derain video`: derain a video file or an image-sequence folder into a video."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import TaskID

from derain_cli.cli.app import app, console, error
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
    TileOption,
    WeightsOption,
    WorkersOption,
)
from derain_cli.cli.progress import Reporter, progress_bar, report_failure
from derain_cli.cli.scale import ray_settings, run_on_ray
from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, UsageError
from derain_cli.image_batch import Failure, Job, job_failure
from derain_cli.models.litenet import LiteNet
from derain_cli.scale.images import ModelSettings
from derain_cli.scale.videos import run_ray_videos
from derain_cli.segment.video import overlay_video_path, segmentation_output
from derain_cli.video import (
    Derained,
    EncodeSettings,
    FrameLayout,
    SideBySide,
    VideoInfo,
    VideoOptions,
    VideoOutput,
    VideoProgress,
    derain_video,
)
from derain_cli.video.batch import plan_videos
from derain_cli.video.sink import DEFAULT_CRF
from derain_cli.weights.registry import DEFAULT_MODEL, load_registry


@app.command("video")
def video_command(
    sources: Annotated[list[Path], typer.Argument(help="Videos (any format FFmpeg reads) or folders of frames.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov or .webm); a folder for several inputs.")],
    model: ModelOption = DEFAULT_MODEL,
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
) -> None:
    """Derain a video, keeping its frame rate, size, rotation and sound: [bold]derain video in.mp4 -o out.mp4[/];
    several: [bold]derain video clips/*.mp4 -o derained/[/] (each to derained/NAME.mp4)."""
    cluster = ray_settings(ray, ray_address, workers, gpus_per_worker, quiet, overwrite, skip_existing)
    if cluster and (segment or seg_model):
        raise UsageError("--segment is not available with --ray")
    options = VideoOptions(start, end, fps, batch_size, EncodeSettings(codec, crf), overwrite)
    options.encode.check()  # a bad codec is a usage error before any file is opened
    layout = SideBySide() if side_by_side else Derained()
    if len(sources) == 1 and not cluster:
        if skip_existing and output.is_file() and output.resolve() != sources[0].resolve():
            if not quiet:
                console.print(f"Skipped {sources[0]}: {output} exists (--skip-existing)", highlight=False)
            return
        outputs = [VideoOutput(output, layout)]
        if segment or seg_model:  # OUT.seg.mp4: the derained frames blended with their segmentation
            outputs.append(segmentation_output(output, seg_model, device))
        derainer = Derainer(model=model, weights=weights, device=device, tile=tile, precision=precision)
        _derain_one(sources[0], outputs, derainer, options, quiet)
        return
    jobs, failures, skipped = plan_videos(sources, output, overwrite, skip_existing)
    for failure in failures:
        error(f"{failure.source}: {failure.message}")
    if skipped and not quiet:
        console.print(f"Skipped {len(skipped)} video(s) whose output exists (--skip-existing)", highlight=False)
    if jobs and cluster:
        settings = ModelSettings(model, str(weights) if weights else None, tile, precision)
        run = partial(run_ray_videos, jobs, settings, options=options, layout=layout, on_done=report_failure)
        failures += run_on_ray(jobs, settings, device, cluster, "video", run)
    elif jobs:
        overlay = segmentation_output(output, seg_model, device).layout if segment or seg_model else None
        derainer = Derainer(model=model, weights=weights, device=device, tile=tile, precision=precision)
        failures += _derain_each(jobs, layout, overlay, derainer, options, quiet)
    if failures:
        error(f"{len(failures)} of {len(sources)} input(s) failed")
        raise typer.Exit(1)


# Frame pixels from which a CPU run with a heavy model earns the hint: the SAPNet fast path takes
# about 14 s a megapixel on 2 cores (issue 26), so 50 megapixels are over ten minutes.
HINT_MEGAPIXELS = 50


LITE_MODEL = "lite"


def lite_hint(derainer: Derainer, info: VideoInfo) -> str | None:
    """One line suggesting ``--model lite`` when a heavy model would take long on the CPU, else None
    (also while no lite checkpoint ships: its weights.toml entry has no source then)."""
    if derainer.device.type != "cpu" or isinstance(derainer.network, LiteNet) or not info.frames:
        return None
    lite = load_registry().find(LITE_MODEL)
    if lite is None or not lite.sources:
        return None
    megapixels = info.frames * info.width * info.height / 1e6
    if megapixels < HINT_MEGAPIXELS:
        return None
    return (f"hint: {info.frames} frames of {info.width}x{info.height} with {derainer.model_name} on the CPU may take "
            f"a long time; --model lite is over 10x faster (docs/lite.md)")  # fmt: skip


def _derain_one(source: Path, outputs: list[VideoOutput], derainer: Derainer, options: VideoOptions, quiet: bool) -> None:
    """Derain one video with a progress bar and a summary line; errors propagate."""
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


def _derain_each(
    jobs: list[Job], layout: FrameLayout, overlay: FrameLayout | None, derainer: Derainer, options: VideoOptions, quiet: bool
) -> list[Failure]:
    """Derain the videos one after another with one model; a failed one is reported and the others go on."""
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
            self.bar.console.print(line, highlight=False, markup=False)
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
