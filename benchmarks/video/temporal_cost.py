"""The temporal stage's cost as a share of the model's, in one process on the same frames. For an ensemble
(the video default) the models' times and their stages' times are each summed, as `derain video` runs them.
Several ``--model`` values are timed one after another in the same process, each path's total (models and
stages) also as a ratio to the first's.

    python -m benchmarks.video.temporal_cost FRAME_FOLDER [--frames 8] [--model s2vd-nturain+sapnet-realrain [lite ...]]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.video.temporal_choice import Cached
from derain_cli.imageio import read_rgb8
from derain_cli.pairs import natural_key
from derain_cli.video.processors import make_processor, run_processor
from derain_cli.video.ensemble import VideoEnsemble, load_video_derainer
from derain_cli.video.temporal import RADIUS, TemporalFusion
from derain_cli.weights.registry import VIDEO_DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--first", type=int, default=41)
    parser.add_argument("--model", nargs="+", default=[VIDEO_DEFAULT_MODEL])
    args = parser.parse_args()
    paths = sorted(args.folder.iterdir(), key=lambda p: natural_key(p.name))[args.first - 1 : args.first - 1 + args.frames]
    frames: list[np.ndarray] = [read_rgb8(p) for p in paths]
    totals = [timed(name, frames) for name in args.model]
    for name, total in zip(args.model, totals):
        print(f"{name}: {total:.3f} s/frame in all, {total / totals[0]:.3f}x {args.model[0]}'s time")


def timed(name: str, frames: list[np.ndarray]) -> float:
    """Seconds per frame of ``name``'s models and temporal stages on ``frames`` (printed apart); their sum."""
    loaded = load_video_derainer(name)
    model = stage = 0.0
    for derainer in loaded.members if isinstance(loaded, VideoEnsemble) else [loaded]:
        began = time.perf_counter()
        derained = run_processor(make_processor(derainer, temporal=0), frames)  # per frame, or clips for a video model
        model += (time.perf_counter() - began) / len(frames)
        began = time.perf_counter()
        run_processor(TemporalFusion(Cached(derained), RADIUS), frames)
        stage += (time.perf_counter() - began) / len(frames)
        print(f"{derainer.model_name} ({derainer.dtype}): model and stage so far {model:.3f} / {stage:.3f} s/frame", flush=True)
    print(f"{frames[0].shape[1]}x{frames[0].shape[0]}, {name}: model(s) {model:.3f} s/frame, "
          f"temporal stage(s) {stage:.3f} s/frame ({stage / model:.1%} of the model's time)")
    return model + stage


if __name__ == "__main__":
    main()
