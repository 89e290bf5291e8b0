"""The second round of the temporal stage's design: variants scored on cached frame-by-frame outputs of
the synthetic tuning set (temporal_tuning.py; never a test set). Each variant sees, for frame t, its
rainy and derained frames and every neighbour within the radius aligned to it (rainy, derained, visible
and agreeing mask), as TemporalFusion builds them; the shipped rule is ``vote`` (derain_cli.video.temporal).

    python -m benchmarks.video.temporal_choice /work/data/tuning --model sapnet-realrain --radius 3   # fills the cache
    python -m benchmarks.video.temporal_variants /work/data/tuning --model sapnet-realrain
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table
from derain_cli.video.flow import PairFlow, grey
from derain_cli.video.temporal import align as align_pair, usable as usable_masks, vote

Aligned = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (rainy, derained, usable) per neighbour


def pair_flows(greys: list[np.ndarray], radius: int) -> list[list[tuple[int, PairFlow]]]:
    """Per frame t, (s, flow t -> s) for every neighbour s within ``radius``, nearest last as the stage walks them;
    each pair's flows computed once, both ways (on the derained luma, as the stage does)."""
    flows: dict[tuple[int, int], PairFlow] = {}
    out = []
    for t in range(len(greys)):
        here = []
        for s in range(max(0, t - radius), min(len(greys), t + radius + 1)):
            if s == t:
                continue
            if (t, s) not in flows:
                flows[t, s], flows[s, t] = PairFlow.both_ways(greys[t], greys[s])
            here.append((s, flows[t, s]))
        out.append(here)
    return out


def align(rainy: list[np.ndarray], derained: list[np.ndarray], radius: int, interpolation: int) -> list[Aligned]:
    """Every frame's neighbours aligned to it (flow on the derained frames, as the stage does)."""
    greys, out = [grey(d) for d in derained], []
    for t, flows in enumerate(pair_flows(greys, radius)):
        neighbours = [align_pair(flow, rainy[s], greys[s], interpolation) for s, flow in flows]
        warped = [flow.bring(derained[s], interpolation) for s, flow in flows]  # some variants use the derained neighbour
        out.append([(n.camera, w, ok) for n, w, ok in zip(neighbours, warped, usable_masks(greys[t], neighbours))])
    return out


def shipped_vote(rainy: np.ndarray, derained: np.ndarray, aligned: Aligned) -> np.ndarray:
    """The shipped stage's vote for one frame, given its aligned neighbours."""
    return vote(rainy, derained, [(n, u) for n, _, u in aligned])


