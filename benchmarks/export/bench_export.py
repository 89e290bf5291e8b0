"""ONNX export of every exportable zoo architecture: export time, file size, and ONNX Runtime / OpenVINO speed
against our CPU path, per 480 x 320 image, all in one run.

    PYTHONPATH=. python benchmarks/export/bench_export.py --threads 2 --repeats 2

For each architecture (the authors' checkpoint from ../shared/weights): ``export_onnx`` writes the graph
(time and size recorded; its built-in parity check runs on Rain100H image 7), then five runners are timed
on Rain100H images 7 and 1 (480 x 320; ``--images 1``: 7 only; ``--size``: a top-left crop), uint8 in and out,
conversions included:
``Derainer`` with its default precision (bf16 fast path for SAPNet/PReNet on CPUs with native bf16),
``Derainer(precision="fp32")``, ONNX Runtime (CPU provider), OpenVINO with fp32 inference
(``INFERENCE_PRECISION_HINT=f32``) and OpenVINO with its default precision (bf16 on such CPUs). OpenVINO's
model is reshaped to the image size before compiling (its static-shape path); ONNX Runtime keeps the
dynamic graph. One warm-up round, then ``--repeats`` rounds over every runner in turn (a load change on a
shared machine hits all alike); the best round counts. Prints a Markdown table: seconds per image, the
ratios to ``Derainer`` default measured in the same run, and each runtime's max difference in grey levels
from ``Derainer(precision="fp32")`` on the timed images.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openvino as ov
import torch
from PIL import Image

from benchmarks.common import SHARED
from benchmarks.speed.bench_zoo import MODELS as ZOO_MODELS
from derain_cli import Derainer
from derain_cli.export.onnx import export_onnx, onnx_session, run_onnx

# every architecture bench_zoo times, but SPANet (its IRNN does not export with a free image size)
MODELS = {name: file for name, file in ZOO_MODELS.items() if name != "spanet"}
RUNNERS = ("Derainer default", "Derainer fp32", "ONNX Runtime", "OpenVINO fp32", "OpenVINO default")
Runner = Callable[[np.ndarray], np.ndarray]


def _images(count: int, width: int, height: int) -> list[np.ndarray]:
    """Rain100H images 7 and 1 (480 x 320), the first ``count``, their top-left ``width`` x ``height``."""
    folder = SHARED / "data" / "rain100h" / "input"
    names = ("7.png", "1.png")[:count]
    return [np.ascontiguousarray(np.asarray(Image.open(folder / n).convert("RGB"))[:height, :width]) for n in names]


def _to_uint8(out: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def _openvino(path: Path, shape: tuple[int, int], threads: int, precision: str | None) -> Runner:
    """An OpenVINO CPU runner of the ONNX file, reshaped to ``shape`` (H, W); float32 H x W x 3 output."""
    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape([1, 3, *shape])
    config = {"INFERENCE_NUM_THREADS": threads, **({"INFERENCE_PRECISION_HINT": precision} if precision else {})}
    compiled = core.compile_model(model, "CPU", config)

    def run(rgb: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        return compiled(x)[0][0].transpose(1, 2, 0)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of the architectures")
    parser.add_argument("--images", type=int, default=2, choices=(1, 2), help="time on image 7 only, or on 7 and 1")
    parser.add_argument("--size", default="480x320", help="WIDTHxHEIGHT of the top-left crop timed (at most 480x320)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    images = _images(args.images, width, height)
    folder = Path(tempfile.mkdtemp(prefix="derain-export-bench-"))
    runners: dict[tuple[str, str], Runner] = {}
    exported: dict[str, tuple[float, int, float]] = {}
    grey: dict[tuple[str, str], float] = {}
    for name in args.models.split(","):
        weights = SHARED / "weights" / MODELS[name]
        result = export_onnx(name, folder / f"{name}.onnx", images[0], weights)
        exported[name] = (result.export_seconds, result.size_bytes, result.parity_grey_levels)
        fp32 = Derainer(name, weights=weights, device="cpu", tile=0, precision="fp32")
        session = onnx_session(result.path, args.threads)
        floats: dict[str, Runner] = {
            "ONNX Runtime": lambda rgb, s=session: run_onnx(s, rgb),
            "OpenVINO fp32": _openvino(result.path, images[0].shape[:2], args.threads, "f32"),
            "OpenVINO default": _openvino(result.path, images[0].shape[:2], args.threads, None),
        }
        runners[name, "Derainer default"] = Derainer(name, weights=weights, device="cpu", tile=0)
        runners[name, "Derainer fp32"] = fp32
        references = [fp32.derain_float(rgb.astype(np.float32) / 255.0) for rgb in images]
        for label, run in floats.items():
            runners[name, label] = lambda rgb, r=run: _to_uint8(r(rgb))
            grey[name, label] = max(float(np.abs(run(rgb) - ref).max() * 255) for rgb, ref in zip(images, references))
    best = {key: float("inf") for key in runners}
    for round_ in range(args.repeats + 1):  # round 0 warms up
        for key, run in runners.items():
            start = time.perf_counter()
            for rgb in images:
                run(rgb)
            if round_:
                best[key] = min(best[key], (time.perf_counter() - start) / len(images))
    print(f"threads={args.threads}, repeats={args.repeats}, images={args.images}, size={args.size}, torch {torch.__version__}, openvino {ov.__version__}")
    print("| model | export s | ONNX MB | parity (grey levels) | " + " | ".join(f"{r} s/image" for r in RUNNERS) + " | ORT / OV fp32 / OV default vs Derainer default | max grey-level diff ORT / OV fp32 / OV default |")
    print("|---" * (6 + len(RUNNERS)) + "|")
    for name, (seconds, size, parity) in exported.items():
        base = best[name, "Derainer default"]
        times = " | ".join(f"{best[name, r]:.3f}" for r in RUNNERS)
        ratios = " / ".join(f"{best[name, r] / base:.2f}x" for r in RUNNERS[2:])
        diffs = " / ".join(f"{grey[name, r]:.3f}" for r in RUNNERS[2:])
        print(f"| {name} | {seconds:.1f} | {size / 1e6:.2f} | {parity:.4f} | {times} | {ratios} | {diffs} |")


if __name__ == "__main__":
    main()
