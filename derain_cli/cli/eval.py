"""`derain eval`: PSNR/SSIM of models on a paired set, as the papers measure them."""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from derain_cli.cli.app import app, console, emit, error, out
from derain_cli.cli.options import SEGMENT_PANEL, DeviceOption, PrecisionOption, QuietOption, SegModelOption, TemporalOption
from derain_cli.cli.progress import progress_bar
from derain_cli.errors import DerainError, UsageError
from derain_cli.pairs import Pair, layouts_help
from derain_cli.weights.registry import DEFAULT_MODEL, VIDEO_DEFAULT_MODEL

if TYPE_CHECKING:
    from rich.console import Console

    from derain_cli.evaluate import EvalReport, Row
    from derain_cli.pairs import PairedSet
    from derain_cli.video.evaluate import Summary, VideoEvalReport
    from derain_cli.video.sets import FrameRange, VideoSet


@app.command("eval")
def eval_command(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            metavar="FOLDER",
            help=f"Paired set folder (layouts: {layouts_help()}), or a video set: input/SEQ/ frame folders or "
            "input/SEQ.mp4 files + target/SEQ..., or with --video flat frames or input-only video (a video file is one); "
            "rain-free photos with --clean.",
        ),
    ],
    models: Annotated[
        Optional[list[str]],
        typer.Option(
            "--model", "-m", metavar="NAME", help=f"Architecture or checkpoint name from weights.toml; repeat to compare (default {DEFAULT_MODEL}; on video sets {VIDEO_DEFAULT_MODEL}, as derain video)."
        ),
    ] = None,
    weights: Annotated[
        Optional[list[Path]],
        typer.Option("--weights", "-w", metavar="FILE", help="Checkpoint file; once for one model, or once per --model in order."),
    ] = None,
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="Do-no-harm measure: DATA holds rain-free photos; each output is scored against its own input "
            "(a derainer should leave them nearly unchanged).",
        ),
    ] = False,
    limit: Annotated[
        Optional[int],
        typer.Option("--limit", metavar="N", min=1, help="Only the first N pairs (natural order); of a video set, the first N frames of each sequence."),
    ] = None,
    video: Annotated[
        bool,
        typer.Option(
            "--video",
            help="The set is video: flat input/*.jpg + target/*.jpg is one sequence; a folder without target/ "
            "(frames, frame folders or video files) is real video scored by warping error only.",
        ),
    ] = False,
    frames: Annotated[
        Optional[str],
        typer.Option(
            "--frames", metavar="A:B", help="Video sets: derain and score only frames A to B of each sequence (from 1, inclusive)."
        ),
    ] = None,
    temporal: TemporalOption = None,
    every: Annotated[
        int, typer.Option("--every", metavar="N", min=1, help="Only every Nth pair in natural order, from the first (before --limit).")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as one JSON object on stdout.")] = False,
    save_outputs: Annotated[
        Optional[Path],
        typer.Option(
            "--save-outputs", metavar="DIR", help="Write each model's outputs to DIR/<model>/<name>.png (video: DIR/<model>/<sequence>/<frame>.png)."
        ),
    ] = None,
    tta: Annotated[
        bool, typer.Option("--tta", help="Also measure each model's flip self-ensemble (NAME+tta rows; ~4x slower).")
    ] = False,
    tta_mode: Annotated[
        Optional[str],
        typer.Option(
            "--tta-mode",
            metavar="MODE",
            help="flips (default: 4 views that keep streaks' orientation) or dihedral (all 8 flips/rotations); implies --tta.",
        ),
    ] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    quiet: QuietOption = False,
    segment: Annotated[
        bool,
        typer.Option(
            "--segment",
            rich_help_panel=SEGMENT_PANEL,
            help="Also report the downstream mIoU: segmentation of each output vs. of the clean target "
            "(or the set's labels/). The built-in ESPNets need nothing extra; SegFormer needs the \\[segment] extra.",
        ),
    ] = False,
    seg_model: SegModelOption = None,
    report_page: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            metavar="FILE",
            help="Also write an HTML page (its images in a folder beside it: report.html -> report_files/) with the metrics, per-scene means and, "
            "for each pair, every output against the target (wipe slider, zoomed crops); adds per-image "
            "and per-scene results to --json. Video: each sequence's rows and a strip of consecutive frames.",
        ),
    ] = None,
) -> None:
    """Measure models on a paired set: [bold]derain eval --data rain100h/ -m prenet -w prenet.pth[/];
    on video, PSNR/SSIM and warping error per sequence: [bold]derain eval --data nturain/ --frames 41:80[/]."""
    from derain_cli.evaluate import evaluate, load_methods
    from derain_cli.segment.downstream import downstream_miou
    from derain_cli.video.sets import FrameRange, find_video_set

    if report_page is not None:  # the page shows the outputs, so they are saved: beside it unless --save-outputs
        from derain_cli.report.evaluation import outputs_folder

        save_outputs = outputs_folder(report_page, save_outputs)
    video_set = find_video_set(data, video)
    if video_set is not None:
        if tta or tta_mode or segment or seg_model:
            raise UsageError("--tta and --segment apply to image sets, not to video sets")
        if limit is not None and frames is not None:
            raise UsageError("give --limit or --frames, not both")
        span = FrameRange.parse(frames) if frames is not None else FrameRange(1, limit)
        _eval_video(video_set, models or [], weights or [], span, temporal, save_outputs, report_page, device, precision, quiet, as_json)
        return
    if frames is not None or temporal is not None:
        raise UsageError(f"{data}: --frames and --temporal apply to video sets; pass --video if it is one")
    paired = _dataset(data, clean)
    for problem in paired.problems:
        console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    mode = tta_mode or ("flips" if tta else None)
    methods = load_methods(models or [], weights or [], device, mode, precision)
    extras = [downstream_miou(paired.root, seg_model, device)] if segment or seg_model else []
    pairs = paired.limited(limit, every)
    with progress_bar("pair", quiet) as progress:
        task = progress.add_task("Evaluating", total=len(pairs))

        def on_pair(pair: Pair, failure: str | None) -> None:
            if failure:
                error(failure)
            progress.advance(task)

        report = evaluate(paired, methods, limit, save_outputs, extras, on_pair=on_pair, every=every)
    segmentation = extras[0].describe() if extras else None
    if not quiet and report.n:
        results = _results(as_json)
        _print_table(report, results)
        if segmentation:
            results.print(f"mIoU: segmentation by {segmentation['model']} against {segmentation['reference']}", highlight=False)
    if report_page is not None:
        from derain_cli.report.evaluation import write_eval_report

        _announce(write_eval_report(report, save_outputs, report_page, _command_line()))
    if as_json:
        emit(json.dumps({**report.to_json(details=report_page is not None), **({"segmentation": segmentation} if segmentation else {})}, indent=2))
    if report.failures:
        error(f"{len(report.failures)} of {len(pairs)} pair(s) failed")
        raise typer.Exit(1)