def robust_mean(votes: list[np.ndarray], tolerance: float) -> np.ndarray:
    """Mean of the votes (NaN = absent) within ``tolerance`` of their lower median."""
    stack = np.stack(votes)
    ordered = np.sort(stack, axis=0)  # NaN last
    given = np.sum(~np.isnan(stack), axis=0)
    median = np.take_along_axis(ordered, ((given - 1) // 2)[None], axis=0)[0]
    near = np.abs(stack - median) <= tolerance  # False for NaN
    return np.clip(np.rint(np.where(near, stack, 0).sum(0) / near.sum(0)), 0, 255).astype(np.uint8)


def voters(rainy: np.ndarray, derained: np.ndarray, aligned: Aligned, model_votes: int = 1, derained_neighbours: bool = False) -> list[np.ndarray]:
    votes = [rainy.astype(np.float32)] + [derained.astype(np.float32)] * model_votes
    for image, warped, usable in aligned:
        for v in (image, warped) if derained_neighbours else (image,):
            v = v.astype(np.float32)
            v[~usable] = np.nan
            votes.append(v)
    return votes


def median_background(rainy: np.ndarray, derained: np.ndarray, aligned: Aligned) -> np.ndarray:
    """Median of the aligned rainy frames (a hidden neighbour votes for frame t), model where none sees."""
    stack = np.stack([rainy] + [np.where(u[..., None], r, rainy) for r, _, u in aligned])
    seen = np.logical_or.reduce([u for _, _, u in aligned])[..., None]
    return np.where(seen, np.sort(stack, axis=0)[len(stack) // 2], derained)


def minus_persistent(rainy: np.ndarray, derained: np.ndarray, aligned: Aligned, share: float, achromatic: bool) -> np.ndarray:
    """The vote less ``share`` of the rain the model removes in most aligned frames (the median of the camera
    minus model residuals, positive part; ``achromatic``: its least channel): moving streaks are the vote's,
    rain present in every frame (drizzle, which the vote keeps) the model's. Tried in the fifth round."""
    residuals = [rainy.astype(np.float32) - derained.astype(np.float32)]
    for image, warped, usable in aligned:
        residual = image.astype(np.float32) - warped.astype(np.float32)
        residual[~usable] = np.nan
        residuals.append(residual)
    persistent = np.maximum(np.nanmedian(np.stack(residuals), axis=0), 0)
    if achromatic:
        persistent = np.repeat(persistent.min(axis=2, keepdims=True), 3, axis=2)
    voted = shipped_vote(rainy, derained, aligned).astype(np.float32)
    return np.clip(np.rint(voted - share * persistent), 0, 255).astype(np.uint8)


def with_model_tone(rainy: np.ndarray, derained: np.ndarray, aligned: Aligned, sigma: float) -> np.ndarray:
    """The vote plus the model's low frequencies (a Gaussian of model minus vote): the vote's texture, the
    model's tone, so a veil in every frame goes as the model removes it. Tried in the sixth round."""
    voted = shipped_vote(rainy, derained, aligned)
    tone = cv2.GaussianBlur(derained.astype(np.float32) - voted.astype(np.float32), (0, 0), sigma)
    return np.clip(np.rint(voted + tone), 0, 255).astype(np.uint8)


def model_where_steady(rainy: np.ndarray, derained: np.ndarray, aligned: Aligned, low: float, high: float) -> np.ndarray:
    """The model's pixel where at least two visible aligned camera frames agree with frame t (largest luma
    difference below ``low``, ramping to the vote at ``high``, dilated 5 x 5): time sees no rain there, so
    the rain, if any, is in every frame and only the model removes it. Tried in the sixth round."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    centre = rainy.astype(np.float32) @ luma
    spreads = np.stack([np.where(u, np.abs(n.astype(np.float32) @ luma - centre), np.nan) for n, _, u in aligned])
    seen = np.sum(~np.isnan(spreads), axis=0) >= 2
    spread = np.where(seen, np.nanmax(spreads, axis=0, initial=0.0), 255.0)
    spread = cv2.dilate(spread.astype(np.float32), np.ones((5, 5), np.uint8))
    steady = np.clip((high - spread) / (high - low), 0, 1)[..., None]
    voted = shipped_vote(rainy, derained, aligned).astype(np.float32)
    return np.clip(np.rint(steady * derained + (1 - steady) * voted), 0, 255).astype(np.uint8)


SHIPPED = "vote, tolerance 12 (shipped)"
VARIANTS: dict[str, Callable[[np.ndarray, np.ndarray, Aligned], np.ndarray]] = {
    "median of aligned rainy frames": median_background,
    "lower median of the votes": lambda r, d, a: robust_mean(voters(r, d, a), 0.0),
    "vote, tolerance 6": lambda r, d, a: robust_mean(voters(r, d, a), 6.0),
    SHIPPED: shipped_vote,
    "vote, tolerance 20": lambda r, d, a: robust_mean(voters(r, d, a), 20.0),
    "vote, model counted twice": lambda r, d, a: robust_mean(voters(r, d, a, model_votes=2), 12.0),
    "vote, derained neighbours vote too": lambda r, d, a: robust_mean(voters(r, d, a, derained_neighbours=True), 12.0),
    "vote minus the persistent rain": lambda r, d, a: minus_persistent(r, d, a, 1.0, False),
    "vote minus the persistent rain, achromatic": lambda r, d, a: minus_persistent(r, d, a, 1.0, True),
    "vote minus half the persistent rain": lambda r, d, a: minus_persistent(r, d, a, 0.5, False),
    "vote + the model's tone (Gaussian 16 of model - vote)": lambda r, d, a: with_model_tone(r, d, a, 16.0),
    "model where the camera's frames agree (spread 2-6)": lambda r, d, a: model_where_steady(r, d, a, 2.0, 6.0),
}


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("--model", default="sapnet-realrain")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seq, rainy, clean in loaded(args.set):
        derained = cached(args.cache, args.model, args.set, seq)
        rows.setdefault("frame by frame", []).append(measure(derained, clean, rainy=rainy))
        for radius, name, interpolation in ((3, "bicubic", cv2.INTER_CUBIC), (3, "bilinear", cv2.INTER_LINEAR), (2, "bicubic", cv2.INTER_CUBIC)):
            aligned = align(rainy, derained, radius, interpolation)
            # every variant at the shipped radius and sampling; the shipped rule alone at the others
            for variant, rule in VARIANTS.items() if (radius, name) == (3, "bicubic") else [(SHIPPED, VARIANTS[SHIPPED])]:
                out = [rule(r, d, a) for r, d, a in zip(rainy, derained, aligned)]
                rows.setdefault(f"r={radius} {name}: {variant}", []).append(measure(out, clean, rainy=rainy))
        print(seq, "done", flush=True)
    print_table(rows, f"{args.model} | ")


if __name__ == "__main__":
    main()
