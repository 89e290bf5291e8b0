"""`derain image`: derain files, folders and globs."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from derain_cli.cli.app import app, console, error
from derain_cli.cli.options import (
    SEGMENT_PANEL,
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
    note_skipped_subfolders,
)
from derain_cli.cli.progress import job_reporter, progress_bar, report_failure
from derain_cli.cli.scale import ray_settings, run_on_ray
from derain_cli.errors import UsageError
from derain_cli.weights.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from derain_cli.derainer import Derainer
    from derain_cli.image_batch import Failure, Job
    from derain_cli.imageio import LoadedImage


def _format(value: str | None) -> str | None:
    """--format is checked as the command line is read (exit 2, whatever the inputs)."""
    from derain_cli.imageio import output_suffix

    if value is not None:
        try:
            output_suffix(value)
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


@app.command("image")
def image_command(
    inputs: Annotated[list[str], typer.Argument(help="Image files, folders or glob patterns.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="Output file (one input) or folder.")],
    model: ModelOption = DEFAULT_MODEL,
    weights: WeightsOption = None,
    device: DeviceOption = "auto",
    tile: TileOption = None,
    precision: PrecisionOption = "auto",
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders (mirrored in the output).")] = False,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", metavar="FORMAT", callback=_format, help="png, jpg or webp (default: the -o suffix, else png).")] = None,
    quality: Annotated[int, typer.Option("--quality", metavar="Q", min=1, max=100, help="JPEG/WebP quality.")] = 95,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing files, inputs included.")] = False,
    quiet: QuietOption = False,
    segment: SegmentOption = False,
    seg_model: SegModelOption = None,
    seg_json: Annotated[bool, typer.Option("--seg-json", rich_help_panel=SEGMENT_PANEL, help="Also OUT.seg.json: each class's pixel share.")] = False,
    skip_existing: SkipExistingOption = False,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    gpus_per_worker: GpusPerWorkerOption = 1.0,
) -> None:
    """Derain images: [bold]derain image in.jpg -o out.png[/], or [bold]derain image photos/ -o derained/[/].

    Details (outputs, limits, segmentation, Ray): docs/cli.md."""
    from derain_cli.weights.resolve import refuse_video_model

    refuse_video_model(model)
    from derain_cli.derainer import Derainer
    from derain_cli.image_batch import expand_inputs, is_single_file_output, plan_jobs
    from derain_cli.scale.images import ModelSettings, run_ray_jobs

    segmenting = segment or seg_model or seg_json
    cluster = ray_settings(ray, ray_address, workers, gpus_per_worker, quiet, overwrite, skip_existing)
    if cluster and segmenting:
        raise UsageError("--segment is not available with --ray; segment the derained folder afterwards")
    single_file = is_single_file_output(inputs, output)
    found, failures = expand_inputs(inputs, recursive)
    total = len(found) + len(failures)
    note_skipped_subfolders(inputs, recursive, quiet)
    jobs, refused, skipped = plan_jobs(found, output, single_file, fmt, overwrite, skip_existing)
    failures += refused
    after = None
    if segmenting:
        after, jobs, refused = _segmentation(jobs, seg_model, device, seg_json, overwrite)
        failures += refused
    for failure in failures:
        error(f"{failure.source}: {failure.message}")
    if skipped and not quiet:
        console.print(f"Skipped {len(skipped)} image(s) whose output exists (--skip-existing)", highlight=False)
    if jobs and cluster:
        settings = ModelSettings(model, str(weights) if weights else None, tile, precision)
        run = partial(run_ray_jobs, jobs, settings, quality=quality, on_done=report_failure)
        failures += run_on_ray(jobs, settings, device, cluster, "image", run)
    elif jobs:
        derainer = Derainer(model=model, weights=weights, device=device, tile=tile, precision=precision)
        failures += _run(derainer, jobs, quality, quiet, after, overwrite)
    if failures:
        error(f"{len(failures)} of {total} input(s) failed")
        raise typer.Exit(1)


def _segmentation(
    jobs: list[Job], seg_model: str | None, device: str, seg_json: bool, overwrite: bool
) -> tuple[Callable[[Job, LoadedImage], None], list[Job], list[Failure]]:
    """Load the segmentation model once; the per-image step writing OUT.seg.png / OUT.mask.png (/ OUT.seg.json)."""
    from derain_cli.segment import Segmenter
    from derain_cli.segment.batch import plan_segmentation, segmentation_step

    segmenter = Segmenter(seg_model, device=device)
    jobs, refused = plan_segmentation(jobs, seg_json, overwrite)
    return segmentation_step(segmenter, seg_json, overwrite), jobs, refused


def _run(
    derainer: Derainer,
    jobs: list[Job],
    quality: int,
    quiet: bool,
    after: Callable[[Job, LoadedImage], None] | None,
    overwrite: bool,
) -> list[Failure]:
    from derain_cli.image_batch import destination, run_jobs

    start = time.perf_counter()
    with progress_bar("img", quiet) as progress:
        task = progress.add_task("Deraining", total=len(jobs))

        def note_frames(job: Job, image: LoadedImage) -> None:
            if image.frames > 1:
                progress.console.print(
                    f"[yellow]warning:[/] {escape(str(job.source))}: {image.frames} frames (animated or multi-page); "
                    "only the first is derained (use `derain video` on a folder of its frames for all)",
                    highlight=False,
                )
            if after:
                after(job, image)

        failures = run_jobs(derainer, jobs, quality, job_reporter(progress, task), note_frames, overwrite)
    if not quiet:
        done = len(jobs) - len(failures)
        seconds = (time.perf_counter() - start) / max(1, len(jobs))
        routed = f"; {derainer.routed} heavy-rain image(s) also ran {derainer.route.model}" if derainer.route and derainer.routed else ""
        console.print(f"Derained {done} image(s) into {destination(jobs)} ({seconds:.2f} s/image){routed}", highlight=False)
    return failures
