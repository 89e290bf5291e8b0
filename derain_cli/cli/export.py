"""`derain export`: a deraining network as ONNX for ONNX Runtime, TensorRT or OpenVINO, checked against PyTorch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from derain_cli.cli.app import app, console, emit
from derain_cli.cli.options import WeightsOption
from derain_cli.export import MAX_GREY_LEVELS, OPSET
from derain_cli.weights.registry import DEFAULT_MODEL


@app.command("export")
def export_command(
    model: Annotated[
        str, typer.Argument(metavar="NAME", help="Architecture (sapnet, prenet, ...) or checkpoint name from weights.toml.")
    ] = DEFAULT_MODEL,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The .onnx file to write.")] = Path("model.onnx"),
    weights: WeightsOption = None,
    check_image: Annotated[
        Optional[Path],
        typer.Option(
            "--check-image",
            metavar="FILE",
            help="Photo the ONNX Runtime parity check runs on (default: a generated test card under synthetic rain).",
        ),
    ] = None,
    opset: Annotated[int, typer.Option("--opset", metavar="N", min=17, help="ONNX opset (17: ONNX Runtime, OpenVINO, TensorRT 8.6+).")] = OPSET,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")] = False,
) -> None:
    """Export to ONNX (dynamic batch/height/width, fp32): [bold]derain export sapnet -o sapnet.onnx[/]."""
    from derain_cli.export.onnx import check_card, export_onnx
    from derain_cli.imageio import read_rgb8

    image = read_rgb8(check_image) if check_image is not None else check_card()
    result = export_onnx(model, output, image, weights, opset, overwrite)
    where = check_image or "the generated test card"
    console.print(
        f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, opset {opset}) in {result.export_seconds:.1f} s; "
        f"ONNX Runtime vs PyTorch fp32 on {where} ({result.check_size[0]}x{result.check_size[1]}): "
        f"max difference {result.parity_grey_levels:.4f} grey levels (limit {MAX_GREY_LEVELS:g})",
        highlight=False, markup=False,
    )  # fmt: skip
    if "not_included" in result.metadata:
        console.print(f"note: not exported: {result.metadata['not_included']}", highlight=False, markup=False)
    if as_json:
        emit(json.dumps({
            "path": str(result.path), "bytes": result.size_bytes, "export_seconds": round(result.export_seconds, 3),
            "max_grey_level_difference": round(result.parity_grey_levels, 6), "opset": opset, "metadata": result.metadata,
        }, indent=2))  # fmt: skip
