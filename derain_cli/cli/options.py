"""Option declarations shared by several commands, so every command spells them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from derain_cli.errors import UsageError
from derain_cli.tiling import MIN_TILE, check_tile


def _tile(value: int | None) -> int | None:
    """--tile is checked as the command line is read, before any input (exit 2 even when none is valid)."""
    try:
        check_tile(value)
    except UsageError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--tile ")) from None
    return value

ModelOption = Annotated[
    str,
    typer.Option(
        "--model", "-m", help="Architecture (sapnet, prenet, ...) or checkpoint name from weights.toml."
    ),
]
WeightsOption = Annotated[
    Optional[Path],
    typer.Option(
        "--weights", "-w", help="Checkpoint file (.pth state dict or .safetensors); default: the model's registered weights."
    ),
]
DeviceOption = Annotated[str, typer.Option("--device", "-d", help="auto, cpu, cuda or cuda:N.")]
TileOption = Annotated[
    Optional[int],
    typer.Option(
        "--tile",
        callback=_tile,
        help=f"Tile size in pixels (at least {MIN_TILE}); 0 = never tile; default: automatic, within the memory budget.",
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="Arithmetic of the forward pass: auto (fp16 on CUDA, fp32 on the CPU), fp32, fp16 (CUDA) or bf16.",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary; errors only.")]
SegmentOption = Annotated[
    bool,
    typer.Option("--segment", help="Also run semantic segmentation (needs the \\[segment] extra: transformers)."),
]
SegModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--seg-model",
        help="Segmentation model: a weights.toml name (built in: espnet-camvid, espnet-cityscapes, "
        "espnetv2-cityscapes; or segformer-b0-cityscapes), a Hugging Face id or a save_pretrained folder "
        "(implies --segment); default: segformer-b0-cityscapes, or espnet-cityscapes when that cannot be loaded.",
    ),
]
SkipExistingOption = Annotated[
    bool,
    typer.Option(
        "--skip-existing",
        help="Count existing outputs as finished and skip them (resumes an interrupted batch; outputs are never partial).",
    ),
]
RayOption = Annotated[
    bool,
    typer.Option("--ray", help="Run on Ray (the \\[ray] extra): a local instance, or the cluster of --ray-address."),
]
RayAddressOption = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address",
        metavar="ADDRESS",
        help="Join this Ray cluster (implies --ray): auto (the cluster this node is part of) or HEAD:6379.",
    ),
]
WorkersOption = Annotated[
    Optional[int],
    typer.Option(
        "--workers",
        min=1,
        help="With --ray: Derainer workers (default: one per CPU, or per --gpus-per-worker of GPU with CUDA).",
    ),
]
GpusPerWorkerOption = Annotated[
    float,
    typer.Option("--gpus-per-worker", min=0.01, help="With --ray and CUDA: each worker's GPU share (0.5: two per GPU)."),
]
TemporalOption = Annotated[
    Optional[int],
    typer.Option(
        "--temporal",
        min=0,
        metavar="N",
        help="Neighbouring frames each side fused by the temporal stage; 0 = frame by frame; default: the model's default.",
    ),
]
