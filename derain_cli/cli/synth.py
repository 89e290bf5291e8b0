"""`derain synth`: render realistic rain onto clean images and videos, as a paired set."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from derain_cli.cli.app import app, console, debug_enabled, error, print_traceback
from derain_cli.cli.options import QuietOption, note_skipped_subfolders
from derain_cli.cli.progress import progress_bar
from derain_cli.errors import DerainError, UsageError
from derain_cli.synth.params import PRESETS
from derain_cli.video.encode import DEFAULT_CRF, EncodeSettings

if TYPE_CHECKING:
    from derain_cli.synth.folder import SynthJob

_PRESETS = f"{', '.join(PRESETS)} or mix (a preset drawn per image)"


def _override(name: str, text: str) -> Any:
    """An option fixing one rain parameter (None: drawn from the preset)."""
    return typer.Option(f"--{name}", help=text, show_default=False)


def _airlight(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise UsageError(f"--airlight must be R,G,B (three values in 0..1), got {text!r}")
    return values  # type: ignore[return-value]


@app.command("synth")
def synth_command(
    inputs: Annotated[list[str], typer.Argument(help="Clean images, videos, folders or glob patterns.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder: OUT/input/, OUT/target/, OUT/synth.jsonl.")],
    preset: Annotated[str, typer.Option("--preset", "-p", help=f"Rain preset: {_PRESETS}.")] = "heavy",
    seed: Annotated[int, typer.Option("--seed", help="Seed; each rendering's seed is derived from it and the output name.")] = 0,
    per_image: Annotated[int, typer.Option("--per-image", "-n", min=1, max=1000, help="Rainy versions per input (NAME_k.png).")] = 1,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders (NAME = sub_folder_stem).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow replacing existing outputs.")] = False,
    crf: Annotated[int, typer.Option("--crf", min=0, max=51, help="H.264 quality of video outputs (both clips).")] = DEFAULT_CRF,
    quiet: QuietOption = False,
    layers: Annotated[Optional[int], _override("layers", "Depth layers of streaks (1-8).")] = None,
    density: Annotated[Optional[float], _override("density", "Streaks per 100x100 px, all layers (sizes: px of a 480-px short side).")] = None,
    length: Annotated[Optional[float], _override("length", "Streak length of the nearest layer (px at 480 px).")] = None,
    width: Annotated[Optional[float], _override("width", "Streak width of the nearest layer (px at 480 px).")] = None,
    angle: Annotated[Optional[float], _override("angle", "Mean fall direction, degrees from vertical (+ leans right).")] = None,
    angle_jitter: Annotated[Optional[float], _override("angle-jitter", "Per-streak angle spread (std, degrees).")] = None,
    brightness: Annotated[Optional[float], _override("brightness", "Peak opacity of the nearest streaks (0-1).")] = None,
    defocus: Annotated[Optional[float], _override("defocus", "Extra blur of the nearest layer (sigma, px at 480 px).")] = None,
    veil: Annotated[Optional[float], _override("veil", "Rain accumulation: 1 - mean transmission (0 = none, <1).")] = None,
    transmission: Annotated[Optional[str], _override("transmission", "Veil map: uniform, gradient or depth.")] = None,
    airlight: Annotated[Optional[str], _override("airlight", "Atmospheric light R,G,B in 0..1 (default: from the sky).")] = None,
    blur: Annotated[Optional[float], _override("blur", "Background blur (sigma, px at 480 px).")] = None,
    desaturation: Annotated[Optional[float], _override("desaturation", "Extra loss of colour (0-1).")] = None,
    exposure: Annotated[Optional[float], _override("exposure", "Mean brightness after auto-exposure, relative to the clean (0.5-1.5).")] = None,
    drops: Annotated[Optional[int], _override("drops", "Water drops on the lens.")] = None,
    noise: Annotated[Optional[float], _override("noise", "Sensor noise std (values in 0..1).")] = None,
    jpeg: Annotated[Optional[int], _override("jpeg", "JPEG re-compression quality (0 = none).")] = None,
) -> None:
    """Render rain onto clean images or videos: [bold]derain synth clean/ -o pairs/ --preset light[/]."""
    from derain_cli.image_batch import expand_inputs
    from derain_cli.synth.folder import check_output_folder, plan, read_log, write_log
    from derain_cli.synth.params import draw_params

    values = {
        "layers": layers, "density": density, "length": length, "width": width, "angle": angle,
        "angle_jitter": angle_jitter, "brightness": brightness, "defocus": defocus, "veil": veil,
        "transmission": transmission, "airlight": _airlight(airlight), "blur": blur, "desaturation": desaturation, "exposure": exposure,
        "drops": drops, "noise": noise, "jpeg": jpeg,
    }  # fmt: skip
    overrides = {key: value for key, value in values.items() if value is not None}
    draw_params(preset, seed, overrides)  # an unknown preset or out-of-range override is refused before any work
    found, failures = expand_inputs(inputs, recursive)
    note_skipped_subfolders(inputs, recursive, quiet)
    check_output_folder(found, inputs, output)
    read_log(output)  # an unreadable log stops the run before anything is rendered
    jobs, refused = plan(found, output, seed, per_image, overwrite)
    failures += refused
    for failure in failures:
        error(f"{failure.source}: {failure.message}")
    lines, bad = _run(jobs, preset, overrides, EncodeSettings(crf=crf), quiet, overwrite)
    if lines:
        write_log(output, lines)
    failed = len({f.source for f in failures} | bad)
    if not quiet and (lines or not failed):
        console.print(f"Rendered {len(lines)} rainy/clean pair(s) into {output} (preset {preset}, seed {seed})", highlight=False)
    if failed:
        if lines or failed > 1:  # a lone input's failure is already the one line
            error(f"{failed} input(s) failed")
        raise typer.Exit(1)


def _run(
    jobs: list[SynthJob], preset: str, overrides: dict[str, Any], encode: EncodeSettings, quiet: bool, overwrite: bool
) -> tuple[list[dict[str, Any]], set[str]]:
    """Render every job (an image is read once for all its versions); a failing input is one line and the
    batch goes on. Returns the log lines of the successes and the inputs that failed."""
    from derain_cli.synth.folder import VIDEO_SUFFIXES, read_clean, render_image
    from derain_cli.synth.video import render_video

    lines: list[dict[str, Any]] = []
    failed: set[str] = set()
    with progress_bar("img", quiet) as progress:
        task = progress.add_task("Rendering rain", total=len(jobs))
        for source, versions in groupby(jobs, key=lambda job: job.source):
            try:
                clean = None if source.suffix.lower() in VIDEO_SUFFIXES else read_clean(source)
                for job in versions:
                    lines.append(
                        render_image(job, clean, preset, overrides, overwrite)
                        if clean is not None
                        else render_video(job, preset, overrides, encode, overwrite)
                    )
                    progress.advance(task)
            except (DerainError, OSError) as exc:
                if debug_enabled():
                    print_traceback(exc)
                message = str(exc).removeprefix(f"{source}: ").strip().splitlines()
                error(f"{source}: {message[0] if message else type(exc).__name__}")
                failed.add(str(source))
    return lines, failed
