"""Before/after contact sheet of the fifteenth round (docs/video.md) on consecutive real rainy frames: the rainy
input, the temporal stage with the agreement check shipped before it, and the stage as shipped, on a model's (or an
ensemble's) cached frame-by-frame outputs, so only the check differs.

    python -m benchmarks.video.temporal_choice FRAME_FOLDER --model lite --radius 3      # fills the cache
    python -m benchmarks.video.consensus_sheet FRAME_FOLDER OUT.jpg --models lite [--first 20 --frames 3 --crop X,Y,W,H]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.video.agreement_floor_choice import floored_stage, prepare
from benchmarks.video.ensemble_choice import shipped_stage
from benchmarks.video.temporal_choice import cached, frames, rounded_mean
from benchmarks.video.temporal_sheet import compose
from derain_cli.video.flow import grey

ROWS = ("rainy input", "stage, previous check", "stage as shipped (neighbours' consensus where frame t keeps a streak)")


def previous_stage(rainy: list[np.ndarray], derained: list[np.ndarray]) -> list[np.ndarray]:
    """The stage with the agreement check shipped until the fifteenth round (within 20 levels of frame t)."""
    greys = [grey(d) for d in derained]
    return floored_stage(rainy, derained, greys, prepare(rainy, greys), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", nargs="+", default=["lite"], help="cached models; several: each staged, averaged")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/temporal_cache"))
    parser.add_argument("--first", type=int, default=20, help="first frame shown (from 1)")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--crop", default=None, help="X,Y,W,H of the region shown (default: the whole frame)")
    args = parser.parse_args()
    rainy = frames(args.folder)
    outputs = [cached(args.cache, model, args.folder, args.folder.name) for model in args.models]  # as temporal_choice keys a folder of frames
    rows = [rainy, rounded_mean([previous_stage(rainy, d) for d in outputs]), rounded_mean([shipped_stage(rainy, d) for d in outputs])]
    shown = slice(args.first - 1, args.first - 1 + args.frames)
    labels = [f"{name} ({' + '.join(args.models)}; frames {args.first}-{args.first + args.frames - 1})" for name in ROWS]
    sheet = compose([(label, video[shown]) for label, video in zip(labels, rows)], args.crop)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
