"""Option declarations shared by several commands, so every command spells them the same way."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Optional

import typer

from derain_cli.cli.app import console
from derain_cli.errors import UsageError
from derain_cli.tile_rule import MIN_TILE, check_tile

# Help panels: the options most runs never need, apart from the ones every run reads.
SEGMENT_PANEL, RAY_PANEL = "Segmentation", "Ray (the \\[ray] extra)"


def _tile(value: int | None) -> int | None:
    """--tile is checked as the command line is read, before any input (exit 2 even when none is valid)."""
    try:
        check_tile(value)
    except UsageError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--tile ")) from None
    return value


ModelOption = Annotated[
    str, typer.Option("--model", "-m", metavar="NAME", help="Checkpoint or architecture (see `derain weights list`).")
]
WeightsOption = Annotated[
    Optional[Path],
    typer.Option("--weights", "-w", metavar="FILE", help="Checkpoint file (.pth or .safetensors) instead of the registered one."),
]
DeviceOption = Annotated[str, typer.Option("--device", "-d", metavar="DEVICE", help="auto, cpu, cuda or cuda:N.")]
TileOption = Annotated[
    Optional[int],
    typer.Option(
        "--tile", metavar="PIXELS", callback=_tile,
        help=f"Tile size (at least {MIN_TILE}; 0 = never tile); default: as memory allows.",
    ),
]  # fmt: skip
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision", metavar="PRECISION",
        help="auto (fp16 on CUDA; bf16 on CPUs that have it, for models with a bf16 fast path; else fp32), fp32, fp16 or bf16.",
    ),
]  # fmt: skip
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Errors only: no progress bar or summary.")]
SegmentOption = Annotated[
    bool,
    typer.Option(
        "--segment", rich_help_panel=SEGMENT_PANEL,
        help="Also segment the output. The built-in ESPNets need nothing extra; SegFormer needs the \\[segment] extra.",
    ),
]  # fmt: skip
SegModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--seg-model", metavar="NAME", rich_help_panel=SEGMENT_PANEL,
        help="Segmentation model (implies --segment): a name from `derain weights list`, a Hugging Face id or a folder.",
    ),
]  # fmt: skip
SkipExistingOption = Annotated[
    bool, typer.Option("--skip-existing", help="Skip inputs whose output exists (resumes an interrupted batch).")
]
RayOption = Annotated[bool, typer.Option("--ray", rich_help_panel=RAY_PANEL, help="Run on a local Ray instance.")]
RayAddressOption = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address", metavar="ADDRESS", rich_help_panel=RAY_PANEL,
        help="Join this Ray cluster: auto or HEAD:6379 (implies --ray).",
    ),
]  # fmt: skip
WorkersOption = Annotated[
    Optional[int],
    typer.Option("--workers", metavar="N", min=1, rich_help_panel=RAY_PANEL, help="Workers (default: one per CPU or GPU share)."),
]
GpusPerWorkerOption = Annotated[
    float,
    typer.Option("--gpus-per-worker", metavar="SHARE", min=0.01, rich_help_panel=RAY_PANEL, help="Each worker's GPU share."),
]

def note_skipped_subfolders(inputs: Iterable[str], recursive: bool, quiet: bool) -> None:
    """Without -r, a note on stderr for the sub-folders of folder inputs that are left out (a silent skip looks like lost images)."""
    from derain_cli.image_batch import skipped_subfolders

    skipped = 0 if recursive or quiet else skipped_subfolders(inputs)
    if skipped:
        folders = "1 sub-folder" if skipped == 1 else f"{skipped} sub-folders"
        console.print(f"note: {folders} of the input left out; -r (--recursive) includes them", highlight=False)


TemporalOption = Annotated[
    Optional[int],
    typer.Option(
        "--temporal",
        min=0,
        max=60,  # derain_cli.video.temporal.MAX_RADIUS (not imported: the CLI starts without numpy)
        metavar="N",
        help="Neighbouring frames each side the temporal stage fuses (default 3); 0 = frame by frame.",
    ),
]
