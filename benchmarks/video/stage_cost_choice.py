"""A cheaper temporal stage, tried 2026-12-05 (docs/video.md): variants that change its output, scored on cached
frame-by-frame outputs of validation videos (never a test set) against the shipped stage. The flow: DIS's
MEDIUM preset on full frames (shipped) against its FAST preset, MEDIUM on half-size frames and MEDIUM
lightened (the stage spends most of its time on a new frame's six flows, about 0.09 of 0.15 s a frame at
640x480 on 2 cores, which keeps `--model lite` below 5 frames/s end to end, issue 26). The third round,
the agreement check on the neighbour's warped luma instead of its warped colour frame, passed and ships; it
was scored with this script at commit 9640718 (``--variants medium luma-agreement``), where ``medium`` was
the stage as shipped before it (the rounds before it too).

Scored for the two models users run in video: `lite` under the stage, and the video default (s2vd and
sapnet-realrain, each under the stage, their frames averaged). The warping error is the metric's own (MEDIUM
flow on the clean frames) whatever flow the stage uses.

    python -m benchmarks.video.temporal_choice SET --model lite --radius 3        # fills each model's cache
    python -m benchmarks.video.stage_cost_choice SET [--variants medium fast medium-half ...]

The rule, fixed before any candidate's number was seen: a candidate replaces the shipped stage if on the tuning
videos and the train-split videos, for both models, its mean PSNR-Y is at most 0.05 dB lower, SSIM-Y at
most 0.002 lower and the warping error at most 5 % higher, and on the rain-free tuning videos its PSNR-Y
at most 0.05 dB lower; of those that pass, the faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import cv2
import numpy as np

from benchmarks.video.ensemble_choice import shipped_stage
from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from derain_cli.video.flow import PairFlow, dis_flow

Flow = Callable[[np.ndarray, np.ndarray], np.ndarray]


def preset_flow(preset: int, **settings: int) -> Flow:
    """DIS with another preset, and settings changed from it (``PatchStride=4`` calls ``setPatchStride(4)``), on the full frames."""

    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        engine = cv2.DISOpticalFlow_create(preset)
        for name, value in settings.items():
            getattr(engine, f"set{name}")(value)
        return engine.calc(a, b, None)

    return flow


def half_size_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MEDIUM DIS on frames halved (area average, which also thins streaks), the flow brought back to full size."""
    height, width = a.shape
    small = (max(1, width // 2), max(1, height // 2))
    flow = dis_flow(cv2.resize(a, small, interpolation=cv2.INTER_AREA), cv2.resize(b, small, interpolation=cv2.INTER_AREA))
    full = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    full[..., 0] *= width / small[0]
    full[..., 1] *= height / small[1]
    return full



@contextmanager
def stage_flow(flow: Flow) -> Iterator[None]:
    """The stage's flows (PairFlow.both_ways) from ``flow``; the warping error's (PairFlow()) stay DIS MEDIUM."""
    original = PairFlow.both_ways

    def both_ways(cls: type[PairFlow], a: np.ndarray, b: np.ndarray) -> tuple[PairFlow, PairFlow]:
        forward, backward = flow(a, b), flow(b, a)
        return cls(a, b, (forward, backward)), cls(b, a, (backward, forward))

    PairFlow.both_ways = classmethod(both_ways)  # type: ignore[method-assign]
    try:
        yield
    finally:
        PairFlow.both_ways = original  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "medium": nullcontext,  # the shipped stage
    "fast": lambda: stage_flow(preset_flow(cv2.DISOPTICAL_FLOW_PRESET_FAST)),
    "medium-half": lambda: stage_flow(half_size_flow),
    # the second round: MEDIUM with its costliest parts lightened (docs/video.md: their CPU and scores)
    "medium-stride4": lambda: stage_flow(preset_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, PatchStride=4)),
    "medium-no-refine": lambda: stage_flow(preset_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, VariationalRefinementIterations=0)),
    "medium-stride4-refine2": lambda: stage_flow(
        preset_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, PatchStride=4, VariationalRefinementIterations=2)
    ),
}


def main() -> None:
    parser = cache_parser(__doc__)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    seconds: dict[str, float] = {}
    for seq, rainy, clean in loaded(args.set):
        lite, s2vd, sapnet = (cached(args.cache, model, args.set, seq) for model in ("lite", "s2vd", "sapnet-realrain"))
        for name in args.variants:
            began = time.perf_counter()
            with VARIANTS[name]():
                outputs = {"lite": shipped_stage(rainy, lite), "default": rounded_mean([shipped_stage(rainy, s2vd), shipped_stage(rainy, sapnet)])}
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began
            for model, out in outputs.items():
                rows.setdefault(f"{model}, {name}", []).append(measure(out, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows)
    for name, total in seconds.items():
        print(f"{name}: {total:.0f} s for the three models' stages (a busy machine's times: not a speed measure)")


if __name__ == "__main__":
    main()
