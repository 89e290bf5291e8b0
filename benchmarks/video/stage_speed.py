"""The temporal stage alone on a model's cached outputs: seconds a frame (best of 3) and its frames saved, so
two versions of the stage can be timed and compared byte for byte (run it at each commit, then compare):

    python -m benchmarks.video.temporal_choice /work/data/nturain_a1_full --model sapnet-realrain --radius 3   # the cache
    python -m benchmarks.video.stage_speed /work/data/nturain_a1_full a1 new.npy [--frames 41:60]
    git worktree add /tmp/old OLD_COMMIT && cp benchmarks/video/stage_speed.py /tmp/old/benchmarks/video/
    (cd /tmp/old && PYTHONPATH=/tmp/old python -m benchmarks.video.stage_speed /work/data/nturain_a1_full a1 /tmp/old.npy)
    python -c "import numpy as n; print(n.array_equal(n.load('new.npy'), n.load('/tmp/old.npy')))"
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.video.temporal_choice import Cached, cache_parser, cached, frames
from derain_cli.video.processors import run_processor
from derain_cli.video.temporal import RADIUS, TemporalFusion


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("sequence")
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="sapnet-realrain")
    parser.add_argument("--frames", default="41:60", help="1-based, inclusive")
    args = parser.parse_args()
    first, last = (int(v) for v in args.frames.split(":"))
    rainy = frames(args.set / "input" / args.sequence)[first - 1 : last]
    derained = cached(args.cache, args.model, args.set, args.sequence)[first - 1 : last]
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        out = run_processor(TemporalFusion(Cached(derained), RADIUS), rainy)
        best = min(best, (time.perf_counter() - began) / len(rainy))
    np.save(args.out, np.stack(out))
    print(f"{len(rainy)} frames of {rainy[0].shape[1]}x{rainy[0].shape[0]}: the stage {best:.3f} s a frame (best of 3)")


if __name__ == "__main__":
    main()
