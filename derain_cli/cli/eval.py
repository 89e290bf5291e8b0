"""`derain eval`: PSNR/SSIM of models on a paired set, as the papers measure them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from derain_cli.cli.app import app, console, emit, error
from derain_cli.cli.options import DeviceOption, PrecisionOption, QuietOption, SegModelOption
from derain_cli.cli.progress import progress_bar
from derain_cli.evaluate import EvalReport, Row, evaluate, load_methods
from derain_cli.errors import DerainError
from derain_cli.pairs import Pair, PairedSet, find_pairs, image_files, layouts_help, rain_free_set
from derain_cli.segment.downstream import downstream_miou


@app.command("eval")
def eval_command(
    data: Annotated[
        Path, typer.Option("--data", help=f"Paired set folder (layouts: {layouts_help()}), or rain-free photos with --clean.")
    ],
    models: Annotated[
        Optional[list[str]],
        typer.Option("--model", "-m", help="Architecture or checkpoint name from weights.toml; repeat to compare (default sapnet)."),
    ] = None,
    weights: Annotated[
        Optional[list[Path]],
        typer.Option("--weights", "-w", help="Checkpoint file; once for one model, or once per --model in order."),
    ] = None,
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="Do-no-harm measure: DATA holds rain-free photos; each output is scored against its own input "
            "(a derainer should leave them nearly unchanged).",
        ),
    ] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N pairs (natural order).")] = None,
    every: Annotated[
        int, typer.Option("--every", min=1, help="Only every Nth pair in natural order, from the first (before --limit).")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as one JSON object on stdout.")] = False,
    save_outputs: Annotated[
        Optional[Path], typer.Option("--save-outputs", help="Write each model's outputs to DIR/<model>/<name>.png.")
    ] = None,
    tta: Annotated[
        bool, typer.Option("--tta", help="Also measure each model's flip self-ensemble (NAME+tta rows; ~4x slower).")
    ] = False,
    tta_mode: Annotated[
        Optional[str],
        typer.Option(
            "--tta-mode",
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
            help="Also report the downstream mIoU: segmentation of each output vs. of the clean target "
            "(or vs. the labels/ masks when the set has them). Needs the \\[segment] extra.",
        ),
    ] = False,
    seg_model: SegModelOption = None,
) -> None:
    """Measure models on a paired set: [bold]derain eval --data rain100h/ -m prenet -w prenet.pth[/]."""
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
    if not quiet and report.n:
        _print_table(report)
    if as_json:
        emit(json.dumps(report.to_json(), indent=2))
    if report.failures:
        error(f"{len(report.failures)} of {len(pairs)} pair(s) failed")
        raise typer.Exit(1)


def _dataset(data: Path, clean: bool) -> PairedSet:
    """The pairs to measure: rain-free photos as their own references with ``--clean``, else a paired layout."""
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


def _print_table(report: EvalReport) -> None:
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
    console.print(table)
    for gain in report.tta_gains():
        console.print(
            f"{gain.label}: {gain.psnr:+.2f} dB PSNR, {gain.ssim:+.4f} SSIM for {gain.time_ratio:.1f}x the time per image",
            highlight=False,
        )
