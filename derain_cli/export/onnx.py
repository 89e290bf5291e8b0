"""``derain export``: a deraining network as an ONNX graph with dynamic batch, height and width, checked against PyTorch.

The graph is traced from the plain PyTorch network (never from the CPU fast path, whose oneDNN
primitives have no ONNX form) with PyTorch's TorchScript-based exporter: it needs no extra package,
exports in seconds and shares the recurrent stages' weights (the torch.export-based exporter needs
onnxscript, took 8x longer and wrote SAPNet twice as large). Opset 17 is read by ONNX Runtime,
OpenVINO and TensorRT 8.6 and later.

The graph takes RGB float32 in [0, 1], N x 3 x H x W, and returns the derained image in the same
convention, clamped to [0, 1] (what ``Derainer`` returns before rounding). The registry's name,
licence and attribution travel in the model's ``metadata_props``, so a deployed file still says
whose weights it carries.

Every export is checked before the file is put in place: ONNX Runtime runs the graph on an image and
its output must stay within :data:`MAX_GREY_LEVELS` of ``Derainer(precision="fp32")``.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import derain_cli
from derain_cli.derainer import Derainer
from derain_cli.errors import DerainError, UsageError
from derain_cli.export import MAX_GREY_LEVELS, OPSET
from derain_cli.fsutil import atomic_output
from derain_cli.weights.registry import load_registry
from derain_cli.weights.resolve import architecture_of

INPUT_NAME, OUTPUT_NAME = "rainy", "derained"
INPUT_CONVENTION = "RGB float32 in [0, 1], N x 3 x H x W (any N, H, W); output: the derained image, same layout, clamped to [0, 1]"
INSTALL_HINT = "ONNX export needs the [export] extra: pip install -e .[export]"
# Architectures whose forward pass has no ONNX form with a free image size, and why.
NOT_EXPORTABLE = {
    "spanet": "its IRNN is a recurrence over every row and column, so a trace unrolls it for one image size "
    "(an ONNX Loop/Scan port of the four scans would be needed)",
    "hcn": "its patch attention folds patches back with F.fold (ONNX Col2Im, opset 18), which PyTorch's exporter "
    "cannot translate for an output size that follows the input's",
    "s2vd": "it is a video model over clips (N x 3 x T x H x W, 3-D convolutions over time), not the image graph "
    "N x 3 x H x W this command exports",
}
_TRACE_SIZE = 64  # the dummy input's side: any size traces the same graph


def require_onnx() -> tuple[ModuleType, ModuleType]:
    """``(onnx, onnxruntime)``, or a one-line error naming the extra to install."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise DerainError(INSTALL_HINT) from None
    return onnx, onnxruntime


class FinalEstimate(nn.Module):
    """The network's final estimate only, clamped to [0, 1]: one output tensor, as runtimes expect."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> Tensor:
        return self.network(x)[0].clamp(0.0, 1.0)


@dataclass(frozen=True)
class ExportResult:
    """What ``export_onnx`` wrote and measured."""

    path: Path
    metadata: dict[str, str]
    export_seconds: float
    size_bytes: int
    parity_grey_levels: float  # max |ONNX Runtime - Derainer fp32| over the check image, in 0..255 units
    check_size: tuple[int, int]  # (width, height) of the check image


def model_metadata(model: str, weights: str | os.PathLike[str] | None) -> dict[str, str]:
    """The registry's description of ``model`` for ``metadata_props``; a checkpoint of one's own says so."""
    architecture, _ = architecture_of(model)
    entry = load_registry().find(model)
    metadata = {
        "name": entry.name if entry else model,
        "architecture": architecture,
        "input_convention": INPUT_CONVENTION,
        "producer": f"derain-cli {derain_cli.__version__}",
    }
    if weights is not None:
        metadata["checkpoint"] = Path(weights).name
    if entry is not None and weights is None:
        metadata.update(licence=entry.licence, attribution=entry.attribution)
        left_out = [*(["the streak stage (derain_cli/streak_stage.py)"] if entry.stage else []),
                    *([f"the heavy-rain route to {entry.route['model']} (derain_cli/rain_route.py)"] if entry.route else [])]  # fmt: skip
        if left_out:
            metadata["not_included"] = " and ".join(left_out) + ": this file is the first network alone"
    else:
        metadata.update(licence="unknown (a checkpoint supplied with --weights)", attribution="see the checkpoint's source")
    return metadata


def check_exportable(model: str) -> str:
    """The architecture of ``model``; UsageError when it has no ONNX form."""
    architecture, _ = architecture_of(model)
    if architecture in NOT_EXPORTABLE:
        raise UsageError(f"{model}: {architecture} cannot be exported to ONNX: {NOT_EXPORTABLE[architecture]}")
    return architecture


def trace_to_onnx(network: nn.Module, path: Path, opset: int = OPSET) -> None:
    """Write ``network``'s final estimate as ONNX at ``path``, batch, height and width dynamic."""
    dynamic = {0: "batch", 2: "height", 3: "width"}
    dummy = torch.rand(1, 3, _TRACE_SIZE, _TRACE_SIZE)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer warnings on shape arithmetic
        torch.onnx.export(
            FinalEstimate(network).eval(), (dummy,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: dynamic},
        )  # fmt: skip