def _eval_video(
    video_set: VideoSet, models: list[str], weights: list[Path], span: FrameRange, temporal: int | None,
    save_outputs: Path | None, report_page: Path | None, device: str, precision: str, quiet: bool, as_json: bool,
) -> None:
    """The video path: each sequence derained as `derain video` would, scored frame by frame."""
    from derain_cli.evaluate import model_labels
    from derain_cli.fsutil import check_writable
    from derain_cli.video.ensemble import load_video_derainer
    from derain_cli.video.evaluate import evaluate_video
    from derain_cli.video.sets import frame_count

    for problem in video_set.problems:
        console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    if save_outputs is not None:
        check_writable(save_outputs)  # before the models load, not only before inference
    derainers = {
        label: load_video_derainer(model, path, device, precision=precision)
        for label, model, path in model_labels(models or [VIDEO_DEFAULT_MODEL], weights)
    }
    counts = [frame_count(sequence, span) for sequence in video_set.sequences]
    with progress_bar("frame", quiet) as progress:
        task = progress.add_task("Evaluating", total=None if None in counts else sum(counts))
        report = evaluate_video(
            video_set, derainers, temporal, span, save_outputs, on_frame=lambda: progress.advance(task), on_failure=error
        )
    for problem in report.problems[len(video_set.problems):]:
        console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    if not quiet and report.sequences:
        _print_video_table(report, _results(as_json))
    if report_page is not None:
        from derain_cli.report.evaluation import write_video_report

        _announce(write_video_report(report, video_set, save_outputs, report_page, _command_line()))
    if as_json:
        emit(json.dumps(report.to_json(), indent=2))
    if report.failures:
        error(f"{len(report.failures)} of {len(video_set.sequences)} sequence(s) failed")
        raise typer.Exit(1)


