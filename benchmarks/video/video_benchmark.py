"""Video benchmark (issue 6): `derain video` throughput against the forward passes alone, and flicker.

In one process, on the first N frames of a clip: (1) the forward passes alone (decoded frames through
``Derainer``, one by one: the ceiling for the pipeline), (2) ``derain_video`` on the same frames
(decode, derain, encode in three threads). Flicker: the mean absolute change between consecutive
frames (grey levels, 0-255) of the input, of the pipeline's output and of the per-frame model output.

    python -m benchmarks.video.video_benchmark --frames 3
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from benchmarks.common import SHARED
from derain_cli import Derainer
from derain_cli.video import VideoOptions, VideoOutput, derain_video



def first_frames(path: Path, count: int) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
        return frames, float(stream.average_rate)


def flicker(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in grey levels."""
    return float(np.mean([np.abs(b.astype(np.int16) - a).mean() for a, b in zip(frames, frames[1:])]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "data/video/rain_street_1080p.mp4")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights/sapnet_rain100h_authors.pth")
    parser.add_argument("--model", default="sapnet")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--pipeline-first", action="store_true", help="time derain_video before the forward passes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]

    inputs, rate = first_frames(args.video, args.frames)
    derainer = Derainer(args.model, args.weights, device=args.device)

    def forward_only() -> float:
        nonlocal per_frame
        began = time.perf_counter()
        per_frame = [derainer(frame) for frame in inputs]
        return time.perf_counter() - began

    per_frame: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mp4"
        options = VideoOptions(end=(len(inputs) - 0.5) / rate)  # exactly the first N frames
        forward_s = 0.0 if args.pipeline_first else forward_only()
        began = time.perf_counter()
        report = derain_video(args.video, [VideoOutput(out)], derainer, options)
        pipeline_s = time.perf_counter() - began
        forward_s = forward_s or forward_only()
        with av.open(str(out)) as container:
            outputs = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert report.frames == len(outputs) == len(inputs), (report.frames, len(outputs), len(inputs))

    height, width = inputs[0].shape[:2]
    print(f"# {args.video.name}: first {len(inputs)} frames, {width}x{height}, {args.model} ({args.weights.name}), "
          f"{args.device}, {args.threads} torch threads, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    order = "derain_video first" if args.pipeline_first else "forward passes first"
    print(f"output: {report.written}; {order}; load average before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f}")
    print("| measure | value |")
    print("|---|---|")
    print(f"| forward passes alone (Derainer per frame) | {forward_s:.1f} s = {len(inputs) / forward_s:.4f} frames/s |")
    print(f"| derain_video (decode + derain + encode, threads) | {pipeline_s:.1f} s = {len(inputs) / pipeline_s:.4f} frames/s |")
    print(f"| **pipeline throughput / forward-only throughput** | **{forward_s / pipeline_s:.3f}** |")
    print(f"| flicker of the input (mean abs frame-to-frame change, 0-255) | {flicker(inputs):.3f} |")
    print(f"| flicker of the output video | {flicker(outputs):.3f} |")
    print(f"| flicker of the per-frame model output (before encoding) | {flicker(per_frame):.3f} |")
    print(f"| **output flicker / input flicker** | **{flicker(outputs) / flicker(inputs):.3f}** |")
    print(f"| mean abs difference output video vs per-frame model output | "
          f"{np.mean([np.abs(o.astype(np.int16) - p).mean() for o, p in zip(outputs, per_frame)]):.3f} |")


if __name__ == "__main__":
    main()