def set_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Store ``metadata`` in the ONNX file's ``metadata_props`` (read by ``InferenceSession.get_modelmeta()``)."""
    onnx, _ = require_onnx()
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, metadata)
    onnx.save(proto, str(path))


def onnx_session(path: Path, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session for ``path`` (``threads`` 0: its default)."""
    _, ort = require_onnx()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, rgb: np.ndarray) -> np.ndarray:
    """Run a session on an H x W x 3 uint8 image: the float32 H x W x 3 output in [0, 1]."""
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0][0].transpose(1, 2, 0)


def grey_level_difference(onnx_output: np.ndarray, derainer: Derainer, rgb: np.ndarray) -> float:
    """Max |ONNX - Derainer| on ``rgb`` in grey levels (0..255), before rounding to uint8."""
    reference = derainer.derain_float(rgb.astype(np.float32) / 255.0)
    return float(np.abs(onnx_output - reference).max() * 255.0)


def export_onnx(
    model: str,
    output: str | os.PathLike[str],
    check_image: np.ndarray,
    weights: str | os.PathLike[str] | None = None,
    opset: int = OPSET,
    overwrite: bool = False,
) -> ExportResult:
    """Export ``model`` (an architecture or weights.toml name, ``weights`` a checkpoint of one's own) to ``output``.

    The file appears only if ONNX Runtime's output on ``check_image`` (H x W x 3 uint8 RGB) is within
    :data:`MAX_GREY_LEVELS` of ``Derainer(precision="fp32")``; otherwise DerainError, nothing written.
    """
    require_onnx()
    check_exportable(model)
    metadata = model_metadata(model, weights)
    derainer = Derainer(model, weights, device="cpu", tile=0, precision="fp32", stage=False, route=False)
    output = Path(output)
    with atomic_output(output, overwrite) as tmp:
        start = time.perf_counter()
        trace_to_onnx(derainer.network, tmp, opset)
        set_metadata(tmp, metadata)
        seconds = time.perf_counter() - start
        difference = grey_level_difference(run_onnx(onnx_session(tmp), check_image), derainer, check_image)
        if not difference <= MAX_GREY_LEVELS:
            raise DerainError(
                f"{output}: ONNX Runtime differs from PyTorch by {difference:.3f} grey levels "
                f"(more than {MAX_GREY_LEVELS:g}); nothing written"
            )
        size = tmp.stat().st_size
    height, width = check_image.shape[:2]
    return ExportResult(output, metadata, seconds, size, difference, (width, height))


def check_card(height: int = 240, width: int = 320) -> np.ndarray:
    """A rainy check image when the user gives none: smooth gradients, hard edges and fine texture under
    synthetic heavy rain (``derain synth``), so every value range and frequency the networks see is exercised."""
    from derain_cli.synth.render import render_rain

    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    clean = np.stack((cols / width, rows / height, 0.5 + 0.5 * np.sin(rows / 7.0) * np.cos(cols / 11.0)), axis=2)
    clean[height // 4 : height // 2, width // 4 : width // 2] = (0.9, 0.2, 0.1)  # a hard-edged block
    clean[(rows.astype(int) // 4 + cols.astype(int) // 4) % 2 == 0] *= 0.85  # a fine checker
    rainy, _ = render_rain((clean * 255).round().astype(np.uint8), preset="heavy", seed=0)
    return rainy
