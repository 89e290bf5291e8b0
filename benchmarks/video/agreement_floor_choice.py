"""The eleventh round of the temporal stage (docs/video.md, rule fixed before any number): may a neighbour be darker
than frame t's derained luma where frame t keeps a streak? The shipped agreement check uses a neighbour only where
its warped derained luma is within AGREEMENT grey levels of frame t's; the candidates let it be darker down to the
darkest derained luma of frame t in a W x W window (a grey erosion), brighter still within AGREEMENT. W = 1 is the
shipped check (the script asserts that it reproduces the shipped stage); "unbounded" lets any darker neighbour pass.

Scored on cached frame-by-frame outputs of validation videos (never a test set) for `lite` + stage, the video
default (s2vd and sapnet-realrain, each + stage, averaged) and the stage alone on the rainy frames (the identity as
the model: where a model leaves the rain, as on real streaks). The flows are computed once per model and sequence
and shared by the candidates (only the check changes).

    python -m benchmarks.video.temporal_choice SET --model lite --radius 3        # fills each model's cache
    python -m benchmarks.video.agreement_floor_choice SET
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.video.ensemble_choice import shipped_stage
from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from derain_cli.video.flow import PairFlow, grey
from derain_cli.video.temporal import AGREEMENT, RADIUS, vote

WINDOWS: dict[str, int | None] = {"shipped (W = 1)": 1, "W = 3": 3, "W = 5": 5, "W = 9": 9, "unbounded": None}
# per frame t, per neighbour: (its camera frame warped onto t, its derained luma warped, forward-backward mask)
Prepared = list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


def prepare(rainy: list[np.ndarray], greys: list[np.ndarray]) -> Prepared:
    """The stage's alignment of every frame's neighbours (flow on the derained luma, bicubic), before any check."""
    flows: dict[tuple[int, int], PairFlow] = {}
    out = []
    for t in range(len(rainy)):
        neighbours = []
        for s in range(max(0, t - RADIUS), min(len(rainy), t + RADIUS + 1)):
            if s == t:
                continue
            if (t, s) not in flows:
                flows[t, s], flows[s, t] = PairFlow.both_ways(greys[t], greys[s])
            flow = flows[t, s]
            neighbours.append((flow.bring(rainy[s], cv2.INTER_CUBIC), flow.bring(greys[s], cv2.INTER_CUBIC), flow.mask))
        out.append(neighbours)
    return out


def floored_stage(rainy: list[np.ndarray], derained: list[np.ndarray], greys: list[np.ndarray], prepared: Prepared, window: int | None) -> list[np.ndarray]:
    """The stage's vote with the candidate check: warped - centre < AGREEMENT and warped - floor > -AGREEMENT."""
    out = []
    for t, neighbours in enumerate(prepared):
        centre = greys[t].astype(np.int16)
        if window is None:
            floor = np.zeros_like(centre)
        else:
            floor = cv2.erode(greys[t], np.ones((window, window), np.uint8)).astype(np.int16)
        usable = []
        for camera, warped, mask in neighbours:
            w = warped.astype(np.int16)
            usable.append((camera, mask & (w - centre < AGREEMENT) & (w - floor > -AGREEMENT)))
        out.append(vote(rainy[t], derained[t], usable))
    return out


def all_windows(rainy: list[np.ndarray], derained: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Each candidate's staged frames for one model's cached outputs."""
    greys = [grey(d) for d in derained]
    prepared = prepare(rainy, greys)
    return {name: floored_stage(rainy, derained, greys, prepared, window) for name, window in WINDOWS.items()}


def main() -> None:
    parser = cache_parser(__doc__)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    checked = False
    for seq, rainy, clean in loaded(args.set):
        lite, s2vd, sapnet = (cached(args.cache, model, args.set, seq) for model in ("lite", "s2vd", "sapnet-realrain"))
        staged = {"lite": all_windows(rainy, lite), "identity": all_windows(rainy, rainy)}
        for_s2vd, for_sapnet = all_windows(rainy, s2vd), all_windows(rainy, sapnet)
        staged["default"] = {name: rounded_mean([for_s2vd[name], for_sapnet[name]]) for name in WINDOWS}
        if not checked:  # W = 1 is the shipped stage, frame for frame
            assert all(np.array_equal(a, b) for a, b in zip(staged["lite"]["shipped (W = 1)"], shipped_stage(rainy, lite)))
            checked = True
        for model, by_window in staged.items():
            for name, out in by_window.items():
                rows.setdefault(f"{model} | {name}", []).append(measure(out, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items() if "W = 5" in label or "W = 1" in label}, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
