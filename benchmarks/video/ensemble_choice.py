"""Score video ensembles (derain_cli/video/ensemble.py) on cached frame-by-frame outputs: each model under
the shipped temporal stage (radius 3), then the mean of their frames, as `derain video -m a+b` runs them.
The video default was chosen with this on the synthetic tuning set (never a test set):

    python -m benchmarks.video.temporal_choice /work/data/tuning --model s2vd --radius 3        # fills each model's cache
    python -m benchmarks.video.ensemble_choice /work/data/tuning s2vd sapnet-realrain

Prints PSNR-Y / SSIM-Y / warping error x1e3 per sequence and their means (warping error alone, flow on
the input, for a set without ground truth). Two cheaper ways to combine the models, with one stage
instead of one per model (flow on the mean of the models' frames), are scored beside it (fifth round,
docs/video.md): the stage on that mean, and one joint vote where each model's frame t votes. With
``--first-share 0.6 0.75`` a two-model ensemble is also scored with unequal weights (the first model's share).
"""

from __future__ import annotations


import cv2
import numpy as np

from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from benchmarks.video.temporal_variants import Aligned, align, robust_mean, shipped_vote, voters
from derain_cli.video.temporal import RADIUS


def voted(rainy: list[np.ndarray], derained: list[np.ndarray], aligned: list[Aligned]) -> list[np.ndarray]:
    """The shipped stage's vote on every frame, given each frame's aligned neighbours."""
    return [shipped_vote(r, d, a) for r, d, a in zip(rainy, derained, aligned)]


def shipped_stage(rainy: list[np.ndarray], derained: list[np.ndarray]) -> list[np.ndarray]:
    """The shipped stage (radius 3, bicubic) on one model's frames."""
    return voted(rainy, derained, align(rainy, derained, RADIUS, cv2.INTER_CUBIC))


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--first-share", type=float, nargs="*", default=[], help="two models: also these weights of the first")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seq, rainy, clean in loaded(args.set):
        outputs = [cached(args.cache, model, args.set, seq) for model in args.models]
        staged = []
        for model, derained in zip(args.models, outputs):
            staged.append(shipped_stage(rainy, derained))
            rows.setdefault(f"{model} + stage", []).append(measure(staged[-1], clean, rainy=rainy))
        rows.setdefault("+".join(args.models) + " (ensemble)", []).append(measure(rounded_mean(staged), clean, rainy=rainy))
        for share in args.first_share if len(staged) == 2 else []:
            weighted = [np.floor(share * a.astype(np.float32) + (1 - share) * b.astype(np.float32) + 0.5).astype(np.uint8) for a, b in zip(*staged)]
            rows.setdefault(f"{args.models[0]} weighted {share}", []).append(measure(weighted, clean, rainy=rainy))
        if len(args.models) > 1:
            models_mean = rounded_mean(outputs)
            aligned = align(rainy, models_mean, RADIUS, cv2.INTER_CUBIC)
            one_stage = voted(rainy, models_mean, aligned)
            rows.setdefault("one stage on the models' mean", []).append(measure(one_stage, clean, rainy=rainy))
            # the camera's frame t, the first model's, the visible aligned camera frames, then the other models'
            joint = [
                robust_mean(voters(r, outputs[0][t], a) + [o[t].astype(np.float32) for o in outputs[1:]], 12.0)
                for t, (r, a) in enumerate(zip(rainy, aligned))
            ]
            rows.setdefault("one joint vote, each model's frame votes", []).append(measure(joint, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
