"""Score video ensembles (derain_cli/video/ensemble.py) on cached frame-by-frame outputs: each model under
the shipped temporal stage (radius 3), then the mean of their frames, as `derain video -m a+b` runs them.
The video default was chosen with this on the synthetic tuning set (never a test set):

    python -m benchmarks.video.temporal_choice /work/data/tuning --model s2vd --radius 3        # fills each model's cache
    python -m benchmarks.video.ensemble_choice /work/data/tuning s2vd sapnet-realrain

Prints PSNR-Y / SSIM-Y / warping error x1e3 per sequence and their means (warping error alone, flow on
the input, for a set without ground truth).
"""

from __future__ import annotations


import cv2
import numpy as np

from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table
from benchmarks.video.temporal_variants import align
from derain_cli.video.temporal import RADIUS, vote


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seq, rainy, clean in loaded(args.set):
        staged = []
        for model in args.models:
            derained = cached(args.cache, model, args.set, seq)
            aligned = align(rainy, derained, RADIUS, cv2.INTER_CUBIC)
            staged.append([vote(r, d, [(n, u) for n, _, u in a]) for r, d, a in zip(rainy, derained, aligned)])
            rows.setdefault(f"{model} + stage", []).append(measure(staged[-1], clean, rainy=rainy))
        count = len(staged)
        mean = [((sum(f.astype(np.uint16) for f in group) + count // 2) // count).astype(np.uint8) for group in zip(*staged)]
        rows.setdefault("+".join(args.models) + " (ensemble)", []).append(measure(mean, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
