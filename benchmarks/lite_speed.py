"""The lite model against the SAPNet fast path, same process, same precision: 480 x 320, 1080p, 640 x 480.

    python benchmarks/lite_speed.py --weights derain_cli/bundled/lite.safetensors --threads 2

For fp32 and bf16: ``Derainer("sapnet-realrain", precision=P)`` (the default model, its fast path)
and ``Derainer("litenet", weights=..., precision=P)`` (LiteNet's fast path), uint8 in and out,
conversions included, on Rain100H test input 7 cropped to 480 x 320 and the same image resized
to 1920 x 1080 and 640 x 480 (bicubic). At 480 x 320: one warm-up each, then ``--repeats`` rounds
alternating the two models (a load change on a shared machine hits both alike), best round
counts; at 1080p SAPNet runs once, LiteNet best of three; at 640 x 480 LiteNet alone, best of
``--repeats`` (frames per second of the forward pass with conversions; and the process's CPU
seconds per frame, all threads: on a loaded machine the wall time measures the load, not the model). Only timings: weights do
not change speed. Prints Markdown with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from derain_cli import Derainer

SHARED = Path(os.environ.get("DERAIN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
TEACHER = "sapnet-realrain"


def _image(size: tuple[int, int] | None) -> np.ndarray:
    """Rain100H input 7: cropped to 480 x 320 (``size`` None) or resized to ``size`` (width, height)."""
    image = Image.open(SHARED / "data" / "rain100h" / "input" / "7.png").convert("RGB")
    return np.asarray(image.resize(size, Image.BICUBIC)) if size else np.asarray(image)[:320, :480]


def _best(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="a LiteNet checkpoint (speed does not depend on its values)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-1080p", action="store_true", help="480 x 320 and 640 x 480 only")
    parser.add_argument("--vga-only", action="store_true", help="LiteNet at 640 x 480 only (no SAPNet)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    small, vga, full = _image(None), _image((640, 480)), _image((1920, 1080))
    print(f"CPU, {args.threads} thread(s); load average before: {os.getloadavg()[0]:.1f}\n")
    print("| precision | size | sapnet-realrain fast path (s) | lite (s) | lite speed-up |\n|---|---|---|---|---|")
    for precision in ("fp32", "bf16"):
        lite = Derainer("litenet", weights=args.weights, device="cpu", precision=precision)
        if not args.vga_only:
            _versus_sapnet(lite, precision, small, full, args)
        lite(vga)  # warm-up
        cpu = time.process_time()
        seconds = _best(lambda: lite(vga), args.repeats)
        cpu = (time.process_time() - cpu) / args.repeats
        print(f"| {precision} | 640x480, lite alone | | {seconds:.4f} ({1 / seconds:.1f} frames/s); CPU s per frame {cpu:.4f} | |",
              flush=True)  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


def _versus_sapnet(lite: Derainer, precision: str, small: np.ndarray, full: np.ndarray, args: argparse.Namespace) -> None:
    """Both models at 480 x 320 (alternating rounds) and, unless skipped, at 1080p; one table row each."""
    heavy = Derainer(TEACHER, device="cpu", precision=precision)
    heavy(small), lite(small)  # warm-up
    best = {"heavy": float("inf"), "lite": float("inf")}
    for _ in range(args.repeats):
        best["heavy"] = min(best["heavy"], _best(lambda: heavy(small), 1))
        best["lite"] = min(best["lite"], _best(lambda: lite(small), 1))
    print(f"| {precision} | 480x320 | {best['heavy']:.3f} | {best['lite']:.4f} | **{best['heavy'] / best['lite']:.1f}x** |",
          flush=True)  # fmt: skip
    if not args.skip_1080p:
        lite_full = _best(lambda: lite(full), 3)
        heavy_full = _best(lambda: heavy(full), 1)
        print(f"| {precision} | 1920x1080 | {heavy_full:.2f} | {lite_full:.3f} | **{heavy_full / lite_full:.1f}x** |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