def _command_line() -> str:
    """The command as typed, shown on the report page."""
    return shlex.join(["derain", *sys.argv[1:]])


def _announce(page: Path) -> None:
    console.print(f"report: {page}", highlight=False, markup=False)


def _results(as_json: bool) -> Console:
    """Where the results table goes: stdout, unless --json owns stdout (then stderr, for the person watching)."""
    return console if as_json else out


def _video_cells(label: str, sequence: str, row: Summary) -> list[str]:
    def number(value: float, digits: int) -> str:
        return f"{value:.{digits}f}" if math.isfinite(value) else ""

    seconds = "" if row.seconds_per_frame is None else f"{row.seconds_per_frame:.3f}"
    return [label, sequence, str(row.frames), number(row.psnr, 2), number(row.ssim, 4), number(row.warping_error, 2), seconds]


def _print_video_table(report: VideoEvalReport, sink: Console) -> None:
    from derain_cli.video.sets import FrameRange

    span = "" if report.frames == FrameRange() else f", frames {report.frames}"
    table = Table(
        title=f"{report.dataset} ({report.layout}, {len(report.sequences)} sequence(s), {report.n} frames{span}; "
        f"warping error x1e3 with the flow on the {report.flow_on})"
    )
    for name in ("", "sequence", "frames", "PSNR (Y)", "SSIM (Y)", "warping x1e3", "s/frame"):
        table.add_column(name, justify="left" if name in ("", "sequence") else "right")
    for label in report.labels:
        for sequence in report.sequences:
            table.add_row(*_video_cells(label, sequence.name, sequence.summary(label)))
        if len(report.sequences) > 1:
            table.add_row(*_video_cells(label, "all", report.summary(label)))
    sink.print(table)


def _dataset(data: Path, clean: bool) -> PairedSet:
    """The pairs to measure: rain-free photos as their own references with ``--clean``, else a paired layout."""
    from derain_cli.pairs import find_pairs, image_files, rain_free_set

    if clean:
        return rain_free_set(data)
    try:
        return find_pairs(data)
    except DerainError as exc:
        if data.is_dir() and image_files(data):
            raise DerainError(f"{exc}; for rain-free photos (the do-no-harm measure) add --clean") from None
        raise


def _cells(row: Row) -> list[str]:
    mean = row.mean()
    seconds = f"{row.seconds_per_image():.3f}" if row.seconds else ""
    extras = [f"{value:.4f}" for value in row.extra_means().values()]
    return [row.label, f"{mean.psnr:.2f}", f"{mean.ssim:.4f}", f"{mean.rgb_psnr:.2f}", seconds, *extras]


def _print_table(report: EvalReport, sink: Console) -> None:
    rain_free = report.measure == "do-no-harm"
    if rain_free:
        title = f"{report.dataset}: do-no-harm, {report.layout} ({report.n} images)"
    else:
        title = f"{report.dataset} ({report.layout}, {report.n} pairs)"
    table = Table(title=title)
    for name in ("", "PSNR (Y)", "SSIM (Y)", "PSNR (RGB)", "s/image", *report.rainy.extra_means()):
        table.add_column(name, justify="left" if not name else "right")
    for row in (*([] if rain_free else [report.rainy]), *report.models.values()):
        table.add_row(*_cells(row))
    sink.print(table)
    for gain in report.tta_gains():
        sink.print(
            f"{gain.label}: {gain.psnr:+.2f} dB PSNR, {gain.ssim:+.4f} SSIM for {gain.time_ratio:.1f}x the time per image",
            highlight=False,
        )
